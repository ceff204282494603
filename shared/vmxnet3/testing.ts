/**
 * For tests: a guest driver and a device wired together the honest way, with the guest memory in
 * between (the TX descriptors the driver wrote, the completions the device signalled), and a
 * random operation picker for interleaving tests.
 */
import { RandomStream } from '../random.js';
import { compareViews } from './compare.js';
import { Vmxnet3Device } from './device.js';
import type { RxDelivered, TxCompletion, TxConsumed } from './device.js';
import { Vmxnet3Driver } from './driver.js';
import type { QueueCounts, RingSizes, TxProduced } from './driver.js';
import { BAR1, CMD, rxprodRegister, txprodRegister } from './registers.js';
import type { RxRingId } from './state.js';
import type { RssConf } from './rss.js';

/** The MAC every rig uses unless told otherwise. */
export const RIG_MAC = '00:50:56:80:00:01';

/** Options of a rig. */
export interface RigOptions {
  mac?: string;
  mtu?: number;
  queues?: QueueCounts;
  ringSizes?: RingSizes;
  /** Receive-side scaling the driver configures (default none). */
  rss?: RssConf;
}

/** One step a rig took, and what came of it: the record two runs are compared by. */
export type RigStep = { op: string; queue: number; result: unknown };

/** A driver and a device, brought up and driven honestly. */
export class Rig {
  /** Replaceable, as a VM that moved to another host carries on with a restored driver. */
  driver = new Vmxnet3Driver();
  device: Vmxnet3Device;
  /** TX descriptors in guest memory the device has not consumed, per queue. */
  readonly txMemory: TxProduced[][] = [];
  /** TX completions signalled and not yet processed by the driver, per queue. */
  readonly txNotices: TxCompletion[][] = [];
  /** RX completions written and not yet processed by the driver, per queue. */
  readonly rxNotices: RxDelivered[][] = [];

  constructor(options: RigOptions = {}) {
    const mac = options.mac ?? RIG_MAC;
    const queues = options.queues ?? { tx: 1, rx: 1 };
    this.device = new Vmxnet3Device(mac);
    this.driver.probe(mac, options.mtu ?? 1500, queues, options.ringSizes ?? { tx: 32, rx1: 32, rx2: 32 }, options.rss ? { rss: options.rss } : {});
    this.device.syncSharedArea(this.driver.shared());
    for (const w of this.driver.activationWrites()) this.device.writeRegister(w.bar, w.offset, w.value);
    this.driver.onActivated(this.device.readRegister(1, BAR1.CMD));
    for (const w of this.driver.unmaskWrites()) this.device.writeRegister(w.bar, w.offset, w.value);
    this.device.writeRegister(1, BAR1.CMD, CMD.GET_LINK);
    this.driver.onLink(this.device.readRegister(1, BAR1.CMD));
    for (let q = 0; q < queues.tx; q++) {
      this.txMemory.push([]);
      this.txNotices.push([]);
    }
    for (let q = 0; q < queues.rx; q++) this.rxNotices.push([]);
  }

  /** Mismatches between the driver's view and the device right now. */
  mismatches(): string[] {
    return compareViews(this.driver.view(), this.device.snapshot());
  }

  /** The driver produces a descriptor and rings the doorbell; null when its ring is full. */
  transmit(queue: number, length: number): TxProduced | null {
    if (this.driver.txFree(queue) === 0) return null;
    const d = this.driver.transmit(queue, length);
    this.device.writeRegister(0, txprodRegister(queue), d.txprod);
    this.txMemory[queue]!.push(d);
    return d;
  }

  /** The device consumes the next descriptor, read from guest memory. */
  consume(queue: number): TxConsumed | null {
    const memory = this.txMemory[queue]!;
    const head = memory[0];
    const taken = this.device.consumeTx(queue, head);
    if (taken !== null) memory.shift();
    return taken;
  }

  /** The device completes every consumed descriptor; null when there is none. */
  complete(queue: number): TxCompletion | null {
    const { last } = this.device.unfinishedTx(queue);
    if (last === null) return null;
    const done = this.device.completeTx(queue, last);
    this.txNotices[queue]!.push(done);
    return done;
  }

  /** The driver processes the latest TX completion it was told of (all entries up to it); returns descriptors reclaimed. */
  reclaim(queue: number): number {
    const notices = this.txNotices[queue]!;
    const latest = notices[notices.length - 1];
    if (latest === undefined) return 0;
    notices.length = 0;
    return this.driver.onTxCompletion(queue, latest.index, latest.gen);
  }

  /** The driver posts up to `count` buffers and rings the doorbell; returns the new producer index. */
  post(queue: number, ring: RxRingId, count: number): number {
    const n = Math.min(count, this.driver.rxFree(queue, ring));
    const prod = this.driver.postRxBuffers(queue, ring, n);
    this.device.writeRegister(0, rxprodRegister(queue, ring), prod);
    return prod;
  }

  /** The device receives a frame for the rig's MAC. */
  receive(queue: number, length: number, dst: string = RIG_MAC): ReturnType<Vmxnet3Device['deliverRx']> {
    const result = this.device.deliverRx(queue, length, dst);
    if (!('dropped' in result)) this.rxNotices[queue]!.push(result);
    return result;
  }

  /** The driver processes the oldest RX completion; false when there is none. */
  takeRx(queue: number): boolean {
    const r = this.rxNotices[queue]!.shift();
    if (r === undefined) return false;
    this.driver.onRxCompletion(queue, r.compIndex, r.compGen, r.ring, r.index);
    return true;
  }

  /**
   * Hands the device off: drain, snapshot, through JSON (as across a process boundary), restore,
   * resume. Completions written by the drain reach the driver as notices.
   */
  handOff(): void {
    for (const done of this.device.drain()) this.txNotices[done.queue]!.push(done);
    const copy = JSON.parse(JSON.stringify(this.device.snapshot())) as unknown;
    this.device = Vmxnet3Device.restore(copy);
    this.device.resume();
  }
}

/** The operations `randomStep` picks from. */
export const RIG_OPS = ['transmit', 'consume', 'complete', 'reclaim', 'post', 'receive', 'takeRx'] as const;

/** Performs one random honest operation on a random queue and returns what it did. */
export function randomStep(rig: Rig, random: RandomStream): RigStep {
  const op = RIG_OPS[random.int(RIG_OPS.length)]!;
  const txQueues = rig.txMemory.length;
  const rxQueues = rig.rxNotices.length;
  switch (op) {
    case 'transmit': {
      const queue = random.int(txQueues);
      return { op, queue, result: rig.transmit(queue, 60 + random.int(1455)) };
    }
    case 'consume': {
      const queue = random.int(txQueues);
      return { op, queue, result: rig.consume(queue) };
    }
    case 'complete': {
      const queue = random.int(txQueues);
      return { op, queue, result: rig.complete(queue) };
    }
    case 'reclaim': {
      const queue = random.int(txQueues);
      return { op, queue, result: rig.reclaim(queue) };
    }
    case 'post': {
      const queue = random.int(rxQueues);
      return { op, queue, result: rig.post(queue, random.chance(0.8) ? 1 : 2, 1 + random.int(8)) };
    }
    case 'receive': {
      const queue = random.int(rxQueues);
      // Mostly ordinary frames for ring 1, some too large for it.
      return { op, queue, result: rig.receive(queue, random.chance(0.9) ? 60 + random.int(1400) : 1600) };
    }
    case 'takeRx': {
      const queue = random.int(rxQueues);
      return { op, queue, result: rig.takeRx(queue) };
    }
  }
}

/** A seeded stream for a test. */
export function testRandom(label: string, seed = 1): RandomStream {
  return new RandomStream(seed, 'vmxnet3-test', label);
}
