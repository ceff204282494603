/**
 * The connection table: one entry per tracked connection per vNIC, found from either direction,
 * with NSX's per-protocol state machines and idle timeouts. An entry is created when a rule
 * allows a new connection; later packets of the connection are judged by the entry alone.
 */
import type { VTime } from '../../../shared/events.js';
import { NS_PER_S } from '../../../shared/units.js';
import type { IpAddress } from '../../../shared/net/ip.js';
import type { IpPacket, PacketProtocol, TcpInfo } from './packet.js';
import type { DfwPacketDirection } from './rule.js';

/** TCP connection states, in the order a connection goes through them. */
export const TCP_STATES = ['first-packet', 'opening', 'established', 'closing', 'fin-wait', 'closed'] as const;
/** UDP (and other IP protocol) states: first packet, packets one way only, packets both ways. */
export const UDP_STATES = ['first-packet', 'single', 'multiple'] as const;
/** ICMP echo states: the request, then any reply (NSX and pf give it the short "error reply" timeout). */
export const ICMP_STATES = ['first-packet', 'error-reply'] as const;

/** A TCP state. */
export type TcpState = (typeof TCP_STATES)[number];
/** A UDP state. */
export type UdpState = (typeof UDP_STATES)[number];
/** An ICMP state. */
export type IcmpState = (typeof ICMP_STATES)[number];
/** Any connection state. */
export type ConnectionState = TcpState | UdpState | IcmpState;

/** Which state machine a connection follows: TCP, ICMP echo, or UDP (also used for other IP protocols). */
export type TrackKind = 'tcp' | 'udp' | 'icmp';

/** Idle timeouts in seconds, per protocol and state (NSX's default firewall session timer profile). */
export interface DfwTimeouts {
  readonly tcpFirstPacket: number;
  readonly tcpOpening: number;
  readonly tcpEstablished: number;
  readonly tcpClosing: number;
  readonly tcpFinWait: number;
  readonly tcpClosed: number;
  readonly udpFirstPacket: number;
  readonly udpSingle: number;
  readonly udpMultiple: number;
  readonly icmpFirstPacket: number;
  readonly icmpErrorReply: number;
}

/** NSX's defaults, in seconds. */
export const DEFAULT_DFW_TIMEOUTS: DfwTimeouts = {
  tcpFirstPacket: 120,
  tcpOpening: 30,
  tcpEstablished: 43_200,
  tcpClosing: 120,
  tcpFinWait: 45,
  tcpClosed: 20,
  udpFirstPacket: 60,
  udpSingle: 30,
  udpMultiple: 60,
  icmpFirstPacket: 20,
  icmpErrorReply: 10,
};

/** The addresses and ports of a connection as its first packet carried them. ICMP echo uses its identifier as both ports; other protocols use 0. */
export interface ConnectionTuple {
  readonly protocol: PacketProtocol;
  readonly src: IpAddress;
  readonly srcPort: number;
  readonly dst: IpAddress;
  readonly dstPort: number;
}

/** Packets and bytes (IP length) one way. */
export interface FlowCounters {
  packets: number;
  bytes: number;
}

/** How far each side has closed a TCP connection: the sequence number of its FIN and whether the peer acknowledged it. */
export interface TcpCloseTracking {
  origFin: number | null;
  replyFin: number | null;
  origFinAcked: boolean;
  replyFinAcked: boolean;
}

/** One tracked connection on one vNIC. */
export interface ConnectionEntry {
  readonly vnic: string;
  /** The normalised key, the same from both directions. */
  readonly key: string;
  readonly track: TrackKind;
  /** The tuple in the direction of the first packet ("orig"); the other direction is "reply". */
  readonly tuple: ConnectionTuple;
  /** The direction through the filter the first packet took. */
  readonly direction: DfwPacketDirection;
  /** The rule that allowed the connection. */
  readonly ruleId: string;
  state: ConnectionState;
  createdAt: VTime;
  expiresAt: VTime;
  readonly orig: FlowCounters;
  readonly reply: FlowCounters;
  readonly close: TcpCloseTracking | null;
}

/** Which side of a connection a packet came from. */
export type ConnectionSide = 'orig' | 'reply';

/** A connection as inspectors and tests see it. */
export interface ConnectionView {
  readonly vnic: string;
  readonly key: string;
  readonly protocol: PacketProtocol;
  readonly src: IpAddress;
  readonly srcPort: number;
  readonly dst: IpAddress;
  readonly dstPort: number;
  readonly direction: DfwPacketDirection;
  readonly ruleId: string;
  readonly state: ConnectionState;
  readonly createdAt: VTime;
  readonly expiresAt: VTime;
  readonly orig: { readonly packets: number; readonly bytes: number };
  readonly reply: { readonly packets: number; readonly bytes: number };
}

/** The state machine a protocol follows. */
export function trackKindOf(protocol: PacketProtocol): TrackKind {
  if (protocol === 'tcp') return 'tcp';
  if (protocol === 'icmp' || protocol === 'icmpv6') return 'icmp';
  return 'udp';
}

/** The states valid for a state machine. */
export function statesOf(track: TrackKind): readonly ConnectionState[] {
  return track === 'tcp' ? TCP_STATES : track === 'udp' ? UDP_STATES : ICMP_STATES;
}

/**
 * The tuple a packet is tracked under, or null for packets that are never tracked: fragments
 * (no ports to read), and ICMP other than echo (errors are matched to the connection they quote).
 */
export function trackedTuple(packet: IpPacket): ConnectionTuple | null {
  if (packet.fragment) return null;
  const { protocol, src, dst } = packet;
  if (protocol === 'tcp' || protocol === 'udp') return { protocol, src, dst, srcPort: packet.srcPort ?? 0, dstPort: packet.dstPort ?? 0 };
  if (protocol === 'icmp' || protocol === 'icmpv6') {
    const echo = packet.icmp?.echo;
    return echo ? { protocol, src, dst, srcPort: echo.identifier, dstPort: echo.identifier } : null;
  }
  return { protocol, src, dst, srcPort: 0, dstPort: 0 };
}

/** The key of a tuple: its two endpoints in a fixed order, so both directions give the same key. */
export function connectionKey(tuple: ConnectionTuple): string {
  const a = `${tuple.src}#${tuple.srcPort}`;
  const b = `${tuple.dst}#${tuple.dstPort}`;
  return a <= b ? `${tuple.protocol} ${a} ${b}` : `${tuple.protocol} ${b} ${a}`;
}

/** True when `a` is at or after `b` in 32-bit sequence space. */
function seqAtOrAfter(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

const TCP_RANK: Readonly<Record<TcpState, number>> = {
  'first-packet': 0,
  opening: 1,
  established: 2,
  closing: 3,
  'fin-wait': 4,
  closed: 5,
};

/** The next TCP state after a segment from `side`, updating the FIN tracking. */
export function nextTcpState(state: TcpState, close: TcpCloseTracking, side: ConnectionSide, tcp: TcpInfo): TcpState {
  const { flags } = tcp;
  if (flags.rst) return 'closed';
  let next: TcpState = state;
  if (state === 'first-packet' && side === 'reply' && flags.syn && flags.ack) next = 'opening';
  else if (state === 'opening' && side === 'orig' && flags.ack && !flags.syn) next = 'established';

  if (flags.fin) {
    // The FIN occupies the sequence number after the payload (and after a SYN sent with it).
    const finSeq = (tcp.seq + tcp.payloadLength + (flags.syn ? 1 : 0)) >>> 0;
    if (side === 'orig') close.origFin ??= finSeq;
    else close.replyFin ??= finSeq;
  }
  if (flags.ack) {
    const peerFin = side === 'orig' ? close.replyFin : close.origFin;
    if (peerFin !== null && seqAtOrAfter(tcp.ack, (peerFin + 1) >>> 0)) {
      if (side === 'orig') close.replyFinAcked = true;
      else close.origFinAcked = true;
    }
  }
  let closing: TcpState | null = null;
  const fins = (close.origFin !== null ? 1 : 0) + (close.replyFin !== null ? 1 : 0);
  if (fins === 2) closing = close.origFinAcked && close.replyFinAcked ? 'closed' : 'fin-wait';
  else if (fins === 1) closing = 'closing';
  if (closing !== null && TCP_RANK[closing] > TCP_RANK[next]) next = closing;
  return next;
}

/** The next UDP (or other protocol) state after a packet from `side`. */
export function nextUdpState(state: UdpState, side: ConnectionSide): UdpState {
  if (side === 'reply') return 'multiple';
  return state === 'first-packet' ? 'single' : state;
}

/** The next ICMP echo state after a packet from `side`. */
export function nextIcmpState(state: IcmpState, side: ConnectionSide): IcmpState {
  return side === 'reply' ? 'error-reply' : state;
}

/** The idle timeout of a state, in seconds. */
export function timeoutSeconds(timeouts: DfwTimeouts, track: TrackKind, state: ConnectionState): number {
  switch (track) {
    case 'tcp':
      switch (state as TcpState) {
        case 'first-packet':
          return timeouts.tcpFirstPacket;
        case 'opening':
          return timeouts.tcpOpening;
        case 'established':
          return timeouts.tcpEstablished;
        case 'closing':
          return timeouts.tcpClosing;
        case 'fin-wait':
          return timeouts.tcpFinWait;
        case 'closed':
          return timeouts.tcpClosed;
      }
      break;
    case 'udp':
      switch (state as UdpState) {
        case 'first-packet':
          return timeouts.udpFirstPacket;
        case 'single':
          return timeouts.udpSingle;
        case 'multiple':
          return timeouts.udpMultiple;
      }
      break;
    case 'icmp':
      return state === 'error-reply' ? timeouts.icmpErrorReply : timeouts.icmpFirstPacket;
  }
  return 0;
}

/**
 * All tracked connections of one firewall, per vNIC. Pure bookkeeping: it finds, stores and
 * ages entries; what a packet does to an entry is decided by the firewall.
 */
export class ConnectionTable {
  private readonly byVnic = new Map<string, Map<string, ConnectionEntry>>();

  constructor(private readonly timeouts: DfwTimeouts) {}

  /** The idle timeout of an entry's current state, in ns. */
  timeoutNs(entry: Pick<ConnectionEntry, 'track' | 'state'>): VTime {
    return Math.round(timeoutSeconds(this.timeouts, entry.track, entry.state) * NS_PER_S);
  }

  /** The entry a tuple belongs to on a vNIC, expired or not, and the side the tuple is on. */
  find(vnic: string, tuple: ConnectionTuple): { entry: ConnectionEntry; side: ConnectionSide } | null {
    const entry = this.byVnic.get(vnic)?.get(connectionKey(tuple));
    if (!entry) return null;
    const orig = entry.tuple;
    const side: ConnectionSide =
      tuple.src === orig.src && tuple.srcPort === orig.srcPort && tuple.dst === orig.dst && tuple.dstPort === orig.dstPort ? 'orig' : 'reply';
    return { entry, side };
  }

  /** Creates an entry for a connection a rule allowed, in its first state, with its first packet counted. */
  create(vnic: string, tuple: ConnectionTuple, direction: DfwPacketDirection, ruleId: string, now: VTime): ConnectionEntry {
    const track = trackKindOf(tuple.protocol);
    const entry: ConnectionEntry = {
      vnic,
      key: connectionKey(tuple),
      track,
      tuple,
      direction,
      ruleId,
      state: 'first-packet',
      createdAt: now,
      expiresAt: now,
      orig: { packets: 0, bytes: 0 },
      reply: { packets: 0, bytes: 0 },
      close: track === 'tcp' ? { origFin: null, replyFin: null, origFinAcked: false, replyFinAcked: false } : null,
    };
    entry.expiresAt = now + this.timeoutNs(entry);
    this.insert(entry);
    return entry;
  }

  /** Stores an entry (replacing one with the same key on the same vNIC). */
  insert(entry: ConnectionEntry): void {
    let table = this.byVnic.get(entry.vnic);
    if (!table) {
      table = new Map();
      this.byVnic.set(entry.vnic, table);
    }
    table.set(entry.key, entry);
  }

  /** Counts a packet on an entry, moves it to `state` and restarts its idle timeout. */
  touch(entry: ConnectionEntry, side: ConnectionSide, bytes: number, state: ConnectionState, now: VTime): void {
    const counters = side === 'orig' ? entry.orig : entry.reply;
    counters.packets += 1;
    counters.bytes += bytes;
    entry.state = state;
    entry.expiresAt = now + this.timeoutNs(entry);
  }

  remove(entry: ConnectionEntry): void {
    const table = this.byVnic.get(entry.vnic);
    if (table?.get(entry.key) === entry) table.delete(entry.key);
  }

  /** Forgets every entry of a vNIC. */
  removeVnic(vnic: string): void {
    this.byVnic.delete(vnic);
  }

  /** Entries of one vNIC, or of all, sorted by vNIC then key (never in arrival order). */
  list(vnic?: string): ConnectionEntry[] {
    const vnics = vnic === undefined ? [...this.byVnic.keys()].sort() : [vnic];
    const out: ConnectionEntry[] = [];
    for (const id of vnics) {
      const table = this.byVnic.get(id);
      if (!table) continue;
      for (const key of [...table.keys()].sort()) out.push(table.get(key)!);
    }
    return out;
  }

  /** Entries whose idle timeout has run out at `now`, sorted by vNIC then key. */
  expired(now: VTime): ConnectionEntry[] {
    return this.list().filter((entry) => entry.expiresAt <= now);
  }

  /** The earliest expiry of any entry, for the owner's sweep timer; null when the table is empty. */
  nextExpiry(): VTime | null {
    let next: VTime | null = null;
    for (const table of this.byVnic.values()) for (const entry of table.values()) if (next === null || entry.expiresAt < next) next = entry.expiresAt;
    return next;
  }

  /** How many entries a vNIC has (all vNICs when omitted). */
  size(vnic?: string): number {
    if (vnic !== undefined) return this.byVnic.get(vnic)?.size ?? 0;
    let total = 0;
    for (const table of this.byVnic.values()) total += table.size;
    return total;
  }
}

/** The plain-data view of an entry. */
export function connectionView(entry: ConnectionEntry): ConnectionView {
  return {
    vnic: entry.vnic,
    key: entry.key,
    protocol: entry.tuple.protocol,
    src: entry.tuple.src,
    srcPort: entry.tuple.srcPort,
    dst: entry.tuple.dst,
    dstPort: entry.tuple.dstPort,
    direction: entry.direction,
    ruleId: entry.ruleId,
    state: entry.state,
    createdAt: entry.createdAt,
    expiresAt: entry.expiresAt,
    orig: { ...entry.orig },
    reply: { ...entry.reply },
  };
}
