/**
 * The Internet checksum (RFC 1071) and the pseudo-header sums that UDP, TCP and ICMPv6 add to it.
 *
 * Sums are kept as plain (unfolded) numbers while they are accumulated: a double holds exact
 * integers up to 2^53, far beyond any frame, and unfolded sums can be combined by addition and a
 * known word subtracted again, which is how decoders report the checksum they expected.
 */
import { ipBytes } from './ip.js';
import { EncodeError } from './errors.js';

/** Adds the bytes in [start, end) to `initial` as big-endian 16-bit words; an odd last byte is padded with zero. */
export function onesComplementSum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (i < end) sum += bytes[i]! << 8;
  return sum;
}

/** Folds carries into 16 bits and complements: the value that goes into a checksum field. */
export function finishChecksum(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/**
 * The Internet checksum of [start, end) plus an optional pseudo-header sum. Over data that
 * already contains a correct checksum field the result is 0, which is how receivers verify.
 */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  return finishChecksum(onesComplementSum(bytes, start, end, initial));
}

/** The IPv4 pseudo-header sum (RFC 768, RFC 793): source, destination, protocol, upper-layer length. */
export function ipv4PseudoHeaderSum(src: Uint8Array, dst: Uint8Array, protocol: number, length: number): number {
  return onesComplementSum(src, 0, 4) + onesComplementSum(dst, 0, 4) + protocol + length;
}

/** The IPv6 pseudo-header sum (RFC 8200 section 8.1): addresses, 32-bit upper-layer length, next header. */
export function ipv6PseudoHeaderSum(src: Uint8Array, dst: Uint8Array, nextHeader: number, length: number): number {
  return onesComplementSum(src, 0, 16) + onesComplementSum(dst, 0, 16) + Math.floor(length / 0x10000) + (length & 0xffff) + nextHeader;
}

/**
 * The two addresses an upper-layer checksum covers, as raw bytes (4 each for IPv4, 16 for IPv6).
 * Decoders take this instead of text so that frame decoding never formats and reparses addresses.
 */
export interface PseudoHeader {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
}

/** Builds a PseudoHeader from two address strings of the same family. */
export function pseudoHeader(srcIp: string, dstIp: string): PseudoHeader {
  const src = ipBytes(srcIp);
  const dst = ipBytes(dstIp);
  if (src.length !== dst.length) {
    throw new EncodeError('bad-value', 'dstIp', `Source ${srcIp} and destination ${dstIp} are of different IP families`);
  }
  return { src, dst };
}

/** The pseudo-header sum for either family, chosen by address length. */
export function pseudoHeaderSum(header: PseudoHeader, protocol: number, length: number): number {
  return header.src.length === 16
    ? ipv6PseudoHeaderSum(header.src, header.dst, protocol, length)
    : ipv4PseudoHeaderSum(header.src, header.dst, protocol, length);
}

/**
 * Verifies a checksum field in place. Returns null when [start, end) plus `initial` sums to
 * all ones, otherwise the value the field at `fieldOffset` should have held (for error messages).
 */
export function checksumMismatch(bytes: Uint8Array, start: number, end: number, fieldOffset: number, initial = 0): number | null {
  const sum = onesComplementSum(bytes, start, end, initial);
  if (finishChecksum(sum) === 0) return null;
  const stored = (bytes[fieldOffset]! << 8) | bytes[fieldOffset + 1]!;
  return finishChecksum(sum - stored);
}
