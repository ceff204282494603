/**
 * One vNIC as its host sees it: the guest's vmxnet3 driver (what the guest believes), the host's
 * emulated vmxnet3 backend (the vmkernel's device model), and which of the two devices serves the
 * guest's rings right now: the backend (`emulated`, `mux`, and `no-dpu` on a host without DPUs) or
 * a DPU virtual function across pcie (`uptv2`).
 *
 * Hand-offs between the two keep the guest unaware: to a VF, the backend is drained and its state
 * sent in `vf.load` once the DPU has bound a VF (`vf.bound`); back, the VF's state comes home in
 * `vf.unbound` and the backend is restored from it. While a VF is being given back, the guest's
 * doorbell writes are trapped and replayed on the restored backend. After every change the
 * driver's view is compared with the device that serves it (`vnic.checker.violation` if not equal).
 *
 * When the DPU dies (or the host gives it up), `failover` moves the vNIC to another DPU without the
 * guest noticing: the host kept a shadow of its VF's state from what crossed the wire (`VfShadow`),
 * restores its backend from it, completes the TX descriptors the dead VF never answered as lost,
 * and asks the new DPU for a VF as at boot.
 */
import type { HandoffRegisters } from '../../../shared/events/catalogue.js';
import type { HostSpec, VmSpec, VnicMode, VnicSpec } from '../../../shared/topology/types.js';
import { compareViews } from '../../../shared/vmxnet3/compare.js';
import { Vmxnet3Device } from '../../../shared/vmxnet3/device.js';
import type { RingSizes, TxProduced } from '../../../shared/vmxnet3/driver.js';
import { Vmxnet3Error } from '../../../shared/vmxnet3/errors.js';
import { rxFilterKey } from '../../../shared/vmxnet3/rx-filter-key.js';
import { BAR1, CMD, rxprodRegister, txprodRegister } from '../../../shared/vmxnet3/registers.js';
import type { RxDropReason, RxRingId, Vmxnet3DeviceState, Vmxnet3DriverView } from '../../../shared/vmxnet3/state.js';
import { Vmxnet3Driver } from '../../../shared/vmxnet3/driver.js';
import { normalizeMac } from '../../../shared/net/mac.js';
import { decodeDma, encodeDma } from '../../pcie/messages.js';
import type { DmaMessage } from '../../pcie/messages.js';
import { encodeDoorbell, decodeMailbox, encodeMailbox, PcieMessageError, vnicOfMessage } from '../../pcie/messages.js';
import type { VfBindDevice, MailboxMessage } from '../../pcie/messages.js';
import type { Channel, NodeContext } from '../../runtime/types.js';
import { eligibleMode } from '../vnic-mode.js';
import type { ActiveMode, PassthroughBlocker } from '../vnic-mode.js';
import { HostVnicError } from './errors.js';
import { DEFAULT_RING_SIZES, GUEST_MTU, probeGuestDriver } from './guest-driver.js';
import { VfShadow } from './vf-shadow.js';
import type { VfShadowView } from './vf-shadow.js';

/** The host (x86) cost steps a vNIC reports, for the host's cost meter. */
export type HostCostStep = 'guest-driver-tx' | 'guest-driver-rx' | 'doorbell' | 'mux-tag' | 'emulation-tx' | 'emulation-rx';

/**
 * Why a vNIC does not run the mode it asked for: a UPTv2 blocker, `awaiting-vf` while the DPU has
 * not answered a bind yet, `vf-failed` when the DPU refused for another reason (a device state it
 * could not load, a shared area it could not use).
 */
export type VnicModeReason = PassthroughBlocker | 'awaiting-vf' | 'vf-failed' | 'vmotion-in-progress' | 'dfw-import-refused';

/**
 * Where a vNIC is in a hand-off: `steady`; `binding` (vf.bind sent, the backend serves);
 * `releasing` (a VF bound too late is being given back unused, the backend serves); `unbinding`
 * (the VF is being given back with the guest's state; doorbells are trapped until it is home).
 */
export type HandOffPhase = 'steady' | 'binding' | 'releasing' | 'unbinding';

/**
 * Why a host vNIC dropped a frame or a message.
 *
 * - `tx-ring-full`: the guest's TX ring had no free descriptor.
 * - `malformed`: a device-channel message that does not parse.
 * - `wrong-vnic`: a message naming another vNIC (a routing bug in the caller).
 * - `unexpected-op`: a message the host does not take, or a reply to nothing asked.
 * - `mode-mismatch`: a frame or completion for a datapath the vNIC is not in.
 * - `stale-dpu`: a message from a DPU the vNIC no longer uses (it failed over); counted, not recorded.
 * - `rejected-by-driver`: the guest driver refused a completion (wrong slot or generation bit).
 * - `rx-malformed`: a received frame too short to be Ethernet.
 * - `rx-no-buffer`, `rx-filtered`, `rx-quiesced`, `rx-inactive`, `rx-too-long`: the backend did not write a frame into the guest.
 */
export type HostVnicDropReason =
  | 'tx-ring-full'
  | 'malformed'
  | 'wrong-vnic'
  | 'unexpected-op'
  | 'mode-mismatch'
  | 'stale-dpu'
  | 'rejected-by-driver'
  | 'rx-malformed'
  | 'disconnected'
  | `rx-${RxDropReason}`;

/** Every drop reason, in the order counters list them. */
export const HOST_VNIC_DROP_REASONS: readonly HostVnicDropReason[] = [
  'tx-ring-full',
  'malformed',
  'wrong-vnic',
  'unexpected-op',
  'mode-mismatch',
  'stale-dpu',
  'rejected-by-driver',
  'rx-malformed',
  'disconnected',
  'rx-no-buffer',
  'rx-filtered',
  'rx-quiesced',
  'rx-inactive',
  'rx-too-long',
];

/**
 * What became of a frame the guest sent, and the host cost steps it took so far:
 * `sent` across pcie; `local` to be switched in software (no DPU: `frame` is it); `held` while a
 * VF is being given back (sent when the backend is restored, its backend step reported then);
 * `dropped` (the TX ring was full).
 */
export type TransmitResult =
  | { outcome: 'sent'; steps: HostCostStep[] }
  | { outcome: 'local'; steps: HostCostStep[]; frame: Uint8Array }
  | { outcome: 'held'; steps: HostCostStep[] }
  | { outcome: 'dropped'; steps: HostCostStep[]; reason: 'tx-ring-full' | 'disconnected' };

/** What a message from the DPU (or a frame from the software switch) produced: frames for the guest's stack, and the host cost steps taken. */
export interface VnicRxResult {
  frames: Uint8Array[];
  steps: HostCostStep[];
}

/** How a vNIC is built. */
export interface HostVnicOptions {
  vm: VmSpec;
  vnic: VnicSpec;
  /** The host's active DPU (also the name of the host's pcie port towards it), or null for a host without DPUs. */
  dpu: string | null;
  /** The mode the vNIC asks for (the topology's, until a `vnic.mode` action). */
  requested: VnicMode;
  /** Guest ring sizes (default 256 / 256 / 256). */
  ringSizes?: RingSizes;
  /** The guest reposts RX buffers once this many are free on a ring (default an eighth of the ring). */
  rxRefillThreshold?: number;
}

/** What a failover did to a vNIC. */
export interface VnicFailoverResult {
  /** TX descriptors the dead VF (or DPU) never completed, completed as lost. */
  lostTx: number;
  /** The mode the vNIC runs right after the rebuild (emulated while a UPTv2 vNIC waits for its new VF). */
  mode: ActiveMode;
  /** Host cost steps of frames that were held during a hand-off and sent now. */
  steps: HostCostStep[];
  /** True when no hand-off is under way any more (otherwise: when `settled` turns true after a message). */
  settled: boolean;
}

/** A plain-data view of a vNIC, for inspectors. */
export interface HostVnicView {
  vnic: string;
  vm: string;
  mac: string;
  /** The DPU that serves the vNIC (the host's pcie port towards it), null on a host without DPUs. */
  dpu: string | null;
  requested: VnicMode;
  active: ActiveMode;
  reason: VnicModeReason | null;
  phase: HandOffPhase;
  vf: number | null;
  /** Which device serves the guest's rings: the DPU's VF or the host's backend. */
  serving: 'vf' | 'backend';
  driver: Vmxnet3DriverView;
  /** The backend's state (stale, drained, while a VF serves). */
  backend: Vmxnet3DeviceState;
  /** Guest doorbell writes trapped while a VF is given back. */
  held: number;
  /** The host's shadow of the VF's state while a VF serves, null otherwise. */
  shadow: VfShadowView | null;
  counters: {
    txFrames: number;
    txBytes: number;
    rxFrames: number;
    rxBytes: number;
    violations: number;
    /** Failovers to another DPU (or rebuilds on the same one). */
    failovers: number;
    /** TX frames lost in failovers (sent to a VF that never completed them). */
    lostTx: number;
    drops: Record<HostVnicDropReason, number>;
  };
}

/**
 * What of a vNIC moves with its VM on vMotion: the guest driver's state (it lives in guest memory),
 * the emulated backend's device state (the VF's state was copied into it at the hand-off), the mode
 * asked for and the counters. Plain data, for the migration stream.
 */
export interface VnicMigrationState {
  readonly vnic: string;
  readonly mac: string;
  readonly requested: VnicMode;
  readonly driver: unknown;
  readonly device: Vmxnet3DeviceState;
  readonly ring1BufferLength: number;
  readonly counters: readonly number[];
}

/** A guest doorbell write trapped while a VF is given back, replayed on the restored backend. */
type HeldWrite = { kind: 'tx'; descriptor: TxProduced; frame: Uint8Array } | { kind: 'rxfill'; ring: RxRingId; index: number };

/**
 * The vNIC a device-channel message from the DPU concerns (its `vnic` field, read without trusting
 * the rest), for the host core to route it; null when the message names none (the host core then
 * counts it as malformed itself).
 */
export function vnicOfPcieMessage(channel: Channel, bytes: Uint8Array): string | null {
  if (channel !== 'dma' && channel !== 'mailbox' && channel !== 'doorbell') return null;
  return vnicOfMessage(bytes);
}

/** One vNIC of a VM, as its host serves it. */
export class HostVnic {
  private vm: VmSpec;
  private readonly spec: VnicSpec;
  private dpu: string | null;
  private driver: Vmxnet3Driver;
  private backend: Vmxnet3Device;
  private requestedMode: VnicMode;
  private activeMode: ActiveMode;
  private reasonNow: VnicModeReason | null = null;
  private phase: HandOffPhase = 'steady';
  private vfIndex: number | null = null;
  private held: HeldWrite[] = [];
  /** What the host knows of its VF's state, kept while a VF serves (from `vf.load` on). */
  private shadow: VfShadow | null = null;
  private booted = false;
  /** A vMotion holds the vNIC in the backend (emulated) until it ends: passthrough cannot migrate. */
  private migrating = false;
  /** The destination DPU refused the firewall state: the vNIC stays disconnected (fail closed). */
  private disconnectedBy: string | null = null;
  private lastEmitted = '';
  private ring1BufferLength = 0;
  private readonly refillThreshold: number;
  private readonly ringSizes: RingSizes;
  private txFrames = 0;
  private txBytes = 0;
  private rxFrames = 0;
  private rxBytes = 0;
  private violations = 0;
  private failovers = 0;
  private lostTx = 0;
  private readonly drops = Object.fromEntries(HOST_VNIC_DROP_REASONS.map((r) => [r, 0])) as Record<HostVnicDropReason, number>;

  constructor(options: HostVnicOptions) {
    this.vm = options.vm;
    this.spec = options.vnic;
    this.dpu = options.dpu;
    this.requestedMode = options.requested;
    this.ringSizes = options.ringSizes ?? DEFAULT_RING_SIZES;
    this.refillThreshold = options.rxRefillThreshold ?? Math.max(1, Math.floor(Math.min(this.ringSizes.rx1, this.ringSizes.rx2) / 8));
    this.driver = probeGuestDriver(this.vm, this.spec, this.ringSizes);
    this.backend = new Vmxnet3Device(this.spec.mac);
    this.activeMode = this.dpu === null ? 'no-dpu' : 'emulated';
  }

  /** The vNIC's id. */
  get id(): string {
    return this.spec.id;
  }

  /** The datapath the vNIC runs in now. */
  get mode(): ActiveMode {
    return this.activeMode;
  }

  /** The mode the vNIC asks for. */
  get requested(): VnicMode {
    return this.requestedMode;
  }

  /** The DPU that serves the vNIC now (the host's pcie port towards it), null on a host without DPUs. */
  get servingDpu(): string | null {
    return this.dpu;
  }

  /** True when no hand-off is under way (no bind, unbind or release waiting for the DPU). */
  get settled(): boolean {
    return this.phase === 'steady';
  }

  /**
   * The VM powers on: the guest driver activates the backend (MAC, shared area, ACTIVATE, unmask,
   * link), posts RX buffers on both rings, and the vNIC takes the mode it is eligible for. For
   * UPTv2 it runs emulated and sends `vf.bind` until the DPU answers. Records `vnic.mode`.
   */
  boot(ctx: NodeContext): void {
    if (this.booted) throw new HostVnicError('already-booted', `vNIC ${this.id} has already booted`);
    this.booted = true;
    const driver = this.driver;
    const shared = driver.shared();
    this.ring1BufferLength = shared.rxQueues[0]!.ring1BufferLength;
    this.backend.syncSharedArea(shared);
    for (const w of driver.activationWrites()) this.backend.writeRegister(w.bar, w.offset, w.value);
    driver.onActivated(this.backend.readRegister(1, BAR1.CMD));
    for (const w of driver.unmaskWrites()) this.backend.writeRegister(w.bar, w.offset, w.value);
    this.backend.writeRegister(1, BAR1.CMD, CMD.GET_LINK);
    driver.onLink(this.backend.readRegister(1, BAR1.CMD));
    for (const ring of [1, 2] as const) {
      const index = driver.postRxBuffers(0, ring, driver.rxFree(0, ring));
      this.backend.writeRegister(0, rxprodRegister(0, ring), index);
    }
    this.activeMode = this.dpu === null ? 'no-dpu' : 'emulated';
    this.reconcile(ctx);
    this.emitMode(ctx);
  }

  /**
   * The `vnic.mode` action: the vNIC asks for another mode. Leaving UPTv2 gives the VF back first
   * (its state restores the backend); entering it asks the DPU for a VF. A request during a
   * hand-off is applied when the hand-off ends.
   */
  setRequested(ctx: NodeContext, mode: VnicMode): void {
    if (mode === this.requestedMode) return;
    this.requestedMode = mode;
    if (!this.booted) return;
    this.reconcile(ctx);
    this.emitMode(ctx);
  }

  /**
   * The guest sends a frame: its driver fills a TX descriptor, then by mode: `uptv2` rings the VF's
   * doorbell (TXPROD) and the descriptor and frame cross by DMA (`tx`); `mux`/`emulated` the
   * backend consumes and completes it at once and the frame crosses as `tx` of that mode;
   * `no-dpu` the backend consumes and completes it and the frame is returned to be switched here.
   */
  transmit(ctx: NodeContext, frame: Uint8Array): TransmitResult {
    if (!this.booted) throw new HostVnicError('not-booted', `vNIC ${this.id} has not booted`);
    if (this.driver.txFree(0) === 0) {
      this.drops['tx-ring-full']++;
      return { outcome: 'dropped', steps: [], reason: 'tx-ring-full' };
    }
    if (this.disconnectedBy !== null) {
      // No port behind the vNIC: the backend completes the descriptor, the frame goes nowhere.
      this.backendTx(this.driver.transmit(0, frame.length));
      this.drops.disconnected++;
      return { outcome: 'dropped', steps: ['guest-driver-tx', 'emulation-tx'], reason: 'disconnected' };
    }
    const descriptor = this.driver.transmit(0, frame.length);
    this.txFrames++;
    this.txBytes += frame.length;
    if (this.phase === 'unbinding') {
      this.held.push({ kind: 'tx', descriptor, frame: new Uint8Array(frame) });
      return { outcome: 'held', steps: ['guest-driver-tx'] };
    }
    const mode = this.activeMode;
    if (mode === 'uptv2') {
      this.sendDoorbell(ctx, txprodRegister(0), descriptor.txprod);
      this.sendDma(ctx, { op: 'tx', vnic: this.id, mode: 'uptv2', queue: 0, index: descriptor.index, gen: descriptor.gen, frame });
      this.shadow?.onTransmit(descriptor.txprod, descriptor);
      return { outcome: 'sent', steps: ['guest-driver-tx', 'doorbell'] };
    }
    this.backendTx(descriptor);
    if (mode === 'no-dpu') return { outcome: 'local', steps: ['guest-driver-tx', 'emulation-tx'], frame };
    this.sendDma(ctx, { op: 'tx', vnic: this.id, mode, queue: 0, index: descriptor.index, gen: descriptor.gen, frame });
    return { outcome: 'sent', steps: ['guest-driver-tx', mode === 'mux' ? 'mux-tag' : 'emulation-tx'] };
  }

  /**
   * A device-channel message from the DPU about this vNIC: `rx` (a frame for the guest: with UPTv2
   * the VF wrote completion `index`, otherwise the backend writes it now), `txcomp` (UPTv2
   * completions), and the mailbox replies `vf.bound`, `vf.refused`, `vf.unbound`. Anything
   * malformed or unexpected is dropped and counted. `from` is the DPU (port) the message came
   * from: after a failover, messages from the DPU given up are dropped (`stale-dpu`).
   */
  onPcie(ctx: NodeContext, channel: Channel, bytes: Uint8Array, from?: string): VnicRxResult {
    const none: VnicRxResult = { frames: [], steps: [] };
    if (from !== undefined && from !== this.dpu) {
      this.drops['stale-dpu']++;
      return none;
    }
    if (channel !== 'dma' && channel !== 'mailbox') {
      this.drop(ctx, 'unexpected-op', channel, `The host takes no ${channel} messages from a DPU`);
      return none;
    }
    let message: DmaMessage | MailboxMessage;
    try {
      message = channel === 'dma' ? decodeDma(bytes) : decodeMailbox(bytes);
    } catch (error) {
      if (!(error instanceof PcieMessageError)) throw error;
      this.drop(ctx, 'malformed', channel, error.message);
      return none;
    }
    const about = 'vnic' in message ? message.vnic : null;
    if (about !== this.id) {
      this.drop(ctx, 'wrong-vnic', channel, `A ${message.op} message for ${about ?? 'no vNIC'} reached vNIC ${this.id}`);
      return none;
    }
    const result = channel === 'dma' ? this.onDma(ctx, message as DmaMessage) : this.onMailbox(ctx, message as MailboxMessage);
    this.emitMode(ctx);
    return result;
  }

  /** A frame from the host's software switch (no DPU): the backend writes it into the guest. */
  receiveLocal(ctx: NodeContext, frame: Uint8Array): VnicRxResult {
    if (!this.booted) throw new HostVnicError('not-booted', `vNIC ${this.id} has not booted`);
    if (this.activeMode !== 'no-dpu') {
      this.drops['mode-mismatch']++;
      return { frames: [], steps: [] };
    }
    return this.backendRx(ctx, frame);
  }

  /**
   * The DPU that served this vNIC is gone (it crashed, lost its uplinks, or the host gave it up):
   * nothing more can be asked of it, and whatever it sends from now on is dropped. The vNIC moves to
   * `newDpu` (the same DPU for a rebuild after it restarted) without the guest noticing:
   * - a VF served it: the backend is restored from the host's shadow of the VF; descriptors the VF
   *   never completed are completed as lost (`lostTx`), RX buffers stay posted; doorbell writes
   *   trapped during an unbind are replayed;
   * - the backend served it (MUX, emulated, or a bind was still on its way): the backend carries on.
   * Then the vNIC asks the new DPU for a VF if it is eligible for UPTv2 (`vf.bind`, `vf.load`, as at
   * boot) and runs emulated meanwhile. Records `vnic.failover` {vnic, vm, from, to, lostTx, mode},
   * `vnic.mode` as usual, and `vnic.checker.violation` if the rebuilt backend disagrees with the guest.
   */
  failover(ctx: NodeContext, newDpu: string): VnicFailoverResult {
    if (!this.booted) throw new HostVnicError('not-booted', `vNIC ${this.id} has not booted`);
    const from = this.dpu;
    if (from === null) throw new HostVnicError('no-dpu', `vNIC ${this.id} is on a host without DPUs and has no DPU to fail over from`);
    const fromMode = this.activeMode;
    const problems: string[] = [];
    let lostTx = 0;
    if (this.activeMode === 'uptv2') {
      const shadow = this.shadow;
      if (shadow === null) {
        problems.push('No shadow of the VF state was kept; the backend carries on from the state handed to the VF');
        this.backend.resume();
      } else {
        const rebuilt = shadow.rebuild();
        problems.push(...rebuilt.problems);
        this.backend = rebuilt.device;
        lostTx = rebuilt.lostTx;
        const completion = rebuilt.completion;
        if (completion !== null && !this.driverCall(ctx, () => this.driver.onTxCompletion(0, completion.index, completion.gen))) {
          problems.push(`The guest refused the completion of the ${lostTx} descriptor(s) lost with the VF`);
        }
      }
    }
    this.shadow = null;
    this.dpu = newDpu;
    this.vfIndex = null;
    const phase = this.phase;
    this.phase = 'steady';
    this.takeEligibleBackendMode();
    const steps = phase === 'unbinding' ? this.replayHeld(ctx, problems) : [];
    this.held = [];
    this.failovers++;
    this.lostTx += lostTx;
    this.check(ctx, fromMode, this.backend.snapshot(), problems);
    this.reconcile(ctx);
    ctx.emit('vnic.failover', { vnic: this.id, vm: this.vm.id, from, to: newDpu, lostTx, mode: this.activeMode });
    this.emitMode(ctx);
    return { lostTx, mode: this.activeMode, steps, settled: this.settled };
  }

  /**
   * vMotion begins (`true`) or ends (`false`). While it runs the vNIC is held in the backend: a VF
   * that serves it is given back (its state copied into the backend: `vnic.handoff`
   * vf-to-emulated) and no VF is asked for. When it ends, the vNIC asks its DPU for a VF again if it
   * is eligible (`vnic.handoff` emulated-to-vf once one is bound).
   */
  setMigrating(ctx: NodeContext, migrating: boolean): void {
    if (this.migrating === migrating) return;
    this.migrating = migrating;
    if (this.disconnectedBy !== null) return;
    this.reconcile(ctx);
    this.emitMode(ctx);
  }

  /** Whether the guest's rings are served by the backend with nothing pending (a vMotion may copy it). */
  get inBackend(): boolean {
    return this.phase === 'steady' && this.activeMode !== 'uptv2';
  }

  /** The VM's reservation changed (`vm.reserve`): the vNIC reconsiders its mode. */
  updateVm(ctx: NodeContext, vm: VmSpec): void {
    this.vm = vm;
    if (!this.booted || this.disconnectedBy !== null) return;
    this.reconcile(ctx);
    this.emitMode(ctx);
  }

  /** What moves with the VM (see {@link VnicMigrationState}); only while the backend serves. */
  exportMigration(): VnicMigrationState {
    if (!this.inBackend) throw new HostVnicError('not-in-backend', `vNIC ${this.id} cannot migrate while a VF serves it or a hand-off is under way`);
    return {
      vnic: this.id,
      mac: this.spec.mac,
      requested: this.requestedMode,
      driver: this.driver.exportState(),
      device: this.backend.snapshot(),
      ring1BufferLength: this.ring1BufferLength,
      counters: [this.txFrames, this.txBytes, this.rxFrames, this.rxBytes, this.violations, this.failovers, this.lostTx],
    };
  }

  /**
   * The vNIC as it arrives on a vMotion destination: the guest driver and the backend restored from
   * what moved, served by `dpu`'s backend (emulated, still migrating until `setMigrating(false)`).
   * Checks that the MAC did not change and that the guest's view equals the restored device.
   */
  static arrive(ctx: NodeContext, options: HostVnicOptions, state: VnicMigrationState): HostVnic {
    const vnic = new HostVnic(options);
    vnic.driver = Vmxnet3Driver.restore(state.driver);
    vnic.backend = Vmxnet3Device.restore(state.device);
    vnic.requestedMode = state.requested;
    vnic.ring1BufferLength = state.ring1BufferLength;
    [vnic.txFrames, vnic.txBytes, vnic.rxFrames, vnic.rxBytes, vnic.violations, vnic.failovers, vnic.lostTx] = state.counters.map((n) => n ?? 0) as [number, number, number, number, number, number, number];
    vnic.booted = true;
    vnic.migrating = true;
    vnic.takeEligibleBackendMode();
    const problems: string[] = [];
    if (state.mac !== options.vnic.mac) problems.push(`The MAC moved as ${state.mac}, the vNIC's is ${options.vnic.mac}`);
    if (vnic.backend.mac !== normalizeMac(options.vnic.mac)) problems.push(`The restored device answers MAC ${vnic.backend.mac}, the vNIC's is ${options.vnic.mac}`);
    vnic.check(ctx, 'emulated', vnic.backend.snapshot(), problems);
    vnic.emitMode(ctx);
    return vnic;
  }

  /**
   * Sends a frame the hypervisor makes on the VM's behalf (the RARP after a vMotion) through the
   * backend, without touching the guest's rings; false while a VF serves or the vNIC is disconnected.
   */
  announce(ctx: NodeContext, frame: Uint8Array): boolean {
    if (!this.inBackend || this.disconnectedBy !== null || this.dpu === null) return false;
    const mode = this.activeMode === 'mux' ? 'mux' : 'emulated';
    this.sendDma(ctx, { op: 'tx', vnic: this.id, mode, queue: 0, index: 0, gen: 1, frame });
    return true;
  }

  /** The destination refused the firewall state and the vMotion finishes anyway: the vNIC stays disconnected. */
  disconnect(ctx: NodeContext): void {
    this.disconnectedBy = 'dfw-import-refused';
    this.activeMode = 'emulated';
    this.reasonNow = 'dfw-import-refused';
    this.emitMode(ctx);
  }

  /** True while the vNIC is disconnected (fail closed after a refused firewall import). */
  get disconnected(): boolean {
    return this.disconnectedBy !== null;
  }

  /** A plain-data view: modes, hand-off phase, VF, the driver's view, the backend's state, counters. */
  inspect(): HostVnicView {
    return {
      vnic: this.id,
      vm: this.vm.id,
      mac: this.spec.mac,
      dpu: this.dpu,
      requested: this.requestedMode,
      active: this.activeMode,
      reason: this.reasonNow,
      phase: this.phase,
      vf: this.vfIndex,
      serving: this.activeMode === 'uptv2' ? 'vf' : 'backend',
      driver: this.driver.view(),
      backend: this.backend.snapshot(),
      held: this.held.length,
      shadow: this.shadow?.inspect() ?? null,
      counters: {
        txFrames: this.txFrames,
        txBytes: this.txBytes,
        rxFrames: this.rxFrames,
        rxBytes: this.rxBytes,
        violations: this.violations,
        failovers: this.failovers,
        lostTx: this.lostTx,
        drops: { ...this.drops },
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Messages

  private onDma(ctx: NodeContext, message: DmaMessage): VnicRxResult {
    const none: VnicRxResult = { frames: [], steps: [] };
    switch (message.op) {
      case 'tx':
      case 'rxfill':
        this.drop(ctx, 'unexpected-op', 'dma', `The DPU sent ${message.op}, which only a host sends`);
        return none;
      case 'txcomp':
        if (this.activeMode !== 'uptv2') {
          this.drop(ctx, 'mode-mismatch', 'dma', `TX completion for vNIC ${this.id}, which runs ${this.activeMode}`);
          return none;
        }
        this.shadow?.onTxCompletion(message.index, message.gen);
        this.driverCall(ctx, () => this.driver.onTxCompletion(message.queue, message.index, message.gen));
        return none;
      case 'rx': {
        const fromVf = message.mode === 'uptv2';
        if (fromVf !== (this.activeMode === 'uptv2') || this.activeMode === 'no-dpu') {
          this.drop(ctx, 'mode-mismatch', 'dma', `A ${message.mode} frame for vNIC ${this.id}, which runs ${this.activeMode}`);
          return none;
        }
        if (!fromVf) return this.backendRx(ctx, message.frame);
        const ring: RxRingId = message.frame.length <= this.ring1BufferLength ? 1 : 2;
        this.shadow?.onRxCompletion(message.index, message.gen, message.frame);
        if (!this.driverCall(ctx, () => this.driver.onRxCompletion(message.queue, message.index, message.gen, ring))) return none;
        this.replenish(ctx, ring);
        return { frames: [this.received(message.frame)], steps: ['guest-driver-rx'] };
      }
    }
  }

  private onMailbox(ctx: NodeContext, message: MailboxMessage): VnicRxResult {
    const none: VnicRxResult = { frames: [], steps: [] };
    switch (message.op) {
      case 'vf.bound':
        if (this.phase !== 'binding') break;
        if (this.eligible().mode !== 'uptv2') {
          // Asked for another mode while the bind was on its way: give the unused VF back.
          this.sendMailbox(ctx, { op: 'vf.unbind', vnic: this.id });
          this.phase = 'releasing';
          return none;
        }
        this.handToVf(ctx, message.vf);
        return none;
      case 'vf.refused':
        if (this.phase === 'binding') {
          this.phase = 'steady';
          if (this.eligible().mode === 'uptv2') {
            this.activeMode = 'emulated';
            this.reasonNow = message.reason === 'no-free-vf' ? 'no-free-vf' : 'vf-failed';
          } else this.reconcile(ctx);
          return none;
        }
        if (this.phase === 'steady' && this.activeMode === 'uptv2') {
          // The VF could not load the state handed to it: the backend, drained at the hand-off, serves again.
          this.vfIndex = null;
          this.shadow = null;
          this.backend.resume();
          this.activeMode = 'emulated';
          this.reasonNow = 'vf-failed';
          this.check(ctx, 'uptv2', this.backend.snapshot());
          return none;
        }
        break;
      case 'vf.unbound':
        if (this.phase === 'unbinding') return this.handBack(ctx, message.state ?? null);
        if (this.phase === 'releasing') {
          this.phase = 'steady';
          this.reconcile(ctx);
          return none;
        }
        break;
      default:
        break;
    }
    this.drop(ctx, 'unexpected-op', 'mailbox', `The DPU sent ${message.op} to vNIC ${this.id} in phase ${this.phase}`);
    return none;
  }

  // -------------------------------------------------------------------------------------------
  // Modes and hand-offs

  private eligible(): { mode: ActiveMode; blocker: VnicModeReason | null } {
    const target = eligibleMode(hostWith(this.vm, this.dpu), this.vm, this.requestedMode);
    if (this.migrating && target.mode === 'uptv2') return { mode: 'emulated', blocker: 'vmotion-in-progress' };
    return target;
  }

  /** Brings the active mode towards the requested one, when no hand-off is under way. */
  private reconcile(ctx: NodeContext): void {
    if (this.phase !== 'steady') return;
    const target = this.eligible();
    if (this.activeMode === 'uptv2') {
      if (target.mode !== 'uptv2') {
        this.sendMailbox(ctx, { op: 'vf.unbind', vnic: this.id });
        this.phase = 'unbinding';
      }
      return;
    }
    if (target.mode === 'uptv2') {
      this.sendMailbox(ctx, { op: 'vf.bind', vnic: this.id, mac: this.spec.mac, mtu: GUEST_MTU, device: { shared: this.driver.shared() } satisfies VfBindDevice });
      this.phase = 'binding';
      this.reasonNow = 'awaiting-vf';
      return;
    }
    const from = this.activeMode;
    this.activeMode = target.mode;
    this.reasonNow = target.blocker;
    if (from !== target.mode) this.check(ctx, from, this.backend.snapshot());
  }

  /** `vf.bound`: the backend is drained and its state goes to the VF (`vf.load`); the VF serves from now on. */
  private handToVf(ctx: NodeContext, vf: number): void {
    for (const done of this.backend.drain()) this.driver.onTxCompletion(done.queue, done.index, done.gen);
    const state = this.backend.snapshot();
    this.sendMailbox(ctx, { op: 'vf.load', vnic: this.id, state });
    this.shadow = new VfShadow(state);
    const from = this.activeMode;
    this.phase = 'steady';
    this.vfIndex = vf;
    this.activeMode = 'uptv2';
    this.reasonNow = null;
    this.emitHandoff(ctx, 'emulated-to-vf', state);
    this.check(ctx, from, state);
    this.emitMode(ctx);
  }

  /**
   * `vf.unbound`: the backend carries on from the VF's state, the doorbell writes trapped meanwhile
   * are replayed on it (their frames cross now), and the vNIC runs the mode it asked for (or goes
   * on towards it).
   */
  private handBack(ctx: NodeContext, state: unknown): VnicRxResult {
    const problems: string[] = [];
    this.phase = 'steady';
    this.vfIndex = null;
    this.shadow = null;
    try {
      if (state === null) throw new Vmxnet3Error('bad-snapshot', 'The VF gave back no device state');
      this.backend = Vmxnet3Device.restore(state);
    } catch (error) {
      if (!(error instanceof Vmxnet3Error)) throw error;
      problems.push(`${error.message}; the backend carries on from its own stale state`);
    }
    this.backend.resume();
    this.takeEligibleBackendMode();
    this.emitHandoff(ctx, 'vf-to-emulated', this.backend.snapshot());
    const steps = this.replayHeld(ctx, problems);
    this.check(ctx, 'uptv2', this.backend.snapshot(), problems);
    this.emitMode(ctx);
    this.reconcile(ctx);
    return { frames: [], steps };
  }

  /** The backend serves: the vNIC runs the mode it is eligible for (emulated while UPTv2 waits for a VF). */
  private takeEligibleBackendMode(): void {
    const target = this.eligible();
    this.activeMode = target.mode === 'uptv2' ? 'emulated' : target.mode;
    this.reasonNow = target.mode === 'uptv2' ? null : target.blocker;
  }

  /** Replays the doorbell writes trapped while a VF was given back on the backend; their frames cross now. */
  private replayHeld(ctx: NodeContext, problems: string[]): HostCostStep[] {
    const steps: HostCostStep[] = [];
    const held = this.held;
    this.held = [];
    for (const write of held) {
      try {
        if (write.kind === 'rxfill') {
          this.backend.writeRegister(0, rxprodRegister(0, write.ring), write.index);
          continue;
        }
        this.backendTx(write.descriptor);
        if (this.activeMode === 'mux' || this.activeMode === 'emulated') {
          const d = write.descriptor;
          this.sendDma(ctx, { op: 'tx', vnic: this.id, mode: this.activeMode, queue: 0, index: d.index, gen: d.gen, frame: write.frame });
          steps.push(this.activeMode === 'mux' ? 'mux-tag' : 'emulation-tx');
        }
      } catch (error) {
        if (!(error instanceof Vmxnet3Error)) throw error;
        problems.push(`A trapped ${write.kind} write could not be replayed: ${error.message}`);
      }
    }
    return steps;
  }

  /** Records a hand-off between the VF and the backend, with the device state that crossed. */
  private emitHandoff(ctx: NodeContext, direction: 'vf-to-emulated' | 'emulated-to-vf', state: Vmxnet3DeviceState): void {
    ctx.emit('vnic.handoff', {
      vnic: this.id,
      vm: this.vm.id,
      direction,
      host: this.vm.host,
      dpu: this.dpu,
      vf: direction === 'emulated-to-vf' ? this.vfIndex : null,
      cause: this.migrating ? 'vmotion' : 'mode',
      registers: handoffRegisters(state),
    });
  }

  /** Compares the guest's view with the device that now serves it; records every mismatch. */
  private check(ctx: NodeContext, from: ActiveMode, device: Vmxnet3DeviceState, extra: readonly string[] = []): void {
    const problems = [...extra, ...compareViews(this.driver.view(), device)];
    if (problems.length === 0) return;
    this.violations++;
    ctx.emit('vnic.checker.violation', { vnic: this.id, change: `${from}->${this.activeMode}`, problems });
  }

  /** Records `vnic.mode` when the requested mode, the active mode or the reason changed since the last record. */
  private emitMode(ctx: NodeContext): void {
    const key = `${this.requestedMode}|${this.activeMode}|${this.reasonNow ?? ''}`;
    if (key === this.lastEmitted) return;
    this.lastEmitted = key;
    ctx.emit('vnic.mode', { vnic: this.id, vm: this.vm.id, requested: this.requestedMode, active: this.activeMode, reason: this.reasonNow });
  }

  // -------------------------------------------------------------------------------------------
  // The backend's work and the guest's RX buffers

  /** The backend reads a descriptor the guest announced, and completes it; the guest reclaims it. */
  private backendTx(descriptor: TxProduced): void {
    this.backend.writeRegister(0, txprodRegister(0), descriptor.txprod);
    const taken = this.backend.consumeTx(0, descriptor);
    if (taken === null) throw new Vmxnet3Error('bad-doorbell', `TX slot ${descriptor.index} was announced but the backend found nothing`);
    const done = this.backend.completeTx(0, taken.index);
    this.driver.onTxCompletion(0, done.index, done.gen);
  }

  /** The backend writes a frame into the guest's next RX buffer; the guest takes it. */
  private backendRx(ctx: NodeContext, frame: Uint8Array): VnicRxResult {
    const step: HostCostStep = this.activeMode === 'mux' ? 'mux-tag' : 'emulation-rx';
    const key = rxFilterKey(frame);
    if (!key) {
      this.drops['rx-malformed']++;
      return { frames: [], steps: [] };
    }
    const written = this.backend.deliverRx(0, frame.length, key.dst, key.vlan);
    if ('dropped' in written) {
      this.drops[`rx-${written.dropped}`]++;
      return { frames: [], steps: [step] };
    }
    this.driver.onRxCompletion(0, written.compIndex, written.compGen, written.ring, written.index);
    this.replenish(ctx, written.ring);
    return { frames: [this.received(frame)], steps: [step, 'guest-driver-rx'] };
  }

  /** The guest reposts its free RX buffers on a ring once enough are free: to the VF (`rxfill`) or the backend (RXPROD). */
  private replenish(ctx: NodeContext, ring: RxRingId): void {
    const free = this.driver.rxFree(0, ring);
    if (free < this.refillThreshold) return;
    const index = this.driver.postRxBuffers(0, ring, free);
    if (this.phase === 'unbinding') this.held.push({ kind: 'rxfill', ring, index });
    else if (this.activeMode === 'uptv2') {
      this.sendDma(ctx, { op: 'rxfill', vnic: this.id, queue: 0, rxRing: ring === 1 ? 0 : 1, index });
      this.shadow?.onRxFill(ring, index);
    } else this.backend.writeRegister(0, rxprodRegister(0, ring), index);
  }

  private received(frame: Uint8Array): Uint8Array {
    this.rxFrames++;
    this.rxBytes += frame.length;
    return new Uint8Array(frame);
  }

  /** Runs a driver step on a completion from the DPU; a refusal is dropped and counted. Returns whether it ran. */
  private driverCall(ctx: NodeContext, call: () => unknown): boolean {
    try {
      call();
      return true;
    } catch (error) {
      if (!(error instanceof Vmxnet3Error)) throw error;
      this.drop(ctx, 'rejected-by-driver', 'dma', error.message);
      return false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // The wire

  private sendDma(ctx: NodeContext, message: DmaMessage): void {
    ctx.send(this.port(), encodeDma(message), 'dma');
  }

  private sendDoorbell(ctx: NodeContext, register: number, value: number): void {
    ctx.send(this.port(), encodeDoorbell({ vnic: this.id, register, value }), 'doorbell');
  }

  private sendMailbox(ctx: NodeContext, message: MailboxMessage): void {
    ctx.send(this.port(), encodeMailbox(message), 'mailbox');
  }

  private port(): string {
    if (this.dpu === null) throw new HostVnicError('no-dpu', `vNIC ${this.id} is on a host without DPUs and has nothing to send across pcie`);
    return this.dpu;
  }

  private drop(ctx: NodeContext, reason: HostVnicDropReason, channel: Channel, message: string): void {
    this.drops[reason]++;
    ctx.emit('pcie.drop', { side: 'host', vnic: this.id, channel, reason, message });
  }
}

/**
 * The device-private state a hand-off copies, as `vnic.handoff` records it: the BAR registers, per
 * ring the index and generation bit the device expects next, the completion rings, the RX filter,
 * link, interrupt mask and cause.
 */
export function handoffRegisters(state: Vmxnet3DeviceState): HandoffRegisters {
  return {
    mac: state.permanentMac,
    status: state.status,
    registers: state.registers,
    link: state.link,
    rxFilter: state.config === null ? null : { rxMode: state.config.rxMode, multicast: state.config.multicast, vlanFilter: state.config.vlanFilter },
    features: state.config?.features ?? null,
    rss: state.config?.rss ? { hashType: state.config.rss.hashType, indTable: state.config.rss.indTable } : null,
    interrupts: state.interrupts,
    txQueues: state.txQueues,
    rxQueues: state.rxQueues,
  };
}

/** The host as `eligibleMode` needs it: only whether it has a DPU matters there. */
function hostWith(vm: VmSpec, dpu: string | null): HostSpec {
  return { id: vm.host, x86Cores: 0, dpus: dpu === null ? [] : [dpu], heartbeat: { intervalNs: 0, misses: 0 }, pcieSurpriseDown: true, failover: { active: [], standby: [], failback: false }, vms: [vm], manager: null };
}
