import { describe, expect, it } from 'vitest';
import { decode, encode } from '../codec.js';
import { Vmxnet3Driver } from './driver.js';
import { Vmxnet3Error } from './errors.js';
import type { Vmxnet3ErrorCode } from './errors.js';
import { BAR1, CMD, IML, RX_MODE } from './registers.js';
import { vlanFilterIds } from './shared-area.js';
import { RIG_MAC, Rig, randomStep, testRandom } from './testing.js';
import type { RigStep } from './testing.js';

function codeOf(fn: () => unknown): Vmxnet3ErrorCode | 'no error' {
  try {
    fn();
  } catch (error) {
    if (error instanceof Vmxnet3Error) return error.code;
    throw error;
  }
  return 'no error';
}

describe('Vmxnet3Driver', () => {
  it('Vmxnet3Driver probe builds a shared area with one vector per queue plus the event vector', () => {
    const driver = new Vmxnet3Driver();
    const shared = driver.probe('00:50:56:80:00:0A', 1500, { tx: 2, rx: 3 }, { tx: 256, rx1: 512, rx2: 128 });
    expect(shared.numTxQueues).toBe(2);
    expect(shared.txQueues.map((q) => q.intrIdx)).toEqual([0, 1]);
    expect(shared.rxQueues.map((q) => q.intrIdx)).toEqual([2, 3, 4]);
    expect(shared.intr).toEqual({ autoMask: true, numIntrs: 6, eventIntrIdx: 5, modLevels: new Array(6).fill(IML.ADAPTIVE) });
    expect(shared.rxQueues[0]).toMatchObject({ ring1Size: 512, ring2Size: 128, compRingSize: 640, ring1BufferLength: 1522 });
    expect(shared.rxFilter.rxMode).toBe(RX_MODE.UCAST | RX_MODE.BCAST);
    expect(vlanFilterIds(shared.rxFilter.vlanFilter)).toEqual([0]);
    expect(driver.view().mac).toBe('00:50:56:80:00:0a');
    const writes = driver.activationWrites();
    expect(writes[0]).toEqual({ bar: 1, offset: BAR1.VRRS, value: 0x40 });
    expect(writes[writes.length - 1]).toEqual({ bar: 1, offset: BAR1.CMD, value: CMD.ACTIVATE_DEV });
  });

  it('Vmxnet3Driver refuses to configure an MTU, queue count or ring size the device would refuse', () => {
    const driver = new Vmxnet3Driver();
    expect(codeOf(() => driver.probe(RIG_MAC, 9001, { tx: 1, rx: 1 }, { tx: 32, rx1: 32, rx2: 32 }))).toBe('bad-shared-area');
    expect(codeOf(() => driver.probe(RIG_MAC, 1500, { tx: 9, rx: 1 }, { tx: 32, rx1: 32, rx2: 32 }))).toBe('bad-shared-area');
    expect(codeOf(() => driver.probe(RIG_MAC, 1500, { tx: 1, rx: 1 }, { tx: 48, rx1: 32, rx2: 32 }))).toBe('bad-shared-area');
    expect(codeOf(() => driver.probe(RIG_MAC, 1500, { tx: 1, rx: 1 }, { tx: 8192, rx1: 32, rx2: 32 }))).toBe('bad-shared-area');
    expect(driver.view().probed).toBe(false);
    expect(codeOf(() => driver.transmit(0))).toBe('not-probed');
  });

  it('Vmxnet3Driver keeps one TX descriptor free so a full ring never looks empty', () => {
    const rig = new Rig({ ringSizes: { tx: 32, rx1: 32, rx2: 32 } });
    for (let i = 0; i < 31; i++) expect(rig.driver.transmit(0).index).toBe(i);
    expect(rig.driver.txFree(0)).toBe(0);
    expect(codeOf(() => rig.driver.transmit(0))).toBe('ring-full');
  });

  it('Vmxnet3Driver returns the TXPROD value that announces each descriptor, flipping its bit after a wrap', () => {
    const rig = new Rig({ ringSizes: { tx: 32, rx1: 32, rx2: 32 } });
    const seen: Array<[number, number, number]> = [];
    for (let i = 0; i < 40; i++) {
      const d = rig.transmit(0, 64)!;
      seen.push([d.index, d.gen, d.txprod]);
      rig.consume(0);
      rig.complete(0);
      rig.reclaim(0);
    }
    expect(seen[31]).toEqual([31, 1, 0]);
    expect(seen[32]).toEqual([0, 0, 1]);
    expect(rig.mismatches()).toEqual([]);
  });

  it('Vmxnet3Driver rejects a TX completion with an unexpected generation bit or for descriptors never sent', () => {
    const rig = new Rig();
    rig.transmit(0, 100);
    rig.transmit(0, 100);
    rig.consume(0);
    const done = rig.complete(0)!;
    expect(codeOf(() => rig.driver.onTxCompletion(0, done.index, 0))).toBe('bad-gen');
    expect(codeOf(() => rig.driver.onTxCompletion(0, 2, 1))).toBe('bad-completion');
    expect(rig.driver.onTxCompletion(0, done.index, done.gen)).toBe(1);
    // The same completion again: slot 0 now belongs to the next lap, so its bit is stale.
    expect(codeOf(() => rig.driver.onTxCompletion(0, done.index, done.gen))).toBe('bad-gen');
  });

  it('Vmxnet3Driver takes RX completions one at a time, in order, from the ring that was used', () => {
    const rig = new Rig({ mtu: 9000 });
    rig.post(0, 1, 4);
    const first = rig.device.deliverRx(0, 100, RIG_MAC);
    const second = rig.device.deliverRx(0, 100, RIG_MAC);
    if ('dropped' in first || 'dropped' in second) throw new Error('Frames dropped');
    expect(codeOf(() => rig.driver.onRxCompletion(0, second.compIndex, second.compGen, 1))).toBe('out-of-order');
    expect(codeOf(() => rig.driver.onRxCompletion(0, first.compIndex, 0, 1))).toBe('bad-gen');
    expect(codeOf(() => rig.driver.onRxCompletion(0, first.compIndex, first.compGen, 2))).toBe('bad-completion');
    expect(codeOf(() => rig.driver.onRxCompletion(0, first.compIndex, first.compGen, 1, 3))).toBe('bad-completion');
    rig.driver.onRxCompletion(0, first.compIndex, first.compGen, 1, first.index);
    rig.driver.onRxCompletion(0, second.compIndex, second.compGen, 1, second.index);
    expect(rig.driver.rxFree(0, 1)).toBe(31 - 2);
    expect(rig.mismatches()).toEqual([]);
  });
});

describe('Vmxnet3Driver state', () => {
  const moved = (driver: Vmxnet3Driver): Vmxnet3Driver => Vmxnet3Driver.restore(decode(encode(driver.exportState())));

  it('Vmxnet3Driver state survives msgpack unchanged and restores the same view', () => {
    const rig = new Rig({ queues: { tx: 2, rx: 2 }, ringSizes: { tx: 32, rx1: 64, rx2: 32 } });
    const random = testRandom('driver state');
    for (let i = 0; i < 500; i++) randomStep(rig, random);
    rig.driver.setMulticast(['33:33:00:00:00:01']);
    rig.driver.setVlan(10, true);
    const state = rig.driver.exportState();
    expect(decode(encode(state))).toEqual(state);
    const restored = moved(rig.driver);
    expect(restored.view()).toEqual(rig.driver.view());
    expect(restored.exportState()).toEqual(state);
    expect(restored.shared()).toEqual(rig.driver.shared());
    expect(restored.activationWrites()).toEqual(rig.driver.activationWrites());
    expect(moved(new Vmxnet3Driver()).view()).toEqual(new Vmxnet3Driver().view());
  });

  it('Vmxnet3Driver restored mid-run behaves exactly as the one it was taken from', () => {
    // The same random run twice; in the second the guest moves to another host every 37 steps.
    const run = (moveEvery: number | null): RigStep[] => {
      const rig = new Rig({ queues: { tx: 2, rx: 1 }, ringSizes: { tx: 32, rx1: 32, rx2: 32 } });
      const random = testRandom('driver restore');
      const steps: RigStep[] = [];
      for (let i = 0; i < 5_000; i++) {
        if (moveEvery !== null && i % moveEvery === 0) rig.driver = moved(rig.driver);
        steps.push(randomStep(rig, random));
        if (i % 500 === 0) expect(rig.mismatches()).toEqual([]);
      }
      steps.push({ op: 'final', queue: 0, result: rig.driver.view() });
      return steps;
    };
    const plain = run(null);
    expect(plain.filter((s) => s.op === 'reclaim' && s.result !== 0).length).toBeGreaterThan(100);
    expect(run(37)).toEqual(plain);
  });

  it('Vmxnet3Driver restore refuses a state that is missing a field, has a wrong type or is not a driver state', () => {
    const rig = new Rig();
    rig.transmit(0, 100);
    const refusal = (state: unknown): { code: string; problems: readonly string[] } => {
      try {
        Vmxnet3Driver.restore(state);
      } catch (error) {
        if (error instanceof Vmxnet3Error) return { code: error.code, problems: error.problems };
        throw error;
      }
      return { code: 'no error', problems: [] };
    };
    const problemsOf = (mutate: (s: Record<string, unknown>) => void): { code: string; problems: readonly string[] } => {
      const state = decode(encode(rig.driver.exportState())) as Record<string, unknown>;
      mutate(state);
      return refusal(state);
    };
    expect(problemsOf((s) => void delete s['active'])).toEqual({ code: 'bad-snapshot', problems: ['active: not a boolean'] });
    expect(problemsOf((s) => void (s['link'] = 'up'))).toEqual({ code: 'bad-snapshot', problems: ['link: up is neither null nor a register value'] });
    expect(refusal(rig.device.snapshot())).toEqual({ code: 'bad-snapshot', problems: ['format: "vmxnet3-device" is not "vmxnet3-driver"'] });
    expect(refusal(null)).toEqual({ code: 'bad-snapshot', problems: ['the driver state is not an object'] });
    expect(refusal('driver')).toEqual({ code: 'bad-snapshot', problems: ['the driver state is not an object'] });
    expect(problemsOf((s) => void ((s['txQueues'] as Array<{ txRing: { size: number } }>)[0]!.txRing.size = 64))).toEqual({
      code: 'bad-snapshot',
      problems: ['txQueues[0].txRing.size: 64 is not the 32 slots the shared area configures'],
    });
    expect(problemsOf((s) => void ((s['txQueues'] as Array<{ txRing: { gen: number } }>)[0]!.txRing.gen = 0))).toEqual({
      code: 'bad-snapshot',
      problems: ['txQueues[0].txRing: the producer at slot 1 (gen 0) contradicts the reclaim point at slot 0 (gen 1)'],
    });
    expect(problemsOf((s) => void (s['rxQueues'] = []))).toEqual({ code: 'bad-snapshot', problems: ['rxQueues: 0 queues for numRxQueues 1'] });
    expect(problemsOf((s) => void ((s['shared'] as { mtu: number }).mtu = 20))).toMatchObject({ code: 'bad-snapshot', problems: [expect.stringMatching(/^shared\.mtu: 20 is outside/)] });
  });
});
