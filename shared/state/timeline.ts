/**
 * Seeking in a run: the cluster state after any event, without folding from the start each time.
 * Events are appended in seq order; every `interval` events a copy of the state is kept, so the
 * state after event k is the nearest copy at or before k plus at most `interval - 1` events.
 */
import { DpulabError } from '../errors.js';
import { cloneClusterState, emptyClusterState, type ClusterEvent, type ClusterState } from './cluster-state.js';
import { applyEvent } from './fold.js';

/** Events a snapshot is kept for: seeking folds at most this many events. */
export const DEFAULT_SNAPSHOT_INTERVAL = 2000;

/** The events with seq in [from, to), in seq order: where a timeline reads what it did not keep. */
export type EventRange = (from: number, to: number) => Iterable<ClusterEvent>;

/** An event appended out of order, or a seek outside what was appended. */
export class TimelineError extends DpulabError {
  constructor(
    readonly code: 'not-dense' | 'out-of-range' | 'missing-events',
    message: string,
  ) {
    super(message);
    this.name = 'TimelineError';
  }
}

/** The state after each prefix of an event log, by snapshots. */
export class Timeline {
  private head: ClusterState = emptyClusterState();
  /**
   * snapshots[i] is the state after the events [0, (i + 1) * interval), or how to get it (a
   * stored copy not read yet: a long run's copies are read one seek at a time).
   */
  private readonly snapshots: Array<ClusterState | (() => ClusterState)> = [];

  constructor(readonly interval: number = DEFAULT_SNAPSHOT_INTERVAL) {
    if (!Number.isSafeInteger(interval) || interval < 1) throw new RangeError(`Snapshot interval must be a positive integer, got ${interval}`);
  }

  /**
   * A timeline that carries on from stored snapshots (an event log's, see `snapshots.ts`):
   * `load(i)` gives the state after the events [0, (i + 1) * interval), for i below `count`, and is
   * called only when a seek needs that copy (and for the last, which the timeline carries on from).
   * The timeline then holds every event up to the end of the last copy, and appends from there.
   */
  static restore(count: number, load: (index: number) => ClusterState, interval: number = DEFAULT_SNAPSHOT_INTERVAL): Timeline {
    const timeline = new Timeline(interval);
    for (let i = 0; i < count; i++) {
      timeline.snapshots.push(() => {
        const state = load(i);
        if (state.seq !== (i + 1) * interval - 1) throw new TimelineError('not-dense', `Snapshot ${i} holds the state after event ${state.seq}, not after event ${(i + 1) * interval - 1}`);
        timeline.snapshots[i] = state;
        return state;
      });
    }
    if (count > 0) timeline.head = cloneClusterState(timeline.snapshot(count - 1));
    return timeline;
  }

  /** The state after the events [0, (index + 1) * interval), read now if it was stored. */
  private snapshot(index: number): ClusterState {
    const entry = this.snapshots[index]!;
    return typeof entry === 'function' ? entry() : entry;
  }

  /** Events appended so far. */
  get length(): number {
    return this.head.seq + 1;
  }

  /** Folds the next event in. Throws TimelineError unless its seq is the next one. */
  append(event: ClusterEvent): void {
    if (event.seq !== this.head.seq + 1) throw new TimelineError('not-dense', `Event seq ${event.seq} is not the next one: expected ${this.head.seq + 1}`);
    applyEvent(this.head, event);
    if ((event.seq + 1) % this.interval === 0) this.snapshots.push(cloneClusterState(this.head));
  }

  /** The state after every appended event. Read-only: it changes with the next append. */
  latest(): ClusterState {
    return this.head;
  }

  /**
   * A copy of the state right after the event with seq `seq` (-1: before any event). `events`
   * supplies the events between the nearest snapshot and `seq`.
   */
  stateAt(seq: number, events: EventRange): ClusterState {
    if (!Number.isSafeInteger(seq) || seq < -1 || seq > this.head.seq) {
      throw new TimelineError('out-of-range', `Cannot seek to event ${seq}: the timeline holds events 0 to ${this.head.seq}`);
    }
    if (seq === this.head.seq) return cloneClusterState(this.head);
    const index = Math.floor((seq + 1) / this.interval) - 1;
    const snapshot = index >= 0 && index < this.snapshots.length ? this.snapshot(index) : undefined;
    const state = snapshot ? cloneClusterState(snapshot) : emptyClusterState();
    const from = snapshot ? (index + 1) * this.interval : 0;
    for (const event of events(from, seq + 1)) {
      if (event.seq !== state.seq + 1) throw new TimelineError('missing-events', `Seeking to ${seq}: got event ${event.seq} where ${state.seq + 1} was expected`);
      applyEvent(state, event);
    }
    if (state.seq !== seq) throw new TimelineError('missing-events', `Seeking to ${seq}: the events stop at ${state.seq}`);
    return state;
  }
}
