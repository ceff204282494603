import { DpulabError } from '../../shared/errors.js';
import { decode, encode } from '../../shared/codec.js';
import { CONTROLLER_NODE, type NodeEvent, type VTime } from '../../shared/events.js';
import { ByteReader, ByteWriter, LayoutError } from './layout.js';
import { CHANNELS } from './types.js';
import type { Channel, NodeInput } from './types.js';

/**
 * The control protocol between the controller and a node process, and the envelope of a frame on
 * a wire. Every message has a fixed binary layout (`layout.ts`): a tag byte, then its fields in
 * order. A grant and its `done` cross once per window and an envelope once per frame, so decoding
 * costs a typed read per field; every field is still checked, and a failure names the message
 * and the field.
 *
 * Synchronisation (see processes/CONTEXT.md): the controller grants windows [.., horizon). A node
 * first waits until it has received, on every incoming wire direction, as many frames as the
 * controller says its peers reported sending (`expect`), then handles its messages before the
 * horizon, puts its frames on its wires and answers `done` with its events, its cumulative sent
 * counts and the time of its next message.
 *
 * Wire directions and nodes travel as numbers: both ends hold the same topology, so a direction
 * is 2 x the wire's index in `topology.wires` (+1 from `b` to `a`) and a node is its index in
 * `topology.nodes`.
 */

/** A directed wire: 2 x the wire's index in the topology, +1 for the `b>a` direction. */
export type WireDirection = number;

/** The direction id of a wire's `a>b` or `b>a` side. */
export function wireDirection(wireIndex: number, arrow: 'a>b' | 'b>a'): WireDirection {
  return wireIndex * 2 + (arrow === 'a>b' ? 0 : 1);
}

/** The opposite direction of the same wire. */
export function reverseDirection(direction: WireDirection): WireDirection {
  return direction ^ 1;
}

/** A direction as people read it: `up-01a-a:a>b`. */
export function describeDirection(wires: ReadonlyArray<{ readonly id: string }>, direction: WireDirection): string {
  return `${wires[direction >> 1]?.id ?? `wire#${direction >> 1}`}:${direction & 1 ? 'b>a' : 'a>b'}`;
}

/** An input as queued on a node: when, its controller sequence number and the input event behind it. */
export interface GrantedInput {
  readonly arrival: VTime;
  readonly srcSeq: number;
  /** The controller event behind the input; null for the end of the run. */
  readonly causeSeq: number | null;
  readonly input: NodeInput;
}

/** How a node opens one end of a wire: the `a` end binds, the `b` end connects. */
export interface WireSetup {
  /** The direction this node sends in. */
  readonly direction: WireDirection;
  readonly endpoint: string;
  readonly bind: boolean;
}

/** Frames a node must have received on an incoming direction before it may run. */
export type Expectation = readonly [direction: WireDirection, count: number];

export type ControllerMessage =
  | {
      readonly t: 'setup';
      readonly topologyJson: string;
      readonly seed: number;
      readonly incarnation: number;
      readonly nodeSeqBase: number;
      readonly wires: readonly WireSetup[];
    }
  | {
      readonly t: 'grant';
      readonly window: number;
      readonly horizon: VTime;
      readonly inputs: readonly GrantedInput[];
      readonly expect: readonly Expectation[];
      /** Incoming directions whose sender is dead: stop waiting, discard what still arrives. */
      readonly dead: readonly WireDirection[];
    }
  | { readonly t: 'sync'; readonly token: number; readonly expect: readonly Expectation[] }
  /**
   * A peer died without warning: stop waiting for frames it reported sending (they may have died
   * in its buffers) and discard what still arrives from it. Handled at once, even mid-grant.
   */
  | { readonly t: 'forget'; readonly dead: readonly WireDirection[] }
  /** A peer of this wire was started again: open the wire afresh, counts from zero both ways. */
  | { readonly t: 'rewire'; readonly token: number; readonly wire: WireSetup }
  | { readonly t: 'inspect'; readonly token: number }
  | { readonly t: 'stop' };

/** Per outgoing direction: cumulative frames sent, and the earliest arrival among this window's (null: none). */
export type SentCount = readonly [direction: WireDirection, count: number, minArrival: VTime | null];

/**
 * A node's answer to a grant. Its events stay encoded in `body` from `eventsAt` on until
 * `readDoneEvents` is called: the controller plans and grants the next window first.
 */
export interface DoneMessage {
  readonly t: 'done';
  readonly window: number;
  readonly next: VTime | null;
  readonly sent: readonly SentCount[];
  readonly body: Uint8Array;
  readonly eventsAt: number;
}

export type NodeMessage =
  | { readonly t: 'hello'; readonly node: string; readonly incarnation: number; readonly pid: number }
  | { readonly t: 'ready' }
  | DoneMessage
  | { readonly t: 'synced'; readonly token: number }
  | { readonly t: 'rewired'; readonly token: number }
  | { readonly t: 'inspected'; readonly token: number; readonly state: unknown }
  | { readonly t: 'bye' }
  | { readonly t: 'fatal'; readonly message: string };

/** A message that could not be parsed; names what came from where, and the field. */
export class ProtocolError extends DpulabError {
  readonly code = 'protocol';
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

const enum Tag {
  Setup = 1,
  Grant = 2,
  Sync = 3,
  Forget = 4,
  Rewire = 5,
  Inspect = 6,
  Stop = 7,
  Hello = 101,
  Ready = 102,
  Done = 103,
  Synced = 104,
  Rewired = 105,
  Inspected = 106,
  Bye = 107,
  Fatal = 108,
}

const enum InputTag {
  Boot = 1,
  End = 2,
  Link = 3,
  Action = 4,
  Impair = 5,
}

/** Marks a frame envelope, so stray bytes on a wire are told apart at once. */
const ENVELOPE_TAG = 0xe1;
/** The channel byte's bit that marks a frame the wire corrupted. */
const CORRUPTED_BIT = 0x80;
/** tag, channel (with CORRUPTED_BIT), arrival, srcSeq, causeSeq. */
const ENVELOPE_HEADER_BYTES = 1 + 1 + 8 + 8 + 8;

/** `cause` node indices beyond the topology's nodes. */
const CAUSE_NONE = 0xffff;
const CAUSE_CONTROLLER = 0xfffe;

// One writer per process and direction of travel: messages are built one at a time.
const controllerWriter = new ByteWriter();
const nodeWriter = new ByteWriter(64 * 1024);
const envelopeWriter = new ByteWriter(2048);

function writeExpect(w: ByteWriter, expect: readonly Expectation[]): void {
  w.u16(expect.length);
  for (const [direction, count] of expect) w.u32(direction).f64(count);
}

function writeDirections(w: ByteWriter, directions: readonly WireDirection[]): void {
  w.u16(directions.length);
  for (const direction of directions) w.u32(direction);
}

function writeWireSetup(w: ByteWriter, setup: WireSetup): void {
  w.u32(setup.direction).str(setup.endpoint).u8(setup.bind ? 1 : 0);
}

function writeInput(w: ByteWriter, input: NodeInput): void {
  switch (input.type) {
    case 'boot':
      w.u8(InputTag.Boot);
      return;
    case 'end':
      w.u8(InputTag.End);
      return;
    case 'link':
      w.u8(InputTag.Link).str(input.port).u8(input.up ? 1 : 0);
      return;
    case 'action':
      w.u8(InputTag.Action).str(input.action).bytes(encode(input.args));
      return;
    case 'impair': {
      const { loss, corrupt, duplicate, jitterNs } = input.impairments;
      w.u8(InputTag.Impair).str(input.port).f64(loss).f64(corrupt).f64(duplicate).f64(jitterNs).f64(input.durationNs);
      return;
    }
  }
}

/** Encodes a message from the controller. */
export function encodeControllerMessage(message: ControllerMessage): Uint8Array {
  const w = controllerWriter.reset();
  switch (message.t) {
    case 'setup':
      // The topology is longer than a u16-sized string may be: it travels as bytes.
      w.u8(Tag.Setup).bytes(new TextEncoder().encode(message.topologyJson)).f64(message.seed).u32(message.incarnation).f64(message.nodeSeqBase);
      w.u16(message.wires.length);
      for (const setup of message.wires) writeWireSetup(w, setup);
      break;
    case 'grant':
      w.u8(Tag.Grant).u32(message.window).f64(message.horizon);
      w.u16(message.inputs.length);
      for (const i of message.inputs) {
        w.f64(i.arrival).f64(i.srcSeq).f64(i.causeSeq ?? -1);
        writeInput(w, i.input);
      }
      writeExpect(w, message.expect);
      writeDirections(w, message.dead);
      break;
    case 'sync':
      w.u8(Tag.Sync).u32(message.token);
      writeExpect(w, message.expect);
      break;
    case 'forget':
      w.u8(Tag.Forget);
      writeDirections(w, message.dead);
      break;
    case 'rewire':
      w.u8(Tag.Rewire).u32(message.token);
      writeWireSetup(w, message.wire);
      break;
    case 'inspect':
      w.u8(Tag.Inspect).u32(message.token);
      break;
    case 'stop':
      w.u8(Tag.Stop);
      break;
  }
  return w.finish();
}

function readExpect(r: ByteReader, field: string): Expectation[] {
  const n = r.u16(field);
  const out: Expectation[] = [];
  for (let i = 0; i < n; i++) {
    r.index = i;
    out.push([r.u32(`${field}[].direction`), r.count(`${field}[].count`)]);
  }
  return out;
}

function readDirections(r: ByteReader, field: string): WireDirection[] {
  const n = r.u16(field);
  const out: WireDirection[] = [];
  for (let i = 0; i < n; i++) {
    r.index = i;
    out.push(r.u32(`${field}[]`));
  }
  return out;
}

function readWireSetup(r: ByteReader, field: string): WireSetup {
  return { direction: r.u32(`${field}.direction`), endpoint: r.str(`${field}.endpoint`), bind: r.flag(`${field}.bind`) };
}

function readInput(r: ByteReader): NodeInput {
  const tag = r.u8('inputs[].input.type');
  switch (tag) {
    case InputTag.Boot:
      return { type: 'boot' };
    case InputTag.End:
      return { type: 'end' };
    case InputTag.Link:
      return { type: 'link', port: r.str('inputs[].input.port'), up: r.flag('inputs[].input.up') };
    case InputTag.Action: {
      const action = r.str('inputs[].input.action');
      const bytes = r.bytesField('inputs[].input.args');
      let args: unknown;
      try {
        args = decode(bytes);
      } catch {
        r.fail('inputs[].input.args', 'is not msgpack');
      }
      if (typeof args !== 'object' || args === null || Array.isArray(args)) r.fail('inputs[].input.args', 'is not a map');
      return { type: 'action', action, args: args as Record<string, unknown> };
    }
    case InputTag.Impair: {
      const port = r.str('inputs[].input.port');
      const impairments = {
        loss: r.fraction('inputs[].input.impairments.loss'),
        corrupt: r.fraction('inputs[].input.impairments.corrupt'),
        duplicate: r.fraction('inputs[].input.impairments.duplicate'),
        jitterNs: r.count('inputs[].input.impairments.jitterNs'),
      };
      const durationNs = r.count('inputs[].input.durationNs');
      if (durationNs === 0) r.fail('inputs[].input.durationNs', 'is not positive');
      return { type: 'impair', port, impairments, durationNs };
    }
    default:
      return r.fail('inputs[].input.type', `${tag} is not an input type`);
  }
}

/** Parses a message from the controller; throws ProtocolError naming the field. */
export function parseControllerMessage(bytes: Uint8Array): ControllerMessage {
  const r: ByteReader = new ByteReader(bytes, 'Control message from the controller');
  try {
    const message = readControllerMessage(r);
    r.end();
    return message;
  } catch (error) {
    throw asProtocolError(error);
  }
}

function readControllerMessage(r: ByteReader): ControllerMessage {
  const tag = r.u8('t');
  switch (tag) {
    case Tag.Setup: {
      let topologyJson: string;
      const topologyBytes = r.bytesField('topologyJson');
      try {
        topologyJson = new TextDecoder('utf-8', { fatal: true }).decode(topologyBytes);
      } catch {
        return r.fail('topologyJson', 'is not UTF-8');
      }
      const seed = r.integer('seed');
      const incarnation = r.u32('incarnation');
      const nodeSeqBase = r.count('nodeSeqBase');
      const n = r.u16('wires');
      const wires: WireSetup[] = [];
      for (let i = 0; i < n; i++) {
        r.index = i;
        wires.push(readWireSetup(r, 'wires[]'));
      }
      return { t: 'setup', topologyJson, seed, incarnation, nodeSeqBase, wires };
    }
    case Tag.Grant: {
      const window = r.u32('window');
      const horizon = r.count('horizon');
      const n = r.u16('inputs');
      const inputs: GrantedInput[] = [];
      for (let i = 0; i < n; i++) {
        r.index = i;
        const arrival = r.count('inputs[].arrival');
        const srcSeq = r.count('inputs[].srcSeq');
        const causeSeq = r.countOrNull('inputs[].causeSeq');
        inputs.push({ arrival, srcSeq, causeSeq, input: readInput(r) });
      }
      const expect = readExpect(r, 'expect');
      const dead = readDirections(r, 'dead');
      return { t: 'grant', window, horizon, inputs, expect, dead };
    }
    case Tag.Sync:
      return { t: 'sync', token: r.u32('token'), expect: readExpect(r, 'expect') };
    case Tag.Forget:
      return { t: 'forget', dead: readDirections(r, 'dead') };
    case Tag.Rewire:
      return { t: 'rewire', token: r.u32('token'), wire: readWireSetup(r, 'wire') };
    case Tag.Inspect:
      return { t: 'inspect', token: r.u32('token') };
    case Tag.Stop:
      return { t: 'stop' };
    default:
      return r.fail('t', `${tag} is not a message from the controller`);
  }
}

/**
 * The node names an encoded event may refer to as its cause: the topology's nodes by index,
 * and the controller.
 */
export interface NodeNames {
  readonly ids: readonly string[];
  readonly index: ReadonlyMap<string, number>;
}

/** The name table of a topology's nodes, in topology order. */
export function nodeNames(nodes: ReadonlyArray<{ readonly id: string }>): NodeNames {
  const ids = nodes.map((n) => n.id);
  return { ids, index: new Map(ids.map((id, i) => [id, i])) };
}

/** A `done` as a node builds it: its events are encoded straight from the runtime's. */
export interface DoneDraft {
  readonly window: number;
  readonly next: VTime | null;
  readonly sent: readonly SentCount[];
  readonly events: readonly NodeEvent[];
}

/** Encodes a message from a node; `names` maps the causes of a `done`'s events to indices. */
export function encodeNodeMessage(message: Exclude<NodeMessage, DoneMessage> | (DoneDraft & { readonly t: 'done' }), names?: NodeNames): Uint8Array {
  const w = nodeWriter.reset();
  switch (message.t) {
    case 'hello':
      w.u8(Tag.Hello).str(message.node).u32(message.incarnation).u32(message.pid);
      break;
    case 'ready':
      w.u8(Tag.Ready);
      break;
    case 'done': {
      w.u8(Tag.Done).u32(message.window).f64(message.next ?? -1);
      w.u16(message.sent.length);
      for (const [direction, count, minArrival] of message.sent) w.u32(direction).f64(count).f64(minArrival ?? -1);
      w.u32(message.events.length);
      for (const e of message.events) {
        w.f64(e.vtime).f64(e.nodeSeq).str(e.kind);
        if (e.cause === null) w.u16(CAUSE_NONE);
        else {
          const index = e.cause.node === CONTROLLER_NODE ? CAUSE_CONTROLLER : names?.index.get(e.cause.node);
          if (index === undefined) throw new Error(`Event ${e.kind} names an unknown cause node ${e.cause.node}`);
          w.u16(index).f64(e.cause.nodeSeq);
        }
        w.bytes(e.payload).bytes(e.volatile);
      }
      break;
    }
    case 'synced':
      w.u8(Tag.Synced).u32(message.token);
      break;
    case 'rewired':
      w.u8(Tag.Rewired).u32(message.token);
      break;
    case 'inspected':
      w.u8(Tag.Inspected).u32(message.token).bytes(encode(message.state));
      break;
    case 'bye':
      w.u8(Tag.Bye);
      break;
    case 'fatal':
      w.u8(Tag.Fatal).str(message.message.slice(0, 4096));
      break;
  }
  return w.finish();
}

/**
 * Parses a message from a node; throws ProtocolError naming the node and field. A `done`'s
 * header is checked here and its events by `readDoneEvents`.
 */
export function parseNodeMessage(bytes: Uint8Array, from: string): NodeMessage {
  const r: ByteReader = new ByteReader(bytes, `Control message from ${from}`);
  try {
    const message = readNodeMessage(r);
    if (message.t !== 'done') r.end();
    return message;
  } catch (error) {
    throw asProtocolError(error);
  }
}

function readNodeMessage(r: ByteReader): NodeMessage {
  const tag = r.u8('t');
  switch (tag) {
    case Tag.Hello:
      return { t: 'hello', node: r.str('node'), incarnation: r.u32('incarnation'), pid: r.u32('pid') };
    case Tag.Ready:
      return { t: 'ready' };
    case Tag.Done: {
      const window = r.u32('window');
      const next = r.countOrNull('next');
      const n = r.u16('sent');
      const sent: SentCount[] = [];
      for (let i = 0; i < n; i++) {
        r.index = i;
        sent.push([r.u32('sent[].direction'), r.count('sent[].count'), r.countOrNull('sent[].minArrival')]);
      }
      return { t: 'done', window, next, sent, body: r.bytes, eventsAt: r.at };
    }
    case Tag.Synced:
      return { t: 'synced', token: r.u32('token') };
    case Tag.Rewired:
      return { t: 'rewired', token: r.u32('token') };
    case Tag.Inspected: {
      const token = r.u32('token');
      const bytes = r.bytesField('state');
      try {
        return { t: 'inspected', token, state: decode(bytes) };
      } catch {
        return r.fail('state', 'is not msgpack');
      }
    }
    case Tag.Bye:
      return { t: 'bye' };
    case Tag.Fatal:
      return { t: 'fatal', message: r.str('message') };
    default:
      return r.fail('t', `${tag} is not a message from a node`);
  }
}

/**
 * The events of a `done` from `node`, checked field by field; throws ProtocolError naming the
 * event and field. Payloads are views into the message, which nothing else reuses.
 */
export function readDoneEvents(done: DoneMessage, node: string, names: NodeNames): NodeEvent[] {
  const r: ByteReader = new ByteReader(done.body, `Control message from node ${node}`);
  r.at = done.eventsAt;
  try {
    const n = r.u32('events');
    const events: NodeEvent[] = new Array<NodeEvent>(n);
    for (let i = 0; i < n; i++) {
      r.index = i;
      const vtime = r.count('events[].vtime');
      const nodeSeq = r.count('events[].nodeSeq');
      const kind = r.str('events[].kind');
      if (kind.length === 0) r.fail('events[].kind', 'is empty');
      const causeIndex = r.u16('events[].cause.node');
      let cause: NodeEvent['cause'] = null;
      if (causeIndex !== CAUSE_NONE) {
        const causeNode = causeIndex === CAUSE_CONTROLLER ? CONTROLLER_NODE : names.ids[causeIndex];
        if (causeNode === undefined) r.fail('events[].cause.node', `${causeIndex} is not a node`);
        cause = { node: causeNode, nodeSeq: r.count('events[].cause.nodeSeq') };
      }
      const payload = r.bytesField('events[].payload');
      const volatile = r.bytesOrNull('events[].volatile');
      events[i] = { vtime, node, nodeSeq, kind, cause, payload, volatile };
    }
    r.end();
    return events;
  } catch (error) {
    throw asProtocolError(error);
  }
}

function asProtocolError(error: unknown): unknown {
  return error instanceof LayoutError ? new ProtocolError(error.message) : error;
}

/** A frame as it travels on a wire, with what the receiver needs to order it deterministically. */
export interface WireEnvelope {
  readonly arrival: number;
  readonly srcSeq: number;
  readonly channel: Channel;
  /** nodeSeq of the sender's `frame.tx` event. */
  readonly causeSeq: number;
  readonly bytes: Uint8Array;
  /** The wire corrupted the frame (see `OutboundFrame.corrupted`). */
  readonly corrupted?: boolean;
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

const channelIndex: Readonly<Record<Channel, number>> = Object.fromEntries(CHANNELS.map((c, i) => [c, i])) as Record<Channel, number>;

/** Encodes a frame's envelope: tag, channel, arrival, srcSeq, causeSeq, then the frame's bytes. */
export function encodeEnvelope(e: WireEnvelope): Uint8Array {
  // A corrupted frame is marked by the channel byte's high bit: the common envelope stays as it was.
  const channel = channelIndex[e.channel] | (e.corrupted === true ? CORRUPTED_BIT : 0);
  return envelopeWriter.reset().u8(ENVELOPE_TAG).u8(channel).f64(e.arrival).f64(e.srcSeq).f64(e.causeSeq).tail(e.bytes).finish();
}

/**
 * Parses a wire envelope (every frame). Checks the same things a schema would and names the
 * field that was wrong; the frame's bytes are a view into the message.
 */
export function decodeEnvelope(bytes: Uint8Array, wire: string): WireEnvelope {
  if (bytes.length < ENVELOPE_HEADER_BYTES) throw new WireEnvelopeError(wire, `envelope of ${bytes.length} bytes is shorter than its ${ENVELOPE_HEADER_BYTES}-byte header`);
  if (bytes[0] !== ENVELOPE_TAG) throw new WireEnvelopeError(wire, `envelope starts with ${bytes[0]}, not the envelope tag ${ENVELOPE_TAG}`);
  const r: ByteReader = new ByteReader(bytes, `Wire ${wire}`);
  r.at = 1;
  try {
    const marked = r.u8('channel');
    const index = marked & ~CORRUPTED_BIT;
    const channel = CHANNELS[index];
    if (channel === undefined) r.fail('channel', `${index} is unknown`);
    const arrival = r.count('arrival');
    const srcSeq = r.count('srcSeq');
    const causeSeq = r.count('causeSeq');
    const envelope: WireEnvelope = { arrival, srcSeq, channel, causeSeq, bytes: r.tail() };
    return (marked & CORRUPTED_BIT) !== 0 ? { ...envelope, corrupted: true } : envelope;
  } catch (error) {
    if (error instanceof LayoutError) throw new WireEnvelopeError(wire, `envelope field ${error.field}: ${error.problem}`);
    throw error;
  }
}
