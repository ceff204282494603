import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/codec.js';
import { HostVnic } from './host-vnic.js';
import type { VnicMigrationState } from './host-vnic.js';
import { PEER_MAC, PcieBench, numberedFrame, seqOf, testVm, testVnic } from './testing.js';

/** A booted bench with one UPTv2 vNIC that has carried a few frames each way on its VF. */
function passthroughVnic(vfCount = 4): { bench: PcieBench; vnic: HostVnic; mac: string } {
  const bench = new PcieBench({ vfCount });
  const spec = testVnic(1, 'uptv2');
  const vnic = bench.addVnic(testVm('vm-1', [spec]), spec);
  bench.boot();
  for (let seq = 0; seq < 20; seq++) {
    vnic.transmit(bench.hostCtx, numberedFrame(spec.mac, PEER_MAC, seq));
    bench.deliver(spec.id, numberedFrame(PEER_MAC, spec.mac, seq));
  }
  bench.run();
  return { bench, vnic, mac: spec.mac };
}

describe('HostVnic on vMotion', () => {
  it('leaves its VF for the backend while migrating (vf-to-emulated), with the guest view equal to the device', () => {
    const { bench, vnic } = passthroughVnic();
    expect(vnic.mode).toBe('uptv2');
    vnic.setMigrating(bench.hostCtx, true);
    expect(vnic.inBackend).toBe(false);
    bench.run();
    expect(vnic.inBackend).toBe(true);
    expect(vnic.inspect()).toMatchObject({ active: 'emulated', reason: 'vmotion-in-progress', vf: null });
    const handoffs = bench.payloads('vnic.handoff');
    expect(handoffs.map((h) => [h.direction, h.cause])).toEqual([
      ['emulated-to-vf', 'mode'],
      ['vf-to-emulated', 'vmotion'],
    ]);
    const registers = handoffs[1]!.registers as { mac: string; rxQueues: unknown[]; interrupts: unknown };
    expect(registers.mac).toBe(vnic.inspect().mac);
    expect(registers.rxQueues.length).toBeGreaterThan(0);
    expect(bench.payloads('vnic.checker.violation')).toEqual([]);
  });

  it('refuses to export while a VF serves it', () => {
    const { vnic } = passthroughVnic();
    expect(() => vnic.exportMigration()).toThrow(/cannot migrate while a VF serves it/);
  });

  it('arrives on another host from its exported state and regains a VF there (emulated-to-vf), frames continuing in order', () => {
    const source = passthroughVnic();
    source.vnic.setMigrating(source.bench.hostCtx, true);
    source.bench.run();
    const state = decode(encode(source.vnic.exportMigration())) as VnicMigrationState;

    const destination = new PcieBench({ vfCount: 4 });
    const spec = testVnic(1, 'uptv2');
    const vm = testVm('vm-1', [spec]);
    const arrived = HostVnic.arrive(destination.hostCtx, { vm, vnic: spec, dpu: destination.dpu, requested: 'uptv2' }, state);
    destination.vnics.set(spec.id, arrived);
    destination.toGuest.set(spec.id, []);
    expect(arrived.inspect()).toMatchObject({ active: 'emulated', reason: 'vmotion-in-progress' });
    expect(arrived.inspect().driver).toEqual(source.vnic.inspect().driver);
    arrived.setMigrating(destination.hostCtx, false);
    destination.run();
    expect(arrived.inspect()).toMatchObject({ active: 'uptv2', reason: null, vf: 0 });
    expect(destination.payloads('vnic.handoff').map((h) => [h.direction, h.cause])).toEqual([['emulated-to-vf', 'mode']]);
    for (let seq = 20; seq < 40; seq++) {
      arrived.transmit(destination.hostCtx, numberedFrame(spec.mac, PEER_MAC, seq));
      destination.deliver(spec.id, numberedFrame(PEER_MAC, spec.mac, seq));
    }
    destination.run();
    expect(destination.fromVnic.map((f) => seqOf(f.frame))).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));
    expect(destination.toGuest.get(spec.id)!.map(seqOf)).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));
    expect(destination.mismatches(spec.id)).toEqual([]);
    expect(destination.payloads('vnic.checker.violation')).toEqual([]);
    expect(arrived.inspect().counters.txFrames).toBe(40);
  });

  it('stays emulated with no-free-vf when the destination DPU has no VF left', () => {
    const source = passthroughVnic();
    source.vnic.setMigrating(source.bench.hostCtx, true);
    source.bench.run();
    const destination = new PcieBench({ vfCount: 0 });
    const spec = testVnic(1, 'uptv2');
    const arrived = HostVnic.arrive(destination.hostCtx, { vm: testVm('vm-1', [spec]), vnic: spec, dpu: destination.dpu, requested: 'uptv2' }, source.vnic.exportMigration());
    destination.vnics.set(spec.id, arrived);
    destination.toGuest.set(spec.id, []);
    arrived.setMigrating(destination.hostCtx, false);
    destination.run();
    expect(arrived.inspect()).toMatchObject({ active: 'emulated', reason: 'no-free-vf', phase: 'steady' });
  });

  it('records a checker violation when the state arrives under another MAC', () => {
    const source = passthroughVnic();
    source.vnic.setMigrating(source.bench.hostCtx, true);
    source.bench.run();
    const state = { ...source.vnic.exportMigration(), mac: '02:00:00:00:00:99' };
    const destination = new PcieBench();
    const spec = testVnic(1, 'uptv2');
    HostVnic.arrive(destination.hostCtx, { vm: testVm('vm-1', [spec]), vnic: spec, dpu: destination.dpu, requested: 'uptv2' }, state);
    const violations = destination.payloads('vnic.checker.violation');
    expect(violations).toHaveLength(1);
    expect(String((violations[0]!.problems as string[])[0])).toContain('The MAC moved as 02:00:00:00:00:99');
  });

  it('a disconnected vNIC (refused firewall state) sends nothing and says why', () => {
    const { bench, vnic, mac } = passthroughVnic();
    vnic.setMigrating(bench.hostCtx, true);
    bench.run();
    const before = bench.fromVnic.length;
    vnic.disconnect(bench.hostCtx);
    expect(vnic.transmit(bench.hostCtx, numberedFrame(mac, PEER_MAC, 99))).toMatchObject({ outcome: 'dropped', reason: 'disconnected' });
    bench.run();
    expect(bench.fromVnic.length).toBe(before);
    expect(vnic.inspect()).toMatchObject({ reason: 'dfw-import-refused' });
  });
});
