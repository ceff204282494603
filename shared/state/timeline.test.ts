import { describe, expect, it } from 'vitest';
import { emptyClusterState, type ClusterEvent } from './cluster-state.js';
import { applyEvent } from './fold.js';
import { seededRandom, syntheticEvents } from './testing.js';
import { Timeline, TimelineError, type EventRange } from './timeline.js';

function* slice(events: readonly ClusterEvent[], from: number, to: number): Generator<ClusterEvent> {
  for (let i = from; i < to; i++) yield events[i]!;
}

function makeEvents(count: number, seed: number): ClusterEvent[] {
  const next = syntheticEvents(seed);
  const random = seededRandom(seed + 1);
  const events: ClusterEvent[] = new Array<ClusterEvent>(count);
  let vtime = 0;
  for (let seq = 0; seq < count; seq++) {
    vtime += Math.floor(random() * 4000);
    events[seq] = next(seq, vtime);
  }
  return events;
}

describe('Timeline', () => {
  it('timeline seek to any of a million events equals a fold from zero to that event', () => {
    const count = 1_000_000;
    const events = makeEvents(count, 7);
    const timeline = new Timeline(1000);
    for (const e of events) timeline.append(e);
    const range: EventRange = (from, to) => slice(events, from, to);

    const random = seededRandom(99);
    const targets = new Set([-1, 0, 998, 999, 1000, 1001, count - 2, count - 1]);
    while (targets.size < 40) targets.add(Math.floor(random() * count));
    // Seeks in random order (a snapshot must not be changed by an earlier seek), compared with a
    // reference folded from zero without any snapshot.
    const order = [...targets].sort(() => random() - 0.5);
    const expected = new Map<number, string>();
    const reference = emptyClusterState();
    let folded = -1;
    for (const k of [...targets].sort((a, b) => a - b)) {
      while (folded < k) applyEvent(reference, events[++folded]!);
      expected.set(k, JSON.stringify(reference));
    }
    for (const k of order) {
      const state = timeline.stateAt(k, range);
      expect(state.seq).toBe(k);
      expect(JSON.parse(JSON.stringify(state))).toEqual(JSON.parse(expected.get(k)!));
    }
    expect(timeline.length).toBe(count);
  }, 120_000);

  it('timeline seek returns a copy: changing it changes neither the timeline nor a later seek', () => {
    const events = makeEvents(5000, 3);
    const timeline = new Timeline(100);
    for (const e of events) timeline.append(e);
    const range: EventRange = (from, to) => slice(events, from, to);
    const first = timeline.stateAt(2500, range);
    const before = JSON.stringify(first);
    first.nodes['intruder'] = { up: true, incarnation: 9, startedAt: 0, exitedAt: null, exit: null };
    first.kinds['frame.tx'] = -1;
    expect(JSON.stringify(timeline.stateAt(2500, range))).toBe(before);
    const latest = timeline.stateAt(4999, range);
    latest.events = -5;
    expect(timeline.latest().events).toBe(5000);
  });

  it('timeline refuses an event out of order and a seek past its end', () => {
    const timeline = new Timeline(10);
    const events = makeEvents(20, 1);
    timeline.append(events[0]!);
    expect(() => timeline.append(events[2]!)).toThrow(TimelineError);
    expect(() => timeline.stateAt(5, (from, to) => slice(events, from, to))).toThrow(/holds events 0 to 0/);
  });

  it('timeline seek reports events missing from the source instead of a wrong state', () => {
    const events = makeEvents(50, 2);
    const timeline = new Timeline(10);
    for (const e of events) timeline.append(e);
    expect(() => timeline.stateAt(25, (from, to) => slice(events, from, Math.min(to, 22)))).toThrow(/stop at 21/);
  });
});
