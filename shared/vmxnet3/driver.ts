/**
 * The guest's vmxnet3 driver, reduced to what it believes about its device: where it produces on
 * each ring, which generation bit it stamps, where it expects the next completion, what filters it
 * programmed. The guest must never notice that its device was handed from the host's emulated
 * backend to a DPU virtual function or back; `compareViews` holds this view against the device's.
 *
 * Like a real driver it never trusts a completion blindly: a completion whose generation bit is not
 * the expected one, or that completes more than was produced, throws.
 */
import { normalizeMac } from '../net/mac.js';
import type { MacAddress } from '../net/mac.js';
import { Vmxnet3Error } from './errors.js';
import {
  BAR1,
  CMD,
  FEATURE,
  IML,
  MAX_ETH_HDR_SIZE,
  RX_MODE,
  SHARED_MAGIC,
  imrRegister,
  macToRegisters,
} from './registers.js';
import type { Bar } from './registers.js';
import { advance, distance, flipGen, lag, newRing, position } from './ring.js';
import { cloneSharedArea, emptyVlanFilter, setVlanFilter, validateSharedArea } from './shared-area.js';
import { clonePlain, validateDriverState } from './snapshot.js';
import { DRIVER_STATE_VERSION } from './state.js';
import type { DriverCommandRing, DriverRxQueueView, DriverRxRing, DriverShared, DriverTxQueueView, Gen, RingState, RxRingId, Vmxnet3DriverState, Vmxnet3DriverView } from './state.js';
import { cloneRssConf, type RssConf } from './rss.js';

/** Ring sizes a driver asks for: TX, RX ring 1, RX ring 2 (completion rings follow from them). */
export interface RingSizes {
  tx: number;
  rx1: number;
  rx2: number;
}

/** Number of TX and RX queues. */
export interface QueueCounts {
  tx: number;
  rx: number;
}

/** What a driver may choose at probe besides MAC, MTU, queues and ring sizes. */
export interface ProbeOptions {
  /** Guest driver major version (default 7). */
  driverVersion?: number;
  /** vmxnet3 revision to select (default 7). */
  revision?: number;
  /** FEATURE bits (default RXCSUM). */
  features?: number;
  /** Multicast groups to join (default none). */
  multicast?: readonly MacAddress[];
  /** RX_MODE bits (default UCAST | BCAST, plus MCAST when groups are given). */
  rxMode?: number;
  /** Automatic masking of a vector when it fires (default true). */
  autoMask?: boolean;
  /**
   * Receive-side scaling: the configuration to write (`defaultRssConf(queues.rx)` is what Linux
   * writes); sets FEATURE.RSS. Default none.
   */
  rss?: RssConf;
  /** Guest-physical address of the driver-shared area (default 0x1000_0000), only written to DSAL/DSAH. */
  sharedAddress?: number;
}

/** A TX descriptor the driver produced, and the TXPROD value that announces it. */
export interface TxProduced {
  index: number;
  gen: Gen;
  length: number;
  txprod: number;
}

/** One register write the driver performs. */
export interface RegisterWrite {
  bar: Bar;
  offset: number;
  value: number;
}

/** The guest driver side of vmxnet3. */
export class Vmxnet3Driver {
  private probed = false;
  private active = false;
  private mac: MacAddress = '00:00:00:00:00:00';
  private link: number | null = null;
  private area: DriverShared | null = null;
  private sharedAddress = 0;
  private txQueues: DriverTxQueueView[] = [];
  private rxQueues: DriverRxQueueView[] = [];

  /**
   * A driver that carries on from `exportState()` of another (the guest's memory moved with the VM
   * to another host). Throws `bad-snapshot`, listing every problem, when the state has another
   * format or version or describes rings that contradict the shared area or themselves.
   *
   * @example
   * const moved = Vmxnet3Driver.restore(decode(encode(driver.exportState())));
   */
  static restore(state: unknown): Vmxnet3Driver {
    const problems = validateDriverState(state);
    if (problems.length > 0) throw new Vmxnet3Error('bad-snapshot', `The driver state is not usable: ${problems[0]!}`, problems);
    const s = state as Vmxnet3DriverState;
    const driver = new Vmxnet3Driver();
    driver.probed = s.probed;
    driver.active = s.active;
    driver.mac = s.mac;
    driver.link = s.link;
    driver.area = s.shared === null ? null : cloneSharedArea(s.shared);
    driver.sharedAddress = s.sharedAddress;
    // Field by field, so nothing but the ring positions comes along.
    driver.txQueues = s.txQueues.map((q) => ({ txRing: commandRing(q.txRing), compRing: ringState(q.compRing) }));
    driver.rxQueues = s.rxQueues.map((q) => ({
      ring1: { ...commandRing(q.ring1), bufferLength: q.ring1.bufferLength },
      ring2: { ...commandRing(q.ring2), bufferLength: q.ring2.bufferLength },
      compRing: ringState(q.compRing),
    }));
    return driver;
  }

  /**
   * Everything the driver knows, as plain data (msgpack and JSON safe): what moves with the guest's
   * memory when the VM moves to another host. `Vmxnet3Driver.restore` takes it back.
   */
  exportState(): Vmxnet3DriverState {
    return { format: 'vmxnet3-driver', version: DRIVER_STATE_VERSION, ...this.view(), sharedAddress: this.sharedAddress };
  }

  /**
   * Builds the driver-shared area and fresh rings (slot 0, generation 1 everywhere), as the driver
   * does before ACTIVATE. One interrupt vector per TX queue, then one per RX queue, then the event
   * vector. Throws `bad-shared-area` when the result would be refused by the device (MTU out of
   * range, too many queues, bad ring sizes).
   */
  probe(mac: MacAddress, mtu: number, queues: QueueCounts, ringSizes: RingSizes, options: ProbeOptions = {}): DriverShared {
    const multicast = (options.multicast ?? []).map((m) => normalizeMac(m));
    const numIntrs = queues.tx + queues.rx + 1;
    const vlanFilter = emptyVlanFilter();
    setVlanFilter(vlanFilter, 0, true);
    const shared: DriverShared = {
      magic: SHARED_MAGIC,
      driverVersion: options.driverVersion ?? 7,
      revision: options.revision ?? 7,
      uptVersion: 1,
      mtu,
      features: (options.features ?? FEATURE.RXCSUM) | (options.rss ? FEATURE.RSS : 0),
      numTxQueues: queues.tx,
      numRxQueues: queues.rx,
      txQueues: Array.from({ length: queues.tx }, (_, q) => ({ ringSize: ringSizes.tx, compRingSize: ringSizes.tx, intrIdx: q })),
      rxQueues: Array.from({ length: queues.rx }, (_, q) => ({
        ring1Size: ringSizes.rx1,
        ring2Size: ringSizes.rx2,
        compRingSize: ringSizes.rx1 + ringSizes.rx2,
        ring1BufferLength: Math.min(mtu, 1500) + MAX_ETH_HDR_SIZE,
        ring2BufferLength: mtu + MAX_ETH_HDR_SIZE,
        intrIdx: queues.tx + q,
      })),
      intr: { autoMask: options.autoMask ?? true, numIntrs, eventIntrIdx: numIntrs - 1, modLevels: new Array<number>(Math.max(0, numIntrs)).fill(IML.ADAPTIVE) },
      rxFilter: {
        rxMode: options.rxMode ?? (RX_MODE.UCAST | RX_MODE.BCAST | (multicast.length > 0 ? RX_MODE.MCAST : 0)),
        multicast,
        vlanFilter,
      },
      rss: options.rss ? cloneRssConf(options.rss) : null,
    };
    const problems = validateSharedArea(shared);
    if (problems.length > 0) throw new Vmxnet3Error('bad-shared-area', `The driver cannot configure this device: ${problems[0]!}`, problems);
    this.mac = normalizeMac(mac);
    this.area = shared;
    this.sharedAddress = options.sharedAddress ?? 0x1000_0000;
    this.txQueues = shared.txQueues.map((q) => ({
      txRing: { ...newRing(q.ringSize), reclaimed: position(newRing(q.ringSize)) },
      compRing: newRing(q.compRingSize),
    }));
    this.rxQueues = shared.rxQueues.map((q) => ({
      ring1: { ...newRing(q.ring1Size), reclaimed: position(newRing(q.ring1Size)), bufferLength: q.ring1BufferLength },
      ring2: { ...newRing(q.ring2Size), reclaimed: position(newRing(q.ring2Size)), bufferLength: q.ring2BufferLength },
      compRing: newRing(q.compRingSize),
    }));
    this.probed = true;
    this.active = false;
    this.link = null;
    return cloneSharedArea(shared);
  }

  /** A copy of the driver-shared area as the driver wrote it (what the device must read). */
  shared(): DriverShared {
    return cloneSharedArea(this.requireProbed());
  }

  /**
   * The register writes that bring the device up, in the driver's order: select revision and UPT
   * version, program the MAC, point at the shared area, ACTIVATE_DEV. Read CMD afterwards and pass
   * the result to `onActivated`.
   */
  activationWrites(): RegisterWrite[] {
    const shared = this.requireProbed();
    const { macl, mach } = macToRegisters(this.mac);
    return [
      { bar: 1, offset: BAR1.VRRS, value: 2 ** (shared.revision - 1) },
      { bar: 1, offset: BAR1.UVRS, value: 1 },
      { bar: 1, offset: BAR1.MACL, value: macl },
      { bar: 1, offset: BAR1.MACH, value: mach },
      { bar: 1, offset: BAR1.DSAL, value: this.sharedAddress >>> 0 },
      { bar: 1, offset: BAR1.DSAH, value: Math.floor(this.sharedAddress / 2 ** 32) >>> 0 },
      { bar: 1, offset: BAR1.CMD, value: CMD.ACTIVATE_DEV },
    ];
  }

  /** The IMR writes that unmask every vector, as the driver does once the device is active. */
  unmaskWrites(): RegisterWrite[] {
    const shared = this.requireProbed();
    return Array.from({ length: shared.intr.numIntrs }, (_, v) => ({ bar: 0 as const, offset: imrRegister(v), value: 0 }));
  }

  /** The driver read ACTIVATE_DEV's result from CMD: 0 means the device is active. Returns whether it is. */
  onActivated(result: number): boolean {
    this.requireProbed();
    this.active = result === 0;
    return this.active;
  }

  /** The driver read GET_LINK's result. */
  onLink(value: number): void {
    this.link = value >>> 0;
  }

  /** The driver stops the device (interface down): returns the command to write; probe again before the next ACTIVATE. */
  quiesce(): number {
    this.requireProbed();
    this.active = false;
    return CMD.QUIESCE_DEV;
  }

  // -------------------------------------------------------------------------------------------
  // TX

  /**
   * Produces one TX descriptor for a frame of `length` bytes: the slot and generation bit written,
   * and the TXPROD value to write so the device learns of it. Throws `ring-full` when every
   * descriptor but one is outstanding (the driver keeps one free so a full ring never looks empty).
   */
  transmit(queue: number, length = 0): TxProduced {
    this.requireActive();
    const ring = this.txq(queue).txRing;
    if (this.free(ring) === 0) throw new Vmxnet3Error('ring-full', `TX queue ${queue} has no free descriptor (${ring.size - 1} outstanding)`);
    const slot = { index: ring.next, gen: ring.gen };
    Object.assign(ring, advance(ring, ring.size));
    return { index: slot.index, gen: slot.gen, length, txprod: ring.next };
  }

  /** Descriptors the driver may still produce on a TX queue. */
  txFree(queue: number): number {
    return this.free(this.txq(queue).txRing);
  }

  /** Descriptors produced whose completion the driver has not seen. */
  txOutstanding(queue: number): number {
    const ring = this.txq(queue).txRing;
    return lag(ring.reclaimed, ring, ring.size) ?? 0;
  }

  /**
   * The device signalled TX completions up to completion slot `index`, whose generation bit reads
   * `gen`. The driver processes every entry from its next expected slot to `index` (one completed
   * descriptor each) and returns how many descriptors it reclaimed. Throws `bad-gen` when the bit
   * is not the one expected at that slot, `bad-completion` when there were not that many descriptors
   * outstanding.
   */
  onTxCompletion(queue: number, index: number, gen: Gen): number {
    this.requireProbed();
    const q = this.txq(queue);
    const comp = q.compRing;
    if (!Number.isInteger(index) || index < 0 || index >= comp.size) throw new Vmxnet3Error('bad-completion', `TX queue ${queue}: completion slot ${index} is outside a ring of ${comp.size}`);
    const expected = index >= comp.next ? comp.gen : flipGen(comp.gen);
    if (gen !== expected) {
      throw new Vmxnet3Error('bad-gen', `TX queue ${queue}: completion at slot ${index} has gen ${gen}, the driver expects gen ${expected} there`);
    }
    const count = distance(comp.next, index, comp.size) + 1;
    const outstanding = this.txOutstanding(queue);
    if (count > outstanding) {
      throw new Vmxnet3Error('bad-completion', `TX queue ${queue}: ${count} completions up to slot ${index} but only ${outstanding} descriptors outstanding`);
    }
    Object.assign(comp, advance(comp, comp.size, count));
    q.txRing.reclaimed = advance(q.txRing.reclaimed, q.txRing.size, count);
    return count;
  }

  // -------------------------------------------------------------------------------------------
  // RX

  /**
   * Posts `count` empty buffers on ring 1 or 2 of `queue` and returns the new producer index: the
   * RXPROD (ring 1) or RXPROD2 (ring 2) value to write. Allowed before ACTIVATE (drivers fill their
   * rings first). Throws `ring-full` when fewer than `count` slots are free.
   */
  postRxBuffers(queue: number, ring: RxRingId, count: number): number {
    this.requireProbed();
    const r = this.rxRing(queue, ring);
    if (!Number.isInteger(count) || count < 0) throw new Vmxnet3Error('bad-value', `Cannot post ${count} buffers`);
    const free = this.free(r);
    if (count > free) throw new Vmxnet3Error('ring-full', `RX queue ${queue} ring ${ring}: ${count} buffers asked, ${free} slots free`);
    Object.assign(r, advance(r, r.size, count));
    return r.next;
  }

  /** Slots free for buffers on an RX ring. */
  rxFree(queue: number, ring: RxRingId): number {
    return this.free(this.rxRing(queue, ring));
  }

  /**
   * The device completed a receive at completion slot `index` with generation bit `gen`, into a
   * buffer of ring `ring` (at `bufferIndex`, when the completion says). RX completions are taken one
   * at a time, in order: throws `out-of-order` for another slot, `bad-gen` for an unexpected bit,
   * `bad-completion` for a ring with no buffer posted or a buffer that is not the oldest one.
   */
  onRxCompletion(queue: number, index: number, gen: Gen, ring: RxRingId, bufferIndex?: number): void {
    this.requireProbed();
    const q = this.rxq(queue);
    const comp = q.compRing;
    if (index !== comp.next) throw new Vmxnet3Error('out-of-order', `RX queue ${queue}: completion at slot ${index}, the driver expects slot ${comp.next}`);
    if (gen !== comp.gen) throw new Vmxnet3Error('bad-gen', `RX queue ${queue}: completion at slot ${index} has gen ${gen}, the driver expects gen ${comp.gen}`);
    const r = this.rxRing(queue, ring);
    if ((lag(r.reclaimed, r, r.size) ?? 0) === 0) throw new Vmxnet3Error('bad-completion', `RX queue ${queue} ring ${ring}: a completion but no buffer was posted`);
    if (bufferIndex !== undefined && bufferIndex !== r.reclaimed.next) {
      throw new Vmxnet3Error('bad-completion', `RX queue ${queue} ring ${ring}: buffer ${bufferIndex} completed, the oldest posted is ${r.reclaimed.next}`);
    }
    Object.assign(comp, advance(comp, comp.size));
    r.reclaimed = advance(r.reclaimed, r.size);
  }

  // -------------------------------------------------------------------------------------------
  // Filters and features: each updates the shared area and returns the command to write after
  // the device has read the area again.

  /** Sets RX_MODE bits; returns UPDATE_RX_MODE. */
  setRxMode(mode: number): number {
    this.requireProbed().rxFilter.rxMode = mode >>> 0;
    return CMD.UPDATE_RX_MODE;
  }

  /** Replaces the multicast table; returns UPDATE_MAC_FILTERS. */
  setMulticast(groups: readonly MacAddress[]): number {
    this.requireProbed().rxFilter.multicast = groups.map((g) => normalizeMac(g));
    return CMD.UPDATE_MAC_FILTERS;
  }

  /** Admits or stops admitting VLAN `vid`; returns UPDATE_VLAN_FILTERS. */
  setVlan(vid: number, admit: boolean): number {
    setVlanFilter(this.requireProbed().rxFilter.vlanFilter, vid, admit);
    return CMD.UPDATE_VLAN_FILTERS;
  }

  /** Sets FEATURE bits; returns UPDATE_FEATURE. */
  setFeatures(bits: number): number {
    this.requireProbed().features = bits >>> 0;
    return CMD.UPDATE_FEATURE;
  }

  /** A copy of what the driver believes. */
  view(): Vmxnet3DriverView {
    return {
      probed: this.probed,
      active: this.active,
      mac: this.mac,
      link: this.link,
      shared: this.area === null ? null : cloneSharedArea(this.area),
      txQueues: clonePlain(this.txQueues),
      rxQueues: clonePlain(this.rxQueues),
    };
  }

  private free(ring: { size: number; next: number; gen: Gen; reclaimed: { next: number; gen: Gen } }): number {
    return ring.size - 1 - (lag(ring.reclaimed, ring, ring.size) ?? ring.size - 1);
  }

  private requireProbed(): DriverShared {
    if (!this.probed || this.area === null) throw new Vmxnet3Error('not-probed', 'The driver has not probed its device');
    return this.area;
  }

  private requireActive(): void {
    this.requireProbed();
    if (!this.active) throw new Vmxnet3Error('inactive', 'The driver has not activated its device');
  }

  private txq(queue: number): DriverTxQueueView {
    const q = this.txQueues[queue];
    if (q === undefined) throw new Vmxnet3Error('bad-queue', `TX queue ${queue} does not exist (${this.txQueues.length} queues)`);
    return q;
  }

  private rxq(queue: number): DriverRxQueueView {
    const q = this.rxQueues[queue];
    if (q === undefined) throw new Vmxnet3Error('bad-queue', `RX queue ${queue} does not exist (${this.rxQueues.length} queues)`);
    return q;
  }

  private rxRing(queue: number, ring: RxRingId): DriverRxRing {
    const q = this.rxq(queue);
    if (ring !== 1 && ring !== 2) throw new Vmxnet3Error('bad-queue', `RX ring ${String(ring)} does not exist (rings 1 and 2)`);
    return ring === 1 ? q.ring1 : q.ring2;
  }
}

function ringState(ring: RingState): RingState {
  return { size: ring.size, next: ring.next, gen: ring.gen };
}

function commandRing(ring: DriverCommandRing): DriverCommandRing {
  return { ...ringState(ring), reclaimed: position(ring.reclaimed) };
}
