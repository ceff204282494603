/**
 * What the firewall needs to know about a frame: its IP 5-tuple, the TCP control bits and
 * sequence numbers, the ICMP type and echo identifier, and, for ICMP errors, the tuple of the
 * packet they quote. Parsed layer by layer with the shared/net decoders, so a frame that is not
 * IP is recognised (and let through) before anything can fail on it.
 */
import { readU16, readU8 } from '../../../shared/net/bytes.js';
import { decodeEthernet } from '../../../shared/net/ethernet.js';
import type { VlanTag } from '../../../shared/net/ethernet.js';
import { FrameError } from '../../../shared/net/errors.js';
import type { FrameErrorCode } from '../../../shared/net/errors.js';
import { decodeIcmp } from '../../../shared/net/icmp.js';
import { decodeIcmpv6 } from '../../../shared/net/icmpv6.js';
import { formatIpv4, formatIpv6 } from '../../../shared/net/ip.js';
import type { IpAddress } from '../../../shared/net/ip.js';
import { decodeIpLayer } from '../../../shared/net/ip-layer.js';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_ICMPV6, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP } from '../../../shared/net/ipv4.js';
import { IPV6_DESTINATION_OPTIONS, IPV6_FRAGMENT, IPV6_HOP_BY_HOP, IPV6_ROUTING } from '../../../shared/net/ipv6.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import { decodeTcp } from '../../../shared/net/tcp.js';
import type { TcpFlags } from '../../../shared/net/tcp.js';
import { decodeUdp } from '../../../shared/net/udp.js';

/** The transport protocol as rules and events name it; `ip-N` for any other IP protocol number N. */
export type PacketProtocol = 'tcp' | 'udp' | 'icmp' | 'icmpv6' | `ip-${number}`;

/** The TCP fields connection tracking and RST generation read. */
export interface TcpInfo {
  readonly flags: TcpFlags;
  readonly seq: number;
  readonly ack: number;
  /** Payload bytes (SYN and FIN not counted). */
  readonly payloadLength: number;
}

/** The ICMP (or ICMPv6) fields matching and tracking read. */
export interface IcmpInfo {
  readonly type: number;
  readonly code: number;
  /** Echo request or reply: the identifier, which tracking uses as both ports. */
  readonly echo: { readonly request: boolean; readonly identifier: number } | null;
  /** An error message (destination unreachable, time exceeded, ...): the tuple of the packet it quotes, when readable. */
  readonly error: { readonly quoted: QuotedTuple | null } | null;
  /** IPv6 neighbour discovery (router/neighbour solicitation and advertisement, redirect). */
  readonly ndp: boolean;
}

/** The 5-tuple of a packet quoted inside an ICMP error, as far as the quote reaches. */
export interface QuotedTuple {
  readonly protocol: PacketProtocol;
  readonly src: IpAddress;
  readonly dst: IpAddress;
  /** TCP/UDP ports, the echo identifier (twice), or 0 for protocols without ports; null when the quote is too short or quotes ICMP other than echo. */
  readonly srcPort: number | null;
  readonly dstPort: number | null;
}

/** An IP packet seen by a filter. */
export interface IpPacket {
  readonly family: 4 | 6;
  readonly protocol: PacketProtocol;
  readonly src: IpAddress;
  readonly dst: IpAddress;
  /** TCP/UDP ports; null for other protocols and for fragments (whose transport header is not read). */
  readonly srcPort: number | null;
  readonly dstPort: number | null;
  readonly tcp: TcpInfo | null;
  readonly icmp: IcmpInfo | null;
  /** Any fragment: the transport layer is not parsed, so the packet is judged on addresses and protocol only. */
  readonly fragment: boolean;
  /** A fragment other than the first. */
  readonly laterFragment: boolean;
  /** The IP packet, header to the end given by its length field (no Ethernet padding): what an ICMP error quotes. */
  readonly ipBytes: Uint8Array;
  readonly ethernet: { readonly src: MacAddress; readonly dst: MacAddress; readonly vlan: VlanTag | null };
}

/** The outcome of parsing a frame: an IP packet, a frame that is not IP, or a malformed frame. */
export type ParsedFrame =
  | { readonly kind: 'ip'; readonly packet: IpPacket }
  | { readonly kind: 'not-ip'; readonly etherType: number }
  | { readonly kind: 'malformed'; readonly code: FrameErrorCode; readonly message: string };

/** The protocol label of an IANA protocol number in a given family. */
export function protocolName(protocol: number, family: 4 | 6): PacketProtocol {
  if (protocol === IP_PROTOCOL_TCP) return 'tcp';
  if (protocol === IP_PROTOCOL_UDP) return 'udp';
  if (protocol === IP_PROTOCOL_ICMP && family === 4) return 'icmp';
  if (protocol === IP_PROTOCOL_ICMPV6 && family === 6) return 'icmpv6';
  return `ip-${protocol}`;
}

const ICMP_ECHO_TYPES: ReadonlyMap<number, boolean> = new Map([
  [8, true],
  [0, false],
]);
const ICMPV6_ECHO_TYPES: ReadonlyMap<number, boolean> = new Map([
  [128, true],
  [129, false],
]);
/** Destination unreachable, source quench, redirect, time exceeded, parameter problem. */
const ICMP_ERROR_TYPES: ReadonlySet<number> = new Set([3, 4, 5, 11, 12]);
/** ICMPv6 error messages have types 0 to 127 (RFC 4443 section 2.1). */
const ICMPV6_ERROR_MAX_TYPE = 127;
/** Router solicitation, router advertisement, neighbour solicitation, neighbour advertisement, redirect. */
const NDP_TYPES: ReadonlySet<number> = new Set([133, 134, 135, 136, 137]);

/**
 * Parses a frame for filtering. Never throws for bad input: a frame that does not decode is
 * reported as `malformed` with the FrameError code, so the caller can count it.
 */
export function parseFrame(bytes: Uint8Array, verifyChecksums: boolean): ParsedFrame {
  try {
    return parseOrThrow(bytes, verifyChecksums);
  } catch (error) {
    if (error instanceof FrameError) return { kind: 'malformed', code: error.code, message: error.message };
    throw error;
  }
}

function parseOrThrow(bytes: Uint8Array, verify: boolean): ParsedFrame {
  const ethernet = decodeEthernet(bytes, 0, bytes.length);
  const link = { src: ethernet.src, dst: ethernet.dst, vlan: ethernet.vlan ?? null };
  const at = ethernet.payloadOffset;
  const layer = decodeIpLayer(bytes, ethernet.etherType, at, bytes.length, verify);
  if (layer === null) return { kind: 'not-ip', etherType: ethernet.etherType };
  const { family, ip, laterFragment } = layer;
  const l4Offset = ip.payloadOffset;
  const l4End = ip.payloadEnd;
  const fragment = ip.isFragment;
  const checksumHeader = verify ? layer.pseudo : null;
  const protocol = protocolName(ip.protocol, family);
  const base = {
    family,
    protocol,
    src: ip.src,
    dst: ip.dst,
    fragment,
    laterFragment,
    ipBytes: bytes.subarray(at, l4End),
    ethernet: link,
  };
  const none = { srcPort: null, dstPort: null, tcp: null, icmp: null };
  if (fragment) return { kind: 'ip', packet: { ...base, ...none } };

  switch (protocol) {
    case 'tcp': {
      const tcp = decodeTcp(bytes, l4Offset, l4End, checksumHeader);
      return {
        kind: 'ip',
        packet: {
          ...base,
          ...none,
          srcPort: tcp.srcPort,
          dstPort: tcp.dstPort,
          tcp: { flags: tcp.flags, seq: tcp.seq, ack: tcp.ack, payloadLength: tcp.payload.length },
        },
      };
    }
    case 'udp': {
      const udp = decodeUdp(bytes, l4Offset, l4End, checksumHeader);
      return { kind: 'ip', packet: { ...base, ...none, srcPort: udp.srcPort, dstPort: udp.dstPort } };
    }
    case 'icmp': {
      const icmp = decodeIcmp(bytes, l4Offset, l4End, { verifyChecksum: verify });
      const request = ICMP_ECHO_TYPES.get(icmp.type);
      const echo = request !== undefined && (icmp.kind === 'echo-request' || icmp.kind === 'echo-reply') ? { request, identifier: icmp.identifier } : null;
      const error = ICMP_ERROR_TYPES.has(icmp.type) ? { quoted: readQuoted(bytes.subarray(l4Offset + 8, l4End), 4) } : null;
      return { kind: 'ip', packet: { ...base, ...none, icmp: { type: icmp.type, code: icmp.code, echo, error, ndp: false } } };
    }
    case 'icmpv6': {
      const icmp = decodeIcmpv6(bytes, l4Offset, l4End, checksumHeader);
      const request = ICMPV6_ECHO_TYPES.get(icmp.type);
      const echo = request !== undefined && (icmp.kind === 'echo-request' || icmp.kind === 'echo-reply') ? { request, identifier: icmp.identifier } : null;
      const error = icmp.type <= ICMPV6_ERROR_MAX_TYPE ? { quoted: readQuoted(bytes.subarray(l4Offset + 8, l4End), 6) } : null;
      return { kind: 'ip', packet: { ...base, ...none, icmp: { type: icmp.type, code: icmp.code, echo, error, ndp: NDP_TYPES.has(icmp.type) } } };
    }
    default:
      return { kind: 'ip', packet: { ...base, ...none } };
  }
}

/**
 * Reads the tuple of the packet an ICMP error quotes. The quote is cut (RFC 792 guarantees only
 * the IP header and 8 bytes), so this reads fields by hand and returns null when even the
 * addresses are missing, rather than decoding the quote as a whole packet.
 */
export function readQuoted(quote: Uint8Array, family: 4 | 6): QuotedTuple | null {
  let protocolNumber: number;
  let src: IpAddress;
  let dst: IpAddress;
  let at: number;
  if (family === 4) {
    if (quote.length < 20 || readU8(quote, 0) >>> 4 !== 4) return null;
    at = (readU8(quote, 0) & 0x0f) * 4;
    if (at < 20) return null;
    protocolNumber = readU8(quote, 9);
    src = formatIpv4(quote, 12);
    dst = formatIpv4(quote, 16);
    if ((readU16(quote, 6) & 0x1fff) !== 0) at = -1; // a later fragment quotes no transport header
  } else {
    if (quote.length < 40 || readU8(quote, 0) >>> 4 !== 6) return null;
    src = formatIpv6(quote, 8);
    dst = formatIpv6(quote, 24);
    protocolNumber = readU8(quote, 6);
    at = 40;
    for (;;) {
      if (protocolNumber === IPV6_HOP_BY_HOP || protocolNumber === IPV6_ROUTING || protocolNumber === IPV6_DESTINATION_OPTIONS) {
        if (at + 2 > quote.length) return { protocol: protocolName(protocolNumber, 6), src, dst, srcPort: null, dstPort: null };
        const next = readU8(quote, at);
        at += (readU8(quote, at + 1) + 1) * 8;
        protocolNumber = next;
      } else if (protocolNumber === IPV6_FRAGMENT) {
        if (at + 8 > quote.length) return { protocol: protocolName(protocolNumber, 6), src, dst, srcPort: null, dstPort: null };
        const next = readU8(quote, at);
        if ((readU16(quote, at + 2) & 0xfff8) !== 0) at = -1;
        else at += 8;
        protocolNumber = next;
        break;
      } else {
        break;
      }
    }
  }
  const protocol = protocolName(protocolNumber, family);
  const ports = at >= 0 ? quotedPorts(quote, at, protocol) : null;
  return { protocol, src, dst, srcPort: ports?.[0] ?? null, dstPort: ports?.[1] ?? null };
}

function quotedPorts(quote: Uint8Array, at: number, protocol: PacketProtocol): readonly [number, number] | null {
  if (protocol === 'tcp' || protocol === 'udp') {
    return at + 4 <= quote.length ? [readU16(quote, at), readU16(quote, at + 2)] : null;
  }
  if (protocol === 'icmp' || protocol === 'icmpv6') {
    if (at + 6 > quote.length) return null;
    const type = readU8(quote, at);
    const echo = protocol === 'icmp' ? ICMP_ECHO_TYPES.has(type) : ICMPV6_ECHO_TYPES.has(type);
    if (!echo) return null;
    const identifier = readU16(quote, at + 4);
    return [identifier, identifier];
  }
  // Other protocols are tracked without ports.
  return [0, 0];
}
