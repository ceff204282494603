/**
 * The device side of vmxnet3: what the host's emulated backend runs in software and what a DPU's
 * virtual function runs in hardware. Both are this class; a hand-off between them is
 * `drain()` + `snapshot()` on one side and `Vmxnet3Device.restore()` + `resume()` on the other.
 *
 * The device never sees guest memory. The rings live there; the device holds its own positions on
 * them (consumer, completion producer, the producer the driver announced by doorbell) and learns a
 * descriptor's generation bit from whoever carries the descriptor to it (a `dma` message, the
 * emulated backend's read). Everything it holds is in `Vmxnet3DeviceState`, plain data.
 */
import { isBroadcastMac, isMulticastMac, normalizeMac } from '../net/mac.js';
import type { MacAddress } from '../net/mac.js';
import { Vmxnet3Error } from './errors.js';
import {
  BAR0,
  BAR1,
  CMD,
  DCR_COUNT,
  ECR,
  INTR_TYPE,
  LINK_UP_10G,
  MAX_INTRS,
  MAX_RX_QUEUES,
  MAX_TX_QUEUES,
  PCI_DEVICE_VMXNET3,
  PCI_VENDOR_VMWARE,
  PTCR_COUNT,
  REG_STRIDE,
  RX_MODE,
  SUPPORTED_REVISIONS,
  SUPPORTED_UPT_VERSIONS,
  commandName,
  isGetCommand,
  isRegisterValue,
  isSetCommand,
  macFromRegisters,
  macToRegisters,
} from './registers.js';
import type { Bar } from './registers.js';
import { advance, distance, formatPosition, genAt, lag, newRing, position } from './ring.js';
import { cloneRssConf } from './rss.js';
import { cloneSharedArea, validateSharedArea, vlanFilterHas } from './shared-area.js';
import { clonePlain, validateDeviceState } from './snapshot.js';
import { DEVICE_STATE_VERSION } from './state.js';
import type {
  DeviceCommandRing,
  DeviceCounters,
  DeviceStatus,
  DriverShared,
  Gen,
  RingPosition,
  RxDropReason,
  RxQueueState,
  RxRingId,
  TxQueueState,
  Vmxnet3DeviceState,
} from './state.js';

/** A TX descriptor as found in guest memory: its slot, the generation bit the driver stamped, the frame length. */
export interface TxDescriptor {
  index: number;
  gen: Gen;
  length: number;
}

/** The descriptor the device took: its slot and generation bit. */
export interface TxConsumed {
  index: number;
  gen: Gen;
}

/**
 * TX completions the device wrote: one completion entry per descriptor, the last one at `index`
 * with generation bit `gen`, covering descriptors up to `upTo` (inclusive).
 */
export interface TxCompletion {
  queue: number;
  index: number;
  gen: Gen;
  upTo: number;
  count: number;
  /** The interrupt vector signalled, or null (masked, drained, coalesced into a pending one). */
  interrupt: number | null;
}

/** A frame written into a guest RX buffer: the buffer's ring, slot and bit, and the completion entry written. */
export interface RxDelivered {
  ring: RxRingId;
  index: number;
  gen: Gen;
  compIndex: number;
  compGen: Gen;
  interrupt: number | null;
}

/** A frame the guest did not get, and why. */
export interface RxDropped {
  dropped: RxDropReason;
}

/** The outcome of `deliverRx`. */
export type RxResult = RxDelivered | RxDropped;

/** A vmxnet3 device: registers, commands, rings by generation bit, RX filters, interrupts, counters. */
export class Vmxnet3Device {
  private s: Vmxnet3DeviceState;

  /** A powered-on, never-activated device with this permanent MAC (also its MAC until the driver writes MACL/MACH). */
  constructor(permanentMac: MacAddress) {
    const mac = normalizeMac(permanentMac);
    const { macl, mach } = macToRegisters(mac);
    this.s = {
      format: 'vmxnet3-device',
      version: DEVICE_STATE_VERSION,
      permanentMac: mac,
      status: 'reset',
      drained: false,
      registers: {
        vrrs: 0,
        uvrs: 0,
        dsal: 0,
        dsah: 0,
        cmd: 0,
        cmdResult: 0,
        macl,
        mach,
        ecr: 0,
        dcr: new Array<number>(DCR_COUNT).fill(0),
        ptcr: new Array<number>(PTCR_COUNT).fill(0),
      },
      link: LINK_UP_10G,
      shared: null,
      config: null,
      interrupts: { autoMask: false, numIntrs: 0, eventIntrIdx: 0, mask: 0, pending: 0, fired: 0 },
      txQueues: [],
      rxQueues: [],
      counters: { txFrames: 0, txBytes: 0, txCompletions: 0, rxFrames: 0, rxBytes: 0, rxDrops: { 'no-buffer': 0, filtered: 0, quiesced: 0, inactive: 0, 'too-long': 0 } },
    };
  }

  /**
   * A device that carries on from a hand-off copy. Throws `bad-snapshot`, listing every problem,
   * when the copy has another format or version or describes rings that cannot be.
   */
  static restore(state: unknown): Vmxnet3Device {
    const problems = validateDeviceState(state);
    if (problems.length > 0) throw new Vmxnet3Error('bad-snapshot', `The device snapshot is not usable: ${problems[0]!}`, problems);
    const valid = state as Vmxnet3DeviceState;
    const device = new Vmxnet3Device(valid.permanentMac);
    device.s = clonePlain(valid);
    return device;
  }

  /** A deep copy of the whole state: the hand-off copy, also what the UI inspector shows. */
  snapshot(): Vmxnet3DeviceState {
    return clonePlain(this.s);
  }

  /** What the guest has done to the device (reset, active, quiesced). */
  get status(): DeviceStatus {
    return this.s.status;
  }

  /** True between `drain()` and `resume()`. */
  get drained(): boolean {
    return this.s.drained;
  }

  /** The MAC the device answers to (MACL/MACH). */
  get mac(): MacAddress {
    return macFromRegisters(this.s.registers.macl, this.s.registers.mach);
  }

  get permanentMac(): MacAddress {
    return this.s.permanentMac;
  }

  /** Number of TX and RX queues since ACTIVATE (0 before). */
  get queueCounts(): { tx: number; rx: number } {
    return { tx: this.s.txQueues.length, rx: this.s.rxQueues.length };
  }

  /** A copy of the counters. */
  counters(): DeviceCounters {
    return clonePlain(this.s.counters);
  }

  // -------------------------------------------------------------------------------------------
  // Driver-shared area and commands

  /**
   * The device reads the driver-shared area from guest memory (the emulated backend reads it
   * directly; a VF gets it in a mailbox message). Commands apply what was read last. Throws
   * `bad-shared-area` with every problem when the area is invalid; the previous copy is kept.
   */
  syncSharedArea(shared: DriverShared): void {
    const problems = validateSharedArea(shared);
    if (problems.length > 0) throw new Vmxnet3Error('bad-shared-area', `The driver-shared area is invalid: ${problems[0]!}`, problems);
    this.s.shared = cloneSharedArea(shared);
  }

  /** Reads the driver-shared area and runs ACTIVATE_DEV: fresh rings at slot 0, generation 1, every vector masked. */
  activate(shared: DriverShared): void {
    this.syncSharedArea(shared);
    this.runSetCommand(CMD.ACTIVATE_DEV);
  }

  /**
   * A guest write to a register. Returns the interrupt vector this write made the device signal
   * (unmasking a vector with an event pending), or null.
   *
   * BAR0: IMR (per vector), TXPROD, RXPROD, RXPROD2 (per queue). BAR1: VRRS, UVRS, DSAL, DSAH, CMD,
   * MACL, MACH, ECR (write 1s to acknowledge). Throws `unknown-register`, `read-only-register`,
   * `bad-value`, and whatever the doorbell or command refuses.
   */
  writeRegister(bar: Bar, offset: number, value: number): number | null {
    if (!isRegisterValue(value)) throw new Vmxnet3Error('bad-value', `Register value ${value} is not a 32-bit unsigned integer`);
    if (bar === 0) return this.writeBar0(offset, value);
    const r = this.s.registers;
    switch (offset) {
      case BAR1.VRRS:
        r.vrrs = selection(value, SUPPORTED_REVISIONS, 'vmxnet3 revision');
        return null;
      case BAR1.UVRS:
        r.uvrs = selection(value, SUPPORTED_UPT_VERSIONS, 'UPT version');
        return null;
      case BAR1.DSAL:
        r.dsal = value;
        return null;
      case BAR1.DSAH:
        r.dsah = value;
        return null;
      case BAR1.MACL:
        r.macl = value;
        return null;
      case BAR1.MACH:
        if (value > 0xffff) throw new Vmxnet3Error('bad-value', `MACH holds two bytes, not 0x${value.toString(16)}`);
        r.mach = value;
        return null;
      case BAR1.ECR:
        r.ecr = (r.ecr & ~value) >>> 0;
        return null;
      case BAR1.CMD:
        r.cmd = value;
        if (isGetCommand(value)) r.cmdResult = this.readCommandResult(value);
        else {
          this.runSetCommand(value);
          r.cmdResult = 0;
        }
        return null;
      case BAR1.ICR:
        throw new Vmxnet3Error('read-only-register', 'ICR is read-only');
      default:
        if (this.isCapabilityRegister(offset)) throw new Vmxnet3Error('read-only-register', `BAR1 0x${offset.toString(16)} is a read-only capability register`);
        throw new Vmxnet3Error('unknown-register', `BAR1 has no register at 0x${offset.toString(16)}`);
    }
  }

  /** A guest read of a register: VRRS and UVRS report what is supported, CMD the last command's result, ICR the pending vectors. */
  readRegister(bar: Bar, offset: number): number {
    if (bar === 0) {
      const slot = this.bar0Slot(offset);
      if (slot.kind === 'imr') return (this.s.interrupts.mask >>> slot.index) & 1;
      if (slot.kind === 'txprod') return this.txq(slot.index).txRing.produced.next;
      return this.rxRing(slot.index, slot.kind === 'rxprod' ? 1 : 2).produced.next;
    }
    const r = this.s.registers;
    switch (offset) {
      case BAR1.VRRS:
        return SUPPORTED_REVISIONS;
      case BAR1.UVRS:
        return SUPPORTED_UPT_VERSIONS;
      case BAR1.DSAL:
        return r.dsal;
      case BAR1.DSAH:
        return r.dsah;
      case BAR1.CMD:
        return r.cmdResult;
      case BAR1.MACL:
        return r.macl;
      case BAR1.MACH:
        return r.mach;
      case BAR1.ICR:
        return this.s.interrupts.pending;
      case BAR1.ECR:
        return r.ecr;
      default:
        if (this.isCapabilityRegister(offset)) {
          return offset >= BAR1.PTCR ? r.ptcr[(offset - BAR1.PTCR) / REG_STRIDE]! : r.dcr[(offset - BAR1.DCR) / REG_STRIDE]!;
        }
        throw new Vmxnet3Error('unknown-register', `BAR1 has no register at 0x${offset.toString(16)}`);
    }
  }

  /**
   * The result of a GET command, as a CMD read after writing it would return.
   *
   * GET_QUEUE_STATUS returns a bitmap of stopped queues (TX queue q at bit q, RX queue q at bit
   * 8 + q); a real device writes per-queue status into the shared area and returns 0. GET_DID_LO
   * returns the PCI vendor and device ids and GET_DID_HI 0, and GET_DEV_EXTRA_INFO 0: what real
   * devices return there is not documented in the Linux driver.
   */
  readCommandResult(cmd: number): number {
    switch (cmd) {
      case CMD.GET_QUEUE_STATUS: {
        let bits = 0;
        this.s.txQueues.forEach((q, i) => (bits |= q.stopped ? 1 << i : 0));
        this.s.rxQueues.forEach((q, i) => (bits |= q.stopped ? 1 << (MAX_TX_QUEUES + i) : 0));
        return bits >>> 0;
      }
      case CMD.GET_STATS:
        return 0;
      case CMD.GET_LINK:
        return this.s.link;
      case CMD.GET_PERM_MAC_LO:
        return macToRegisters(this.s.permanentMac).macl;
      case CMD.GET_PERM_MAC_HI:
        return macToRegisters(this.s.permanentMac).mach;
      case CMD.GET_DID_LO:
        return (PCI_VENDOR_VMWARE | (PCI_DEVICE_VMXNET3 << 16)) >>> 0;
      case CMD.GET_DID_HI:
        return 0;
      case CMD.GET_DEV_EXTRA_INFO:
        return 0;
      case CMD.GET_CONF_INTR:
        return INTR_TYPE.MSIX;
      default:
        throw new Vmxnet3Error('unknown-command', `Command ${commandName(cmd)} is not a GET command this device implements`);
    }
  }

  private runSetCommand(cmd: number): void {
    const s = this.s;
    switch (cmd) {
      case CMD.ACTIVATE_DEV:
        return this.activateFromShared();
      case CMD.QUIESCE_DEV:
        if (s.status === 'active') s.status = 'quiesced';
        return;
      case CMD.RESET_DEV:
        s.status = 'reset';
        s.config = null;
        s.txQueues = [];
        s.rxQueues = [];
        s.registers.ecr = 0;
        s.interrupts = { autoMask: false, numIntrs: 0, eventIntrIdx: 0, mask: 0, pending: 0, fired: s.interrupts.fired };
        return;
      case CMD.UPDATE_RX_MODE:
        this.applied().rxMode = this.area().rxFilter.rxMode;
        return;
      case CMD.UPDATE_MAC_FILTERS:
        this.applied().multicast = [...this.area().rxFilter.multicast];
        return;
      case CMD.UPDATE_VLAN_FILTERS:
        this.applied().vlanFilter = [...this.area().rxFilter.vlanFilter];
        return;
      case CMD.UPDATE_FEATURE:
        this.applied().features = this.area().features;
        return;
      case CMD.UPDATE_IML: {
        const levels = this.area().intr.modLevels;
        if (levels.length !== s.interrupts.numIntrs) {
          throw new Vmxnet3Error('bad-shared-area', `UPDATE_IML: the shared area has ${levels.length} moderation levels for ${s.interrupts.numIntrs} vectors`);
        }
        this.applied().modLevels = [...levels];
        return;
      }
      case CMD.UPDATE_RSSIDT: {
        // The driver rewrote its RSS configuration (a new indirection table, key or hash types).
        const rss = this.area().rss;
        this.applied().rss = rss ? cloneRssConf(rss) : null;
        return;
      }
      case CMD.UPDATE_PMCFG:
        // Accepted: wake-on-LAN has no effect in the emulator.
        this.applied();
        return;
      default:
        if (!isSetCommand(cmd)) throw new Vmxnet3Error('unknown-command', `0x${(cmd >>> 0).toString(16)} is not a vmxnet3 command`);
        throw new Vmxnet3Error('unknown-command', `Command ${commandName(cmd)} is not implemented by this device`);
    }
  }

  private activateFromShared(): void {
    const s = this.s;
    if (s.status === 'active') throw new Vmxnet3Error('already-active', 'ACTIVATE_DEV on a device that is already active');
    const shared = s.shared;
    if (shared === null) throw new Vmxnet3Error('no-shared-area', 'ACTIVATE_DEV before the device read a driver-shared area');
    s.txQueues = shared.txQueues.map((q): TxQueueState => ({
      txRing: { ...newRing(q.ringSize), produced: position(newRing(q.ringSize)) },
      completed: position(newRing(q.ringSize)),
      compRing: newRing(q.compRingSize),
      intrIdx: q.intrIdx,
      stopped: false,
    }));
    s.rxQueues = shared.rxQueues.map((q): RxQueueState => ({
      ring1: { ...newRing(q.ring1Size), produced: position(newRing(q.ring1Size)), bufferLength: q.ring1BufferLength },
      ring2: { ...newRing(q.ring2Size), produced: position(newRing(q.ring2Size)), bufferLength: q.ring2BufferLength },
      compRing: newRing(q.compRingSize),
      intrIdx: q.intrIdx,
      stopped: false,
    }));
    s.config = {
      mtu: shared.mtu,
      features: shared.features,
      rxMode: shared.rxFilter.rxMode,
      multicast: [...shared.rxFilter.multicast],
      vlanFilter: [...shared.rxFilter.vlanFilter],
      modLevels: [...shared.intr.modLevels],
      rss: shared.rss ? cloneRssConf(shared.rss) : null,
    };
    const all = 2 ** shared.intr.numIntrs - 1;
    s.interrupts = { autoMask: shared.intr.autoMask, numIntrs: shared.intr.numIntrs, eventIntrIdx: shared.intr.eventIntrIdx, mask: all, pending: 0, fired: s.interrupts.fired };
    s.registers.ecr = 0;
    s.status = 'active';
  }

  private area(): DriverShared {
    if (this.s.shared === null) throw new Vmxnet3Error('no-shared-area', 'The device has not read a driver-shared area');
    return this.s.shared;
  }

  private applied(): NonNullable<Vmxnet3DeviceState['config']> {
    if (this.s.config === null) throw new Vmxnet3Error('inactive', 'The device was never activated: there is no configuration to update');
    return this.s.config;
  }

  private isCapabilityRegister(offset: number): boolean {
    const inRange = (base: number, count: number): boolean => offset >= base && offset < base + count * REG_STRIDE && (offset - base) % REG_STRIDE === 0;
    return inRange(BAR1.DCR, DCR_COUNT) || inRange(BAR1.PTCR, PTCR_COUNT);
  }

  // -------------------------------------------------------------------------------------------
  // BAR0: doorbells and interrupt masks

  private bar0Slot(offset: number): { kind: 'imr' | 'txprod' | 'rxprod' | 'rxprod2'; index: number } {
    const windows = [
      ['imr', BAR0.IMR, MAX_INTRS],
      ['txprod', BAR0.TXPROD, MAX_TX_QUEUES],
      ['rxprod', BAR0.RXPROD, MAX_RX_QUEUES],
      ['rxprod2', BAR0.RXPROD2, MAX_RX_QUEUES],
    ] as const;
    for (const [kind, base, count] of windows) {
      if (offset >= base && offset < base + count * REG_STRIDE && (offset - base) % REG_STRIDE === 0) return { kind, index: (offset - base) / REG_STRIDE };
    }
    throw new Vmxnet3Error('unknown-register', `BAR0 has no register at 0x${offset.toString(16)}`);
  }

  private writeBar0(offset: number, value: number): number | null {
    const slot = this.bar0Slot(offset);
    switch (slot.kind) {
      case 'imr':
        return this.setMask(slot.index, value !== 0);
      case 'txprod':
        this.txDoorbell(slot.index, value);
        return null;
      case 'rxprod':
        this.fillRx(slot.index, 1, value);
        return null;
      case 'rxprod2':
        this.fillRx(slot.index, 2, value);
        return null;
    }
  }

  private setMask(vector: number, masked: boolean): number | null {
    const intr = this.s.interrupts;
    const limit = this.s.status === 'reset' ? MAX_INTRS : intr.numIntrs;
    if (vector >= limit) throw new Vmxnet3Error('bad-queue', `Interrupt vector ${vector} does not exist (${limit} vectors)`);
    const bit = 2 ** vector;
    if (masked) {
      intr.mask = setBit(intr.mask, bit);
      return null;
    }
    intr.mask = clearBit(intr.mask, bit);
    if (hasBit(intr.pending, bit) && this.canSignal()) {
      intr.pending = clearBit(intr.pending, bit);
      return this.fire(vector);
    }
    return null;
  }

  private canSignal(): boolean {
    return this.s.status === 'active' && !this.s.drained;
  }

  private fire(vector: number): number {
    const intr = this.s.interrupts;
    intr.fired++;
    if (intr.autoMask) intr.mask = setBit(intr.mask, 2 ** vector);
    return vector;
  }

  /** An event for `vector`: signalled now if it can be, otherwise left pending until the vector is unmasked. */
  private raise(vector: number): number | null {
    const intr = this.s.interrupts;
    const bit = 2 ** vector;
    if (!hasBit(intr.mask, bit) && this.canSignal()) return this.fire(vector);
    intr.pending = setBit(intr.pending, bit);
    return null;
  }

  private requireDoorbell(): void {
    if (this.s.status === 'reset') throw new Vmxnet3Error('inactive', 'Doorbell on a device that was not activated');
    if (this.s.status === 'quiesced') throw new Vmxnet3Error('quiesced', 'Doorbell on a quiesced device');
  }

  /** Moves an announced producer to `index`, refusing an index outside the ring or one that overruns `oldest`. */
  private announce(ring: DeviceCommandRing, oldest: RingPosition, index: number, what: string): void {
    if (!Number.isInteger(index) || index < 0 || index >= ring.size) throw new Vmxnet3Error('bad-doorbell', `${what}: producer index ${index} is outside a ring of ${ring.size}`);
    const produced = advance(ring.produced, ring.size, distance(ring.produced.next, index, ring.size));
    const outstanding = lag(oldest, produced, ring.size);
    if (outstanding === null || outstanding > ring.size - 1) {
      throw new Vmxnet3Error('bad-doorbell', `${what}: producer index ${index} would overrun descriptors the device still owns (from ${formatPosition(oldest)})`);
    }
    ring.produced = produced;
  }

  private txDoorbell(queue: number, index: number): void {
    this.requireDoorbell();
    const q = this.txq(queue);
    this.announce(q.txRing, q.completed, index, `TX queue ${queue}`);
  }

  // -------------------------------------------------------------------------------------------
  // TX

  private requireDma(): void {
    if (this.s.status === 'reset') throw new Vmxnet3Error('inactive', 'DMA on a device that was not activated');
    if (this.s.status === 'quiesced') throw new Vmxnet3Error('quiesced', 'DMA on a device the guest quiesced');
    if (this.s.drained) throw new Vmxnet3Error('quiesced', 'DMA on a device drained for a hand-off');
  }

  private txq(queue: number): TxQueueState {
    const q = this.s.txQueues[queue];
    if (q === undefined) throw new Vmxnet3Error('bad-queue', `TX queue ${queue} does not exist (${this.s.txQueues.length} queues)`);
    return q;
  }

  /**
   * Stops a queue after an error and records the event (TQERR, RQERR). The operation that found the
   * error throws, so the event vector is left pending: it is signalled at the driver's next unmask
   * of that vector, or at `resume()`.
   */
  private stopQueue(q: TxQueueState | RxQueueState, event: number): void {
    q.stopped = true;
    this.s.registers.ecr = (this.s.registers.ecr | event) >>> 0;
    const intr = this.s.interrupts;
    intr.pending = setBit(intr.pending, 2 ** intr.eventIntrIdx);
  }

  /**
   * Takes the next TX descriptor the driver produced, or returns null when the doorbell announced
   * none. `descriptor` is the descriptor as found in guest memory; without it the device trusts its
   * own record of what the doorbell announced. A generation bit that does not match the device's
   * expectation stops the queue (TQERR) and throws `bad-gen`.
   */
  consumeTx(queue: number, descriptor?: TxDescriptor): TxConsumed | null {
    this.requireDma();
    const q = this.txq(queue);
    if (q.stopped) throw new Vmxnet3Error('queue-stopped', `TX queue ${queue} stopped after an error`);
    const ring = q.txRing;
    if (descriptor !== undefined && descriptor.index !== ring.next) {
      throw new Vmxnet3Error('out-of-order', `TX queue ${queue}: descriptor at slot ${descriptor.index} is not the next one (slot ${ring.next})`);
    }
    const announced = ring.next !== ring.produced.next;
    const found = descriptor?.gen ?? genAt(ring.produced, ring.next);
    const owned = found === ring.gen;
    if (!announced && !owned) return null;
    if (!announced && descriptor !== undefined) {
      throw new Vmxnet3Error('bad-doorbell', `TX queue ${queue}: descriptor at slot ${ring.next} arrived before a doorbell announced it`);
    }
    if (!announced || !owned) {
      this.stopQueue(q, ECR.TQERR);
      throw new Vmxnet3Error(
        'bad-gen',
        `TX queue ${queue}: descriptor at slot ${ring.next} has gen ${found}, the device expects gen ${ring.gen} and was announced up to ${formatPosition(ring.produced)}`,
      );
    }
    const taken = { index: ring.next, gen: ring.gen };
    Object.assign(ring, advance(ring, ring.size));
    this.s.counters.txFrames++;
    this.s.counters.txBytes += descriptor?.length ?? 0;
    return taken;
  }

  /**
   * Writes TX completions for every consumed descriptor up to `upToIndex` (inclusive), one
   * completion entry each, and raises the queue's interrupt. Throws `bad-completion` when
   * `upToIndex` is not among the consumed, not yet completed descriptors.
   */
  completeTx(queue: number, upToIndex: number): TxCompletion {
    this.requireDma();
    return this.complete(queue, upToIndex);
  }

  private complete(queue: number, upToIndex: number): TxCompletion {
    const q = this.txq(queue);
    const size = q.txRing.size;
    const unfinished = lag(q.completed, q.txRing, size) ?? 0;
    if (!Number.isInteger(upToIndex) || upToIndex < 0 || upToIndex >= size) throw new Vmxnet3Error('bad-completion', `TX queue ${queue}: slot ${upToIndex} is outside a ring of ${size}`);
    const count = distance(q.completed.next, upToIndex, size) + 1;
    if (unfinished === 0 || count > unfinished) {
      throw new Vmxnet3Error('bad-completion', `TX queue ${queue}: slot ${upToIndex} was not consumed (consumed and not completed: ${unfinished} from slot ${q.completed.next})`);
    }
    let last: RingPosition = q.compRing;
    for (let i = 0; i < count; i++) {
      last = position(q.compRing);
      Object.assign(q.compRing, advance(q.compRing, q.compRing.size));
    }
    q.completed = advance(q.completed, size, count);
    this.s.counters.txCompletions += count;
    return { queue, index: last.next, gen: last.gen, upTo: upToIndex, count, interrupt: this.raise(q.intrIdx) };
  }

  /** Descriptors the doorbell announced that the device has not consumed. */
  pendingTx(queue: number): number {
    const q = this.txq(queue);
    return lag(q.txRing, q.txRing.produced, q.txRing.size) ?? 0;
  }

  /** Descriptors consumed whose completion has not been written, and the slot of the newest one (null when none). */
  unfinishedTx(queue: number): { count: number; last: number | null } {
    const q = this.txq(queue);
    const count = lag(q.completed, q.txRing, q.txRing.size) ?? 0;
    return { count, last: count === 0 ? null : (q.txRing.next + q.txRing.size - 1) % q.txRing.size };
  }

  // -------------------------------------------------------------------------------------------
  // RX

  private rxq(queue: number): RxQueueState {
    const q = this.s.rxQueues[queue];
    if (q === undefined) throw new Vmxnet3Error('bad-queue', `RX queue ${queue} does not exist (${this.s.rxQueues.length} queues)`);
    return q;
  }

  private rxRing(queue: number, ring: RxRingId): RxQueueState['ring1'] {
    const q = this.rxq(queue);
    if (ring !== 1 && ring !== 2) throw new Vmxnet3Error('bad-queue', `RX ring ${String(ring)} does not exist (rings 1 and 2)`);
    return ring === 1 ? q.ring1 : q.ring2;
  }

  /**
   * The driver posted RX buffers on ring 1 or 2 of `queue` up to (not including) `upToIndex`: the
   * RXPROD / RXPROD2 doorbell. Throws `bad-doorbell` for an index that would overrun buffers the
   * device has not used yet.
   */
  fillRx(queue: number, ring: RxRingId, upToIndex: number): void {
    this.requireDoorbell();
    const r = this.rxRing(queue, ring);
    this.announce(r, r, upToIndex, `RX queue ${queue} ring ${ring}`);
  }

  /** RX buffers posted on a ring that the device has not used yet. */
  postedRx(queue: number, ring: RxRingId): number {
    const r = this.rxRing(queue, ring);
    return lag(r, r.produced, r.size) ?? 0;
  }

  /**
   * Whether the RX filters admit a frame to `dstMac` on VLAN `vlan` (null = untagged, filtered as
   * VID 0): PROMISC admits everything; otherwise the VLAN must be in the filter table, and the
   * address must be broadcast with BCAST, multicast with ALL_MULTI or with MCAST and in the
   * multicast table, or the device's own MAC with UCAST.
   */
  accepts(dstMac: MacAddress, vlan: number | null = null): boolean {
    const config = this.s.config;
    if (config === null) return false;
    const mode = config.rxMode;
    if ((mode & RX_MODE.PROMISC) !== 0) return true;
    if (!vlanFilterHas(config.vlanFilter, vlan ?? 0)) return false;
    const dst = normalizeMac(dstMac);
    if (isBroadcastMac(dst)) return (mode & RX_MODE.BCAST) !== 0;
    if (isMulticastMac(dst)) return (mode & RX_MODE.ALL_MULTI) !== 0 || ((mode & RX_MODE.MCAST) !== 0 && config.multicast.includes(dst));
    return (mode & RX_MODE.UCAST) !== 0 && dst === this.mac;
  }

  /**
   * Writes a received frame into the next guest buffer and its RX completion, and raises the
   * queue's interrupt. A frame that fits a ring 1 buffer goes to ring 1, a larger one to ring 2.
   * A frame the guest cannot get is counted and reported as dropped, never thrown: `inactive`
   * (not activated, or the queue stopped), `quiesced` (guest quiesce or hand-off drain),
   * `filtered`, `too-long`, `no-buffer`.
   */
  deliverRx(queue: number, frameLength: number, dstMac: MacAddress, vlan: number | null = null): RxResult {
    if (!Number.isInteger(frameLength) || frameLength <= 0) throw new Vmxnet3Error('bad-value', `Frame length ${frameLength} is not a positive integer`);
    const s = this.s;
    if (s.status === 'reset') return this.drop('inactive');
    if (s.status === 'quiesced' || s.drained) return this.drop('quiesced');
    const q = this.rxq(queue);
    if (q.stopped) return this.drop('inactive');
    if (!this.accepts(dstMac, vlan)) return this.drop('filtered');
    const ringId: RxRingId = frameLength <= q.ring1.bufferLength ? 1 : 2;
    const ring = ringId === 1 ? q.ring1 : q.ring2;
    if (frameLength > ring.bufferLength) return this.drop('too-long');
    const announced = ring.next !== ring.produced.next;
    const found = genAt(ring.produced, ring.next);
    const owned = found === ring.gen;
    if (!announced && !owned) return this.drop('no-buffer');
    if (!announced || !owned) {
      this.stopQueue(q, ECR.RQERR);
      throw new Vmxnet3Error('bad-gen', `RX queue ${queue} ring ${ringId}: buffer at slot ${ring.next} has gen ${found}, the device expects gen ${ring.gen}`);
    }
    const buffer = { index: ring.next, gen: ring.gen };
    Object.assign(ring, advance(ring, ring.size));
    const comp = position(q.compRing);
    Object.assign(q.compRing, advance(q.compRing, q.compRing.size));
    s.counters.rxFrames++;
    s.counters.rxBytes += frameLength;
    return { ring: ringId, index: buffer.index, gen: buffer.gen, compIndex: comp.next, compGen: comp.gen, interrupt: this.raise(q.intrIdx) };
  }

  private drop(reason: RxDropReason): RxDropped {
    this.s.counters.rxDrops[reason]++;
    return { dropped: reason };
  }

  // -------------------------------------------------------------------------------------------
  // Hand-off and link

  /**
   * The hypervisor stops the device's DMA before a hand-off: every consumed TX descriptor gets its
   * completion (returned, so they can be sent to the guest), interrupts for them stay pending and
   * move with the snapshot, and the device takes no new descriptor until `resume()`. The guest sees
   * nothing: its device is still active.
   */
  drain(): TxCompletion[] {
    this.s.drained = true;
    if (this.s.status !== 'active') return [];
    const done: TxCompletion[] = [];
    this.s.txQueues.forEach((q, queue) => {
      const { count, last } = this.unfinishedTx(queue);
      if (count > 0 && last !== null) done.push(this.complete(queue, last));
    });
    return done;
  }

  /** Ends a drain: DMA may run again, and vectors with events pending behind no mask are signalled (returned). */
  resume(): number[] {
    this.s.drained = false;
    const fired: number[] = [];
    if (this.s.status !== 'active') return fired;
    const intr = this.s.interrupts;
    for (let v = 0; v < intr.numIntrs; v++) {
      const bit = 2 ** v;
      if (hasBit(intr.pending, bit) && !hasBit(intr.mask, bit)) {
        intr.pending = clearBit(intr.pending, bit);
        fired.push(this.fire(v));
      }
    }
    return fired;
  }

  /** The link goes up or down: GET_LINK changes, ECR.LINK is set and the event vector raised (returned, or null). */
  setLink(up: boolean): number | null {
    const value = up ? LINK_UP_10G : 0;
    if (value === this.s.link) return null;
    this.s.link = value;
    if (this.s.status !== 'active') return null;
    this.s.registers.ecr = (this.s.registers.ecr | ECR.LINK) >>> 0;
    return this.raise(this.s.interrupts.eventIntrIdx);
  }
}

function selection(value: number, supported: number, what: string): number {
  const single = value !== 0 && (value & (value - 1)) === 0;
  if (!single || (value & supported) !== value) throw new Vmxnet3Error('bad-value', `0x${value.toString(16)} does not select one supported ${what} (supported 0x${supported.toString(16)})`);
  return value;
}

// Vectors go up to 24: bit operations on 2 ** v stay within 32 bits, `>>> 0` keeps them unsigned.
function hasBit(bits: number, bit: number): boolean {
  return (bits & bit) !== 0;
}

function setBit(bits: number, bit: number): number {
  return (bits | bit) >>> 0;
}

function clearBit(bits: number, bit: number): number {
  return (bits & ~bit) >>> 0;
}

