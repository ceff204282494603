import { describe, expect, it } from 'vitest';
import { buildUdpFrame } from '../../../shared/net/builders.js';
import { Rig } from '../../../shared/vmxnet3/testing.js';
import { txprodRegister } from '../../../shared/vmxnet3/registers.js';
import { decodeDma, encodeDma } from '../../pcie/messages.js';
import type { DmaMessage } from '../../pcie/messages.js';
import { TestContext } from '../../runtime/testing.js';
import { VfEndpoint } from './vf-endpoint.js';
import { decodeMailbox, encodeDoorbell, encodeMailbox } from '../../pcie/messages.js';
import type { MailboxMessage } from '../../pcie/messages.js';

const MAC = '00:50:56:aa:00:01';
const PEER = '00:50:56:bb:00:01';

interface Recorded {
  ctx: TestContext;
  sent: TestContext['sent'];
  events: TestContext['events'];
  dma(): DmaMessage[];
  mailbox(): MailboxMessage[];
}

function dpuContext(): Recorded {
  const ctx = new TestContext('dpu-a');
  const { sent, events } = ctx;
  return {
    ctx,
    sent,
    events,
    dma: () => sent.filter((s) => s.channel === 'dma').map((s) => decodeDma(s.bytes)),
    mailbox: () => sent.filter((s) => s.channel === 'mailbox').map((s) => decodeMailbox(s.bytes)),
  };
}

function frameTo(dst: string, n = 0): Uint8Array {
  return buildUdpFrame({ srcMac: PEER, dstMac: dst, srcIp: '10.0.1.98', dstIp: '10.0.1.11', srcPort: 1, dstPort: 2, payload: new Uint8Array([n]) });
}

/** A guest driver and an emulated device brought up for MAC, as the host's backend holds them before a hand-off. */
function guest(mac = MAC): Rig {
  return new Rig({ mac, ringSizes: { tx: 32, rx1: 32, rx2: 32 } });
}

function bind(endpoint: VfEndpoint, rec: Recorded, rig: Rig, vnic = 'vm-1.eth0', mac = MAC): void {
  endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vf.bind', vnic, mac, mtu: 1500, device: { shared: rig.driver.shared() } }));
}

function load(endpoint: VfEndpoint, rec: Recorded, rig: Rig, vnic = 'vm-1.eth0'): void {
  rig.device.drain();
  endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vf.load', vnic, state: rig.device.snapshot() }));
}

describe('VfEndpoint', () => {
  it('VfEndpoint binds a VF, parks it until the guest state arrives, then runs it, all along VFIO arcs', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint({ vfCount: 2 });
    const rig = guest();
    rig.post(0, 1, 31);
    bind(endpoint, rec, rig);
    expect(rec.mailbox()).toEqual([{ op: 'vf.bound', vnic: 'vm-1.eth0', vf: 0 }]);
    expect(endpoint.inspect().vnics).toEqual([{ vnic: 'vm-1.eth0', mode: 'uptv2', vf: 0, phase: 'awaiting-state', held: 0 }]);
    load(endpoint, rec, rig);
    const arcs = rec.events.filter((e) => e.kind === 'vf.state').map((e) => `${String(e.payload.from)}>${String(e.payload.to)}`);
    expect(arcs).toEqual(['RUNNING>RUNNING_P2P', 'RUNNING_P2P>STOP', 'STOP>RESUMING', 'RESUMING>STOP', 'STOP>RUNNING_P2P', 'RUNNING_P2P>RUNNING']);
    const vf = endpoint.pool.byVnic('vm-1.eth0')!;
    expect(vf.state).toBe('RUNNING');
    // The VF carries on from the guest's ring positions: the 31 buffers posted before the hand-off.
    expect(vf.device.postedRx(0, 1)).toBe(31);
    expect(rig.driver.view().rxQueues[0]!.ring1.next).toBe(31);
  });

  it('VfEndpoint logs the reset that takes a released VF from STOP_COPY back to a blank RUNNING', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint({ vfCount: 1 });
    const rig = guest();
    rig.post(0, 1, 31);
    bind(endpoint, rec, rig);
    load(endpoint, rec, rig);
    endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vf.unbind', vnic: 'vm-1.eth0' }));
    const arcs = rec.events.filter((e) => e.kind === 'vf.state').map((e) => `${String(e.payload.from)}>${String(e.payload.to)}:${String(e.payload.via)}`);
    // Saved in STOP_COPY, then back in the pool: every state the function passes through is on record.
    expect(arcs.slice(-4)).toEqual(['RUNNING>RUNNING_P2P:arc', 'RUNNING_P2P>STOP:arc', 'STOP>STOP_COPY:arc', 'STOP_COPY>RUNNING:reset']);
    expect(endpoint.pool.byIndex(0)!.state).toBe('RUNNING');
    expect(rec.events.filter((e) => e.kind === 'vf.checker.violation')).toEqual([]);
  });

  it('VfEndpoint refuses a bind with no-free-vf when every VF is taken', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint({ vfCount: 1 });
    bind(endpoint, rec, guest(), 'vm-1.eth0');
    bind(endpoint, rec, guest('00:50:56:aa:00:02'), 'vm-2.eth0', '00:50:56:aa:00:02');
    expect(rec.mailbox()).toEqual([
      { op: 'vf.bound', vnic: 'vm-1.eth0', vf: 0 },
      { op: 'vf.refused', vnic: 'vm-2.eth0', reason: 'no-free-vf' },
    ]);
    expect(endpoint.modeOf('vm-2.eth0')).toBe('emulated');
  });

  it('VfEndpoint refuses a loaded state that belongs to another MAC and gives the VF back', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint({ vfCount: 1 });
    bind(endpoint, rec, guest());
    load(endpoint, rec, guest('00:50:56:aa:00:09'));
    expect(rec.mailbox().at(-1)).toEqual({ op: 'vf.refused', vnic: 'vm-1.eth0', reason: 'bad-device-state' });
    expect(rec.events.some((e) => e.kind === 'vf.error')).toBe(true);
    expect(endpoint.pool.free()).toBe(1);
    expect(endpoint.modeOf('vm-1.eth0')).toBe('emulated');
  });

  it('VfEndpoint consumes a UPTv2 TX descriptor after its doorbell, completes it and passes the frame on', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint();
    const rig = guest();
    bind(endpoint, rec, rig);
    load(endpoint, rec, rig);
    const frame = frameTo(PEER);
    const d = rig.driver.transmit(0, frame.length);
    // A descriptor whose doorbell never came is refused and not passed on.
    const early = endpoint.onPcie(rec.ctx, 'dma', encodeDma({ op: 'tx', vnic: 'vm-1.eth0', mode: 'uptv2', queue: 0, index: d.index, gen: d.gen, frame }));
    expect(early.framesFromVnic).toEqual([]);
    expect(endpoint.inspect().counters.drops['vf-refused']).toBe(1);
    endpoint.onPcie(rec.ctx, 'doorbell', encodeDoorbell({ vnic: 'vm-1.eth0', register: txprodRegister(0), value: d.txprod }));
    const result = endpoint.onPcie(rec.ctx, 'dma', encodeDma({ op: 'tx', vnic: 'vm-1.eth0', mode: 'uptv2', queue: 0, index: d.index, gen: d.gen, frame }));
    expect(result).toEqual({ framesFromVnic: [{ vnic: 'vm-1.eth0', frame, mode: 'uptv2' }], steps: ['vf-dma'], vnicMoves: [], takeoverAcks: [] });
    expect(rec.dma()).toEqual([{ op: 'txcomp', vnic: 'vm-1.eth0', queue: 0, index: 0, gen: 1 }]);
    expect(rig.driver.onTxCompletion(0, 0, 1)).toBe(1);
  });

  it('VfEndpoint writes a frame into a posted guest buffer and drops it, counted, when none is posted', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint();
    const rig = guest();
    bind(endpoint, rec, rig);
    load(endpoint, rec, rig);
    expect(endpoint.toVnic(rec.ctx, 'vm-1.eth0', frameTo(MAC))).toBe(false);
    expect(endpoint.inspect().counters.drops['rx-no-buffer']).toBe(1);
    const index = rig.driver.postRxBuffers(0, 1, 4);
    endpoint.onPcie(rec.ctx, 'dma', encodeDma({ op: 'rxfill', vnic: 'vm-1.eth0', queue: 0, rxRing: 0, index }));
    expect(endpoint.toVnic(rec.ctx, 'vm-1.eth0', frameTo(MAC, 7))).toBe(true);
    const rx = rec.dma().at(-1)!;
    expect(rx).toMatchObject({ op: 'rx', vnic: 'vm-1.eth0', mode: 'uptv2', queue: 0, index: 0, gen: 1 });
    expect(() => rig.driver.onRxCompletion(0, rx.op === 'rx' ? rx.index : -1, 1, 1)).not.toThrow();
    // Unicast to someone else is filtered by the VF.
    expect(endpoint.toVnic(rec.ctx, 'vm-1.eth0', frameTo('00:50:56:aa:00:77'))).toBe(false);
    expect(endpoint.inspect().counters.drops['rx-filtered']).toBe(1);
  });

  it('VfEndpoint learns MUX and emulated vNICs from their tx messages and keeps UPTv2 while a VF is bound', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint();
    const frame = frameTo(PEER);
    const out = endpoint.onPcie(rec.ctx, 'dma', encodeDma({ op: 'tx', vnic: 'vm-3.eth0', mode: 'mux', queue: 0, index: 4, gen: 1, frame }));
    expect(out).toEqual({ framesFromVnic: [{ vnic: 'vm-3.eth0', frame, mode: 'mux' }], steps: ['vf-dma'], vnicMoves: [], takeoverAcks: [] });
    expect(endpoint.modeOf('vm-3.eth0')).toBe('mux');
    expect(endpoint.toVnic(rec.ctx, 'vm-3.eth0', frameTo('00:50:56:aa:00:03'))).toBe(true);
    expect(rec.dma().at(-1)).toMatchObject({ op: 'rx', vnic: 'vm-3.eth0', mode: 'mux' });

    const rig = guest();
    bind(endpoint, rec, rig);
    // Frames the host's backend sent before it learned of the VF still cross, without changing the mode.
    endpoint.onPcie(rec.ctx, 'dma', encodeDma({ op: 'tx', vnic: 'vm-1.eth0', mode: 'emulated', queue: 0, index: 0, gen: 1, frame }));
    endpoint.setMode('vm-1.eth0', 'mux');
    expect(endpoint.modeOf('vm-1.eth0')).toBe('uptv2');
    endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vf.unbind', vnic: 'vm-1.eth0' }));
    expect(endpoint.modeOf('vm-1.eth0')).toBe('emulated');
    expect(rec.mailbox().at(-1)).toEqual({ op: 'vf.unbound', vnic: 'vm-1.eth0', vf: 0, state: null });
  });

  it('VfEndpoint drops and counts malformed messages and messages for vNICs it does not serve', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint({ vnics: ['vm-1.eth0'] });
    const frame = frameTo(PEER);
    expect(endpoint.onPcie(rec.ctx, 'dma', new Uint8Array([0x93, 1, 2]))).toEqual({ framesFromVnic: [], steps: [], vnicMoves: [], takeoverAcks: [] });
    endpoint.onPcie(rec.ctx, 'doorbell', encodeDoorbell({ vnic: 'vm-1.eth0', register: 0x600, value: 1 }).subarray(0, 5));
    endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vf.unbind', vnic: 'vm-1.eth0' }).subarray(1));
    endpoint.onPcie(rec.ctx, 'dma', encodeDma({ op: 'tx', vnic: 'vm-9.eth0', mode: 'emulated', queue: 0, index: 0, gen: 1, frame }));
    endpoint.onPcie(rec.ctx, 'doorbell', encodeDoorbell({ vnic: 'vm-1.eth0', register: 0x600, value: 1 }));
    expect(endpoint.toVnic(rec.ctx, 'vm-9.eth0', frame)).toBe(false);
    const drops = endpoint.inspect().counters.drops;
    expect(drops).toMatchObject({ malformed: 3, 'unknown-vnic': 2, 'no-vf': 1 });
    expect(rec.events.filter((e) => e.kind === 'pcie.drop').map((e) => e.payload.reason)).toEqual(['malformed', 'malformed', 'malformed', 'unknown-vnic', 'no-vf']);
    expect(rec.sent).toEqual([]);
  });

  it('VfEndpoint admits a vNIC it was not built for after a failover, and evicts it when its DPU becomes standby', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint({ vfCount: 2, vnics: [] });
    const rig = guest();
    bind(endpoint, rec, rig);
    expect(rec.mailbox()).toEqual([{ op: 'vf.refused', vnic: 'vm-1.eth0', reason: 'unknown-vnic' }]);
    endpoint.admit('vm-1.eth0', 'emulated');
    expect(endpoint.modeOf('vm-1.eth0')).toBe('emulated');
    bind(endpoint, rec, rig);
    expect(rec.mailbox().at(-1)).toEqual({ op: 'vf.bound', vnic: 'vm-1.eth0', vf: 0 });
    expect(endpoint.pool.free()).toBe(1);
    endpoint.evict(rec.ctx, 'vm-1.eth0');
    expect(endpoint.pool.free()).toBe(2);
    expect(endpoint.modeOf('vm-1.eth0')).toBeNull();
    expect(endpoint.toVnic(rec.ctx, 'vm-1.eth0', frameTo(MAC))).toBe(false);
    bind(endpoint, rec, rig);
    expect(rec.mailbox().at(-1)).toEqual({ op: 'vf.refused', vnic: 'vm-1.eth0', reason: 'unknown-vnic' });
    expect(endpoint.inspect().counters.drops['unknown-vnic']).toBe(3);
  });

  it('VfEndpoint hands vNIC moves to its owner, refuses their answers from a host, and retires a vNIC whose VF is still bound as on vf.unbind', () => {
    const rec = dpuContext();
    const endpoint = new VfEndpoint({ vfCount: 2, vnics: ['vm-1.eth0'] });
    const placement = { id: 'vm-2.eth0', vm: 'vm-2', mac: PEER, segment: 'web', ipv4: '10.0.1.12/24', ipv6: null, mode: 'emulated' as const };
    const release = endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vnic.release', vnic: 'vm-1.eth0', export: true }));
    const adopt = endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: 'vm-2.eth0', placement, export: null }));
    expect([...release.vnicMoves, ...adopt.vnicMoves]).toEqual([
      { op: 'vnic.release', vnic: 'vm-1.eth0', export: true },
      { op: 'vnic.adopt', vnic: 'vm-2.eth0', placement, export: null },
    ]);
    endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vnic.adopted', vnic: 'vm-2.eth0', imported: 0 }));
    endpoint.onPcie(rec.ctx, 'mailbox', encodeMailbox({ op: 'vnic.adopt', vnic: 'vm-2.eth0', placement: { ...placement, ipv4: '10.0.1.12' }, export: null }));
    expect(rec.events.filter((e) => e.kind === 'pcie.drop').map((e) => e.payload.reason)).toEqual(['unexpected-op', 'malformed']);
    // Nothing of it was taken as a vNIC of this end.
    expect(endpoint.modeOf('vm-2.eth0')).toBeNull();

    const rig = guest();
    rig.post(0, 1, 31);
    bind(endpoint, rec, rig);
    load(endpoint, rec, rig);
    endpoint.retire(rec.ctx, 'vm-1.eth0');
    const unbound = rec.mailbox().at(-1);
    expect(unbound).toMatchObject({ op: 'vf.unbound', vnic: 'vm-1.eth0', vf: 0 });
    expect(unbound?.op === 'vf.unbound' && unbound.state).not.toBeNull();
    expect(endpoint.pool.free()).toBe(2);
    expect(endpoint.modeOf('vm-1.eth0')).toBeNull();
  });
});
