/**
 * The lab state as an event log stores it: every DEFAULT_SNAPSHOT_INTERVAL events, the recorder
 * folds the run's events as the UI does and keeps a copy in the log's `snapshots` table, so a
 * viewer seeks into a long recorded run from the nearest copy instead of folding from the start.
 *
 * A stored copy names the version of the fold that made it; a viewer whose fold differs
 * (LAB_STATE_VERSION was bumped) ignores the copies and folds the events itself. Bump it with any
 * change to `applyEvent` or `LabState` that a stored copy would not reflect.
 */
import { decode, encode } from '../codec.js';
import type { RecordedEvent } from '../events.js';
import { FOLDED_KINDS, type LabState, type UiEvent } from './lab-state.js';

/** The version of the lab-state fold; stored copies of another version are not used. */
export const LAB_STATE_VERSION = 1;

/** The `node` of the `snapshots` rows that hold the lab state (the whole cluster, not one node). */
export const LAB_SNAPSHOT_NODE = '*lab';

/** The decoded payload, or a note saying it could not be decoded. */
function decodePayload(bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch {
    return { undecodable: bytes.length };
  }
}

/**
 * The `wire` of a frame.tx payload, read without decoding the rest (the frame's bytes are most of
 * it, and the fold reads nothing else of a frame): a map whose first key is `wire`, as the
 * runtime writes it. Null for any other shape, which is then decoded whole.
 */
function frameWire(bytes: Uint8Array): string | null {
  let at: number;
  if (bytes[0]! >= 0x80 && bytes[0]! <= 0x8f) at = 1;
  else if (bytes[0] === 0xde) at = 3;
  else return null;
  // fixstr "wire"
  if (bytes[at] !== 0xa4 || bytes[at + 1] !== 0x77 || bytes[at + 2] !== 0x69 || bytes[at + 3] !== 0x72 || bytes[at + 4] !== 0x65) return null;
  at += 5;
  let length: number;
  if (bytes[at]! >= 0xa0 && bytes[at]! <= 0xbf) length = bytes[at++]! - 0xa0;
  else if (bytes[at] === 0xd9) {
    length = bytes[at + 1]!;
    at += 2;
  } else return null;
  if (at + length > bytes.length) return null;
  let text = '';
  for (let i = at; i < at + length; i++) {
    if (bytes[i]! >= 0x80) return null;
    text += String.fromCharCode(bytes[i]!);
  }
  return text;
}

/**
 * One recorded event as the lab-state fold needs it, cheaply: the payload decoded only for the
 * kinds the fold reads, and left as msgpack decoded it (the fold reads plain fields, never binary);
 * of a frame.tx, only its wire.
 */
export function foldEventOf(event: RecordedEvent): UiEvent {
  let payload: unknown = null;
  if (FOLDED_KINDS.has(event.kind)) {
    const wire = event.kind === 'frame.tx' ? frameWire(event.payload) : null;
    payload = wire !== null ? { wire } : decodePayload(event.payload);
  }
  return { seq: event.seq, vtime: event.vtime, node: event.node, kind: event.kind, cause: event.cause, payload };
}

/** A stored copy of the lab state: msgpack of the fold's version and the state. */
export function encodeLabSnapshot(state: LabState): Uint8Array {
  return encode({ version: LAB_STATE_VERSION, state });
}

/** The lab state a stored copy holds, or null when another version of the fold made it (or it is unreadable). */
export function decodeLabSnapshot(bytes: Uint8Array): LabState | null {
  try {
    const value = decode(bytes) as { version?: unknown; state?: unknown };
    if (value?.version !== LAB_STATE_VERSION || typeof value.state !== 'object' || value.state === null) return null;
    return value.state as LabState;
  } catch {
    return null;
  }
}
