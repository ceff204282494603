/**
 * A DPU's side of high availability, in one place for the DPU core: it answers the host's
 * heartbeats (version 2: it learns from each request which role the host gives it, and reports its
 * own role, whether its uplinks are all down, whether its state is in sync, and its boot epoch),
 * reports uplink loss at once (`status`), and runs the state sync with its peer: as active, a
 * `SyncSender` fed every `flushNs` with what changed (`ChangeTracker` over the datapath's
 * capture); as standby, a `SyncReceiver` filling a `SyncReplica`.
 *
 * Roles change only on the host's word. Becoming active, the DPU commits its replica and takes the
 * host's vNICs (the datapath's `promote` hook) and starts a new sender session. Becoming standby,
 * it gives the vNICs up (`demote`) and asks the active for a snapshot; a standby that sees a new
 * session (another DPU took over) asks again. A DPU that boots after the start of the run (a
 * restart) has no role until the host's first heartbeat names one: it must not serve vNICs another
 * DPU took over meanwhile.
 */
import type { VTime } from '../../../shared/events.js';
import { decodeEthernet } from '../../../shared/net/ethernet.js';
import type { ResolvedTopology } from '../../../shared/topology/types.js';
import { DPU_MGMT_IP, HOST_MGMT_IP } from '../../pcie/heartbeat.js';
import type { NodeContext } from '../../runtime/types.js';
import { bootEpoch, buildHaHeartbeat, parseHaHeartbeat } from '../../pcie/ha-heartbeat.js';
import type { DpuRole, HaHeartbeat } from '../../pcie/ha-heartbeat.js';
import { ChangeTracker } from './change-tracker.js';
import type { ChangeTrackerOptions, HaStateView } from './change-tracker.js';
import { HaSetupError } from './errors.js';
import { dpuMgmtEndpoint, haPeerOf } from '../../pcie/mgmt-network.js';
import type { MgmtEndpoint } from '../../pcie/mgmt-network.js';
import { SyncReplica } from './replica.js';
import { buildSyncFrame } from './sync-messages.js';
import type { SyncMessage } from './sync-messages.js';
import { HA_SYNC_TIMER_PREFIX, SyncReceiver, SyncSender } from './state-sync.js';
import type { SyncReceiverOptions, SyncSenderOptions, SyncSenderView, SyncReceiverView } from './state-sync.js';

/** A DPU's HA role: the host's two, or none yet (after a restart, until the host says). */
export type DpuHaRole = DpuRole | 'pending';

/** Why the datapath is asked to take the vNICs: the run starts with this DPU active, or it takes over. */
export type PromoteReason = 'boot' | 'takeover';

/** What the agent needs from the DPU's datapath. */
export interface HaDatapathHooks {
  /** The active's replicated state now (`captureState` over its firewall, switch and vNICs). */
  capture(now: VTime): HaStateView;
  /**
   * This DPU becomes active: commit `replica` into the firewall (`commitReplica`), admit the host's
   * vNICs into the VF endpoint, the switch and the firewall, announce them. The replica is empty at boot.
   */
  promote(ctx: NodeContext, replica: SyncReplica, reason: PromoteReason): void;
  /** This DPU becomes standby: evict the host's vNICs from the VF endpoint, the switch and the firewall. */
  demote(ctx: NodeContext): void;
  /**
   * The standby's replica took records from the active: install its rule set into the firewall
   * when newer (`installReplicatedRules`), so a standby that missed pushes while down catches up.
   */
  replicated(ctx: NodeContext, replica: SyncReplica): void;
}

/** How an agent is built. */
export interface DpuHaAgentOptions {
  readonly topology: ResolvedTopology;
  readonly dpu: string;
  readonly hooks: HaDatapathHooks;
  /** How often the active sends what changed (default 10 ms). */
  readonly flushNs?: VTime;
  /** The DPU's port towards its host (default `pcie`). */
  readonly port?: string;
  readonly sender?: Omit<SyncSenderOptions, 'transmit' | 'session'>;
  readonly receiver?: Omit<SyncReceiverOptions, 'transmit'>;
  readonly tracker?: ChangeTrackerOptions;
}

/** The agent's state for inspectors. */
export interface DpuHaAgentView {
  dpu: string;
  role: DpuHaRole;
  peer: string | null;
  epoch: number;
  uplinksDown: boolean;
  synced: boolean;
  sender: SyncSenderView | null;
  receiver: SyncReceiverView | null;
  replica: ReturnType<SyncReplica['counts']> | null;
}

/** The periodic flush of the active's changes. */
export const HA_FLUSH_TIMER = 'ha.flush';

/** The DPU's HA agent: heartbeat answers, role, uplink reports and state sync. */
export class DpuHaAgent {
  readonly dpu: string;
  /** The other DPU of the pair, null when the host has no standby. */
  readonly peer: string | null;
  private readonly hooks: HaDatapathHooks;
  private readonly flushNs: VTime;
  private readonly port: string;
  private readonly specRole: DpuRole;
  private readonly self: MgmtEndpoint;
  private readonly peerEndpoint: MgmtEndpoint | null;
  private readonly hostMac: string;
  private readonly options: DpuHaAgentOptions;
  private roleNow: DpuHaRole = 'pending';
  private epoch = 0;
  private uplinksDown = false;
  private statusSeq = 0;
  private sender: SyncSender | null = null;
  private tracker: ChangeTracker | null = null;
  private receiver: SyncReceiver | null = null;
  private replica = new SyncReplica();
  private flushTimer: number | null = null;
  /** When the sender's resend queue overflowed (it needs a snapshot), null when it did not. */
  private overflowAt: VTime | null = null;
  /** The last time the peer said anything on the sync channel. */
  private peerHeardAt: VTime | null = null;

  constructor(options: DpuHaAgentOptions) {
    this.options = options;
    this.dpu = options.dpu;
    this.hooks = options.hooks;
    this.flushNs = options.flushNs ?? 10_000_000;
    if (!Number.isSafeInteger(this.flushNs) || this.flushNs < 1) throw new HaSetupError('bad-option', `flushNs must be a positive integer, not ${this.flushNs}`);
    this.port = options.port ?? 'pcie';
    const node = options.topology.nodes.find((n) => n.id === options.dpu);
    if (node?.kind !== 'dpu') throw new HaSetupError('unknown-dpu', `No DPU ${options.dpu} in topology ${options.topology.name}`);
    this.specRole = node.spec.role;
    this.self = dpuMgmtEndpoint(options.topology, options.dpu);
    this.peer = haPeerOf(options.topology, options.dpu);
    this.peerEndpoint = this.peer === null ? null : dpuMgmtEndpoint(options.topology, this.peer);
    const host = options.topology.nodes.find((n) => n.id === node.spec.host);
    this.hostMac = host?.ports.find((p) => p.name === options.dpu)?.mac ?? '00:00:00:00:00:00';
  }

  /** The role this DPU runs now. */
  get role(): DpuHaRole {
    return this.roleNow;
  }

  /** The standby's replica (empty on the active). */
  get replicaNow(): SyncReplica {
    return this.replica;
  }

  /**
   * The DPU boots. At the start of the run it takes the role of the host's policy; later (a
   * restart) it waits for the host's heartbeat to name one.
   */
  boot(ctx: NodeContext): void {
    this.epoch = bootEpoch(ctx.now());
    if (ctx.now() === 0) this.setRole(ctx, this.specRole, 'policy');
    else ctx.emit('ha.role', { dpu: this.dpu, from: null, to: 'pending', reason: 'restart' });
  }

  /**
   * A frame on the management channel: a heartbeat request (answered; its role applied) or a state
   * sync message. Returns false for anything else, which stays the caller's. Throws FrameError for
   * a frame that does not decode, for the caller's malformed-frame counter.
   */
  onMgmtFrame(ctx: NodeContext, bytes: Uint8Array): boolean {
    const beat = parseHaHeartbeat(bytes);
    if (beat !== null) {
      if (beat.type !== 'request') return true;
      this.onRequest(ctx, beat, decodeEthernet(bytes).src);
      return true;
    }
    if (this.roleNow === 'active' && this.sender !== null) {
      const outcome = this.sender.onFrame(ctx, bytes);
      if (outcome === null) return false;
      this.peerHeardAt = ctx.now();
      if (outcome.bulkRequested) this.sendSnapshot(ctx);
      return true;
    }
    if (this.roleNow === 'standby' && this.receiver !== null) {
      const records = this.receiver.onFrame(ctx, bytes);
      if (records === null) return false;
      this.replica.apply(records, ctx.now());
      if (records.length > 0) this.hooks.replicated(ctx, this.replica);
      return true;
    }
    return false;
  }

  /** The agent's timers (the flush and the sync ends'); false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string): boolean {
    if (name === HA_FLUSH_TIMER) {
      this.flushTimer = null;
      this.flush(ctx);
      if (this.roleNow === 'active') this.flushTimer = ctx.setTimer(this.flushNs, HA_FLUSH_TIMER);
      return true;
    }
    if (!name.startsWith(HA_SYNC_TIMER_PREFIX)) return false;
    this.sender?.onTimer(ctx, name);
    this.receiver?.onTimer(ctx, name);
    return true;
  }

  /**
   * The DPU's uplinks changed: when all are down (or one is back after all were), the host is told
   * at once with a `status` heartbeat; later replies carry the same flag.
   */
  onUplinks(ctx: NodeContext, allDown: boolean): void {
    if (allDown === this.uplinksDown) return;
    this.uplinksDown = allDown;
    ctx.emit('ha.uplinks', { dpu: this.dpu, allDown });
    this.statusSeq++;
    this.reply(ctx, { mac: this.hostMac, ip: HOST_MGMT_IP }, { type: 'status', seq: this.statusSeq, role: this.announcedRole(), uplinksDown: allDown, synced: this.synced(), epoch: this.epoch });
  }

  /** Whether this DPU's HA state is in sync: a standby's replica complete, an active's changes all acknowledged. */
  synced(): boolean {
    if (this.roleNow === 'standby') return this.receiver?.inSync() ?? false;
    if (this.roleNow === 'active') return this.sender !== null && this.sender.unacked === 0 && !this.sender.needsBulk;
    return false;
  }

  inspect(): DpuHaAgentView {
    return {
      dpu: this.dpu,
      role: this.roleNow,
      peer: this.peer,
      epoch: this.epoch,
      uplinksDown: this.uplinksDown,
      synced: this.synced(),
      sender: this.sender?.inspect() ?? null,
      receiver: this.receiver?.inspect() ?? null,
      replica: this.roleNow === 'standby' ? this.replica.counts() : null,
    };
  }

  // -------------------------------------------------------------------------------------------

  private onRequest(ctx: NodeContext, beat: HaHeartbeat, hostMac: string): void {
    // A host that does not name roles (version 1) leaves the policy's.
    const told = beat.role ?? (this.roleNow === 'pending' ? this.specRole : null);
    if (told !== null && told !== this.roleNow) this.setRole(ctx, told, 'host');
    this.reply(ctx, { mac: hostMac, ip: HOST_MGMT_IP }, { type: 'reply', seq: beat.seq, role: this.announcedRole(), uplinksDown: this.uplinksDown, synced: this.synced(), epoch: this.epoch });
  }

  private announcedRole(): DpuRole | null {
    return this.roleNow === 'pending' ? null : this.roleNow;
  }

  private reply(ctx: NodeContext, to: { mac: string; ip: string }, beat: HaHeartbeat): void {
    ctx.send(this.port, buildHaHeartbeat({ mac: this.self.mac, ip: DPU_MGMT_IP }, to, beat), 'mgmt');
  }

  private setRole(ctx: NodeContext, to: DpuRole, reason: 'policy' | 'host'): void {
    const from = this.roleNow;
    if (from === 'active') {
      this.sender?.stop(ctx);
      this.sender = null;
      this.tracker = null;
      if (this.flushTimer !== null) ctx.cancelTimer(this.flushTimer);
      this.flushTimer = null;
      this.hooks.demote(ctx);
    }
    if (from === 'standby') {
      this.receiver?.stop(ctx);
      this.receiver = null;
    }
    this.roleNow = to;
    ctx.emit('ha.role', { dpu: this.dpu, from: from === 'pending' && reason === 'policy' ? null : from, to, reason });
    if (to === 'active') {
      this.hooks.promote(ctx, this.replica, reason === 'policy' ? 'boot' : 'takeover');
      this.replica = new SyncReplica();
      if (this.peerEndpoint === null) return;
      this.sender = new SyncSender({ ...this.options.sender, transmit: (c, m) => this.transmit(c, m) });
      this.tracker = new ChangeTracker(this.options.tracker);
      this.overflowAt = null;
      this.peerHeardAt = null;
      // No snapshot yet: the standby asks for one when it joins, and a standby that outlived the
      // previous active sees the new session in the first update and asks then.
      this.flushTimer = ctx.setTimer(this.flushNs, HA_FLUSH_TIMER);
      return;
    }
    this.replica = new SyncReplica();
    if (this.peerEndpoint === null) return;
    this.receiver = new SyncReceiver({ ...this.options.receiver, transmit: (c, m) => this.transmit(c, m) });
    this.receiver.request(ctx, 'join');
  }

  /** The active's periodic step: what changed goes out, unless the standby must first get a snapshot. */
  private flush(ctx: NodeContext): void {
    const sender = this.sender;
    const tracker = this.tracker;
    if (this.roleNow !== 'active' || sender === null || tracker === null) return;
    if (sender.needsBulk) {
      this.overflowAt ??= ctx.now();
      // Only once the standby is heard from again: a snapshot into silence would overflow again.
      if (this.peerHeardAt !== null && this.peerHeardAt >= this.overflowAt) this.sendSnapshot(ctx);
      return;
    }
    sender.queue(tracker.changes(this.hooks.capture(ctx.now()), ctx.now()));
    sender.flush(ctx);
  }

  private sendSnapshot(ctx: NodeContext): void {
    if (this.sender === null || this.tracker === null) return;
    this.overflowAt = null;
    this.sender.bulk(ctx, this.tracker.snapshot(this.hooks.capture(ctx.now()), ctx.now()));
  }

  private transmit(ctx: NodeContext, message: SyncMessage): void {
    if (this.peerEndpoint === null) return;
    ctx.send(this.port, buildSyncFrame(this.self, this.peerEndpoint, message), 'mgmt');
  }
}
