/**
 * Recorded events (msgpack payloads, as the controller orders them and the log stores them) as
 * the fold reads them. Every entry point that folds a log or a live run goes through here, so
 * they all decode the same kinds the same way.
 */
import { decode } from '../codec.js';
import type { RecordedEvent } from '../events.js';
import type { ClusterEvent } from './cluster-state.js';
import { FOLDED_KINDS } from './fold.js';

const utf8 = new TextDecoder();

/** A msgpack string at `at`: its text and where it ends; null when `at` holds no string. */
function msgpackString(bytes: Uint8Array, at: number): { text: string; end: number } | null {
  const tag = bytes[at];
  let length: number;
  let start: number;
  if (tag === undefined) return null;
  if (tag >= 0xa0 && tag <= 0xbf) [length, start] = [tag - 0xa0, at + 1];
  else if (tag === 0xd9 && at + 1 < bytes.length) [length, start] = [bytes[at + 1]!, at + 2];
  else if (tag === 0xda && at + 2 < bytes.length) [length, start] = [(bytes[at + 1]! << 8) | bytes[at + 2]!, at + 3];
  else return null;
  if (start + length > bytes.length) return null;
  // Wire ids are short ASCII: building them by hand is several times faster than a TextDecoder call.
  let text = '';
  for (let i = start; i < start + length; i++) {
    const byte = bytes[i]!;
    if (byte >= 0x80) return { text: utf8.decode(bytes.subarray(start, start + length)), end: start + length };
    text += String.fromCharCode(byte);
  }
  return { text, end: start + length };
}

/**
 * The `wire` of a `frame.tx` payload without decoding the frame it carries: the runtime writes
 * `wire` first, and the fold reads nothing else of the most frequent event by far. Null when the
 * payload is laid out otherwise (then it is decoded whole).
 */
export function frameTxWire(bytes: Uint8Array): string | null {
  const tag = bytes[0];
  const keyAt = tag !== undefined && tag >= 0x80 && tag <= 0x8f ? 1 : tag === 0xde ? 3 : -1;
  if (keyAt < 0) return null;
  const key = msgpackString(bytes, keyAt);
  if (key === null || key.text !== 'wire') return null;
  return msgpackString(bytes, key.end)?.text ?? null;
}

/**
 * One recorded event for the fold, cheaply: the payload decoded only for the kinds the fold reads
 * ({@link FOLDED_KINDS}), as msgpack decodes it (the fold reads plain fields, never binary); of a
 * `frame.tx`, only its wire. A payload that does not decode folds as an empty one: a damaged log
 * still shows.
 */
export function toClusterEvent(event: RecordedEvent): ClusterEvent {
  let payload: unknown = null;
  const wire = event.kind === 'frame.tx' ? frameTxWire(event.payload) : null;
  if (wire !== null) payload = { wire };
  else if (FOLDED_KINDS.has(event.kind)) {
    try {
      payload = decode(event.payload);
    } catch {
      payload = null;
    }
  }
  return { seq: event.seq, vtime: event.vtime, node: event.node, kind: event.kind, cause: event.cause, payload };
}
