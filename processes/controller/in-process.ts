import { CONTROLLER_NODE, type VTime } from '../../shared/events.js';
import type { ResolvedNode, ResolvedTopology } from '../../shared/topology/types.js';
import { createCore } from '../cores.js';
import { NodeRuntime } from '../runtime/node-runtime.js';
import type { GrantedInput } from '../runtime/protocol.js';
import type { NodeCore } from '../runtime/types.js';
import type { Cluster, NodeExit, NodeProcessInfo, WindowReport } from './cluster.js';

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
      this.runtimes.get(frame.toNode)?.deliver({
        type: 'frame',
        arrival: frame.arrival,
        src: from,
        srcSeq: frame.srcSeq,
        cause: frame.cause,
        port: frame.toPort,
        channel: frame.channel,
        bytes: frame.bytes,
        ...(frame.corrupted === true ? { corrupted: true } : {}),
      });
    }
    return { events, exits: [] };
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
