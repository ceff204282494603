import type { VTime } from '../../../shared/events.js';
import { ipFamily } from '../../../shared/net/ip.js';
import type { IpFamily } from '../../../shared/net/ip.js';
import { FLOW_END_REASON } from '../../../shared/net/ipfix.js';
import { IpfixOptionError } from './errors.js';

/** What tells one flow from another: the IP 5-tuple (ports 0 for protocols without ports). */
export interface FlowKey {
  /** Canonical address text (`shared/net` formatting); both of the same family. */
  readonly srcIp: string;
  readonly dstIp: string;
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6). */
  readonly protocol: number;
  readonly srcPort: number;
  readonly dstPort: number;
}

/**
 * The interfaces a flow crossed, as IPFIX `ingressInterface` / `egressInterface` indices. They
 * are part of the flow's identity: the same 5-tuple on another interface is another flow.
 */
export interface FlowInterfaces {
  readonly ingress: number;
  readonly egress: number;
}

/**
 * What the distributed firewall did with a flow's packets: `forwarded` (allowed and switched on)
 * or `denied` (dropped or rejected by a rule). Part of the flow's identity, so a 5-tuple that a
 * rule change turns from allowed to denied opens a record of its own; exported as firewallEvent.
 */
export type FlowVerdict = 'forwarded' | 'denied';

/** Why a flow record was closed (IPFIX flowEndReason). */
export type FlowEndReason = 'idle-timeout' | 'active-timeout' | 'forced-end' | 'lack-of-resources';

/** The flowEndReason code of each reason. */
export const FLOW_END_REASON_CODES: Readonly<Record<FlowEndReason, number>> = {
  'idle-timeout': FLOW_END_REASON.idleTimeout,
  'active-timeout': FLOW_END_REASON.activeTimeout,
  'forced-end': FLOW_END_REASON.forcedEnd,
  'lack-of-resources': FLOW_END_REASON.lackOfResources,
};

/** A closed flow record, ready for export. Plain data. */
export interface FlowRecord extends FlowKey, FlowInterfaces {
  readonly family: IpFamily;
  /** IP bytes (headers included) and packets seen since the record opened. */
  readonly octets: number;
  readonly packets: number;
  /** Virtual times of the first and the last packet of the record. */
  readonly startNs: VTime;
  readonly endNs: VTime;
  readonly endReason: FlowEndReason;
  readonly verdict: FlowVerdict;
}

/** Timeouts and size of a flow cache. */
export interface FlowCacheOptions {
  /** A flow still active after this long is exported and starts a new record; default 10 s. */
  readonly activeTimeoutNs?: VTime;
  /** A flow with no packet for this long is exported and forgotten; default 2 s. */
  readonly idleTimeoutNs?: VTime;
  /** Open flows at most; a new flow beyond it closes the least recently seen one. Default 65536. */
  readonly maxFlows?: number;
}

/** The default active timeout: 10 s of virtual time. */
export const DEFAULT_ACTIVE_TIMEOUT_NS: VTime = 10_000_000_000;
/** The default idle timeout: 2 s of virtual time. */
export const DEFAULT_IDLE_TIMEOUT_NS: VTime = 2_000_000_000;
/** The default number of open flows. */
export const DEFAULT_MAX_FLOWS = 65_536;

interface OpenFlow {
  readonly id: string;
  readonly key: FlowKey;
  readonly interfaces: FlowInterfaces;
  readonly verdict: FlowVerdict;
  readonly family: IpFamily;
  octets: number;
  packets: number;
  readonly startNs: VTime;
  lastNs: VTime;
}

function flowId(key: FlowKey, interfaces: FlowInterfaces, verdict: FlowVerdict): string {
  return `${key.srcIp}|${key.dstIp}|${key.protocol}|${key.srcPort}|${key.dstPort}|${interfaces.ingress}|${interfaces.egress}|${verdict}`;
}

/** Records in export order: by first packet, then by flow identity (code-unit order). */
function byStart(a: { startNs: VTime; id: string }, b: { startNs: VTime; id: string }): number {
  return a.startNs - b.startNs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * The DPU's flow cache, as an IPFIX metering process keeps one: packets are counted per flow, and
 * flows are closed into records by the active timeout (long flows are reported periodically), the
 * idle timeout (finished flows), a forced end (the run ends) or a full cache. Time only moves
 * when the owner calls `observe` or `expire`; nothing here sets timers (`nextExpiry` says when
 * to call `expire` next). Output order never depends on packet arrival order across flows.
 */
export class FlowCache {
  readonly activeTimeoutNs: VTime;
  readonly idleTimeoutNs: VTime;
  readonly maxFlows: number;
  private readonly flows = new Map<string, OpenFlow>();
  /** Records closed by `observe` (an expired flow seen again, a full cache), handed out by `expire`. */
  private closed: Array<FlowRecord & { id: string }> = [];

  /** @throws IpfixOptionError for a timeout or size that is not a positive integer */
  constructor(options: FlowCacheOptions = {}) {
    this.activeTimeoutNs = options.activeTimeoutNs ?? DEFAULT_ACTIVE_TIMEOUT_NS;
    this.idleTimeoutNs = options.idleTimeoutNs ?? DEFAULT_IDLE_TIMEOUT_NS;
    this.maxFlows = options.maxFlows ?? DEFAULT_MAX_FLOWS;
    for (const [name, value] of [['activeTimeoutNs', this.activeTimeoutNs], ['idleTimeoutNs', this.idleTimeoutNs], ['maxFlows', this.maxFlows]] as const) {
      if (!Number.isSafeInteger(value) || value < 1) throw new IpfixOptionError(name, `Flow cache ${name} is ${String(value)}, expected a positive integer`);
    }
  }

  /** Open flows. */
  get size(): number {
    return this.flows.size;
  }

  /**
   * Counts one packet of `bytes` IP bytes (the IP total length: headers included, no link-layer
   * header or padding) of the flow `key` crossing `interfaces` at `now`, which the firewall
   * forwarded or denied (`verdict`). A flow whose record has timed out by `now` is closed first,
   * and the packet opens a new record.
   */
  observe(now: VTime, key: FlowKey, bytes: number, interfaces: FlowInterfaces, verdict: FlowVerdict = 'forwarded'): void {
    const id = flowId(key, interfaces, verdict);
    let flow = this.flows.get(id);
    if (flow) {
      const reason = this.timedOut(flow, now);
      if (reason) {
        this.close(flow, reason);
        flow = undefined;
      }
    }
    if (!flow) {
      if (this.flows.size >= this.maxFlows) this.evictOldest();
      flow = { id, key: { ...key }, interfaces: { ...interfaces }, verdict, family: ipFamily(key.srcIp), octets: 0, packets: 0, startNs: now, lastNs: now };
      this.flows.set(id, flow);
    }
    flow.octets += bytes;
    flow.packets += 1;
    flow.lastNs = now;
  }

  /** Closes every flow that has timed out by `now`; returns all records closed since the last call, in export order. */
  expire(now: VTime): FlowRecord[] {
    for (const flow of this.sortedFlows()) {
      const reason = this.timedOut(flow, now);
      if (reason) this.close(flow, reason);
    }
    return this.takeClosed();
  }

  /** Closes every open flow with a forced end (the exporter stops, the run ends). */
  flush(): FlowRecord[] {
    for (const flow of this.sortedFlows()) this.close(flow, 'forced-end');
    return this.takeClosed();
  }

  /** The earliest time a flow times out, or null when no flow is open and nothing waits for export. */
  nextExpiry(): VTime | null {
    let next: VTime | null = null;
    for (const flow of this.flows.values()) {
      const at = Math.min(flow.lastNs + this.idleTimeoutNs, flow.startNs + this.activeTimeoutNs);
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /** Open flows, for inspectors: sorted, plain data. */
  openFlows(): Array<FlowKey & FlowInterfaces & { verdict: FlowVerdict; octets: number; packets: number; startNs: VTime; lastNs: VTime }> {
    return this.sortedFlows().map((f) => ({ ...f.key, ...f.interfaces, verdict: f.verdict, octets: f.octets, packets: f.packets, startNs: f.startNs, lastNs: f.lastNs }));
  }

  private timedOut(flow: OpenFlow, now: VTime): FlowEndReason | null {
    if (now - flow.lastNs >= this.idleTimeoutNs) return 'idle-timeout';
    if (now - flow.startNs >= this.activeTimeoutNs) return 'active-timeout';
    return null;
  }

  private sortedFlows(): OpenFlow[] {
    return [...this.flows.values()].sort(byStart);
  }

  private close(flow: OpenFlow, endReason: FlowEndReason): void {
    this.flows.delete(flow.id);
    this.closed.push({
      id: flow.id,
      ...flow.key,
      ...flow.interfaces,
      family: flow.family,
      octets: flow.octets,
      packets: flow.packets,
      startNs: flow.startNs,
      endNs: flow.lastNs,
      endReason,
      verdict: flow.verdict,
    });
  }

  private evictOldest(): void {
    let oldest: OpenFlow | undefined;
    for (const flow of this.flows.values()) {
      if (!oldest || flow.lastNs < oldest.lastNs || (flow.lastNs === oldest.lastNs && flow.id < oldest.id)) oldest = flow;
    }
    if (oldest) this.close(oldest, 'lack-of-resources');
  }

  private takeClosed(): FlowRecord[] {
    const records = this.closed.sort(byStart).map(({ id: _id, ...record }) => record);
    this.closed = [];
    return records;
  }
}
