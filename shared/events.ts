/**
 * Events: what every node and the controller record, in the shape they travel to the recorder.
 *
 * A node emits events while it handles a message; each carries the node's own sequence number.
 * The controller merges the events of a synchronisation window from every node and orders them by
 * (vtime, node, nodeSeq), which depends only on the topology, scenario, seed and code, never on
 * which process answered first. That order assigns the global `seq` stored in the log.
 */

/** Virtual time: an integer count of nanoseconds since the start of the run. */
export type VTime = number;

/** The node id the controller records its own events under (inputs, lifecycle). */
export const CONTROLLER_NODE = 'controller';

/** Identifies an event before it has a global sequence number: the node and its own counter. */
export interface LocalEventId {
  readonly node: string;
  readonly nodeSeq: number;
}

/**
 * An event as a node (or the controller) emits it.
 *
 * `payload` holds the deterministic fields, msgpack-encoded once by the emitter so that every
 * process hashes the very same bytes. `volatile` holds what is recorded but left out of the
 * fingerprint because it differs from run to run (pids, wall-clock times, host names).
 */
export interface NodeEvent {
  readonly vtime: VTime;
  readonly node: string;
  readonly nodeSeq: number;
  readonly kind: string;
  /** The event that caused this one, if any. */
  readonly cause: LocalEventId | null;
  readonly payload: Uint8Array;
  readonly volatile: Uint8Array | null;
}

/** An event once ordered by the controller: it has its global sequence number and cause. */
export interface RecordedEvent {
  readonly seq: number;
  readonly vtime: VTime;
  readonly node: string;
  readonly kind: string;
  /** Global seq of the causing event, or null. */
  readonly cause: number | null;
  readonly payload: Uint8Array;
  readonly volatile: Uint8Array | null;
}

/**
 * Orders node ids for tie-breaking: the controller first (its inputs cause what nodes do at the
 * same instant), then nodes by id.
 */
export function compareNodeIds(a: string, b: string): number {
  if (a === b) return 0;
  if (a === CONTROLLER_NODE) return -1;
  if (b === CONTROLLER_NODE) return 1;
  return a < b ? -1 : 1;
}

/** The deterministic total order of events within a window: (vtime, node, nodeSeq). */
export function compareNodeEvents(a: NodeEvent, b: NodeEvent): number {
  if (a.vtime !== b.vtime) return a.vtime - b.vtime;
  if (a.node !== b.node) return compareNodeIds(a.node, b.node);
  return a.nodeSeq - b.nodeSeq;
}
