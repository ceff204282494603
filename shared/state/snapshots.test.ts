import { describe, expect, it } from 'vitest';
import { encode } from '../codec.js';
import { emptyClusterState } from './cluster-state.js';
import { applyEvent } from './fold.js';
import { toClusterEvent } from './recorded.js';
import { decodeLabSnapshot, encodeLabSnapshot, LAB_STATE_VERSION } from './snapshots.js';
import { syntheticEvents } from './testing.js';
import { Timeline } from './timeline.js';

describe('lab snapshots', () => {
  it('lab snapshot gives back the very state it stored, every kind the fold reads included', () => {
    const next = syntheticEvents(3);
    const state = emptyClusterState();
    for (let seq = 0; seq < 20_000; seq++) applyEvent(state, next(seq, seq * 1000));
    expect(decodeLabSnapshot(encodeLabSnapshot(state))).toEqual(state);
  });

  it('lab snapshot of another fold version, or unreadable, is not used', () => {
    expect(decodeLabSnapshot(encode({ version: LAB_STATE_VERSION + 1, state: emptyClusterState() }))).toBeNull();
    expect(decodeLabSnapshot(new Uint8Array([0xc1]))).toBeNull();
  });

  it('lab snapshots restore a timeline that seeks like one that folded every event', () => {
    const next = syntheticEvents(5);
    const recorded = Array.from({ length: 5_500 }, (_, seq) => {
      const e = next(seq, seq * 700);
      return { seq, vtime: e.vtime, node: e.node, kind: e.kind, cause: e.cause, payload: encode(e.payload), volatile: null };
    });
    const folded = new Timeline(1000);
    const stored: Uint8Array[] = [];
    const lab = emptyClusterState();
    for (const e of recorded) {
      folded.append(toClusterEvent(e));
      applyEvent(lab, toClusterEvent(e));
      if ((e.seq + 1) % 1000 === 0) stored.push(encodeLabSnapshot(lab));
    }
    const read: number[] = [];
    const restored = Timeline.restore(stored.length, (i) => (read.push(i), decodeLabSnapshot(stored[i]!)!), 1000);
    // Only the last copy is read until a seek needs another.
    expect(read).toEqual([4]);
    expect(restored.length).toBe(5_000);
    for (const e of recorded.slice(5_000)) restored.append(toClusterEvent(e));
    const range = (from: number, to: number) => recorded.slice(from, to).map(toClusterEvent);
    for (const at of [-1, 0, 999, 1000, 2345, 4999, 5000, 5499]) expect(restored.stateAt(at, range)).toEqual(folded.stateAt(at, range));
    expect(read.sort()).toEqual([0, 1, 4]);
  });
});
