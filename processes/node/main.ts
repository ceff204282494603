/**
 * The shell of one node process (host, DPU or switch): sockets, lifecycle and signals around a
 * deterministic core. Started by the controller with `--node ID --incarnation N --control ENDPOINT`.
 *
 * It connects a DEALER to the controller, opens one PAIR socket per wire it is on, and then does
 * only what it is told: run a window, sync, inspect, stop. When the controller dies, the stdin
 * pipe closes and the node exits at once: no node outlives its run.
 *
 * A window costs one control message each way and nothing else: control messages are handled as
 * they arrive, in order, without a promise or a timer of their own; a grant whose frames are not
 * all in yet waits at the head of the line and runs from the receive of the frame that completes
 * it. One watchdog per process reports a grant stalled on missing frames.
 */
import { parseArgs } from 'node:util';
import { Dealer, Pair } from 'zeromq';
import { CONTROLLER_NODE } from '../../shared/events.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { createCore } from '../cores.js';
import { NodeRuntime } from '../runtime/node-runtime.js';
import {
  decodeEnvelope,
  describeDirection,
  encodeEnvelope,
  encodeNodeMessage,
  nodeNames,
  parseControllerMessage,
  reverseDirection,
  WireEnvelopeError,
  type ControllerMessage,
  type Expectation,
  type NodeMessage,
  type NodeNames,
  type SentCount,
  type WireDirection,
  type WireSetup,
} from '../runtime/protocol.js';
import { receiveEach } from './receive.js';
import { SendQueue } from './send-queue.js';
import { bindingSocketOptions, connectingSocketOptions, holdRunToken, RUN_TOKEN_ENV, watchRefusals } from './wire-auth.js';

const { values } = parseArgs({
  options: {
    node: { type: 'string' },
    incarnation: { type: 'string', default: '0' },
    control: { type: 'string' },
  },
});
const nodeId = values.node;
const controlEndpoint = values.control;
if (!nodeId || !controlEndpoint) {
  process.stderr.write('Usage: main.js --node ID --incarnation N --control ENDPOINT\n');
  process.exit(2);
}
const incarnation = Number(values.incarnation);
// The run's token, from the environment the controller gave: it is what lets this process onto
// the run's sockets, and no one else's business (not even a child's).
const runToken = process.env[RUN_TOKEN_ENV];
delete process.env[RUN_TOKEN_ENV];
if (!runToken) {
  process.stderr.write(`Node processes are started by the controller, which gives them ${RUN_TOKEN_ENV}\n`);
  process.exit(2);
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

// The lifeline: the controller holds our stdin; when it goes away, so do we, at once.
process.stdin.on('end', () => abandon());
process.stdin.on('close', () => abandon());
process.stdin.on('error', () => abandon());
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // The controller decides when a run ends; a terminal's Ctrl-C reaches it too and it stops us.
  process.on(signal, () => undefined);
}

/** One wire of this node: its socket, and the port and peer its frames come from. */
interface WireSocket {
  readonly wire: string;
  /** The direction this node sends in, and the one it receives from. */
  readonly out: WireDirection;
  readonly in: WireDirection;
  readonly port: string;
  readonly peer: string;
  readonly socket: Pair;
  readonly queue: SendQueue;
}

const control = new Dealer({ routingId: `${nodeId}/${incarnation}`, linger: 1000, sendHighWaterMark: 0, receiveHighWaterMark: 0, ...connectingSocketOptions(runToken) });
control.connect(controlEndpoint);
const controlQueue = new SendQueue(control);

/** Set by `setup`. */
let topology: ResolvedTopology | null = null;
let names: NodeNames | null = null;
let runtime: NodeRuntime | null = null;
/** This node's wires, by the direction it sends in. */
const wires = new Map<WireDirection, WireSocket>();
/** Per direction (indexed by its id): frames received, frames sent, and whether the sender is dead. */
let received: number[] = [];
let sentCount: number[] = [];
let dead: boolean[] = [];
let malformedEnvelopes = 0;
/** Connections refused at the handshake: no run token, or a wrong one. */
let strangersRefused = 0;
/** Frames whose arrival is before what this node already handled: dropped, never fatal. */
let outOfOrderFrames = 0;

/** Control messages not yet handled, in arrival order; the head may be a grant waiting for frames. */
const inbox: ControllerMessage[] = [];
/** An asynchronous message (setup, sync, rewire, stop) is being handled: the inbox waits. */
let busy = false;
/** When the grant at the head of the inbox started waiting for frames, and whether that was reported. */
let waitingSince: number | null = null;
let stallReported = false;

function reply(message: Parameters<typeof encodeNodeMessage>[0]): void {
  controlQueue.push(encodeNodeMessage(message, names ?? undefined));
}

/** Whether a live wire direction has not yet delivered the frames a window expects of it. */
function lacking([direction, count]: Expectation): boolean {
  return !dead[direction] && (received[direction] ?? 0) < count;
}

function satisfied(expect: readonly Expectation[]): boolean {
  for (const e of expect) if (lacking(e)) return false;
  return true;
}

/** How long a node waits for frames before it says on stderr which wires it is waiting for. */
const STALL_REPORT_MS = 10_000;

/** The one watchdog of this process: reports a grant that has waited too long for its frames. */
setInterval(() => {
  const head = inbox[0];
  if (waitingSince === null || stallReported || !head || (head.t !== 'grant' && head.t !== 'sync')) return;
  if (Date.now() - waitingSince < STALL_REPORT_MS) return;
  stallReported = true;
  const missing = head.expect
    .filter(lacking)
    .map(([direction, count]) => `${describeDirection(topology?.wires ?? [], direction)} (${received[direction] ?? 0} of ${count} frames)`);
  log(`still waiting after ${STALL_REPORT_MS} ms for frames on ${missing.join(', ')}`);
}, 1000).unref();

/** A frame arrived on a wire: queue it on the runtime, count it, and see whether a grant can now run. */
function onFrame(w: WireSocket, body: Uint8Array | undefined): void {
  if (dead[w.in]) return;
  try {
    const envelope = decodeEnvelope(body ?? new Uint8Array(), w.wire);
    if (!runtime!.accepts(envelope.arrival)) {
      // Handling it would rewrite this node's past: drop it, count it, keep running.
      outOfOrderFrames++;
      log(`Wire ${w.wire}: frame arriving at ${envelope.arrival} ns is before what this node already handled (dropped, ${outOfOrderFrames} so far)`);
      return;
    }
    runtime!.deliver({
      type: 'frame',
      arrival: envelope.arrival,
      src: w.peer,
      srcSeq: envelope.srcSeq,
      cause: { node: w.peer, nodeSeq: envelope.causeSeq },
      port: w.port,
      channel: envelope.channel,
      bytes: envelope.bytes,
      ...(envelope.corrupted === true ? { corrupted: true } : {}),
    });
    received[w.in] = (received[w.in] ?? 0) + 1;
  } catch (error) {
    if (!(error instanceof WireEnvelopeError)) throw error;
    // Something other than a dpulab peer wrote on the wire: drop it, count it, keep running.
    malformedEnvelopes++;
    log(`${error.message} (dropped, ${malformedEnvelopes} so far)`);
  }
  if (waitingSince !== null) pump();
}

/** Opens one wire's PAIR socket (binding the `a` end, connecting the `b` end) and starts receiving. */
async function openWire(setup: WireSetup): Promise<void> {
  const wire = topology!.wires[setup.direction >> 1];
  if (!wire) throw new Error(`Wire setup names direction ${setup.direction}, beyond the topology's ${topology!.wires.length} wires`);
  const socket = new Pair({ linger: 1000, sendHighWaterMark: 0, receiveHighWaterMark: 0, ...(setup.bind ? bindingSocketOptions() : connectingSocketOptions(runToken!)) });
  if (setup.bind) {
    watchRefusals(socket, (count, what) => {
      strangersRefused++;
      if (count === 1 || count % 100 === 0) log(`Wire ${wire.id}: refused a connection without this run's token (${what}; ${count} so far)`);
    });
    await socket.bind(setup.endpoint);
  } else {
    socket.connect(setup.endpoint);
  }
  const self = wire.a.node === nodeId ? wire.a : wire.b;
  const peer = wire.a.node === nodeId ? wire.b : wire.a;
  const w: WireSocket = { wire: wire.id, out: setup.direction, in: reverseDirection(setup.direction), port: self.port, peer: peer.node, socket, queue: new SendQueue(socket) };
  wires.set(w.out, w);
  void receiveEach(socket, ([body]) => onFrame(w, body)).catch((error: unknown) => fatal(error));
}

/** Runs a granted window: queue its inputs, run the core, send its frames, answer `done`. */
function runGrant(message: Extract<ControllerMessage, { t: 'grant' }>): void {
  const rt = runtime!;
  for (const i of message.inputs) {
    rt.deliver({ type: 'input', arrival: i.arrival, src: CONTROLLER_NODE, srcSeq: i.srcSeq, cause: i.causeSeq === null ? null : { node: CONTROLLER_NODE, nodeSeq: i.causeSeq }, input: i.input });
  }
  const result = rt.runWindow(message.horizon);
  const sent: Array<[WireDirection, number, number]> = [];
  for (const frame of result.out) {
    const w = wires.get(frame.direction)!;
    w.queue.push(encodeEnvelope({ arrival: frame.arrival, srcSeq: frame.srcSeq, channel: frame.channel, causeSeq: frame.cause.nodeSeq, bytes: frame.bytes, ...(frame.corrupted === true ? { corrupted: true } : {}) }));
    const count = (sentCount[w.out] = (sentCount[w.out] ?? 0) + 1);
    const entry = sent.find((s) => s[0] === w.out);
    if (entry) {
      entry[1] = count;
      entry[2] = Math.min(entry[2], frame.arrival);
    } else sent.push([w.out, count, frame.arrival]);
  }
  const next = rt.nextTime();
  reply({ t: 'done', window: message.window, next: Number.isFinite(next) ? next : null, sent: sent as SentCount[], events: result.events });
}

/**
 * Handles what the inbox holds, in order, until it is empty, an asynchronous message is under
 * way, or its head is a grant still lacking frames (a frame's arrival calls this again).
 */
function pump(): void {
  while (!busy && inbox.length > 0) {
    const message = inbox[0]!;
    if (message.t === 'grant' || message.t === 'sync') {
      if (message.t === 'grant') for (const direction of message.dead) dead[direction] = true;
      if (!satisfied(message.expect)) {
        if (waitingSince === null) {
          waitingSince = Date.now();
          stallReported = false;
        }
        return;
      }
      waitingSince = null;
      if (message.t === 'grant') {
        inbox.shift();
        runGrant(message);
        continue;
      }
    }
    inbox.shift();
    if (message.t === 'inspect') {
      reply({ t: 'inspected', token: message.token, state: { ...(runtime?.inspect() as object), malformedEnvelopes, strangersRefused, outOfOrderFrames } });
      continue;
    }
    busy = true;
    handleAsync(message).then(
      () => {
        busy = false;
        pump();
      },
      (error: unknown) => fatal(error),
    );
  }
}

/** The messages that wait for sockets: setup, sync (its frames are in), rewire, stop. */
async function handleAsync(message: ControllerMessage): Promise<void> {
  switch (message.t) {
    case 'setup': {
      topology = JSON.parse(message.topologyJson) as ResolvedTopology;
      names = nodeNames(topology.nodes);
      const node = topology.nodes.find((n) => n.id === nodeId);
      if (!node) throw new Error(`Node ${nodeId} is not in the topology`);
      const directions = topology.wires.length * 2;
      received = new Array<number>(directions).fill(0);
      sentCount = new Array<number>(directions).fill(0);
      dead = new Array<boolean>(directions).fill(false);
      runtime = new NodeRuntime({
        topology,
        nodeId: nodeId!,
        seed: message.seed,
        incarnation: message.incarnation,
        nodeSeqBase: message.nodeSeqBase,
        core: createCore(node, topology),
      });
      for (const setup of message.wires) await openWire(setup);
      reply({ t: 'ready' });
      return;
    }
    case 'sync':
      // Every frame expected of the peers is in (see pump); now every frame of ours has left.
      for (const w of wires.values()) await w.queue.drain();
      reply({ t: 'synced', token: message.token });
      return;
    case 'rewire': {
      // The peer is a new life: drop whatever the old socket still holds, count from zero.
      const old = wires.get(message.wire.direction);
      if (old) {
        old.queue.close();
        old.socket.linger = 0;
        old.socket.close();
      }
      for (const direction of [message.wire.direction, reverseDirection(message.wire.direction)]) {
        sentCount[direction] = 0;
        received[direction] = 0;
        dead[direction] = false;
      }
      await openWire(message.wire);
      reply({ t: 'rewired', token: message.token });
      return;
    }
    case 'stop':
      reply({ t: 'bye' });
      await controlQueue.drain();
      for (const w of wires.values()) {
        w.queue.close();
        w.socket.close();
      }
      control.close();
      return process.exit(0);
    default:
      throw new Error(`Control message ${message.t} cannot wait`);
  }
}

/**
 * Exits now because the controller is gone. Nothing queued can be delivered any more, and
 * ZeroMQ would otherwise hold the exit for each socket's linger period waiting to send it.
 */
function abandon(): never {
  for (const w of wires.values()) w.socket.linger = 0;
  control.linger = 0;
  process.exit(0);
}

function fatal(error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  log(`fatal: ${error instanceof Error ? (error.stack ?? message) : message}`);
  try {
    reply({ t: 'fatal', message });
  } catch {
    /* nothing more to say */
  }
  setTimeout(() => process.exit(1), 200).unref();
  throw error;
}

/** Stops waiting for frames from dead peers; releases a grant waiting on them. */
function forget(directions: readonly WireDirection[]): void {
  for (const direction of directions) dead[direction] = true;
  if (waitingSince !== null) pump();
}

function onControl(body: Uint8Array | undefined): void {
  let message: ControllerMessage;
  try {
    message = parseControllerMessage(body ?? new Uint8Array());
  } catch (error) {
    log((error as Error).message);
    return;
  }
  // A `forget` jumps the line: it may be what releases the grant at its head.
  if (message.t === 'forget') forget(message.dead);
  else {
    inbox.push(message);
    pump();
  }
}

async function main(): Promise<void> {
  await holdRunToken(runToken!);
  reply({ t: 'hello', node: nodeId!, incarnation, pid: process.pid } satisfies NodeMessage);
  await receiveEach(control, ([body]) => onControl(body));
}

main().catch((error: unknown) => {
  try {
    fatal(error);
  } catch {
    /* already reported */
  }
});
