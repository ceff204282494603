import { describe, expect, it } from 'vitest';
import { encode } from '../codec.js';
import type { RecordedEvent } from '../events.js';
import { frameTxWire, toClusterEvent } from './recorded.js';

function recorded(kind: string, payload: unknown): RecordedEvent {
  return { seq: 0, vtime: 0, node: 'dpu-01a', kind, cause: null, payload: encode(payload), volatile: null };
}

describe('recorded events for the fold', () => {
  it('recorded frame.tx gives the fold its wire without decoding the frame', () => {
    const frame = { wire: 'up-01a-a', dir: 'a>b', port: 'p0', channel: 'eth', len: 3, txStart: 1, arrival: 2, fate: 'delivered', bytes: new Uint8Array([1, 2, 3]) };
    expect(frameTxWire(encode(frame))).toBe('up-01a-a');
    expect(toClusterEvent(recorded('frame.tx', frame)).payload).toEqual({ wire: 'up-01a-a' });
    // A long or non-ASCII wire id, and a map of more than 15 fields.
    const long = 'w'.repeat(40);
    expect(frameTxWire(encode({ wire: long, a: 1 }))).toBe(long);
    expect(frameTxWire(encode({ wire: 'câble-1' }))).toBe('câble-1');
    expect(frameTxWire(encode({ wire: 'x', ...Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}`, i])) }))).toBe('x');
  });

  it('recorded frame.tx laid out otherwise is decoded whole', () => {
    const other = { dir: 'a>b', wire: 'isl-ab', len: 60 };
    expect(frameTxWire(encode(other))).toBeNull();
    expect(toClusterEvent(recorded('frame.tx', other)).payload).toEqual(other);
    expect(frameTxWire(new Uint8Array([0x81, 0xa4, 0x77, 0x69]))).toBeNull();
  });

  it('recorded events of kinds the fold does not read keep no payload, and a payload that does not decode folds as none', () => {
    expect(toClusterEvent(recorded('ipfix.export', { sequence: 1 })).payload).toBeNull();
    expect(toClusterEvent(recorded('dpu.role', { dpu: 'dpu-02b', role: 'active', reason: 'crash' })).payload).toEqual({ dpu: 'dpu-02b', role: 'active', reason: 'crash' });
    const broken: RecordedEvent = { seq: 0, vtime: 0, node: 'esx-02', kind: 'dpu.role', cause: null, payload: new Uint8Array([0x82, 0xa3, 0x64]), volatile: null };
    expect(toClusterEvent(broken).payload).toBeNull();
  });
});
