import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'zeromq';
import type { NodeEvent, VTime } from '../../shared/events.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { messages } from '../node/receive.js';
import { SendQueue } from '../node/send-queue.js';
import { bindingSocketOptions, holdRunToken, newRunToken, releaseRunToken, RUN_TOKEN_ENV, watchRefusals } from '../node/wire-auth.js';
import {
  encodeControllerMessage,
  eventFromTuple,
  parseNodeMessage,
  type ControllerMessage,
  type GrantedInput,
  type NodeMessage,
  type WireDirection,
  type WireSetup,
} from '../runtime/protocol.js';
import type { Cluster, NodeExit, NodeProcessInfo, WindowReport } from './cluster.js';
import { PACKAGE_ROOT } from './package-root.js';
import { createRunDir } from './run-dir.js';

/** How long a node may take to answer the controller before it is declared hung and killed. */
const NODE_ANSWER_DEADLINE_MS = 30_000;
/**
 * Start-up spawns every node at once, and on a small machine they queue for the CPU: the
 * deadline for a node's first words grows with the number of nodes.
 */
const STARTUP_DEADLINE_PER_NODE_MS = 500;
/** How long a node may take to say goodbye and exit when asked to stop. */
const STOP_DEADLINE_MS = 3_000;

/**
 * The compiled node entry point. Node processes always run compiled code, also when the
 * controller itself runs from source under the test runner.
 */
function nodeMainPath(): string {
  const main = join(PACKAGE_ROOT, 'dist', 'processes', 'node', 'main.js');
  if (!existsSync(main)) throw new Error(`Node entry point ${main} is missing: run npm run build`);
  return main;
}

interface LiveNode {
  readonly id: string;
  readonly incarnation: number;
  readonly child: ChildProcess;
  readonly identity: string;
  pid: number;
  /** Set once the process has exited. */
  exit: NodeExit | null;
  /** Whether the controller asked for this exit (kill step or stop). */
  planned: boolean;
  /** Incoming wire directions (peer to this node). */
  readonly incoming: readonly WireDirection[];
}

type Waiter = { readonly node: string; readonly accept: (m: NodeMessage) => boolean; readonly resolve: (m: NodeMessage | null) => void };

export interface MultiProcessOptions {
  readonly topology: ResolvedTopology;
  readonly seed: number;
  /** Where a node's stderr lines go, tagged with its role, id and pid. */
  readonly log: (line: string) => void;
  /** Called when a node dies on its own (not a planned kill or stop). */
  readonly onUnexpectedExit?: (exit: NodeExit) => void;
}

/**
 * One OS process per host, DPU and switch. Wires are ZeroMQ PAIR sockets between the two node
 * processes (the `a` end binds an ipc path, the `b` end connects), so frames never pass through
 * the controller. The controller speaks to each node over one ROUTER socket (the control wires).
 */
export class MultiProcessCluster implements Cluster {
  readonly mode = 'multi-process' as const;
  private readonly runDir: string;
  private readonly router: Router;
  private readonly sendQueue: SendQueue;
  private readonly nodes = new Map<string, LiveNode>();
  private readonly waiters: Waiter[] = [];
  private readonly early: NodeMessage[] = [];
  /** Cumulative frames each wire direction's sender has reported sending. */
  private readonly sentCum = new Map<WireDirection, number>();
  /** Sender and receiver of each wire direction. */
  private readonly directions = new Map<WireDirection, { from: string; to: string }>();
  private readonly next = new Map<string, VTime>();
  private readonly exits: NodeExit[] = [];
  private window = 0;
  private token = 0;
  private disposed = false;
  private receiving: Promise<void> | null = null;
  /** The topology as every node receives it, serialised once. */
  private readonly topologyJson: string;
  /** The run's token: only processes that present it may connect to its sockets (wire-auth.ts). */
  private readonly runToken = newRunToken();
  private tokenHeld = false;
  /** Messages from identities that are no live node of this run: ignored, counted. */
  private unknownIdentities = 0;
  /** Messages from a node of this run that could not be parsed: ignored, counted. */
  private malformedMessages = 0;

  constructor(private readonly options: MultiProcessOptions) {
    // ipc paths must stay short (about 100 bytes): createRunDir checks them.
    this.runDir = createRunDir(['ctl', ...options.topology.wires.map((_, index) => `w${index}`)]);
    this.topologyJson = JSON.stringify(options.topology);
    this.router = new Router({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0, ...bindingSocketOptions() });
    watchRefusals(this.router, (count, what) => {
      if (count === 1 || count % 100 === 0) this.options.log(`[controller] refused a connection without this run's token (${what}; ${count} so far)`);
    });
    this.sendQueue = new SendQueue(this.router);
    for (const wire of options.topology.wires) {
      this.directions.set(`${wire.id}:a>b`, { from: wire.a.node, to: wire.b.node });
      this.directions.set(`${wire.id}:b>a`, { from: wire.b.node, to: wire.a.node });
    }
  }

  async start(): Promise<NodeProcessInfo[]> {
    await holdRunToken(this.runToken);
    this.tokenHeld = true;
    await this.router.bind(`ipc://${this.runDir}/ctl`);
    this.receiving = this.receiveLoop();
    const main = nodeMainPath();
    for (const node of this.options.topology.nodes) this.spawnNode(main, node.id, 0);
    const infos: NodeProcessInfo[] = [];
    await Promise.all(
      this.options.topology.nodes.map(async (node) => {
        await this.handshake(node.id, 0, 0);
        infos.push({ id: node.id, kind: node.kind, incarnation: 0, pid: this.nodes.get(node.id)!.pid });
      }),
    );
    return infos.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  private spawnNode(main: string, id: string, incarnation: number): void {
    const identity = `${id}/${incarnation}`;
    const child = spawn(process.execPath, [main, '--node', id, '--incarnation', String(incarnation), '--control', `ipc://${this.runDir}/ctl`], {
      // stdin is the lifeline: when the controller dies, the pipe closes and the node exits.
      stdio: ['pipe', 'pipe', 'pipe'],
      // The token in the environment: the command line is readable by every user, this is not.
      env: { ...process.env, [RUN_TOKEN_ENV]: this.runToken },
      // Its own process group: a terminal's Ctrl-C reaches the controller only, which stops the
      // run in order; a node still starting up would otherwise die of it.
      detached: true,
    });
    const incoming = [...this.directions].filter(([, d]) => d.to === id).map(([dir]) => dir);
    const live: LiveNode = { id, incarnation, child, identity, pid: child.pid ?? -1, exit: null, planned: false, incoming };
    this.nodes.set(id, live);
    const kind = this.options.topology.nodes.find((n) => n.id === id)?.kind ?? 'node';
    const tag = `[${kind} ${id} ${child.pid ?? '?'}]`;
    for (const stream of [child.stdout, child.stderr]) {
      let buffered = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          this.options.log(`${tag} ${buffered.slice(0, nl)}`);
          buffered = buffered.slice(nl + 1);
        }
      });
    }
    child.stdin?.on('error', () => {
      /* the node is gone; its exit handler records it */
    });
    child.on('exit', (code, signal) => {
      const exit: NodeExit = {
        node: id,
        incarnation,
        code,
        signal,
        planned: live.planned,
        reason: live.planned ? null : signal ? `killed by ${signal}` : `exited with code ${code}`,
      };
      live.exit = exit;
      if (!live.planned) {
        this.exits.push(exit);
        this.options.onUnexpectedExit?.(exit);
        // Frames it reported sending may have died in its buffers: peers must not wait for them.
        for (const [direction, ends] of this.directions) {
          if (ends.from !== id) continue;
          const peer = this.nodes.get(ends.to);
          if (peer && !peer.exit) this.send(ends.to, { t: 'forget', dead: [direction] });
        }
      }
      // Anyone waiting for this node's answer gets none.
      for (const w of [...this.waiters]) {
        if (w.node === id) this.dropWaiter(w, null);
      }
    });
  }

  private async handshake(id: string, incarnation: number, nodeSeqBase: number): Promise<void> {
    const startupMs = NODE_ANSWER_DEADLINE_MS + STARTUP_DEADLINE_PER_NODE_MS * this.options.topology.nodes.length;
    const hello = await this.expect(id, (m) => m.t === 'hello', 'hello', startupMs);
    if (hello.t !== 'hello') throw new Error(`Node ${id} did not start: ${this.nodes.get(id)?.exit?.reason ?? 'it never said hello'}`);
    if (hello.incarnation !== incarnation) throw new Error(`Node ${id} said hello as incarnation ${hello.incarnation}, expected ${incarnation}`);
    const live = this.nodes.get(id)!;
    live.pid = hello.pid;
    const wires = this.wireSetups(id, false).map((w) => w.setup);
    this.send(id, {
      t: 'setup',
      topologyJson: this.topologyJson,
      seed: this.options.seed,
      incarnation,
      nodeSeqBase,
      wires,
    });
    const ready = await this.expect(id, (m) => m.t === 'ready', 'ready', startupMs);
    if (ready.t !== 'ready') throw new Error(`Node ${id} did not get ready: ${this.nodes.get(id)?.exit?.reason ?? 'it failed to set up its wires'}`);
    this.next.set(id, Infinity);
  }

  alive(): readonly string[] {
    return [...this.nodes.values()]
      .filter((n) => n.exit === null && !n.planned)
      .map((n) => n.id)
      .sort();
  }

  nextTime(node: string): VTime {
    const live = this.nodes.get(node);
    if (!live || live.exit) return Infinity;
    return this.next.get(node) ?? Infinity;
  }

  async runWindow(horizon: VTime, participants: readonly string[], inputs: ReadonlyMap<string, GrantedInput[]>): Promise<WindowReport> {
    const window = ++this.window;
    const targets = new Set(participants);
    for (const node of inputs.keys()) targets.add(node);
    const answers = await Promise.all(
      [...targets].sort().map(async (id) => {
        const live = this.nodes.get(id);
        if (!live || live.exit) return null;
        const { expect, dead } = this.expectations(live);
        this.send(id, { t: 'grant', window, horizon, inputs: inputs.get(id) ?? [], expect, dead });
        const done = await this.expect(id, (m) => m.t === 'done' && m.window === window, `done for window ${window}`);
        return done.t === 'done' ? done : null;
      }),
    );
    const events: NodeEvent[] = [];
    const inFlight: Array<[string, VTime]> = [];
    for (const done of answers) {
      if (!done) continue;
      for (const tuple of done.events) events.push(eventFromTuple(done.node, tuple));
      this.next.set(done.node, done.next ?? Infinity);
      for (const [direction, count, minArrival] of done.sent) {
        this.sentCum.set(direction, count);
        const to = this.directions.get(direction)?.to;
        if (to !== undefined && minArrival !== null) inFlight.push([to, minArrival]);
      }
    }
    // Applied after every answer: a receiver's own `next` must not overwrite what is in flight to it.
    for (const [to, arrival] of inFlight) this.next.set(to, Math.min(this.next.get(to) ?? Infinity, arrival));
    return { events, exits: this.exits.splice(0) };
  }

  /** What a node must have received before it may run: per incoming direction, the senders' counts. */
  private expectations(live: LiveNode): { expect: Array<[string, number]>; dead: string[] } {
    const expect: Array<[string, number]> = [];
    const dead: string[] = [];
    for (const direction of live.incoming) {
      const from = this.nodes.get(this.directions.get(direction)!.from);
      if (!from || from.exit || from.planned) dead.push(direction);
      else expect.push([direction, this.sentCum.get(direction) ?? 0]);
    }
    return { expect, dead };
  }

  async kill(node: string): Promise<NodeExit> {
    const live = this.nodes.get(node);
    if (!live || live.exit) throw new Error(`Cannot kill ${node}: it is not running`);
    // Before the kill, every frame it sent must have reached its peers: ZeroMQ may still hold
    // some in the dying process's buffers, and losing them would make the run irreproducible.
    const peers = new Set([...this.directions.values()].filter((d) => d.from === node).map((d) => d.to));
    await Promise.all(
      [...peers].sort().map(async (peer) => {
        const p = this.nodes.get(peer);
        if (!p || p.exit) return;
        const token = ++this.token;
        this.send(peer, { t: 'sync', token, expect: this.expectations(p).expect });
        await this.expect(peer, (m) => m.t === 'synced' && m.token === token, 'synced');
      }),
    );
    live.planned = true;
    const exited = new Promise<NodeExit>((resolve) => live.child.once('exit', () => resolve(live.exit!)));
    live.child.kill('SIGKILL');
    const exit = await exited;
    this.next.delete(node);
    return exit;
  }

  async restart(node: string, incarnation: number, nodeSeqBase: number): Promise<NodeProcessInfo> {
    const old = this.nodes.get(node);
    if (old && !old.exit) throw new Error(`Cannot restart ${node}: it is running`);
    // Every wire of the node starts afresh at both ends, before the new life can connect: the
    // peers' old sockets may still hold frames sent after the kill, which no life may receive.
    for (const [direction, ends] of this.directions) {
      if (ends.from === node || ends.to === node) this.sentCum.delete(direction);
    }
    await Promise.all(
      this.wireSetups(node, true).map(async ({ peer, setup }) => {
        const p = this.nodes.get(peer);
        if (!p || p.exit || p.planned) return;
        const token = ++this.token;
        this.send(peer, { t: 'rewire', token, wire: setup });
        await this.expect(peer, (m) => m.t === 'rewired' && m.token === token, 'rewired');
      }),
    );
    this.spawnNode(nodeMainPath(), node, incarnation);
    await this.handshake(node, incarnation, nodeSeqBase);
    const kind = this.options.topology.nodes.find((n) => n.id === node)!.kind;
    return { id: node, kind, incarnation, pid: this.nodes.get(node)!.pid };
  }

  /**
   * The socket set-up of every wire of `node`, as that node opens them; with `forPeers`, as each
   * peer opens its end instead.
   */
  private wireSetups(node: string, forPeers: boolean): Array<{ peer: string; setup: WireSetup }> {
    const out: Array<{ peer: string; setup: WireSetup }> = [];
    this.options.topology.wires.forEach((wire, index) => {
      const endpoint = `ipc://${this.runDir}/w${index}`;
      const aSetup: WireSetup = { wire: wire.id, direction: `${wire.id}:a>b`, endpoint, bind: true };
      const bSetup: WireSetup = { wire: wire.id, direction: `${wire.id}:b>a`, endpoint, bind: false };
      if (wire.a.node === node) out.push({ peer: wire.b.node, setup: forPeers ? bSetup : aSetup });
      if (wire.b.node === node) out.push({ peer: wire.a.node, setup: forPeers ? aSetup : bSetup });
    });
    return out;
  }

  async inspect(node: string): Promise<unknown> {
    const live = this.nodes.get(node);
    if (!live || live.exit) return null;
    const token = ++this.token;
    this.send(node, { t: 'inspect', token });
    const answer = await this.expect(node, (m) => m.t === 'inspected' && m.token === token, 'inspected');
    return answer.t === 'inspected' ? answer.state : null;
  }

  async stop(): Promise<NodeExit[]> {
    const running = [...this.nodes.values()].filter((n) => !n.exit);
    await Promise.all(
      running.map(async (live) => {
        live.planned = true;
        const exited = new Promise<void>((resolve) => (live.exit ? resolve() : live.child.once('exit', () => resolve())));
        this.send(live.id, { t: 'stop' });
        const timer = setTimeout(() => live.child.kill('SIGKILL'), STOP_DEADLINE_MS);
        await exited;
        clearTimeout(timer);
      }),
    );
    return running.map((n) => n.exit!).sort((a, b) => (a.node < b.node ? -1 : 1));
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const waits: Promise<void>[] = [];
    for (const live of this.nodes.values()) {
      if (live.exit || live.child.exitCode !== null || live.child.signalCode !== null) continue;
      live.planned = true;
      waits.push(new Promise((resolve) => live.child.once('exit', () => resolve())));
      live.child.kill('SIGKILL');
    }
    await Promise.all(waits);
    for (const w of [...this.waiters]) this.dropWaiter(w, null);
    this.sendQueue.close();
    this.router.close();
    await this.receiving?.catch(() => undefined);
    if (this.tokenHeld) releaseRunToken(this.runToken);
    this.tokenHeld = false;
    rmSync(this.runDir, { recursive: true, force: true });
  }

  /** What the controller ignored: messages from no live node of this run, and malformed ones. */
  get ignored(): { unknownIdentities: number; malformedMessages: number } {
    return { unknownIdentities: this.unknownIdentities, malformedMessages: this.malformedMessages };
  }

  /** Kills every child at once, synchronously: for process-exit handlers, where nothing can be awaited. */
  killAllNow(): void {
    for (const live of this.nodes.values()) {
      if (!live.exit) {
        try {
          live.child.kill('SIGKILL');
        } catch {
          /* already gone */
        }
      }
    }
    rmSync(this.runDir, { recursive: true, force: true });
  }

  private send(node: string, message: ControllerMessage): void {
    const live = this.nodes.get(node);
    if (!live) return;
    this.sendQueue.push([live.identity, encodeControllerMessage(message)]);
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const [identity, body] of messages(this.router)) {
        const from = identity?.toString() ?? '?';
        const nodeId = from.split('/')[0]!;
        // Only the identity of a node this run started, in its current life, is heard; anything
        // else is ignored and counted, never acted on (a kill would hit the real node).
        const live = this.nodes.get(nodeId);
        if (live === undefined || live.identity !== from || live.exit !== null) {
          this.unknownIdentities++;
          if (this.unknownIdentities === 1 || this.unknownIdentities % 100 === 0) {
            this.options.log(`[controller] ignored a message from ${JSON.stringify(from.slice(0, 64))}, no live node of this run (${this.unknownIdentities} so far)`);
          }
          continue;
        }
        let message: NodeMessage;
        try {
          message = parseNodeMessage(body ?? new Uint8Array(), `node ${nodeId}`);
        } catch (error) {
          this.malformedMessages++;
          this.options.log(`[controller] ${(error as Error).message}; ignored (${this.malformedMessages} so far)`);
          continue;
        }
        if (message.t === 'fatal') this.options.log(`[controller] node ${message.node} failed: ${message.message}`);
        if (message.node !== nodeId) {
          this.options.log(`[controller] node ${nodeId} sent a message claiming to be ${message.node}; ignored`);
          continue;
        }
        const waiter = this.waiters.find((w) => w.node === nodeId && w.accept(message));
        if (waiter) this.dropWaiter(waiter, message);
        else this.early.push(message);
      }
    } catch (error) {
      if (!this.disposed) throw error;
    }
  }

  private dropWaiter(waiter: Waiter, message: NodeMessage | null): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
    waiter.resolve(message);
  }

  /**
   * Waits for a message from a node. Resolves with a `fatal`-free message, or throws when the
   * node died or did not answer in time (it is then killed and its exit recorded as unexpected).
   */
  private expect(node: string, accept: (m: NodeMessage) => boolean, what: string, deadlineMs = NODE_ANSWER_DEADLINE_MS): Promise<NodeMessage> {
    const earlyIndex = this.early.findIndex((m) => m.node === node && accept(m));
    if (earlyIndex >= 0) return Promise.resolve(this.early.splice(earlyIndex, 1)[0]!);
    const live = this.nodes.get(node);
    if (!live || live.exit) return Promise.resolve(deadAnswer(node, what));
    return new Promise<NodeMessage>((resolve) => {
      const timer = setTimeout(() => {
        this.options.log(`[controller] node ${node} did not answer (${what}) within ${deadlineMs} ms; killing it`);
        live.child.kill('SIGKILL');
      }, deadlineMs);
      this.waiters.push({
        node,
        accept: (m) => accept(m) || m.t === 'fatal',
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m && m.t !== 'fatal' ? m : deadAnswer(node, what));
        },
      });
    });
  }
}

/** The answer of a node that died before answering: a `fatal` message the callers treat as absent. */
function deadAnswer(node: string, what: string): NodeMessage {
  return { t: 'fatal', node, message: `no ${what}: the node is gone` };
}
