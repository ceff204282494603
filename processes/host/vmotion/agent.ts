/**
 * The host's vMotion agent: both ends of a migration. The source drives it; the destination
 * answers. Every step is an event (see `docs/vmotion.md` for the sequence and the payloads):
 *
 * source                                         destination
 * vmotion.start ── prepare ───────────────────▶  prechecks (capacity, DPU model, segments)
 * vmotion.precheck ◀────────────────── verdict ─┘
 * vnic.handoff vf-to-emulated (VF → STOP → the backend, the VM runs on)
 * pre-copy rounds: pages batches ─────────────▶  ack per batch
 * vmotion.precopy.round per round (the planner decides: another round, switchover or abort)
 * vmotion.stun; final pages ──────────────────▶  ack
 * vnic.release → DPU: dfw.export
 * vmotion.transfer: state parts (guest stack, vNIC driver and device state, firewall exports) ─▶ vnic.adopt → DPU: dfw.import
 *                                                vmotion.resume; net.rarp; vnic.handoff emulated-to-vf
 * the VM goes ◀──────────────────────────── resumed                     vmotion.done
 *
 * Failures end in `vmotion.done` with `result: aborted` and a reason (the source records it, the
 * VM carries on at the source and regains passthrough), except a refused firewall import with
 * `onDfwRefused: disconnect`, which completes with the vNIC disconnected.
 *
 * Pages are counted and sized, never stored: each `pages` batch is a real datagram that crosses
 * the network, sent when the batch's bytes would have crossed the slowest wire of the path (so a
 * round lasts at least its bytes at that rate, plus the network's latency).
 */
import type { EventPayloads } from '../../../shared/events/catalogue.js';
import type { VTime } from '../../../shared/events.js';
import type { NodeActionArgs } from '../../../shared/actions/node-actions.js';
import type { VmotionOptions } from '../../../shared/actions/schema.js';
import type { HostNode, ResolvedTopology, VmSpec } from '../../../shared/topology/types.js';
import type { NodeContext } from '../../runtime/types.js';

export type { DpuVnicReply } from '../../pcie/messages.js';
import type { DpuVnicReply } from '../../pcie/messages.js';
import type { HostDatapath } from '../host-datapath.js';
import { handoffRegisters, type VnicMigrationState } from '../vnic/host-vnic.js';
import { PrecopyPlanner, PRECOPY_DEFAULTS, type PrecopyStep, type Round } from './precopy.js';
import { PAGES_PER_BATCH, StateAssembly, stateParts, type PrecheckResult, type VmotionMessage } from './messages.js';
import { VmotionError } from './errors.js';
import { GuestStateError } from '../guest/state.js';
import { Vmxnet3Error } from '../../../shared/vmxnet3/errors.js';

/** Timers of the agent start with this prefix. */
export const VMOTION_TIMER_PREFIX = 'vmotion.';
/** No word from the other host for this long ends the migration (`peer-unreachable`). */
export const VMOTION_TIMEOUT_NS = 250_000_000;
/** The destination waits this long after the resume for the first frame, to measure the downtime. */
const FIRST_FRAME_WAIT_NS = 1_000_000_000;
const SETTLE_POLL_NS = 5_000_000;

/** What the agent needs of its host. */
export interface VmotionHost {
  readonly node: HostNode;
  readonly topology: ResolvedTopology;
  readonly datapath: HostDatapath;
  /** Sends a protocol message to another host's agent over the vMotion network; false when there is no path. */
  send(ctx: NodeContext, toHost: string, message: VmotionMessage): boolean;
  /** The host's DPUs: the active one (serving the vNICs) and the others. */
  dpus(): { readonly active: string | null; readonly others: readonly string[] };
  /** Asks a DPU to give up a vNIC (with its firewall export when `exportState`). */
  release(ctx: NodeContext, dpu: string, vnic: string, exportState: boolean): void;
  /** Asks a DPU to serve a vNIC, importing its firewall state when given. */
  adopt(ctx: NodeContext, dpu: string, vm: VmSpec, vnic: string, dfw: unknown): void;
  /** A RARP announcing `mac`. */
  rarp(mac: string): Uint8Array;
  /** A VM arrived or left: the host's HA manager must know which vNICs a failover moves. */
  vmsChanged(ctx: NodeContext): void;
}


type Options = Required<VmotionOptions>;

/** The payload of `vmotion.done`. */
type VmotionDone = EventPayloads['vmotion.done'];

interface Outgoing {
  readonly mid: string;
  readonly vm: string;
  readonly to: string;
  readonly options: Options;
  readonly startNs: VTime;
  readonly bytesPerSec: number;
  phase: 'prepare' | 'handoff' | 'precopy' | 'final' | 'release' | 'transfer' | 'readopt';
  planner: PrecopyPlanner | null;
  batch: BatchRun | null;
  rounds: number;
  stunNs: VTime | null;
  readonly exports: Map<string, unknown>;
  readonly waiting: Set<string>;
  abortReason: string | null;
  watchdog: number | null;
  txTimer: number | null;
}

/** One round of pages on its way: batches sent at the path's rate, acknowledged one by one. */
interface BatchRun {
  readonly round: number;
  readonly pages: number;
  readonly batches: number;
  readonly startNs: VTime;
  readonly final: boolean;
  readonly plan: Round | null;
  sent: number;
  acked: number;
}

interface Incoming {
  readonly mid: string;
  readonly vm: string;
  readonly from: string;
  readonly options: Options;
  phase: 'precopy' | 'adopting' | 'resumed';
  readonly assembly: StateAssembly;
  state: SwitchoverState | null;
  readonly waiting: Set<string>;
  readonly refused: Map<string, string>;
  pagesReceived: number;
  resumeNs: VTime | null;
  watchdog: number | null;
  settleSince: VTime | null;
}

/** What crosses at the switchover, besides the pages. */
interface SwitchoverState {
  readonly mid: string;
  readonly vm: VmSpec;
  readonly options: Options;
  readonly stunNs: VTime;
  readonly rounds: number;
  readonly lastDeliveryNs: VTime | null;
  readonly digests: readonly number[];
  readonly guest: unknown;
  readonly vnics: ReadonlyArray<VnicMigrationState & { readonly dfw: unknown }>;
}

function resolveOptions(options: VmotionOptions | undefined): Options {
  return {
    switchoverGoal: options?.switchoverGoal ?? PRECOPY_DEFAULTS.switchoverGoalNs,
    maxPrecopy: options?.maxPrecopy ?? PRECOPY_DEFAULTS.maxPrecopyNs,
    throttle: options?.throttle ?? true,
    onDfwRefused: options?.onDfwRefused ?? 'abort',
  };
}

/** The rate pages cross at: the slowest Ethernet wire of either host's DPUs (or of the hosts). */
export function vmotionPathBytesPerSec(topology: ResolvedTopology, from: string, to: string): number {
  const ends = new Set<string>([from, to]);
  for (const node of topology.nodes) if (node.kind === 'dpu' && ends.has(node.spec.host)) ends.add(node.id);
  const rates = topology.wires.filter((w) => w.kind === 'ethernet' && (ends.has(w.a.node) || ends.has(w.b.node))).map((w) => w.bandwidthBps);
  return Math.floor(Math.min(...rates, 25_000_000_000) / 8);
}

/** Both ends of vMotion on one host. */
export class VmotionAgent {
  private readonly outgoing = new Map<string, Outgoing>();
  private readonly incoming = new Map<string, Incoming>();
  private started = 0;
  private malformed = 0;

  constructor(private readonly host: VmotionHost) {}

  private get id(): string {
    return this.host.node.id;
  }

  // --- inputs ---------------------------------------------------------------------------------

  /** The `vmotion` action: every host hears it; the one running the VM starts the migration. */
  onAction(ctx: NodeContext, args: NodeActionArgs<'vmotion'>): void {
    const { vm, to } = args;
    const spec = this.host.datapath.vm(vm);
    if (!spec) return;
    const options = resolveOptions(args.options);
    const mid = `${vm}/${this.id}/${++this.started}`;
    ctx.emit('vmotion.start', { mid, vm, from: this.id, to, memoryMiB: spec.memoryMiB, dirtyPagesPerSec: spec.dirtyPagesPerSec, vnics: spec.vnics.map((v) => v.id), options });
    const busy = [...this.outgoing.values()].some((o) => o.vm === vm);
    if (busy || to === this.id) {
      this.emitDone(ctx, { mid, vm, from: this.id, to, result: 'aborted', reason: busy ? 'already-migrating' : 'already-on-destination', rounds: 0 });
      return;
    }
    const out: Outgoing = {
      mid,
      vm,
      to,
      options,
      startNs: ctx.now(),
      bytesPerSec: vmotionPathBytesPerSec(this.host.topology, this.id, to),
      phase: 'prepare',
      planner: null,
      batch: null,
      rounds: 0,
      stunNs: null,
      exports: new Map(),
      waiting: new Set(),
      abortReason: null,
      watchdog: null,
      txTimer: null,
    };
    this.outgoing.set(mid, out);
    const dpuModel = this.dpuModel(this.host.datapath.servingDpu());
    if (!this.host.send(ctx, to, { t: 'prepare', mid, vm, from: this.id, dpuModel, passthrough: spec.vnics.some((v) => v.mode === 'uptv2') })) {
      this.abortOutgoing(ctx, out, 'no-vmotion-path');
      return;
    }
    this.arm(ctx, out);
  }

  /** A vMotion datagram from another host. */
  onMessage(ctx: NodeContext, fromHost: string, message: VmotionMessage): void {
    switch (message.t) {
      case 'prepare':
        this.prepare(ctx, fromHost, message);
        return;
      case 'pages': {
        const inc = this.incoming.get(message.mid);
        if (!inc || inc.phase !== 'precopy') return;
        inc.pagesReceived += message.pages;
        this.arm(ctx, inc);
        this.host.send(ctx, fromHost, { t: 'ack', mid: message.mid, round: message.round, seq: message.seq, pages: inc.pagesReceived });
        return;
      }
      case 'state': {
        const inc = this.incoming.get(message.mid);
        if (!inc || inc.phase !== 'precopy') return;
        this.arm(ctx, inc);
        try {
          if (inc.assembly.add(message)) this.receiveState(ctx, inc, inc.assembly.complete());
        } catch (error) {
          if (!(error instanceof VmotionError)) throw error;
          ctx.emit('node.error', { message: error.message, while: 'vmotion' });
          this.host.send(ctx, inc.from, { t: 'abort', mid: inc.mid, reason: 'malformed-state' });
          this.dropIncoming(ctx, inc);
        }
        return;
      }
      case 'abort': {
        const out = this.outgoing.get(message.mid);
        if (out) this.abortOutgoing(ctx, out, message.reason, false);
        const inc = this.incoming.get(message.mid);
        if (inc && inc.phase !== 'resumed') this.dropIncoming(ctx, inc);
        return;
      }
      default: {
        const out = this.outgoing.get(message.mid);
        if (out) this.onReply(ctx, out, message);
      }
    }
  }

  /** A DPU answered a release or an adopt. */
  onDpuReply(ctx: NodeContext, reply: DpuVnicReply): void {
    for (const out of this.outgoing.values()) {
      if (!out.waiting.has(reply.vnic)) continue;
      if (out.phase === 'release' && reply.op === 'vnic.released') {
        out.exports.set(reply.vnic, reply.export);
        out.waiting.delete(reply.vnic);
        if (out.waiting.size === 0) this.transfer(ctx, out);
        return;
      }
      if (out.phase === 'readopt' && reply.op !== 'vnic.released') {
        out.waiting.delete(reply.vnic);
        if (out.waiting.size === 0) this.resumeAtSource(ctx, out);
        return;
      }
    }
    for (const inc of this.incoming.values()) {
      if (inc.phase !== 'adopting' || !inc.waiting.has(reply.vnic)) continue;
      inc.waiting.delete(reply.vnic);
      if (reply.op === 'vnic.refused') inc.refused.set(reply.vnic, reply.reason);
      if (inc.waiting.size === 0) this.adopted(ctx, inc);
      return;
    }
  }

  /** A device-channel message reached one of the VM's vNICs: a hand-off may have ended. */
  onVnicMessage(ctx: NodeContext, vm: string): void {
    for (const out of this.outgoing.values()) if (out.vm === vm && out.phase === 'handoff') this.maybeStartPrecopy(ctx, out);
    for (const inc of this.incoming.values()) if (inc.vm === vm && inc.phase === 'resumed') this.maybeFinish(ctx, inc);
  }

  /** Handles the agent's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (!name.startsWith(VMOTION_TIMER_PREFIX)) return false;
    const { mid } = data as { mid: string };
    const out = this.outgoing.get(mid);
    const inc = this.incoming.get(mid);
    switch (name) {
      case 'vmotion.watchdog':
        if (out) {
          out.watchdog = null;
          this.abortOutgoing(ctx, out, `peer-unreachable: no answer from ${out.to} for ${VMOTION_TIMEOUT_NS / 1e6} ms during ${out.phase}`);
        } else if (inc && inc.phase !== 'resumed') {
          inc.watchdog = null;
          ctx.emit('vmotion.incoming.dropped', { mid, vm: inc.vm, from: inc.from, reason: `no word from ${inc.from} for ${VMOTION_TIMEOUT_NS / 1e6} ms` });
          this.dropIncoming(ctx, inc);
        }
        return true;
      case 'vmotion.tx':
        if (out) {
          out.txTimer = null;
          this.sendBatch(ctx, out);
        }
        return true;
      case 'vmotion.settle':
        if (inc) this.maybeFinish(ctx, inc);
        return true;
      default:
        return true;
    }
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return {
      outgoing: [...this.outgoing.values()].map((o) => ({ mid: o.mid, vm: o.vm, to: o.to, phase: o.phase, rounds: o.rounds, batch: o.batch && { round: o.batch.round, pages: o.batch.pages, sent: o.batch.sent, acked: o.batch.acked } })),
      incoming: [...this.incoming.values()].map((i) => ({ mid: i.mid, vm: i.vm, from: i.from, phase: i.phase, pagesReceived: i.pagesReceived })),
      malformed: this.malformed,
    };
  }

  /** Counts a vMotion datagram that did not parse. */
  countMalformed(): void {
    this.malformed++;
  }

  // --- source ---------------------------------------------------------------------------------

  private onReply(ctx: NodeContext, out: Outgoing, message: VmotionMessage): void {
    switch (message.t) {
      case 'verdict': {
        if (out.phase !== 'prepare') return;
        ctx.emit('vmotion.precheck', { mid: out.mid, vm: out.vm, to: out.to, ok: message.ok, checks: message.checks });
        if (!message.ok) {
          const failed = message.checks.filter((c) => !c.ok).map((c) => c.name);
          this.abortOutgoing(ctx, out, `precheck-failed: ${failed.join(', ')}`, false);
          return;
        }
        this.arm(ctx, out);
        out.phase = 'handoff';
        // Passthrough cannot migrate: every VF hands its state to the backend first.
        for (const vnic of this.host.datapath.vnicsOf(out.vm)) vnic.setMigrating(ctx, true);
        this.maybeStartPrecopy(ctx, out);
        return;
      }
      case 'ack': {
        const run = out.batch;
        if (!run || message.round !== run.round || message.seq !== run.acked) return;
        run.acked++;
        this.arm(ctx, out);
        if (run.acked === run.batches) this.roundDone(ctx, out, run);
        return;
      }
      case 'resumed':
        if (out.phase !== 'transfer') return;
        this.cancel(ctx, out);
        this.outgoing.delete(out.mid);
        ctx.emit('vmotion.source.released', { mid: out.mid, vm: out.vm, to: out.to });
        this.host.datapath.removeVm(out.vm);
        this.host.vmsChanged(ctx);
        return;
      default:
        return;
    }
  }

  private maybeStartPrecopy(ctx: NodeContext, out: Outgoing): void {
    if (!this.host.datapath.vnicsOf(out.vm).every((v) => v.inBackend)) return;
    const spec = this.host.datapath.vm(out.vm)!;
    out.phase = 'precopy';
    out.planner = new PrecopyPlanner({
      memoryMiB: spec.memoryMiB,
      dirtyPagesPerSec: spec.dirtyPagesPerSec,
      nominalBytesPerSec: out.bytesPerSec,
      switchoverGoalNs: out.options.switchoverGoal,
      maxPrecopyNs: out.options.maxPrecopy,
      throttle: { enabled: out.options.throttle },
    });
    this.startRound(ctx, out, out.planner.firstRound());
  }

  private startRound(ctx: NodeContext, out: Outgoing, plan: Round | null, finalPages = 0): void {
    const pages = plan?.pages ?? finalPages;
    out.batch = {
      round: plan?.index ?? out.rounds,
      pages,
      batches: Math.max(1, Math.ceil(pages / PAGES_PER_BATCH)),
      startNs: ctx.now(),
      final: plan === null,
      plan,
      sent: 0,
      acked: 0,
    };
    this.scheduleBatch(ctx, out);
  }

  /** The next batch leaves when its bytes have crossed the path (at once for an empty one). */
  private scheduleBatch(ctx: NodeContext, out: Outgoing): void {
    const run = out.batch!;
    const pages = Math.max(0, Math.min(PAGES_PER_BATCH, run.pages - run.sent * PAGES_PER_BATCH));
    if (pages === 0) {
      this.sendBatch(ctx, out);
      return;
    }
    const bytes = pages * out.planner!.pageBytes;
    out.txTimer = ctx.setTimer(Math.max(1, Math.ceil((bytes * 1e9) / out.bytesPerSec)), 'vmotion.tx', { mid: out.mid });
  }

  /** Sends the batch whose bytes have just crossed, and schedules the next. */
  private sendBatch(ctx: NodeContext, out: Outgoing): void {
    const run = out.batch;
    if (!run || run.sent >= run.batches) return;
    const pages = Math.max(0, Math.min(PAGES_PER_BATCH, run.pages - run.sent * PAGES_PER_BATCH));
    const seq = run.sent++;
    this.host.send(ctx, out.to, { t: 'pages', mid: out.mid, round: run.round, seq, last: run.sent === run.batches, pages });
    if (run.sent < run.batches) this.scheduleBatch(ctx, out);
  }

  private roundDone(ctx: NodeContext, out: Outgoing, run: BatchRun): void {
    const durationNs = Math.max(1, ctx.now() - run.startNs);
    const bytes = run.pages * out.planner!.pageBytes;
    if (run.final) {
      this.release(ctx, out);
      return;
    }
    out.rounds++;
    const bytesPerSec = Math.max(1, Math.floor((bytes * 1e9) / durationNs));
    const step: PrecopyStep = out.planner!.nextRound({ pagesSent: run.pages, durationNs, bytesPerSec });
    const dirtied = step.kind === 'round' ? step.pages : step.kind === 'switchover' ? step.remainingPages : null;
    ctx.emit('vmotion.precopy.round', {
      mid: out.mid,
      vm: out.vm,
      round: run.round,
      pagesSent: run.pages,
      pagesDirtied: dirtied,
      bytes,
      durationNs,
      bytesPerSec,
      throttleFactor: run.plan?.throttleFactor ?? 1,
      throttleSleepNs: run.plan?.throttleSleepNs ?? 0,
    });
    if (step.kind === 'round') {
      if (step.throttleFactor < 1 && (run.plan?.throttleFactor ?? 1) !== step.throttleFactor) {
        ctx.emit('vmotion.throttle', { mid: out.mid, vm: out.vm, factor: step.throttleFactor, sleepNs: step.throttleSleepNs, reason: 'the guest dirties memory faster than the link carries it' });
      }
      this.startRound(ctx, out, step);
      return;
    }
    if (step.kind === 'abort') {
      this.abortOutgoing(ctx, out, `no-convergence: pre-copy ran ${step.rounds} rounds over ${out.options.maxPrecopy / 1e6} ms without meeting the ${out.options.switchoverGoal / 1e6} ms switchover goal`);
      return;
    }
    // Switchover: the VM stops; what it dirtied last goes now.
    out.stunNs = ctx.now();
    this.host.datapath.freeze(out.vm);
    ctx.emit('vmotion.stun', { mid: out.mid, vm: out.vm, host: this.id, remainingPages: step.remainingPages, estimatedNs: step.estimatedNs, rounds: out.rounds });
    out.phase = 'final';
    this.startRound(ctx, out, null, step.remainingPages);
  }

  /** The final pages are across: the DPUs give up the VM's vNICs; the active one exports their firewall state. */
  private release(ctx: NodeContext, out: Outgoing): void {
    out.phase = 'release';
    const { active, others } = this.host.dpus();
    const vnics = this.host.datapath.vnicsOf(out.vm);
    for (const vnic of vnics) {
      for (const dpu of others) this.host.release(ctx, dpu, vnic.id, false);
      if (active === null) out.exports.set(vnic.id, null);
      else {
        out.waiting.add(vnic.id);
        this.host.release(ctx, active, vnic.id, true);
      }
    }
    if (out.waiting.size === 0) this.transfer(ctx, out);
  }

  /** Sends what moves at the switchover, in parts. */
  private transfer(ctx: NodeContext, out: Outgoing): void {
    out.phase = 'transfer';
    const datapath = this.host.datapath;
    const log = datapath.deliveryLog(out.vm);
    const state: SwitchoverState = {
      mid: out.mid,
      vm: datapath.vm(out.vm)!,
      options: out.options,
      stunNs: out.stunNs!,
      rounds: out.rounds,
      lastDeliveryNs: log.lastNs,
      digests: log.recent(),
      guest: datapath.exportGuest(out.vm, ctx.now()),
      vnics: datapath.vnicsOf(out.vm).map((v) => ({ ...v.exportMigration(), dfw: out.exports.get(v.id) ?? null })),
    };
    const parts = stateParts(out.mid, state);
    ctx.emit('vmotion.transfer', {
      mid: out.mid,
      vm: out.vm,
      to: out.to,
      parts: parts.length,
      bytes: parts.reduce((n, p) => n + (p.t === 'state' ? p.data.length : 0), 0),
      vnics: state.vnics.map((v) => ({ vnic: v.vnic, mac: v.mac, requested: v.requested, device: handoffRegisters(v.device), dfw: v.dfw !== null })),
    });
    for (const part of parts) this.host.send(ctx, out.to, part);
    this.arm(ctx, out);
  }

  /**
   * The migration ends at the source: the VM carries on there. Before the stun it only leaves the
   * backend (its vNICs ask for VFs again); after it, the DPU takes the vNICs back with the firewall
   * state it exported, then the VM runs again.
   */
  private abortOutgoing(ctx: NodeContext, out: Outgoing, reason: string, tellPeer = true): void {
    if (out.abortReason !== null) return;
    out.abortReason = reason;
    this.cancel(ctx, out);
    if (tellPeer) this.host.send(ctx, out.to, { t: 'abort', mid: out.mid, reason });
    const released = out.phase === 'transfer' || (out.phase === 'release' && out.exports.size > 0);
    if (out.stunNs !== null && released) {
      out.phase = 'readopt';
      out.waiting.clear();
      const { active, others } = this.host.dpus();
      const spec = this.host.datapath.vm(out.vm)!;
      for (const vnic of this.host.datapath.vnicsOf(out.vm)) {
        for (const dpu of others) this.host.adopt(ctx, dpu, spec, vnic.id, null);
        if (active !== null) {
          out.waiting.add(vnic.id);
          this.host.adopt(ctx, active, spec, vnic.id, out.exports.get(vnic.id) ?? null);
        }
      }
      if (out.waiting.size > 0) return;
    }
    this.resumeAtSource(ctx, out);
  }

  private resumeAtSource(ctx: NodeContext, out: Outgoing): void {
    this.outgoing.delete(out.mid);
    if (out.stunNs !== null) this.host.datapath.thaw(ctx, out.vm);
    for (const vnic of this.host.datapath.vnicsOf(out.vm)) vnic.setMigrating(ctx, false);
    this.emitDone(ctx, { mid: out.mid, vm: out.vm, from: this.id, to: out.to, result: 'aborted', reason: out.abortReason, rounds: out.rounds, switchoverNs: null, downtimeNs: out.stunNs === null ? null : ctx.now() - out.stunNs });
  }

  // --- destination ----------------------------------------------------------------------------

  private prepare(ctx: NodeContext, fromHost: string, message: Extract<VmotionMessage, { t: 'prepare' }>): void {
    const checks = this.prechecks(message);
    const ok = checks.every((c) => c.ok);
    if (ok) {
      const inc: Incoming = {
        mid: message.mid,
        vm: message.vm,
        from: fromHost,
        options: resolveOptions(undefined),
        phase: 'precopy',
        assembly: new StateAssembly(),
        state: null,
        waiting: new Set(),
        refused: new Map(),
        pagesReceived: 0,
        resumeNs: null,
        watchdog: null,
        settleSince: null,
      };
      this.incoming.set(message.mid, inc);
      this.arm(ctx, inc);
    }
    this.host.send(ctx, fromHost, { t: 'verdict', mid: message.mid, ok, checks });
  }

  /** The destination's prechecks: room for the vCPUs, a compatible DPU, the VM's segments. */
  private prechecks(message: Extract<VmotionMessage, { t: 'prepare' }>): PrecheckResult[] {
    const vm = vmSpecOf(this.host.topology, message.vm);
    const here = this.host.datapath;
    const used = here.vmIds().reduce((n, id) => n + (here.vm(id)?.vcpus ?? 0), 0) + [...this.incoming.values()].reduce((n, i) => n + (vmSpecOf(this.host.topology, i.vm)?.vcpus ?? 0), 0);
    const cores = this.host.node.spec.x86Cores;
    const checks: PrecheckResult[] = [];
    const vcpus = vm?.vcpus ?? 0;
    checks.push({ name: 'capacity', ok: vm !== undefined && !here.vm(message.vm) && used + vcpus <= cores, detail: vm === undefined ? `no VM ${message.vm} in the topology` : here.vm(message.vm) ? `${message.vm} already runs here` : `${used} of ${cores} x86 cores taken by vCPUs, ${vcpus} more needed` });
    const active = this.host.dpus().active;
    const model = this.dpuModel(active);
    const compatible = !message.passthrough || (model !== null && model === message.dpuModel);
    checks.push({ name: 'compatible-dpu', ok: compatible, detail: message.passthrough ? `passthrough needs the same DPU model: source ${message.dpuModel ?? 'none'}, destination ${model ?? 'none'}` : 'no passthrough vNIC' });
    const segments = new Set(this.host.topology.segments.map((s) => s.id));
    const missing = (vm?.vnics ?? []).filter((v) => !segments.has(v.segment)).map((v) => v.segment);
    checks.push({ name: 'segment-present', ok: missing.length === 0 && (active !== null || this.host.node.spec.dpus.length === 0), detail: missing.length > 0 ? `segments ${missing.join(', ')} are not present here` : active === null && this.host.node.spec.dpus.length > 0 ? 'no DPU serves this host' : `segments ${(vm?.vnics ?? []).map((v) => v.segment).join(', ')} present` });
    return checks;
  }

  /** The whole switchover state is in: the DPU takes the vNICs, importing their firewall state first. */
  private receiveState(ctx: NodeContext, inc: Incoming, raw: unknown): void {
    const state = raw as SwitchoverState;
    if (typeof state !== 'object' || state === null || typeof state.vm !== 'object' || !Array.isArray(state.vnics)) throw new VmotionError('malformed-state', `vMotion state for ${inc.vm} lacks the VM or its vNICs`);
    inc.state = state;
    inc.phase = 'adopting';
    const { active, others } = this.host.dpus();
    const vm = { ...state.vm, host: this.id };
    for (const vnic of state.vnics) {
      for (const dpu of others) this.host.adopt(ctx, dpu, vm, vnic.vnic, null);
      if (active !== null) {
        inc.waiting.add(vnic.vnic);
        this.host.adopt(ctx, active, vm, vnic.vnic, vnic.dfw);
      }
    }
    if (inc.waiting.size === 0) this.adopted(ctx, inc);
  }

  /** Every vNIC was adopted (or refused): resume here, or give the VM back to the source. */
  private adopted(ctx: NodeContext, inc: Incoming): void {
    const state = inc.state!;
    if (inc.refused.size > 0 && state.options.onDfwRefused === 'abort') {
      const detail = [...inc.refused].map(([vnic, reason]) => `${vnic}: ${reason}`).join(', ');
      this.giveBack(ctx, inc, `dfw-import-refused (${detail})`);
      return;
    }
    const datapath = this.host.datapath;
    try {
      datapath.arriveVm(ctx, state.vm, state.vnics, state.guest, this.host.dpus().active);
    } catch (error) {
      if (!(error instanceof GuestStateError || error instanceof Vmxnet3Error || error instanceof VmotionError)) throw error;
      // What arrived cannot run here: the DPUs let the vNICs go and the VM goes back to the source.
      datapath.removeVm(inc.vm);
      this.giveBack(ctx, inc, `malformed-state: ${error.message}`);
      return;
    }
    this.host.vmsChanged(ctx);
    inc.phase = 'resumed';
    inc.resumeNs = ctx.now();
    datapath.deliveryLog(inc.vm).watchFor(inc.vm, state.digests);
    ctx.emit('vmotion.resume', { mid: inc.mid, vm: inc.vm, host: this.id, from: inc.from, switchoverNs: ctx.now() - state.stunNs });
    this.cancelTimer(ctx, inc);
    this.host.send(ctx, inc.from, { t: 'resumed', mid: inc.mid });
    for (const vnic of datapath.vnicsOf(inc.vm)) if (inc.refused.has(vnic.id)) vnic.disconnect(ctx);
    this.announce(ctx, inc);
    for (const vnic of datapath.vnicsOf(inc.vm)) vnic.setMigrating(ctx, false);
    inc.settleSince = ctx.now();
    this.maybeFinish(ctx, inc);
  }

  /** The destination gives the VM back before resuming it: its DPUs let the vNICs go, the source takes over again. */
  private giveBack(ctx: NodeContext, inc: Incoming, reason: string): void {
    const { active, others } = this.host.dpus();
    for (const vnic of inc.state?.vnics ?? []) {
      if (inc.refused.has(vnic.vnic)) continue;
      for (const dpu of [...others, ...(active === null ? [] : [active])]) this.host.release(ctx, dpu, vnic.vnic, false);
    }
    this.host.send(ctx, inc.from, { t: 'abort', mid: inc.mid, reason });
    this.dropIncoming(ctx, inc);
  }

  /**
   * The hypervisor announces the VM's MACs (RARP) through the backend, right at the resume and
   * before the vNICs ask for VFs, so switches learn where the VM is now.
   */
  private announce(ctx: NodeContext, inc: Incoming): void {
    const datapath = this.host.datapath;
    for (const vnic of datapath.vnicsOf(inc.vm)) {
      const mac = vnic.inspect().mac;
      if (!vnic.announce(ctx, this.host.rarp(mac))) continue;
      ctx.emit('net.rarp', { mid: inc.mid, vm: inc.vm, vnic: vnic.id, mac, host: this.id, dpu: vnic.servingDpu });
    }
  }

  /** Records `vmotion.done` once every vNIC has settled (a VF bound, or refused) and the first frame came (or a second passed). */
  private maybeFinish(ctx: NodeContext, inc: Incoming): void {
    if (inc.phase !== 'resumed' || !this.incoming.has(inc.mid)) return;
    const datapath = this.host.datapath;
    const vnics = datapath.vnicsOf(inc.vm);
    const log = datapath.deliveryLog(inc.vm);
    const waited = ctx.now() - (inc.settleSince ?? ctx.now());
    const settled = vnics.every((v) => v.settled);
    // A disconnected vNIC receives nothing: there is no first frame to wait for.
    const expectFrames = vnics.some((v) => !v.disconnected);
    if (!settled || (expectFrames && log.firstNs === null && waited < FIRST_FRAME_WAIT_NS)) {
      ctx.setTimer(SETTLE_POLL_NS, 'vmotion.settle', { mid: inc.mid });
      return;
    }
    this.incoming.delete(inc.mid);
    const state = inc.state!;
    const views = vnics.map((v) => v.inspect());
    const disconnected = views.filter((v) => v.reason === 'dfw-import-refused');
    const emulated = views.filter((v) => v.requested === 'uptv2' && v.active !== 'uptv2' && v.reason !== 'dfw-import-refused');
    const result = disconnected.length > 0 ? 'success-disconnected' : emulated.length > 0 ? 'success-emulated' : 'success';
    const reason = disconnected.length > 0 ? `dfw-import-refused: ${disconnected.map((v) => v.vnic).join(', ')} stay disconnected` : emulated.length > 0 ? emulated.map((v) => `${v.vnic}: ${v.reason ?? 'emulated'}`).join(', ') : null;
    const lastSource = state.lastDeliveryNs;
    this.emitDone(ctx, {
      mid: inc.mid,
      vm: inc.vm,
      from: inc.from,
      to: this.id,
      result,
      reason,
      rounds: state.rounds,
      switchoverNs: inc.resumeNs! - state.stunNs,
      downtimeNs: lastSource === null || log.firstNs === null ? null : log.firstNs - lastSource,
      vnics: views.map((v) => ({ vnic: v.vnic, mode: v.active, reason: v.reason })),
    });
  }

  private dropIncoming(ctx: NodeContext, inc: Incoming): void {
    this.cancelTimer(ctx, inc);
    this.incoming.delete(inc.mid);
  }

  // --- helpers --------------------------------------------------------------------------------

  /** Records `vmotion.done`; the durations and the reason default to null. */
  private emitDone(ctx: NodeContext, payload: Omit<VmotionDone, 'switchoverNs' | 'downtimeNs' | 'reason'> & Partial<VmotionDone>): void {
    ctx.emit('vmotion.done', { switchoverNs: null, downtimeNs: null, reason: null, ...payload });
  }

  /** (Re)starts the watchdog: the migration ends if the other host stays silent. */
  private arm(ctx: NodeContext, run: Outgoing | Incoming): void {
    this.cancelTimer(ctx, run);
    run.watchdog = ctx.setTimer(VMOTION_TIMEOUT_NS, 'vmotion.watchdog', { mid: run.mid });
  }

  private cancelTimer(ctx: NodeContext, run: Outgoing | Incoming): void {
    if (run.watchdog !== null) ctx.cancelTimer(run.watchdog);
    run.watchdog = null;
  }

  private cancel(ctx: NodeContext, out: Outgoing): void {
    this.cancelTimer(ctx, out);
    if (out.txTimer !== null) ctx.cancelTimer(out.txTimer);
    out.txTimer = null;
    out.batch = null;
  }

  private dpuModel(dpu: string | null): string | null {
    if (dpu === null) return null;
    const node = this.host.topology.nodes.find((n) => n.id === dpu);
    return node?.kind === 'dpu' ? node.spec.model : null;
  }
}

function vmSpecOf(topology: ResolvedTopology, vm: string): VmSpec | undefined {
  for (const node of topology.nodes) if (node.kind === 'host') for (const spec of node.spec.vms) if (spec.id === vm) return spec;
  return undefined;
}
