import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/codec.js';
import { decodeVmotionDatagram, encodeVmotionDatagram, StateAssembly, stateParts, STATE_PART_BYTES } from './messages.js';
import { VmotionError } from './errors.js';

describe('vMotion messages', () => {
  it('round-trip through msgpack, a message and a pure acknowledgement', () => {
    const message = { mid: 'web-01/esx-01/1', seq: 7, ack: 3, body: { t: 'pages', round: 2, batch: 7, last: false, pages: 256 } } as const;
    expect(decodeVmotionDatagram(encodeVmotionDatagram(message))).toEqual(message);
    const ack = { mid: 'web-01/esx-01/1', seq: null, ack: 8, body: null };
    expect(decodeVmotionDatagram(encodeVmotionDatagram(ack))).toEqual(ack);
  });

  it('name the field that is wrong, and refuse bytes that are not msgpack', () => {
    expect(() => decodeVmotionDatagram(encode({ mid: 'm', seq: 0, ack: 0, body: { t: 'pages', round: -1, batch: 0, last: true, pages: 0 } }))).toThrow(/field body.round/);
    expect(() => decodeVmotionDatagram(encode({ mid: 'm', seq: 0, ack: 0, body: { t: 'teleport' } }))).toThrow(VmotionError);
    expect(() => decodeVmotionDatagram(encode({ mid: 'm', seq: 4, ack: 0, body: null }))).toThrow(/a sequence number without a body/);
    expect(() => decodeVmotionDatagram(new Uint8Array([0x81]))).toThrow(/is not msgpack/);
  });

  it('split a large state into parts that fit the underlay and put it back together in any order', () => {
    const state = { guest: new Uint8Array(5_000).fill(7), vnics: [{ vnic: 'web-01.eth0' }] };
    const parts = stateParts(state);
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
    assembly.add({ t: 'state', part: 0, parts: 3, data: new Uint8Array(1) });
    expect(() => assembly.add({ t: 'state', part: 1, parts: 2, data: new Uint8Array(1) })).toThrow(/earlier parts said 3/);
  });
});
