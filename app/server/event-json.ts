/**
 * Recorded events as the browser gets them: payload decoded from msgpack to JSON, binary as hex.
 * Frame bytes are the bulk of a log; they stay out unless asked for (the frame inspector fetches
 * one frame at a time).
 */
import { decode } from '../../shared/codec.js';
import type { RecordedEvent } from '../../shared/events.js';
import { bytesToHex } from '../../shared/net/bytes.js';
import { frameProtocol } from '../../processes/controller/frame-protocol.js';
import type { ClusterEvent } from '../../shared/state/cluster-state.js';

/** Rewrites a decoded value for JSON: binary to hex, anything not JSON to text. */
export function jsonSafe(value: unknown): unknown {
  if (value instanceof Uint8Array) return bytesToHex(value);
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), jsonSafe(v)]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonSafe(v);
    return out;
  }
  return value;
}

/** The decoded payload, or a note saying it could not be decoded. */
export function decodePayload(bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch {
    return { undecodable: bytes.length };
  }
}

/** One recorded event for the browser. `bytes`: keep frame bytes (hex) in frame.tx payloads. */
export function toUiEvent(event: RecordedEvent, options: { bytes?: boolean } = {}): ClusterEvent {
  let payload = decodePayload(event.payload);
  if (event.kind === 'frame.tx' && payload !== null && typeof payload === 'object' && 'bytes' in payload) {
    // What the frame carries, for the event list's protocol column and filter (the bytes stay here).
    const { bytes, ...rest } = payload as Record<string, unknown>;
    const carried = frameProtocol(rest.channel, bytes instanceof Uint8Array ? bytes : null);
    payload = { ...(options.bytes ? { bytes } : {}), ...rest, protocol: carried.protocol, housekeeping: carried.housekeeping };
  }
  return { seq: event.seq, vtime: event.vtime, node: event.node, kind: event.kind, cause: event.cause, payload: jsonSafe(payload) };
}
