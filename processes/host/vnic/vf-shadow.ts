/**
 * The host's shadow of a VF's device-private state, for the day its DPU dies.
 *
 * A VF's state lives on the DPU: when the DPU is gone, nothing can be asked of it, yet the guest's
 * rings must carry on exactly where the guest believes they are. The host saw everything that
 * crossed the pcie wire, though: the state it handed over in `vf.load`, every doorbell it wrote
 * (TX and RX producers), every descriptor it sent, every completion it received. Replaying those
 * on a device model of its own (the mirror, restored from the `vf.load` state) gives the VF's state
 * as last known by the host: ring positions and generation bits, completion rings, filters,
 * counters. What the host cannot know is only what never came back: descriptors the VF may have
 * consumed but whose completion never arrived.
 *
 * `rebuild` turns the mirror into a device the host's backend can run: every TX descriptor still
 * outstanding is completed as lost (the guest gets its descriptors back, the frames are gone), RX
 * buffers the host posted stay posted. Each replay is checked against what the VF wrote (a
 * completion at another slot or with another generation bit is a problem, reported with the
 * rebuild), so a shadow that drifted is caught by the hand-off checker, never trusted silently.
 */
import { Vmxnet3Device } from '../../../shared/vmxnet3/device.js';
import type { TxDescriptor } from '../../../shared/vmxnet3/device.js';
import { Vmxnet3Error } from '../../../shared/vmxnet3/errors.js';
import { rxFilterKey } from '../../../shared/vmxnet3/rx-filter-key.js';
import { rxprodRegister, txprodRegister } from '../../../shared/vmxnet3/registers.js';
import { advance, distance, formatPosition } from '../../../shared/vmxnet3/ring.js';
import type { Gen, RingState, RxRingId, Vmxnet3DeviceState } from '../../../shared/vmxnet3/state.js';

/** The most problems a shadow keeps (the first ones say what went wrong; the rest repeat it). */
const PROBLEM_LIMIT = 8;

/** What a rebuild gives: the device to serve the guest with, and the TX descriptors completed as lost. */
export interface ShadowRebuild {
  readonly device: Vmxnet3Device;
  /** Descriptors outstanding on the dead VF, now completed with nothing sent. */
  readonly lostTx: number;
  /** The last completion written for them (for the guest's driver), null when none were outstanding. */
  readonly completion: { readonly index: number; readonly gen: Gen } | null;
  /** Where the shadow disagreed with what the VF reported; empty when it never did. */
  readonly problems: readonly string[];
}

/** A plain-data view of a shadow, for inspectors. */
export interface VfShadowView {
  /** Descriptors announced to the VF whose completion the host has not received. */
  outstandingTx: number;
  problems: string[];
}

/** Queue 0 only: the guest driver of this model runs one TX and one RX queue. */
const QUEUE = 0;

/** The host's replay of one VF's device state from what crossed the pcie wire. */
export class VfShadow {
  private readonly mirror: Vmxnet3Device;
  /** The TX completion ring position the VF writes next, as last known. */
  private txComp: RingState;
  /** Descriptors sent to the VF, oldest first, not yet known to be completed. */
  private readonly sent: TxDescriptor[] = [];
  private readonly issues: string[] = [];

  /** A shadow of a VF that was handed `state` (the backend's drained state sent in `vf.load`). */
  constructor(state: Vmxnet3DeviceState) {
    this.mirror = Vmxnet3Device.restore(state);
    this.mirror.resume();
    const q = state.txQueues[QUEUE];
    this.txComp = q === undefined ? { size: 1, next: 0, gen: 1 } : { ...q.compRing };
  }

  /** Problems found so far. */
  get problems(): readonly string[] {
    return this.issues;
  }

  /** The guest rang the TX doorbell (TXPROD) of the VF and sent it `descriptor`. */
  onTransmit(txprod: number, descriptor: TxDescriptor): void {
    this.guard('TX doorbell', () => this.mirror.writeRegister(0, txprodRegister(QUEUE), txprod));
    this.sent.push({ index: descriptor.index, gen: descriptor.gen, length: descriptor.length });
  }

  /** The guest posted RX buffers on a ring of the VF up to `index` (an `rxfill`). */
  onRxFill(ring: RxRingId, index: number): void {
    this.guard(`RX ring ${ring} doorbell`, () => this.mirror.writeRegister(0, rxprodRegister(QUEUE, ring), index));
  }

  /**
   * The VF completed TX descriptors up to completion slot `index` with bit `gen` (a `txcomp`): the
   * mirror consumes and completes as many, and must land on the same slot and bit.
   */
  onTxCompletion(index: number, gen: Gen): void {
    const count = distance(this.txComp.next, index, this.txComp.size) + 1;
    this.guard('TX completion', () => {
      let last: number | null = null;
      for (let i = 0; i < count; i++) {
        const descriptor = this.sent.shift();
        const taken = this.mirror.consumeTx(QUEUE, descriptor);
        if (taken === null) throw new Vmxnet3Error('bad-completion', `The VF completed up to slot ${index} but the host announced only ${i} descriptor(s) since its last completion`);
        last = taken.index;
      }
      if (last === null) return;
      const done = this.mirror.completeTx(QUEUE, last);
      if (done.index !== index || done.gen !== gen) throw new Vmxnet3Error('bad-completion', `The VF wrote its completion at slot ${index} (gen ${gen}), the shadow at ${formatPosition({ next: done.index, gen: done.gen })}`);
    });
    this.txComp = { ...this.txComp, ...advance(this.txComp, this.txComp.size, count) };
  }

  /**
   * The VF wrote a received frame into the guest and its completion at slot `index` with bit `gen`
   * (an `rx`): the mirror receives the same frame and must write the same completion.
   */
  onRxCompletion(index: number, gen: Gen, frame: Uint8Array): void {
    this.guard('RX completion', () => {
      const key = rxFilterKey(frame);
      if (!key) throw new Vmxnet3Error('bad-value', 'The VF delivered a frame the shadow cannot read');
      const written = this.mirror.deliverRx(QUEUE, frame.length, key.dst, key.vlan);
      if ('dropped' in written) throw new Vmxnet3Error('bad-completion', `The VF delivered a frame at slot ${index} that the shadow drops (${written.dropped})`);
      if (written.compIndex !== index || written.compGen !== gen) {
        throw new Vmxnet3Error('bad-completion', `The VF wrote an RX completion at slot ${index} (gen ${gen}), the shadow at ${formatPosition({ next: written.compIndex, gen: written.compGen })}`);
      }
    });
  }

  /**
   * The device that carries on from the VF: every descriptor announced and not known completed is
   * consumed and completed as lost, the rest is the VF's state as last known. The shadow is spent.
   */
  rebuild(): ShadowRebuild {
    let lostTx = 0;
    let completion: { index: number; gen: Gen } | null = null;
    this.guard('rebuild', () => {
      const pending = this.mirror.pendingTx(QUEUE);
      for (let i = 0; i < pending; i++) this.mirror.consumeTx(QUEUE, this.sent.shift());
      const unfinished = this.mirror.unfinishedTx(QUEUE);
      if (unfinished.last === null) return;
      const done = this.mirror.completeTx(QUEUE, unfinished.last);
      lostTx = done.count;
      completion = { index: done.index, gen: done.gen };
    });
    return { device: this.mirror, lostTx, completion, problems: [...this.issues] };
  }

  inspect(): VfShadowView {
    return { outstandingTx: this.sent.length, problems: [...this.issues] };
  }

  /** Runs a replay step; a refusal by the model is a problem of the shadow, kept for the rebuild. */
  private guard(what: string, step: () => unknown): void {
    try {
      step();
    } catch (error) {
      if (!(error instanceof Vmxnet3Error)) throw error;
      if (this.issues.length < PROBLEM_LIMIT) this.issues.push(`Shadow ${what}: ${error.message}`);
    }
  }
}
