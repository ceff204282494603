import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/codec.js';
import { ipv6MulticastMac, solicitedNodeMulticast } from '../../../shared/net/ip.js';
import { encodeDma } from '../../pcie/messages.js';
import { HostVnic, vnicOfPcieMessage } from './host-vnic.js';
import type { TransmitResult } from './host-vnic.js';
import { TestContext } from '../../runtime/testing.js';
import { PEER_MAC, PcieBench, numberedFrame, seqOf, testVm, testVnic } from './testing.js';

/** A bench with one VM of one vNIC in `mode`, booted. */
function oneVnic(mode: 'uptv2' | 'mux' | 'emulated', options: { vfCount?: number; reservation?: number } = {}): { bench: PcieBench; id: string; mac: string } {
  const bench = new PcieBench({ vfCount: options.vfCount ?? 4 });
  const vnic = testVnic(1, mode);
  bench.addVnic(testVm('vm-1', [vnic], options.reservation === undefined ? {} : { memoryReservationMiB: options.reservation }), vnic);
  bench.boot();
  return { bench, id: vnic.id, mac: vnic.mac };
}

/**
 * Sends `count` frames each way in rounds of `batch`, letting the wire settle after each round and
 * checking the guest's view against the serving device then. Returns the sequence numbers seen.
 */
function exchange(bench: PcieBench, id: string, mac: string, count: number, batch: number, first = 0): { sent: number[]; received: number[]; mismatches: string[] } {
  const sent: number[] = [];
  const mismatches: string[] = [];
  for (let n = first; n < first + count; n += batch) {
    for (let i = n; i < Math.min(n + batch, first + count); i++) {
      const result = bench.transmit(id, numberedFrame(mac, PEER_MAC, i));
      if (result.outcome !== 'dropped') sent.push(i);
      if (bench.deliver(id, numberedFrame(PEER_MAC, mac, i))) sent.push(-1 - i);
    }
    bench.run();
    mismatches.push(...bench.mismatches(id));
  }
  return {
    sent,
    received: bench.fromVnic.filter((f) => f.vnic === id).map((f) => seqOf(f.frame)),
    mismatches,
  };
}

function rxSeqs(bench: PcieBench, id: string): number[] {
  return bench.toGuest.get(id)!.map(seqOf);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('HostVnic', () => {
  it('HostVnic binds a VF for UPTv2 and carries 1,000 frames each way once, in order, with the guest view equal to the VF', () => {
    const { bench, id, mac } = oneVnic('uptv2');
    expect(bench.vnic(id).mode).toBe('uptv2');
    expect(bench.payloads('vnic.mode')).toEqual([
      { vnic: id, vm: 'vm-1', requested: 'uptv2', active: 'emulated', reason: 'awaiting-vf' },
      { vnic: id, vm: 'vm-1', requested: 'uptv2', active: 'uptv2', reason: null },
    ]);
    expect(bench.endpoint.modeOf(id)).toBe('uptv2');
    expect(bench.mismatches(id)).toEqual([]);

    const { received, mismatches } = exchange(bench, id, mac, 1000, 50);
    expect(mismatches).toEqual([]);
    expect(received).toEqual(range(0, 1000));
    expect(rxSeqs(bench, id)).toEqual(range(0, 1000));
    expect(bench.fromVnic.every((f) => f.mode === 'uptv2')).toBe(true);
    // The rings wrapped several times (256 slots): generation bits flipped along the way.
    const vf = bench.endpoint.pool.byVnic(id)!.device.snapshot();
    expect(vf.counters.txFrames).toBe(1000);
    expect(vf.counters.rxFrames).toBe(1000);
    expect(bench.payloads('vnic.checker.violation')).toEqual([]);
    expect(bench.payloads('pcie.drop')).toEqual([]);
  });

  it('HostVnic runs a VM without a full memory reservation emulated and its frames still flow through the backend', () => {
    const { bench, id, mac } = oneVnic('uptv2', { reservation: 1024 });
    expect(bench.vnic(id).inspect()).toMatchObject({ active: 'emulated', reason: 'insufficient-memory-reservation', vf: null, serving: 'backend' });
    expect(bench.payloads('vnic.mode')).toEqual([{ vnic: id, vm: 'vm-1', requested: 'uptv2', active: 'emulated', reason: 'insufficient-memory-reservation' }]);
    expect(bench.endpoint.pool.free()).toBe(4);

    const { received, mismatches } = exchange(bench, id, mac, 300, 30);
    expect(mismatches).toEqual([]);
    expect(received).toEqual(range(0, 300));
    expect(rxSeqs(bench, id)).toEqual(range(0, 300));
    expect(bench.fromVnic.every((f) => f.mode === 'emulated')).toBe(true);
    expect(bench.vnic(id).inspect().backend.counters.rxFrames).toBe(300);
  });

  it('HostVnic runs the second UPTv2 vNIC emulated with no-free-vf when the DPU has a single VF', () => {
    const bench = new PcieBench({ vfCount: 1 });
    const a = testVnic(1);
    const b = testVnic(2);
    bench.addVnic(testVm('vm-1', [a]), a);
    bench.addVnic(testVm('vm-2', [b]), b);
    bench.boot();

    expect(bench.vnic(a.id).inspect()).toMatchObject({ active: 'uptv2', reason: null, vf: 0 });
    expect(bench.vnic(b.id).inspect()).toMatchObject({ active: 'emulated', reason: 'no-free-vf', vf: null });
    expect(bench.payloads('vnic.mode').filter((p) => p.vnic === b.id).at(-1)).toEqual({ vnic: b.id, vm: 'vm-2', requested: 'uptv2', active: 'emulated', reason: 'no-free-vf' });

    const first = exchange(bench, a.id, a.mac, 100, 20);
    const second = exchange(bench, b.id, b.mac, 100, 20);
    expect([...first.mismatches, ...second.mismatches]).toEqual([]);
    expect(first.received).toEqual(range(0, 100));
    expect(second.received).toEqual(range(0, 100));
    expect(rxSeqs(bench, b.id)).toEqual(range(0, 100));
    expect(bench.fromVnic.filter((f) => f.vnic === b.id).every((f) => f.mode === 'emulated')).toBe(true);
  });

  it('HostVnic carries frames in MUX mode through the host backend, tagged mux on the wire', () => {
    const { bench, id, mac } = oneVnic('mux');
    expect(bench.vnic(id).inspect()).toMatchObject({ active: 'mux', reason: null, serving: 'backend' });
    const { received, mismatches } = exchange(bench, id, mac, 200, 25);
    expect(mismatches).toEqual([]);
    expect(received).toEqual(range(0, 200));
    expect(rxSeqs(bench, id)).toEqual(range(0, 200));
    expect(bench.fromVnic.every((f) => f.mode === 'mux')).toBe(true);
    expect(bench.endpoint.modeOf(id)).toBe('mux');
  });

  it('HostVnic switches uptv2 to emulated and back with traffic in flight, keeping the views equal and losing no frame', () => {
    const { bench, id, mac } = oneVnic('uptv2');
    const vnic = bench.vnic(id);
    exchange(bench, id, mac, 100, 20);
    const accepted: number[] = [];
    const sent: number[] = [];
    let seq = 100;
    const burst = (n: number): void => {
      for (let i = 0; i < n; i++, seq++) {
        if (vnic.transmit(bench.hostCtx, numberedFrame(mac, PEER_MAC, seq)).outcome !== 'dropped') sent.push(seq);
        if (bench.deliver(id, numberedFrame(PEER_MAC, mac, seq))) accepted.push(seq);
      }
    };

    // Frames on the wire when the request comes (enough for the guest to repost RX buffers while
    // the VF is given back), more while it is given back.
    burst(30);
    vnic.setRequested(bench.hostCtx, 'emulated');
    expect(vnic.inspect().phase).toBe('unbinding');
    burst(5);
    expect(vnic.inspect().held).toBe(5);
    bench.step();
    bench.step();
    burst(5);
    bench.run();
    expect(vnic.inspect()).toMatchObject({ active: 'emulated', reason: null, phase: 'steady', vf: null, held: 0 });
    expect(bench.mismatches(id)).toEqual([]);
    expect(bench.endpoint.pool.free()).toBe(4);
    burst(10);
    bench.run();

    // And back to UPTv2, again with frames in flight while the VF is bound and loaded.
    vnic.setRequested(bench.hostCtx, 'uptv2');
    burst(5);
    bench.step();
    burst(5);
    // The DPU bound a VF and keeps the frames for the guest until the guest's state arrives.
    expect(bench.endpoint.inspect().vnics[0]).toMatchObject({ vnic: id, phase: 'awaiting-state', held: 5 });
    bench.step();
    burst(5);
    bench.run();
    expect(vnic.inspect()).toMatchObject({ active: 'uptv2', phase: 'steady', vf: 0 });
    expect(bench.mismatches(id)).toEqual([]);
    burst(10);
    bench.run();
    expect(bench.mismatches(id)).toEqual([]);

    const tx = bench.fromVnic.map((f) => seqOf(f.frame));
    expect(tx).toEqual([...range(0, 100), ...sent]);
    expect(sent).toEqual(range(100, seq));
    expect(rxSeqs(bench, id)).toEqual([...range(0, 100), ...accepted]);
    expect(accepted).toEqual(range(100, seq));
    const ring = vnic.inspect().driver.txQueues[0]!.txRing;
    expect(ring.reclaimed).toEqual({ next: ring.next, gen: ring.gen });
    expect(vnic.inspect().counters.violations).toBe(0);
    expect(bench.payloads('vnic.checker.violation')).toEqual([]);
    expect(bench.payloads('vnic.mode').map((p) => `${String(p.requested)}/${String(p.active)}/${String(p.reason)}`)).toEqual([
      'uptv2/emulated/awaiting-vf',
      'uptv2/uptv2/null',
      'emulated/uptv2/null',
      'emulated/emulated/null',
      'uptv2/emulated/awaiting-vf',
      'uptv2/uptv2/null',
    ]);
  });

  it('HostVnic acknowledges every frame sent before a switch: the guest has no TX descriptor outstanding afterwards', () => {
    const { bench, id, mac } = oneVnic('uptv2');
    const vnic = bench.vnic(id);
    for (let i = 0; i < 40; i++) vnic.transmit(bench.hostCtx, numberedFrame(mac, PEER_MAC, i));
    vnic.setRequested(bench.hostCtx, 'emulated');
    bench.run();
    const ring = vnic.inspect().driver.txQueues[0]!.txRing;
    expect(ring.reclaimed).toEqual({ next: ring.next, gen: ring.gen });
    expect(bench.fromVnic.map((f) => seqOf(f.frame))).toEqual(range(0, 40));
  });

  it('HostVnic applies a request made while a bind is on its way once the DPU answers, giving the unused VF back', () => {
    const bench = new PcieBench({ vfCount: 2 });
    const spec = testVnic(1, 'uptv2');
    const vnic = bench.addVnic(testVm('vm-1', [spec]), spec);
    vnic.boot(bench.hostCtx);
    vnic.setRequested(bench.hostCtx, 'mux');
    bench.run();
    expect(vnic.inspect()).toMatchObject({ active: 'mux', reason: null, phase: 'steady', vf: null });
    expect(bench.endpoint.pool.free()).toBe(2);
    const { received, mismatches } = exchange(bench, spec.id, spec.mac, 50, 10);
    expect(mismatches).toEqual([]);
    expect(received).toEqual(range(0, 50));
  });

  it('HostVnic asked back for UPTv2 while its VF is being given back ends on a VF again, views equal, nothing lost', () => {
    const { bench, id, mac } = oneVnic('uptv2');
    const vnic = bench.vnic(id);
    for (let i = 0; i < 20; i++) vnic.transmit(bench.hostCtx, numberedFrame(mac, PEER_MAC, i));
    vnic.setRequested(bench.hostCtx, 'emulated');
    vnic.setRequested(bench.hostCtx, 'uptv2');
    for (let i = 20; i < 40; i++) vnic.transmit(bench.hostCtx, numberedFrame(mac, PEER_MAC, i));
    bench.run();
    expect(vnic.inspect()).toMatchObject({ requested: 'uptv2', active: 'uptv2', phase: 'steady' });
    expect(bench.mismatches(id)).toEqual([]);
    expect(bench.fromVnic.map((f) => seqOf(f.frame))).toEqual(range(0, 40));
    expect(bench.payloads('vnic.checker.violation')).toEqual([]);
  });

  it('HostVnic drops and counts a malformed dma message and goes on', () => {
    const { bench, id, mac } = oneVnic('uptv2');
    const vnic = bench.vnic(id);
    // A good vnic field with an index outside any ring: routed to the vNIC, refused by the schema.
    const bad = encode({ op: 'rx', vnic: id, mode: 'uptv2', queue: 0, index: 99_999, gen: 1, frame: new Uint8Array(60) });
    expect(vnicOfPcieMessage('dma', bad)).toBe(id);
    expect(vnic.onPcie(bench.hostCtx, 'dma', bad)).toEqual({ frames: [], steps: [] });
    expect(vnic.onPcie(bench.hostCtx, 'dma', new Uint8Array([0xc1, 0xff]))).toEqual({ frames: [], steps: [] });
    expect(vnic.inspect().counters.drops.malformed).toBe(2);
    expect(bench.payloads('pcie.drop')).toHaveLength(2);
    expect(bench.payloads('pcie.drop')[0]).toMatchObject({ side: 'host', vnic: id, channel: 'dma', reason: 'malformed' });
    // Garbage names no vNIC: the host core cannot route it.
    expect(vnicOfPcieMessage('dma', new Uint8Array([0xc1]))).toBeNull();
    const { received, mismatches } = exchange(bench, id, mac, 20, 10);
    expect(mismatches).toEqual([]);
    expect(received).toEqual(range(0, 20));
  });

  it('HostVnic refuses an RX completion out of order without losing track of its rings', () => {
    const { bench, id, mac } = oneVnic('uptv2');
    const vnic = bench.vnic(id);
    const wrong = encodeDma({ op: 'rx', vnic: id, mode: 'uptv2', queue: 0, index: 7, gen: 1, frame: numberedFrame(PEER_MAC, mac, 0) });
    expect(vnic.onPcie(bench.hostCtx, 'dma', wrong).frames).toEqual([]);
    expect(vnic.inspect().counters.drops['rejected-by-driver']).toBe(1);
    expect(exchange(bench, id, mac, 10, 10).mismatches).toEqual([]);
  });

  it('HostVnic reports the host cost steps of each mode', () => {
    const steps = (mode: 'uptv2' | 'mux' | 'emulated'): { tx: TransmitResult; rx: string[] } => {
      const { bench, id, mac } = oneVnic(mode);
      const tx = bench.transmit(id, numberedFrame(mac, PEER_MAC, 1));
      bench.run();
      bench.hostRxSteps.length = 0;
      bench.deliver(id, numberedFrame(PEER_MAC, mac, 2));
      bench.run();
      return { tx, rx: bench.hostRxSteps.flat() };
    };
    expect(steps('uptv2')).toEqual({ tx: { outcome: 'sent', steps: ['guest-driver-tx', 'doorbell'] }, rx: ['guest-driver-rx'] });
    expect(steps('mux')).toEqual({ tx: { outcome: 'sent', steps: ['guest-driver-tx', 'mux-tag'] }, rx: ['mux-tag', 'guest-driver-rx'] });
    expect(steps('emulated')).toEqual({ tx: { outcome: 'sent', steps: ['guest-driver-tx', 'emulation-tx'] }, rx: ['emulation-rx', 'guest-driver-rx'] });
  });

  it('HostVnic on a host without DPUs hands frames back to be switched in software and takes them from it', () => {
    const ctx = new TestContext('host-a', {
      onSend: () => {
        throw new Error('Nothing crosses pcie on a host without DPUs');
      },
    });
    const events = ctx.events;
    const spec = testVnic(1, 'uptv2');
    const vnic = new HostVnic({ vm: testVm('vm-1', [spec]), vnic: spec, dpu: null, requested: 'uptv2' });
    vnic.boot(ctx);
    expect(events.filter((e) => e.kind === 'vnic.mode').map((e) => e.payload)).toEqual([{ vnic: spec.id, vm: 'vm-1', requested: 'uptv2', active: 'no-dpu', reason: 'no-dpu' }]);
    const frame = numberedFrame(spec.mac, PEER_MAC, 5);
    const tx = vnic.transmit(ctx, frame);
    expect(tx).toEqual({ outcome: 'local', steps: ['guest-driver-tx', 'emulation-tx'], frame });
    const rx = vnic.receiveLocal(ctx, numberedFrame(PEER_MAC, spec.mac, 6));
    expect(rx.steps).toEqual(['emulation-rx', 'guest-driver-rx']);
    expect(rx.frames.map(seqOf)).toEqual([6]);
    vnic.setRequested(ctx, 'emulated');
    expect(events.filter((e) => e.kind === 'vnic.mode').at(-1)?.payload).toEqual({ vnic: spec.id, vm: 'vm-1', requested: 'emulated', active: 'no-dpu', reason: null });
  });

  it('HostVnic drops and counts a frame when the guest TX ring is full', () => {
    const { bench, id, mac } = oneVnic('uptv2');
    const results = range(0, 300).map((i) => bench.transmit(id, numberedFrame(mac, PEER_MAC, i)).outcome);
    expect(results.filter((r) => r === 'sent')).toHaveLength(255);
    expect(results.filter((r) => r === 'dropped')).toHaveLength(45);
    expect(bench.vnic(id).inspect().counters.drops['tx-ring-full']).toBe(45);
    bench.run();
    expect(bench.fromVnic.map((f) => seqOf(f.frame))).toEqual(range(0, 255));
    expect(bench.transmit(id, numberedFrame(mac, PEER_MAC, 999)).outcome).toBe('sent');
  });

  it('HostVnic lets neighbour solicitations to its solicited-node group through, in UPTv2 and emulated alike', () => {
    for (const mode of ['uptv2', 'emulated'] as const) {
      const { bench, id } = oneVnic(mode);
      const group = ipv6MulticastMac(solicitedNodeMulticast('2001:db8:1::11'));
      expect(bench.deliver(id, numberedFrame(PEER_MAC, group, 1))).toBe(true);
      expect(bench.deliver(id, numberedFrame(PEER_MAC, ipv6MulticastMac('ff02::1'), 2))).toBe(true);
      // A group the guest never joined is filtered by the device.
      const other = ipv6MulticastMac(solicitedNodeMulticast('2001:db8:1::99'));
      const otherAccepted = bench.deliver(id, numberedFrame(PEER_MAC, other, 3));
      bench.run();
      expect(rxSeqs(bench, id)).toEqual([1, 2]);
      if (mode === 'uptv2') {
        expect(otherAccepted).toBe(false);
        expect(bench.endpoint.inspect().counters.drops['rx-filtered']).toBe(1);
      } else {
        expect(bench.vnic(id).inspect().counters.drops['rx-filtered']).toBe(1);
      }
    }
  });
});
