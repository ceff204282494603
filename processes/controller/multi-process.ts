import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Router } from 'zeromq';
import type { NodeEvent, VTime } from '../../shared/events.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { receiveEach } from '../node/receive.js';
import { SendQueue } from '../node/send-queue.js';
import { bindingSocketOptions, holdRunToken, newRunToken, releaseRunToken, RUN_TOKEN_ENV, watchRefusals } from '../node/wire-auth.js';
import {
  encodeControllerMessage,
  nodeNames,
  parseNodeMessage,
  readDoneEvents,
  wireDirection,
  type ControllerMessage,
  type DoneMessage,
  type Expectation,
  type GrantedInput,
  type NodeMessage,
  type NodeNames,
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
/** How often the watchdog looks for nodes that owe an answer past their deadline. */
const WATCHDOG_MS = 250;

/**
 * How a node process is started: the arguments before its own. Node processes always run the
 * bundle `npm run build` made (`tools/bundle.mjs`), also when the controller itself runs from
 * source under the test runner: from the V8 startup snapshot of its modules when this Node binary
 * built one, from the bundled module otherwise. The bundle's path comes first either way, so a
 * node process is known by it in a process list.
 */
function nodeCommand(): string[] {
  const bundle = join(PACKAGE_ROOT, 'dist', 'bundle');
  const main = join(bundle, 'node.js');
  if (!existsSync(main)) throw new Error(`Node entry point ${main} is missing: run npm run build`);
  const blob = join(bundle, 'node.blob');
  try {
    const built = JSON.parse(readFileSync(`${blob}.json`, 'utf8')) as { node?: string; arch?: string; platform?: string };
    // Started from a snapshot, Node takes no script: the bundle's path stands in for it in argv.
    if (built.node === process.version && built.arch === process.arch && built.platform === process.platform && existsSync(blob)) return ['--snapshot-blob', blob, main];
  } catch {
    // No snapshot, or one of another Node: start from the bundle.
  }
  return [main];
}

interface LiveNode {
  readonly id: string;
  /** Index in the topology's nodes (the index events name causes by). */
  readonly index: number;
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
  /** The window this node owes a `done` for; 0 when none. */
  owes: number;
  /** Wall-clock deadline of the answer it owes (a `done` or an awaited message); null when none. */
  deadline: number | null;
  /** What it owes, for the watchdog's message. */
  owed: string;
  /** Started ahead of a restart (see `prepare`): not part of the run until the restart takes it. */
  prepared: boolean;
}

type Waiter = { readonly node: string; readonly accept: (m: NodeMessage) => boolean; readonly resolve: (m: NodeMessage | null) => void };
type Answer = { readonly node: string; readonly message: NodeMessage };

/** The window being run: the answers still owed and those in. */
interface OpenWindow {
  readonly window: number;
  outstanding: number;
  readonly answers: Array<{ readonly live: LiveNode; readonly done: DoneMessage }>;
  resolve: ((report: WindowReport) => void) | null;
}

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
 *
 * A window costs one grant and one `done` per participant and nothing else: answers are matched
 * to the open window as they arrive, one promise resolves the window, and one watchdog timer
 * kills a node that owes an answer past its deadline.
 */
export class MultiProcessCluster implements Cluster {
  readonly mode = 'multi-process' as const;
  private readonly runDir: string;
  private readonly router: Router;
  private readonly sendQueue: SendQueue;
  private readonly nodes = new Map<string, LiveNode>();
  /** The next incarnation of each killed node, started at the kill and waiting to be set up. */
  private readonly prepared = new Map<string, LiveNode>();
  private readonly waiters: Waiter[] = [];
  private readonly early: Answer[] = [];
  private readonly names: NodeNames;
  private readonly nodeIndex: ReadonlyMap<string, number>;
  /** Per direction id: the sending and receiving node's index. */
  private readonly directionFrom: number[] = [];
  private readonly directionTo: number[] = [];
  /** Per direction id: cumulative frames its sender has reported sending. */
  private readonly sentCum: number[] = [];
  /** Per direction id: the count the receiver was last told to wait for (it has them since it ran). */
  private readonly told: number[] = [];
  /** Per node index: the time of its next message, counting frames in flight towards it. */
  private readonly next: number[] = [];
  private readonly exits: NodeExit[] = [];
  private aliveCache: string[] | null = null;
  private open: OpenWindow | null = null;
  private window = 0;
  private token = 0;
  private disposed = false;
  private receiving: Promise<void> | null = null;
  private readonly watchdog: NodeJS.Timeout;
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
    this.names = nodeNames(options.topology.nodes);
    this.nodeIndex = this.names.index;
    options.topology.wires.forEach((wire, index) => {
      const a = this.nodeIndex.get(wire.a.node)!;
      const b = this.nodeIndex.get(wire.b.node)!;
      this.directionFrom[wireDirection(index, 'a>b')] = a;
      this.directionTo[wireDirection(index, 'a>b')] = b;
      this.directionFrom[wireDirection(index, 'b>a')] = b;
      this.directionTo[wireDirection(index, 'b>a')] = a;
    });
    for (let d = 0; d < this.directionFrom.length; d++) {
      this.sentCum[d] = 0;
      this.told[d] = 0;
    }
    for (let i = 0; i < options.topology.nodes.length; i++) this.next[i] = Infinity;
    this.watchdog = setInterval(() => this.checkDeadlines(), WATCHDOG_MS);
    this.watchdog.unref();
  }

  async start(): Promise<NodeProcessInfo[]> {
    await holdRunToken(this.runToken);
    this.tokenHeld = true;
    await this.router.bind(`ipc://${this.runDir}/ctl`);
    this.receiving = this.receiveLoop();
    const command = nodeCommand();
    for (const node of this.options.topology.nodes) this.spawnNode(command, node.id, 0);
    const infos: NodeProcessInfo[] = [];
    await Promise.all(
      this.options.topology.nodes.map(async (node) => {
        await this.handshake(node.id, 0, 0);
        infos.push({ id: node.id, kind: node.kind, incarnation: 0, pid: this.nodes.get(node.id)!.pid });
      }),
    );
    return infos.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  private spawnNode(command: readonly string[], id: string, incarnation: number, prepared = false): void {
    const identity = `${id}/${incarnation}`;
    const child = spawn(process.execPath, [...command, '--node', id, '--incarnation', String(incarnation), '--control', `ipc://${this.runDir}/ctl`], {
      // stdin is the lifeline: when the controller dies, the pipe closes and the node exits.
      stdio: ['pipe', 'pipe', 'pipe'],
      // The token in the environment: the command line is readable by every user, this is not.
      env: { ...process.env, [RUN_TOKEN_ENV]: this.runToken },
      // Its own process group: a terminal's Ctrl-C reaches the controller only, which stops the
      // run in order; a node still starting up would otherwise die of it.
      detached: true,
    });
    const index = this.nodeIndex.get(id)!;
    const incoming: WireDirection[] = [];
    for (let d = 0; d < this.directionTo.length; d++) if (this.directionTo[d] === index) incoming.push(d);
    const live: LiveNode = { id, index, incarnation, child, identity, pid: child.pid ?? -1, exit: null, planned: false, incoming, owes: 0, deadline: null, owed: '', prepared };
    if (prepared) this.prepared.set(id, live);
    else {
      this.nodes.set(id, live);
      this.aliveCache = null;
    }
    const kind = this.options.topology.nodes[index]?.kind ?? 'node';
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
      if (live.prepared) {
        // A process started ahead of a restart that never came, or died first: not the run's.
        if (this.prepared.get(id) === live) this.prepared.delete(id);
        live.exit = { node: id, incarnation, code, signal, planned: true, reason: null };
        return;
      }
      const exit: NodeExit = {
        node: id,
        incarnation,
        code,
        signal,
        planned: live.planned,
        reason: live.planned ? null : signal ? `killed by ${signal}` : `exited with code ${code}`,
      };
      live.exit = exit;
      live.deadline = null;
      this.aliveCache = null;
      if (!live.planned) {
        this.exits.push(exit);
        this.options.onUnexpectedExit?.(exit);
        // Frames it reported sending may have died in its buffers: peers must not wait for them.
        for (let d = 0; d < this.directionFrom.length; d++) {
          if (this.directionFrom[d] !== index) continue;
          const peer = this.nodes.get(this.names.ids[this.directionTo[d]!]!);
          if (peer && !peer.exit) this.send(peer.id, { t: 'forget', dead: [d] });
        }
      }
      // The window gets no answer from it, and neither does anyone else waiting.
      this.settle(live, null);
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
    this.next[live.index] = Infinity;
  }

  alive(): readonly string[] {
    this.aliveCache ??= [...this.nodes.values()]
      .filter((n) => n.exit === null && !n.planned)
      .map((n) => n.id)
      .sort();
    return this.aliveCache;
  }

  nextTime(node: string): VTime {
    const live = this.nodes.get(node);
    if (!live || live.exit) return Infinity;
    return this.next[live.index]!;
  }

  runWindow(horizon: VTime, participants: readonly string[], inputs: ReadonlyMap<string, GrantedInput[]>): Promise<WindowReport> {
    const window = ++this.window;
    const targets = inputs.size === 0 ? participants : [...new Set([...participants, ...inputs.keys()])].sort();
    const open: OpenWindow = { window, outstanding: 0, answers: [], resolve: null };
    this.open = open;
    const deadline = Date.now() + NODE_ANSWER_DEADLINE_MS;
    for (const id of targets) {
      const live = this.nodes.get(id);
      if (!live || live.exit) continue;
      const { expect, dead } = this.expectations(live, true);
      this.send(id, { t: 'grant', window, horizon, inputs: inputs.get(id) ?? [], expect, dead });
      live.owes = window;
      live.deadline = deadline;
      live.owed = `done for window ${window}`;
      open.outstanding++;
    }
    if (open.outstanding === 0) return Promise.resolve(this.closeWindow(open));
    return new Promise((resolve) => (open.resolve = resolve));
  }

  /** A node's answer to the open window (or null: it died owing one); closes the window on the last. */
  private settle(live: LiveNode, done: DoneMessage | null): void {
    const open = this.open;
    if (live.owes === 0 || open === null || live.owes !== open.window) return;
    live.owes = 0;
    live.deadline = null;
    if (done) open.answers.push({ live, done });
    if (--open.outstanding === 0 && open.resolve) open.resolve(this.closeWindow(open));
  }

  /** Takes in the open window's answers: next times and sent counts now; events when first read. */
  private closeWindow(open: OpenWindow): WindowReport {
    this.open = null;
    const { answers } = open;
    const inFlight: number[] = [];
    for (const { live, done } of answers) {
      this.next[live.index] = done.next ?? Infinity;
      for (const [direction, count, minArrival] of done.sent) {
        if (this.directionFrom[direction] !== live.index) {
          this.options.log(`[controller] node ${live.id} reported frames on direction ${direction}, which is not its own; ignored`);
          continue;
        }
        this.sentCum[direction] = count;
        if (minArrival !== null) inFlight.push(this.directionTo[direction]!, minArrival);
      }
    }
    // Applied after every answer: a receiver's own `next` must not overwrite what is in flight to it.
    for (let i = 0; i < inFlight.length; i += 2) {
      const to = inFlight[i]!;
      this.next[to] = Math.min(this.next[to]!, inFlight[i + 1]!);
    }
    const exits = this.exits.splice(0);
    let events: NodeEvent[] | null = null;
    const decode = (): NodeEvent[] => {
      const out: NodeEvent[] = [];
      for (const { live, done } of answers) {
        try {
          for (const e of readDoneEvents(done, live.id, this.names)) out.push(e);
        } catch (error) {
          this.options.log(`[controller] ${(error as Error).message}; killing ${live.id}`);
          live.child.kill('SIGKILL');
        }
      }
      return out;
    };
    // Read when the controller commits them, after it has granted the next window.
    return {
      get events(): NodeEvent[] {
        events ??= decode();
        return events;
      },
      exits,
    };
  }

  /**
   * What a node must have received before it may run: per incoming direction, the senders'
   * counts (for a grant, only those that grew since the node was last told), and which senders
   * are dead.
   */
  private expectations(live: LiveNode, onlyNew: boolean): { expect: Expectation[]; dead: WireDirection[] } {
    const expect: Expectation[] = [];
    const dead: WireDirection[] = [];
    for (const direction of live.incoming) {
      const from = this.nodes.get(this.names.ids[this.directionFrom[direction]!]!);
      if (!from || from.exit || from.planned) dead.push(direction);
      else {
        const count = this.sentCum[direction]!;
        if (onlyNew && count <= this.told[direction]!) continue;
        expect.push([direction, count]);
        this.told[direction] = count;
      }
    }
    return { expect, dead };
  }

  async kill(node: string): Promise<NodeExit> {
    const live = this.nodes.get(node);
    if (!live || live.exit) throw new Error(`Cannot kill ${node}: it is not running`);
    // Before the kill, every frame it sent must have reached its peers: ZeroMQ may still hold
    // some in the dying process's buffers, and losing them would make the run irreproducible.
    const peers = new Set<string>();
    for (let d = 0; d < this.directionFrom.length; d++) if (this.directionFrom[d] === live.index) peers.add(this.names.ids[this.directionTo[d]!]!);
    await Promise.all(
      [...peers].sort().map(async (peer) => {
        const p = this.nodes.get(peer);
        if (!p || p.exit) return;
        const token = ++this.token;
        this.send(peer, { t: 'sync', token, expect: this.expectations(p, false).expect });
        await this.expect(peer, (m) => m.t === 'synced' && m.token === token, 'synced');
      }),
    );
    live.planned = true;
    this.aliveCache = null;
    const exited = new Promise<NodeExit>((resolve) => live.child.once('exit', () => resolve(live.exit!)));
    live.child.kill('SIGKILL');
    const exit = await exited;
    this.next[live.index] = Infinity;
    this.prepare(node, live.incarnation + 1);
    return exit;
  }

  /**
   * Starts the next incarnation of a killed node now, so that a restart finds it loaded and
   * connected and only has to set it up. It takes part in nothing until then.
   */
  private prepare(node: string, incarnation: number): void {
    if (this.disposed) return;
    this.prepared.get(node)?.child.kill('SIGKILL');
    this.spawnNode(nodeCommand(), node, incarnation, true);
  }

  async restart(node: string, incarnation: number, nodeSeqBase: number): Promise<NodeProcessInfo> {
    const old = this.nodes.get(node);
    if (old && !old.exit) throw new Error(`Cannot restart ${node}: it is running`);
    // Every wire of the node starts afresh at both ends, before the new life can connect: the
    // peers' old sockets may still hold frames sent after the kill, which no life may receive.
    const index = this.nodeIndex.get(node)!;
    for (let d = 0; d < this.directionFrom.length; d++) {
      if (this.directionFrom[d] === index || this.directionTo[d] === index) {
        this.sentCum[d] = 0;
        this.told[d] = 0;
      }
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
    const ready = this.prepared.get(node);
    this.prepared.delete(node);
    if (ready && ready.incarnation === incarnation && !ready.exit) {
      ready.prepared = false;
      this.nodes.set(node, ready);
      this.aliveCache = null;
    } else {
      ready?.child.kill('SIGKILL');
      this.spawnNode(nodeCommand(), node, incarnation);
    }
    await this.handshake(node, incarnation, nodeSeqBase);
    const kind = this.options.topology.nodes[index]!.kind;
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
      const aSetup: WireSetup = { direction: wireDirection(index, 'a>b'), endpoint, bind: true };
      const bSetup: WireSetup = { direction: wireDirection(index, 'b>a'), endpoint, bind: false };
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
    for (const spare of this.prepared.values()) spare.child.kill('SIGKILL');
    const running = [...this.nodes.values()].filter((n) => !n.exit);
    this.aliveCache = null;
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
    clearInterval(this.watchdog);
    const waits: Promise<void>[] = [];
    for (const live of [...this.nodes.values(), ...this.prepared.values()]) {
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
    for (const live of [...this.nodes.values(), ...this.prepared.values()]) {
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

  private receiveLoop(): Promise<void> {
    return receiveEach(this.router, ([identity, body]) => this.onMessage(identity, body)).catch((error: unknown) => {
      if (!this.disposed) throw error;
    });
  }

  private onMessage(identity: Buffer | undefined, body: Buffer | undefined): void {
    const from = identity?.toString() ?? '?';
    const slash = from.indexOf('/');
    const nodeId = slash < 0 ? from : from.slice(0, slash);
    const current = this.nodes.get(nodeId);
    // A node started ahead of its restart says hello early; it is kept for the restart.
    const live = current?.identity === from ? current : this.prepared.get(nodeId);
    // Only the identity of a node this run started, in its current life, is heard; anything
    // else (an earlier life, no node at all) is ignored and counted, never acted on (a kill
    // would hit the real node).
    if (!live || live.identity !== from || live.exit !== null) {
      this.unknownIdentities++;
      if (this.unknownIdentities === 1 || this.unknownIdentities % 100 === 0) {
        this.options.log(`[controller] ignored a message from ${JSON.stringify(from.slice(0, 64))}, no live node of this run (${this.unknownIdentities} so far)`);
      }
      return;
    }
    let message: NodeMessage;
    try {
      message = parseNodeMessage(body ?? new Uint8Array(), `node ${nodeId}`);
    } catch (error) {
      this.malformedMessages++;
      this.options.log(`[controller] ${(error as Error).message}; ignored (${this.malformedMessages} so far)`);
      return;
    }
    if (message.t === 'done') {
      if (live.owes !== message.window) {
        this.options.log(`[controller] node ${nodeId} answered window ${message.window}, which it was not running; ignored`);
        return;
      }
      this.settle(live, message);
      return;
    }
    if (message.t === 'fatal') this.options.log(`[controller] node ${nodeId} failed: ${message.message}`);
    if (message.t === 'hello' && message.node !== nodeId) {
      this.options.log(`[controller] node ${nodeId} said hello as ${message.node}; ignored`);
      return;
    }
    const waiter = this.waiters.find((w) => w.node === nodeId && w.accept(message));
    if (waiter) this.dropWaiter(waiter, message);
    else this.early.push({ node: nodeId, message });
  }

  private dropWaiter(waiter: Waiter, message: NodeMessage | null): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
    const live = this.nodes.get(waiter.node);
    if (live && live.owes === 0 && !this.waiters.some((w) => w.node === waiter.node)) live.deadline = null;
    waiter.resolve(message);
  }

  /** The watchdog: a node that owes an answer past its deadline is declared hung and killed. */
  private checkDeadlines(): void {
    const now = Date.now();
    for (const live of this.nodes.values()) {
      if (live.deadline === null || live.exit || now < live.deadline) continue;
      this.options.log(`[controller] node ${live.id} did not answer (${live.owed}) in time; killing it`);
      live.deadline = null;
      live.child.kill('SIGKILL');
    }
  }

  /**
   * Waits for a message from a node. Resolves with a `fatal`-free message, or with a `fatal`
   * stand-in when the node died or did not answer in time (the watchdog then kills it and its
   * exit is recorded as unexpected).
   */
  private expect(node: string, accept: (m: NodeMessage) => boolean, what: string, deadlineMs = NODE_ANSWER_DEADLINE_MS): Promise<NodeMessage> {
    const earlyIndex = this.early.findIndex((a) => a.node === node && accept(a.message));
    if (earlyIndex >= 0) return Promise.resolve(this.early.splice(earlyIndex, 1)[0]!.message);
    const live = this.nodes.get(node);
    if (!live || live.exit) return Promise.resolve(deadAnswer(node, what));
    const deadline = Date.now() + deadlineMs;
    if (live.deadline === null || deadline < live.deadline) {
      live.deadline = deadline;
      live.owed = what;
    }
    return new Promise<NodeMessage>((resolve) => {
      this.waiters.push({
        node,
        accept: (m) => accept(m) || m.t === 'fatal',
        resolve: (m) => resolve(m && m.t !== 'fatal' ? m : deadAnswer(node, what)),
      });
    });
  }
}

/** The answer of a node that died before answering: a `fatal` message the callers treat as absent. */
function deadAnswer(node: string, what: string): NodeMessage {
  return { t: 'fatal', message: `no ${what} from ${node}: the node is gone` };
}
