import { describe, expect, it } from 'vitest';
import { PEER_MAC, PcieBench, numberedFrame, seqOf, testVm, testVnic } from './testing.js';

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** A bench with two DPUs and one VM of one vNIC in `mode` on the first, booted. */
function twoDpus(mode: 'uptv2' | 'mux' | 'emulated' = 'uptv2'): { bench: PcieBench; id: string; mac: string } {
  const bench = new PcieBench({ dpus: ['dpu-a', 'dpu-b'], vfCount: 4 });
  const vnic = testVnic(1, mode);
  bench.addVnic(testVm('vm-1', [vnic]), vnic);
  bench.boot();
  return { bench, id: vnic.id, mac: vnic.mac };
}

/**
 * The guest sends and receives numbered frames, `batch` at a time, letting the wire settle and
 * checking the guest's view against the serving device after each batch. Returns the mismatches.
 */
function traffic(bench: PcieBench, id: string, mac: string, from: number, to: number, batch = 25): string[] {
  const mismatches: string[] = [];
  for (let n = from; n < to; n += batch) {
    for (let i = n; i < Math.min(n + batch, to); i++) {
      bench.transmit(id, numberedFrame(mac, PEER_MAC, i));
      bench.deliver(id, numberedFrame(PEER_MAC, mac, i));
    }
    bench.run();
    mismatches.push(...bench.mismatches(id));
  }
  return mismatches;
}

const sentSeqs = (bench: PcieBench, dpu?: string): number[] => bench.fromVnic.filter((f) => dpu === undefined || f.dpu === dpu).map((f) => seqOf(f.frame));
const rxSeqs = (bench: PcieBench, id: string): number[] => bench.toGuest.get(id)!.map(seqOf);

describe('HostVnic failover', () => {
  it('HostVnic fails over from a dead DPU to a VF of the other DPU: views stay equal, only frames in flight at the kill are lost', () => {
    const { bench, id, mac } = twoDpus();
    const vnic = bench.vnic(id);
    expect(vnic.inspect()).toMatchObject({ dpu: 'dpu-a', active: 'uptv2' });
    // Enough traffic for the rings to wrap (256 slots): generation bits have flipped.
    expect(traffic(bench, id, mac, 0, 300)).toEqual([]);

    // Frames on the wire when dpu-a dies: 10 to send (doorbells and descriptors on their way to it)
    // and 5 for the guest (written by its VF, on their way to the host: they still arrive).
    for (let i = 300; i < 310; i++) bench.transmit(id, numberedFrame(mac, PEER_MAC, i));
    for (let i = 300; i < 305; i++) bench.deliver(id, numberedFrame(PEER_MAC, mac, i));
    bench.kill('dpu-a');
    bench.run();
    // Until the host notices (three heartbeats), the guest keeps sending into the void.
    for (let i = 310; i < 313; i++) expect(bench.transmit(id, numberedFrame(mac, PEER_MAC, i)).outcome).toBe('sent');
    expect(vnic.inspect().shadow).toMatchObject({ outstandingTx: 13, problems: [] });

    const result = vnic.failover(bench.hostCtx, 'dpu-b');
    expect(result).toEqual({ lostTx: 13, mode: 'emulated', steps: [], settled: false });
    // Right away the rebuilt backend agrees with the guest, which lost no descriptor.
    expect(bench.mismatches(id)).toEqual([]);
    const ring = vnic.inspect().driver.txQueues[0]!.txRing;
    expect(ring.reclaimed).toEqual({ next: ring.next, gen: ring.gen });
    expect(bench.payloads('vnic.failover')).toEqual([{ vnic: id, vm: 'vm-1', from: 'dpu-a', to: 'dpu-b', lostTx: 13, mode: 'emulated' }]);

    // dpu-b binds a VF and takes the rebuilt state, as at boot.
    bench.run();
    expect(vnic.inspect()).toMatchObject({ dpu: 'dpu-b', active: 'uptv2', phase: 'steady', vf: 0, counters: { failovers: 1, lostTx: 13, violations: 0 } });
    expect(vnic.settled).toBe(true);
    expect(bench.endpointOf('dpu-b').modeOf(id)).toBe('uptv2');
    expect(bench.mismatches(id)).toEqual([]);
    expect(bench.payloads('vnic.mode').slice(-2)).toEqual([
      { vnic: id, vm: 'vm-1', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' },
      { vnic: id, vm: 'vm-1', requested: 'uptv2', active: 'uptv2', reason: null },
    ]);

    // Traffic resumes on the new VF, rings wrapping again.
    expect(traffic(bench, id, mac, 400, 700)).toEqual([]);
    expect(sentSeqs(bench, 'dpu-a')).toEqual(range(0, 300));
    expect(sentSeqs(bench, 'dpu-b')).toEqual(range(400, 700));
    expect(rxSeqs(bench, id)).toEqual([...range(0, 305), ...range(400, 700)]);
    // Device counters move with the state: 300 on dpu-a, the 13 lost (consumed by the rebuild), 300 on dpu-b.
    expect(bench.endpointOf('dpu-b').pool.byVnic(id)!.device.snapshot().counters.txFrames).toBe(613);
    expect(bench.payloads('vnic.checker.violation')).toEqual([]);
    expect(vnic.inspect().counters.drops['rx-no-buffer']).toBe(0);
  });

  it('HostVnic failing over from a DPU that is still alive drops what it sends afterwards and counts its unanswered frames as lost', () => {
    const { bench, id, mac } = twoDpus();
    const vnic = bench.vnic(id);
    expect(traffic(bench, id, mac, 0, 50)).toEqual([]);
    for (let i = 50; i < 60; i++) bench.transmit(id, numberedFrame(mac, PEER_MAC, i));
    // dpu-a takes the first four (doorbell and descriptor each) and sends their completions.
    for (let i = 0; i < 8; i++) bench.step();
    expect(vnic.failover(bench.hostCtx, 'dpu-b').lostTx).toBe(10);
    bench.run();
    // dpu-a forwarded what it took and still answers; the host no longer listens to it.
    expect(sentSeqs(bench, 'dpu-a')).toEqual(range(0, 60));
    expect(vnic.inspect().counters.drops['stale-dpu']).toBeGreaterThan(0);
    expect(vnic.inspect()).toMatchObject({ dpu: 'dpu-b', active: 'uptv2', counters: { violations: 0 } });
    expect(traffic(bench, id, mac, 100, 150)).toEqual([]);
    expect(sentSeqs(bench, 'dpu-b')).toEqual(range(100, 150));
  });

  it('HostVnic in MUX mode fails over with nothing lost: its backend never left the host', () => {
    const { bench, id, mac } = twoDpus('mux');
    const vnic = bench.vnic(id);
    expect(traffic(bench, id, mac, 0, 40)).toEqual([]);
    bench.kill('dpu-a');
    expect(vnic.failover(bench.hostCtx, 'dpu-b')).toEqual({ lostTx: 0, mode: 'mux', steps: [], settled: true });
    expect(traffic(bench, id, mac, 40, 80)).toEqual([]);
    expect(sentSeqs(bench, 'dpu-b')).toEqual(range(40, 80));
    expect(bench.fromVnic.every((f) => f.mode === 'mux')).toBe(true);
    expect(rxSeqs(bench, id)).toEqual(range(0, 80));
    // No second vnic.mode: the mode did not change.
    expect(bench.payloads('vnic.mode')).toHaveLength(1);
  });

  it('HostVnic failing over while its VF was being given back replays the trapped doorbells on the rebuilt backend', () => {
    const { bench, id, mac } = twoDpus();
    const vnic = bench.vnic(id);
    expect(traffic(bench, id, mac, 0, 20)).toEqual([]);
    for (let i = 20; i < 25; i++) bench.transmit(id, numberedFrame(mac, PEER_MAC, i));
    vnic.setRequested(bench.hostCtx, 'emulated');
    // Held while the VF is being given back.
    for (let i = 25; i < 28; i++) expect(bench.transmit(id, numberedFrame(mac, PEER_MAC, i)).outcome).toBe('held');
    bench.kill('dpu-a');
    const result = vnic.failover(bench.hostCtx, 'dpu-b');
    expect(result).toEqual({ lostTx: 5, mode: 'emulated', steps: ['emulation-tx', 'emulation-tx', 'emulation-tx'], settled: true });
    expect(bench.mismatches(id)).toEqual([]);
    bench.run();
    expect(sentSeqs(bench, 'dpu-b')).toEqual([25, 26, 27]);
    expect(vnic.inspect()).toMatchObject({ dpu: 'dpu-b', active: 'emulated', held: 0, counters: { violations: 0 } });
    expect(traffic(bench, id, mac, 30, 60)).toEqual([]);
  });

  it('HostVnic failing over while a bind was on its way binds again on the new DPU', () => {
    const bench = new PcieBench({ dpus: ['dpu-a', 'dpu-b'], vfCount: 4 });
    const spec = testVnic(1);
    const vnic = bench.addVnic(testVm('vm-1', [spec]), spec);
    vnic.boot(bench.hostCtx);
    bench.kill('dpu-a');
    expect(vnic.failover(bench.hostCtx, 'dpu-b')).toMatchObject({ lostTx: 0, mode: 'emulated', settled: false });
    bench.run();
    expect(vnic.inspect()).toMatchObject({ dpu: 'dpu-b', active: 'uptv2', phase: 'steady' });
    expect(traffic(bench, spec.id, spec.mac, 0, 30)).toEqual([]);
  });

  it('HostVnic rebuilt on the same DPU after it restarted gets a fresh VF there', () => {
    const { bench, id, mac } = twoDpus();
    const vnic = bench.vnic(id);
    expect(traffic(bench, id, mac, 0, 30)).toEqual([]);
    for (let i = 30; i < 34; i++) bench.transmit(id, numberedFrame(mac, PEER_MAC, i));
    bench.kill('dpu-a');
    bench.restart('dpu-a');
    expect(bench.endpointOf('dpu-a').pool.free()).toBe(4);
    const result = vnic.failover(bench.hostCtx, 'dpu-a');
    expect(result.lostTx).toBe(4);
    expect(bench.payloads('vnic.failover').at(-1)).toMatchObject({ from: 'dpu-a', to: 'dpu-a', lostTx: 4 });
    bench.run();
    expect(vnic.inspect()).toMatchObject({ dpu: 'dpu-a', active: 'uptv2', vf: 0, counters: { failovers: 1, violations: 0 } });
    expect(traffic(bench, id, mac, 40, 70)).toEqual([]);
    expect(sentSeqs(bench, 'dpu-a')).toEqual([...range(0, 30), ...range(40, 70)]);
  });
});
