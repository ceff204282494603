import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/codec.js';
import { decodeVmotionMessage, encodeVmotionMessage, StateAssembly, stateParts, STATE_PART_BYTES } from './messages.js';
import { VmotionError } from './errors.js';

describe('vMotion messages', () => {
  it('round-trip through msgpack', () => {
    const message = { t: 'pages', mid: 'web-01/esx-01/1', round: 2, seq: 7, last: false, pages: 256 } as const;
    expect(decodeVmotionMessage(encodeVmotionMessage(message))).toEqual(message);
  });

  it('name the field that is wrong, and refuse bytes that are not msgpack', () => {
    expect(() => decodeVmotionMessage(encode({ t: 'ack', mid: 'm', round: -1, seq: 0, pages: 0 }))).toThrow(/field round/);
    expect(() => decodeVmotionMessage(encode({ t: 'teleport', mid: 'm' }))).toThrow(VmotionError);
    expect(() => decodeVmotionMessage(new Uint8Array([0x81]))).toThrow(/is not msgpack/);
  });

  it('split a large state into parts that fit the underlay and put it back together in any order', () => {
    const state = { guest: new Uint8Array(5_000).fill(7), vnics: [{ vnic: 'web-01.eth0' }] };
    const parts = stateParts('m', state);
    expect(parts.length).toBeGreaterThan(4);
    for (const part of parts) expect(part.t === 'state' && part.data.length).toBeLessThanOrEqual(STATE_PART_BYTES);
    const assembly = new StateAssembly();
    const shuffled = [...parts.slice(1), parts[0]!];
    const done = shuffled.map((p) => assembly.add(p as Extract<typeof p, { t: 'state' }>));
    expect(done.at(-1)).toBe(true);
    expect(done.slice(0, -1).every((d) => !d)).toBe(true);
    expect(assembly.complete()).toEqual(state);
  });

  it('refuse parts whose count changes midway', () => {
    const assembly = new StateAssembly();
    assembly.add({ t: 'state', mid: 'm', part: 0, parts: 3, data: new Uint8Array(1) });
    expect(() => assembly.add({ t: 'state', mid: 'm', part: 1, parts: 2, data: new Uint8Array(1) })).toThrow(/earlier parts said 3/);
  });
});
