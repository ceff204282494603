import type { VTime } from '../../shared/events.js';
import type { HostNode, ResolvedTopology } from '../../shared/topology/types.js';
import { HOST_MGMT_IP } from '../pcie/heartbeat.js';
import { dpuMgmtIp } from '../pcie/mgmt-network.js';
import { buildHaHeartbeat, type DpuRole, type HaHeartbeat } from '../pcie/ha-heartbeat.js';
import type { NodeContext } from '../runtime/types.js';

/** DPU states as vSphere reports them. */
export type DpuState = 'MANAGED' | 'UNAVAILABLE' | 'UNMANAGED' | 'UNUSED' | 'INVALID';

interface DpuLink {
  readonly dpu: string;
  /** The DPU's address on the private management network. */
  readonly ip: string;
  /** The host's port towards this DPU, and the DPU's pcie port MAC. */
  readonly hostMac: string;
  readonly dpuMac: string;
  seq: number;
  answeredSeq: number;
  misses: number;
  state: DpuState;
  lastRttNs: VTime | null;
  sentAt: VTime;
}

/**
 * The host's DPU heartbeat agent: every interval it sends a request to each DPU over the pcie
 * management channel; a request still unanswered when the next one is due is a miss, and after
 * `misses` in a row the DPU is UNAVAILABLE. Records `dpu.state` on every state change and
 * `dpu.heartbeat.miss` for each miss.
 */
/** What the host's HA manager tells the heartbeat agent, and hears from it. */
export interface HeartbeatHooks {
  /** The role the host gives a DPU, carried in every request. */
  readonly roleOf: (dpu: string) => DpuRole | null;
  /** Called on every change of a DPU's state. */
  readonly onState?: (ctx: NodeContext, dpu: string, state: DpuState) => void;
}

export class HeartbeatAgent {
  private readonly links = new Map<string, DpuLink>();
  private readonly intervalNs: VTime;
  private readonly missLimit: number;
  /** Whether a pcie link going down is the DPU's failure at once (the host's `pcieSurpriseDown`). */
  private readonly surpriseDown: boolean;

  constructor(
    host: HostNode,
    topology: ResolvedTopology,
    private readonly hooks: HeartbeatHooks,
  ) {
    this.intervalNs = host.spec.heartbeat.intervalNs;
    this.missLimit = host.spec.heartbeat.misses;
    this.surpriseDown = host.spec.pcieSurpriseDown;
    for (const dpuId of host.spec.dpus) {
      const dpu = topology.nodes.find((n) => n.id === dpuId);
      if (!dpu || dpu.kind !== 'dpu') continue;
      this.links.set(dpuId, {
        dpu: dpuId,
        ip: dpuMgmtIp(topology, dpuId),
        hostMac: host.ports.find((p) => p.name === dpuId)!.mac,
        dpuMac: dpu.ports.find((p) => p.name === 'pcie')!.mac,
        seq: 0,
        answeredSeq: 0,
        misses: 0,
        state: 'MANAGED',
        lastRttNs: null,
        sentAt: 0,
      });
    }
  }

  start(ctx: NodeContext): void {
    for (const link of this.links.values()) {
      ctx.emit('dpu.state', { dpu: link.dpu, state: link.state, role: this.hooks.roleOf(link.dpu), reason: 'boot' });
      // Spread the first beats so that the DPUs of a host are not probed in lock-step.
      ctx.setTimer(Math.floor(ctx.random() * this.intervalNs), 'hb.tick', link.dpu);
    }
  }

  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (name !== 'hb.tick') return false;
    const link = this.links.get(data as string);
    if (!link) return true;
    if (link.seq > link.answeredSeq) {
      link.misses++;
      // Past the limit the DPU is already UNAVAILABLE: keep probing, stop repeating the news.
      if (link.misses <= this.missLimit) ctx.emit('dpu.heartbeat.miss', { dpu: link.dpu, seq: link.seq, misses: link.misses });
      // A DPU already UNAVAILABLE (its pcie link dropped before the misses ran out) stays so quietly.
      if (link.misses === this.missLimit && link.state !== 'UNAVAILABLE') this.setState(ctx, link, 'UNAVAILABLE', 'heartbeat-lost');
    }
    this.probe(ctx, link.dpu);
    ctx.setTimer(this.intervalNs, 'hb.tick', link.dpu);
    return true;
  }

  /**
   * Sends a request now, outside the interval: after a failover the new active learns its role
   * from it before anything else the host sends it on the same wire.
   */
  probe(ctx: NodeContext, dpu: string): void {
    const link = this.links.get(dpu);
    if (!link) return;
    link.seq++;
    link.sentAt = ctx.now();
    const request: HaHeartbeat = { type: 'request', seq: link.seq, role: this.hooks.roleOf(link.dpu), uplinksDown: false, synced: false, epoch: null };
    ctx.send(link.dpu, buildHaHeartbeat({ mac: link.hostMac, ip: HOST_MGMT_IP }, { mac: link.dpuMac, ip: link.ip }, request), 'mgmt');
  }

  /**
   * The host's pcie port towards a DPU lost its link (a PCIe surprise-down): the host sees the
   * device vanish at once, without waiting for heartbeats to miss, so the DPU is UNAVAILABLE now.
   * When the link returns, the DPU's next answered heartbeat makes it MANAGED again. A host whose
   * `pcieSurpriseDown` is off ignores the link and waits for the heartbeats to miss. False when
   * `port` is no DPU of this host.
   */
  onLinkDown(ctx: NodeContext, port: string): boolean {
    const link = this.links.get(port);
    if (!link) return false;
    if (!this.surpriseDown) return true;
    if (link.state !== 'UNAVAILABLE') this.setState(ctx, link, 'UNAVAILABLE', 'pcie-surprise-down');
    return true;
  }

  /** A heartbeat reply from the DPU on `port` (the host names its pcie ports after its DPUs). */
  onReply(ctx: NodeContext, port: string, beat: HaHeartbeat): void {
    const link = this.links.get(port);
    if (!link || beat.type !== 'reply' || beat.seq !== link.seq) return;
    link.answeredSeq = beat.seq;
    link.lastRttNs = ctx.now() - link.sentAt;
    link.misses = 0;
    if (link.state === 'UNAVAILABLE') this.setState(ctx, link, 'MANAGED', 'heartbeat-restored');
  }

  private setState(ctx: NodeContext, link: DpuLink, state: DpuState, reason: string): void {
    link.state = state;
    ctx.emit('dpu.state', { dpu: link.dpu, state, role: this.hooks.roleOf(link.dpu), reason });
    this.hooks.onState?.(ctx, link.dpu, state);
  }

  /** Per-DPU heartbeat status, sorted by DPU, for inspectors. */
  table(): unknown[] {
    return [...this.links.values()]
      .sort((a, b) => (a.dpu < b.dpu ? -1 : 1))
      .map((l) => ({ dpu: l.dpu, role: this.hooks.roleOf(l.dpu), state: l.state, seq: l.seq, misses: l.misses, lastRttNs: l.lastRttNs }));
  }
}
