/**
 * IPv6 headers (RFC 8200). Decoding walks the common extension headers so that the upper-layer
 * protocol and its offset are found even behind hop-by-hop or fragment headers.
 */
import { checkLength, checkRange, clampEnd, need, readU16, readU32, readU8, writeU16, writeU32 } from './bytes.js';
import { FrameError } from './errors.js';
import { formatIpv6, parseIpv6 } from './ip.js';
import type { Ipv6Address } from './ip.js';

/** Fixed IPv6 header length. */
export const IPV6_HEADER_LENGTH = 40;
/** Next header: hop-by-hop options. */
export const IPV6_HOP_BY_HOP = 0;
/** Next header: routing header. */
export const IPV6_ROUTING = 43;
/** Next header: fragment header. */
export const IPV6_FRAGMENT = 44;
/** Next header: authentication header (its length is in 4-byte units). */
export const IPV6_AUTHENTICATION = 51;
/** Next header: nothing follows. */
export const IPV6_NO_NEXT_HEADER = 59;
/** Next header: destination options. */
export const IPV6_DESTINATION_OPTIONS = 60;

/** A decoded fixed IPv6 header. */
export interface Ipv6Header {
  readonly trafficClass: number;
  readonly flowLabel: number;
  /** Bytes after the fixed header, extension headers included. */
  readonly payloadLength: number;
  /** The next header field of the fixed header (may name an extension header). */
  readonly nextHeader: number;
  readonly hopLimit: number;
  readonly src: Ipv6Address;
  readonly dst: Ipv6Address;
}

/** Where a fragment header placed this packet, if it had one. */
export interface Ipv6FragmentInfo {
  /** Offset in bytes. */
  readonly offset: number;
  readonly moreFragments: boolean;
  readonly identification: number;
}

/** A decoded IPv6 packet: header, extension header chain and where the upper layer lies. */
export interface DecodedIpv6 extends Ipv6Header {
  /** Extension header types walked, in order. */
  readonly extensionHeaders: readonly number[];
  /** The upper-layer protocol after all extension headers (e.g. 6, 17, 58). */
  readonly protocol: number;
  readonly fragment?: Ipv6FragmentInfo;
  /** True for any fragment: the payload is not a whole upper-layer packet. */
  readonly isFragment: boolean;
  /** Absolute offset of the upper-layer data. */
  readonly payloadOffset: number;
  /** Absolute end of the packet (before link-layer padding). */
  readonly payloadEnd: number;
  /** The upper-layer data, a view into the decoded buffer. */
  readonly payload: Uint8Array;
}

/** Fields for encodeIpv6 (no extension headers: nothing the emulator sends needs them). */
export interface Ipv6Fields {
  readonly src: Ipv6Address;
  readonly dst: Ipv6Address;
  readonly nextHeader: number;
  readonly payload: Uint8Array;
  /** Default 64; neighbour discovery requires 255. */
  readonly hopLimit?: number;
  readonly trafficClass?: number;
  readonly flowLabel?: number;
}

/** Encodes an IPv6 packet around `payload`. */
export function encodeIpv6(fields: Ipv6Fields): Uint8Array {
  checkLength('payload', fields.payload.length, 0xffff);
  const trafficClass = checkRange('trafficClass', fields.trafficClass ?? 0, 0, 255);
  const flowLabel = checkRange('flowLabel', fields.flowLabel ?? 0, 0, 0xfffff);
  const out = new Uint8Array(IPV6_HEADER_LENGTH + fields.payload.length);
  writeU32(out, 0, ((6 << 28) | (trafficClass << 20) | flowLabel) >>> 0);
  writeU16(out, 4, fields.payload.length);
  out[6] = checkRange('nextHeader', fields.nextHeader, 0, 255);
  out[7] = checkRange('hopLimit', fields.hopLimit ?? 64, 0, 255);
  out.set(parseIpv6(fields.src), 8);
  out.set(parseIpv6(fields.dst), 24);
  out.set(fields.payload, IPV6_HEADER_LENGTH);
  return out;
}

/** Decodes and validates the IPv6 header at `offset` and walks its extension headers. */
export function decodeIpv6(bytes: Uint8Array, offset = 0, end?: number): DecodedIpv6 {
  const limit = clampEnd(bytes, end);
  need(offset, IPV6_HEADER_LENGTH, limit, 'ipv6', 'IPv6 header');
  const first = readU32(bytes, offset);
  const version = first >>> 28;
  if (version !== 6) throw new FrameError('bad-version', 'ipv6', `IPv6 version is ${version}, expected 6`, offset);
  const payloadLength = readU16(bytes, offset + 4);
  need(offset + IPV6_HEADER_LENGTH, payloadLength, limit, 'ipv6', 'IPv6 payload');
  const nextHeader = readU8(bytes, offset + 6);
  const payloadEnd = offset + IPV6_HEADER_LENGTH + payloadLength;

  const extensionHeaders: number[] = [];
  let protocol = nextHeader;
  let at = offset + IPV6_HEADER_LENGTH;
  let fragment: Ipv6FragmentInfo | undefined;
  for (;;) {
    if (protocol === IPV6_HOP_BY_HOP || protocol === IPV6_ROUTING || protocol === IPV6_DESTINATION_OPTIONS || protocol === IPV6_AUTHENTICATION) {
      need(at, 2, payloadEnd, 'ipv6', 'IPv6 extension header');
      const length = protocol === IPV6_AUTHENTICATION ? (readU8(bytes, at + 1) + 2) * 4 : (readU8(bytes, at + 1) + 1) * 8;
      need(at, length, payloadEnd, 'ipv6', 'IPv6 extension header');
      extensionHeaders.push(protocol);
      protocol = readU8(bytes, at);
      at += length;
    } else if (protocol === IPV6_FRAGMENT) {
      need(at, 8, payloadEnd, 'ipv6', 'IPv6 fragment header');
      const offsetFlags = readU16(bytes, at + 2);
      fragment = { offset: offsetFlags & 0xfff8, moreFragments: (offsetFlags & 1) !== 0, identification: readU32(bytes, at + 4) };
      extensionHeaders.push(protocol);
      protocol = readU8(bytes, at);
      at += 8;
    } else {
      break;
    }
  }
  const header = {
    trafficClass: (first >>> 20) & 0xff,
    flowLabel: first & 0xfffff,
    payloadLength,
    nextHeader,
    hopLimit: readU8(bytes, offset + 7),
    src: formatIpv6(bytes, offset + 8),
    dst: formatIpv6(bytes, offset + 24),
    extensionHeaders,
    protocol,
    isFragment: fragment !== undefined && (fragment.offset !== 0 || fragment.moreFragments),
    payloadOffset: at,
    payloadEnd,
    payload: bytes.subarray(at, payloadEnd),
  };
  return fragment ? { ...header, fragment } : header;
}
