/**
 * What every view reads: the run, its status, the lab state, the selection, and (replay) the
 * event the views show the lab at. Views subscribe to topics and redraw themselves.
 */
import type { RunResponse, RunStatus } from '../common/protocol.js';
import { emptyClusterState, type ClusterState, type ClusterEvent } from '../../shared/state/cluster-state.js';

/** What the inspector shows. */
export type Selection =
  | { readonly type: 'node'; readonly id: string }
  | { readonly type: 'vm'; readonly id: string }
  | { readonly type: 'vnic'; readonly id: string }
  | { readonly type: 'wire'; readonly id: string }
  | { readonly type: 'event'; readonly event: ClusterEvent };

/** What changed. */
export type Topic = 'run' | 'status' | 'lab' | 'selection' | 'events' | 'cursor' | 'connection';

/** Streamed events kept for the event list and the sequence chart. */
export const TAIL_EVENTS = 3000;

/** The renderer's state. */
export class Store {
  run: RunResponse | null = null;
  status: RunStatus | null = null;
  lab: ClusterState = emptyClusterState();
  selection: Selection | null = null;
  /** Replay: the seq of the event the views show the lab right after. Live: null, the present. */
  cursor: number | null = null;
  /** Live: the latest streamed events, oldest first. */
  tail: ClusterEvent[] = [];
  /** Live: events the server did not stream because they came too fast. */
  skipped = 0;
  connected = false;
  private readonly listeners = new Map<Topic, Set<() => void>>();

  /** Calls `listener` after every change of `topic`. */
  on(topic: Topic, listener: () => void): void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
  }

  emit(topic: Topic): void {
    for (const listener of this.listeners.get(topic) ?? []) {
      try {
        listener();
      } catch (error) {
        console.error(`A view failed to update on ${topic}`, error);
      }
    }
  }

  get live(): boolean {
    return this.run?.mode === 'live';
  }

  /** Virtual time the views show: the run's clock (live) or the cursor event's time (replay). */
  get now(): number {
    return this.live ? Math.max(this.status?.vtime ?? 0, this.lab.vtime) : this.lab.vtime;
  }

  setRun(run: RunResponse): void {
    this.run = run;
    this.status = run.status;
    this.emit('run');
    this.emit('status');
  }

  setStatus(status: RunStatus): void {
    this.status = status;
    this.emit('status');
  }

  setLab(lab: ClusterState): void {
    this.lab = lab;
    this.emit('lab');
  }

  setConnected(connected: boolean): void {
    this.connected = connected;
    this.emit('connection');
  }

  addEvents(events: readonly ClusterEvent[], skipped: number): void {
    const last = this.tail[this.tail.length - 1]?.seq ?? -1;
    for (const e of events) if (e.seq > last) this.tail.push(e);
    if (this.tail.length > TAIL_EVENTS) this.tail.splice(0, this.tail.length - TAIL_EVENTS);
    this.skipped += skipped;
    this.emit('events');
  }

  select(selection: Selection | null): void {
    this.selection = selection;
    this.emit('selection');
  }

  setCursor(seq: number): void {
    this.cursor = seq;
    this.emit('cursor');
  }
}
