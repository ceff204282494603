/**
 * The answer a `reject` rule sends back to the sender of a refused packet: a TCP reset built as
 * RFC 793 (RFC 9293 section 3.10.7.1) prescribes for a segment that belongs to no connection, or
 * an ICMP (ICMPv6) destination unreachable, administratively prohibited, quoting the packet.
 *
 * The answer impersonates the destination: addresses, ports and MACs are those of the refused
 * packet swapped, and an 802.1Q tag is kept, so the sender's stack takes it as coming from its peer.
 */
import { buildIcmpUnreachableFrame, buildIpFrame, buildTcpFrame } from '../../../shared/net/builders.js';
import type { IpFrameFields } from '../../../shared/net/builders.js';
import { ICMP_UNREACHABLE_ADMIN_PROHIBITED } from '../../../shared/net/icmp.js';
import { encodeIcmpv6 } from '../../../shared/net/icmpv6.js';
import { parseIp } from '../../../shared/net/ip.js';
import { IP_PROTOCOL_ICMPV6 } from '../../../shared/net/ipv4.js';
import { isMulticastMac } from '../../../shared/net/mac.js';
import type { IpPacket } from './packet.js';

/** ICMPv6 destination unreachable code 1: communication with destination administratively prohibited (RFC 4443). */
export const ICMPV6_UNREACHABLE_ADMIN_PROHIBITED = 1;

/** What kind of answer a reject produced. */
export type RejectReplyKind = 'tcp-rst' | 'icmp-unreachable' | 'icmpv6-unreachable';

/**
 * Why a reject sent nothing: a reset is never answered with a reset, an ICMP error never with
 * an ICMP error (RFC 1122 3.2.2, RFC 4443 2.4), nor a packet to a group address or from no
 * address, nor a fragment other than the first.
 */
export type RejectSilenceReason = 'rst' | 'icmp-error' | 'group-destination' | 'unspecified-source' | 'later-fragment';

/** The answer to a rejected packet, or why there is none. */
export type RejectReply =
  | { readonly kind: RejectReplyKind; readonly frame: Uint8Array }
  | { readonly kind: 'none'; readonly reason: RejectSilenceReason };

/** Reply TTL (IPv4) or hop limit (IPv6). */
const REPLY_TTL = 64;

function isGroupAddress(packet: IpPacket): boolean {
  const bytes = parseIp(packet.dst);
  if (packet.family === 6) return bytes[0] === 0xff;
  const first = bytes[0]!;
  return (first >= 224 && first <= 239) || packet.dst === '255.255.255.255';
}

function isUnspecified(address: string): boolean {
  return parseIp(address).every((byte) => byte === 0);
}

/** The RST answering a TCP segment, per RFC 793's reset generation for a segment with no connection. */
function buildReset(packet: IpPacket, link: IpFrameFields): Uint8Array {
  const tcp = packet.tcp!;
  const ports = { srcPort: packet.dstPort!, dstPort: packet.srcPort! };
  if (tcp.flags.ack) {
    // <SEQ=SEG.ACK><CTL=RST>
    return buildTcpFrame({ ...link, ...ports, seq: tcp.ack, ack: 0, flags: { rst: true }, window: 0 });
  }
  // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; SYN and FIN each occupy one sequence number.
  const length = tcp.payloadLength + (tcp.flags.syn ? 1 : 0) + (tcp.flags.fin ? 1 : 0);
  return buildTcpFrame({ ...link, ...ports, seq: 0, ack: (tcp.seq + length) >>> 0, flags: { rst: true, ack: true }, window: 0 });
}

/** Builds the answer to a rejected packet. */
export function buildRejectReply(packet: IpPacket): RejectReply {
  if (packet.tcp?.flags.rst) return { kind: 'none', reason: 'rst' };
  if (packet.icmp?.error) return { kind: 'none', reason: 'icmp-error' };
  if (packet.laterFragment) return { kind: 'none', reason: 'later-fragment' };
  if (isMulticastMac(packet.ethernet.dst) || isGroupAddress(packet)) return { kind: 'none', reason: 'group-destination' };
  if (isUnspecified(packet.src)) return { kind: 'none', reason: 'unspecified-source' };

  const link: IpFrameFields = {
    srcMac: packet.ethernet.dst,
    dstMac: packet.ethernet.src,
    ...(packet.ethernet.vlan ? { vlan: packet.ethernet.vlan } : {}),
    srcIp: packet.dst,
    dstIp: packet.src,
    ttl: REPLY_TTL,
  };
  if (packet.tcp) return { kind: 'tcp-rst', frame: buildReset(packet, link) };
  if (packet.family === 4) {
    return { kind: 'icmp-unreachable', frame: buildIcmpUnreachableFrame({ ...link, code: ICMP_UNREACHABLE_ADMIN_PROHIBITED, original: packet.ipBytes }) };
  }
  const icmp = encodeIcmpv6(
    { kind: 'destination-unreachable', code: ICMPV6_UNREACHABLE_ADMIN_PROHIBITED, parameter: 0, original: packet.ipBytes },
    packet.dst,
    packet.src,
  );
  return { kind: 'icmpv6-unreachable', frame: buildIpFrame(link, IP_PROTOCOL_ICMPV6, icmp) };
}
