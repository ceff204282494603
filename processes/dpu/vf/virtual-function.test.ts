import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/codec.js';
import { compareViews } from '../../../shared/vmxnet3/compare.js';
import { txprodRegister } from '../../../shared/vmxnet3/registers.js';
import { flipGen } from '../../../shared/vmxnet3/ring.js';
import type { Vmxnet3DeviceState } from '../../../shared/vmxnet3/state.js';
import { VfError } from './errors.js';
import type { VfErrorCode } from './errors.js';
import { VirtualFunction } from './virtual-function.js';
import { VFIO_ARCS, VFIO_STATES, legalArc } from './vfio.js';
import type { VfioState } from './vfio.js';
import { bringUp, vfTestContext, payloadsOf, said } from './testing.js';

const MAC = '00:50:56:80:10:01';

function boundVf(index = 0): VirtualFunction {
  const vf = new VirtualFunction(index);
  vf.bind('vm-a/vnic0', MAC);
  return vf;
}

function codeOf(fn: () => unknown): VfErrorCode | 'no error' {
  try {
    fn();
  } catch (error) {
    if (error instanceof VfError) return error.code;
    throw error;
  }
  return 'no error';
}

/** A device state saved in STOP_COPY by a function serving MAC, with TX work done and some left. */
function savedState(): Vmxnet3DeviceState {
  const { ctx } = vfTestContext();
  const vf = boundVf(9);
  const driver = bringUp(vf);
  for (let i = 0; i < 3; i++) vf.writeRegister(0, txprodRegister(0), driver.transmit(0, 100).txprod);
  vf.consumeTx(0);
  expect(vf.request(ctx, 'STOP_COPY')).toBe(true);
  return vf.saveState();
}

describe('VirtualFunction migration arcs', () => {
  it('VirtualFunction takes every legal arc and records it as vf.state', () => {
    for (const arc of VFIO_ARCS) {
      const { ctx, events } = vfTestContext();
      const vf = boundVf();
      expect(vf.request(ctx, arc.from)).toBe(true);
      if (arc.from === 'RESUMING') vf.loadState(savedState());
      events.length = 0;
      expect(vf.transition(ctx, arc.to), `${arc.from}->${arc.to}`).toBe(true);
      expect(vf.state).toBe(arc.to);
      expect(payloadsOf(events, 'vf.state')).toEqual([{ vf: 0, vnic: 'vm-a/vnic0', from: arc.from, to: arc.to, via: 'arc' }]);
      expect(payloadsOf(events, 'vf.error')).toEqual([]);
      // DMA is drained exactly on the arcs that stop it.
      const stopsDma = (arc.from === 'RUNNING_P2P' && arc.to === 'STOP') || (arc.from === 'PRE_COPY_P2P' && arc.to === 'STOP_COPY');
      expect(payloadsOf(events, 'vf.drain').length, `${arc.from}->${arc.to}`).toBe(stopsDma ? 1 : 0);
    }
  });

  it('VirtualFunction refuses illegal arcs with vf.error and stays where it was', () => {
    const samples: Array<[VfioState, VfioState]> = [
      ['STOP_COPY', 'PRE_COPY'],
      ['RUNNING', 'STOP_COPY'],
      ['RUNNING', 'STOP'],
      ['STOP', 'RUNNING'],
      ['RESUMING', 'RUNNING'],
      ['PRE_COPY', 'STOP_COPY'],
      ['STOP_COPY', 'RESUMING'],
      ['RUNNING_P2P', 'STOP_COPY'],
    ];
    for (const [from, to] of samples) {
      expect(legalArc(from, to)).toBe(false);
      const { ctx, events } = vfTestContext();
      const vf = boundVf();
      vf.request(ctx, from);
      events.length = 0;
      expect(vf.transition(ctx, to)).toBe(false);
      expect(vf.state).toBe(from);
      expect(events.map(said)).toEqual([{ kind: 'vf.error', payload: { vf: 0, vnic: 'vm-a/vnic0', from, to, reason: `there is no direct arc from ${from} to ${to}` } }]);
    }
  });

  it('VirtualFunction request walks the kernel path arc by arc, draining on the way to STOP', () => {
    const { ctx, events } = vfTestContext();
    const vf = boundVf();
    expect(vf.request(ctx, 'STOP_COPY')).toBe(true);
    expect(events.map((e) => (e.kind === 'vf.state' ? `${String(e.payload.from)}->${String(e.payload.to)}` : e.kind))).toEqual([
      'RUNNING->RUNNING_P2P',
      'vf.drain',
      'RUNNING_P2P->STOP',
      'STOP->STOP_COPY',
    ]);
  });

  it('VirtualFunction refuses a request with no path, STOP_COPY to PRE_COPY, without moving', () => {
    const { ctx, events } = vfTestContext();
    const vf = boundVf();
    vf.request(ctx, 'STOP_COPY');
    events.length = 0;
    expect(vf.request(ctx, 'PRE_COPY')).toBe(false);
    expect(vf.state).toBe('STOP_COPY');
    expect(events.map(said)).toEqual([
      { kind: 'vf.error', payload: { vf: 0, vnic: 'vm-a/vnic0', from: 'STOP_COPY', to: 'PRE_COPY', reason: 'the migration state machine has no path from STOP_COPY to PRE_COPY' } },
    ]);
  });
});

describe('VirtualFunction DMA', () => {
  it('VirtualFunction refuses DMA, doorbells and commands in STOP and leaves the device untouched', () => {
    const { ctx } = vfTestContext();
    const vf = boundVf();
    const driver = bringUp(vf);
    const d = driver.transmit(0, 100);
    vf.writeRegister(0, txprodRegister(0), d.txprod);
    vf.request(ctx, 'STOP');
    const before = vf.device.snapshot();
    expect(codeOf(() => vf.consumeTx(0, d))).toBe('dma-refused');
    expect(codeOf(() => vf.completeTx(0, 0))).toBe('dma-refused');
    expect(codeOf(() => vf.fillRx(0, 1, 1))).toBe('dma-refused');
    expect(codeOf(() => vf.writeRegister(0, txprodRegister(0), 1))).toBe('dma-refused');
    expect(vf.deliverRx(0, 100, MAC)).toEqual({ dropped: 'quiesced' });
    expect(vf.device.snapshot()).toEqual(before);
    expect(vf.inspect().refusedRx).toBe(1);
    // RUNNING_P2P allows DMA to guest memory again.
    vf.request(ctx, 'RUNNING_P2P');
    expect(vf.consumeTx(0, d)).toEqual({ index: 0, gen: 1 });
  });

  it('VirtualFunction serving no vNIC refuses to be driven', () => {
    const vf = new VirtualFunction(3);
    expect(codeOf(() => vf.writeRegister(0, txprodRegister(0), 1))).toBe('not-bound');
    expect(vf.deliverRx(0, 100, MAC)).toEqual({ dropped: 'inactive' });
  });
});

describe('VirtualFunction device state', () => {
  it('VirtualFunction saves in STOP_COPY and a new one loads in RESUMING, and the guest cannot tell', () => {
    const { ctx, events } = vfTestContext();
    const source = boundVf(0);
    const driver = bringUp(source, { queues: { tx: 2, rx: 1 } });
    const produced = [0, 1, 2, 3].map(() => driver.transmit(0, 200));
    source.writeRegister(0, txprodRegister(0), produced[3]!.txprod);
    source.consumeTx(0, produced[0]);
    source.consumeTx(0, produced[1]);
    expect(source.request(ctx, 'STOP_COPY')).toBe(true);
    // The drain completed the two consumed descriptors; the host passes them to the guest.
    const { completions } = source.takeOutbox();
    expect(completions.map((c) => [c.queue, c.index, c.gen, c.count])).toEqual([[0, 1, 1, 2]]);
    expect(payloadsOf(events, 'vf.drain')).toEqual([{ vf: 0, vnic: 'vm-a/vnic0', completions: [{ queue: 0, index: 1, gen: 1, upTo: 1, count: 2 }] }]);
    const saved = decode(encode(source.saveState()));

    const target = new VirtualFunction(5);
    target.bind('vm-a/vnic0', MAC);
    expect(target.request(ctx, 'RESUMING')).toBe(true);
    target.loadState(saved);
    expect(target.request(ctx, 'RUNNING')).toBe(true);
    expect(compareViews(driver.view(), target.device.snapshot())).toEqual([]);
    // The pending completion interrupt was signalled when DMA resumed.
    expect(target.takeOutbox().interrupts).toEqual([0]);
    driver.onTxCompletion(0, completions[0]!.index, completions[0]!.gen);
    // The new function carries on with the descriptors the old one had not consumed.
    expect(target.consumeTx(0, produced[2])).toEqual({ index: 2, gen: 1 });
    expect(target.consumeTx(0, produced[3])).toEqual({ index: 3, gen: 1 });
    expect(compareViews(driver.view(), target.device.snapshot())).toEqual([]);
  });

  it('VirtualFunction saves only in STOP_COPY and loads only in RESUMING', () => {
    const { ctx } = vfTestContext();
    const vf = boundVf();
    expect(codeOf(() => vf.saveState())).toBe('wrong-state');
    expect(codeOf(() => vf.loadState(savedState()))).toBe('wrong-state');
    vf.request(ctx, 'STOP');
    expect(codeOf(() => vf.saveState())).toBe('wrong-state');
    vf.request(ctx, 'RESUMING');
    expect(codeOf(() => vf.saveState())).toBe('wrong-state');
    expect(codeOf(() => vf.loadState(savedState()))).toBe('no error');
  });

  it('VirtualFunction goes to ERROR when the loaded state is bad, and says why', () => {
    const corrupt: Array<[string, (s: Vmxnet3DeviceState) => unknown, string]> = [
      ['a newer format', (s) => ({ ...s, version: 2 }), 'the loaded device state is not usable: version: 2 is not 1'],
      [
        'a flipped generation bit',
        (s) => {
          s.txQueues[0]!.txRing.gen = flipGen(s.txQueues[0]!.txRing.gen);
          return s;
        },
        'the loaded device state is not usable: txQueues[0]: the producer at slot 3 (gen 1) contradicts the consumer at slot 1 (gen 0)',
      ],
      ['DMA still running', (s) => ({ ...s, drained: false }), 'the loaded device state was saved while its DMA was still running'],
      ['another vNIC', (s) => ({ ...s, permanentMac: '00:50:56:80:10:02' }), 'the loaded device state belongs to 00:50:56:80:10:02, this function serves 00:50:56:80:10:01'],
      ['nothing', () => undefined, 'no device state was loaded'],
    ];
    for (const [what, damage, reason] of corrupt) {
      const { ctx, events } = vfTestContext();
      const vf = boundVf();
      vf.request(ctx, 'RESUMING');
      const bad = damage(savedState());
      if (bad !== undefined) vf.loadState(bad);
      events.length = 0;
      expect(vf.request(ctx, 'RUNNING'), what).toBe(false);
      expect(vf.state, what).toBe('ERROR');
      expect(events[0], what).toMatchObject({ kind: 'vf.error', payload: { vf: 0, vnic: 'vm-a/vnic0', from: 'RESUMING', to: 'STOP', reason } });
      expect(said(events[1]), what).toEqual({ kind: 'vf.state', payload: { vf: 0, vnic: 'vm-a/vnic0', from: 'RESUMING', to: 'ERROR', via: 'error' } });
      expect(events, what).toHaveLength(2);
    }
  });

  it('VirtualFunction leaves ERROR only by reset, back to RUNNING with a fresh device', () => {
    const { ctx, events } = vfTestContext();
    const vf = boundVf();
    vf.request(ctx, 'RESUMING');
    vf.request(ctx, 'STOP');
    expect(vf.state).toBe('ERROR');
    events.length = 0;
    for (const to of VFIO_STATES.filter((s) => s !== 'ERROR')) {
      expect(vf.transition(ctx, to)).toBe(false);
      expect(vf.request(ctx, to)).toBe(false);
    }
    expect(vf.state).toBe('ERROR');
    expect(payloadsOf(events, 'vf.error')[0]).toMatchObject({ from: 'ERROR', reason: 'the function is in ERROR, only a reset leaves it' });
    expect(payloadsOf(events, 'vf.state')).toEqual([]);
    events.length = 0;
    vf.reset(ctx);
    expect(vf.state).toBe('RUNNING');
    expect(events.map(said)).toEqual([{ kind: 'vf.state', payload: { vf: 0, vnic: 'vm-a/vnic0', from: 'ERROR', to: 'RUNNING', via: 'reset' } }]);
    expect(vf.device.status).toBe('reset');
    const driver = bringUp(vf);
    vf.writeRegister(0, txprodRegister(0), driver.transmit(0, 60).txprod);
    expect(vf.consumeTx(0)).toEqual({ index: 0, gen: 1 });
  });

  it('VirtualFunction events and views are plain data', () => {
    const { ctx, events } = vfTestContext();
    const vf = boundVf();
    bringUp(vf);
    vf.request(ctx, 'STOP_COPY');
    vf.request(ctx, 'PRE_COPY');
    for (const e of events) expect(decode(encode(e.payload))).toEqual(e.payload);
    expect(decode(encode(vf.inspect()))).toEqual(vf.inspect());
  });
});
