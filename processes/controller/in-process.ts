import { compareNodeIds, CONTROLLER_NODE, type NodeEvent, type VTime } from '../../shared/events.js';
import type { ResolvedNode, ResolvedTopology } from '../../shared/topology/types.js';
import { createCore } from '../cores.js';
import { NodeRuntime } from '../runtime/node-runtime.js';
import type { GrantedInput } from '../runtime/protocol.js';
import type { NodeCore, OutboundFrame } from '../runtime/types.js';
import type { Cluster, NodeExit, NodeProcessInfo, WindowReport } from './cluster.js';

/** A frame `from` sent, as its receiver's runtime takes it (the wire's corruption mark included). */
function arrivingFrame(from: string, frame: OutboundFrame): Parameters<NodeRuntime['deliver']>[0] {
  return {
    type: 'frame',
    arrival: frame.arrival,
    src: from,
    srcSeq: frame.srcSeq,
    cause: frame.cause,
    port: frame.toPort,
    channel: frame.channel,
    bytes: frame.bytes,
    ...(frame.corrupted === true ? { corrupted: true } : {}),
  };
}

/**
 * Every node core in this one OS process. Frames produced in a window are handed to their
 * receivers after the window, exactly when a multi-process node would have them, so both modes
 * see the same queues and give the same events. Used for fast tests and by `--in-process`.
 */
export class InProcessCluster implements Cluster {
  readonly mode = 'in-process' as const;
  private readonly runtimes = new Map<string, NodeRuntime>();
  private readonly incarnations = new Map<string, number>();

  /** @param coreFactory builds each node's core; tests pass their own, runs use the real cores. */
  constructor(
    private readonly topology: ResolvedTopology,
    private readonly seed: number,
    private readonly coreFactory: (node: ResolvedNode, topology: ResolvedTopology) => NodeCore = createCore,
  ) {}

  async start(): Promise<NodeProcessInfo[]> {
    const infos: NodeProcessInfo[] = [];
    for (const node of this.topology.nodes) {
      this.startNode(node.id, 0, 0);
      infos.push({ id: node.id, kind: node.kind, incarnation: 0, pid: process.pid });
    }
    return infos;
  }

  private startNode(id: string, incarnation: number, nodeSeqBase: number): void {
    const node = this.topology.nodes.find((n) => n.id === id)!;
    this.incarnations.set(id, incarnation);
    this.runtimes.set(
      id,
      new NodeRuntime({ topology: this.topology, nodeId: id, seed: this.seed, incarnation, nodeSeqBase, core: this.coreFactory(node, this.topology) }),
    );
  }

  alive(): readonly string[] {
    return [...this.runtimes.keys()].sort();
  }

  nextTime(node: string): VTime {
    return this.runtimes.get(node)?.nextTime() ?? Infinity;
  }

  async runWindow(horizon: VTime, participants: readonly string[], inputs: ReadonlyMap<string, GrantedInput[]>): Promise<WindowReport> {
    for (const [node, list] of inputs) {
      const runtime = this.runtimes.get(node);
      if (!runtime) continue;
      for (const i of list) {
        runtime.deliver({ type: 'input', arrival: i.arrival, src: CONTROLLER_NODE, srcSeq: i.srcSeq, cause: i.causeSeq === null ? null : { node: CONTROLLER_NODE, nodeSeq: i.causeSeq }, input: i.input });
      }
    }
    const events = [];
    const outbound = [];
    for (const id of participants) {
      const runtime = this.runtimes.get(id);
      if (!runtime) continue;
      const result = runtime.runWindow(horizon);
      for (const e of result.events) events.push(e);
      for (const f of result.out) outbound.push({ from: id, frame: f });
    }
    for (const { from, frame } of outbound) {
      // A frame towards a dead node is lost, as it is when its process is gone.
      this.runtimes.get(frame.toNode)?.deliver(arrivingFrame(from, frame));
    }
    return { events, exits: [] };
  }

  /**
   * Runs every node instant before `until`, at most `maxSteps` of them, without windows: the
   * earliest instant of any node is taken from a heap and run, and its frames are queued on their
   * receivers at once (they arrive after the instant, since every wire has a latency). Each node
   * handles the very messages in the very order the windows would give it, so its events are the
   * same; ordered by (vtime, node, nodeSeq) they are the same log.
   *
   * Returns the events, the instants run, and the time of the earliest instant left.
   */
  runInstants(until: VTime, maxSteps: number): { events: NodeEvent[]; steps: number; next: VTime } {
    const heap = new InstantHeap();
    for (const [id, runtime] of this.runtimes) heap.push(runtime.nextTime(), id);
    const events: NodeEvent[] = [];
    let steps = 0;
    for (;;) {
      const top = heap.peek();
      if (top === null || top.time >= until || steps >= maxSteps) return { events, steps, next: top?.time ?? Infinity };
      heap.pop();
      const runtime = this.runtimes.get(top.node)!;
      // Stale: the node's earliest message changed since this entry was pushed.
      if (runtime.nextTime() !== top.time) continue;
      steps++;
      const result = runtime.runWindow(top.time + 1);
      for (const e of result.events) events.push(e);
      for (const frame of result.out) {
        const receiver = this.runtimes.get(frame.toNode);
        // A frame towards a dead node is lost, as it is when its process is gone.
        if (!receiver) continue;
        const before = receiver.nextTime();
        receiver.deliver(arrivingFrame(top.node, frame));
        if (frame.arrival < before) heap.push(frame.arrival, frame.toNode);
      }
      const next = runtime.nextTime();
      if (Number.isFinite(next)) heap.push(next, top.node);
    }
  }

  async kill(node: string): Promise<NodeExit> {
    const incarnation = this.incarnations.get(node) ?? 0;
    this.runtimes.delete(node);
    return { node, incarnation, code: null, signal: 'SIGKILL', planned: true, reason: null };
  }

  async restart(node: string, incarnation: number, nodeSeqBase: number): Promise<NodeProcessInfo> {
    if (this.runtimes.has(node)) throw new Error(`Cannot restart ${node}: it is running`);
    this.startNode(node, incarnation, nodeSeqBase);
    const kind = this.topology.nodes.find((n) => n.id === node)!.kind;
    return { id: node, kind, incarnation, pid: process.pid };
  }

  async inspect(node: string): Promise<unknown> {
    return this.runtimes.get(node)?.inspect() ?? null;
  }

  async stop(): Promise<NodeExit[]> {
    const exits = this.alive().map((node) => ({ node, incarnation: this.incarnations.get(node) ?? 0, code: 0, signal: null, planned: true, reason: null }));
    this.runtimes.clear();
    return exits;
  }

  async dispose(): Promise<void> {
    this.runtimes.clear();
  }
}

/** Node instants by (time, node id): the order in which the in-process engine runs them. */
class InstantHeap {
  private readonly times: number[] = [];
  private readonly nodes: string[] = [];

  push(time: number, node: string): void {
    if (!Number.isFinite(time)) return;
    const times = this.times;
    const nodes = this.nodes;
    let i = times.length;
    times.push(time);
    nodes.push(node);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(time, node, times[parent]!, nodes[parent]!)) break;
      times[i] = times[parent]!;
      nodes[i] = nodes[parent]!;
      i = parent;
    }
    times[i] = time;
    nodes[i] = node;
  }

  peek(): { time: number; node: string } | null {
    return this.times.length === 0 ? null : { time: this.times[0]!, node: this.nodes[0]! };
  }

  pop(): void {
    const times = this.times;
    const nodes = this.nodes;
    const time = times.pop()!;
    const node = nodes.pop()!;
    if (times.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = -1;
      let mTime = time;
      let mNode = node;
      if (l < times.length && this.before(times[l]!, nodes[l]!, mTime, mNode)) {
        m = l;
        mTime = times[l]!;
        mNode = nodes[l]!;
      }
      if (r < times.length && this.before(times[r]!, nodes[r]!, mTime, mNode)) {
        m = r;
        mTime = times[r]!;
        mNode = nodes[r]!;
      }
      if (m < 0) break;
      times[i] = mTime;
      nodes[i] = mNode;
      i = m;
    }
    times[i] = time;
    nodes[i] = node;
  }

  private before(t1: number, n1: string, t2: number, n2: string): boolean {
    return t1 !== t2 ? t1 < t2 : compareNodeIds(n1, n2) < 0;
  }
}
