/**
 * Whole-frame builders for what emulated boxes send every day: UDP and TCP packets, ARP,
 * pings, ICMP rejects, IPv6 neighbour discovery, LLDP and GENEVE encapsulation. Each one stacks
 * the per-protocol encoders, so lengths and checksums are always right.
 */
import { buildLldpFrame } from './lldp.js';
import type { LldpFrameFields } from './lldp.js';
import { ARP_REPLY, ARP_REQUEST, encodeArp } from './arp.js';
import { EncodeError } from './errors.js';
import { encodeEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js';
import type { VlanTag } from './ethernet.js';
import { flowSourcePort } from './flow.js';
import { encodeGeneve, GENEVE_UDP_PORT } from './geneve.js';
import type { GeneveOption } from './geneve.js';
import { encodeIcmp } from './icmp.js';
import { encodeIcmpv6, NDP_HOP_LIMIT } from './icmpv6.js';
import type { NdpOption } from './icmpv6.js';
import { ipFamily, ipv6MulticastMac, solicitedNodeMulticast } from './ip.js';
import type { IpAddress, Ipv4Address, Ipv6Address } from './ip.js';
import { encodeIpv4, IP_PROTOCOL_ICMP, IP_PROTOCOL_ICMPV6, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP } from './ipv4.js';
import { encodeIpv6 } from './ipv6.js';
import { BROADCAST_MAC, ZERO_MAC } from './mac.js';
import type { MacAddress } from './mac.js';
import { encodeTcp } from './tcp.js';
import type { TcpFlags, TcpOption } from './tcp.js';
import { encodeUdp } from './udp.js';

export { buildLldpFrame };
export type { LldpFrameFields };

/** The Ethernet and IP fields every IP builder takes. The IP family follows the addresses. */
export interface IpFrameFields {
  readonly srcMac: MacAddress;
  readonly dstMac: MacAddress;
  /** An 802.1Q tag or just its VLAN id. */
  readonly vlan?: VlanTag | number;
  readonly srcIp: IpAddress;
  readonly dstIp: IpAddress;
  /** IPv4 TTL or IPv6 hop limit; default 64. */
  readonly ttl?: number;
  /** IPv4 identification; default 0. Ignored for IPv6. */
  readonly id?: number;
  /** DSCP (IPv4) or the upper 6 bits of the traffic class (IPv6). */
  readonly dscp?: number;
  /** IPv4 DF bit; default false. Ignored for IPv6, which never fragments in transit. */
  readonly dontFragment?: boolean;
  /** IPv6 flow label; default 0. */
  readonly flowLabel?: number;
  /** Pad to the 60-byte Ethernet minimum; default true, as a NIC does. */
  readonly pad?: boolean;
}

/** Wraps an upper-layer payload in IP (family by address) and Ethernet. */
export function buildIpFrame(fields: IpFrameFields, protocol: number, payload: Uint8Array): Uint8Array {
  const family = ipFamily(fields.srcIp);
  if (ipFamily(fields.dstIp) !== family) {
    throw new EncodeError('bad-value', 'dstIp', `Source ${fields.srcIp} and destination ${fields.dstIp} are of different IP families`);
  }
  const packet =
    family === 4
      ? encodeIpv4({
          src: fields.srcIp,
          dst: fields.dstIp,
          protocol,
          payload,
          ttl: fields.ttl ?? 64,
          identification: fields.id ?? 0,
          dscp: fields.dscp ?? 0,
          dontFragment: fields.dontFragment ?? false,
        })
      : encodeIpv6({
          src: fields.srcIp,
          dst: fields.dstIp,
          nextHeader: protocol,
          payload,
          hopLimit: fields.ttl ?? 64,
          trafficClass: (fields.dscp ?? 0) << 2,
          flowLabel: fields.flowLabel ?? 0,
        });
  return encodeEthernet({
    dst: fields.dstMac,
    src: fields.srcMac,
    ...(fields.vlan !== undefined ? { vlan: fields.vlan } : {}),
    etherType: family === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6,
    payload: packet,
    pad: fields.pad ?? true,
  });
}

/** Fields for a UDP frame. */
export interface UdpFrameFields extends IpFrameFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  /** Over IPv4, false sends checksum 0 (none); default true. */
  readonly udpChecksum?: boolean;
}

/** Builds Ethernet / IPv4 or IPv6 / UDP, with every length and checksum filled in. */
export function buildUdpFrame(fields: UdpFrameFields): Uint8Array {
  const udp = encodeUdp({
    srcPort: fields.srcPort,
    dstPort: fields.dstPort,
    payload: fields.payload,
    srcIp: fields.srcIp,
    dstIp: fields.dstIp,
    checksum: fields.udpChecksum ?? true,
  });
  return buildIpFrame(fields, IP_PROTOCOL_UDP, udp);
}

function requireIpv4(fields: IpFrameFields, builder: string): void {
  if (ipFamily(fields.srcIp) !== 4) {
    throw new EncodeError('bad-value', 'srcIp', `${builder} needs IPv4 addresses, got ${fields.srcIp}`);
  }
}

/** Builds Ethernet / IPv4 / UDP; like buildUdpFrame but refuses IPv6 addresses. */
export function buildUdpIpv4Frame(fields: UdpFrameFields): Uint8Array {
  requireIpv4(fields, 'buildUdpIpv4Frame');
  return buildUdpFrame(fields);
}

/** Fields for a TCP frame. */
export interface TcpFrameFields extends IpFrameFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack?: number;
  readonly flags: Partial<TcpFlags>;
  /** Default 65535. */
  readonly window?: number;
  readonly options?: readonly TcpOption[];
  readonly payload?: Uint8Array;
}

/** Builds Ethernet / IPv4 or IPv6 / TCP, with every length and checksum filled in. */
export function buildTcpFrame(fields: TcpFrameFields): Uint8Array {
  const tcp = encodeTcp({
    srcPort: fields.srcPort,
    dstPort: fields.dstPort,
    seq: fields.seq,
    ack: fields.ack ?? 0,
    flags: fields.flags,
    window: fields.window ?? 0xffff,
    options: fields.options ?? [],
    payload: fields.payload ?? new Uint8Array(0),
    srcIp: fields.srcIp,
    dstIp: fields.dstIp,
  });
  return buildIpFrame(fields, IP_PROTOCOL_TCP, tcp);
}

/** Builds Ethernet / IPv4 / TCP; like buildTcpFrame but refuses IPv6 addresses. */
export function buildTcpIpv4Frame(fields: TcpFrameFields): Uint8Array {
  requireIpv4(fields, 'buildTcpIpv4Frame');
  return buildTcpFrame(fields);
}

/** Fields for an ARP request. */
export interface ArpRequestFields {
  readonly srcMac: MacAddress;
  readonly senderIp: Ipv4Address;
  readonly targetIp: Ipv4Address;
  readonly vlan?: VlanTag | number;
  /** Default true. */
  readonly pad?: boolean;
}

/** Builds a broadcast ARP request: who has targetIp? tell senderIp. */
export function buildArpRequest(fields: ArpRequestFields): Uint8Array {
  return arpFrame(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, fields);
}

/** An ARP packet in an Ethernet frame to `dst`; the sender is the frame's source. */
function arpFrame(operation: number, dst: MacAddress, targetMac: MacAddress, fields: ArpRequestFields): Uint8Array {
  return encodeEthernet({
    dst,
    src: fields.srcMac,
    ...(fields.vlan !== undefined ? { vlan: fields.vlan } : {}),
    etherType: ETHERTYPE_ARP,
    payload: encodeArp({ operation, senderMac: fields.srcMac, senderIp: fields.senderIp, targetMac, targetIp: fields.targetIp }),
    pad: fields.pad ?? true,
  });
}

/** Fields for an ARP reply. */
export interface ArpReplyFields {
  /** The answering interface: sender hardware address and Ethernet source. */
  readonly srcMac: MacAddress;
  readonly senderIp: Ipv4Address;
  /** The asker: target hardware address and Ethernet destination. */
  readonly dstMac: MacAddress;
  readonly targetIp: Ipv4Address;
  readonly vlan?: VlanTag | number;
  /** Default true. */
  readonly pad?: boolean;
}

/** Builds a unicast ARP reply: senderIp is at srcMac. */
export function buildArpReply(fields: ArpReplyFields): Uint8Array {
  return arpFrame(ARP_REPLY, fields.dstMac, fields.dstMac, fields);
}

/**
 * Builds a gratuitous ARP (a broadcast request for one's own address). A VM announces itself
 * this way after a migration so switches relearn which port its MAC is behind.
 */
export function buildGratuitousArp(fields: { readonly srcMac: MacAddress; readonly ip: Ipv4Address; readonly vlan?: VlanTag | number }): Uint8Array {
  return buildArpRequest({ srcMac: fields.srcMac, senderIp: fields.ip, targetIp: fields.ip, ...(fields.vlan !== undefined ? { vlan: fields.vlan } : {}) });
}

/** Fields for a ping. */
export interface IcmpEchoFrameFields extends IpFrameFields {
  readonly identifier: number;
  readonly sequence: number;
  readonly data?: Uint8Array;
  /** Build the echo reply instead of the request. */
  readonly reply?: boolean;
}

/** Builds an ICMP echo request or reply, as ICMPv6 when the addresses are IPv6. */
export function buildIcmpEchoFrame(fields: IcmpEchoFrameFields): Uint8Array {
  const message = {
    kind: fields.reply === true ? ('echo-reply' as const) : ('echo-request' as const),
    identifier: fields.identifier,
    sequence: fields.sequence,
    data: fields.data ?? new Uint8Array(0),
  };
  if (ipFamily(fields.srcIp) === 6) {
    return buildIpFrame(fields, IP_PROTOCOL_ICMPV6, encodeIcmpv6(message, fields.srcIp, fields.dstIp));
  }
  return buildIpFrame(fields, IP_PROTOCOL_ICMP, encodeIcmp(message));
}

/** Fields for an ICMP destination unreachable. */
export interface IcmpUnreachableFrameFields extends IpFrameFields {
  /** ICMP_UNREACHABLE_* code; a firewall reject uses 13 (administratively prohibited). */
  readonly code: number;
  /** The offending IPv4 packet (from its IP header on); it is quoted up to ICMP_MAX_QUOTED_LENGTH. */
  readonly original: Uint8Array;
  /** For code 4 (fragmentation needed). */
  readonly nextHopMtu?: number;
}

/** Builds an IPv4 ICMP destination unreachable quoting the packet that caused it. */
export function buildIcmpUnreachableFrame(fields: IcmpUnreachableFrameFields): Uint8Array {
  requireIpv4(fields, 'buildIcmpUnreachableFrame');
  const icmp = encodeIcmp({ kind: 'destination-unreachable', code: fields.code, nextHopMtu: fields.nextHopMtu ?? 0, original: fields.original });
  return buildIpFrame(fields, IP_PROTOCOL_ICMP, icmp);
}

/** Fields for a neighbour solicitation. */
export interface NeighborSolicitationFields {
  readonly srcMac: MacAddress;
  /** The sender's address, or `::` for duplicate address detection (then no source link-layer option is sent). */
  readonly srcIp: Ipv6Address;
  /** The address being resolved. */
  readonly targetIp: Ipv6Address;
  readonly vlan?: VlanTag | number;
  /** Default true. */
  readonly pad?: boolean;
}

/** Builds a neighbour solicitation to the target's solicited-node multicast group, hop limit 255. */
export function buildNeighborSolicitation(fields: NeighborSolicitationFields): Uint8Array {
  const group = solicitedNodeMulticast(fields.targetIp);
  const unspecified = fields.srcIp === '::';
  const options: NdpOption[] = unspecified ? [] : [{ kind: 'source-link-layer-address', mac: fields.srcMac }];
  const icmp = encodeIcmpv6({ kind: 'neighbor-solicitation', target: fields.targetIp, options }, fields.srcIp, group);
  return buildIpFrame(
    { srcMac: fields.srcMac, dstMac: ipv6MulticastMac(group), srcIp: fields.srcIp, dstIp: group, ttl: NDP_HOP_LIMIT, pad: fields.pad ?? true, ...(fields.vlan !== undefined ? { vlan: fields.vlan } : {}) },
    IP_PROTOCOL_ICMPV6,
    icmp,
  );
}

/** Fields for a neighbour advertisement. */
export interface NeighborAdvertisementFields {
  readonly srcMac: MacAddress;
  readonly dstMac: MacAddress;
  readonly srcIp: Ipv6Address;
  readonly dstIp: Ipv6Address;
  /** The address being advertised; default srcIp. */
  readonly targetIp?: Ipv6Address;
  readonly router?: boolean;
  /** Default true: the usual answer to a solicitation. */
  readonly solicited?: boolean;
  /** Default true. */
  readonly override?: boolean;
  readonly vlan?: VlanTag | number;
  /** Default true. */
  readonly pad?: boolean;
}

/** Builds a neighbour advertisement carrying the target link-layer address option, hop limit 255. */
export function buildNeighborAdvertisement(fields: NeighborAdvertisementFields): Uint8Array {
  const icmp = encodeIcmpv6(
    {
      kind: 'neighbor-advertisement',
      router: fields.router ?? false,
      solicited: fields.solicited ?? true,
      override: fields.override ?? true,
      target: fields.targetIp ?? fields.srcIp,
      options: [{ kind: 'target-link-layer-address', mac: fields.srcMac }],
    },
    fields.srcIp,
    fields.dstIp,
  );
  return buildIpFrame(
    { srcMac: fields.srcMac, dstMac: fields.dstMac, srcIp: fields.srcIp, dstIp: fields.dstIp, ttl: NDP_HOP_LIMIT, pad: fields.pad ?? true, ...(fields.vlan !== undefined ? { vlan: fields.vlan } : {}) },
    IP_PROTOCOL_ICMPV6,
    icmp,
  );
}

/** Fields for a GENEVE-encapsulated frame: the outer headers (IPv4 or IPv6 by address) and the tunnel. */
export interface GeneveFrameFields extends IpFrameFields {
  /** The complete inner Ethernet frame. */
  readonly inner: Uint8Array;
  /** 24-bit virtual network identifier. */
  readonly vni: number;
  /**
   * Outer UDP source port: a number, or `'flow'` (the default) to derive it from the inner
   * frame's flow hash for ECMP entropy.
   */
  readonly srcPort?: number | 'flow';
  readonly options?: readonly GeneveOption[];
  readonly oam?: boolean;
  /** Outer UDP checksum over IPv4; default true. Always computed over IPv6. */
  readonly udpChecksum?: boolean;
}

/**
 * Wraps an inner Ethernet frame in Ethernet / IP / UDP 6081 / GENEVE. The outer IPv4 header has
 * DF set unless told otherwise, since tunnel endpoints rely on path MTU discovery rather than
 * fragmenting overlay traffic.
 */
export function buildGeneveFrame(fields: GeneveFrameFields): Uint8Array {
  const srcPort = fields.srcPort === undefined || fields.srcPort === 'flow' ? flowSourcePort(fields.inner) : fields.srcPort;
  const geneve = encodeGeneve({
    vni: fields.vni,
    options: fields.options ?? [],
    oam: fields.oam ?? false,
    payload: fields.inner,
  });
  return buildUdpFrame({
    ...fields,
    dontFragment: fields.dontFragment ?? true,
    srcPort,
    dstPort: GENEVE_UDP_PORT,
    payload: geneve,
    udpChecksum: fields.udpChecksum ?? true,
  });
}
