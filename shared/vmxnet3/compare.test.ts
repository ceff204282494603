import { describe, expect, it } from 'vitest';
import { decode, encode } from '../codec.js';
import { compareViews } from './compare.js';
import { Vmxnet3Device } from './device.js';
import type { Vmxnet3Error } from './errors.js';
import { BAR1, CMD, FEATURE, macToRegisters } from './registers.js';
import { defaultRssConf, RSS_HASH_TYPE, rssClassify } from './rss.js';
import { advance, flipGen } from './ring.js';
import { clonePlain, validateDeviceState } from './snapshot.js';
import { Rig, randomStep, testRandom } from './testing.js';
import type { RigOptions, RigStep } from './testing.js';

const SHAPES: ReadonlyArray<{ name: string; options: RigOptions }> = [
  { name: '1 queue, 32-slot rings', options: { mtu: 9000, ringSizes: { tx: 32, rx1: 32, rx2: 32 } } },
  { name: '2 TX and 3 RX queues, 64-slot rings', options: { mtu: 9000, queues: { tx: 2, rx: 3 }, ringSizes: { tx: 64, rx1: 64, rx2: 32 } } },
  { name: '1 queue, 128-slot rings', options: { mtu: 1500, ringSizes: { tx: 128, rx1: 128, rx2: 64 } } },
];

/** A rig that has already wrapped its rings a few times and has work in flight. */
function busyRig(): Rig {
  const rig = new Rig({ mtu: 9000, queues: { tx: 2, rx: 1 } });
  rig.post(0, 1, 31);
  for (let i = 0; i < 70; i++) {
    rig.transmit(0, 100);
    rig.consume(0);
    rig.complete(0);
    rig.reclaim(0);
    rig.receive(0, 100);
    rig.takeRx(0);
    rig.post(0, 1, 1);
  }
  // In flight: produced not consumed, consumed not completed, completed not processed.
  for (let i = 0; i < 6; i++) rig.transmit(0, 100);
  rig.consume(0);
  rig.consume(0);
  rig.complete(0);
  rig.consume(0);
  rig.receive(0, 100);
  return rig;
}

describe('compareViews', () => {
  it('compareViews finds nothing after an honest sequence, even with completions not yet processed', () => {
    const rig = busyRig();
    const snapshot = rig.device.snapshot();
    expect(snapshot.txQueues[0]!.txRing.produced).toEqual({ next: 12, gen: 1 });
    expect(compareViews(rig.driver.view(), snapshot)).toEqual([]);
    rig.reclaim(0);
    rig.takeRx(0);
    expect(rig.mismatches()).toEqual([]);
  });

  it('compareViews keeps the views consistent over 10,000 random interleavings per ring shape', () => {
    for (const shape of SHAPES) {
      const rig = new Rig(shape.options);
      const random = testRandom(shape.name);
      const counts: Record<string, number> = {};
      for (let i = 0; i < 10_000; i++) {
        const step = randomStep(rig, random);
        if (step.result !== null && step.result !== 0 && step.result !== false) counts[step.op] = (counts[step.op] ?? 0) + 1;
        const problems = rig.mismatches();
        if (problems.length > 0) throw new Error(`${shape.name}, step ${i} (${step.op} on queue ${step.queue}): ${problems.join('; ')}`);
      }
      // The interleaving really exercised every operation, wraps included.
      for (const op of ['transmit', 'consume', 'complete', 'reclaim', 'post', 'receive', 'takeRx']) expect(counts[op] ?? 0, `${shape.name}: ${op}`).toBeGreaterThan(200);
      expect(rig.device.counters().txFrames).toBeGreaterThan(4 * 128);
    }
  });

  it('compareViews agrees after a drained hand-off at any point, and every descriptor is consumed once, in order', () => {
    for (const shape of SHAPES) {
      const rig = new Rig(shape.options);
      const random = testRandom(`${shape.name} hand-off`);
      const produced: string[][] = rig.txMemory.map(() => []);
      const consumed: string[][] = rig.txMemory.map(() => []);
      let handOffs = 0;
      for (let i = 0; i < 5_000; i++) {
        if (random.chance(0.03)) {
          rig.handOff();
          handOffs++;
          const problems = rig.mismatches();
          if (problems.length > 0) throw new Error(`${shape.name}, after a hand-off at step ${i}: ${problems.join('; ')}`);
        }
        const step = randomStep(rig, random);
        if (step.result !== null && typeof step.result === 'object' && 'index' in step.result && 'gen' in step.result) {
          const slot = `${String(step.result.index)}/${String(step.result.gen)}`;
          if (step.op === 'transmit') produced[step.queue]!.push(slot);
          if (step.op === 'consume') consumed[step.queue]!.push(slot);
        }
        const problems = rig.mismatches();
        if (problems.length > 0) throw new Error(`${shape.name}, step ${i} (${step.op}): ${problems.join('; ')}`);
      }
      expect(handOffs).toBeGreaterThan(100);
      produced.forEach((list, q) => {
        expect(list.length).toBeGreaterThan(100);
        expect(consumed[q]).toEqual(list.slice(0, consumed[q]!.length));
        expect(list.length - consumed[q]!.length).toBe(rig.txMemory[q]!.length);
      });
    }
  });

  it('compareViews and restore give the same results as never snapshotting when nothing is drained', () => {
    // Without a drain, a snapshot taken and restored mid-run changes nothing at all.
    const run = (restoreEvery: number | null): RigStep[] => {
      const rig = new Rig(SHAPES[1]!.options);
      const random = testRandom('restore');
      const steps: RigStep[] = [];
      for (let i = 0; i < 5_000; i++) {
        if (restoreEvery !== null && i % restoreEvery === 0) rig.device = Vmxnet3Device.restore(decode(encode(rig.device.snapshot())));
        steps.push(randomStep(rig, random));
      }
      steps.push({ op: 'final', queue: 0, result: rig.device.snapshot() });
      return steps;
    };
    expect(run(37)).toEqual(run(null));
  });

  it('compareViews and restore catch a snapshot with one flipped generation bit', () => {
    const rig = busyRig();
    const state = rig.device.snapshot();
    const ring = state.txQueues[0]!.txRing;
    ring.gen = flipGen(ring.gen);
    expect(compareViews(rig.driver.view(), state)).toEqual([
      'TX queue 0: the device consumed up to slot 9 (gen 0), which contradicts the device completed up to slot 8 (gen 1)',
    ]);
    expect(validateDeviceState(state)).toEqual(['txQueues[0]: the consumer at slot 9 (gen 0) contradicts the completed at slot 8 (gen 1)']);
    try {
      Vmxnet3Device.restore(state);
      expect.unreachable();
    } catch (error) {
      expect((error as Vmxnet3Error).code).toBe('bad-snapshot');
    }
  });

  it('compareViews and the next consume catch a restored device whose generation bits were all flipped', () => {
    const rig = busyRig();
    const state = rig.device.snapshot();
    const q = state.txQueues[0]!;
    // Consistent with itself (so restore accepts it), wrong for the guest's ring.
    q.txRing.gen = flipGen(q.txRing.gen);
    q.txRing.produced.gen = flipGen(q.txRing.produced.gen);
    q.completed.gen = flipGen(q.completed.gen);
    expect(validateDeviceState(state)).toEqual([]);
    const problems = compareViews(rig.driver.view(), state);
    expect(problems[0]).toBe('TX queue 0: the guest produced up to slot 12 (gen 1), the device was told slot 12 (gen 0)');
    expect(problems.length).toBeGreaterThan(1);
    rig.device = Vmxnet3Device.restore(state);
    try {
      rig.consume(0);
      expect.unreachable();
    } catch (error) {
      expect((error as Vmxnet3Error).code).toBe('bad-gen');
      expect((error as Vmxnet3Error).message).toBe('TX queue 0: descriptor at slot 9 has gen 1, the device expects gen 0 and was announced up to slot 12 (gen 0)');
    }
  });

  it('compareViews names a different MAC, MTU, filter, queue count and lost doorbell', () => {
    const rig = busyRig();
    const state = clonePlain(rig.device.snapshot());
    const other = macToRegisters('00:50:56:80:00:99');
    state.registers.macl = other.macl;
    state.registers.mach = other.mach;
    state.config!.mtu = 1500;
    state.config!.rxMode = 0x1f;
    state.config!.vlanFilter[0] = 0b101;
    state.txQueues.pop();
    state.txQueues[0]!.txRing.produced = { next: 11, gen: 1 };
    expect(compareViews(rig.driver.view(), state)).toEqual([
      'MAC: the guest programmed 00:50:56:80:00:01, the device answers to 00:50:56:80:00:99',
      'MTU: the guest configured 9000, the device applies 1500',
      'RX mode: the guest set 0x5, the device applies 0x1f',
      'VLAN filter: the guest admits VLANs [0], the device admits [0, 2]',
      'TX queues: the guest has 2, the device 1',
      'TX queue 0: the guest produced up to slot 12 (gen 1), the device was told slot 11 (gen 1)',
    ]);
  });

  it('compareViews notices completions that do not match the work the device did', () => {
    const rig = busyRig();
    const state = rig.device.snapshot();
    const tx = state.txQueues[0]!;
    // One completion entry written for no descriptor.
    Object.assign(tx.compRing, advance(tx.compRing, tx.compRing.size));
    // One RX buffer used with no completion written for it.
    const rx = state.rxQueues[0]!;
    Object.assign(rx.ring1, advance(rx.ring1, rx.ring1.size));
    expect(compareViews(rig.driver.view(), state)).toEqual([
      'TX queue 0: 3 completions wait for the guest (from slot 6 (gen 1) to slot 9 (gen 1)) but 2 descriptors completed are not processed by it',
      'RX queue 0: 1 completions wait for the guest (from slot 6 (gen 0) to slot 7 (gen 0)) but 2 buffers filled are not processed by it',
    ]);
  });

  it('compareViews snapshots survive msgpack unchanged', () => {
    const snapshot = busyRig().device.snapshot();
    expect(decode(encode(snapshot))).toEqual(snapshot);
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
  });
});

describe('RSS across a hand-off', () => {
  const rssRig = (): Rig => new Rig({ mtu: 1500, queues: { tx: 4, rx: 4 }, rss: defaultRssConf(4) });

  it('the device applies the RSS the driver wrote at ACTIVATE, and the hand-off copy carries it whole', () => {
    const rig = rssRig();
    expect(rig.device.snapshot().config!.rss).toEqual(defaultRssConf(4));
    expect(rig.device.snapshot().config!.features & FEATURE.RSS).toBe(FEATURE.RSS);
    rig.handOff();
    expect(rig.device.snapshot().config!.rss).toEqual(rig.driver.shared().rss);
    expect(rig.mismatches()).toEqual([]);
    // The restored device spreads a flow exactly as the first one did.
    const packet = { src: [10, 0, 1, 11], dst: [10, 0, 1, 12], ports: { src: 40000, dst: 80 } };
    expect(rssClassify(rig.device.snapshot().config!.rss!, packet)).toEqual(rssClassify(defaultRssConf(4), packet));
  });

  it('a copy that lost or changed the RSS state is caught: table, key, hash types', () => {
    const rig = rssRig();
    const state = clonePlain(rig.device.snapshot());
    state.config!.rss!.indTable[3] = 0;
    state.config!.rss!.hashKey[0] = 0;
    state.config!.rss!.hashType = RSS_HASH_TYPE.ipv4;
    const differences = compareViews(rig.driver.view(), state);
    expect(differences.filter((d) => d.startsWith('RSS'))).toHaveLength(3);
    state.config!.rss = null;
    expect(compareViews(rig.driver.view(), state)).toContain('RSS: the guest enabled RSS, the device applies none');
  });

  it('UPDATE_RSSIDT applies a new indirection table; until then the device keeps the old one', () => {
    const rig = rssRig();
    const shared = rig.driver.shared();
    const updated = { ...shared, rss: { ...shared.rss!, indTable: shared.rss!.indTable.map(() => 2) } };
    rig.device.syncSharedArea(updated);
    expect(rig.device.snapshot().config!.rss!.indTable).toEqual(defaultRssConf(4).indTable);
    rig.device.writeRegister(1, BAR1.CMD, CMD.UPDATE_RSSIDT);
    expect(new Set(rig.device.snapshot().config!.rss!.indTable)).toEqual(new Set([2]));
  });

  it('a snapshot whose RSS table names a queue the device lacks is refused, naming the field', () => {
    const state = clonePlain(rssRig().device.snapshot());
    state.config!.rss!.indTable[0] = 9;
    expect(validateDeviceState(state)).toEqual(['config.rss: RSS indirection entry 0 names queue 9, the device has 4']);
  });
});

