/**
 * The contract of an invariant checker: what it reads (events with decoded payloads, the
 * topology), what it says (violations naming the event that broke the invariant).
 *
 * A checker is a pure fold over the event stream: it reads nothing else (no clock, no I/O, no
 * node state), so the same log always gives the same verdict, in the CLI, the explorer, the tests
 * and the UI. It is written as a monitor that observes events one by one, in seq order, so a live
 * run can be checked as it goes and a recorded run in one pass, without holding the log.
 */
import type { VTime } from '../events.js';
import type { ResolvedTopology } from '../topology/types.js';

/** One recorded event with its payload decoded (msgpack maps as objects, binary as Uint8Array). */
export interface CheckedEvent {
  readonly seq: number;
  readonly vtime: VTime;
  readonly node: string;
  readonly kind: string;
  readonly cause: number | null;
  readonly payload: unknown;
}

/** Where a violation points: the event that broke the invariant, as a reader finds it in the log. */
export interface EventRef {
  readonly seq: number;
  readonly vtime: VTime;
  readonly node: string;
  readonly kind: string;
}

/** One broken invariant: which, why in words, and the first event that broke it. */
export interface Violation {
  /** The invariant's stable id, e.g. `vm-one-host`. */
  readonly invariant: string;
  /** What went wrong, naming the objects involved (VM, vNIC, migration id, DPU). */
  readonly message: string;
  /** The event that broke it (for a promise never kept, the event that made the promise). */
  readonly event: EventRef;
}

/** What every checker may read besides the events. */
export interface InvariantContext {
  readonly topology: ResolvedTopology;
  /**
   * How long after the last fault the lab is given to recover before `traffic-recovers` judges
   * it, and how long an aborted vMotion has to regain passthrough. Default
   * {@link DEFAULT_SETTLE_NS}.
   */
  readonly settleNs?: VTime;
}

/** Default settling time: one second, more than twice a DPU failover's detection (400 ms) plus a vMotion's 250 ms timeout. */
export const DEFAULT_SETTLE_NS: VTime = 1_000_000_000;

/** A checker observing one run. */
export interface InvariantMonitor {
  /** Takes the next event, in seq order; returns violations it can already tell. */
  observe(event: CheckedEvent): readonly Violation[];
  /** The run ended at `endNs`: returns violations only the whole log can tell. */
  finish(endNs: VTime): readonly Violation[];
}

/** An invariant: a stable id, one line of meaning, and how to check it. */
export interface Invariant {
  /** Stable id, kebab-case; tools, fixtures and `--json` summaries rely on it. */
  readonly id: string;
  /** One line: what must always hold. */
  readonly meaning: string;
  /** A fresh monitor for one run. */
  start(context: InvariantContext): InvariantMonitor;
}

/** The reference to an event a violation carries. */
export function refOf(event: CheckedEvent | EventRef): EventRef {
  return { seq: event.seq, vtime: event.vtime, node: event.node, kind: event.kind };
}

/** An empty answer, shared so that `observe` allocates nothing in the common case. */
export const NONE: readonly Violation[] = Object.freeze([]);
