import { CONTROLLER_NODE } from '../../shared/events.js';
/**
 * The shell of one node process (host, DPU or switch): sockets, lifecycle and signals around a
 * deterministic core. Started by the controller with `--node ID --incarnation N --control ENDPOINT`.
 *
 * It connects a DEALER to the controller, opens one PAIR socket per wire it is on, and then does
 * only what it is told: run a window, sync, inspect, stop. When the controller dies, the stdin
 * pipe closes and the node exits at once: no node outlives its run.
 */
import { parseArgs } from 'node:util';
import { Dealer, Pair } from 'zeromq';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { createCore } from '../cores.js';
import { NodeRuntime } from '../runtime/node-runtime.js';
import {
  decodeEnvelope,
  encodeEnvelope,
  encodeNodeMessage,
  eventToTuple,
  parseControllerMessage,
  WireEnvelopeError,
  type ControllerMessage,
  type NodeMessage,
  type WireDirection,
  type WireSetup,
} from '../runtime/protocol.js';
import { messages } from './receive.js';
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

interface WireSocket {
  readonly wire: string;
  readonly out: WireDirection;
  readonly in: WireDirection;
  readonly socket: Pair;
  readonly queue: SendQueue;
}

const control = new Dealer({ routingId: `${nodeId}/${incarnation}`, linger: 1000, sendHighWaterMark: 0, receiveHighWaterMark: 0, ...connectingSocketOptions(runToken) });
control.connect(controlEndpoint);
const controlQueue = new SendQueue(control);
const wires = new Map<string, WireSocket>();
const received = new Map<WireDirection, number>();
const sentCount = new Map<WireDirection, number>();
const deadDirections = new Set<WireDirection>();
let runtime: NodeRuntime | null = null;
let malformedEnvelopes = 0;
/** Connections refused at the handshake: no run token, or a wrong one. */
let strangersRefused = 0;
/** Frames whose arrival is before what this node already handled: dropped, never fatal. */
let outOfOrderFrames = 0;
/** Resolved when every expected frame has arrived. */
let waiting: { expect: Array<[string, number]>; resolve: () => void } | null = null;

function reply(message: NodeMessage): void {
  controlQueue.push(encodeNodeMessage(message));
}

/** Whether a live wire direction has not yet delivered the frames a window expects of it. */
function lacking([direction, count]: [string, number]): boolean {
  return !deadDirections.has(direction) && (received.get(direction) ?? 0) < count;
}

function satisfied(expect: Array<[string, number]>): boolean {
  return !expect.some(lacking);
}

/** How long a node waits for frames before it says on stderr which wires it is waiting for. */
const STALL_REPORT_MS = 10_000;

function awaitExpected(expect: Array<[string, number]>): Promise<void> {
  if (satisfied(expect)) return Promise.resolve();
  return new Promise((resolve) => {
    const stalled = setTimeout(() => {
      const missing = expect
        .filter(lacking)
        .map(([direction, count]) => `${direction} (${received.get(direction) ?? 0} of ${count} frames)`);
      log(`still waiting after ${STALL_REPORT_MS} ms for frames on ${missing.join(', ')}`);
    }, STALL_REPORT_MS);
    waiting = {
      expect,
      resolve: () => {
        clearTimeout(stalled);
        resolve();
      },
    };
  });
}

async function receiveWire(w: WireSocket, peer: string): Promise<void> {
  for await (const [body] of messages(w.socket)) {
    if (deadDirections.has(w.in)) continue;
    try {
      const envelope = decodeEnvelope(body ?? new Uint8Array(), w.wire);
      const port = portOn(w.wire);
      if (!runtime!.accepts(envelope.arrival)) {
        // Handling it would rewrite this node's past: drop it, count it, keep running.
        outOfOrderFrames++;
        log(`Wire ${w.wire}: frame arriving at ${envelope.arrival} ns is before what this node already handled (dropped, ${outOfOrderFrames} so far)`);
        continue;
      }
      runtime!.deliver({
        type: 'frame',
        arrival: envelope.arrival,
        src: peer,
        srcSeq: envelope.srcSeq,
        cause: { node: peer, nodeSeq: envelope.causeSeq },
        port,
        channel: envelope.channel,
        bytes: envelope.bytes,
        ...(envelope.corrupted === true ? { corrupted: true } : {}),
      });
      received.set(w.in, (received.get(w.in) ?? 0) + 1);
    } catch (error) {
      if (!(error instanceof WireEnvelopeError)) throw error;
      // Something other than a dpulab peer wrote on the wire: drop it, count it, keep running.
      malformedEnvelopes++;
      log(`${error.message} (dropped, ${malformedEnvelopes} so far)`);
    }
    if (waiting && satisfied(waiting.expect)) {
      const { resolve } = waiting;
      waiting = null;
      resolve();
    }
  }
}

let topology: ResolvedTopology | null = null;
function portOn(wire: string): string {
  const w = topology!.wires.find((x) => x.id === wire)!;
  return w.a.node === nodeId ? w.a.port : w.b.port;
}

/** Opens one wire's PAIR socket (binding the `a` end, connecting the `b` end) and starts receiving. */
async function openWire(setup: WireSetup): Promise<void> {
  const socket = new Pair({ linger: 1000, sendHighWaterMark: 0, receiveHighWaterMark: 0, ...(setup.bind ? bindingSocketOptions() : connectingSocketOptions(runToken!)) });
  if (setup.bind) {
    watchRefusals(socket, (count, what) => {
      strangersRefused++;
      if (count === 1 || count % 100 === 0) log(`Wire ${setup.wire}: refused a connection without this run's token (${what}; ${count} so far)`);
    });
    await socket.bind(setup.endpoint);
  } else {
    socket.connect(setup.endpoint);
  }
  const arrow = setup.direction.slice(setup.wire.length + 1);
  const w: WireSocket = { wire: setup.wire, out: setup.direction, in: `${setup.wire}:${arrow === 'a>b' ? 'b>a' : 'a>b'}`, socket, queue: new SendQueue(socket) };
  wires.set(setup.wire, w);
  const wire = topology!.wires.find((x) => x.id === setup.wire)!;
  const peer = wire.a.node === nodeId ? wire.b.node : wire.a.node;
  void receiveWire(w, peer).catch((error: unknown) => fatal(error));
}

async function handle(message: ControllerMessage): Promise<void> {
  switch (message.t) {
    case 'setup': {
      topology = JSON.parse(message.topologyJson) as ResolvedTopology;
      const node = topology.nodes.find((n) => n.id === nodeId);
      if (!node) throw new Error(`Node ${nodeId} is not in the topology`);
      runtime = new NodeRuntime({
        topology,
        nodeId: nodeId!,
        seed: message.seed,
        incarnation: message.incarnation,
        nodeSeqBase: message.nodeSeqBase,
        core: createCore(node, topology),
      });
      for (const setup of message.wires) await openWire(setup);
      reply({ t: 'ready', node: nodeId! });
      return;
    }
    case 'forget':
      forget(message.dead);
      return;
    case 'grant': {
      for (const direction of message.dead) deadDirections.add(direction);
      await awaitExpected(message.expect);
      const rt = runtime!;
      for (const i of message.inputs) {
        rt.deliver({ type: 'input', arrival: i.arrival, src: CONTROLLER_NODE, srcSeq: i.srcSeq, cause: i.causeSeq === null ? null : { node: CONTROLLER_NODE, nodeSeq: i.causeSeq }, input: i.input });
      }
      const result = rt.runWindow(message.horizon);
      const minArrival = new Map<WireDirection, number>();
      for (const frame of result.out) {
        const w = wires.get(frame.wire)!;
        w.queue.push(encodeEnvelope({ arrival: frame.arrival, srcSeq: frame.srcSeq, channel: frame.channel, causeSeq: frame.cause.nodeSeq, bytes: frame.bytes, ...(frame.corrupted === true ? { corrupted: true } : {}) }));
        sentCount.set(w.out, (sentCount.get(w.out) ?? 0) + 1);
        minArrival.set(w.out, Math.min(minArrival.get(w.out) ?? Infinity, frame.arrival));
      }
      const next = rt.nextTime();
      reply({
        t: 'done',
        node: nodeId!,
        window: message.window,
        events: result.events.map(eventToTuple),
        sent: [...sentCount].map(([direction, count]) => [direction, count, minArrival.get(direction) ?? null]),
        next: Number.isFinite(next) ? next : null,
      });
      return;
    }
    case 'sync':
      for (const w of wires.values()) await w.queue.drain();
      await awaitExpected(message.expect);
      reply({ t: 'synced', node: nodeId!, token: message.token });
      return;
    case 'rewire': {
      // The peer is a new life: drop whatever the old socket still holds, count from zero.
      const old = wires.get(message.wire.wire);
      if (old) {
        old.queue.close();
        old.socket.linger = 0;
        old.socket.close();
      }
      const arrow = message.wire.direction.slice(message.wire.wire.length + 1);
      const incoming = `${message.wire.wire}:${arrow === 'a>b' ? 'b>a' : 'a>b'}`;
      for (const direction of [message.wire.direction, incoming]) {
        sentCount.delete(direction);
        received.delete(direction);
        deadDirections.delete(direction);
      }
      await openWire(message.wire);
      reply({ t: 'rewired', node: nodeId!, token: message.token });
      return;
    }
    case 'inspect':
      reply({ t: 'inspected', node: nodeId!, token: message.token, state: { ...(runtime?.inspect() as object), malformedEnvelopes, strangersRefused, outOfOrderFrames } });
      return;
    case 'stop':
      reply({ t: 'bye', node: nodeId! });
      await controlQueue.drain();
      for (const w of wires.values()) {
        w.queue.close();
        w.socket.close();
      }
      control.close();
      process.exit(0);
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
    reply({ t: 'fatal', node: nodeId!, message });
  } catch {
    /* nothing more to say */
  }
  setTimeout(() => process.exit(1), 200).unref();
  throw error;
}

/** Stops waiting for frames from dead peers; releases a grant waiting on them. */
function forget(dead: readonly string[]): void {
  for (const direction of dead) deadDirections.add(direction);
  if (waiting && satisfied(waiting.expect)) {
    const { resolve } = waiting;
    waiting = null;
    resolve();
  }
}

async function main(): Promise<void> {
  await holdRunToken(runToken!);
  reply({ t: 'hello', node: nodeId!, incarnation, pid: process.pid });
  // Messages are handled one after another, but the loop keeps reading while one waits for
  // frames, so a `forget` can release it.
  let chain: Promise<void> = Promise.resolve();
  for await (const [body] of messages(control)) {
    let message: ControllerMessage;
    try {
      message = parseControllerMessage(body ?? new Uint8Array());
    } catch (error) {
      log((error as Error).message);
      continue;
    }
    if (message.t === 'forget') forget(message.dead);
    else chain = chain.then(() => handle(message)).catch((error: unknown) => fatal(error));
  }
}

main().catch((error: unknown) => {
  try {
    fatal(error);
  } catch {
    /* already reported */
  }
});
