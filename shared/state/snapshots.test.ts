import { describe, expect, it } from 'vitest';
import { encode } from '../codec.js';
import { applyEvent, emptyLabState } from './lab-state.js';
import { decodeLabSnapshot, encodeLabSnapshot, foldEventOf, LAB_STATE_VERSION } from './snapshots.js';
import { syntheticEvents } from './testing.js';
import { Timeline } from './timeline.js';

describe('lab snapshots', () => {
  it('lab snapshot gives back the very state it stored, every kind the fold reads included', () => {
    const next = syntheticEvents(3);
    const state = emptyLabState();
    for (let seq = 0; seq < 20_000; seq++) applyEvent(state, next(seq, seq * 1000));
    expect(decodeLabSnapshot(encodeLabSnapshot(state))).toEqual(state);
  });

  it('lab fold reads the wire of a frame.tx without decoding the frame, and any other shape whole', () => {
    const event = (payload: unknown) => ({ seq: 0, vtime: 0, node: 'dpu-01a', kind: 'frame.tx', cause: null, payload: encode(payload), volatile: null });
    const frame = { wire: 'up-01a-a', dir: 'a>b', port: 'p0', channel: 'eth', len: 3, txStart: 1, arrival: 2, fate: 'delivered', bytes: new Uint8Array([1, 2, 3]) };
    expect(foldEventOf(event(frame)).payload).toEqual({ wire: 'up-01a-a' });
    expect(foldEventOf(event({ len: 3, wire: 'w' })).payload).toEqual({ len: 3, wire: 'w' });
    expect(foldEventOf(event({ wire: 'é-wire' })).payload).toEqual({ wire: 'é-wire' });
    expect(foldEventOf({ ...event(frame), kind: 'guest.arp.resolved' }).payload).toBeNull();
  });

  it('lab snapshot of another fold version, or unreadable, is not used', () => {
    expect(decodeLabSnapshot(encode({ version: LAB_STATE_VERSION + 1, state: emptyLabState() }))).toBeNull();
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
    const lab = emptyLabState();
    for (const e of recorded) {
      folded.append(foldEventOf(e));
      applyEvent(lab, foldEventOf(e));
      if ((e.seq + 1) % 1000 === 0) stored.push(encodeLabSnapshot(lab));
    }
    const read: number[] = [];
    const restored = Timeline.restore(stored.length, (i) => (read.push(i), decodeLabSnapshot(stored[i]!)!), 1000);
    // Only the last copy is read until a seek needs another.
    expect(read).toEqual([4]);
    expect(restored.length).toBe(5_000);
    for (const e of recorded.slice(5_000)) restored.append(foldEventOf(e));
    const range = (from: number, to: number) => recorded.slice(from, to).map(foldEventOf);
    for (const at of [-1, 0, 999, 1000, 2345, 4999, 5000, 5499]) expect(restored.stateAt(at, range)).toEqual(folded.stateAt(at, range));
    expect(read.sort()).toEqual([0, 1, 4]);
  });
});
