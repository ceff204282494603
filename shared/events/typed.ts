/**
 * Reading events with their payloads typed by kind, without casts: a recorded event (msgpack
 * payload) or an event as the UI server sends it (payload already decoded) becomes a
 * {@link TypedEvent}, a union discriminated by `kind`, so `if (e.kind === 'vmotion.done')` gives
 * `e.payload` the type of a `vmotion.done` payload.
 */

import { DpulabError } from '../errors.js';
import { decode } from '../codec.js';
import type { RecordedEvent } from '../events.js';
import { isEventKind, type EventKind, type EventPayloads, type EventVolatile, type EventVolatiles, type InputRecord } from './catalogue.js';

/** An event whose payload has the type its kind declares; narrow it by `kind`. */
export type TypedEvent<K extends EventKind = EventKind> = {
  readonly [P in K]: {
    readonly seq: number;
    readonly vtime: number;
    readonly node: string;
    readonly kind: P;
    /** Global seq of the causing event, or null. */
    readonly cause: number | null;
    readonly payload: EventPayloads[P];
  };
}[K];

/** An event with its payload already decoded (as the UI server sends it, as the fold reads it). */
export interface DecodedEvent {
  readonly seq: number;
  readonly vtime: number;
  readonly node: string;
  readonly kind: string;
  /** Seq of the event that caused this one, or null. */
  readonly cause: number | null;
  readonly payload: unknown;
}

/**
 * Why an event cannot be read as the catalogue says. A log's own fault (the user's input):
 * `unknown-event-kind`, `undecodable-payload`, `input-mismatch` (an input record of another
 * action than its kind). A caller's: `wrong-event-kind` (asked for one kind, gave another).
 */
export class EventDecodeError extends DpulabError {
  constructor(
    readonly code: 'unknown-event-kind' | 'undecodable-payload' | 'input-mismatch' | 'wrong-event-kind',
    message: string,
  ) {
    super(message, { fromInput: code !== 'wrong-event-kind' });
    this.name = 'EventDecodeError';
  }
}

/**
 * Decodes a recorded event's payload and types it by its kind.
 *
 * The payload is trusted to have its kind's shape: dpulab wrote it, and the catalogue's types held
 * at every emitter (a test checks recorded logs against the catalogue's fields). A log from
 * another dpulab may hold kinds this one does not know: check with `isEventKind` first to skip them.
 *
 * @throws EventDecodeError for a kind the catalogue does not declare, or a payload that is not msgpack
 * @example
 * const e = decodeEvent(recorded);
 * if (e.kind === 'vmotion.done') console.log(e.payload.result);
 */
export function decodeEvent(event: RecordedEvent): TypedEvent {
  const kind = knownKind(event.kind, event.seq);
  return typedEvent({ seq: event.seq, vtime: event.vtime, node: event.node, kind, cause: event.cause, payload: decodeBytes(event.payload, event.seq) });
}

/**
 * Types an event whose payload is already decoded (the UI server's JSON events). Binary payload
 * fields arrive as the server wrote them (hex text), not as bytes.
 *
 * @throws EventDecodeError for a kind the catalogue does not declare
 */
export function typedEvent(event: DecodedEvent): TypedEvent {
  knownKind(event.kind, event.seq);
  // The one place a decoded payload meets its type: the catalogue's promise, checked by tests.
  return event as TypedEvent;
}

/**
 * The payload of a recorded event of a known kind, typed; cheaper than {@link decodeEvent} when a
 * reader has already picked events by kind.
 *
 * @throws EventDecodeError when the event is of another kind, or its payload is not msgpack
 * @example
 * if (e.kind === 'cost.report') total += eventPayload(e, 'cost.report').totalCpuNs;
 */
export function eventPayload<K extends EventKind>(event: RecordedEvent, kind: K): EventPayloads[K] {
  if (event.kind !== kind) throw new EventDecodeError('wrong-event-kind', `Event ${event.seq} is a ${event.kind}, not a ${kind}`);
  return decodeBytes(event.payload, event.seq) as EventPayloads[K];
}

/** The volatile record of a recorded event of a known kind (pid of `node.start`), or null when it has none. */
export function eventVolatile<K extends keyof EventVolatiles>(event: RecordedEvent, kind: K): EventVolatile<K> | null {
  if (event.kind !== kind) throw new EventDecodeError('wrong-event-kind', `Event ${event.seq} is a ${event.kind}, not a ${kind}`);
  return event.volatile === null ? null : (decodeBytes(event.volatile, event.seq) as EventVolatile<K>);
}

/**
 * The input an `input.<action>` event recorded, as the controller plans it (replays feed it back).
 *
 * @throws EventDecodeError when the event is no input of a known action, or its record names another action
 */
export function eventInput(event: RecordedEvent): InputRecord {
  const kind = knownKind(event.kind, event.seq);
  if (!kind.startsWith('input.')) throw new EventDecodeError('wrong-event-kind', `Event ${event.seq} is a ${kind}, not an input`);
  const record = decodeBytes(event.payload, event.seq);
  const action = record !== null && typeof record === 'object' ? (record as { action?: unknown }).action : undefined;
  if (`input.${String(action)}` !== kind) throw new EventDecodeError('input-mismatch', `Event ${event.seq} is a ${kind} whose record names action ${String(action)}`);
  // planInput checks every field of it before anything happens.
  return record as InputRecord;
}

function knownKind(kind: string, seq: number): EventKind {
  if (!isEventKind(kind)) throw new EventDecodeError('unknown-event-kind', `Event ${seq} has kind ${kind}, which this dpulab does not know`);
  return kind;
}

function decodeBytes(bytes: Uint8Array, seq: number): unknown {
  try {
    return decode(bytes);
  } catch (error) {
    throw new EventDecodeError('undecodable-payload', `Event ${seq} has a payload that is not msgpack: ${error instanceof Error ? error.message : String(error)}`);
  }
}
