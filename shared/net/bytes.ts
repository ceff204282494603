/**
 * Byte helpers shared by every codec: bounds checks that raise FrameError, big-endian reads and
 * writes, range checks for encoders, hex and UTF-8 conversion.
 *
 * Reads go through plain indexing on Uint8Array (no DataView) so a decoder only ever touches
 * indices it has checked with `need` first; a missed check shows up in tests as an out-of-bounds
 * index rather than a silently returned zero.
 */
import { EncodeError, FrameError } from './errors.js';
import type { FrameLayer } from './errors.js';

/**
 * Throws `truncated` unless `length` bytes are available at `offset` before `end`.
 * `what` names the layer and field and starts with a capital letter, e.g. `IPv4 header`.
 */
export function need(offset: number, length: number, end: number, layer: FrameLayer, what: string): void {
  if (offset + length > end) {
    const available = Math.max(0, end - offset);
    throw new FrameError('truncated', layer, `${what} needs ${length} bytes, ${available} available`, offset);
  }
}

/** Clamps a caller-supplied decoding window to the buffer so `end` can never point past it. */
export function clampEnd(bytes: Uint8Array, end: number | undefined): number {
  if (end === undefined || end > bytes.length) return bytes.length;
  return end < 0 ? 0 : end;
}

/** Reads an unsigned 8-bit value; the caller has checked bounds. */
export function readU8(bytes: Uint8Array, offset: number): number {
  return bytes[offset]!;
}

/** Reads a big-endian unsigned 16-bit value; the caller has checked bounds. */
export function readU16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 8) | bytes[offset + 1]!;
}

/** Reads a big-endian unsigned 32-bit value; the caller has checked bounds. */
export function readU32(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0;
}

/** Writes a big-endian 16-bit value. */
export function writeU16(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 8) & 0xff;
  bytes[offset + 1] = value & 0xff;
}

/** Writes a big-endian 32-bit value. */
export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = (value >>> 24) & 0xff;
  bytes[offset + 1] = (value >>> 16) & 0xff;
  bytes[offset + 2] = (value >>> 8) & 0xff;
  bytes[offset + 3] = value & 0xff;
}

/** Throws EncodeError unless `value` is an integer in [min, max]; returns it for chaining. */
export function checkRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new EncodeError('out-of-range', field, `Field ${field} is ${value}, expected an integer from ${min} to ${max}`);
  }
  return value;
}

/** Throws EncodeError if `length` exceeds what a length field can carry. */
export function checkLength(field: string, length: number, max: number): void {
  if (length > max) {
    throw new EncodeError('too-long', field, `Field ${field} is ${length} bytes, at most ${max} fit`);
  }
}

/** Joins byte arrays into one new array. */
export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** True when both arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Parses hex text into bytes. Whitespace, colons and dashes are ignored so that dumps copied
 * from tools (`45 00 00 3c`, `aa:bb`) can be pasted as is.
 */
export function hexToBytes(hex: string): Uint8Array {
  const clean = hex.replace(/[\s:-]/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new EncodeError('bad-value', 'hex', `Hex text has an odd length or a non-hex character: ${JSON.stringify(hex.slice(0, 40))}`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Formats bytes as lowercase hex, optionally with a separator between bytes. */
export function bytesToHex(bytes: Uint8Array, separator = ''): string {
  const parts: string[] = [];
  for (const byte of bytes) parts.push(byte.toString(16).padStart(2, '0'));
  return parts.join(separator);
}

/** Formats a number as `0x` followed by `digits` lowercase hex digits, for messages. */
export function hex(value: number, digits = 4): string {
  return `0x${value.toString(16).padStart(digits, '0')}`;
}

const encoder = new TextEncoder();
// Not fatal: text fields on the wire (LLDP names) are not guaranteed to be UTF-8 and a bad byte
// should show as U+FFFD rather than drop the whole frame.
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Encodes text as UTF-8. */
export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8 bytes leniently (invalid sequences become U+FFFD). */
export function utf8Decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
