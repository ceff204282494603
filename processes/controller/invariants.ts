/**
 * Invariant checks where the controller meets the event log: an event sink that judges a run as
 * its events are recorded, and a check of a log already on disk. The checkers themselves are the
 * pure folds of `shared/invariants`.
 */
import { decode } from '../../shared/codec.js';
import type { RecordedEvent, VTime } from '../../shared/events.js';
import { INVARIANTS, InvariantSuite, type InvariantReport, type Violation } from '../../shared/invariants/index.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { EventLogReader } from './log/reader.js';

/** A recorded event with its payload decoded, as the checkers read it. */
export function checkedEvent(e: RecordedEvent): { seq: number; vtime: VTime; node: string; kind: string; cause: number | null; payload: unknown } {
  return { seq: e.seq, vtime: e.vtime, node: e.node, kind: e.kind, cause: e.cause, payload: decode(e.payload) };
}

/**
 * Judges events as they are recorded. Feed it every batch the controller commits, in order, then
 * `finish` at the run's end.
 */
export class OnlineInvariants {
  private readonly suite: InvariantSuite;
  private events = 0;

  constructor(topology: ResolvedTopology, options: { readonly settleNs?: VTime } = {}) {
    this.suite = new InvariantSuite({ topology, ...(options.settleNs !== undefined ? { settleNs: options.settleNs } : {}) });
  }

  /** Observes a batch; returns the violations it revealed. */
  append(events: readonly RecordedEvent[]): Violation[] {
    const out: Violation[] = [];
    for (const e of events) out.push(...this.suite.observe(checkedEvent(e)));
    this.events += events.length;
    return out;
  }

  /** What the events so far broke, without judging the run as a whole (a run cut short). */
  sofar(): InvariantReport {
    const violations = this.suite.violations();
    const first = new Map<string, Violation>();
    for (const v of violations) if (!first.has(v.invariant)) first.set(v.invariant, v);
    return { events: this.events, violations, firstByInvariant: INVARIANTS.flatMap((i) => (first.has(i.id) ? [first.get(i.id)!] : [])) };
  }

  /** The verdict, once the run has ended at `endNs`. */
  finish(endNs: VTime): InvariantReport {
    return this.suite.finish(endNs);
  }
}

/**
 * Checks a recorded run: reads its topology and events from the log and judges them. A run still
 * being written is judged up to its last committed event.
 *
 * @throws EventLogError when the file is not a readable dpulab log
 */
export function checkEventLog(path: string, options: { readonly settleNs?: VTime } = {}): InvariantReport {
  const reader = EventLogReader.open(path);
  try {
    const run = reader.run();
    const topology = JSON.parse(run.topologyJson) as ResolvedTopology;
    const online = new OnlineInvariants(topology, options);
    let last = 0;
    for (const e of reader.events()) {
      online.append([e]);
      last = e.vtime;
    }
    return online.finish(run.endVtime ?? last);
  } finally {
    reader.close();
  }
}
