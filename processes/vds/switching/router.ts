/**
 * The distributed router's packet work: the hop itself (TTL or hop limit down by one, MACs
 * rewritten, IPv4 header checksum recomputed) and the few packets it originates (time exceeded,
 * echo replies from its gateway addresses).
 */
import { writeU16 } from '../../../shared/net/bytes.js';
import { encodeIcmpv6 } from '../../../shared/net/icmpv6.js';
import { encodeIcmp } from '../../../shared/net/icmp.js';
import { internetChecksum } from '../../../shared/net/checksum.js';
import { buildIpFrame } from '../../../shared/net/builders.js';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_ICMPV6 } from '../../../shared/net/ipv4.js';
import type { IpAddress } from '../../../shared/net/ip.js';
import { writeMac } from '../../../shared/net/mac.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import { ROUTER_MAC } from './tep.js';

/** Offset of the TTL in an IPv4 header. */
const IPV4_TTL = 8;
/** Offset of the header checksum in an IPv4 header. */
const IPV4_CHECKSUM = 10;
/** Offset of the hop limit in an IPv6 header. */
const IPV6_HOP_LIMIT = 7;

/**
 * A routed copy of `frame`: source MAC the router's, destination MAC `dstMac`, TTL or hop
 * limit one less. `ipOffset` is where the IP header starts; `headerLength` its length (IPv4).
 * The caller has checked that the TTL is at least 2.
 */
export function routedCopy(frame: Uint8Array, ipOffset: number, family: 4 | 6, headerLength: number, dstMac: MacAddress): Uint8Array {
  const out = frame.slice();
  writeMac(out, 0, dstMac);
  writeMac(out, 6, ROUTER_MAC);
  if (family === 4) {
    out[ipOffset + IPV4_TTL] = out[ipOffset + IPV4_TTL]! - 1;
    writeU16(out, ipOffset + IPV4_CHECKSUM, 0);
    writeU16(out, ipOffset + IPV4_CHECKSUM, internetChecksum(out, ipOffset, ipOffset + headerLength));
  } else {
    out[ipOffset + IPV6_HOP_LIMIT] = out[ipOffset + IPV6_HOP_LIMIT]! - 1;
  }
  return out;
}

/** Addresses of a packet the router sends back to a VM. */
export interface RouterReplyAddresses {
  /** The VM's MAC. */
  readonly dstMac: MacAddress;
  /** The gateway address the router answers from. */
  readonly srcIp: IpAddress;
  /** The VM's address. */
  readonly dstIp: IpAddress;
}

/** ICMP (ICMPv6) time exceeded in transit, quoting `original` (the IP packet, header on), from the gateway. */
export function buildTimeExceeded(to: RouterReplyAddresses, family: 4 | 6, original: Uint8Array): Uint8Array {
  const fields = { srcMac: ROUTER_MAC, dstMac: to.dstMac, srcIp: to.srcIp, dstIp: to.dstIp, ttl: 64 };
  if (family === 4) return buildIpFrame(fields, IP_PROTOCOL_ICMP, encodeIcmp({ kind: 'time-exceeded', code: 0, original }));
  return buildIpFrame(fields, IP_PROTOCOL_ICMPV6, encodeIcmpv6({ kind: 'time-exceeded', code: 0, parameter: 0, original }, to.srcIp, to.dstIp));
}
