/**
 * Traceflow: one marked packet injected into a vNIC as if its guest sent it, and every point of
 * the cluster that sees it records a `traceflow.observe` event (the source host, the firewalls,
 * the distributed switches and their tunnels, the physical switches, the destination host).
 *
 * The mark lives in the packet's L4 payload (ICMP echo data, UDP data, TCP SYN data), so it
 * survives everything the datapath does to headers (routing rewrites MACs and the TTL, GENEVE
 * carries the inner frame whole). It names the trace itself, so any node can say which trace a
 * frame belongs to without a table:
 *
 *     "DPLTRACE" | u32 trace number | u8 id length | id (UTF-8)
 *
 * The trace number is the FNV-1a hash of the id: a frame whose payload merely starts with the
 * magic is not taken for a trace unless the number matches the id that follows.
 */
import { MAX_TRACE_ID_BYTES } from '../../shared/actions/schema.js';
import type { NodeActionArgs } from '../../shared/actions/node-actions.js';
import { CodedError } from '../../shared/errors.js';
import { readU32, utf8Decode, utf8Encode, writeU32 } from '../../shared/net/bytes.js';
import { buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame } from '../../shared/net/builders.js';
import { decodeFrame, innermostFrame } from '../../shared/net/frame.js';
import type { DecodedFrame } from '../../shared/net/frame.js';
import { fnv1a32 } from '../../shared/net/hash.js';
import type { TraceflowObservation, TraceflowPoint } from '../../shared/events/catalogue.js';
import { cidrContains, ipFamily, normalizeIp, parseCidr } from '../../shared/net/ip.js';
import type { IpAddress } from '../../shared/net/ip.js';
import { normalizeMac } from '../../shared/net/mac.js';
import type { MacAddress } from '../../shared/net/mac.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { SwitchAction } from './switching/actions.js';
import { ROUTER_MAC } from './switching/tep.js';
import type { NodeContext } from '../runtime/types.js';
import { allVnics } from './endpoints.js';

/** The event every observation point records. */
export const TRACEFLOW_EVENT = 'traceflow.observe' as const;

/** The eight bytes a mark starts with: ASCII `DPLTRACE`. */
export const TRACEFLOW_MAGIC: Uint8Array = utf8Encode('DPLTRACE');


/** Guest TTL (hop limit) of a traceflow packet, as a Linux guest sends. */
export const TRACEFLOW_TTL = 64;

/** Default TCP and UDP destination ports: the guests' always-on listeners. */
export const TRACEFLOW_DEFAULT_PORTS = { tcp: 5201, udp: 5202 } as const;

/** First port of the ephemeral range a traceflow's source port is taken from. */
const EPHEMERAL_FIRST = 49152;
const EPHEMERAL_COUNT = 16384;
const MARK_HEADER_BYTES = TRACEFLOW_MAGIC.length + 4 + 1;

/** Why a traceflow request or mark cannot be used. */
export type TraceflowErrorCode = 'bad-id' | 'unknown-vnic' | 'bad-destination';

/** A traceflow that cannot be built as asked: names what was wrong. */
export class TraceflowError extends CodedError<TraceflowErrorCode> {
  override readonly name = 'TraceflowError';
}

// ---------------------------------------------------------------- the mark

/** What a mark says: the trace's id and its number (the FNV-1a hash of the id). */
export interface TraceMark {
  readonly id: string;
  readonly number: number;
}

/** The trace number of an id: FNV-1a over its UTF-8 bytes. */
export function traceNumber(id: string): number {
  return fnv1a32(utf8Encode(id));
}

/** The mark bytes for a trace id: magic, number, length-prefixed id. Throws TraceflowError for an empty or too long id. */
export function encodeTraceMark(id: string): Uint8Array {
  const text = utf8Encode(id);
  if (text.length === 0 || text.length > MAX_TRACE_ID_BYTES) {
    throw new TraceflowError('bad-id', `Trace id must be 1 to ${MAX_TRACE_ID_BYTES} bytes of UTF-8, got ${text.length}`);
  }
  const out = new Uint8Array(MARK_HEADER_BYTES + text.length);
  out.set(TRACEFLOW_MAGIC, 0);
  writeU32(out, TRACEFLOW_MAGIC.length, fnv1a32(text));
  out[TRACEFLOW_MAGIC.length + 4] = text.length;
  out.set(text, MARK_HEADER_BYTES);
  return out;
}

/** The mark at the start of `payload`, or null when there is none (or its number does not match its id). */
export function decodeTraceMark(payload: Uint8Array): TraceMark | null {
  if (payload.length < MARK_HEADER_BYTES + 1) return null;
  for (let i = 0; i < TRACEFLOW_MAGIC.length; i++) if (payload[i] !== TRACEFLOW_MAGIC[i]) return null;
  const number = readU32(payload, TRACEFLOW_MAGIC.length);
  const length = payload[TRACEFLOW_MAGIC.length + 4]!;
  if (length === 0 || length > MAX_TRACE_ID_BYTES || payload.length < MARK_HEADER_BYTES + length) return null;
  const text = payload.subarray(MARK_HEADER_BYTES, MARK_HEADER_BYTES + length);
  if (fnv1a32(text) !== number) return null;
  return { id: utf8Decode(text), number };
}

/** Whether the magic occurs anywhere in `bytes`: a cheap test before decoding a frame. */
function containsMagic(bytes: Uint8Array): boolean {
  const first = TRACEFLOW_MAGIC[0]!;
  const last = bytes.length - TRACEFLOW_MAGIC.length;
  for (let i = bytes.indexOf(first); i >= 0 && i <= last; i = bytes.indexOf(first, i + 1)) {
    let j = 1;
    while (j < TRACEFLOW_MAGIC.length && bytes[i + j] === TRACEFLOW_MAGIC[j]) j++;
    if (j === TRACEFLOW_MAGIC.length) return true;
  }
  return false;
}

// ---------------------------------------------------------------- the packet

/** What a traceflow packet is. */
export type TraceflowProtocol = 'icmp' | 'tcp' | 'udp';

/** Everything needed to build a traceflow packet, addresses resolved. */
export interface TraceflowPacketFields {
  readonly id: string;
  readonly protocol: TraceflowProtocol;
  readonly srcMac: MacAddress;
  /** The destination VM's MAC on the same segment, otherwise the distributed router's. */
  readonly dstMac: MacAddress;
  readonly srcIp: IpAddress;
  readonly dstIp: IpAddress;
  /** TCP or UDP destination port (ignored for ICMP). */
  readonly dstPort: number;
}

/** The source port of a trace's TCP or UDP packet: in the ephemeral range, fixed by the trace number. */
export function traceflowSourcePort(id: string): number {
  return EPHEMERAL_FIRST + (traceNumber(id) % EPHEMERAL_COUNT);
}

/**
 * Builds the marked packet: an ICMP (ICMPv6) echo request whose data is the mark, a UDP datagram
 * carrying the mark, or a TCP SYN carrying the mark as data (legal on the wire, as TCP Fast Open
 * does). Identifiers, sequence numbers and the source port derive from the trace number, so the
 * same trace builds the same bytes everywhere.
 */
export function buildTraceflowPacket(fields: TraceflowPacketFields): Uint8Array {
  const mark = encodeTraceMark(fields.id);
  const number = traceNumber(fields.id);
  const ip = { srcMac: fields.srcMac, dstMac: fields.dstMac, srcIp: fields.srcIp, dstIp: fields.dstIp, ttl: TRACEFLOW_TTL };
  switch (fields.protocol) {
    case 'icmp':
      return buildIcmpEchoFrame({ ...ip, identifier: number & 0xffff, sequence: 1, data: mark });
    case 'udp':
      return buildUdpFrame({ ...ip, srcPort: traceflowSourcePort(fields.id), dstPort: fields.dstPort, payload: mark });
    case 'tcp':
      return buildTcpFrame({ ...ip, srcPort: traceflowSourcePort(fields.id), dstPort: fields.dstPort, seq: number, flags: { syn: true }, payload: mark });
  }
}

// ---------------------------------------------------------------- finding the mark in a frame

/** A frame that carries a trace, with what the observation points report about it. */
export interface TracedFrame extends TraceMark {
  /** The outermost 802.1Q VLAN id, or null. */
  readonly vlan: number | null;
  /** The outermost GENEVE tunnel the trace travels in, or null. */
  readonly tunnel: { readonly vni: number; readonly srcTep: IpAddress; readonly dstTep: IpAddress } | null;
  /** The traced packet's own (innermost) addresses and TTL (hop limit). */
  readonly srcMac: MacAddress;
  readonly dstMac: MacAddress;
  readonly srcIp: IpAddress;
  readonly dstIp: IpAddress;
  readonly ttl: number;
  readonly protocol: TraceflowProtocol;
}

/** The mark of the innermost packet, where each protocol carries it: echo request data, UDP or TCP data. */
function markOf(frame: DecodedFrame): { mark: TraceMark; protocol: TraceflowProtocol } | null {
  let data: Uint8Array | null = null;
  let protocol: TraceflowProtocol = 'icmp';
  if (frame.icmp?.kind === 'echo-request') data = frame.icmp.data;
  else if (frame.icmpv6?.kind === 'echo-request') data = frame.icmpv6.data;
  else if (frame.udp) [data, protocol] = [frame.payload, 'udp'];
  else if (frame.tcp) [data, protocol] = [frame.payload, 'tcp'];
  const mark = data ? decodeTraceMark(data) : null;
  return mark ? { mark, protocol } : null;
}

/**
 * The trace a frame carries, looking inside GENEVE tunnels, or null for an ordinary frame.
 * Never throws: garbage is simply not a trace. Frames without the magic anywhere cost one byte
 * scan and are not decoded. An ICMP error quoting a traced packet is not itself traced.
 */
export function traceOf(frame: Uint8Array): TracedFrame | null {
  if (!containsMagic(frame)) return null;
  try {
    const outer = decodeFrame(frame, { verifyChecksums: false });
    const inner = innermostFrame(outer);
    const found = markOf(inner);
    const ip = inner.ipv4 ?? inner.ipv6;
    if (!found || !ip) return null;
    const outerIp = outer.ipv4 ?? outer.ipv6;
    return {
      ...found.mark,
      vlan: outer.vlan?.vid ?? null,
      tunnel: outer.geneve && outerIp ? { vni: outer.geneve.vni, srcTep: outerIp.src, dstTep: outerIp.dst } : null,
      srcMac: inner.ethernet.src,
      dstMac: inner.ethernet.dst,
      srcIp: ip.src,
      dstIp: ip.dst,
      ttl: inner.ipv4 ? inner.ipv4.ttl : inner.ipv6!.hopLimit,
      protocol: found.protocol,
    };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- the request and its addresses

/** A traceflow as the controller hands it to the source VM's host: the vNIC chosen and the destination as an address. */
export type TraceflowRequest = NodeActionArgs<'traceflow'>['trace'];

/** The packet to build for a request, or why the source guest could not send it. */
export type TraceflowPlan =
  | { readonly ok: true; readonly vm: string; readonly segment: string; readonly fields: TraceflowPacketFields }
  | { readonly ok: false; readonly reason: 'no-neighbor' | 'no-gateway' | 'no-address'; readonly message: string };

/**
 * Resolves a request against the topology as the source guest would: its own MAC and address
 * of the destination's family; the destination VM's MAC when the destination is on the vNIC's
 * segment, otherwise the distributed router's MAC when the segment has a gateway.
 *
 * @throws TraceflowError for an unknown vNIC or a destination that is not an address
 */
export function planTraceflow(topology: ResolvedTopology, request: TraceflowRequest): TraceflowPlan {
  const vnics = allVnics(topology);
  const source = vnics.find((v) => v.id === request.vnic);
  if (!source) throw new TraceflowError('unknown-vnic', `No vNIC ${request.vnic} in topology ${topology.name}`);
  let family: 4 | 6;
  let dstIp: IpAddress;
  try {
    family = ipFamily(request.to);
    dstIp = normalizeIp(request.to);
  } catch {
    throw new TraceflowError('bad-destination', `Trace ${request.id}: ${request.to} is not an IP address`);
  }
  const own = family === 4 ? source.ipv4 : source.ipv6;
  if (own === null) return { ok: false, reason: 'no-address', message: `vNIC ${source.id} has no IPv${family} address` };
  const srcIp = normalizeIp(own.split('/')[0]!);
  const segment = topology.segments.find((s) => s.id === source.segment);
  const subnet = family === 4 ? segment?.ipv4Subnet : segment?.ipv6Subnet;
  const gateway = family === 4 ? segment?.gateway4 : segment?.gateway6;
  const base = { id: request.id, protocol: request.protocol, srcMac: normalizeMac(source.mac), srcIp, dstIp, dstPort: request.port ?? (request.protocol === 'icmp' ? 0 : TRACEFLOW_DEFAULT_PORTS[request.protocol]) };
  const plan = (dstMac: MacAddress): TraceflowPlan => ({ ok: true, vm: source.vm, segment: source.segment, fields: { ...base, dstMac } });
  // The gateway answers for itself with the router's MAC, as the guest's ARP would learn.
  if (gateway !== null && gateway !== undefined && normalizeIp(gateway) === dstIp) return plan(ROUTER_MAC);
  if (subnet && cidrContains(parseCidr(subnet), dstIp)) {
    const neighbor = vnics.find((v) => {
      const address = family === 4 ? v.ipv4 : v.ipv6;
      return v.segment === source.segment && address !== null && normalizeIp(address.split('/')[0]!) === dstIp;
    });
    if (!neighbor) return { ok: false, reason: 'no-neighbor', message: `No vNIC on segment ${source.segment} has ${dstIp}` };
    return plan(normalizeMac(neighbor.mac));
  }
  if (gateway === null || gateway === undefined) return { ok: false, reason: 'no-gateway', message: `Segment ${source.segment} has no IPv${family} gateway towards ${dstIp}` };
  return plan(ROUTER_MAC);
}

// ---------------------------------------------------------------- observation points

/** Where a traceflow packet was seen (declared with the event, in the catalogue). */
export type { TraceflowPoint } from '../../shared/events/catalogue.js';

/** Every point, in the order a packet usually meets them. */
export const TRACEFLOW_POINTS: readonly TraceflowPoint[] = [
  'injected',
  'dfw',
  'routed',
  'forwarded',
  'hairpin',
  'encapsulated',
  'physical-switch',
  'decapsulated',
  'delivered',
  'dropped',
];

/** The payload of a `traceflow.observe` event (declared in the catalogue). */
export type { TraceflowObservation } from '../../shared/events/catalogue.js';

/** Records one observation point of a trace, as the node it happens on. */
export function observeTrace(ctx: NodeContext, trace: string, point: TraceflowPoint, summary: string, detail: TraceflowObservation['detail']): void {
  // Summary before the rest: log listings cut long payloads, and it is what people read.
  const payload: TraceflowObservation = { trace, point, summary, node: ctx.nodeId, detail };
  ctx.emit(TRACEFLOW_EVENT, payload);
}

/** What a firewall decided about a frame, as the traceflow reports it. */
export interface TraceflowVerdict {
  readonly action: 'allow' | 'drop' | 'reject';
  readonly ruleId: string | null;
  readonly established: boolean;
  readonly malformed?: string;
}

/** Records the firewall's judgement of a traced frame (`dfw`) and, unless it allowed it, the drop. */
export function observeFirewall(ctx: NodeContext, trace: TraceMark, vnic: string, dir: 'in' | 'out', verdict: TraceflowVerdict): void {
  const rule = verdict.ruleId;
  const by = verdict.established ? `connection of rule ${rule ?? '-'}` : rule === null ? 'no rule' : `rule ${rule}`;
  observeTrace(ctx, trace.id, 'dfw', `dfw ${dir} on ${vnic}: ${by} ${verdict.action}`, { vnic, dir, rule, action: verdict.action, established: verdict.established });
  if (verdict.action === 'allow') return;
  const reason = verdict.malformed !== undefined ? `malformed (${verdict.malformed})` : `rule ${rule ?? '-'} ${verdict.action}`;
  observeTrace(ctx, trace.id, 'dropped', `dropped by the firewall ${dir} on ${vnic}: ${reason}`, {
    where: 'dfw',
    reason: verdict.malformed !== undefined ? 'malformed' : verdict.action,
    rule,
    vnic,
    dir,
  });
}

// ---------------------------------------------------------------- watching a distributed switch

/** One call into a distributed switch, as the watcher follows it. Made by {@link SwitchTraceWatcher.begin}. */
export interface SwitchTraceCall {
  /** What the switch was handed: a vNIC's frame, an uplink's frame, or nothing (timers, links, boot). */
  readonly from: 'vnic' | 'uplink' | 'none';
  /** The trace the input frame carries, or null. */
  readonly trace: TracedFrame | null;
  /** Frames waiting for underlay ARP, by TEP, before a traced call. */
  readonly pendingBefore: ReadonlyMap<string, number> | null;
  /** An action of the call carried or dropped the traced frame. */
  settled: boolean;
}

/** Frames waiting for a remote TEP's MAC, as a switch's `inspect().arpPending` lists them. */
export type PendingArp = () => ReadonlyArray<{ readonly tep: string; readonly frames: number }>;

/**
 * Turns what a distributed switch (a DPU's, or a host's software switch) decided about traced
 * frames into observation points: `routed`, `encapsulated`, `decapsulated`, `hairpin`,
 * `forwarded` and `dropped`, from the `SwitchAction`s and their steps, without changing the
 * switch. Every copy is followed: a copy the fabric flooded to a box that does not own its
 * destination is recorded as dropped there (`not-for-us`, `standby-uplink`). A traced frame that waits for underlay ARP is remembered by TEP, so a later ARP
 * timeout still names it.
 *
 * Usage per switch call: `begin` with the input frame, `see` for each action before performing
 * it (it returns the action's trace, to pass to the ingress firewall), `end` after the last.
 */
export class SwitchTraceWatcher {
  /** Traces whose frame waits for underlay ARP, by TEP. */
  private waiting: Array<{ readonly trace: string; readonly number: number; readonly tep: string }> = [];

  constructor(private readonly pendingArp: PendingArp) {}

  /** Starts following one switch call. Only frames with the magic are decoded. */
  begin(from: SwitchTraceCall['from'], frame: Uint8Array | null): SwitchTraceCall {
    const trace = frame ? traceOf(frame) : null;
    return { from, trace, pendingBefore: trace ? this.pendingCounts() : null, settled: false };
  }

  /** Records what one action shows of a trace; returns the trace its frame carries, or null. */
  see(ctx: NodeContext, call: SwitchTraceCall, action: SwitchAction): TracedFrame | null {
    if (action.kind === 'drop') {
      if (action.reason === 'arp-timeout' && action.detail !== undefined) this.timedOut(ctx, action.detail);
      if (!call.trace) return null;
      call.settled = true;
      const at = action.vnic !== undefined ? ` from ${action.vnic}` : action.port !== undefined ? ` from ${action.port}` : '';
      observeTrace(ctx, call.trace.id, 'dropped', `dropped by the switch${at}: ${action.reason}${action.detail !== undefined ? ` (${action.detail})` : ''}`, {
        where: 'switch',
        reason: action.reason,
        rule: null,
        vnic: action.vnic ?? null,
        port: action.port ?? null,
        info: action.detail ?? null,
      });
      return null;
    }
    // Only a traced input yields traced frames, except frames released from the ARP queue.
    if (!call.trace && !(action.kind === 'to-uplink' && call.from !== 'vnic')) return null;
    const trace = traceOf(action.frame);
    if (!trace) return null;
    const input = call.trace !== null && call.trace.id === trace.id && call.trace.number === trace.number ? call.trace : null;
    if (input) call.settled = true;
    if (action.steps.includes('route') || (input !== null && trace.ttl < input.ttl)) {
      observeTrace(ctx, trace.id, 'routed', `routed by the distributed router to ${trace.dstIp} via ${trace.dstMac}, ttl ${trace.ttl}`, {
        dstIp: trace.dstIp,
        dstMac: trace.dstMac,
        ttl: trace.ttl,
      });
    }
    if (action.kind === 'to-uplink') {
      const tunnel = trace.tunnel;
      if (tunnel) {
        this.waiting = this.waiting.filter((w) => !(w.trace === trace.id && w.number === trace.number && w.tep === tunnel.dstTep));
        observeTrace(ctx, trace.id, 'encapsulated', `encapsulated in GENEVE vni ${tunnel.vni} to TEP ${tunnel.dstTep} on ${action.port}`, {
          vni: tunnel.vni,
          localTep: tunnel.srcTep,
          remoteTep: tunnel.dstTep,
          port: action.port,
        });
      } else {
        observeTrace(ctx, trace.id, 'forwarded', `forwarded on ${action.port}${trace.vlan !== null ? ` vlan ${trace.vlan}` : ''}`, { port: action.port, vlan: trace.vlan, vnic: null });
      }
      return trace;
    }
    const tunnel = input?.tunnel ?? null;
    if (tunnel) {
      const port = action.origin.kind === 'uplink' ? action.origin.port : null;
      observeTrace(ctx, trace.id, 'decapsulated', `decapsulated from GENEVE vni ${tunnel.vni}, TEP ${tunnel.srcTep}, for ${action.vnic}`, {
        vni: tunnel.vni,
        remoteTep: tunnel.srcTep,
        localTep: tunnel.dstTep,
        port,
        vnic: action.vnic,
      });
    } else if (action.origin.kind === 'vnic') {
      observeTrace(ctx, trace.id, 'hairpin', `hairpin from ${action.origin.vnic} to ${action.vnic}`, { from: action.origin.vnic, to: action.vnic });
    } else {
      const port = action.origin.kind === 'uplink' ? action.origin.port : null;
      observeTrace(ctx, trace.id, 'forwarded', `forwarded to ${action.vnic}${port !== null ? ` from ${port}` : ''}`, { port, vlan: input?.vlan ?? null, vnic: action.vnic });
    }
    return trace;
  }

  /**
   * Ends a call. A traced frame the call did not carry on may wait for underlay ARP (remembered
   * by TEP); one that neither left nor waits nor was dropped was answered by the switch itself
   * (an echo request to a gateway address, answered by the distributed router).
   */
  end(ctx: NodeContext, call: SwitchTraceCall): void {
    const trace = call.trace;
    if (!trace || !call.pendingBefore) return;
    let queued = false;
    for (const [tep, frames] of this.pendingCounts()) {
      if (frames <= (call.pendingBefore.get(tep) ?? 0)) continue;
      this.waiting.push({ trace: trace.id, number: trace.number, tep });
      queued = true;
    }
    if (call.settled || queued || call.from !== 'vnic') return;
    observeTrace(ctx, trace.id, 'delivered', `answered by the distributed router for ${trace.dstIp}`, { vnic: null, vm: null, mode: null, router: true, dstIp: trace.dstIp });
  }

  /** Traces waiting for underlay ARP, for inspectors. */
  inspect(): Array<{ trace: string; tep: string }> {
    return this.waiting.map((w) => ({ trace: w.trace, tep: w.tep }));
  }

  private timedOut(ctx: NodeContext, tep: string): void {
    const lost = this.waiting.filter((w) => w.tep === tep);
    if (lost.length === 0) return;
    this.waiting = this.waiting.filter((w) => w.tep !== tep);
    for (const w of lost) {
      observeTrace(ctx, w.trace, 'dropped', `dropped by the switch: arp-timeout (TEP ${tep} did not answer underlay ARP)`, {
        where: 'switch',
        reason: 'arp-timeout',
        rule: null,
        vnic: null,
        port: null,
        info: tep,
      });
    }
  }

  private pendingCounts(): Map<string, number> {
    return new Map(this.pendingArp().map((p) => [p.tep, p.frames]));
  }
}
