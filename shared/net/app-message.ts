/**
 * The app message every flow sends: a header that names the flow and numbers the message, then
 * filler up to the message size. The same header starts ping data, UDP datagrams and each
 * message in a TCP stream, so the receiving guest can count deliveries per flow without being
 * told about the flow in advance.
 *
 * Layout (big-endian):
 *
 *     0  u32  magic 0x44504c46 ("DPLF")
 *     4  u32  FNV-1a hash of the flow id (a quick check that the id bytes are intact)
 *     8  u32  app sequence number, from 0
 *    12  u32  message length in bytes, header included (frames TCP messages in the byte stream)
 *    16  u8   flow id length n
 *    17  n    flow id, UTF-8
 *   17+n      filler: the sequence number's low byte plus the offset, so corruption shows
 */
import { readU32, utf8Decode, utf8Encode, writeU32 } from './bytes.js';
import { fnv1a32 } from './hash.js';

/** First four bytes of every app message. */
export const APP_MAGIC = 0x44504c46;
/** Header bytes before the flow id. */
export const APP_FIXED_HEADER_LENGTH = 17;

/** The 32-bit hash of a flow id carried in each message. */
export function flowIdHash(flowId: string): number {
  return fnv1a32(utf8Encode(flowId));
}

/** Bytes of header for a flow id: the smallest message the flow can send. */
export function appHeaderLength(flowId: string): number {
  return APP_FIXED_HEADER_LENGTH + utf8Encode(flowId).length;
}

/** A decoded app message header. */
export interface AppMessageHeader {
  readonly flow: string;
  readonly seq: number;
  /** Whole message length, header included. */
  readonly length: number;
}

/** Builds one app message of `length` bytes (at least the header length). */
export function encodeAppMessage(flowId: string, seq: number, length: number): Uint8Array {
  const id = utf8Encode(flowId);
  const size = Math.max(length, APP_FIXED_HEADER_LENGTH + id.length);
  const out = new Uint8Array(size);
  writeU32(out, 0, APP_MAGIC);
  writeU32(out, 4, fnv1a32(id));
  writeU32(out, 8, seq >>> 0);
  writeU32(out, 12, size);
  out[16] = id.length;
  out.set(id, APP_FIXED_HEADER_LENGTH);
  for (let i = APP_FIXED_HEADER_LENGTH + id.length; i < size; i++) out[i] = (seq + i) & 0xff;
  return out;
}

/**
 * Reads the header of a message that starts at `offset`; null when the bytes are not an app
 * message (wrong magic, impossible length, id that does not match its hash). `end` bounds the
 * bytes available; a datagram must hold its whole header.
 */
export function decodeAppHeader(bytes: Uint8Array, offset = 0, end = bytes.length): AppMessageHeader | null {
  if (end - offset < APP_FIXED_HEADER_LENGTH) return null;
  if (readU32(bytes, offset) !== APP_MAGIC) return null;
  const idLength = bytes[offset + 16]!;
  const headerLength = APP_FIXED_HEADER_LENGTH + idLength;
  if (end - offset < headerLength) return null;
  const idBytes = bytes.subarray(offset + APP_FIXED_HEADER_LENGTH, offset + headerLength);
  if (fnv1a32(idBytes) !== readU32(bytes, offset + 4)) return null;
  const length = readU32(bytes, offset + 12);
  if (length < headerLength) return null;
  return { flow: utf8Decode(idBytes), seq: readU32(bytes, offset + 8), length };
}

/**
 * Splits a TCP byte stream back into app messages. Bytes arrive in arbitrary pieces (segments
 * do not respect message boundaries); the header is gathered until complete, then the rest of
 * the message is skipped. A header that does not decode breaks the stream for good: nothing
 * after it can be framed.
 */
export class AppMessageStream {
  private header = new Uint8Array(APP_FIXED_HEADER_LENGTH + 255);
  private headerFill = 0;
  /** Bytes of the current message's body still to skip. */
  private skip = 0;
  /** True once a header failed to decode. */
  broken = false;

  /** Where the splitter is, as plain data: the header bytes gathered so far, body bytes to skip. */
  exportState(): { header: Uint8Array; skip: number; broken: boolean } {
    return { header: this.header.slice(0, this.headerFill), skip: this.skip, broken: this.broken };
  }

  /** A splitter that carries on from an exported state (`header` at most 17 + 255 bytes). */
  static restore(state: { readonly header: Uint8Array; readonly skip: number; readonly broken: boolean }): AppMessageStream {
    const stream = new AppMessageStream();
    stream.header.set(state.header);
    stream.headerFill = state.header.length;
    stream.skip = state.skip;
    stream.broken = state.broken;
    return stream;
  }

  /** Feeds received bytes; returns the headers of the messages that started in them. */
  push(bytes: Uint8Array): AppMessageHeader[] {
    const found: AppMessageHeader[] = [];
    let at = 0;
    while (at < bytes.length && !this.broken) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, bytes.length - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const needed = this.headerFill < APP_FIXED_HEADER_LENGTH ? APP_FIXED_HEADER_LENGTH : APP_FIXED_HEADER_LENGTH + this.header[16]!;
      const n = Math.min(needed - this.headerFill, bytes.length - at);
      this.header.set(bytes.subarray(at, at + n), this.headerFill);
      this.headerFill += n;
      at += n;
      if (this.headerFill < needed) continue;
      if (needed === APP_FIXED_HEADER_LENGTH) {
        if (readU32(this.header, 0) !== APP_MAGIC) this.broken = true;
        // Go round again for the id bytes (an empty id completes immediately).
        if (this.header[16] !== 0) continue;
      }
      const message = decodeAppHeader(this.header, 0, this.headerFill);
      if (message === null) {
        this.broken = true;
        break;
      }
      found.push(message);
      this.skip = message.length - this.headerFill;
      this.headerFill = 0;
    }
    return found;
  }
}
