/**
 * Fixed-layout binary messages: a writer that appends little-endian fields to a growing buffer,
 * and a reader that takes them back with a bounds and range check per field, naming the field
 * that was wrong.
 *
 * The control protocol and the wire envelope travel once per window and once per frame, so they
 * are laid out by hand rather than as self-describing msgpack maps checked by a schema: a field
 * costs a typed read, and nothing is allocated that the receiver does not keep.
 */
import { DpulabError } from '../../shared/errors.js';

/** Bytes of an encoded `null` length: the largest u32, which no real length can reach. */
const NULL_LENGTH = 0xffff_ffff;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Strings this short and all ASCII are decoded by hand: TextDecoder's call costs more than they do. */
const SHORT_ASCII = 48;

function newBuffer(bytes: number): { buf: Uint8Array; view: DataView } {
  const buf = new Uint8Array(bytes);
  return { buf, view: new DataView(buf.buffer) };
}

/** A field that could not be read: the reader's `what`, the field's path and what was wrong. */
export class LayoutError extends DpulabError {
  readonly code = 'bad-layout';
  constructor(
    readonly field: string,
    readonly problem: string,
    what: string,
  ) {
    super(`${what}: field ${field}: ${problem}`);
    this.name = 'LayoutError';
  }
}

/**
 * Appends fields to a buffer that grows as needed; `finish` copies the bytes written into a
 * buffer of their own, so the writer can be reused for the next message at once while the last
 * one still waits in a socket's queue.
 */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private at = 0;

  constructor(initialBytes = 1024) {
    ({ buf: this.buf, view: this.view } = newBuffer(initialBytes));
  }

  /** Starts a new message. */
  reset(): this {
    this.at = 0;
    return this;
  }

  /** The message written since `reset`, in a buffer of its own. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.at);
  }

  /**
   * The message written since `reset`, as a view of the writer's own buffer, which the writer
   * lets go of (it starts a new one): for a large message handed to another thread whole.
   */
  detach(): Uint8Array {
    const out = this.buf.subarray(0, this.at);
    ({ buf: this.buf, view: this.view } = newBuffer(this.buf.length));
    this.at = 0;
    return out;
  }

  /** Bytes written since `reset`. */
  get length(): number {
    return this.at;
  }

  u8(value: number): this {
    this.room(1);
    this.buf[this.at++] = value;
    return this;
  }

  u16(value: number): this {
    this.room(2);
    this.view.setUint16(this.at, value, true);
    this.at += 2;
    return this;
  }

  u32(value: number): this {
    this.room(4);
    this.view.setUint32(this.at, value, true);
    this.at += 4;
    return this;
  }

  /** A float64: carries any safe integer exactly (times, counts, sequence numbers). */
  f64(value: number): this {
    this.room(8);
    this.view.setFloat64(this.at, value, true);
    this.at += 8;
    return this;
  }

  /** A UTF-8 string behind its u16 byte length. */
  str(value: string): this {
    this.room(2 + value.length * 3);
    if (value.length <= SHORT_ASCII && this.ascii(value, this.at + 2)) {
      this.view.setUint16(this.at, value.length, true);
      this.at += 2 + value.length;
      return this;
    }
    const length = utf8Encoder.encodeInto(value, this.buf.subarray(this.at + 2)).written;
    if (length > 0xffff) throw new RangeError(`String of ${length} bytes is longer than a layout string may be (65535)`);
    this.view.setUint16(this.at, length, true);
    this.at += 2 + length;
    return this;
  }

  /** Bytes behind their u32 length; `null` is a length no real one reaches. */
  bytes(value: Uint8Array | null): this {
    if (value === null) return this.u32(NULL_LENGTH);
    this.room(4 + value.length);
    this.view.setUint32(this.at, value.length, true);
    this.buf.set(value, this.at + 4);
    this.at += 4 + value.length;
    return this;
  }

  /** Bytes without a length, to the end of the message (a frame behind its envelope). */
  tail(value: Uint8Array): this {
    this.room(value.length);
    this.buf.set(value, this.at);
    this.at += value.length;
    return this;
  }

  /** Writes a string of ASCII characters byte by byte at `at`; false (and nothing to keep) at the first other one. */
  private ascii(value: string, at: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) return false;
      buf[at + i] = c;
    }
    return true;
  }

  private room(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const grown = newBuffer(Math.max(this.buf.length * 2, this.at + bytes));
    grown.buf.set(this.buf.subarray(0, this.at));
    ({ buf: this.buf, view: this.view } = grown);
  }
}

/**
 * Reads fields in order from one message, checking each. Field names are constant strings; in
 * an array, `[]` in a name stands for the element being read (set `index`), so a failure says
 * `events[3].kind` while a read that succeeds builds no string.
 */
export class ByteReader {
  /** Offset of the next field. */
  at = 0;
  /** The array element being read, shown for `[]` in a field name on failure. */
  index = 0;
  private readonly view: DataView;

  /** @param what names the message in errors, e.g. `Control message from node esx-01`. */
  constructor(
    readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.bytes.length - this.at;
  }

  /** Throws a LayoutError for `field`. */
  fail(field: string, problem: string): never {
    throw new LayoutError(field.replace('[]', `[${this.index}]`), problem, this.what);
  }

  u8(field: string): number {
    this.need(field, 1);
    return this.bytes[this.at++]!;
  }

  u16(field: string): number {
    this.need(field, 2);
    const value = this.view.getUint16(this.at, true);
    this.at += 2;
    return value;
  }

  u32(field: string): number {
    this.need(field, 4);
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }

  /** A float64 that must be a whole number in [0, 2^53): a time, a count, a sequence number. */
  count(field: string): number {
    this.need(field, 8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!(value >= 0) || !Number.isSafeInteger(value)) this.fail(field, `${value} is not a non-negative integer`);
    return value;
  }

  /** Like `count`, or null when -1 was written. */
  countOrNull(field: string): number | null {
    this.need(field, 8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (value === -1) return null;
    if (!(value >= 0) || !Number.isSafeInteger(value)) this.fail(field, `${value} is neither -1 nor a non-negative integer`);
    return value;
  }

  /** A float64 that must be a safe integer of either sign (a seed). */
  integer(field: string): number {
    this.need(field, 8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!Number.isSafeInteger(value)) this.fail(field, `${value} is not an integer`);
    return value;
  }

  /** A float64 that must lie in [0, 1]: a probability. */
  fraction(field: string): number {
    this.need(field, 8);
    const value = this.view.getFloat64(this.at, true);
    this.at += 8;
    if (!(value >= 0 && value <= 1)) this.fail(field, `${value} is not in [0, 1]`);
    return value;
  }

  /** A boolean written as one byte, 0 or 1. */
  flag(field: string): boolean {
    const value = this.u8(field);
    if (value > 1) this.fail(field, `${value} is neither 0 nor 1`);
    return value === 1;
  }

  str(field: string): string {
    const length = this.u16(field);
    this.need(field, length);
    const start = this.at;
    this.at += length;
    const bytes = this.bytes;
    if (length <= SHORT_ASCII) {
      let text = '';
      for (let i = start; i < this.at; i++) {
        const c = bytes[i]!;
        if (c >= 0x80) return this.utf8(field, start);
        text += String.fromCharCode(c);
      }
      return text;
    }
    return this.utf8(field, start);
  }

  private utf8(field: string, start: number): string {
    try {
      return utf8Decoder.decode(this.bytes.subarray(start, this.at));
    } catch {
      return this.fail(field, 'is not UTF-8');
    }
  }

  /** Bytes behind a u32 length, as a view into the message (no copy). */
  bytesField(field: string): Uint8Array {
    const value = this.bytesOrNull(field);
    if (value === null) this.fail(field, 'is missing');
    return value;
  }

  bytesOrNull(field: string): Uint8Array | null {
    const length = this.u32(field);
    if (length === NULL_LENGTH) return null;
    this.need(field, length);
    const start = this.at;
    this.at += length;
    return this.bytes.subarray(start, this.at);
  }

  /** The rest of the message, as a view. */
  tail(): Uint8Array {
    const start = this.at;
    this.at = this.bytes.length;
    return this.bytes.subarray(start);
  }

  /** Checks that nothing follows the last field. */
  end(): void {
    if (this.at !== this.bytes.length) this.fail('(end)', `${this.bytes.length - this.at} bytes follow the last field`);
  }

  private need(field: string, bytes: number): void {
    if (this.at + bytes > this.bytes.length) this.fail(field, `needs ${bytes} bytes, ${Math.max(0, this.bytes.length - this.at)} left`);
  }
}
