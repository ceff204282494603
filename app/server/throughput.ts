/**
 * Each flow's throughput from the log, bucket by bucket (10 ms by default), counted where a user
 * would count it: the messages the receiving guest got (its vNIC's `dma` rx frames that were
 * delivered: TCP segments with data, UDP datagrams to the flow's port) and, for a ping, the echo
 * replies its sender got back. Flow reports come once a virtual second: too coarse to show a
 * failover or a vMotion, and a ping's sender counts the requests it sent, not what came back.
 *
 * The log is read once, forward, as it grows: each delivery is kept as its arrival time under a
 * key (protocol, source, destination, port), and a request picks the keys of the flows it charts.
 */
import type { EventLogReader } from '../../processes/controller/log/reader.js';
import { guestFrameOf } from '../../processes/controller/frame-protocol.js';
import { tryDecodeFrame } from '../../shared/net/frame.js';
import type { ClusterState } from '../../shared/state/cluster-state.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { CoresResponse, ThroughputResponse } from '../common/protocol.js';
import { decodePayload } from './event-json.js';

/** Most buckets one answer holds per flow: older ones are left out (the chart shows the recent past). */
export const MAX_BUCKETS = 20_000;

function deliveryKey(protocol: string, src: string, dst: string, port: number | null): string {
  return `${protocol}|${src}|${dst}|${port ?? ''}`;
}

/** The address a `10.0.1.11/24` interface answers to. */
function address(cidr: string): string {
  return cidr.split('/')[0] ?? cidr;
}

/** Deliveries to guests, read from a log as it grows. */
export class FlowDeliveries {
  private readonly arrivals = new Map<string, number[]>();
  private readSeq = 0;
  private readonly vmAddresses: Map<string, string[]>;

  constructor(
    private readonly reader: EventLogReader,
    topology: ResolvedTopology,
  ) {
    this.vmAddresses = new Map(topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.map((vm) => [vm.id, vm.vnics.flatMap((v) => [address(v.ipv4), ...(v.ipv6 ? [address(v.ipv6)] : [])])] as [string, string[]]) : [])));
  }

  /** Reads the frames recorded since the last call. */
  private catchUp(): void {
    const total = this.reader.count();
    if (total <= this.readSeq) return;
    for (const e of this.reader.events({ kinds: ['frame.tx'], fromSeq: this.readSeq, toSeq: total })) this.take(decodePayload(e.payload) as Record<string, unknown>);
    this.readSeq = total;
  }

  private take(p: Record<string, unknown>): void {
    if (p.channel !== 'dma' || p.fate === 'lost' || !(p.bytes instanceof Uint8Array) || typeof p.arrival !== 'number') return;
    const guest = guestFrameOf(p.channel, p.bytes);
    if (guest?.op !== 'rx') return;
    const decoded = tryDecodeFrame(guest.frame, { verifyChecksums: false });
    if (!decoded.ok) return;
    const frame = decoded.frame;
    const ip = frame.ipv4 ?? frame.ipv6;
    if (!ip) return;
    let key: string | null = null;
    if (frame.tcp && frame.tcp.payload.length > 0) key = deliveryKey('tcp', ip.src, ip.dst, frame.tcp.dstPort);
    else if (frame.udp) key = deliveryKey('udp', ip.src, ip.dst, frame.udp.dstPort);
    else if (frame.icmp?.kind === 'echo-reply' || frame.icmpv6?.kind === 'echo-reply') key = deliveryKey('reply', ip.src, ip.dst, null);
    if (key === null) return;
    let list = this.arrivals.get(key);
    if (!list) this.arrivals.set(key, (list = []));
    list.push(p.arrival);
  }

  /** The arrival times that count for a flow: what its receiver got, or a ping's replies. */
  private arrivalsOf(kind: string, vm: string, to: string, port: number | null): number[] {
    const out: number[] = [];
    for (const src of this.vmAddresses.get(vm) ?? []) {
      const key = kind === 'ping' ? deliveryKey('reply', to, src, null) : deliveryKey(kind, src, to, port);
      out.push(...(this.arrivals.get(key) ?? []));
    }
    return out;
  }

  /**
   * Every flow of `state` in buckets of `bucketNs` up to the state's time: messages per virtual
   * second in each bucket, zero where nothing arrived, from the flow's start to its stop.
   */
  series(state: ClusterState, bucketNs: number): ThroughputResponse {
    this.catchUp();
    const untilNs = state.vtime;
    const lastBucket = Math.floor(untilNs / bucketNs);
    const perSecond = 1e9 / bucketNs;
    const flows = Object.values(state.flows)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((flow) => {
        const counts = new Map<number, number>();
        for (const at of this.arrivalsOf(flow.kind, flow.vm, flow.to, flow.port)) {
          if (at > untilNs) continue;
          const bucket = Math.floor(at / bucketNs);
          counts.set(bucket, (counts.get(bucket) ?? 0) + 1);
        }
        const end = flow.stoppedAt === null ? lastBucket : Math.min(lastBucket, Math.floor(flow.stoppedAt / bucketNs) + 1);
        const first = Math.max(Math.floor(flow.startedAt / bucketNs), end - MAX_BUCKETS + 1);
        const points: Array<[number, number]> = [];
        for (let b = first; b <= end; b++) points.push([b * bucketNs, (counts.get(b) ?? 0) * perSecond]);
        return { id: flow.id, kind: flow.kind, measure: flow.kind === 'ping' ? ('replies' as const) : ('delivered' as const), points };
      });
    return { bucketNs, untilNs, flows };
  }
}

/** The cores each node reported at the end of its run (`cost.report`), as far as the state has them. */
export function reportedCores(state: ClusterState): CoresResponse {
  const nodes = Object.entries(state.costs)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([node, c]) => ({ node, coreType: c.coreType, coresUsed: c.coresUsed, source: 'report' as const }));
  return { vtime: state.vtime, nodes };
}
