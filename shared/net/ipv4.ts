/**
 * IPv4 headers (RFC 791). Encoding computes the header checksum; decoding validates version,
 * lengths and checksum and tells where the payload lies, trimming Ethernet padding.
 */
import { checkLength, checkRange, clampEnd, hex, need, readU16, readU8, writeU16 } from './bytes.js';
import { finishChecksum, checksumMismatch, onesComplementSum } from './checksum.js';
import { EncodeError, FrameError } from './errors.js';
import { formatIpv4, ipv4Bytes } from './ip.js';
import type { Ipv4Address } from './ip.js';

/** IANA protocol number of ICMP. */
export const IP_PROTOCOL_ICMP = 1;
/** IANA protocol number of TCP. */
export const IP_PROTOCOL_TCP = 6;
/** IANA protocol number of UDP. */
export const IP_PROTOCOL_UDP = 17;
/** IANA protocol number of ICMPv6. */
export const IP_PROTOCOL_ICMPV6 = 58;

/** Length of an IPv4 header without options. */
export const IPV4_MIN_HEADER_LENGTH = 20;
/** Largest IPv4 packet: the total length field is 16 bits. */
export const IPV4_MAX_PACKET_LENGTH = 0xffff;

/** A decoded IPv4 header. */
export interface Ipv4Header {
  /** Differentiated services code point (upper 6 bits of the old TOS byte). */
  readonly dscp: number;
  /** Explicit congestion notification (lower 2 bits). */
  readonly ecn: number;
  readonly totalLength: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Offset of this fragment in bytes (the field value times 8). */
  readonly fragmentOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  /** 20 plus options. */
  readonly headerLength: number;
  /** Raw option bytes (empty without options). */
  readonly options: Uint8Array;
}

/** A decoded IPv4 packet: header and where its payload lies. */
export interface DecodedIpv4 extends Ipv4Header {
  /** Absolute offset of the payload in the decoded buffer. */
  readonly payloadOffset: number;
  /** Absolute end of the payload (offset + total length), before any link-layer padding. */
  readonly payloadEnd: number;
  /** The payload, a view into the decoded buffer. */
  readonly payload: Uint8Array;
  /** True for any fragment (more-fragments set or a non-zero offset): the payload is not a whole upper-layer packet. */
  readonly isFragment: boolean;
}

/** Fields for encodeIpv4. */
export interface Ipv4Fields {
  readonly src: Ipv4Address;
  readonly dst: Ipv4Address;
  readonly protocol: number;
  readonly payload: Uint8Array;
  /** Default 64. */
  readonly ttl?: number;
  /** Default 0. */
  readonly identification?: number;
  readonly dscp?: number;
  readonly ecn?: number;
  /** Default false. */
  readonly dontFragment?: boolean;
  readonly moreFragments?: boolean;
  /** In bytes; must be a multiple of 8. */
  readonly fragmentOffset?: number;
  /** Raw options, a multiple of 4 bytes, at most 40. */
  readonly options?: Uint8Array;
}

/** Encodes an IPv4 packet around `payload`, filling in total length and header checksum. */
export function encodeIpv4(fields: Ipv4Fields): Uint8Array {
  const options = fields.options ?? new Uint8Array(0);
  if (options.length % 4 !== 0) {
    throw new EncodeError('bad-value', 'options', `IPv4 options are ${options.length} bytes, not a multiple of 4`);
  }
  checkLength('options', options.length, 40);
  const headerLength = IPV4_MIN_HEADER_LENGTH + options.length;
  const totalLength = headerLength + fields.payload.length;
  checkLength('payload', totalLength, IPV4_MAX_PACKET_LENGTH);
  const fragmentOffset = fields.fragmentOffset ?? 0;
  if (fragmentOffset % 8 !== 0) {
    throw new EncodeError('bad-value', 'fragmentOffset', `IPv4 fragment offset ${fragmentOffset} is not a multiple of 8`);
  }
  checkRange('fragmentOffset', fragmentOffset / 8, 0, 0x1fff);
  const dscp = checkRange('dscp', fields.dscp ?? 0, 0, 63);
  const ecn = checkRange('ecn', fields.ecn ?? 0, 0, 3);

  const out = new Uint8Array(totalLength);
  out[0] = 0x40 | (headerLength / 4);
  out[1] = (dscp << 2) | ecn;
  writeU16(out, 2, totalLength);
  writeU16(out, 4, checkRange('identification', fields.identification ?? 0, 0, 0xffff));
  writeU16(out, 6, (fields.dontFragment ? 0x4000 : 0) | (fields.moreFragments ? 0x2000 : 0) | (fragmentOffset / 8));
  out[8] = checkRange('ttl', fields.ttl ?? 64, 0, 255);
  out[9] = checkRange('protocol', fields.protocol, 0, 255);
  out.set(ipv4Bytes(fields.src), 12);
  out.set(ipv4Bytes(fields.dst), 16);
  out.set(options, IPV4_MIN_HEADER_LENGTH);
  writeU16(out, 10, finishChecksum(onesComplementSum(out, 0, headerLength)));
  out.set(fields.payload, headerLength);
  return out;
}

/** Options for decodeIpv4. */
export interface Ipv4DecodeOptions {
  /** Verify the header checksum (default true). */
  readonly verifyChecksum?: boolean;
}

/** Decodes and validates the IPv4 header at `offset`; `end` bounds the packet (bytes after total length are padding). */
export function decodeIpv4(bytes: Uint8Array, offset = 0, end?: number, options: Ipv4DecodeOptions = {}): DecodedIpv4 {
  const limit = clampEnd(bytes, end);
  need(offset, IPV4_MIN_HEADER_LENGTH, limit, 'ipv4', 'IPv4 header');
  const versionIhl = readU8(bytes, offset);
  const version = versionIhl >>> 4;
  if (version !== 4) throw new FrameError('bad-version', 'ipv4', `IPv4 version is ${version}, expected 4`, offset);
  const headerLength = (versionIhl & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) {
    throw new FrameError('bad-length', 'ipv4', `IPv4 header length is ${headerLength} bytes, at least 20 required`, offset);
  }
  need(offset, headerLength, limit, 'ipv4', 'IPv4 header with options');
  const totalLength = readU16(bytes, offset + 2);
  if (totalLength < headerLength) {
    throw new FrameError('bad-length', 'ipv4', `IPv4 total length is ${totalLength}, shorter than its ${headerLength}-byte header`, offset + 2);
  }
  need(offset, totalLength, limit, 'ipv4', 'IPv4 packet');
  const checksum = readU16(bytes, offset + 10);
  if (options.verifyChecksum !== false) {
    const expected = checksumMismatch(bytes, offset, offset + headerLength, offset + 10);
    if (expected !== null) {
      throw new FrameError('bad-checksum', 'ipv4', `IPv4 header checksum is ${hex(checksum)}, expected ${hex(expected)}`, offset + 10);
    }
  }
  const tos = readU8(bytes, offset + 1);
  const flagsFragment = readU16(bytes, offset + 6);
  const fragmentOffset = (flagsFragment & 0x1fff) * 8;
  const moreFragments = (flagsFragment & 0x2000) !== 0;
  const payloadOffset = offset + headerLength;
  const payloadEnd = offset + totalLength;
  return {
    dscp: tos >>> 2,
    ecn: tos & 0x03,
    totalLength,
    identification: readU16(bytes, offset + 4),
    dontFragment: (flagsFragment & 0x4000) !== 0,
    moreFragments,
    fragmentOffset,
    ttl: readU8(bytes, offset + 8),
    protocol: readU8(bytes, offset + 9),
    checksum,
    src: formatIpv4(bytes, offset + 12),
    dst: formatIpv4(bytes, offset + 16),
    headerLength,
    options: bytes.subarray(offset + IPV4_MIN_HEADER_LENGTH, payloadOffset),
    payloadOffset,
    payloadEnd,
    payload: bytes.subarray(payloadOffset, payloadEnd),
    isFragment: moreFragments || fragmentOffset !== 0,
  };
}
