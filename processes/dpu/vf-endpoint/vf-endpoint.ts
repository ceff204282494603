/**
 * The DPU's end of its host's vNICs on the pcie wire. UPTv2 vNICs are served by a virtual function
 * of the pool (bound on `vf.bind`, handed the guest's ring positions by `vf.load`, driven by
 * doorbells and `dma` `tx` / `rxfill`, given back on `vf.unbind`); MUX and emulated vNICs are
 * served by the host's backend, and only their frames cross the wire here.
 *
 * Frames the vNICs send come out of `onPcie` (`framesFromVnic`) for the DPU's switch and firewall;
 * frames for a vNIC go in through `toVnic`. Nothing a message says is trusted: a malformed one, one
 * for a vNIC this end does not serve, one the VF refuses, are dropped and counted, never thrown.
 */
import { AddressError } from '../../../shared/net/errors.js';
import { Vmxnet3Error } from '../../../shared/vmxnet3/errors.js';
import { rxFilterKey } from '../../../shared/vmxnet3/rx-filter-key.js';
import type { RxDropReason } from '../../../shared/vmxnet3/state.js';
import { decodeDma, encodeDma } from '../../pcie/messages.js';
import type { DmaMessage, VnicMoveRequest } from '../../pcie/messages.js';
import type { Channel, NodeContext } from '../../runtime/types.js';
import { VfError } from '../vf/errors.js';
import { VfPool } from '../vf/vf-pool.js';
import type { VfPoolView } from '../vf/vf-pool.js';
import type { VirtualFunction } from '../vf/virtual-function.js';
import { bindDeviceOf, decodeDoorbell, decodeMailbox, encodeMailbox, PcieMessageError } from '../../pcie/messages.js';
import type { MailboxMessage } from '../../pcie/messages.js';

/** How a vNIC's frames cross the pcie wire, as this end knows it. */
export type EndpointMode = 'uptv2' | 'mux' | 'emulated';

/** A frame a vNIC sent, for the DPU's switch. */
export interface FrameFromVnic {
  vnic: string;
  frame: Uint8Array;
  mode: EndpointMode;
}

/** The cost steps this end reports: the VF (or the DPU's PCIe engine) moving a frame by DMA. */
export type EndpointCostStep = 'vf-dma';

/**
 * What one pcie message produced: frames for the switch, the DPU cost steps they took (one
 * `vf-dma` per frame), and a host request to release or adopt a vNIC (vMotion), which is the
 * owner's business (its switch and firewall change too), parsed but not acted on here.
 */
export interface EndpointResult {
  framesFromVnic: FrameFromVnic[];
  steps: EndpointCostStep[];
  vnicMoves: VnicMoveRequest[];
  /** Takeover reports the host acknowledged (`dpu.takeover.ack`): the owner stops resending them. */
  takeoverAcks: number[];
}

/**
 * Why this end dropped a message or a frame.
 *
 * - `malformed`: a device-channel message that does not parse.
 * - `unexpected-op`: a message this end does not take (a host-bound op, a `vf.load` without a bind waiting for it).
 * - `unknown-vnic`: a message or frame for a vNIC this end does not know.
 * - `no-vf`: an UPTv2 operation (doorbell, `tx`, `rxfill`) or frame for a vNIC without a running VF.
 * - `vf-refused`: the VF or its device refused the operation (wrong generation bit, doorbell overrun, DMA not allowed).
 * - `not-announced`: a `tx` descriptor no doorbell announced.
 * - `rx-no-buffer`, `rx-filtered`, `rx-quiesced`, `rx-inactive`, `rx-too-long`: the VF did not write a frame into the guest, and why.
 * - `rx-malformed`: a frame for a vNIC too short to be Ethernet.
 * - `held-overflow`: a frame arrived while the VF waited for its state and the waiting queue was full.
 * - `unexpected-channel`: a frame on a channel that is not a device channel.
 */
export type EndpointDropReason =
  | 'malformed'
  | 'unexpected-op'
  | 'unknown-vnic'
  | 'no-vf'
  | 'vf-refused'
  | 'not-announced'
  | `rx-${RxDropReason}`
  | 'rx-malformed'
  | 'held-overflow'
  | 'unexpected-channel';

/** Every drop reason, in the order counters list them. */
export const ENDPOINT_DROP_REASONS: readonly EndpointDropReason[] = [
  'malformed',
  'unexpected-op',
  'unknown-vnic',
  'no-vf',
  'vf-refused',
  'not-announced',
  'rx-no-buffer',
  'rx-filtered',
  'rx-quiesced',
  'rx-inactive',
  'rx-too-long',
  'rx-malformed',
  'held-overflow',
  'unexpected-channel',
];

/** Options of an endpoint. */
export interface VfEndpointOptions {
  /** The pool to serve from (default: a pool of `vfCount` functions). */
  pool?: VfPool;
  /** Number of VFs when no pool is given (default 16). */
  vfCount?: number;
  /** The vNICs of the host: messages naming any other are dropped (`unknown-vnic`). Default: any vNIC a message names. */
  vnics?: readonly string[];
  /** The DPU's port towards the host (default `pcie`). */
  port?: string;
  /** Frames kept per vNIC while its VF waits for the guest's state (default 256). */
  heldLimit?: number;
}

/** Where a vNIC's VF is: waiting for the guest's state (`vf.bind` answered, no `vf.load` yet) or serving it. */
export type VfPhase = 'awaiting-state' | 'running';

interface VnicEntry {
  mode: EndpointMode;
  /** Null without a VF. */
  phase: VfPhase | null;
  /** Frames for the vNIC that arrived while its VF waited for the guest's state. */
  held: Uint8Array[];
}

/** One vNIC as the endpoint sees it, for inspectors. */
export interface EndpointVnicView {
  vnic: string;
  mode: EndpointMode;
  vf: number | null;
  phase: VfPhase | null;
  held: number;
}

/** A plain-data view of the endpoint. */
export interface VfEndpointView {
  vnics: EndpointVnicView[];
  pool: VfPoolView;
  counters: {
    txFrames: number;
    txCompletions: number;
    rxFrames: number;
    drops: Record<EndpointDropReason, number>;
  };
}

/** The DPU's end of the vNIC datapath across pcie. */
export class VfEndpoint {
  /** The DPU's virtual functions. */
  readonly pool: VfPool;
  private readonly port: string;
  private readonly heldLimit: number;
  private readonly known: Set<string> | null;
  private readonly entries = new Map<string, VnicEntry>();
  private txFrames = 0;
  private txCompletions = 0;
  private rxFrames = 0;
  private readonly drops = Object.fromEntries(ENDPOINT_DROP_REASONS.map((r) => [r, 0])) as Record<EndpointDropReason, number>;

  constructor(options: VfEndpointOptions = {}) {
    this.pool = options.pool ?? new VfPool(options.vfCount);
    this.port = options.port ?? 'pcie';
    this.heldLimit = options.heldLimit ?? 256;
    this.known = options.vnics === undefined ? null : new Set(options.vnics);
  }

  /**
   * The owner says how a vNIC is served (from the topology at boot, or after a mode change it
   * learned of). A vNIC with a VF keeps being served by it: only `vf.unbind` ends that.
   */
  setMode(vnic: string, mode: EndpointMode): void {
    const entry = this.entry(vnic);
    if (entry !== null && entry.phase === null) entry.mode = mode;
  }

  /**
   * Starts serving a vNIC this end was not built for: its DPU took the host's vNICs over in a
   * failover. Messages and frames naming it are taken from now on; it is served `mode` until a
   * `vf.bind` (the host asks for a VF as at boot) or the host's frames say otherwise.
   */
  admit(vnic: string, mode: EndpointMode): void {
    this.known?.add(vnic);
    const entry = this.entry(vnic);
    if (entry !== null && entry.phase === null) entry.mode = mode;
  }

  /**
   * Stops serving a vNIC: its DPU became the standby (the host failed over away from it). Its VF,
   * if any, is reset and returned to the pool without a word to the host (which no longer listens),
   * frames kept for it are dropped, and from now on messages naming it are `unknown-vnic` again
   * (with a fixed list of vNICs; without one, a later message starts a fresh entry).
   */
  evict(ctx: NodeContext, vnic: string): void {
    const vf = this.pool.byVnic(vnic);
    if (vf !== null) {
      vf.reset(ctx);
      this.pool.release(vf);
    }
    this.entries.delete(vnic);
    this.known?.delete(vnic);
  }

  /**
   * Stops serving a vNIC whose VM leaves the host (vMotion). The host hands the vNIC back to its
   * backend before it asks, so normally no VF is bound; one that still is goes back as on
   * `vf.unbind` (drained, the completions sent, its state saved and sent in `vf.unbound`), since
   * the host still listens, unlike after a failover. Then the vNIC is evicted.
   */
  retire(ctx: NodeContext, vnic: string): void {
    if (this.pool.byVnic(vnic) !== null) this.unbind(ctx, vnic);
    this.evict(ctx, vnic);
  }

  /** How this end serves a vNIC (`uptv2` while it has a VF), or null for a vNIC it does not know. */
  modeOf(vnic: string): EndpointMode | null {
    const entry = this.entries.get(vnic);
    if (entry === undefined) return null;
    return entry.phase !== null ? 'uptv2' : entry.mode;
  }

  /** A message from the host on a device channel (`dma`, `doorbell`, `mailbox`). */
  onPcie(ctx: NodeContext, channel: Channel, bytes: Uint8Array): EndpointResult {
    const result: EndpointResult = { framesFromVnic: [], steps: [], vnicMoves: [], takeoverAcks: [] };
    try {
      switch (channel) {
        case 'dma':
          this.onDma(ctx, decodeDma(bytes), result);
          break;
        case 'doorbell':
          this.onDoorbell(ctx, decodeDoorbell(bytes));
          break;
        case 'mailbox':
          this.onMailbox(ctx, decodeMailbox(bytes), result);
          break;
        default:
          this.drop(ctx, 'unexpected-channel', null, channel, `A ${channel} frame is not a device-channel message`);
      }
    } catch (error) {
      if (!(error instanceof PcieMessageError)) throw error;
      this.drop(ctx, 'malformed', null, channel, error.message);
    }
    return result;
  }

  /**
   * Delivers a frame to a vNIC (after the DPU's switch and firewall). UPTv2: the VF writes it into
   * the guest's next RX buffer and the `rx` message tells the host which completion it wrote;
   * MUX and emulated: the frame crosses to the host's backend. Returns false when the frame was
   * dropped (counted by reason). A frame that arrives while the VF waits for the guest's state is
   * kept and written once the state is loaded.
   */
  /** Why the last frame `toVnic` refused was dropped. */
  lastDrop: EndpointDropReason | null = null;

  toVnic(ctx: NodeContext, vnic: string, frame: Uint8Array): boolean {
    const entry = this.entries.get(vnic) ?? (this.known?.has(vnic) === true ? this.entry(vnic) : null);
    if (entry === null) {
      this.count('unknown-vnic');
      return false;
    }
    if (entry.phase === 'awaiting-state') {
      if (entry.held.length >= this.heldLimit) {
        this.count('held-overflow');
        return false;
      }
      entry.held.push(new Uint8Array(frame));
      return true;
    }
    if (entry.phase === 'running') return this.writeRx(ctx, vnic, frame);
    if (entry.mode === 'uptv2') {
      this.count('no-vf');
      return false;
    }
    this.sendDma(ctx, { op: 'rx', vnic, mode: entry.mode, queue: 0, index: 0, gen: 0, frame });
    this.rxFrames++;
    return true;
  }

  /** A plain-data view: every vNIC (sorted), the pool, the counters. */
  inspect(): VfEndpointView {
    const vnics = [...this.entries.keys()].sort().map((vnic): EndpointVnicView => {
      const entry = this.entries.get(vnic)!;
      return { vnic, mode: this.modeOf(vnic)!, vf: this.pool.byVnic(vnic)?.index ?? null, phase: entry.phase, held: entry.held.length };
    });
    return { vnics, pool: this.pool.inspect(), counters: { txFrames: this.txFrames, txCompletions: this.txCompletions, rxFrames: this.rxFrames, drops: { ...this.drops } } };
  }

  // -------------------------------------------------------------------------------------------
  // dma

  private onDma(ctx: NodeContext, message: DmaMessage, result: EndpointResult): void {
    if (message.op === 'txcomp' || message.op === 'rx') {
      this.drop(ctx, 'unexpected-op', message.vnic, 'dma', `The host sent ${message.op}, which only a DPU sends`);
      return;
    }
    const entry = this.entry(message.vnic);
    if (entry === null) {
      this.drop(ctx, 'unknown-vnic', message.vnic, 'dma', `No vNIC ${message.vnic} behind this DPU`);
      return;
    }
    if (message.op === 'rxfill') {
      const vf = this.runningVf(ctx, message.vnic, entry, 'rxfill');
      if (vf === null) return;
      this.guarded(ctx, message.vnic, 'dma', () => vf.fillRx(message.queue, message.rxRing === 0 ? 1 : 2, message.index));
      return;
    }
    // tx
    if (message.mode !== 'uptv2') {
      // The host's backend served the descriptor; only the frame crosses. It also tells how the vNIC
      // is served, unless a VF is bound (then only vf.unbind changes that).
      if (entry.phase === null) entry.mode = message.mode;
      this.forward(message.vnic, message.frame, message.mode, result);
      return;
    }
    const vf = this.runningVf(ctx, message.vnic, entry, 'tx');
    if (vf === null) return;
    const sent = this.guarded(ctx, message.vnic, 'dma', () => {
      const taken = vf.consumeTx(message.queue, { index: message.index, gen: message.gen, length: message.frame.length });
      if (taken === null) return false;
      const done = vf.completeTx(message.queue, taken.index);
      this.txCompletions += done.count;
      this.sendDma(ctx, { op: 'txcomp', vnic: message.vnic, queue: done.queue, index: done.index, gen: done.gen });
      return true;
    });
    if (sent === false) this.drop(ctx, 'not-announced', message.vnic, 'dma', `TX slot ${message.index} was not announced by a doorbell`);
    if (sent === true) this.forward(message.vnic, message.frame, 'uptv2', result);
  }

  private forward(vnic: string, frame: Uint8Array, mode: EndpointMode, result: EndpointResult): void {
    this.txFrames++;
    result.framesFromVnic.push({ vnic, frame: new Uint8Array(frame), mode });
    result.steps.push('vf-dma');
  }

  // -------------------------------------------------------------------------------------------
  // doorbell

  private onDoorbell(ctx: NodeContext, message: { vnic: string; register: number; value: number }): void {
    const entry = this.entry(message.vnic);
    if (entry === null) {
      this.drop(ctx, 'unknown-vnic', message.vnic, 'doorbell', `No vNIC ${message.vnic} behind this DPU`);
      return;
    }
    const vf = this.runningVf(ctx, message.vnic, entry, 'doorbell');
    if (vf === null) return;
    // The interrupt a write may signal goes to the guest with the next completion: nothing to send.
    this.guarded(ctx, message.vnic, 'doorbell', () => vf.writeRegister(0, message.register, message.value));
  }

  // -------------------------------------------------------------------------------------------
  // mailbox

  private onMailbox(ctx: NodeContext, message: MailboxMessage, result: EndpointResult): void {
    switch (message.op) {
      case 'vnic.release':
      case 'vnic.adopt':
      case 'vnic.inventory':
        result.vnicMoves.push(message);
        return;
      case 'vf.bind':
        return this.bind(ctx, message.vnic, message.mac, message.mtu, message.device);
      case 'vf.load':
        return this.load(ctx, message.vnic, message.state);
      case 'vf.unbind':
        return this.unbind(ctx, message.vnic);
      case 'dpu.takeover.ack':
        result.takeoverAcks.push(message.seq);
        return;
      default:
        this.drop(ctx, 'unexpected-op', 'vnic' in message ? message.vnic : null, 'mailbox', `The host sent ${message.op}, which only a DPU sends`);
    }
  }

  /**
   * `vf.bind`: the lowest free VF is bound to the vNIC and activated with the guest's driver-shared
   * area, then stopped (RUNNING -> RUNNING_P2P -> STOP) until `vf.load` brings the guest's ring
   * positions. Answers `vf.bound`, or `vf.refused` (`no-free-vf`, `bad-shared-area`).
   */
  private bind(ctx: NodeContext, vnic: string, mac: string, mtu: number, device: unknown): void {
    const entry = this.entry(vnic);
    if (entry === null) {
      this.drop(ctx, 'unknown-vnic', vnic, 'mailbox', `No vNIC ${vnic} behind this DPU`);
      this.reply(ctx, { op: 'vf.refused', vnic, reason: 'unknown-vnic' });
      return;
    }
    const { shared, problems } = bindDeviceOf(device);
    if (shared === null || shared.mtu !== mtu) {
      this.reply(ctx, { op: 'vf.refused', vnic, reason: 'bad-shared-area' });
      this.drop(ctx, 'vf-refused', vnic, 'mailbox', `vf.bind for ${vnic}: ${problems[0] ?? `the shared area's MTU is not ${mtu}`}`, false);
      return;
    }
    // A second bind for a vNIC that has a VF: the host started over, so does the VF.
    const previous = this.pool.byVnic(vnic);
    if (previous !== null) this.release(ctx, vnic, entry, previous);
    let vf: VirtualFunction | null;
    try {
      vf = this.pool.allocate(vnic, mac);
      if (vf !== null) vf.activate(shared);
    } catch (error) {
      if (!(error instanceof Vmxnet3Error) && !(error instanceof VfError) && !(error instanceof AddressError)) throw error;
      const held = this.pool.byVnic(vnic);
      if (held !== null) {
        if (held.state !== 'RUNNING') held.reset(ctx);
        this.pool.release(held);
      }
      this.reply(ctx, { op: 'vf.refused', vnic, reason: 'bad-shared-area' });
      this.drop(ctx, 'vf-refused', vnic, 'mailbox', error.message, false);
      return;
    }
    if (vf === null) {
      this.reply(ctx, { op: 'vf.refused', vnic, reason: 'no-free-vf' });
      return;
    }
    vf.request(ctx, 'STOP');
    vf.takeOutbox();
    entry.phase = 'awaiting-state';
    entry.mode = 'uptv2';
    this.reply(ctx, { op: 'vf.bound', vnic, vf: vf.index });
  }

  /**
   * `vf.load`: the guest's device state from the host's backend. STOP -> RESUMING, load, RESUMING
   * -> STOP (validated), STOP -> RUNNING_P2P -> RUNNING; then the frames kept meanwhile are
   * written. A state the VF refuses releases it and answers `vf.refused` (`bad-device-state`).
   */
  private load(ctx: NodeContext, vnic: string, state: unknown): void {
    const entry = this.entries.get(vnic);
    const vf = this.pool.byVnic(vnic);
    if (entry === undefined || vf === null || entry.phase !== 'awaiting-state') {
      this.drop(ctx, 'unexpected-op', vnic, 'mailbox', `vf.load for ${vnic}, whose VF is not waiting for state`);
      return;
    }
    let loaded = vf.request(ctx, 'RESUMING');
    if (loaded) {
      vf.loadState(state);
      loaded = vf.transition(ctx, 'STOP') && vf.request(ctx, 'RUNNING');
    }
    if (!loaded) {
      vf.reset(ctx);
      this.release(ctx, vnic, entry, vf);
      this.reply(ctx, { op: 'vf.refused', vnic, reason: 'bad-device-state' });
      return;
    }
    this.sendOutbox(ctx, vnic, vf);
    entry.phase = 'running';
    const held = entry.held;
    entry.held = [];
    for (const frame of held) this.writeRx(ctx, vnic, frame);
  }

  /**
   * `vf.unbind`: the VF is stopped for a copy (RUNNING -> RUNNING_P2P -> STOP -> STOP_COPY; the drain
   * completes what it consumed, sent as `txcomp`), its state saved and sent back in `vf.unbound`,
   * and it returns to the pool. The vNIC is served emulated from then on, until told otherwise.
   */
  private unbind(ctx: NodeContext, vnic: string): void {
    const entry = this.entries.get(vnic);
    const vf = this.pool.byVnic(vnic);
    if (entry === undefined || vf === null) {
      this.drop(ctx, 'unknown-vnic', vnic, 'mailbox', `vf.unbind for ${vnic}, which has no VF`, false);
      this.reply(ctx, { op: 'vf.unbound', vnic, vf: null, state: null });
      return;
    }
    let state: unknown = null;
    if (entry.phase === 'running' && vf.request(ctx, 'STOP_COPY')) {
      this.sendOutbox(ctx, vnic, vf);
      state = vf.saveState();
    }
    const index = vf.index;
    this.release(ctx, vnic, entry, vf);
    this.reply(ctx, { op: 'vf.unbound', vnic, vf: index, state });
  }

  /** Returns a VF to the pool; frames kept for it go to the host's backend instead. */
  private release(ctx: NodeContext, vnic: string, entry: VnicEntry, vf: VirtualFunction): void {
    // Back in the pool the function is blank and RUNNING: that is a reset, and every arc is logged.
    if (vf.state !== 'RUNNING') vf.reset(ctx);
    this.pool.release(vf);
    entry.phase = null;
    entry.mode = 'emulated';
    const held = entry.held;
    entry.held = [];
    for (const frame of held) this.toVnic(ctx, vnic, frame);
  }

  // -------------------------------------------------------------------------------------------
  // helpers

  /** Known vNICs get an entry on first mention; with a list of vNICs, others are unknown (null). */
  private entry(vnic: string): VnicEntry | null {
    const existing = this.entries.get(vnic);
    if (existing !== undefined) return existing;
    if (this.known !== null && !this.known.has(vnic)) return null;
    const entry: VnicEntry = { mode: 'emulated', phase: null, held: [] };
    this.entries.set(vnic, entry);
    return entry;
  }

  private runningVf(ctx: NodeContext, vnic: string, entry: VnicEntry, what: string): VirtualFunction | null {
    const vf = this.pool.byVnic(vnic);
    if (vf === null || entry.phase !== 'running') {
      this.drop(ctx, 'no-vf', vnic, what === 'doorbell' ? 'doorbell' : 'dma', `${what} for ${vnic}, which has no running VF`);
      return null;
    }
    return vf;
  }

  /** Runs a VF operation; a refusal by the VF or its device is dropped and counted (`vf-refused`), anything else is a bug. */
  private guarded<T>(ctx: NodeContext, vnic: string, channel: Channel, operation: () => T): T | undefined {
    try {
      return operation();
    } catch (error) {
      if (!(error instanceof Vmxnet3Error) && !(error instanceof VfError)) throw error;
      this.drop(ctx, 'vf-refused', vnic, channel, error.message);
      return undefined;
    }
  }

  private writeRx(ctx: NodeContext, vnic: string, frame: Uint8Array): boolean {
    const vf = this.pool.byVnic(vnic);
    if (vf === null) {
      this.count('no-vf');
      return false;
    }
    const key = rxFilterKey(frame);
    if (!key) {
      this.count('rx-malformed');
      return false;
    }
    const written = vf.deliverRx(0, frame.length, key.dst, key.vlan);
    if ('dropped' in written) {
      this.count(`rx-${written.dropped}`);
      return false;
    }
    this.sendDma(ctx, { op: 'rx', vnic, mode: 'uptv2', queue: 0, index: written.compIndex, gen: written.compGen, frame });
    this.rxFrames++;
    return true;
  }

  /** Completions a drain wrote go to the guest as `txcomp`; interrupts ride with the next message. */
  private sendOutbox(ctx: NodeContext, vnic: string, vf: VirtualFunction): void {
    for (const done of vf.takeOutbox().completions) {
      this.txCompletions += done.count;
      this.sendDma(ctx, { op: 'txcomp', vnic, queue: done.queue, index: done.index, gen: done.gen });
    }
  }

  private sendDma(ctx: NodeContext, message: DmaMessage): void {
    ctx.send(this.port, encodeDma(message), 'dma');
  }

  private reply(ctx: NodeContext, message: MailboxMessage): void {
    ctx.send(this.port, encodeMailbox(message), 'mailbox');
  }

  private count(reason: EndpointDropReason): void {
    this.drops[reason]++;
    this.lastDrop = reason;
  }

  /** Counts a drop and, for a message (not an ordinary frame drop), records `pcie.drop`. */
  private drop(ctx: NodeContext, reason: EndpointDropReason, vnic: string | null, channel: Channel, message: string, record = true): void {
    this.count(reason);
    if (record) ctx.emit('pcie.drop', { side: 'dpu', vnic, channel, reason, message });
  }
}
