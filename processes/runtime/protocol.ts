import { DpulabError } from '../../shared/errors.js';
import { z } from 'zod';
import { decode, encode } from '../../shared/codec.js';
import type { NodeEvent } from '../../shared/events.js';
import { CHANNELS } from './types.js';
import type { Channel, NodeInput } from './types.js';

/**
 * The control protocol between the controller and a node process, and the envelope of a frame on
 * a wire. Both are msgpack; every message is parsed with a schema on arrival and a failure names
 * the message and field.
 *
 * Synchronisation (see processes/CONTEXT.md): the controller grants windows [.., horizon). A node
 * first waits until it has received, on every incoming wire direction, as many frames as the
 * controller says its peers reported sending (`expect`), then handles its messages before the
 * horizon, puts its frames on its wires and answers `done` with its events, its cumulative sent
 * counts and the time of its next message.
 */

/** A directed wire: `<wire id>:a>b` or `<wire id>:b>a`. Counts are kept per direction. */
export type WireDirection = string;

const inputSchema: z.ZodType<NodeInput> = z.discriminatedUnion('type', [
  z.object({ type: z.literal('boot') }),
  z.object({ type: z.literal('end') }),
  z.object({ type: z.literal('link'), port: z.string(), up: z.boolean() }),
  z.object({ type: z.literal('action'), action: z.string(), args: z.record(z.string(), z.unknown()) }),
]);

const bytesSchema = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary');
const timeSchema = z.number().int().nonnegative();

/** An input as queued on a node: when, its controller sequence number and the input event behind it. */
export const grantedInputSchema = z.object({
  arrival: timeSchema,
  srcSeq: z.number().int().nonnegative(),
  /** The controller event behind the input; null for the end of the run. */
  causeSeq: z.number().int().nonnegative().nullable(),
  input: inputSchema,
});
export type GrantedInput = z.infer<typeof grantedInputSchema>;

/** Events travel as tuples: [vtime, nodeSeq, kind, causeNode, causeSeq, payload, volatile]. */
const eventTupleSchema = z.tuple([
  timeSchema,
  z.number().int().nonnegative(),
  z.string().min(1),
  z.string().nullable(),
  z.number().int().nonnegative().nullable(),
  bytesSchema,
  bytesSchema.nullable(),
]);

const wireSetupSchema = z.object({
  direction: z.string(),
  wire: z.string(),
  endpoint: z.string(),
  bind: z.boolean(),
});
export type WireSetup = z.infer<typeof wireSetupSchema>;

export const controllerMessageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('setup'),
    topologyJson: z.string(),
    seed: z.number().int(),
    incarnation: z.number().int().nonnegative(),
    nodeSeqBase: z.number().int().nonnegative(),
    wires: z.array(wireSetupSchema),
  }),
  z.object({
    t: z.literal('grant'),
    window: z.number().int().nonnegative(),
    horizon: timeSchema,
    inputs: z.array(grantedInputSchema),
    expect: z.array(z.tuple([z.string(), z.number().int().nonnegative()])),
    /** Incoming directions whose sender is dead: stop waiting, discard what still arrives. */
    dead: z.array(z.string()),
  }),
  z.object({ t: z.literal('sync'), token: z.number().int(), expect: z.array(z.tuple([z.string(), z.number().int().nonnegative()])) }),
  /**
   * A peer died without warning: stop waiting for frames it reported sending (they may have died
   * in its buffers) and discard what still arrives from it. Handled at once, even mid-grant.
   */
  z.object({ t: z.literal('forget'), dead: z.array(z.string()) }),
  /** A peer of this wire was started again: open the wire afresh, counts from zero both ways. */
  z.object({ t: z.literal('rewire'), token: z.number().int(), wire: wireSetupSchema }),
  z.object({ t: z.literal('inspect'), token: z.number().int() }),
  z.object({ t: z.literal('stop') }),
]);
export type ControllerMessage = z.infer<typeof controllerMessageSchema>;

export const nodeMessageSchema = z.discriminatedUnion('t', [
  z.object({ t: z.literal('hello'), node: z.string(), incarnation: z.number().int(), pid: z.number().int() }),
  z.object({ t: z.literal('ready'), node: z.string() }),
  z.object({
    t: z.literal('done'),
    node: z.string(),
    window: z.number().int().nonnegative(),
    events: z.array(eventTupleSchema),
    /** Per outgoing direction: cumulative frames sent, and the earliest arrival among this window's. */
    sent: z.array(z.tuple([z.string(), z.number().int().nonnegative(), timeSchema.nullable()])),
    next: timeSchema.nullable(),
  }),
  z.object({ t: z.literal('synced'), node: z.string(), token: z.number().int() }),
  z.object({ t: z.literal('rewired'), node: z.string(), token: z.number().int() }),
  z.object({ t: z.literal('inspected'), node: z.string(), token: z.number().int(), state: z.unknown() }),
  z.object({ t: z.literal('bye'), node: z.string() }),
  z.object({ t: z.literal('fatal'), node: z.string(), message: z.string() }),
]);
export type NodeMessage = z.infer<typeof nodeMessageSchema>;

/** A message that could not be parsed; names what came from where. */
export class ProtocolError extends DpulabError {
  readonly code = 'protocol';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function parseWith<T>(schema: z.ZodType<T>, bytes: Uint8Array, what: string): T {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch (error) {
    throw new ProtocolError(`${what}: not msgpack (${(error as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ProtocolError(`${what}: field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function encodeControllerMessage(message: ControllerMessage): Uint8Array {
  return encode(message);
}

/** Parses a message from the controller; throws ProtocolError naming the field. */
export function parseControllerMessage(bytes: Uint8Array): ControllerMessage {
  return parseWith(controllerMessageSchema, bytes, 'Control message from the controller');
}

export function encodeNodeMessage(message: NodeMessage): Uint8Array {
  return encode(message);
}

/** Parses a message from a node; throws ProtocolError naming the node channel and field. */
export function parseNodeMessage(bytes: Uint8Array, from: string): NodeMessage {
  return parseWith(nodeMessageSchema, bytes, `Control message from ${from}`);
}

export type EventTuple = z.infer<typeof eventTupleSchema>;

export function eventToTuple(e: NodeEvent): EventTuple {
  return [e.vtime, e.nodeSeq, e.kind, e.cause?.node ?? null, e.cause?.nodeSeq ?? null, e.payload, e.volatile];
}

export function eventFromTuple(node: string, t: EventTuple): NodeEvent {
  const [vtime, nodeSeq, kind, causeNode, causeSeq, payload, volatile] = t;
  return {
    vtime,
    node,
    nodeSeq,
    kind,
    cause: causeNode !== null && causeSeq !== null ? { node: causeNode, nodeSeq: causeSeq } : null,
    payload,
    volatile,
  };
}

/** A frame as it travels on a wire, with what the receiver needs to order it deterministically. */
export interface WireEnvelope {
  readonly arrival: number;
  readonly srcSeq: number;
  readonly channel: Channel;
  /** nodeSeq of the sender's `frame.tx` event. */
  readonly causeSeq: number;
  readonly bytes: Uint8Array;
}

/** A malformed envelope on a wire: dropped and counted by the receiver, never fatal. */
export class WireEnvelopeError extends DpulabError {
  readonly code = 'bad-envelope';
  constructor(
    readonly wire: string,
    message: string,
  ) {
    super(`Wire ${wire}: ${message}`);
    this.name = 'WireEnvelopeError';
  }
}

export function encodeEnvelope(e: WireEnvelope): Uint8Array {
  return encode([e.arrival, e.srcSeq, CHANNELS.indexOf(e.channel), e.causeSeq, e.bytes]);
}

/**
 * Parses a wire envelope. This is the hot path (every frame), so the schema is checked by hand
 * rather than with zod; it checks the same things and names the field that was wrong.
 */
export function decodeEnvelope(bytes: Uint8Array, wire: string): WireEnvelope {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw new WireEnvelopeError(wire, `envelope of ${bytes.length} bytes is not msgpack`);
  }
  if (!Array.isArray(raw) || raw.length !== 5) throw new WireEnvelopeError(wire, 'envelope is not a 5-element array');
  const [arrival, srcSeq, channelIndex, causeSeq, frame] = raw as unknown[];
  if (!Number.isSafeInteger(arrival) || (arrival as number) < 0) throw new WireEnvelopeError(wire, 'envelope field arrival is not a non-negative integer');
  if (!Number.isSafeInteger(srcSeq) || (srcSeq as number) < 0) throw new WireEnvelopeError(wire, 'envelope field srcSeq is not a non-negative integer');
  const channel = CHANNELS[channelIndex as number];
  if (!Number.isInteger(channelIndex) || channel === undefined) throw new WireEnvelopeError(wire, `envelope field channel ${String(channelIndex)} is unknown`);
  if (!Number.isSafeInteger(causeSeq) || (causeSeq as number) < 0) throw new WireEnvelopeError(wire, 'envelope field causeSeq is not a non-negative integer');
  if (!(frame instanceof Uint8Array)) throw new WireEnvelopeError(wire, 'envelope field bytes is not binary');
  return { arrival: arrival as number, srcSeq: srcSeq as number, channel, causeSeq: causeSeq as number, bytes: frame };
}
