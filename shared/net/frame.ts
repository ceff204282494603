/**
 * The layered frame decoder: one call turns wire bytes into a description of every layer this
 * library understands, including the Ethernet frame inside a GENEVE tunnel.
 *
 * It either returns a fully validated description or throws FrameError; there is no partially
 * decoded result, so a node never acts on a frame whose later layers were garbage.
 */
import { readU16 } from './bytes.js';
import type { PseudoHeader } from './checksum.js';
import { decodeArp } from './arp.js';
import type { ArpPacket } from './arp.js';
import { FrameError } from './errors.js';
import {
  decodeEthernet,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_LLDP,
  ETHERTYPE_TRANSPARENT_ETHERNET,
} from './ethernet.js';
import type { DecodedEthernet, VlanTag } from './ethernet.js';
import { decodeGeneve, GENEVE_UDP_PORT } from './geneve.js';
import type { DecodedGeneve } from './geneve.js';
import { decodeIcmp } from './icmp.js';
import type { DecodedIcmp } from './icmp.js';
import { decodeIcmpv6 } from './icmpv6.js';
import type { DecodedIcmpv6 } from './icmpv6.js';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_ICMPV6, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP } from './ipv4.js';
import type { DecodedIpv4 } from './ipv4.js';
import { decodeIpLayer } from './ip-layer.js';
import type { DecodedIpv6 } from './ipv6.js';
import { decodeLldp } from './lldp.js';
import type { Lldpdu } from './lldp.js';
import { decodeTcp, formatTcpFlags } from './tcp.js';
import type { TcpSegment } from './tcp.js';
import { decodeUdp } from './udp.js';
import type { UdpDatagram } from './udp.js';

/** A layer decodeFrame can report, in the order they nest. */
export type LayerName = 'ethernet' | 'vlan' | 'arp' | 'ipv4' | 'ipv6' | 'lldp' | 'icmp' | 'icmpv6' | 'udp' | 'tcp' | 'geneve';

/** A GENEVE header and, for protocol type 0x6558, the decoded inner Ethernet frame. */
export type DecodedGeneveLayer = DecodedGeneve & { readonly inner?: DecodedFrame };

/**
 * Every layer found in a frame. Exactly one network layer (arp, ipv4, ipv6, lldp) is present;
 * at most one transport layer; `geneve` only on UDP to port 6081.
 */
export interface DecodedFrame {
  /** Layer names in the order they were found (inner frame layers are in geneve.inner). */
  readonly layers: readonly LayerName[];
  /** Absolute offset of this frame in the decoded buffer (non-zero for a tunnelled inner frame). */
  readonly offset: number;
  /** Length of this frame, padding included. */
  readonly length: number;
  readonly ethernet: DecodedEthernet;
  readonly vlan?: VlanTag;
  readonly arp?: ArpPacket;
  readonly ipv4?: DecodedIpv4;
  readonly ipv6?: DecodedIpv6;
  readonly lldp?: Lldpdu;
  readonly icmp?: DecodedIcmp;
  readonly icmpv6?: DecodedIcmpv6;
  readonly udp?: UdpDatagram;
  readonly tcp?: TcpSegment;
  readonly geneve?: DecodedGeneveLayer;
  /**
   * The innermost bytes no layer claimed: application data of UDP/TCP, the payload of an IP
   * protocol or fragment this decoder does not parse, a non-Ethernet GENEVE payload. Empty for
   * ARP, LLDP, ICMP and a decoded tunnel. A view into the decoded buffer.
   */
  readonly payload: Uint8Array;
}

/** Options for decodeFrame. */
export interface DecodeFrameOptions {
  /** Verify IPv4 header, ICMP, ICMPv6, UDP and TCP checksums (default true). */
  readonly verifyChecksums?: boolean;
  /** How many GENEVE tunnels deep to follow before giving up with `unsupported` (default 4). */
  readonly maxTunnelDepth?: number;
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

const EMPTY = new Uint8Array(0);

/**
 * Decodes a frame completely, validating every layer it understands. Throws FrameError (and
 * nothing else) for malformed input; an EtherType other than IPv4, IPv6, ARP or LLDP is
 * `unknown-ethertype`. An L2 device that forwards what it does not understand should call
 * decodeEthernet instead.
 */
export function decodeFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}): DecodedFrame {
  return decodeAt(bytes, 0, bytes.length, options, 0);
}

/** The outcome of tryDecodeFrame: a frame, or the FrameError to count. */
export type DecodeResult = { readonly ok: true; readonly frame: DecodedFrame } | { readonly ok: false; readonly error: FrameError };

/**
 * decodeFrame without exceptions for bad input, for receive paths that count drops by
 * `error.code`. Errors other than FrameError are bugs and are rethrown.
 */
export function tryDecodeFrame(bytes: Uint8Array, options: DecodeFrameOptions = {}): DecodeResult {
  try {
    return { ok: true, frame: decodeFrame(bytes, options) };
  } catch (error) {
    if (error instanceof FrameError) return { ok: false, error };
    throw error;
  }
}

function decodeAt(bytes: Uint8Array, offset: number, end: number, options: DecodeFrameOptions, depth: number): DecodedFrame {
  const verify = options.verifyChecksums !== false;
  const ethernet = decodeEthernet(bytes, offset, end);
  const layers: LayerName[] = ['ethernet'];
  const frame: Writable<DecodedFrame> = { layers, offset, length: end - offset, ethernet, payload: EMPTY };
  if (ethernet.vlan) {
    layers.push('vlan');
    frame.vlan = ethernet.vlan;
  }
  const at = ethernet.payloadOffset;
  const typeOffset = at - 2;

  let pseudo: PseudoHeader | null = null;
  let protocol = -1;
  let l4Offset = 0;
  let l4End = 0;
  switch (ethernet.etherType) {
    case ETHERTYPE_ARP:
      layers.push('arp');
      frame.arp = decodeArp(bytes, at, end);
      return frame;
    case ETHERTYPE_LLDP:
      layers.push('lldp');
      frame.lldp = decodeLldp(bytes, at, end);
      return frame;
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6: {
      const layer = decodeIpLayer(bytes, ethernet.etherType, at, end, verify)!;
      if (layer.family === 4) {
        layers.push('ipv4');
        frame.ipv4 = layer.ip;
      } else {
        layers.push('ipv6');
        frame.ipv6 = layer.ip;
      }
      frame.payload = layer.ip.payload;
      if (layer.ip.isFragment) return frame;
      pseudo = layer.pseudo;
      protocol = layer.ip.protocol;
      l4Offset = layer.ip.payloadOffset;
      l4End = layer.ip.payloadEnd;
      break;
    }
    default: {
      const type = ethernet.etherType;
      const detail =
        type < 0x0600
          ? `Ethernet type field is ${type}, an 802.3 length rather than an EtherType`
          : `Ethernet type 0x${type.toString(16).padStart(4, '0')} is not IPv4, IPv6, ARP or LLDP`;
      throw new FrameError('unknown-ethertype', ethernet.vlan ? 'vlan' : 'ethernet', detail, typeOffset);
    }
  }

  const checksumHeader = verify ? pseudo : null;
  const v4 = frame.ipv4 !== undefined;
  if (protocol === IP_PROTOCOL_ICMP && v4) {
    layers.push('icmp');
    frame.icmp = decodeIcmp(bytes, l4Offset, l4End, { verifyChecksum: verify });
    frame.payload = EMPTY;
  } else if (protocol === IP_PROTOCOL_ICMPV6 && !v4) {
    layers.push('icmpv6');
    frame.icmpv6 = decodeIcmpv6(bytes, l4Offset, l4End, checksumHeader);
    frame.payload = EMPTY;
  } else if (protocol === IP_PROTOCOL_TCP) {
    layers.push('tcp');
    frame.tcp = decodeTcp(bytes, l4Offset, l4End, checksumHeader);
    frame.payload = frame.tcp.payload;
  } else if (protocol === IP_PROTOCOL_UDP) {
    layers.push('udp');
    const udp = decodeUdp(bytes, l4Offset, l4End, checksumHeader);
    frame.udp = udp;
    frame.payload = udp.payload;
    if (udp.dstPort === GENEVE_UDP_PORT) {
      layers.push('geneve');
      const udpEnd = udp.payloadOffset + udp.payload.length;
      const geneve = decodeGeneve(bytes, udp.payloadOffset, udpEnd);
      if (geneve.protocolType === ETHERTYPE_TRANSPARENT_ETHERNET) {
        const maxDepth = options.maxTunnelDepth ?? 4;
        if (depth >= maxDepth) {
          throw new FrameError('unsupported', 'geneve', `GENEVE tunnels are nested more than ${maxDepth} deep`, udp.payloadOffset);
        }
        frame.geneve = { ...geneve, inner: decodeAt(bytes, geneve.payloadOffset, udpEnd, options, depth + 1) };
        frame.payload = EMPTY;
      } else {
        frame.geneve = geneve;
        frame.payload = geneve.payload;
      }
    }
  }
  return frame;
}

/** The innermost frame: the tunnelled one for GENEVE traffic, the frame itself otherwise. */
export function innermostFrame(frame: DecodedFrame): DecodedFrame {
  let current = frame;
  while (current.geneve?.inner) current = current.geneve.inner;
  return current;
}

/**
 * A one-line, tcpdump-like summary for logs and the UI, e.g.
 * `02:00:00:00:00:01 > 02:00:00:00:00:02 vlan 10 IPv4 10.0.0.1:5000 > 10.0.0.2:53 UDP len 12`.
 */
export function summarizeFrame(frame: DecodedFrame): string {
  const parts: string[] = [`${frame.ethernet.src} > ${frame.ethernet.dst}`];
  if (frame.vlan) parts.push(`vlan ${frame.vlan.vid}`);
  const ip = frame.ipv4 ?? frame.ipv6;
  const family = frame.ipv4 ? 'IPv4' : 'IPv6';
  const port = (address: string, value: number): string => (frame.ipv6 ? `[${address}]:${value}` : `${address}:${value}`);
  if (frame.arp) {
    parts.push(
      frame.arp.operation === 1
        ? `ARP who-has ${frame.arp.targetIp} tell ${frame.arp.senderIp}`
        : `ARP ${frame.arp.senderIp} is-at ${frame.arp.senderMac}`,
    );
  } else if (frame.lldp) {
    parts.push(`LLDP ${frame.lldp.systemName ?? frame.lldp.chassisId.value} port ${frame.lldp.portId.value} ttl ${frame.lldp.ttlSeconds}`);
  } else if (ip && frame.tcp) {
    const tcp = frame.tcp;
    parts.push(
      `${family} ${port(ip.src, tcp.srcPort)} > ${port(ip.dst, tcp.dstPort)} TCP [${formatTcpFlags(tcp.flags)}] seq ${tcp.seq} ack ${tcp.ack} win ${tcp.window} len ${tcp.payload.length}`,
    );
  } else if (ip && frame.udp) {
    const udp = frame.udp;
    parts.push(`${family} ${port(ip.src, udp.srcPort)} > ${port(ip.dst, udp.dstPort)} UDP len ${udp.payload.length}`);
    if (frame.geneve) {
      parts.push(`GENEVE vni ${frame.geneve.vni}`);
      if (frame.geneve.inner) parts.push(`[${summarizeFrame(frame.geneve.inner)}]`);
    }
  } else if (ip && frame.icmp) {
    const icmp = frame.icmp;
    const what = icmp.kind === 'echo-request' || icmp.kind === 'echo-reply' ? `${icmp.kind} id ${icmp.identifier} seq ${icmp.sequence}` : `${icmp.kind} code ${icmp.code}`;
    parts.push(`${family} ${ip.src} > ${ip.dst} ICMP ${what}`);
  } else if (ip && frame.icmpv6) {
    const icmp = frame.icmpv6;
    const what =
      icmp.kind === 'neighbor-solicitation' || icmp.kind === 'neighbor-advertisement' ? `${icmp.kind} ${icmp.target}` : icmp.kind;
    parts.push(`${family} ${ip.src} > ${ip.dst} ICMPv6 ${what}`);
  } else if (ip) {
    parts.push(`${family} ${ip.src} > ${ip.dst} proto ${frame.ipv4 ? frame.ipv4.protocol : (frame.ipv6?.protocol ?? 0)} len ${ip.payload.length}`);
  }
  return parts.join(' ');
}

/** The EtherType at the type field position of a frame without validating anything, or -1 if too short. */
export function peekEtherType(bytes: Uint8Array): number {
  if (bytes.length < 14) return -1;
  const type = readU16(bytes, 12);
  if (type !== 0x8100) return type;
  return bytes.length < 18 ? -1 : readU16(bytes, 16);
}
