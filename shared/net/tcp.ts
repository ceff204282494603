/**
 * TCP segments (RFC 9293): ports, sequence and acknowledgement numbers, flags, window and the
 * options a handshake carries (MSS, window scale, SACK, timestamps), with the pseudo-header checksum.
 */
import { checkLength, checkRange, clampEnd, concatBytes, hex, need, readU16, readU32, readU8, writeU16, writeU32 } from './bytes.js';
import { checksumMismatch, finishChecksum, onesComplementSum, pseudoHeader, pseudoHeaderSum } from './checksum.js';
import type { PseudoHeader } from './checksum.js';
import { FrameError } from './errors.js';
import type { IpAddress } from './ip.js';
import { IP_PROTOCOL_TCP } from './ipv4.js';

/** TCP header length without options. */
export const TCP_MIN_HEADER_LENGTH = 20;
/** Options may fill the data offset up to 15 words. */
export const TCP_MAX_OPTIONS_LENGTH = 40;

/** The TCP control bits. */
export interface TcpFlags {
  readonly fin: boolean;
  readonly syn: boolean;
  readonly rst: boolean;
  readonly psh: boolean;
  readonly ack: boolean;
  readonly urg: boolean;
  readonly ece: boolean;
  readonly cwr: boolean;
}

const FLAG_BITS: readonly (readonly [keyof TcpFlags, number])[] = [
  ['fin', 0x01],
  ['syn', 0x02],
  ['rst', 0x04],
  ['psh', 0x08],
  ['ack', 0x10],
  ['urg', 0x20],
  ['ece', 0x40],
  ['cwr', 0x80],
];

/** The flags byte for a set of flags. */
export function tcpFlagsToByte(flags: Partial<TcpFlags>): number {
  let byte = 0;
  for (const [name, bit] of FLAG_BITS) if (flags[name] === true) byte |= bit;
  return byte;
}

/** The flags in a flags byte. */
export function tcpFlagsFromByte(byte: number): TcpFlags {
  return {
    fin: (byte & 0x01) !== 0,
    syn: (byte & 0x02) !== 0,
    rst: (byte & 0x04) !== 0,
    psh: (byte & 0x08) !== 0,
    ack: (byte & 0x10) !== 0,
    urg: (byte & 0x20) !== 0,
    ece: (byte & 0x40) !== 0,
    cwr: (byte & 0x80) !== 0,
  };
}

/** Flags as tcpdump-style text, e.g. `SYN,ACK`, for logs and the UI. */
export function formatTcpFlags(flags: Partial<TcpFlags>): string {
  const names: string[] = [];
  for (const [name] of FLAG_BITS) if (flags[name] === true) names.push(name.toUpperCase());
  return names.join(',');
}

/** A TCP option. Unknown kinds keep their raw data so they survive a decode/encode round trip. */
export type TcpOption =
  | { readonly kind: 'mss'; readonly mss: number }
  | { readonly kind: 'window-scale'; readonly shift: number }
  | { readonly kind: 'sack-permitted' }
  | { readonly kind: 'sack'; readonly blocks: readonly (readonly [number, number])[] }
  | { readonly kind: 'timestamps'; readonly value: number; readonly echo: number }
  | { readonly kind: 'other'; readonly type: number; readonly data: Uint8Array };

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WINDOW_SCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMPS = 8;

/** Fields for encodeTcp. The addresses are those of the enclosing IP header, for the checksum. */
export interface TcpFields {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  /** Acknowledgement number; default 0. */
  readonly ack?: number;
  readonly flags: Partial<TcpFlags>;
  readonly window: number;
  readonly urgentPointer?: number;
  readonly options?: readonly TcpOption[];
  readonly payload?: Uint8Array;
  readonly srcIp: IpAddress;
  readonly dstIp: IpAddress;
}

/** A decoded TCP segment. */
export interface TcpSegment {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Header length in bytes (data offset times 4). */
  readonly headerLength: number;
  readonly flags: TcpFlags;
  readonly window: number;
  readonly checksum: number;
  readonly urgentPointer: number;
  readonly options: readonly TcpOption[];
  /** Absolute offset of the payload. */
  readonly payloadOffset: number;
  /** The payload, a view into the decoded buffer. */
  readonly payload: Uint8Array;
}

/** Encodes options, padding with NOPs to a 4-byte boundary as stacks do. */
export function encodeTcpOptions(options: readonly TcpOption[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const option of options) {
    switch (option.kind) {
      case 'mss': {
        const b = new Uint8Array([OPT_MSS, 4, 0, 0]);
        writeU16(b, 2, checkRange('mss', option.mss, 0, 0xffff));
        parts.push(b);
        break;
      }
      case 'window-scale':
        parts.push(new Uint8Array([OPT_WINDOW_SCALE, 3, checkRange('shift', option.shift, 0, 14)]));
        break;
      case 'sack-permitted':
        parts.push(new Uint8Array([OPT_SACK_PERMITTED, 2]));
        break;
      case 'sack': {
        checkRange('sack.blocks', option.blocks.length, 1, 4);
        const b = new Uint8Array(2 + option.blocks.length * 8);
        b[0] = OPT_SACK;
        b[1] = b.length;
        option.blocks.forEach(([left, right], i) => {
          writeU32(b, 2 + i * 8, checkRange('sack.left', left, 0, 0xffffffff));
          writeU32(b, 6 + i * 8, checkRange('sack.right', right, 0, 0xffffffff));
        });
        parts.push(b);
        break;
      }
      case 'timestamps': {
        const b = new Uint8Array(10);
        b[0] = OPT_TIMESTAMPS;
        b[1] = 10;
        writeU32(b, 2, checkRange('timestamps.value', option.value, 0, 0xffffffff));
        writeU32(b, 6, checkRange('timestamps.echo', option.echo, 0, 0xffffffff));
        parts.push(b);
        break;
      }
      case 'other': {
        checkLength('option.data', option.data.length + 2, TCP_MAX_OPTIONS_LENGTH);
        const b = new Uint8Array(2 + option.data.length);
        b[0] = checkRange('option.type', option.type, 0, 255);
        b[1] = b.length;
        b.set(option.data, 2);
        parts.push(b);
        break;
      }
    }
  }
  const raw = concatBytes(...parts);
  checkLength('options', raw.length, TCP_MAX_OPTIONS_LENGTH);
  const padded = new Uint8Array(Math.ceil(raw.length / 4) * 4).fill(OPT_NOP);
  padded.set(raw);
  return padded;
}

/** Encodes a TCP segment with data offset and checksum filled in. */
export function encodeTcp(fields: TcpFields): Uint8Array {
  const options = encodeTcpOptions(fields.options ?? []);
  checkLength('options', options.length, TCP_MAX_OPTIONS_LENGTH);
  const payload = fields.payload ?? new Uint8Array(0);
  const headerLength = TCP_MIN_HEADER_LENGTH + options.length;
  const length = headerLength + payload.length;
  checkLength('payload', length, 0xffff);
  const out = new Uint8Array(length);
  writeU16(out, 0, checkRange('srcPort', fields.srcPort, 0, 0xffff));
  writeU16(out, 2, checkRange('dstPort', fields.dstPort, 0, 0xffff));
  writeU32(out, 4, checkRange('seq', fields.seq, 0, 0xffffffff));
  writeU32(out, 8, checkRange('ack', fields.ack ?? 0, 0, 0xffffffff));
  out[12] = (headerLength / 4) << 4;
  out[13] = tcpFlagsToByte(fields.flags);
  writeU16(out, 14, checkRange('window', fields.window, 0, 0xffff));
  writeU16(out, 18, checkRange('urgentPointer', fields.urgentPointer ?? 0, 0, 0xffff));
  out.set(options, TCP_MIN_HEADER_LENGTH);
  out.set(payload, headerLength);
  const header = pseudoHeader(fields.srcIp, fields.dstIp);
  writeU16(out, 16, finishChecksum(onesComplementSum(out, 0, length, pseudoHeaderSum(header, IP_PROTOCOL_TCP, length))));
  return out;
}

function decodeOptions(bytes: Uint8Array, start: number, end: number): TcpOption[] {
  const options: TcpOption[] = [];
  let at = start;
  while (at < end) {
    const kind = readU8(bytes, at);
    if (kind === OPT_END) break;
    if (kind === OPT_NOP) {
      at++;
      continue;
    }
    if (at + 2 > end) throw new FrameError('malformed', 'tcp', `TCP option ${kind} has no length byte before the end of the header`, at);
    const length = readU8(bytes, at + 1);
    if (length < 2 || at + length > end) {
      throw new FrameError('malformed', 'tcp', `TCP option ${kind} length is ${length}, which does not fit the header`, at + 1);
    }
    const wrongLength = (expected: string): FrameError =>
      new FrameError('malformed', 'tcp', `TCP option ${kind} length is ${length}, expected ${expected}`, at + 1);
    switch (kind) {
      case OPT_MSS:
        if (length !== 4) throw wrongLength('4');
        options.push({ kind: 'mss', mss: readU16(bytes, at + 2) });
        break;
      case OPT_WINDOW_SCALE:
        if (length !== 3) throw wrongLength('3');
        options.push({ kind: 'window-scale', shift: readU8(bytes, at + 2) });
        break;
      case OPT_SACK_PERMITTED:
        if (length !== 2) throw wrongLength('2');
        options.push({ kind: 'sack-permitted' });
        break;
      case OPT_SACK: {
        if (length < 10 || (length - 2) % 8 !== 0) throw wrongLength('2 plus a multiple of 8');
        const blocks: [number, number][] = [];
        for (let b = at + 2; b < at + length; b += 8) blocks.push([readU32(bytes, b), readU32(bytes, b + 4)]);
        options.push({ kind: 'sack', blocks });
        break;
      }
      case OPT_TIMESTAMPS:
        if (length !== 10) throw wrongLength('10');
        options.push({ kind: 'timestamps', value: readU32(bytes, at + 2), echo: readU32(bytes, at + 6) });
        break;
      default:
        options.push({ kind: 'other', type: kind, data: bytes.subarray(at + 2, at + length) });
    }
    at += length;
  }
  return options;
}

/**
 * Decodes the TCP segment in [offset, end), where `end` is the IP payload end (the checksum and
 * the payload extend to it). The checksum is verified against `pseudoHeader` unless it is null.
 */
export function decodeTcp(bytes: Uint8Array, offset: number, end: number | undefined, pseudoHeader: PseudoHeader | null): TcpSegment {
  const limit = clampEnd(bytes, end);
  need(offset, TCP_MIN_HEADER_LENGTH, limit, 'tcp', 'TCP header');
  const headerLength = (readU8(bytes, offset + 12) >>> 4) * 4;
  if (headerLength < TCP_MIN_HEADER_LENGTH) {
    throw new FrameError('bad-length', 'tcp', `TCP data offset is ${headerLength} bytes, at least 20 required`, offset + 12);
  }
  need(offset, headerLength, limit, 'tcp', 'TCP header with options');
  const checksum = readU16(bytes, offset + 16);
  if (pseudoHeader !== null) {
    const initial = pseudoHeaderSum(pseudoHeader, IP_PROTOCOL_TCP, limit - offset);
    const expected = checksumMismatch(bytes, offset, limit, offset + 16, initial);
    if (expected !== null) {
      throw new FrameError('bad-checksum', 'tcp', `TCP checksum is ${hex(checksum)}, expected ${hex(expected)}`, offset + 16);
    }
  }
  const payloadOffset = offset + headerLength;
  return {
    srcPort: readU16(bytes, offset),
    dstPort: readU16(bytes, offset + 2),
    seq: readU32(bytes, offset + 4),
    ack: readU32(bytes, offset + 8),
    headerLength,
    flags: tcpFlagsFromByte(readU8(bytes, offset + 13)),
    window: readU16(bytes, offset + 14),
    checksum,
    urgentPointer: readU16(bytes, offset + 18),
    options: decodeOptions(bytes, offset + TCP_MIN_HEADER_LENGTH, payloadOffset),
    payloadOffset,
    payload: bytes.subarray(payloadOffset, limit),
  };
}
