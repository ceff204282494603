import { createHash, type Hash } from 'node:crypto';
import type { RecordedEvent } from '../../../shared/events.js';
import { InvalidEventError } from './errors.js';

/**
 * The run fingerprint: a streaming SHA-256 over the canonical bytes of every recorded event, in
 * seq order. Two runs with the same fingerprint recorded the same events; replay verification and
 * the determinism tests compare nothing else.
 *
 * Canonical encoding of one event (all integers big-endian, no padding, no separators):
 *
 *   u64 seq | u64 vtime | u16 len + UTF-8 node | u16 len + UTF-8 kind | i64 cause (-1: none)
 *   | u32 len + payload bytes
 *
 * `volatile` is not part of it: it holds what legitimately differs between two runs of the same
 * seed (pids, wall-clock times, host names). The fingerprint of zero events is SHA-256 of nothing.
 */

const TWO_32 = 0x1_0000_0000;
/** Fixed part of one record: seq, vtime, two u16 lengths, cause, u32 payload length. */
const FIXED_BYTES = 8 + 8 + 2 + 2 + 8 + 4;
const MAX_U16 = 0xffff;
const MAX_U32 = 0xffff_ffff;

function checkU64(e: RecordedEvent, field: 'seq' | 'vtime', value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidEventError(`Event ${field} must be a non-negative safe integer, got ${String(value)} (seq ${String(e.seq)})`);
  }
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32BE(Math.floor(value / TWO_32), offset);
  buf.writeUInt32BE(value % TWO_32, offset + 4);
}

function writeString(buf: Buffer, e: RecordedEvent, field: 'node' | 'kind', offset: number): number {
  const value = e[field];
  if (typeof value !== 'string') {
    throw new InvalidEventError(`Event ${field} must be a string (seq ${String(e.seq)})`);
  }
  // The buffer always has room for the whole string (see maxSize), so write() never truncates.
  const length = buf.write(value, offset + 2, 'utf8');
  if (length > MAX_U16) {
    throw new InvalidEventError(`Event ${field} is longer than ${String(MAX_U16)} UTF-8 bytes (seq ${String(e.seq)})`);
  }
  buf.writeUInt16BE(length, offset);
  return offset + 2 + length;
}

/**
 * Writes the canonical bytes of `e` into `buf` (which must be large enough: see `maxSize`) and
 * returns the number of bytes written. Throws InvalidEventError for a value the encoding cannot
 * represent, so that nothing unencodable is ever hashed or stored.
 */
function encodeInto(buf: Buffer, e: RecordedEvent): number {
  checkU64(e, 'seq', e.seq);
  checkU64(e, 'vtime', e.vtime);
  if (e.cause !== null && (!Number.isSafeInteger(e.cause) || e.cause < 0)) {
    throw new InvalidEventError(`Event cause must be null or a non-negative safe integer, got ${String(e.cause)} (seq ${String(e.seq)})`);
  }
  if (!(e.payload instanceof Uint8Array)) {
    throw new InvalidEventError(`Event payload must be a Uint8Array (seq ${String(e.seq)})`);
  }
  if (e.payload.byteLength > MAX_U32) {
    throw new InvalidEventError(`Event payload is larger than ${String(MAX_U32)} bytes (seq ${String(e.seq)})`);
  }
  writeU64(buf, e.seq, 0);
  writeU64(buf, e.vtime, 8);
  let offset = writeString(buf, e, 'node', 16);
  offset = writeString(buf, e, 'kind', offset);
  if (e.cause === null) {
    buf.writeUInt32BE(MAX_U32, offset);
    buf.writeUInt32BE(MAX_U32, offset + 4);
  } else {
    writeU64(buf, e.cause, offset);
  }
  offset += 8;
  buf.writeUInt32BE(e.payload.byteLength, offset);
  offset += 4;
  buf.set(e.payload, offset);
  return offset + e.payload.byteLength;
}

/** Upper bound of the canonical size of `e` (UTF-8 takes at most 3 bytes per UTF-16 unit). */
function maxSize(e: RecordedEvent): number {
  const node = typeof e.node === 'string' ? e.node.length : 0;
  const kind = typeof e.kind === 'string' ? e.kind.length : 0;
  const payload = e.payload instanceof Uint8Array ? e.payload.byteLength : 0;
  return FIXED_BYTES + 3 * (node + kind) + payload;
}

/**
 * The canonical bytes of one event, as hashed by the fingerprint (see the encoding above).
 * Exposed for tests and for tools that want to re-derive a fingerprint independently.
 */
export function canonicalEventBytes(e: RecordedEvent): Uint8Array {
  const buf = Buffer.alloc(maxSize(e));
  const length = encodeInto(buf, e);
  return buf.subarray(0, length);
}

/** Hex SHA-256 of zero events: the fingerprint of an empty run. */
export const EMPTY_FINGERPRINT = createHash('sha256').digest('hex');

/**
 * A running fingerprint. Feed events in seq order with `update`; read the digest at any point
 * with `digestHex` (used for checkpoints) without ending the stream.
 */
export class Fingerprint {
  private hash: Hash;
  private scratch: Buffer = Buffer.alloc(4096);
  private count = 0;

  /** Starts an empty fingerprint, or continues from a copy of another hash state. */
  constructor(hash?: Hash) {
    this.hash = hash ?? createHash('sha256');
  }

  /** Number of events fed so far. */
  get events(): number {
    return this.count;
  }

  /** Adds one event; throws InvalidEventError, leaving the state untouched, if it cannot be encoded. */
  update(e: RecordedEvent): void {
    const needed = maxSize(e);
    if (needed > this.scratch.byteLength) {
      this.scratch = Buffer.alloc(Math.max(needed, this.scratch.byteLength * 2));
    }
    const length = encodeInto(this.scratch, e);
    this.hash.update(this.scratch.subarray(0, length));
    this.count += 1;
  }

  /** Hex digest of the events fed so far; the fingerprint stays usable (it hashes a copy). */
  digestHex(): string {
    return this.hash.copy().digest('hex');
  }

  /** An independent copy of the current state, so a caller can roll back after a failed write. */
  clone(): Fingerprint {
    const copy = new Fingerprint(this.hash.copy());
    copy.count = this.count;
    return copy;
  }
}
