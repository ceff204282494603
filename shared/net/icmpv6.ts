/**
 * ICMPv6 (RFC 4443) and the neighbour discovery messages built on it (RFC 4861): echo, neighbour
 * solicitation and advertisement with link-layer address options, router solicitation and
 * advertisement, and the error messages. The checksum always covers the IPv6 pseudo-header.
 */
import { checkLength, checkRange, clampEnd, concatBytes, hex, need, readU16, readU32, readU8, writeU16, writeU32 } from './bytes.js';
import { checksumMismatch, internetChecksum, ipv6PseudoHeaderSum } from './checksum.js';
import type { PseudoHeader } from './checksum.js';
import { EncodeError, FrameError } from './errors.js';
import { formatIpv6, parseIpv6 } from './ip.js';
import type { Ipv6Address } from './ip.js';
import { IP_PROTOCOL_ICMPV6 } from './ipv4.js';
import { formatMac, writeMac } from './mac.js';
import type { MacAddress } from './mac.js';

/** ICMPv6 type: destination unreachable. */
export const ICMPV6_DESTINATION_UNREACHABLE = 1;
/** ICMPv6 type: packet too big. */
export const ICMPV6_PACKET_TOO_BIG = 2;
/** ICMPv6 type: time exceeded. */
export const ICMPV6_TIME_EXCEEDED = 3;
/** ICMPv6 type: parameter problem. */
export const ICMPV6_PARAMETER_PROBLEM = 4;
/** ICMPv6 type: echo request. */
export const ICMPV6_ECHO_REQUEST = 128;
/** ICMPv6 type: echo reply. */
export const ICMPV6_ECHO_REPLY = 129;
/** ICMPv6 type: router solicitation. */
export const ICMPV6_ROUTER_SOLICITATION = 133;
/** ICMPv6 type: router advertisement. */
export const ICMPV6_ROUTER_ADVERTISEMENT = 134;
/** ICMPv6 type: neighbour solicitation. */
export const ICMPV6_NEIGHBOR_SOLICITATION = 135;
/** ICMPv6 type: neighbour advertisement. */
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;

/** Neighbour discovery messages must arrive with this hop limit (RFC 4861 section 7.1.1): proof they were not routed. */
export const NDP_HOP_LIMIT = 255;

/** Most of the offending packet an ICMPv6 error quotes: the error must fit the 1280-byte minimum MTU. */
export const ICMPV6_MAX_QUOTED_LENGTH = 1280 - 40 - 8;

const OPTION_SOURCE_LINK_LAYER = 1;
const OPTION_TARGET_LINK_LAYER = 2;
const OPTION_PREFIX_INFORMATION = 3;
const OPTION_MTU = 5;

/** A neighbour discovery option (RFC 4861 section 4.6). */
export type NdpOption =
  | { readonly kind: 'source-link-layer-address'; readonly mac: MacAddress }
  | { readonly kind: 'target-link-layer-address'; readonly mac: MacAddress }
  | {
      readonly kind: 'prefix-information';
      readonly prefixLength: number;
      /** L flag: the prefix is on-link. */
      readonly onLink: boolean;
      /** A flag: usable for stateless address autoconfiguration. */
      readonly autonomous: boolean;
      /** Seconds; 0xffffffff means infinity. */
      readonly validLifetime: number;
      readonly preferredLifetime: number;
      readonly prefix: Ipv6Address;
    }
  | { readonly kind: 'mtu'; readonly mtu: number }
  /** Any other option: its type and the bytes after the type and length octets. */
  | { readonly kind: 'other'; readonly type: number; readonly data: Uint8Array };

/** ICMPv6 echo request or reply. */
export interface Icmpv6Echo {
  readonly kind: 'echo-request' | 'echo-reply';
  readonly identifier: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

/** Neighbour solicitation: who has `target`? (address resolution, duplicate address detection, reachability). */
export interface NeighborSolicitation {
  readonly kind: 'neighbor-solicitation';
  readonly target: Ipv6Address;
  readonly options: readonly NdpOption[];
}

/** Neighbour advertisement: `target` is at the link-layer address in the options. */
export interface NeighborAdvertisement {
  readonly kind: 'neighbor-advertisement';
  /** R flag: the sender is a router. */
  readonly router: boolean;
  /** S flag: sent in response to a solicitation. */
  readonly solicited: boolean;
  /** O flag: should override an existing cache entry. */
  readonly override: boolean;
  readonly target: Ipv6Address;
  readonly options: readonly NdpOption[];
}

/** Router solicitation. */
export interface RouterSolicitation {
  readonly kind: 'router-solicitation';
  readonly options: readonly NdpOption[];
}

/** Router advertisement. */
export interface RouterAdvertisement {
  readonly kind: 'router-advertisement';
  readonly curHopLimit: number;
  /** M flag: addresses are available via DHCPv6. */
  readonly managed: boolean;
  /** O flag: other configuration is available via DHCPv6. */
  readonly otherConfig: boolean;
  /** Seconds; 0 means not a default router. */
  readonly routerLifetime: number;
  /** Milliseconds. */
  readonly reachableTime: number;
  /** Milliseconds. */
  readonly retransTimer: number;
  readonly options: readonly NdpOption[];
}

/** An error message quoting the packet that caused it. `parameter` is the MTU (type 2) or pointer (type 4). */
export interface Icmpv6Error {
  readonly kind: 'destination-unreachable' | 'packet-too-big' | 'time-exceeded' | 'parameter-problem';
  readonly code: number;
  readonly parameter: number;
  readonly original: Uint8Array;
}

/** Any other ICMPv6 message, kept raw. */
export interface Icmpv6Other {
  readonly kind: 'other';
  readonly type: number;
  readonly code: number;
  /** Everything after the 4-byte type/code/checksum. */
  readonly body: Uint8Array;
}

/** An ICMPv6 message as encodeIcmpv6 takes it. */
export type Icmpv6Message =
  | Icmpv6Echo
  | NeighborSolicitation
  | NeighborAdvertisement
  | RouterSolicitation
  | RouterAdvertisement
  | Icmpv6Error
  | Icmpv6Other;

/** A decoded ICMPv6 message with its wire type, code and checksum. */
export type DecodedIcmpv6 = Icmpv6Message & { readonly type: number; readonly code: number; readonly checksum: number };

const ERROR_TYPES = {
  'destination-unreachable': ICMPV6_DESTINATION_UNREACHABLE,
  'packet-too-big': ICMPV6_PACKET_TOO_BIG,
  'time-exceeded': ICMPV6_TIME_EXCEEDED,
  'parameter-problem': ICMPV6_PARAMETER_PROBLEM,
} as const;

function encodeOptions(options: readonly NdpOption[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const option of options) {
    let block: Uint8Array;
    switch (option.kind) {
      case 'source-link-layer-address':
      case 'target-link-layer-address':
        block = new Uint8Array(8);
        block[0] = option.kind === 'source-link-layer-address' ? OPTION_SOURCE_LINK_LAYER : OPTION_TARGET_LINK_LAYER;
        writeMac(block, 2, option.mac);
        break;
      case 'prefix-information':
        block = new Uint8Array(32);
        block[0] = OPTION_PREFIX_INFORMATION;
        block[2] = checkRange('prefixLength', option.prefixLength, 0, 128);
        block[3] = (option.onLink ? 0x80 : 0) | (option.autonomous ? 0x40 : 0);
        writeU32(block, 4, checkRange('validLifetime', option.validLifetime, 0, 0xffffffff));
        writeU32(block, 8, checkRange('preferredLifetime', option.preferredLifetime, 0, 0xffffffff));
        block.set(parseIpv6(option.prefix), 16);
        break;
      case 'mtu':
        block = new Uint8Array(8);
        block[0] = OPTION_MTU;
        writeU32(block, 4, checkRange('mtu', option.mtu, 0, 0xffffffff));
        break;
      case 'other': {
        // Options are sized in 8-byte units including the 2-byte type/length.
        const size = Math.ceil((option.data.length + 2) / 8) * 8;
        checkLength('option.data', size, 255 * 8);
        block = new Uint8Array(size);
        block[0] = checkRange('option.type', option.type, 0, 255);
        block.set(option.data, 2);
        break;
      }
    }
    block[1] = block.length / 8;
    parts.push(block);
  }
  return concatBytes(...parts);
}

/**
 * Encodes an ICMPv6 message with its checksum over the IPv6 pseudo-header of `srcIp` and `dstIp`.
 * Quoted packets in errors are cut so the result fits the IPv6 minimum MTU.
 */
export function encodeIcmpv6(message: Icmpv6Message, srcIp: Ipv6Address, dstIp: Ipv6Address): Uint8Array {
  let type: number;
  let code = 0;
  let head = new Uint8Array(4); // the 4 bytes after type/code/checksum
  let tail: Uint8Array;
  switch (message.kind) {
    case 'echo-request':
    case 'echo-reply':
      type = message.kind === 'echo-request' ? ICMPV6_ECHO_REQUEST : ICMPV6_ECHO_REPLY;
      writeU16(head, 0, checkRange('identifier', message.identifier, 0, 0xffff));
      writeU16(head, 2, checkRange('sequence', message.sequence, 0, 0xffff));
      tail = message.data;
      break;
    case 'neighbor-solicitation':
    case 'neighbor-advertisement': {
      type = message.kind === 'neighbor-solicitation' ? ICMPV6_NEIGHBOR_SOLICITATION : ICMPV6_NEIGHBOR_ADVERTISEMENT;
      if (message.kind === 'neighbor-advertisement') {
        head[0] = (message.router ? 0x80 : 0) | (message.solicited ? 0x40 : 0) | (message.override ? 0x20 : 0);
      }
      const options = encodeOptions(message.options);
      tail = new Uint8Array(16 + options.length);
      tail.set(parseIpv6(message.target), 0);
      tail.set(options, 16);
      break;
    }
    case 'router-solicitation':
      type = ICMPV6_ROUTER_SOLICITATION;
      tail = encodeOptions(message.options);
      break;
    case 'router-advertisement': {
      type = ICMPV6_ROUTER_ADVERTISEMENT;
      head[0] = checkRange('curHopLimit', message.curHopLimit, 0, 255);
      head[1] = (message.managed ? 0x80 : 0) | (message.otherConfig ? 0x40 : 0);
      writeU16(head, 2, checkRange('routerLifetime', message.routerLifetime, 0, 0xffff));
      const options = encodeOptions(message.options);
      tail = new Uint8Array(8 + options.length);
      writeU32(tail, 0, checkRange('reachableTime', message.reachableTime, 0, 0xffffffff));
      writeU32(tail, 4, checkRange('retransTimer', message.retransTimer, 0, 0xffffffff));
      tail.set(options, 8);
      break;
    }
    case 'destination-unreachable':
    case 'packet-too-big':
    case 'time-exceeded':
    case 'parameter-problem':
      type = ERROR_TYPES[message.kind];
      code = message.code;
      writeU32(head, 0, checkRange('parameter', message.parameter, 0, 0xffffffff));
      tail = message.original.subarray(0, ICMPV6_MAX_QUOTED_LENGTH);
      break;
    case 'other':
      type = message.type;
      code = message.code;
      head = new Uint8Array(0);
      tail = message.body;
      break;
  }
  const out = new Uint8Array(4 + head.length + tail.length);
  checkLength('message', out.length, 0xffff);
  out[0] = checkRange('type', type, 0, 255);
  out[1] = checkRange('code', code, 0, 255);
  out.set(head, 4);
  out.set(tail, 4 + head.length);
  const src = parseIpv6(srcIp);
  const dst = parseIpv6(dstIp);
  writeU16(out, 2, internetChecksum(out, 0, out.length, ipv6PseudoHeaderSum(src, dst, IP_PROTOCOL_ICMPV6, out.length)));
  return out;
}

function decodeOptions(bytes: Uint8Array, offset: number, end: number): NdpOption[] {
  const options: NdpOption[] = [];
  let at = offset;
  while (at < end) {
    need(at, 2, end, 'icmpv6', 'NDP option header');
    const type = readU8(bytes, at);
    const units = readU8(bytes, at + 1);
    // RFC 4861 section 4.6: a zero length would loop forever, so the whole packet is discarded.
    if (units === 0) throw new FrameError('bad-length', 'icmpv6', `NDP option type ${type} has length 0`, at + 1);
    const length = units * 8;
    need(at, length, end, 'icmpv6', `NDP option type ${type}`);
    switch (type) {
      case OPTION_SOURCE_LINK_LAYER:
      case OPTION_TARGET_LINK_LAYER:
        options.push({
          kind: type === OPTION_SOURCE_LINK_LAYER ? 'source-link-layer-address' : 'target-link-layer-address',
          mac: formatMac(bytes, at + 2),
        });
        break;
      case OPTION_PREFIX_INFORMATION: {
        if (length !== 32) throw new FrameError('bad-length', 'icmpv6', `NDP prefix information option is ${length} bytes, expected 32`, at + 1);
        const flags = readU8(bytes, at + 3);
        options.push({
          kind: 'prefix-information',
          prefixLength: readU8(bytes, at + 2),
          onLink: (flags & 0x80) !== 0,
          autonomous: (flags & 0x40) !== 0,
          validLifetime: readU32(bytes, at + 4),
          preferredLifetime: readU32(bytes, at + 8),
          prefix: formatIpv6(bytes, at + 16),
        });
        break;
      }
      case OPTION_MTU:
        options.push({ kind: 'mtu', mtu: readU32(bytes, at + 4) });
        break;
      default:
        options.push({ kind: 'other', type, data: bytes.subarray(at + 2, at + length) });
    }
    at += length;
  }
  return options;
}

/**
 * Decodes the ICMPv6 message in [offset, end), where `end` is the IPv6 payload end. The checksum
 * is verified against `pseudoHeader` (the IPv6 source and destination); pass null to skip it.
 */
export function decodeIcmpv6(bytes: Uint8Array, offset: number, end: number | undefined, pseudoHeader: PseudoHeader | null): DecodedIcmpv6 {
  const limit = clampEnd(bytes, end);
  need(offset, 4, limit, 'icmpv6', 'ICMPv6 header');
  const type = readU8(bytes, offset);
  const code = readU8(bytes, offset + 1);
  const checksum = readU16(bytes, offset + 2);
  if (pseudoHeader !== null) {
    if (pseudoHeader.src.length !== 16 || pseudoHeader.dst.length !== 16) {
      throw new EncodeError('bad-value', 'pseudoHeader', 'ICMPv6 checksums need IPv6 (16-byte) pseudo-header addresses');
    }
    const initial = ipv6PseudoHeaderSum(pseudoHeader.src, pseudoHeader.dst, IP_PROTOCOL_ICMPV6, limit - offset);
    const expected = checksumMismatch(bytes, offset, limit, offset + 2, initial);
    if (expected !== null) {
      throw new FrameError('bad-checksum', 'icmpv6', `ICMPv6 checksum is ${hex(checksum)}, expected ${hex(expected)}`, offset + 2);
    }
  }
  const wire = { type, code, checksum };
  const requireCodeZero = (name: string): void => {
    if (code !== 0) throw new FrameError('malformed', 'icmpv6', `ICMPv6 ${name} code is ${code}, expected 0`, offset + 1);
  };
  switch (type) {
    case ICMPV6_ECHO_REQUEST:
    case ICMPV6_ECHO_REPLY:
      need(offset, 8, limit, 'icmpv6', 'ICMPv6 echo header');
      return {
        ...wire,
        kind: type === ICMPV6_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        identifier: readU16(bytes, offset + 4),
        sequence: readU16(bytes, offset + 6),
        data: bytes.subarray(offset + 8, limit),
      };
    case ICMPV6_NEIGHBOR_SOLICITATION:
    case ICMPV6_NEIGHBOR_ADVERTISEMENT: {
      const solicitation = type === ICMPV6_NEIGHBOR_SOLICITATION;
      need(offset, 24, limit, 'icmpv6', solicitation ? 'Neighbor solicitation' : 'Neighbor advertisement');
      requireCodeZero(solicitation ? 'neighbor solicitation' : 'neighbor advertisement');
      const target = formatIpv6(bytes, offset + 8);
      const options = decodeOptions(bytes, offset + 24, limit);
      if (solicitation) return { ...wire, kind: 'neighbor-solicitation', target, options };
      const flags = readU8(bytes, offset + 4);
      return {
        ...wire,
        kind: 'neighbor-advertisement',
        router: (flags & 0x80) !== 0,
        solicited: (flags & 0x40) !== 0,
        override: (flags & 0x20) !== 0,
        target,
        options,
      };
    }
    case ICMPV6_ROUTER_SOLICITATION:
      need(offset, 8, limit, 'icmpv6', 'Router solicitation');
      requireCodeZero('router solicitation');
      return { ...wire, kind: 'router-solicitation', options: decodeOptions(bytes, offset + 8, limit) };
    case ICMPV6_ROUTER_ADVERTISEMENT: {
      need(offset, 16, limit, 'icmpv6', 'Router advertisement');
      requireCodeZero('router advertisement');
      const flags = readU8(bytes, offset + 5);
      return {
        ...wire,
        kind: 'router-advertisement',
        curHopLimit: readU8(bytes, offset + 4),
        managed: (flags & 0x80) !== 0,
        otherConfig: (flags & 0x40) !== 0,
        routerLifetime: readU16(bytes, offset + 6),
        reachableTime: readU32(bytes, offset + 8),
        retransTimer: readU32(bytes, offset + 12),
        options: decodeOptions(bytes, offset + 16, limit),
      };
    }
    case ICMPV6_DESTINATION_UNREACHABLE:
    case ICMPV6_PACKET_TOO_BIG:
    case ICMPV6_TIME_EXCEEDED:
    case ICMPV6_PARAMETER_PROBLEM: {
      need(offset, 8, limit, 'icmpv6', 'ICMPv6 error header');
      const kind =
        type === ICMPV6_DESTINATION_UNREACHABLE
          ? 'destination-unreachable'
          : type === ICMPV6_PACKET_TOO_BIG
            ? 'packet-too-big'
            : type === ICMPV6_TIME_EXCEEDED
              ? 'time-exceeded'
              : 'parameter-problem';
      return { ...wire, kind, parameter: readU32(bytes, offset + 4), original: bytes.subarray(offset + 8, limit) };
    }
    default:
      return { ...wire, kind: 'other', body: bytes.subarray(offset + 4, limit) };
  }
}

/** The link-layer address an NDP message carries (source for NS/RS/RA, target for NA), if any. */
export function ndpLinkLayerAddress(message: Icmpv6Message): MacAddress | undefined {
  if (!('options' in message)) return undefined;
  const wanted = message.kind === 'neighbor-advertisement' ? 'target-link-layer-address' : 'source-link-layer-address';
  for (const option of message.options) if (option.kind === wanted) return option.mac;
  return undefined;
}
