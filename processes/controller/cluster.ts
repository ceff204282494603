import type { NodeEvent, VTime } from '../../shared/events.js';
import type { NodeKind } from '../../shared/topology/types.js';
import type { GrantedInput } from '../runtime/protocol.js';

/** A node as the controller sees it: which process (if any) runs it. */
export interface NodeProcessInfo {
  readonly id: string;
  readonly kind: NodeKind;
  readonly incarnation: number;
  /** OS pid of the node's process; the controller's own pid in in-process mode. */
  readonly pid: number;
}

/** How a node's life ended. `planned` exits are the controller's doing (end of run, a scripted kill). */
export interface NodeExit {
  readonly node: string;
  readonly incarnation: number;
  readonly code: number | null;
  readonly signal: string | null;
  readonly planned: boolean;
  /** Why, in words, when it was not a clean end of run. */
  readonly reason: string | null;
}

/** What one window produced. */
export interface WindowReport {
  readonly events: NodeEvent[];
  /** Nodes that died without being asked to during the window. */
  readonly exits: NodeExit[];
}

/**
 * The nodes of a run and the means to advance them through windows of virtual time. Two
 * implementations: one OS process per node behind ZeroMQ wires, or every core in this process.
 * Both must produce the same events for the same inputs; the controller cannot tell them apart.
 */
export interface Cluster {
  readonly mode: 'multi-process' | 'in-process';
  /** Starts every node; resolves once all are ready to be granted windows. */
  start(): Promise<NodeProcessInfo[]>;
  /** Ids of the nodes still running, sorted. */
  alive(): readonly string[];
  /** Earliest message time pending for a node, counting frames in flight towards it. */
  nextTime(node: string): VTime;
  /**
   * Lets `participants` handle their messages before `horizon`, after queuing `inputs` (per node).
   * Nodes not listed have nothing before the horizon and stay idle.
   */
  runWindow(horizon: VTime, participants: readonly string[], inputs: ReadonlyMap<string, GrantedInput[]>): Promise<WindowReport>;
  /**
   * Optional, for a cluster that holds every node itself: runs every node instant before `until`
   * (at most `maxSteps`) without windows, and returns their events (in any order), the instants
   * run and the time of the earliest instant left. The controller uses it in batch runs between
   * inputs; the events must be those windows would give.
   */
  runInstants?(until: VTime, maxSteps: number): { events: NodeEvent[]; steps: number; next: VTime };
  /** Kills a node at a window boundary (SIGKILL to its process), after its last frames were received. */
  kill(node: string): Promise<NodeExit>;
  /**
   * Starts a killed node again as `incarnation`, its events numbered from `nodeSeqBase`. Its
   * wires start afresh at both ends: nothing sent to or by an earlier life reaches the new one.
   */
  restart(node: string, incarnation: number, nodeSeqBase: number): Promise<NodeProcessInfo>;
  /** A plain-data view of a node's state. */
  inspect(node: string): Promise<unknown>;
  /** Asks every node to stop, waits with a deadline, then kills what remains. */
  stop(): Promise<NodeExit[]>;
  /** Releases sockets, files and processes, whatever state the run is in. Idempotent. */
  dispose(): Promise<void>;
}
