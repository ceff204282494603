/**
 * The host's DPU high-availability decisions (vSphere 8.0 U3 dual-DPU HA): which DPU of the pair
 * serves the host's vNICs (active) and which waits (standby), when to fail over, and when a
 * failover is complete.
 *
 * The policy comes from the host's spec: `failover.active[0]` is the preferred DPU, `standby[0]`
 * its standby; an empty standby list means no failover. A failover happens when the active DPU
 * - goes UNAVAILABLE after its heartbeats stopped, or answers with a new boot epoch (`crash`);
 * - reports that all its uplinks are down (`linkDown`);
 * - is given up on request (`userInitiated`), or, with `failback`, when the preferred DPU is back,
 *   healthy and in sync (`failback`, off by default).
 * It needs a standby that is MANAGED (and, except after a crash, has an uplink). Without one, the
 * host's vNICs are disconnected (`dpu.failover.impossible`); a standby that comes back later takes
 * over then, and a sole active DPU that comes back has its vNICs rebuilt on it.
 *
 * The manager only decides and records: it returns a plan (which DPU becomes active, which vNICs
 * move) that the host datapath carries out, and it is told when each vNIC is restored
 * (`onRestored`); when all are, `dpu.failover.done` records the detection time and the total time.
 * Times are measured from the last heartbeat the failed DPU answered.
 */
import type { VTime } from '../../../shared/events.js';
import type { HostSpec } from '../../../shared/topology/types.js';
import type { NodeContext } from '../../runtime/types.js';
import type { DpuState } from '../heartbeat-agent.js';
import { DpuHaError } from './errors.js';
import type { DpuRole, HaHeartbeat } from '../../pcie/ha-heartbeat.js';
import type { EventPayloads } from '../../../shared/events/catalogue.js';

/** What the DPU that took over reports of its work (`dpu.takeover`), as `dpu.failover.done` records it. */
export type TakeoverBreakdown = NonNullable<EventPayloads['dpu.failover.done']['takeover']>;

/** What the manager needs of a node context: the clock and the event log. */
export type HaContext = Pick<NodeContext, 'now' | 'emit'>;

/** Why a failover happened. `failback` is the automatic return to the preferred DPU. */
export type FailoverReason = 'crash' | 'linkDown' | 'userInitiated' | 'failback';

/**
 * Why no failover could happen:
 * - `no-standby`: the policy has no standby DPU;
 * - `standby-not-managed`: the standby is not MANAGED (down itself, or not in service);
 * - `standby-uplinks-down`: the standby has no uplink either (a crash fails over anyway);
 * - `in-progress`: a requested failover while another one is not done yet.
 */
export type FailoverImpossibleReason = 'no-standby' | 'standby-not-managed' | 'standby-uplinks-down' | 'in-progress';

/** What the host datapath is to do: serve `vnics` from `to` instead of `from` (the same DPU for a rebuild). */
export interface FailoverPlan {
  readonly from: string;
  readonly to: string;
  readonly reason: FailoverReason;
  /** From the failed DPU's last answered heartbeat to the detection. */
  readonly detectNs: VTime;
  /** The host's vNICs, sorted. */
  readonly vnics: readonly string[];
}

/**
 * A decision: `failover` (another DPU takes the vNICs), `rebuild` (the sole DPU is back after a
 * restart: rebuild the vNICs on it), `impossible` (the vNICs stay disconnected), `none`.
 */
export type FailoverDecision =
  | { readonly kind: 'none' }
  | { readonly kind: 'failover'; readonly plan: FailoverPlan }
  | { readonly kind: 'rebuild'; readonly plan: FailoverPlan }
  | { readonly kind: 'impossible'; readonly dpu: string; readonly reason: FailoverImpossibleReason; readonly vnics: readonly string[] };

/** Options of the manager. */
export interface DpuHaOptions {
  /** Return to the preferred DPU once it is back, healthy and in sync (default false: the recovered DPU stays standby). */
  readonly failback?: boolean;
}

/** One DPU of the host as the manager sees it, for inspectors. */
export interface ManagedDpuView {
  dpu: string;
  role: DpuRole;
  state: DpuState;
  uplinksDown: boolean;
  synced: boolean;
  epoch: number | null;
  lastAnsweredAt: VTime | null;
}

/** The manager's state, plain data. */
export interface DpuHaView {
  active: string | null;
  standby: string | null;
  preferred: string | null;
  failback: boolean;
  /** The vNICs have no DPU to serve them: why, and since when. */
  disconnected: { dpu: string; reason: FailoverImpossibleReason; since: VTime } | null;
  failover: { from: string; to: string; reason: FailoverReason; detectNs: VTime; pending: string[] } | null;
  dpus: ManagedDpuView[];
}

interface DpuEntry {
  readonly dpu: string;
  state: DpuState;
  uplinksDown: boolean;
  synced: boolean;
  epoch: number | null;
  lastAnsweredAt: VTime | null;
}

interface InProgress {
  readonly kind: 'failover' | 'rebuild';
  readonly from: string;
  readonly to: string;
  readonly reason: FailoverReason;
  readonly detectNs: VTime;
  /** The failed DPU's last answered heartbeat: where `totalNs` starts. */
  readonly failedAt: VTime;
  readonly pending: Set<string>;
  readonly restored: Array<{ vnic: string; mode: string }>;
  /**
   * The new active's report of its takeover work; a failover is done only once it came. A rebuild
   * does not wait for one: its DPU may have kept its role through a link bounce and take nothing over.
   */
  takeover: TakeoverBreakdown | null;
}

interface Disconnected {
  readonly dpu: string;
  readonly reason: FailoverImpossibleReason;
  readonly cause: FailoverReason;
  readonly since: VTime;
  readonly detectNs: VTime;
  readonly failedAt: VTime;
}

const NONE: FailoverDecision = { kind: 'none' };

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The host's HA brain for its DPU pair. */
export class DpuHaManager {
  private readonly host: string;
  private vnicIds: readonly string[];
  private readonly entries = new Map<string, DpuEntry>();
  private readonly specRoles = new Map<string, DpuRole>();
  private readonly failbackEnabled: boolean;
  readonly preferred: string | null;
  private activeDpu: string | null;
  private standbyDpu: string | null;
  private progress: InProgress | null = null;
  private disconnected: Disconnected | null = null;

  constructor(host: HostSpec, options: DpuHaOptions = {}) {
    this.host = host.id;
    this.failbackEnabled = options.failback ?? false;
    this.vnicIds = host.vms.flatMap((vm) => vm.vnics.map((v) => v.id)).sort(byString);
    for (const dpu of [...host.dpus].sort(byString)) {
      this.entries.set(dpu, { dpu, state: 'MANAGED', uplinksDown: false, synced: false, epoch: null, lastAnsweredAt: null });
      this.specRoles.set(dpu, host.failover.standby.includes(dpu) ? 'standby' : 'active');
    }
    this.preferred = host.failover.active[0] ?? [...host.dpus].sort(byString)[0] ?? null;
    this.activeDpu = this.preferred;
    this.standbyDpu = host.failover.standby[0] ?? null;
  }

  /** The DPU that serves the host's vNICs now. */
  get active(): string | null {
    return this.activeDpu;
  }

  /** The DPU that takes over if the active fails, null without one. */
  get standby(): string | null {
    return this.standbyDpu;
  }

  /** Whether the host's vNICs have no DPU serving them (a failover was impossible). */
  get vnicsDisconnected(): boolean {
    return this.disconnected !== null;
  }

  /** vNICs of the failover in progress not restored yet, sorted (empty when none is in progress). */
  get pending(): string[] {
    return this.progress === null ? [] : [...this.progress.pending].sort(byString);
  }

  /**
   * The role to tell a DPU (in each heartbeat request, so a DPU that boots or restarts learns it):
   * the pair's current roles; a DPU outside the pair keeps the role of the host's policy.
   */
  roleOf(dpu: string): DpuRole {
    if (dpu === this.activeDpu) return 'active';
    if (dpu === this.standbyDpu) return 'standby';
    const role = this.specRoles.get(dpu);
    if (role === undefined) throw new DpuHaError('unknown-dpu', `Host ${this.host} has no DPU ${dpu}`);
    return role;
  }

  /** What the manager last heard of a DPU's state. */
  stateOf(dpu: string): DpuState {
    return this.entry(dpu).state;
  }

  /**
   * The heartbeat agent changed its view of a DPU (`dpu.state`). The active going UNAVAILABLE is a
   * crash; a standby becoming MANAGED may take over vNICs left disconnected, or trigger a failback;
   * a sole DPU becoming MANAGED again has the vNICs rebuilt on it.
   */
  onDpuState(ctx: HaContext, dpu: string, state: DpuState): FailoverDecision {
    const entry = this.entry(dpu);
    const was = entry.state;
    entry.state = state;
    if (state !== 'MANAGED') entry.synced = false;
    // A DPU that stopped answering comes back with a new epoch: expected, not another crash.
    if (state === 'UNAVAILABLE') entry.epoch = null;
    if (dpu === this.activeDpu && state === 'UNAVAILABLE' && this.disconnected === null) return this.fail(ctx, 'crash');
    if (state === 'MANAGED' && was !== 'MANAGED') {
      if (dpu === this.standbyDpu) ctx.emit('dpu.role', { dpu, role: 'standby', reason: 'rejoined' });
      return this.recover(ctx, dpu);
    }
    return NONE;
  }

  /**
   * A heartbeat reply or status message from a DPU (the HA fields of version 2): the time of its
   * last answer, its boot epoch (a new one on the active is a crash the heartbeat agent may not
   * have seen), its uplinks (all down on the active: `linkDown`) and whether it is in sync.
   */
  onHeartbeat(ctx: HaContext, dpu: string, beat: HaHeartbeat): FailoverDecision {
    if (beat.type === 'request') return NONE;
    const entry = this.entry(dpu);
    const previousAnswer = entry.lastAnsweredAt;
    if (beat.type === 'reply') entry.lastAnsweredAt = ctx.now();
    const restarted = beat.epoch !== null && entry.epoch !== null && beat.epoch !== entry.epoch;
    if (beat.epoch !== null) entry.epoch = beat.epoch;
    const wentDown = beat.uplinksDown && !entry.uplinksDown;
    const cameUp = !beat.uplinksDown && entry.uplinksDown;
    entry.uplinksDown = beat.uplinksDown;
    entry.synced = beat.synced;
    if (dpu === this.activeDpu && this.disconnected === null) {
      // A restart is a crash that ended before the heartbeats missed enough: it began after the answer before this one.
      if (restarted) {
        const decision = this.fail(ctx, 'crash', previousAnswer);
        // No standby to take over, but the restarted DPU itself is back: rebuild the vNICs on it.
        return decision.kind === 'impossible' && entry.state === 'MANAGED' ? this.rebuild(ctx) : decision;
      }
      if (wentDown) return this.fail(ctx, 'linkDown');
    }
    if (cameUp || restarted || beat.synced) return this.recover(ctx, dpu);
    return NONE;
  }

  /** Fails over on request (`userInitiated` unless told otherwise). */
  failover(ctx: HaContext, reason: FailoverReason = 'userInitiated'): FailoverDecision {
    if (this.progress !== null && (reason === 'userInitiated' || reason === 'failback')) return this.impossible(ctx, this.activeDpu ?? '', 'in-progress', reason, false);
    return this.fail(ctx, reason);
  }

  /**
   * A vNIC of the failover in progress runs on its new DPU again (`mode`: the datapath it runs).
   * When it was the last one, records `dpu.failover.done`. Returns whether the failover is done.
   */
  onRestored(ctx: HaContext, vnic: string, mode: string): boolean {
    const p = this.progress;
    if (p === null || !p.pending.delete(vnic)) return false;
    p.restored.push({ vnic, mode });
    return this.maybeFinish(ctx, p);
  }

  /**
   * The DPU taking over reported its work (`dpu.takeover`). When the failover in progress went to
   * that DPU, it is kept for `dpu.failover.done`, which now waits only for the vNICs. Returns
   * whether the failover is done.
   */
  onTakeover(ctx: HaContext, dpu: string, report: TakeoverBreakdown): boolean {
    const p = this.progress;
    if (p === null || p.to !== dpu || p.takeover !== null) return false;
    p.takeover = { connections: report.connections, vnics: report.vnics, macs: report.macs, replicaCommitNs: report.replicaCommitNs, vfBindNs: report.vfBindNs, switchNs: report.switchNs, tunnelNs: report.tunnelNs, totalNs: report.totalNs };
    return this.maybeFinish(ctx, p);
  }

  private maybeFinish(ctx: HaContext, p: InProgress): boolean {
    if (p.pending.size > 0 || (p.kind === 'failover' && p.takeover === null)) return false;
    this.finish(ctx, p);
    return true;
  }

  /**
   * The host's vNICs changed (a VM arrived or left by vMotion): a later failover moves these.
   * A vNIC that left during a failover in progress no longer holds its end back.
   */
  setVnics(ctx: HaContext, vnics: readonly string[]): void {
    this.vnicIds = [...vnics].sort(byString);
    const p = this.progress;
    if (p === null) return;
    for (const id of [...p.pending]) if (!this.vnicIds.includes(id)) p.pending.delete(id);
    this.maybeFinish(ctx, p);
  }

  /** A plain-data view of the pair, the failover in progress and every DPU. */
  inspect(): DpuHaView {
    const p = this.progress;
    const d = this.disconnected;
    return {
      active: this.activeDpu,
      standby: this.standbyDpu,
      preferred: this.preferred,
      failback: this.failbackEnabled,
      disconnected: d === null ? null : { dpu: d.dpu, reason: d.reason, since: d.since },
      failover: p === null ? null : { from: p.from, to: p.to, reason: p.reason, detectNs: p.detectNs, pending: [...p.pending].sort(byString) },
      dpus: [...this.entries.values()].map((e) => ({ dpu: e.dpu, role: this.roleOf(e.dpu), state: e.state, uplinksDown: e.uplinksDown, synced: e.synced, epoch: e.epoch, lastAnsweredAt: e.lastAnsweredAt })),
    };
  }

  // -------------------------------------------------------------------------------------------

  private entry(dpu: string): DpuEntry {
    const entry = this.entries.get(dpu);
    if (entry === undefined) throw new DpuHaError('unknown-dpu', `Host ${this.host} has no DPU ${dpu}`);
    return entry;
  }

  /** The active DPU is given up for `reason`: a plan to move to the standby, or why that cannot be. */
  private fail(ctx: HaContext, reason: FailoverReason, answeredAt?: VTime | null): FailoverDecision {
    const from = this.activeDpu;
    if (from === null) return NONE;
    // Whatever was still being restored is moot: the vNICs move (or lose their DPU) again.
    this.progress = null;
    const failed = this.entry(from);
    const failedAt = answeredAt ?? failed.lastAnsweredAt ?? 0;
    const detectNs = ctx.now() - failedAt;
    const to = this.standbyDpu;
    if (to === null) return this.impossible(ctx, from, 'no-standby', reason, true, detectNs, failedAt);
    const standby = this.entry(to);
    if (standby.state !== 'MANAGED') return this.impossible(ctx, from, 'standby-not-managed', reason, true, detectNs, failedAt);
    if (standby.uplinksDown && reason !== 'crash') return this.impossible(ctx, from, 'standby-uplinks-down', reason, reason === 'linkDown', detectNs, failedAt);
    this.activeDpu = to;
    this.standbyDpu = from;
    this.disconnected = null;
    failed.synced = false;
    ctx.emit('dpu.failed', { dpu: from, reason, detectNs, to });
    ctx.emit('dpu.role', { dpu: to, role: 'active', reason });
    ctx.emit('dpu.role', { dpu: from, role: 'standby', reason });
    return this.start(ctx, 'failover', from, to, reason, detectNs, failedAt);
  }

  private start(ctx: HaContext, kind: 'failover' | 'rebuild', from: string, to: string, reason: FailoverReason, detectNs: VTime, failedAt: VTime): FailoverDecision {
    const plan: FailoverPlan = { from, to, reason, detectNs, vnics: [...this.vnicIds] };
    this.progress = { kind, from, to, reason, detectNs, failedAt, pending: new Set(this.vnicIds), restored: [], takeover: null };
    this.maybeFinish(ctx, this.progress);
    return { kind, plan };
  }

  private impossible(
    ctx: HaContext,
    dpu: string,
    reason: FailoverImpossibleReason,
    cause: FailoverReason,
    disconnect: boolean,
    detectNs = 0,
    failedAt = 0,
  ): FailoverDecision {
    const vnics = disconnect ? [...this.vnicIds] : [];
    if (disconnect) this.disconnected = { dpu, reason, cause, since: ctx.now(), detectNs, failedAt };
    const message = disconnect
      ? `No failover of host ${this.host} from DPU ${dpu} (${cause}): ${explain(reason)}; its ${vnics.length} vNIC(s) are disconnected`
      : `No failover of host ${this.host} from DPU ${dpu} (${cause}): ${explain(reason)}; nothing changes`;
    ctx.emit('dpu.failover.impossible', { dpu, reason, cause, vnicsDisconnected: disconnect, vnics, message });
    return { kind: 'impossible', dpu, reason, vnics };
  }

  /** A DPU came back, or reported better health: reconnect, take over, rebuild or fail back as the situation asks. */
  private recover(ctx: HaContext, dpu: string): FailoverDecision {
    const d = this.disconnected;
    if (d !== null) {
      const entry = this.entry(dpu);
      // The standby the failover waited for is here: it takes over now.
      if (dpu === this.standbyDpu && entry.state === 'MANAGED' && !(entry.uplinksDown && d.cause !== 'crash')) {
        this.disconnected = null;
        const from = d.dpu;
        this.activeDpu = dpu;
        this.standbyDpu = from;
        this.entry(from).synced = false;
        ctx.emit('dpu.failed', { dpu: from, reason: d.cause, detectNs: d.detectNs, to: dpu });
        ctx.emit('dpu.role', { dpu, role: 'active', reason: d.cause });
        ctx.emit('dpu.role', { dpu: from, role: 'standby', reason: d.cause });
        return this.start(ctx, 'failover', from, dpu, d.cause, d.detectNs, d.failedAt);
      }
      if (dpu === d.dpu && dpu === this.activeDpu && entry.state === 'MANAGED') {
        // The active DPU itself is healthy again: a crash lost its VFs, so rebuild; link loss lost nothing.
        if (d.cause === 'crash') return this.rebuild(ctx);
        if (!entry.uplinksDown) {
          this.disconnected = null;
          ctx.emit('dpu.vnics.reconnected', { dpu, reason: 'uplinks-up', vnics: [...this.vnicIds] });
        }
      }
      return NONE;
    }
    return this.maybeFailback(ctx);
  }

  private rebuild(ctx: HaContext): FailoverDecision {
    const d = this.disconnected;
    const dpu = this.activeDpu;
    if (dpu === null) return NONE;
    this.disconnected = null;
    ctx.emit('dpu.vnics.reconnected', { dpu, reason: 'dpu-restored', vnics: [...this.vnicIds] });
    return this.start(ctx, 'rebuild', dpu, dpu, d?.cause ?? 'crash', d?.detectNs ?? 0, d?.failedAt ?? ctx.now());
  }

  private maybeFailback(ctx: HaContext): FailoverDecision {
    const preferred = this.preferred;
    if (!this.failbackEnabled || this.progress !== null || preferred === null || this.activeDpu === preferred || this.standbyDpu !== preferred) return NONE;
    const entry = this.entry(preferred);
    if (entry.state !== 'MANAGED' || entry.uplinksDown || !entry.synced) return NONE;
    return this.fail(ctx, 'failback');
  }

  private finish(ctx: HaContext, p: InProgress): void {
    this.progress = null;
    ctx.emit('dpu.failover.done', {
      kind: p.kind,
      from: p.from,
      to: p.to,
      reason: p.reason,
      detectNs: p.detectNs,
      totalNs: ctx.now() - p.failedAt,
      takeover: p.takeover,
      vnics: [...p.restored].sort((a, b) => byString(a.vnic, b.vnic)),
    });
  }
}

function explain(reason: FailoverImpossibleReason): string {
  switch (reason) {
    case 'no-standby':
      return 'the policy has no standby DPU';
    case 'standby-not-managed':
      return 'the standby DPU is not in service';
    case 'standby-uplinks-down':
      return 'the standby DPU has no uplink up either';
    case 'in-progress':
      return 'a failover is still in progress';
  }
}
