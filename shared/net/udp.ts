/**
 * UDP (RFC 768) over IPv4 or IPv6, with the pseudo-header checksum.
 */
import { checkLength, checkRange, clampEnd, hex, need, readU16, writeU16 } from './bytes.js';
import { checksumMismatch, finishChecksum, onesComplementSum, pseudoHeader, pseudoHeaderSum } from './checksum.js';
import type { PseudoHeader } from './checksum.js';
import { FrameError } from './errors.js';
import type { IpAddress } from './ip.js';
import { IP_PROTOCOL_UDP } from './ipv4.js';

/** UDP header length. */
export const UDP_HEADER_LENGTH = 8;

/** Fields for encodeUdp. The addresses are those of the enclosing IP header, for the checksum. */
export interface UdpFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  readonly srcIp: IpAddress;
  readonly dstIp: IpAddress;
  /**
   * Compute the checksum (default true). Only IPv4 may send 0 ("no checksum"), as tunnels often
   * do for speed; IPv6 always gets one.
   */
  readonly checksum?: boolean;
}

/** A decoded UDP datagram. */
export interface UdpDatagram {
  readonly srcPort: number;
  readonly dstPort: number;
  /** The length field: header plus payload. */
  readonly length: number;
  /** The checksum field; 0 over IPv4 means none was sent. */
  readonly checksum: number;
  /** Absolute offset of the payload. */
  readonly payloadOffset: number;
  /** The payload, a view into the decoded buffer. */
  readonly payload: Uint8Array;
}

/** Encodes a UDP datagram with length and checksum filled in. */
export function encodeUdp(fields: UdpFields): Uint8Array {
  const length = UDP_HEADER_LENGTH + fields.payload.length;
  checkLength('payload', length, 0xffff);
  const out = new Uint8Array(length);
  writeU16(out, 0, checkRange('srcPort', fields.srcPort, 0, 0xffff));
  writeU16(out, 2, checkRange('dstPort', fields.dstPort, 0, 0xffff));
  writeU16(out, 4, length);
  out.set(fields.payload, UDP_HEADER_LENGTH);
  const header = pseudoHeader(fields.srcIp, fields.dstIp);
  if (fields.checksum !== false || header.src.length === 16) {
    const sum = finishChecksum(onesComplementSum(out, 0, length, pseudoHeaderSum(header, IP_PROTOCOL_UDP, length)));
    // A computed 0 is sent as all ones: 0 on the wire means "no checksum" (RFC 768).
    writeU16(out, 6, sum === 0 ? 0xffff : sum);
  }
  return out;
}

/**
 * Decodes the UDP datagram at `offset`; `end` is the IP payload end. The checksum is verified
 * against `pseudoHeader` unless it is null or (over IPv4) the datagram carries no checksum.
 * Bytes between the UDP length and `end` are ignored, as RFC 768 allows.
 */
export function decodeUdp(bytes: Uint8Array, offset: number, end: number | undefined, pseudoHeader: PseudoHeader | null): UdpDatagram {
  const limit = clampEnd(bytes, end);
  need(offset, UDP_HEADER_LENGTH, limit, 'udp', 'UDP header');
  const length = readU16(bytes, offset + 4);
  if (length < UDP_HEADER_LENGTH) {
    throw new FrameError('bad-length', 'udp', `UDP length is ${length}, shorter than the 8-byte header`, offset + 4);
  }
  need(offset, length, limit, 'udp', 'UDP datagram');
  const checksum = readU16(bytes, offset + 6);
  if (pseudoHeader !== null) {
    const ipv6 = pseudoHeader.src.length === 16;
    if (checksum === 0 && ipv6) {
      throw new FrameError('bad-checksum', 'udp', 'UDP checksum is 0x0000, which IPv6 does not allow', offset + 6);
    }
    if (checksum !== 0) {
      const initial = pseudoHeaderSum(pseudoHeader, IP_PROTOCOL_UDP, length);
      const expected = checksumMismatch(bytes, offset, offset + length, offset + 6, initial);
      if (expected !== null) {
        throw new FrameError('bad-checksum', 'udp', `UDP checksum is ${hex(checksum)}, expected ${hex(expected === 0 ? 0xffff : expected)}`, offset + 6);
      }
    }
  }
  const payloadOffset = offset + UDP_HEADER_LENGTH;
  return {
    srcPort: readU16(bytes, offset),
    dstPort: readU16(bytes, offset + 2),
    length,
    checksum,
    payloadOffset,
    payload: bytes.subarray(payloadOffset, offset + length),
  };
}
