import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/codec.js';
import { VfError } from './errors.js';
import { VfPool } from './vf-pool.js';
import { vfTestContext } from './testing.js';

describe('VfPool', () => {
  it('VfPool hands out the lowest free function and reuses a released one first', () => {
    const pool = new VfPool(4);
    expect(pool.size).toBe(4);
    const a = pool.allocate('vm-a/vnic0', '00:50:56:80:00:01')!;
    const b = pool.allocate('vm-b/vnic0', '00:50:56:80:00:02')!;
    const c = pool.allocate('vm-c/vnic0', '00:50:56:80:00:03')!;
    expect([a.index, b.index, c.index]).toEqual([0, 1, 2]);
    expect(pool.release(b)).toBe(true);
    expect(pool.release(b)).toBe(false);
    expect(pool.allocate('vm-d/vnic0', '00:50:56:80:00:04')!.index).toBe(1);
    expect(pool.free()).toBe(1);
  });

  it('VfPool gives a vNIC the function it already has, and null when every function is taken', () => {
    const pool = new VfPool(2);
    const first = pool.allocate('vm-a/vnic0', '00:50:56:80:00:01');
    expect(pool.allocate('vm-a/vnic0', '00:50:56:80:00:01')).toBe(first);
    pool.allocate('vm-b/vnic0', '00:50:56:80:00:02');
    expect(pool.allocate('vm-c/vnic0', '00:50:56:80:00:03')).toBeNull();
    expect(pool.byVnic('vm-b/vnic0')!.index).toBe(1);
    expect(pool.byVnic('vm-c/vnic0')).toBeNull();
  });

  it('VfPool offers 16 functions unless told otherwise and refuses a negative count', () => {
    expect(new VfPool().size).toBe(16);
    expect(() => new VfPool(-1)).toThrow(VfError);
  });

  it('VfPool release returns a function to RUNNING with a blank device', () => {
    const { ctx } = vfTestContext();
    const pool = new VfPool(1);
    const vf = pool.allocate('vm-a/vnic0', '00:50:56:80:00:01')!;
    vf.request(ctx, 'STOP_COPY');
    pool.release(0);
    expect(vf.vnic).toBeNull();
    expect(vf.state).toBe('RUNNING');
    expect(vf.device.permanentMac).toBe('00:00:00:00:00:00');
  });

  it('VfPool inspect lists the bound functions as plain data', () => {
    const pool = new VfPool(3);
    pool.allocate('vm-a/vnic0', '00:50:56:80:00:01');
    const view = pool.inspect();
    expect(view.size).toBe(3);
    expect(view.free).toBe(2);
    expect(view.functions.map((f) => [f.vf, f.vnic, f.mac, f.state])).toEqual([[0, 'vm-a/vnic0', '00:50:56:80:00:01', 'RUNNING']]);
    expect(decode(encode(view))).toEqual(view);
  });
});
