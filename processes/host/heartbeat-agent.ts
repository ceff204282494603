import type { VTime } from '../../shared/events.js';
import type { HostNode, ResolvedTopology } from '../../shared/topology/types.js';
import { buildHeartbeat, DPU_MGMT_IP, HOST_MGMT_IP, type Heartbeat } from '../common/heartbeat.js';
import type { NodeContext } from '../runtime/types.js';

/** DPU states as vSphere reports them. */
export type DpuState = 'MANAGED' | 'UNAVAILABLE' | 'UNMANAGED' | 'UNUSED' | 'INVALID';

interface DpuLink {
  readonly dpu: string;
  readonly role: 'active' | 'standby';
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
export class HeartbeatAgent {
  private readonly links = new Map<string, DpuLink>();
  private readonly intervalNs: VTime;
  private readonly missLimit: number;

  constructor(host: HostNode, topology: ResolvedTopology) {
    this.intervalNs = host.spec.heartbeat.intervalNs;
    this.missLimit = host.spec.heartbeat.misses;
    for (const dpuId of host.spec.dpus) {
      const dpu = topology.nodes.find((n) => n.id === dpuId);
      if (!dpu || dpu.kind !== 'dpu') continue;
      this.links.set(dpuId, {
        dpu: dpuId,
        role: dpu.spec.role,
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
      ctx.emit('dpu.state', { dpu: link.dpu, state: link.state, role: link.role, reason: 'boot' });
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
      if (link.misses === this.missLimit) this.setState(ctx, link, 'UNAVAILABLE', 'heartbeat-lost');
    }
    link.seq++;
    link.sentAt = ctx.now();
    ctx.send(link.dpu, buildHeartbeat({ mac: link.hostMac, ip: HOST_MGMT_IP }, { mac: link.dpuMac, ip: DPU_MGMT_IP }, { type: 'request', seq: link.seq }), 'mgmt');
    ctx.setTimer(this.intervalNs, 'hb.tick', link.dpu);
    return true;
  }

  /** A heartbeat reply from the DPU on `port` (the host names its pcie ports after its DPUs). */
  onReply(ctx: NodeContext, port: string, beat: Heartbeat): void {
    const link = this.links.get(port);
    if (!link || beat.type !== 'reply' || beat.seq !== link.seq) return;
    link.answeredSeq = beat.seq;
    link.lastRttNs = ctx.now() - link.sentAt;
    link.misses = 0;
    if (link.state === 'UNAVAILABLE') this.setState(ctx, link, 'MANAGED', 'heartbeat-restored');
  }

  private setState(ctx: NodeContext, link: DpuLink, state: DpuState, reason: string): void {
    link.state = state;
    ctx.emit('dpu.state', { dpu: link.dpu, state, role: link.role, reason });
  }

  /** Per-DPU heartbeat status, sorted by DPU, for inspectors. */
  table(): unknown[] {
    return [...this.links.values()]
      .sort((a, b) => (a.dpu < b.dpu ? -1 : 1))
      .map((l) => ({ dpu: l.dpu, role: l.role, state: l.state, seq: l.seq, misses: l.misses, lastRttNs: l.lastRttNs }));
  }
}
