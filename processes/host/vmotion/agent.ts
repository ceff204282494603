/**
 * The host's vMotion agent: both ends of a migration. The source drives it; the destination
 * answers; the manager (vCenter) owns the switchover. Every step is an event (see
 * `docs/vmotion.md` for the sequence and the payloads):
 *
 * source                               manager                      destination
 * vmotion.start
 * migration.register ─────────────────▶ (refuses a VM not here, or migrating)
 * prepare ───────────────────────────────────────────────────────▶ prechecks
 * vmotion.precheck ◀──────────────────────────────────────────────┘ verdict
 * vnic.handoff vf-to-emulated (VF → STOP → the backend, the VM runs on)
 * pre-copy rounds: pages ────────────────────────────────────────▶ (acknowledged by the stream)
 * vmotion.precopy.round per round (the planner decides: another round, switchover or abort)
 * switchover.begin ───────────────────▶ (no answer: abort, the VM was never stopped)
 * vmotion.stun; final pages ─────────────────────────────────────▶
 * vnic.release → DPU: dfw.export
 * vmotion.transfer: state parts ─────────────────────────────────▶ vnic.adopt → DPU: dfw.import
 *                                      ◀──────────────────────── switchover.commit
 *                                      switchover.decision (once)
 * vmotion.source.released ◀─────────── committed ──────────────▶ vmotion.resume; net.rarp;
 *                                                                 vnic.handoff emulated-to-vf
 *                                                                 vmotion.done
 *
 * The destination resumes only on `committed`; the source lets the VM go only on `committed` and
 * resumes it only on `aborted` (then `vmotion.done` aborted is the source's). Until the state has
 * left the source, the source may give up alone (the destination cannot resume without the state);
 * after, neither side decides alone: an abort is asked of the manager, which answers with the one
 * decision it took. So a VM never runs on two hosts, whatever is lost or cut.
 *
 * Between the hosts everything travels on one reliable stream per migration (`stream.ts`): a lost,
 * duplicated or reordered datagram slows the migration down. A side that hears nothing from the
 * other for `VMOTION_SILENCE_NS` gives up (before the state left) or asks the manager to abort
 * (after).
 *
 * Pages are counted and sized, never stored: each `pages` batch is a real datagram whose frame
 * stands for its pages' bytes (`shared/net/elided.ts`), which every wire on the way charges, so
 * batches take link time and queue with other traffic; a few are kept in flight and a round's rate
 * is what its acknowledgements measured. A batch sent again costs its bytes again.
 */
import type { EventPayloads } from '../../../shared/events/catalogue.js';
import type { VTime } from '../../../shared/events.js';
import type { NodeActionArgs } from '../../../shared/actions/node-actions.js';
import type { VmotionOptions } from '../../../shared/actions/schema.js';
import type { HostNode, ResolvedTopology, VmSpec } from '../../../shared/topology/types.js';
import type { NodeContext } from '../../runtime/types.js';

export type { DpuVnicReply } from '../../pcie/messages.js';
import type { DpuVnicReply } from '../../pcie/messages.js';
import type { MigrationFact } from '../../mgmt/messages.js';
import type { HostDatapath } from '../host-datapath.js';
import { handoffRegisters, type VnicMigrationState } from '../vnic/host-vnic.js';
import { PrecopyPlanner, PRECOPY_DEFAULTS, THROTTLE_DEFAULTS, type PrecopyStep, type Round } from './precopy.js';
import { PAGES_PER_BATCH, StateAssembly, stateParts, type PrecheckResult, type VmotionBody, type VmotionDatagram } from './messages.js';
import { VmotionError } from './errors.js';
import { STREAM_RTO_TIMER, VmotionStream } from './stream.js';
import { GuestStateError } from '../guest/state.js';
import { switchoverCost } from '../../common/cost/switchover.js';
import { Vmxnet3Error } from '../../../shared/vmxnet3/errors.js';

/** Timers of the agent start with this prefix. */
export const VMOTION_TIMER_PREFIX = 'vmotion.';
/**
 * Silence from the other host for this long ends a migration (before the state left the source)
 * or makes a side ask the manager to abort it (after). An assumption, well above a DPU failover
 * (3 missed 100 ms heartbeats) so that a migration rides one out.
 */
export const VMOTION_SILENCE_NS = 2_000_000_000;
/** How long the source waits for the manager's answer at the precheck and before the stun. */
export const VMOTION_MANAGER_WAIT_NS = 250_000_000;
/** The destination waits this long after the resume for the first frame, to measure the downtime. */
const FIRST_FRAME_WAIT_NS = 1_000_000_000;
const SETTLE_POLL_NS = 5_000_000;
/**
 * Page batches a migration keeps unacknowledged (8 MiB): enough to keep a 25 Gb/s path busy over
 * the lab's µs latencies, and few enough that the queue they build at a shared uplink drains well
 * within the stream's first retransmission timeout (20 ms), even with several migrations sharing it.
 */
const PAGE_BATCHES_IN_FLIGHT = 8;
/** How often a side checks the silence of the other. */
const WATCH_NS = 250_000_000;
/** Migrations this host still answers the stream of after they ended here, and remembers the decision of. */
const REMEMBERED = 64;

/** A migration as the manager's requests name it. */
export interface MigrationRef {
  readonly mid: string;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
}

/** The decision the manager took about a switchover. */
export type SwitchoverDecision = 'committed' | 'aborted';

/** What to ask the manager about a switchover that is waiting for its decision. */
export type DecisionAsk = { readonly kind: 'commit' } | { readonly kind: 'abort'; readonly reason: string } | { readonly kind: 'query' };

/** The manager as the agent uses it (`host/manager-link.ts`): every call is retried until answered. */
export interface VmotionManager {
  /** The manager's node id, for messages. */
  readonly id: string;
  /** Registers a migration (precheck) or announces its stun (`begin`); gives up after `VMOTION_MANAGER_WAIT_NS`. */
  announce(ctx: NodeContext, what: 'register' | 'begin', ref: MigrationRef, answered: (ctx: NodeContext, ok: boolean, reason: string | null) => void, unreachable: (ctx: NodeContext) => void): void;
  /** Asks for the switchover's decision (commit, abort or just wait), until there is one; `decided` is called once. */
  decide(ctx: NodeContext, ref: MigrationRef, ask: DecisionAsk, decided: (ctx: NodeContext, decision: SwitchoverDecision, reason: string | null) => void): void;
  /** Stops asking anything about a migration. */
  forget(ctx: NodeContext, mid: string): void;
}

/** What the agent needs of its host. */
export interface VmotionHost {
  readonly node: HostNode;
  readonly topology: ResolvedTopology;
  readonly datapath: HostDatapath;
  /** The manager; null in a topology without one (then nothing migrates: vMotion is a vCenter operation). */
  readonly manager: VmotionManager | null;
  /** Sends a datagram to another host's agent over the vMotion network; false when there is no path. */
  send(ctx: NodeContext, toHost: string, datagram: VmotionDatagram): boolean;
  /** The host's DPUs: the active one (serving the vNICs) and the others. */
  dpus(): { readonly active: string | null; readonly others: readonly string[] };
  /**
   * Asks a DPU to give up a vNIC (with its firewall export when `exportState`); with `note`, a DPU
   * that does not serve the host's vNICs only forgets it and does not answer.
   */
  release(ctx: NodeContext, dpu: string, vnic: string, exportState: boolean, note?: boolean): void;
  /**
   * Asks a DPU to serve a vNIC, importing its firewall state when given; with `note`, a DPU that
   * does not serve the host's vNICs only adds it to its list and does not answer.
   */
  adopt(ctx: NodeContext, dpu: string, vm: VmSpec, vnic: string, dfw: unknown, note?: boolean): void;
  /** A RARP announcing `mac`. */
  rarp(mac: string): Uint8Array;
  /** A VM arrived or left: the host's HA manager must know which vNICs a failover moves. */
  vmsChanged(ctx: NodeContext): void;
}

type Options = Required<VmotionOptions>;

/** The payload of `vmotion.done`. */
type VmotionDone = EventPayloads['vmotion.done'];
/** Where a switchover's time went (`vmotion.resume`, `vmotion.done`). */
type SwitchoverBreakdown = EventPayloads['vmotion.resume']['breakdown'];

type OutgoingPhase = 'register' | 'prepare' | 'handoff' | 'precopy' | 'arming' | 'final' | 'release' | 'transfer' | 'readopt';

interface Outgoing {
  readonly mid: string;
  readonly vm: string;
  readonly to: string;
  readonly options: Options;
  readonly startNs: VTime;
  readonly bytesPerSec: number;
  readonly stream: VmotionStream;
  phase: OutgoingPhase;
  planner: PrecopyPlanner | null;
  batch: BatchRun | null;
  rounds: number;
  stunNs: VTime | null;
  /** When the stunned VM's checkpoint was saved and the final pages began to leave. */
  checkpointDoneNs: VTime | null;
  /** The switchover the planner chose, while the manager is told of it (`arming`). */
  arming: { readonly step: Extract<PrecopyStep, { kind: 'switchover' }>; readonly sinceNs: VTime; readonly throttleFactor: number } | null;
  readonly exports: Map<string, unknown>;
  /** vNICs whose answer is awaited, and the DPU asked (the one serving the host's vNICs): only its answer counts. */
  readonly waiting: Map<string, string>;
  /** Why it ended at the source (set once). */
  abortReason: string | null;
  /** An abort asked of the manager after the state left, and why. */
  abortAsked: string | null;
  watch: number | null;
  txTimer: number | null;
  /** Fires when the pre-copy limit passes in the middle of the round now running (`vmotion.limit`). */
  limitTimer: number | null;
  /** Pages left to send once the checkpoint is saved (set at the stun). */
  finalPages: number;
  /** State parts still to send (the window was full). */
  transferQueue: Array<Extract<VmotionBody, { t: 'state' }>>;
}

/** One round of pages on its way: batches sent at the path's rate, acknowledged by the stream. */
interface BatchRun {
  readonly round: number;
  readonly pages: number;
  readonly batches: number;
  readonly startNs: VTime;
  readonly final: boolean;
  readonly plan: Round | null;
  sent: number;
  /** The stream sequence number of the round's last batch, once sent. */
  lastSeq: number | null;
}

/** `refused`: the prechecks failed; kept until the source has the verdict. */
type IncomingPhase = 'refused' | 'precopy' | 'adopting' | 'committing' | 'resumed';

interface Incoming {
  readonly mid: string;
  readonly vm: string;
  readonly from: string;
  readonly stream: VmotionStream;
  phase: IncomingPhase;
  readonly assembly: StateAssembly;
  state: SwitchoverState | null;
  /** vNICs whose answer is awaited, and the DPU asked (the one serving the host's vNICs): only its answer counts. */
  readonly waiting: Map<string, string>;
  readonly refused: Map<string, string>;
  /** The manager committed while an adoption was still awaited (after a failover): resume once answered. */
  committed: boolean;
  pagesReceived: number;
  /** When the whole switchover state had arrived, and when the manager's commit did. */
  stateNs: VTime | null;
  committedNs: VTime | null;
  /** The restore (checkpoint load, then vCPU restart) ran to its end: the VM may resume once its vNICs are adopted. */
  restored: boolean;
  restoreTimer: number | null;
  resumeNs: VTime | null;
  watch: number | null;
  settleSince: VTime | null;
}

/** What crosses at the switchover, besides the pages. */
interface SwitchoverState {
  readonly mid: string;
  readonly vm: VmSpec;
  readonly options: Options;
  readonly stunNs: VTime;
  /** When the checkpoint was saved at the source (the final pages left after it). */
  readonly checkpointDoneNs: VTime;
  readonly rounds: number;
  readonly lastDeliveryNs: VTime | null;
  /** The guest's last frame in or out before the stun. */
  readonly lastActivityNs: VTime | null;
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

/** The nominal rate pages cross at (the slowest Ethernet wire of either host's DPUs, or of the hosts): the planner's estimate before the first round measured one. */
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
  /** Streams of migrations that ended here, still acknowledged so the peer stops sending. */
  private readonly ended = new Map<string, VmotionStream>();
  /** Decisions this host received and acted on: facts it reports to a manager that restarted. */
  private readonly decided = new Map<string, MigrationFact>();
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
      stream: this.stream(mid, to, () => out),
      phase: 'register',
      planner: null,
      batch: null,
      rounds: 0,
      stunNs: null,
      checkpointDoneNs: null,
      arming: null,
      exports: new Map(),
      waiting: new Map(),
      abortReason: null,
      abortAsked: null,
      watch: null,
      txTimer: null,
      limitTimer: null,
      finalPages: 0,
      transferQueue: [],
    };
    this.outgoing.set(mid, out);
    const manager = this.host.manager;
    if (manager === null) {
      this.managerPrecheckFailed(ctx, out, 'no management plane in this topology: a vMotion is a vCenter operation', 'precheck-failed: manager');
      return;
    }
    manager.announce(
      ctx,
      'register',
      this.ref(out),
      (c, ok, reason) => {
        if (out.phase !== 'register' || out.abortReason !== null) return;
        if (!ok) return this.managerPrecheckFailed(c, out, `${manager.id} refused the migration: ${reason ?? 'no reason given'}`, `precheck-failed: manager (${reason ?? 'refused'})`);
        out.phase = 'prepare';
        const dpuModel = this.dpuModel(this.host.datapath.servingDpu());
        out.stream.send(c, { t: 'prepare', vm, from: this.id, dpuModel, passthrough: spec.vnics.some((v) => v.mode === 'uptv2') });
        this.watch(c, out);
      },
      (c) => {
        if (out.phase !== 'register' || out.abortReason !== null) return;
        this.managerPrecheckFailed(c, out, `no answer from ${manager.id} for ${VMOTION_MANAGER_WAIT_NS / 1e6} ms`, `manager-unreachable: no answer from ${manager.id} for ${VMOTION_MANAGER_WAIT_NS / 1e6} ms at the precheck`);
      },
    );
  }

  /** A vMotion datagram from another host. */
  onDatagram(ctx: NodeContext, fromHost: string, datagram: VmotionDatagram): void {
    const out = this.outgoing.get(datagram.mid);
    const inc = this.incoming.get(datagram.mid);
    const known = out ?? inc;
    if (known !== undefined) {
      const peer = out !== undefined ? out.to : inc!.from;
      if (peer !== fromHost) return;
      for (const body of known.stream.onDatagram(ctx, datagram)) {
        if (out !== undefined && this.outgoing.get(out.mid) === out) this.onSourceBody(ctx, out, body);
        else if (inc !== undefined && this.incoming.get(inc.mid) === inc) this.onDestinationBody(ctx, inc, body);
      }
      known.stream.flushAck(ctx);
      return;
    }
    const ended = this.ended.get(datagram.mid);
    if (ended !== undefined) {
      ended.onDatagram(ctx, datagram);
      return;
    }
    // A new migration starts with its `prepare`, the stream's first message.
    if (datagram.seq === 0 && datagram.body?.t === 'prepare') this.prepare(ctx, fromHost, datagram);
  }

  /**
   * A DPU answered a release or an adopt. Only the answer of the DPU that was asked to serve counts:
   * another DPU of the host (an independent active one of a host without failover) is never heard.
   */
  onDpuReply(ctx: NodeContext, dpu: string, reply: DpuVnicReply): void {
    for (const out of this.outgoing.values()) {
      if (out.waiting.get(reply.vnic) !== dpu) continue;
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
      if (inc.waiting.get(reply.vnic) !== dpu) continue;
      inc.waiting.delete(reply.vnic);
      if (reply.op === 'vnic.refused') inc.refused.set(reply.vnic, reply.reason);
      else inc.refused.delete(reply.vnic);
      if (inc.waiting.size > 0) return;
      if (inc.phase === 'adopting') this.adopted(ctx, inc);
      else if (inc.phase === 'committing' && inc.committed && inc.restored) this.resume(ctx, inc);
      return;
    }
  }

  /**
   * The host failed over to `dpu`: a release or adopt still awaited from the DPU that was given up
   * will never be answered, and a VM that arrives but has not resumed is not served by the new
   * DPU. Each is asked again of the new active DPU, with the firewall state the host holds for it
   * (the export the source got, or the one that arrived with the VM).
   */
  onFailover(ctx: NodeContext, dpu: string): void {
    for (const out of this.outgoing.values()) {
      for (const [vnic, asked] of [...out.waiting]) {
        if (asked === dpu) continue;
        out.waiting.set(vnic, dpu);
        if (out.phase === 'release') this.host.release(ctx, dpu, vnic, true);
        else if (out.phase === 'readopt') this.host.adopt(ctx, dpu, this.host.datapath.vm(out.vm)!, vnic, out.exports.get(vnic) ?? null);
      }
    }
    for (const inc of this.incoming.values()) {
      if (inc.state === null || (inc.phase !== 'adopting' && inc.phase !== 'committing')) continue;
      const vm = { ...inc.state.vm, host: this.id };
      for (const vnic of inc.state.vnics) {
        if (inc.waiting.get(vnic.vnic) === dpu) continue;
        inc.waiting.set(vnic.vnic, dpu);
        this.host.adopt(ctx, dpu, vm, vnic.vnic, vnic.dfw);
      }
    }
  }

  /** The manager pushed a decision (it also answers the requests that wait for it). */
  onDecision(ctx: NodeContext, mid: string, decision: SwitchoverDecision, reason: string | null): void {
    const out = this.outgoing.get(mid);
    if (out !== undefined) this.sourceDecided(ctx, out, decision, reason);
    const inc = this.incoming.get(mid);
    if (inc !== undefined) this.destinationDecided(ctx, inc, decision, reason);
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
      case STREAM_RTO_TIMER:
        (out ?? inc)?.stream.onTimer(ctx);
        return true;
      case 'vmotion.watch':
        if (out) this.checkSource(ctx, out);
        else if (inc) this.checkDestination(ctx, inc);
        return true;
      case 'vmotion.settle':
        if (inc) this.maybeFinish(ctx, inc);
        return true;
      case 'vmotion.checkpoint':
        if (out) {
          out.txTimer = null;
          this.checkpointSaved(ctx, out);
        }
        return true;
      case 'vmotion.restore':
        if (inc) {
          inc.restoreTimer = null;
          inc.restored = true;
          if (inc.phase === 'committing' && inc.committed && inc.waiting.size === 0) this.resume(ctx, inc);
        }
        return true;
      case 'vmotion.limit':
        if (out) {
          out.limitTimer = null;
          this.precopyExpired(ctx, out);
        }
        return true;
      default:
        return true;
    }
  }

  /** How this host takes part in migrations now, and the decisions it acted on: for the manager's resync. */
  facts(): MigrationFact[] {
    const out: MigrationFact[] = [];
    for (const o of this.outgoing.values()) {
      out.push({ mid: o.mid, vm: o.vm, from: this.id, to: o.to, role: 'source', phase: o.phase, asked: o.abortAsked !== null ? 'abort' : null, reason: o.abortAsked, decided: null });
    }
    for (const i of this.incoming.values()) {
      out.push({ mid: i.mid, vm: i.vm, from: i.from, to: this.id, role: 'destination', phase: i.phase, asked: i.phase === 'committing' && !i.committed ? 'commit' : null, reason: null, decided: i.committed ? 'committed' : null });
    }
    out.push(...this.decided.values());
    return out.sort((a, b) => (a.mid < b.mid ? -1 : a.mid > b.mid ? 1 : 0));
  }

  /** The VM of a vNIC that is arriving here and has not resumed yet (its DPU may already serve it), else null. */
  arrivingVmOf(vnic: string): string | null {
    for (const inc of this.incoming.values()) {
      if (inc.state !== null && inc.phase !== 'resumed' && inc.state.vnics.some((v) => v.vnic === vnic)) return inc.vm;
    }
    return null;
  }

  /**
   * VMs this host still runs whose vNICs its DPUs no longer serve: stunned sources whose state has
   * left (their DPU exported and released them). A DPU taking over must not serve them.
   */
  releasedVms(): string[] {
    return [...this.outgoing.values()].filter((o) => o.phase === 'transfer').map((o) => o.vm);
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return {
      outgoing: [...this.outgoing.values()].map((o) => ({
        mid: o.mid,
        vm: o.vm,
        to: o.to,
        phase: o.phase,
        rounds: o.rounds,
        abortAsked: o.abortAsked,
        batch: o.batch && { round: o.batch.round, pages: o.batch.pages, batches: o.batch.batches, sent: o.batch.sent },
        stream: o.stream.inspect(),
      })),
      incoming: [...this.incoming.values()].map((i) => ({ mid: i.mid, vm: i.vm, from: i.from, phase: i.phase, pagesReceived: i.pagesReceived, committed: i.committed, stream: i.stream.inspect() })),
      decided: [...this.decided.values()].map((d) => ({ mid: d.mid, role: d.role, decided: d.decided })),
      malformed: this.malformed,
    };
  }

  /** Counts a vMotion datagram that did not parse. */
  countMalformed(): void {
    this.malformed++;
  }

  // --- source ---------------------------------------------------------------------------------

  private onSourceBody(ctx: NodeContext, out: Outgoing, body: VmotionBody): void {
    switch (body.t) {
      case 'verdict': {
        if (out.phase !== 'prepare') return;
        const manager = { name: 'manager', ok: true, detail: `${this.host.manager?.id ?? 'the manager'} registered the migration` };
        ctx.emit('vmotion.precheck', { mid: out.mid, vm: out.vm, to: out.to, ok: body.ok, checks: [manager, ...body.checks] });
        if (!body.ok) {
          const failed = body.checks.filter((c) => !c.ok).map((c) => c.name);
          this.abortOutgoing(ctx, out, `precheck-failed: ${failed.join(', ')}`, false);
          return;
        }
        out.phase = 'handoff';
        // Passthrough cannot migrate: every VF hands its state to the backend first.
        for (const vnic of this.host.datapath.vnicsOf(out.vm)) vnic.setMigrating(ctx, true);
        this.maybeStartPrecopy(ctx, out);
        return;
      }
      case 'resumed':
        // The destination resumes only on the manager's commit: this is the decision, heard first.
        this.sourceDecided(ctx, out, 'committed', null);
        return;
      case 'abort':
        if (out.phase === 'transfer' || out.phase === 'readopt') this.askAbort(ctx, out, body.reason);
        else this.abortOutgoing(ctx, out, body.reason, false);
        return;
      default:
        return;
    }
  }

  /** The stream acknowledged more: more batches may go, a round may be complete. */
  private onSourceAcked(ctx: NodeContext, out: Outgoing): void {
    const run = out.batch;
    if (run === null) return;
    this.sendBatches(ctx, out);
    if (out.batch === run && run.lastSeq !== null && out.stream.acknowledged > run.lastSeq) this.roundDone(ctx, out, run);
  }

  private maybeStartPrecopy(ctx: NodeContext, out: Outgoing): void {
    if (!this.host.datapath.vnicsOf(out.vm).every((v) => v.inBackend)) return;
    const spec = this.host.datapath.vm(out.vm)!;
    out.phase = 'precopy';
    out.planner = new PrecopyPlanner({
      memoryMiB: spec.memoryMiB,
      dirtyPagesPerSec: spec.dirtyPagesPerSec,
      workingSetMiB: spec.workingSetMiB,
      coldDirtyPagesPerSec: spec.coldDirtyPagesPerSec,
      nominalBytesPerSec: out.bytesPerSec,
      switchoverGoalNs: out.options.switchoverGoal,
      maxPrecopyNs: out.options.maxPrecopy,
      throttle: { enabled: out.options.throttle },
    });
    const first = out.planner.firstRound();
    // Throttling may start with the first round already: say so then, not only when it changes.
    if (first.throttleFactor < 1) this.emitThrottle(ctx, out, first);
    this.startRound(ctx, out, first);
  }

  private emitThrottle(ctx: NodeContext, out: Outgoing, round: Round): void {
    ctx.emit('vmotion.throttle', { mid: out.mid, vm: out.vm, round: round.index, factor: round.throttleFactor, sleepNs: round.throttleSleepNs, reason: 'the guest dirties memory faster than the link carries it' });
  }

  private startRound(ctx: NodeContext, out: Outgoing, plan: Round | null, finalPages = 0): void {
    const pages = plan?.pages ?? finalPages;
    // The round's throttle slows the guest's vCPUs, so its apps slow down as its dirty rate does.
    if (plan !== null) this.host.datapath.throttleVm(ctx, out.vm, plan.throttleFactor < 1 ? { quantumNs: THROTTLE_DEFAULTS.runQuantumNs, sleepNs: plan.throttleSleepNs } : null);
    // The pre-copy limit holds inside a round: one round may last far longer than the limit.
    if (plan !== null) out.limitTimer = ctx.setTimer(Math.max(1, out.planner!.remainingNs), 'vmotion.limit', { mid: out.mid });
    out.batch = {
      round: plan?.index ?? out.rounds,
      pages,
      batches: Math.max(1, Math.ceil(pages / PAGES_PER_BATCH)),
      startNs: ctx.now(),
      final: plan === null,
      plan,
      sent: 0,
      lastSeq: null,
    };
    this.sendBatches(ctx, out);
  }

  /**
   * Sends the round's next batches while fewer than {@link PAGE_BATCHES_IN_FLIGHT} messages are
   * unacknowledged. Each batch's frame stands for its pages' bytes, which every wire on the way
   * charges (`shared/net/elided.ts`): the pace is the network's, batches queue behind and in front
   * of other traffic on the same ports, and a round's rate is what its acknowledgements measured.
   */
  private sendBatches(ctx: NodeContext, out: Outgoing): void {
    const run = out.batch;
    if (!run) return;
    while (run.sent < run.batches && out.stream.windowOpen && out.stream.sent - out.stream.acknowledged < PAGE_BATCHES_IN_FLIGHT) {
      const pages = Math.max(0, Math.min(PAGES_PER_BATCH, run.pages - run.sent * PAGES_PER_BATCH));
      const batch = run.sent++;
      const last = run.sent === run.batches;
      const seq = out.stream.send(ctx, { t: 'pages', round: run.round, batch, last, pages });
      if (last) run.lastSeq = seq;
    }
  }

  private roundDone(ctx: NodeContext, out: Outgoing, run: BatchRun): void {
    const durationNs = Math.max(1, ctx.now() - run.startNs);
    const bytes = run.pages * out.planner!.pageBytes;
    out.batch = null;
    this.cancelLimit(ctx, out);
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
      if (step.throttleFactor < 1 && (run.plan?.throttleFactor ?? 1) !== step.throttleFactor) this.emitThrottle(ctx, out, step);
      this.startRound(ctx, out, step);
      return;
    }
    if (step.kind === 'abort') {
      this.abortOutgoing(ctx, out, noConvergence(out, step.rounds));
      return;
    }
    // Switchover: the manager hears of it before the VM stops, or the VM never stops.
    out.phase = 'arming';
    out.arming = { step, sinceNs: ctx.now(), throttleFactor: run.plan?.throttleFactor ?? 1 };
    const manager = this.host.manager!;
    manager.announce(
      ctx,
      'begin',
      this.ref(out),
      (c, ok, reason) => {
        if (out.phase !== 'arming' || out.abortReason !== null) return;
        if (!ok) this.abortOutgoing(c, out, `manager-refused: ${manager.id} would not begin the switchover (${reason ?? 'no reason given'})`);
        else this.stun(c, out);
      },
      (c) => {
        if (out.phase !== 'arming' || out.abortReason !== null) return;
        this.abortOutgoing(c, out, `manager-unreachable: no answer from ${manager.id} for ${VMOTION_MANAGER_WAIT_NS / 1e6} ms before the switchover; the VM was never stopped`);
      },
    );
  }

  /**
   * The pre-copy limit passed while a round was still on its way: the migration ends now, as it
   * would have after the round, and the round's remaining batches are not sent.
   */
  private precopyExpired(ctx: NodeContext, out: Outgoing): void {
    const run = out.batch;
    if (out.phase !== 'precopy' || out.abortReason !== null || run === null || run.final) return;
    const step = out.planner!.expire({ durationNs: ctx.now() - run.startNs });
    this.abortOutgoing(ctx, out, `${noConvergence(out, step.rounds)} (round ${run.round} cut off at the limit)`);
  }

  private cancelLimit(ctx: NodeContext, out: Outgoing): void {
    if (out.limitTimer !== null) ctx.cancelTimer(out.limitTimer);
    out.limitTimer = null;
  }

  /** The VM stops; what it dirtied last (and while the manager was told) goes now. */
  private stun(ctx: NodeContext, out: Outgoing): void {
    const arming = out.arming!;
    const spec = this.host.datapath.vm(out.vm)!;
    const waitedNs = ctx.now() - arming.sinceNs;
    const allPages = Math.floor((spec.memoryMiB * 1024 * 1024) / out.planner!.pageBytes);
    const extra = out.planner!.dirtiedIn(waitedNs, arming.throttleFactor);
    const remaining = Math.min(allPages, arming.step.remainingPages + extra);
    out.arming = null;
    out.stunNs = ctx.now();
    this.host.datapath.throttleVm(ctx, out.vm, null);
    this.host.datapath.freeze(out.vm);
    const checkpointNs = switchoverCost({ vcpus: spec.vcpus, vnics: spec.vnics.length }).checkpointNs;
    ctx.emit('vmotion.stun', { mid: out.mid, vm: out.vm, host: this.id, remainingPages: remaining, estimatedNs: arming.step.estimatedNs, rounds: out.rounds, checkpointNs });
    out.phase = 'final';
    // The checkpoint (vCPU and device state) is saved before the last pages leave.
    out.finalPages = remaining;
    out.txTimer = ctx.setTimer(checkpointNs, 'vmotion.checkpoint', { mid: out.mid });
  }

  /** The stunned VM's checkpoint is saved: the last dirty pages go now. */
  private checkpointSaved(ctx: NodeContext, out: Outgoing): void {
    if (out.phase !== 'final' || out.abortReason !== null) return;
    out.checkpointDoneNs = ctx.now();
    this.startRound(ctx, out, null, out.finalPages);
  }

  /** The final pages are across: the DPUs give up the VM's vNICs; the serving one exports their firewall state. */
  private release(ctx: NodeContext, out: Outgoing): void {
    out.phase = 'release';
    const { active, others } = this.host.dpus();
    const vnics = this.host.datapath.vnicsOf(out.vm);
    for (const vnic of vnics) {
      for (const dpu of others) this.host.release(ctx, dpu, vnic.id, false, true);
      if (active === null) out.exports.set(vnic.id, null);
      else {
        out.waiting.set(vnic.id, active);
        this.host.release(ctx, active, vnic.id, true);
      }
    }
    if (out.waiting.size === 0) this.transfer(ctx, out);
  }

  /** Sends what moves at the switchover, in parts. From here on the source no longer decides alone. */
  private transfer(ctx: NodeContext, out: Outgoing): void {
    out.phase = 'transfer';
    const datapath = this.host.datapath;
    const log = datapath.deliveryLog(out.vm);
    const state: SwitchoverState = {
      mid: out.mid,
      vm: datapath.vm(out.vm)!,
      options: out.options,
      stunNs: out.stunNs!,
      checkpointDoneNs: out.checkpointDoneNs ?? out.stunNs!,
      rounds: out.rounds,
      lastDeliveryNs: log.lastNs,
      lastActivityNs: log.lastActivityNs,
      digests: log.recent(),
      guest: datapath.exportGuest(out.vm, ctx.now()),
      vnics: datapath.vnicsOf(out.vm).map((v) => ({ ...v.exportMigration(), dfw: out.exports.get(v.id) ?? null })),
    };
    const parts = stateParts(state);
    ctx.emit('vmotion.transfer', {
      mid: out.mid,
      vm: out.vm,
      to: out.to,
      parts: parts.length,
      bytes: parts.reduce((n, p) => n + p.data.length, 0),
      vnics: state.vnics.map((v) => ({ vnic: v.vnic, mac: v.mac, requested: v.requested, device: handoffRegisters(v.device), dfw: v.dfw !== null })),
    });
    // A state larger than the window waits for acknowledgements, part by part.
    out.transferQueue = parts;
    this.sendState(ctx, out);
    // The decision is pushed to the source too; asking covers a push that was lost.
    this.host.manager!.decide(ctx, this.ref(out), { kind: 'query' }, (c, decision, reason) => this.sourceDecided(c, out, decision, reason));
  }

  /** Sends as many state parts as the window takes. */
  private sendState(ctx: NodeContext, out: Outgoing): void {
    const queue = out.transferQueue;
    while (queue.length > 0 && out.stream.windowOpen) out.stream.send(ctx, queue.shift()!);
  }

  /** After the state left, the source may not abort alone: it asks the manager, who answers with its one decision. */
  private askAbort(ctx: NodeContext, out: Outgoing, reason: string): void {
    if (out.abortAsked !== null || out.phase !== 'transfer') return;
    out.abortAsked = reason;
    ctx.emit('vmotion.abort.asked', { mid: out.mid, vm: out.vm, role: 'source', manager: this.host.manager!.id, reason });
    this.host.manager!.decide(ctx, this.ref(out), { kind: 'abort', reason }, (c, decision, why) => this.sourceDecided(c, out, decision, why));
  }

  /** The manager's decision reached the source: let the VM go, or take it back. Acts once. */
  private sourceDecided(ctx: NodeContext, out: Outgoing, decision: SwitchoverDecision, reason: string | null): void {
    if (this.outgoing.get(out.mid) !== out || out.abortReason !== null) return;
    if (out.phase !== 'transfer') {
      // Decided before the state left (the manager aborted on another's word): nothing else ran it.
      if (decision === 'aborted') this.abortOutgoing(ctx, out, reason ?? `aborted by ${this.host.manager?.id ?? 'the manager'}`, true, false);
      return;
    }
    this.host.manager!.forget(ctx, out.mid);
    this.remember(out.mid, { mid: out.mid, vm: out.vm, from: this.id, to: out.to, role: 'source', phase: 'done', asked: null, reason, decided: decision });
    ctx.emit('vmotion.decision', { mid: out.mid, vm: out.vm, role: 'source', decision, reason });
    if (decision === 'committed') {
      this.close(ctx, out.mid, out.stream, out);
      this.outgoing.delete(out.mid);
      ctx.emit('vmotion.source.released', { mid: out.mid, vm: out.vm, to: out.to });
      this.host.datapath.removeVm(out.vm);
      this.host.vmsChanged(ctx);
      return;
    }
    out.abortReason = reason ?? 'aborted';
    this.readopt(ctx, out);
  }

  /**
   * The migration ends at the source, decided here (the state never left): the VM carries on there.
   * Before the stun it only leaves the backend (its vNICs ask for VFs again); after it, the DPU
   * takes the vNICs back with the firewall state it exported, then the VM runs again. The
   * destination and the manager are told (the manager records the abort).
   */
  private abortOutgoing(ctx: NodeContext, out: Outgoing, reason: string, tellPeer = true, tellManager = true): void {
    if (out.abortReason !== null) return;
    out.abortReason = reason;
    if (tellPeer) out.stream.send(ctx, { t: 'abort', reason });
    const manager = this.host.manager;
    if (tellManager && manager !== null && out.phase !== 'register') manager.decide(ctx, this.ref(out), { kind: 'abort', reason }, () => undefined);
    this.readopt(ctx, out);
  }

  /** Takes the vNICs back on the serving DPU with their exports when they were released, then resumes the VM here. */
  private readopt(ctx: NodeContext, out: Outgoing): void {
    this.stopSending(ctx, out);
    const released = out.phase === 'transfer' || (out.phase === 'release' && out.exports.size > 0);
    if (out.stunNs !== null && released) {
      out.phase = 'readopt';
      out.waiting.clear();
      const { active, others } = this.host.dpus();
      const spec = this.host.datapath.vm(out.vm)!;
      for (const vnic of this.host.datapath.vnicsOf(out.vm)) {
        for (const dpu of others) this.host.adopt(ctx, dpu, spec, vnic.id, null, true);
        if (active !== null) {
          out.waiting.set(vnic.id, active);
          this.host.adopt(ctx, active, spec, vnic.id, out.exports.get(vnic.id) ?? null);
        }
      }
      if (out.waiting.size > 0) return;
    }
    this.resumeAtSource(ctx, out);
  }

  private resumeAtSource(ctx: NodeContext, out: Outgoing): void {
    this.close(ctx, out.mid, out.stream, out);
    this.outgoing.delete(out.mid);
    if (out.stunNs !== null) this.host.datapath.thaw(ctx, out.vm);
    for (const vnic of this.host.datapath.vnicsOf(out.vm)) vnic.setMigrating(ctx, false);
    this.emitDone(ctx, { mid: out.mid, vm: out.vm, from: this.id, to: out.to, result: 'aborted', reason: out.abortReason, rounds: out.rounds, switchoverNs: null, downtimeNs: out.stunNs === null ? null : ctx.now() - out.stunNs });
  }

  /** The manager refused or did not answer the registration: the migration ends before anything moved. */
  private managerPrecheckFailed(ctx: NodeContext, out: Outgoing, detail: string, reason: string): void {
    ctx.emit('vmotion.precheck', { mid: out.mid, vm: out.vm, to: out.to, ok: false, checks: [{ name: 'manager', ok: false, detail }] });
    out.abortReason = reason;
    this.resumeAtSource(ctx, out);
  }

  /** The source's watch: a destination silent for too long ends the migration (or makes the source ask to). */
  private checkSource(ctx: NodeContext, out: Outgoing): void {
    out.watch = null;
    const silentNs = ctx.now() - (out.stream.lastHeardNs ?? out.startNs);
    if (silentNs >= VMOTION_SILENCE_NS) {
      const reason = `peer-unreachable: no answer from ${out.to} for ${VMOTION_SILENCE_NS / 1e6} ms during ${out.phase}`;
      if (out.phase === 'transfer') this.askAbort(ctx, out, reason);
      else if (out.phase !== 'readopt' && out.phase !== 'register' && out.phase !== 'arming') {
        this.abortOutgoing(ctx, out, reason);
        return;
      }
    }
    this.watch(ctx, out);
  }

  private stopSending(ctx: NodeContext, out: Outgoing): void {
    this.host.datapath.throttleVm(ctx, out.vm, null);
    if (out.txTimer !== null) ctx.cancelTimer(out.txTimer);
    out.txTimer = null;
    this.cancelLimit(ctx, out);
    out.batch = null;
    out.transferQueue = [];
  }

  // --- destination ----------------------------------------------------------------------------

  private prepare(ctx: NodeContext, fromHost: string, datagram: VmotionDatagram): void {
    const inc: Incoming = {
      mid: datagram.mid,
      vm: (datagram.body as Extract<VmotionBody, { t: 'prepare' }>).vm,
      from: fromHost,
      stream: this.stream(datagram.mid, fromHost, () => inc),
      phase: 'precopy',
      assembly: new StateAssembly(),
      state: null,
      waiting: new Map(),
      refused: new Map(),
      committed: false,
      pagesReceived: 0,
      stateNs: null,
      committedNs: null,
      restored: false,
      restoreTimer: null,
      resumeNs: null,
      watch: null,
      settleSince: null,
    };
    const body = inc.stream.onDatagram(ctx, datagram)[0] as Extract<VmotionBody, { t: 'prepare' }>;
    const checks = this.prechecks(body);
    const ok = checks.every((c) => c.ok);
    if (!ok) inc.phase = 'refused';
    this.incoming.set(inc.mid, inc);
    inc.stream.send(ctx, { t: 'verdict', ok, checks });
    this.watch(ctx, inc);
  }

  private onDestinationBody(ctx: NodeContext, inc: Incoming, body: VmotionBody): void {
    switch (body.t) {
      case 'pages':
        inc.pagesReceived += body.pages;
        return;
      case 'state':
        if (inc.phase !== 'precopy') return;
        try {
          if (inc.assembly.add(body)) this.receiveState(ctx, inc, inc.assembly.complete());
        } catch (error) {
          if (!(error instanceof VmotionError || error instanceof GuestStateError || error instanceof Vmxnet3Error)) throw error;
          ctx.emit('node.error', { message: error.message, while: 'vmotion' });
          this.giveBack(ctx, inc, `malformed-state: ${error.message}`, true);
        }
        return;
      case 'abort':
        // The source gave up before the state left (or asks the manager itself): nothing to resume.
        if (inc.phase === 'precopy' || inc.phase === 'adopting') this.giveBack(ctx, inc, body.reason, false);
        return;
      default:
        return;
    }
  }

  /** The destination's prechecks: room for the vCPUs, a compatible DPU, the VM's segments. */
  private prechecks(message: Extract<VmotionBody, { t: 'prepare' }>): PrecheckResult[] {
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

  /**
   * The whole switchover state is in: checked (it must run here, or the destination gives it back
   * before anything is decided), then the DPU takes the vNICs, importing their firewall state first.
   */
  private receiveState(ctx: NodeContext, inc: Incoming, raw: unknown): void {
    const state = raw as SwitchoverState;
    if (typeof state !== 'object' || state === null || typeof state.vm !== 'object' || !Array.isArray(state.vnics)) throw new VmotionError('malformed-state', `vMotion state for ${inc.vm} lacks the VM or its vNICs`);
    this.host.datapath.checkArrival(state.vm, state.vnics, state.guest);
    inc.state = state;
    inc.stateNs = ctx.now();
    inc.phase = 'adopting';
    const { active, others } = this.host.dpus();
    const vm = { ...state.vm, host: this.id };
    for (const vnic of state.vnics) {
      for (const dpu of others) this.host.adopt(ctx, dpu, vm, vnic.vnic, null, true);
      if (active !== null) {
        inc.waiting.set(vnic.vnic, active);
        this.host.adopt(ctx, active, vm, vnic.vnic, vnic.dfw);
      }
    }
    if (inc.waiting.size === 0) this.adopted(ctx, inc);
  }

  /** Every vNIC was adopted (or refused): ask the manager to commit, or give the VM back. */
  private adopted(ctx: NodeContext, inc: Incoming): void {
    const state = inc.state!;
    if (inc.refused.size > 0 && state.options.onDfwRefused === 'abort') {
      const detail = [...inc.refused].map(([vnic, reason]) => `${vnic}: ${reason}`).join(', ');
      this.giveBack(ctx, inc, `dfw-import-refused (${detail})`, true);
      return;
    }
    inc.phase = 'committing';
    this.host.manager!.decide(ctx, this.ref(inc), { kind: 'commit' }, (c, decision, reason) => this.destinationDecided(c, inc, decision, reason));
  }

  /** The manager's decision reached the destination: resume, or give the VM back. Acts once. */
  private destinationDecided(ctx: NodeContext, inc: Incoming, decision: SwitchoverDecision, reason: string | null): void {
    if (this.incoming.get(inc.mid) !== inc || inc.phase === 'resumed' || inc.committed) return;
    if (decision === 'aborted') {
      if (inc.phase === 'committing' || inc.phase === 'adopting') {
        this.remember(inc.mid, { mid: inc.mid, vm: inc.vm, from: inc.from, to: this.id, role: 'destination', phase: 'done', asked: null, reason, decided: 'aborted' });
        ctx.emit('vmotion.decision', { mid: inc.mid, vm: inc.vm, role: 'destination', decision, reason });
      }
      this.giveBack(ctx, inc, `aborted by ${this.host.manager?.id ?? 'the manager'}: ${reason ?? 'no reason given'}`, false);
      return;
    }
    if (inc.phase !== 'committing') return;
    inc.committed = true;
    this.host.manager!.forget(ctx, inc.mid);
    this.remember(inc.mid, { mid: inc.mid, vm: inc.vm, from: inc.from, to: this.id, role: 'destination', phase: 'done', asked: null, reason: null, decided: 'committed' });
    ctx.emit('vmotion.decision', { mid: inc.mid, vm: inc.vm, role: 'destination', decision, reason });
    // The checkpoint is loaded and the vCPUs restarted; after a failover the new DPU adopts the vNICs again meanwhile.
    inc.committedNs = ctx.now();
    const cost = switchoverCost({ vcpus: inc.state!.vm.vcpus, vnics: inc.state!.vnics.length });
    inc.restoreTimer = ctx.setTimer(cost.restoreNs + cost.resumeNs, 'vmotion.restore', { mid: inc.mid });
  }

  /** Committed: the VM runs here now. */
  private resume(ctx: NodeContext, inc: Incoming): void {
    const state = inc.state!;
    const datapath = this.host.datapath;
    datapath.arriveVm(ctx, state.vm, state.vnics, state.guest, this.host.dpus().active);
    this.host.vmsChanged(ctx);
    inc.phase = 'resumed';
    inc.resumeNs = ctx.now();
    datapath.deliveryLog(inc.vm).watchFor(inc.vm, state.digests);
    ctx.emit('vmotion.resume', { mid: inc.mid, vm: inc.vm, host: this.id, from: inc.from, switchoverNs: ctx.now() - state.stunNs, breakdown: this.breakdown(inc) });
    inc.stream.send(ctx, { t: 'resumed' });
    for (const vnic of datapath.vnicsOf(inc.vm)) if (inc.refused.has(vnic.id)) vnic.disconnect(ctx);
    this.announce(ctx, inc);
    for (const vnic of datapath.vnicsOf(inc.vm)) vnic.setMigrating(ctx, false);
    // Then the guest runs again and speaks for itself: gratuitous ARP and unsolicited NA.
    datapath.announceGuest(ctx, inc.vm);
    inc.settleSince = ctx.now();
    this.maybeFinish(ctx, inc);
  }

  /**
   * The destination gives the VM back before resuming it: its DPUs let the vNICs go, the source
   * takes over again. With `ask`, the destination decided this itself and asks the manager to
   * abort (once the state may have left the source, only the manager's decision counts); the
   * source hears it on the stream too.
   */
  private giveBack(ctx: NodeContext, inc: Incoming, reason: string, ask: boolean): void {
    const { active, others } = this.host.dpus();
    for (const vnic of inc.state?.vnics ?? []) {
      // The other DPUs noted every vNIC; the serving one attached only those it did not refuse.
      for (const dpu of others) this.host.release(ctx, dpu, vnic.vnic, false, true);
      if (active !== null && !inc.refused.has(vnic.vnic)) this.host.release(ctx, active, vnic.vnic, false);
    }
    if (ask) {
      inc.stream.send(ctx, { t: 'abort', reason });
      this.host.manager?.decide(ctx, this.ref(inc), { kind: 'abort', reason }, () => undefined);
    } else {
      this.host.manager?.forget(ctx, inc.mid);
    }
    ctx.emit('vmotion.incoming.dropped', { mid: inc.mid, vm: inc.vm, from: inc.from, reason });
    this.close(ctx, inc.mid, inc.stream, inc);
    this.incoming.delete(inc.mid);
  }

  /**
   * The hypervisor announces the VM's MACs (RARP) through the backend, right at the resume and
   * before the vNICs ask for VFs, so switches learn where the VM is now. This is the first round of
   * the announcement schedule; the serving DPU sends the others (`processes/dpu/announce.ts`).
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
    this.close(ctx, inc.mid, inc.stream, inc);
    this.incoming.delete(inc.mid);
    const state = inc.state!;
    const views = vnics.map((v) => v.inspect());
    const disconnected = views.filter((v) => v.reason === 'dfw-import-refused');
    const emulated = views.filter((v) => v.requested === 'uptv2' && v.active !== 'uptv2' && v.reason !== 'dfw-import-refused');
    const result = disconnected.length > 0 ? 'success-disconnected' : emulated.length > 0 ? 'success-emulated' : 'success';
    const reason = disconnected.length > 0 ? `dfw-import-refused: ${disconnected.map((v) => v.vnic).join(', ')} stay disconnected` : emulated.length > 0 ? emulated.map((v) => `${v.vnic}: ${v.reason ?? 'emulated'}`).join(', ') : null;
    const lastSource = state.lastDeliveryNs;
    const lastActivity = state.lastActivityNs;
    const firstActivity = log.firstActivityNs;
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
      guestDowntimeNs: lastActivity === null || firstActivity === null ? null : firstActivity - lastActivity,
      breakdown: this.breakdown(inc),
      vnics: views.map((v) => ({ vnic: v.vnic, mode: v.active, reason: v.reason })),
    });
  }

  /**
   * Where the switchover's time went, stun to resume, each part measured: the checkpoint saved at
   * the source, the last pages, firewall export and state across the wire, the adopt and the
   * manager's commit, the checkpoint restored, the vCPUs restarted (with any wait for a DPU that
   * took over meanwhile). The parts add up to `switchoverNs`.
   */
  private breakdown(inc: Incoming): SwitchoverBreakdown {
    const state = inc.state!;
    const cost = switchoverCost({ vcpus: state.vm.vcpus, vnics: state.vnics.length });
    const resumedNs = inc.resumeNs!;
    const committedNs = inc.committedNs ?? resumedNs;
    const restoreNs = Math.min(cost.restoreNs, resumedNs - committedNs);
    return {
      checkpointNs: state.checkpointDoneNs - state.stunNs,
      transferNs: (inc.stateNs ?? committedNs) - state.checkpointDoneNs,
      commitNs: committedNs - (inc.stateNs ?? committedNs),
      restoreNs,
      resumeNs: resumedNs - committedNs - restoreNs,
    };
  }

  /** The destination's watch: a source silent for too long, before the destination asked to commit, ends the migration here. */
  private checkDestination(ctx: NodeContext, inc: Incoming): void {
    inc.watch = null;
    if (inc.phase !== 'precopy' && inc.phase !== 'refused') return;
    const silentNs = ctx.now() - (inc.stream.lastHeardNs ?? ctx.now());
    if (silentNs >= VMOTION_SILENCE_NS && inc.phase === 'refused') {
      this.close(ctx, inc.mid, inc.stream, inc);
      this.incoming.delete(inc.mid);
      return;
    }
    if (silentNs >= VMOTION_SILENCE_NS) {
      this.giveBack(ctx, inc, `no word from ${inc.from} for ${VMOTION_SILENCE_NS / 1e6} ms`, true);
      return;
    }
    this.watch(ctx, inc);
  }

  // --- helpers --------------------------------------------------------------------------------

  /** A migration's stream towards `peer`, its acknowledgements and retransmissions wired to the run they belong to. */
  private stream(mid: string, peer: string, run: () => Outgoing | Incoming): VmotionStream {
    return new VmotionStream(mid, {
      send: (ctx, datagram) => this.host.send(ctx, peer, datagram),
      onAcked: (ctx) => {
        const r = run();
        if (!('to' in r)) {
          // A refusal is over once the source has the verdict.
          if (r.phase === 'refused' && this.incoming.get(r.mid) === r && r.stream.acknowledged === r.stream.sent) {
            this.close(ctx, r.mid, r.stream, r);
            this.incoming.delete(r.mid);
          }
          return;
        }
        if (this.outgoing.get(r.mid) !== r) return;
        if (r.phase === 'transfer') this.sendState(ctx, r);
        else this.onSourceAcked(ctx, r);
      },
      // A batch sent again stands for its pages again: the wires charge its bytes once more.
      onRetransmit: () => undefined,
    });
  }

  /** A migration ended here: its stream stops sending but still acknowledges what comes late. */
  private close(ctx: NodeContext, mid: string, stream: VmotionStream, run: Outgoing | Incoming | null): void {
    stream.close(ctx);
    if (run !== null && run.watch !== null) ctx.cancelTimer(run.watch);
    if (run !== null) run.watch = null;
    if (run !== null && 'to' in run) this.stopSending(ctx, run);
    this.ended.set(mid, stream);
    while (this.ended.size > REMEMBERED) this.ended.delete(this.ended.keys().next().value!);
  }

  private remember(mid: string, fact: MigrationFact): void {
    this.decided.set(mid, fact);
    while (this.decided.size > REMEMBERED) this.decided.delete(this.decided.keys().next().value!);
  }

  private watch(ctx: NodeContext, run: Outgoing | Incoming): void {
    if (run.watch !== null) ctx.cancelTimer(run.watch);
    run.watch = ctx.setTimer(WATCH_NS, 'vmotion.watch', { mid: run.mid });
  }

  private ref(run: Outgoing | Incoming): MigrationRef {
    return 'to' in run ? { mid: run.mid, vm: run.vm, from: this.id, to: run.to } : { mid: run.mid, vm: run.vm, from: run.from, to: this.id };
  }

  /** Records `vmotion.done`; the durations and the reason default to null. */
  private emitDone(ctx: NodeContext, payload: Omit<VmotionDone, 'switchoverNs' | 'downtimeNs' | 'guestDowntimeNs' | 'breakdown' | 'reason'> & Partial<VmotionDone>): void {
    ctx.emit('vmotion.done', { switchoverNs: null, downtimeNs: null, guestDowntimeNs: null, breakdown: null, reason: null, ...payload });
  }

  private dpuModel(dpu: string | null): string | null {
    if (dpu === null) return null;
    const node = this.host.topology.nodes.find((n) => n.id === dpu);
    return node?.kind === 'dpu' ? node.spec.model : null;
  }
}

/** The reason of a migration that did not converge within its pre-copy limit. */
function noConvergence(out: Outgoing, rounds: number): string {
  return `no-convergence: pre-copy ran ${rounds} rounds over ${out.options.maxPrecopy / 1e6} ms without meeting the ${out.options.switchoverGoal / 1e6} ms switchover goal`;
}

function vmSpecOf(topology: ResolvedTopology, vm: string): VmSpec | undefined {
  for (const node of topology.nodes) if (node.kind === 'host') for (const spec of node.spec.vms) if (spec.id === vm) return spec;
  return undefined;
}
