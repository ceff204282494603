import { describe, expect, test } from 'vitest';
import { tcp } from '../vds/dfw/testing.js';
import { FlowOffload, offloadKey } from './offload.js';

const A = { mac: '02:00:00:00:00:0a', ip: '10.0.1.11' };
const B = { mac: '02:00:00:00:00:0b', ip: '10.0.1.12' };
const C = { mac: '02:00:00:00:00:0c', ip: '10.0.1.13' };

describe('FlowOffload', () => {
  test('tells flows apart by vNIC, direction and 5-tuple; a non-IP frame has no key', () => {
    const frame = tcp(A, B, [40000, 80], { ack: true }, 1, 1);
    const out = offloadKey(frame, 'a.eth0', 'out')!;
    expect(out.id).not.toBe(offloadKey(frame, 'a.eth0', 'in')!.id);
    expect(out.id).not.toBe(offloadKey(frame, 'b.eth0', 'out')!.id);
    expect(out.id).not.toBe(offloadKey(tcp(A, B, [40001, 80], { ack: true }, 1, 1), 'a.eth0', 'out')!.id);
    expect(offloadKey(new Uint8Array(60), 'a.eth0', 'out')).toBeNull();
  });

  test('a vNIC leaving removes its flows and the flows towards its addresses, and counts each', () => {
    const offload = new FlowOffload();
    const keys = [offloadKey(tcp(A, B, [1, 2], { ack: true }, 1, 1), 'a.eth0', 'out')!, offloadKey(tcp(C, A, [3, 4], { ack: true }, 1, 1), 'c.eth0', 'out')!, offloadKey(tcp(C, B, [5, 6], { ack: true }, 1, 1), 'c.eth0', 'out')!];
    for (const k of keys) offload.install(k);
    expect(offload.invalidateVnic('a.eth0', [A.ip])).toBe(2);
    expect(keys.map((k) => offload.has(k))).toEqual([false, false, true]);
    expect(offload.invalidateAll()).toBe(1);
    expect(offload.report()).toMatchObject({ installs: 3, invalidations: 3, installed: 0 });
  });

  test("a vNIC's frames moving to another port (a mode change) drop its flows, and only its own", () => {
    const offload = new FlowOffload();
    const mine = offloadKey(tcp(A, B, [1, 2], { ack: true }, 1, 1), 'a.eth0', 'out')!;
    const other = offloadKey(tcp(C, B, [5, 6], { ack: true }, 1, 1), 'c.eth0', 'out')!;
    offload.usePort('a.eth0', 'uptv2');
    offload.usePort('c.eth0', 'uptv2');
    offload.install(mine);
    offload.install(other);
    offload.usePort('a.eth0', 'uptv2');
    expect(offload.has(mine)).toBe(true);
    offload.usePort('a.eth0', 'mux');
    expect([offload.has(mine), offload.has(other)]).toEqual([false, true]);
    expect(offload.report()).toMatchObject({ invalidations: 1, installed: 1 });
  });

  test('reports packets and CPU per path and the hit ratio', () => {
    const offload = new FlowOffload();
    expect(offload.report().hitRatio).toBe(0);
    offload.count(false, 900);
    for (let i = 0; i < 3; i++) offload.count(true, 0);
    expect(offload.report()).toMatchObject({ slowPathPackets: 1, slowPathCpuNs: 900, hardwarePackets: 3, hardwareCpuNs: 0, hitRatio: 0.75 });
  });
});
