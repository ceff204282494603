/**
 * One virtual function of the DPU: a vmxnet3 device in hardware, bound to at most one vNIC, with
 * the VFIO migration state that governs when it may touch guest memory and when its state may be
 * read out or written in.
 *
 * A vNIC moves onto a VF (UPTv2 comes up, or a vMotion arrives) by RESUMING with the state the
 * previous device saved, and leaves it (UPTv2 falls back to emulated, or a vMotion departs) by
 * STOP_COPY. On the way to STOP the function drains its DMA: every descriptor it consumed gets its
 * completion, so the copy holds no work in flight.
 */
import { illegalArc } from './arc-checker.js';
import { ZERO_MAC, normalizeMac } from '../../../shared/net/mac.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import { Vmxnet3Device } from '../../../shared/vmxnet3/device.js';
import type { RxResult, TxCompletion, TxConsumed, TxDescriptor } from '../../../shared/vmxnet3/device.js';
import type { Bar } from '../../../shared/vmxnet3/registers.js';
import { clonePlain, validateDeviceState } from '../../../shared/vmxnet3/snapshot.js';
import type { DriverShared, RxRingId, Vmxnet3DeviceState } from '../../../shared/vmxnet3/state.js';
import type { NodeContext } from '../../runtime/types.js';
import { VfError } from './errors.js';
import { dmaAllowed, legalArc, pathTo } from './vfio.js';
import type { VfioState } from './vfio.js';

/** How a function came to a state: along an arc, by failing one, or by a reset. */
export type VfStateVia = 'arc' | 'error' | 'reset';

/** What a function holds for its host to pick up: completions written by a drain, interrupts signalled on resume. */
export interface VfOutbox {
  completions: TxCompletion[];
  interrupts: number[];
}

/** A plain-data view of a function, for inspectors. */
export interface VirtualFunctionView {
  vf: number;
  vnic: string | null;
  mac: MacAddress | null;
  state: VfioState;
  /** Device state written in RESUMING and not yet validated. */
  loaded: boolean;
  /** Frames refused because the state allowed no DMA. */
  refusedRx: number;
  device: Vmxnet3DeviceState;
}

/** A DPU virtual function. */
export class VirtualFunction {
  /** The function's index on the DPU (VF 0, VF 1, ...). */
  readonly index: number;
  private vnicId: string | null = null;
  private macAddress: MacAddress | null = null;
  private dev: Vmxnet3Device;
  private mig: VfioState = 'RUNNING';
  private incoming: unknown = null;
  private hasIncoming = false;
  private refusedRx = 0;
  private outbox: VfOutbox = { completions: [], interrupts: [] };

  constructor(index: number) {
    this.index = index;
    this.dev = new Vmxnet3Device(ZERO_MAC);
  }

  /** The vNIC this function serves, or null. */
  get vnic(): string | null {
    return this.vnicId;
  }

  /** The MAC of the bound vNIC, or null. */
  get mac(): MacAddress | null {
    return this.macAddress;
  }

  /** The migration state. */
  get state(): VfioState {
    return this.mig;
  }

  /** The device, for reads (registers, counters, snapshots); DMA goes through the function's own methods. */
  get device(): Vmxnet3Device {
    return this.dev;
  }

  /** Gives the function to a vNIC: a fresh device with the vNIC's MAC, in RUNNING. */
  bind(vnic: string, mac: MacAddress): void {
    if (this.vnicId !== null) throw new VfError('already-bound', this.index, `VF ${this.index} already serves ${this.vnicId}`);
    this.vnicId = vnic;
    this.macAddress = normalizeMac(mac);
    this.clear();
  }

  /** Takes the function back from its vNIC: a blank device, RUNNING, nothing pending. */
  unbind(): void {
    this.vnicId = null;
    this.macAddress = null;
    this.clear();
  }

  private clear(): void {
    this.dev = new Vmxnet3Device(this.macAddress ?? ZERO_MAC);
    this.mig = 'RUNNING';
    this.incoming = null;
    this.hasIncoming = false;
    this.refusedRx = 0;
    this.outbox = { completions: [], interrupts: [] };
  }

  // -------------------------------------------------------------------------------------------
  // Migration state

  /**
   * Takes one direct arc to `target`. An illegal arc is recorded as `vf.error` and refused (the
   * state does not change, false is returned); a legal one is recorded as `vf.state`. Asking for the
   * current state succeeds and records nothing. RESUMING -> STOP validates the loaded device state:
   * a bad one is recorded as `vf.error` and leaves the function in ERROR.
   */
  transition(ctx: NodeContext, target: VfioState): boolean {
    const from = this.mig;
    if (target === from) return true;
    if (!legalArc(from, target)) {
      const reason = from === 'ERROR' ? 'the function is in ERROR, only a reset leaves it' : `there is no direct arc from ${from} to ${target}`;
      this.refuse(ctx, from, target, reason);
      return false;
    }
    if (from === 'RESUMING' && target === 'STOP') return this.finishResuming(ctx);
    if ((from === 'RUNNING_P2P' && target === 'STOP') || (from === 'PRE_COPY_P2P' && target === 'STOP_COPY')) this.drain(ctx);
    if (from === 'STOP' && target === 'RUNNING_P2P') this.outbox.interrupts.push(...this.dev.resume());
    if (target === 'RESUMING') {
      this.incoming = null;
      this.hasIncoming = false;
    }
    this.enter(ctx, target, 'arc');
    return true;
  }

  /**
   * Brings the function to `target` one direct arc at a time, along the kernel's path. A target
   * with no path (STOP_COPY -> PRE_COPY, anything out of ERROR) is recorded as `vf.error` and
   * refused; an arc that fails stops the walk. Returns whether the target was reached.
   */
  request(ctx: NodeContext, target: VfioState): boolean {
    const from = this.mig;
    const path = pathTo(from, target);
    if (path === null) {
      const reason = from === 'ERROR' ? 'the function is in ERROR, only a reset leaves it' : `the migration state machine has no path from ${from} to ${target}`;
      this.refuse(ctx, from, target, reason);
      return false;
    }
    for (const arc of path) if (!this.transition(ctx, arc.to)) return false;
    return true;
  }

  /** A function-level reset: back to RUNNING with a fresh device for the bound vNIC, from any state (ERROR included). */
  reset(ctx: NodeContext): void {
    const from = this.mig;
    this.clear();
    ctx.emit('vf.state', { vf: this.index, vnic: this.vnicId, from, to: 'RUNNING', via: 'reset' satisfies VfStateVia });
  }

  /** The device state, for the next device to carry on from. Only in STOP_COPY. */
  saveState(): Vmxnet3DeviceState {
    if (this.mig !== 'STOP_COPY') throw new VfError('wrong-state', this.index, `VF ${this.index} can save its device state only in STOP_COPY, not ${this.mig}`);
    return this.dev.snapshot();
  }

  /** Writes device state in, to be checked on RESUMING -> STOP. Only in RESUMING. */
  loadState(snapshot: unknown): void {
    if (this.mig !== 'RESUMING') throw new VfError('wrong-state', this.index, `VF ${this.index} can load device state only in RESUMING, not ${this.mig}`);
    this.incoming = clonePlain(snapshot);
    this.hasIncoming = true;
  }

  private finishResuming(ctx: NodeContext): boolean {
    const problems = this.loadProblems();
    if (problems.length > 0) {
      ctx.emit('vf.error', { vf: this.index, vnic: this.vnicId, from: 'RESUMING', to: 'STOP', reason: problems[0]!, problems });
      this.enter(ctx, 'ERROR', 'error');
      return false;
    }
    this.dev = Vmxnet3Device.restore(this.incoming);
    this.incoming = null;
    this.hasIncoming = false;
    this.enter(ctx, 'STOP', 'arc');
    return true;
  }

  private loadProblems(): string[] {
    if (!this.hasIncoming) return ['no device state was loaded'];
    const problems = validateDeviceState(this.incoming);
    if (problems.length > 0) return problems.map((p) => `the loaded device state is not usable: ${p}`);
    const state = this.incoming as Vmxnet3DeviceState;
    if (!state.drained) return ['the loaded device state was saved while its DMA was still running'];
    if (this.macAddress !== null && state.permanentMac !== this.macAddress) {
      return [`the loaded device state belongs to ${state.permanentMac}, this function serves ${this.macAddress}`];
    }
    return [];
  }

  private drain(ctx: NodeContext): void {
    const done = this.dev.drain();
    this.outbox.completions.push(...done);
    ctx.emit('vf.drain', {
      vf: this.index,
      vnic: this.vnicId,
      completions: done.map((c) => ({ queue: c.queue, index: c.index, gen: c.gen, upTo: c.upTo, count: c.count })),
    });
  }

  private enter(ctx: NodeContext, to: VfioState, via: VfStateVia): void {
    const from = this.mig;
    this.mig = to;
    ctx.emit('vf.state', { vf: this.index, vnic: this.vnicId, from, to, via });
    const illegal = illegalArc(from, to, via);
    if (illegal !== null) ctx.emit('vf.checker.violation', { vf: this.index, vnic: this.vnicId, from, to, via, problem: illegal });
  }

  private refuse(ctx: NodeContext, from: VfioState, to: VfioState, reason: string): void {
    ctx.emit('vf.error', { vf: this.index, vnic: this.vnicId, from, to, reason });
  }

  /** Completions written by drains and interrupts signalled on resume since the last call, for the host. */
  takeOutbox(): VfOutbox {
    const out = this.outbox;
    this.outbox = { completions: [], interrupts: [] };
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // The guest's side, refused unless the state allows DMA

  private requireRunning(what: string): void {
    if (this.vnicId === null) throw new VfError('not-bound', this.index, `VF ${this.index} serves no vNIC and refuses ${what}`);
    if (!dmaAllowed(this.mig)) throw new VfError('dma-refused', this.index, `VF ${this.index} refuses ${what} in ${this.mig}`);
  }

  /** The device reads the driver-shared area and activates (the host relays both through the mailbox). */
  activate(shared: DriverShared): void {
    this.requireRunning('activation');
    this.dev.activate(shared);
  }

  /** The device reads the driver-shared area again (before an UPDATE command). */
  syncSharedArea(shared: DriverShared): void {
    this.requireRunning('a shared-area read');
    this.dev.syncSharedArea(shared);
  }

  /** A guest register write (doorbell, mask, command); returns the vector it made the device signal, or null. */
  writeRegister(bar: Bar, offset: number, value: number): number | null {
    this.requireRunning('register writes');
    return this.dev.writeRegister(bar, offset, value);
  }

  /** The device takes the next TX descriptor (see `Vmxnet3Device.consumeTx`). */
  consumeTx(queue: number, descriptor?: TxDescriptor): TxConsumed | null {
    this.requireRunning('TX DMA');
    return this.dev.consumeTx(queue, descriptor);
  }

  /** The device writes TX completions up to `upToIndex` (see `Vmxnet3Device.completeTx`). */
  completeTx(queue: number, upToIndex: number): TxCompletion {
    this.requireRunning('TX completions');
    return this.dev.completeTx(queue, upToIndex);
  }

  /** The guest posted RX buffers up to `upToIndex` (the `rxfill` message or an RXPROD doorbell). */
  fillRx(queue: number, ring: RxRingId, upToIndex: number): void {
    this.requireRunning('RX buffer posts');
    this.dev.fillRx(queue, ring, upToIndex);
  }

  /**
   * Writes a received frame into the guest. In a state without DMA the frame is dropped
   * (`quiesced`) and counted by the function; the device itself is not touched.
   */
  deliverRx(queue: number, frameLength: number, dstMac: MacAddress, vlan: number | null = null): RxResult {
    if (!dmaAllowed(this.mig)) {
      this.refusedRx++;
      return { dropped: 'quiesced' };
    }
    return this.dev.deliverRx(queue, frameLength, dstMac, vlan);
  }

  /** A plain-data view for inspectors. */
  inspect(): VirtualFunctionView {
    return {
      vf: this.index,
      vnic: this.vnicId,
      mac: this.macAddress,
      state: this.mig,
      loaded: this.hasIncoming,
      refusedRx: this.refusedRx,
      device: this.dev.snapshot(),
    };
  }
}
