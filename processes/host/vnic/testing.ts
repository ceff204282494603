/**
 * For tests: a host's vNICs and a DPU's VF endpoint back to back on a fake pcie wire, with one
 * shared virtual clock. `ctx.send` on either side puts the message on the wire; `step` and `run`
 * deliver them in (arrival, send order), which keeps each direction first in, first out as the
 * real wire does.
 */
import { buildUdpFrame } from '../../../shared/net/builders.js';
import type { VmSpec, VnicMode, VnicSpec } from '../../../shared/topology/types.js';
import { compareViews } from '../../../shared/vmxnet3/compare.js';
import { VfEndpoint } from '../../dpu/vf-endpoint/vf-endpoint.js';
import type { EndpointCostStep, FrameFromVnic } from '../../dpu/vf-endpoint/vf-endpoint.js';
import type { Channel, NodeContext } from '../../runtime/types.js';
import { HostVnic, vnicOfPcieMessage } from './host-vnic.js';
import type { HostCostStep, TransmitResult } from './host-vnic.js';

/** An event a fake context recorded, with the node that emitted it. */
export interface BenchEvent {
  node: string;
  kind: string;
  payload: Readonly<Record<string, unknown>>;
}

/** A message on the fake wire. */
interface InFlight {
  to: 'host' | 'dpu';
  channel: Channel;
  bytes: Uint8Array;
  arrival: number;
  seq: number;
}

/** A NodeContext over a shared clock: emits are recorded, sends go to `onSend`, timers are not used by vNICs. */
export function fakeNodeContext(nodeId: string, clock: { now: number }, events: BenchEvent[], onSend: (port: string, bytes: Uint8Array, channel: Channel) => boolean = () => true): NodeContext {
  return {
    nodeId,
    now: () => clock.now,
    random: () => 0.5,
    setTimer: () => {
      throw new Error('The vNIC datapath sets no timers');
    },
    cancelTimer: () => undefined,
    send: (port, bytes, channel) => onSend(port, bytes, channel ?? 'eth'),
    linkUp: () => true,
    emit: (kind, payload) => void events.push({ node: nodeId, kind, payload }),
  };
}

/** Options of a bench. */
export interface BenchOptions {
  /** VFs in the DPU's pool (default 16). */
  vfCount?: number;
  /** One-way latency of the wire (default 500 ns). */
  latencyNs?: number;
  /** The DPU's id, also the host's port towards it (default `dpu-a`). */
  dpu?: string;
}

/** A host and a DPU joined by a fake pcie wire. */
export class PcieBench {
  readonly clock = { now: 0 };
  readonly events: BenchEvent[] = [];
  readonly dpu: string;
  readonly hostCtx: NodeContext;
  readonly dpuCtx: NodeContext;
  readonly endpoint: VfEndpoint;
  readonly vnics = new Map<string, HostVnic>();
  /** Frames the DPU took from the vNICs, in order (what its switch would get). */
  readonly fromVnic: FrameFromVnic[] = [];
  /** Frames each guest's stack received, in order. */
  readonly toGuest = new Map<string, Uint8Array[]>();
  /** Host cost steps of each message the host took, in order (empty ones left out). */
  readonly hostRxSteps: HostCostStep[][] = [];
  /** DPU cost steps of each message the DPU took, in order (empty ones left out). */
  readonly dpuSteps: EndpointCostStep[][] = [];
  /** Messages from the DPU that named no vNIC of the host. */
  unrouted = 0;
  private readonly latency: number;
  private wire: InFlight[] = [];
  private seq = 0;

  constructor(options: BenchOptions = {}) {
    this.dpu = options.dpu ?? 'dpu-a';
    this.latency = options.latencyNs ?? 500;
    this.endpoint = new VfEndpoint({ vfCount: options.vfCount ?? 16 });
    this.hostCtx = fakeNodeContext('host-a', this.clock, this.events, (port, bytes, channel) => this.put(port === this.dpu ? 'dpu' : null, bytes, channel));
    this.dpuCtx = fakeNodeContext(this.dpu, this.clock, this.events, (port, bytes, channel) => this.put(port === 'pcie' ? 'host' : null, bytes, channel));
  }

  /** Adds a vNIC of a VM to the host (and tells the DPU how it is served when it is not UPTv2). */
  addVnic(vm: VmSpec, vnic: VnicSpec, requested: VnicMode = vnic.mode): HostVnic {
    const host = new HostVnic({ vm, vnic, dpu: this.dpu, requested });
    this.vnics.set(vnic.id, host);
    this.toGuest.set(vnic.id, []);
    if (requested !== 'uptv2') this.endpoint.setMode(vnic.id, requested);
    else this.endpoint.setMode(vnic.id, 'emulated');
    return host;
  }

  /** Boots every vNIC in id order, then lets the wire settle. */
  boot(): void {
    for (const id of [...this.vnics.keys()].sort()) this.vnic(id).boot(this.hostCtx);
    this.run();
  }

  /** The host vNIC with this id. */
  vnic(id: string): HostVnic {
    const v = this.vnics.get(id);
    if (v === undefined) throw new Error(`No vNIC ${id} on the bench`);
    return v;
  }

  /** The guest of `vnic` sends a frame. */
  transmit(vnic: string, frame: Uint8Array): TransmitResult {
    return this.vnic(vnic).transmit(this.hostCtx, frame);
  }

  /** The DPU's switch hands a frame to `vnic`. */
  deliver(vnic: string, frame: Uint8Array): boolean {
    return this.endpoint.toVnic(this.dpuCtx, vnic, frame);
  }

  /** Delivers the next message on the wire; false when the wire is empty. */
  step(): boolean {
    const next = this.wire.shift();
    if (next === undefined) return false;
    this.clock.now = Math.max(this.clock.now, next.arrival);
    if (next.to === 'dpu') {
      const result = this.endpoint.onPcie(this.dpuCtx, next.channel, next.bytes);
      this.fromVnic.push(...result.framesFromVnic);
      if (result.steps.length > 0) this.dpuSteps.push(result.steps);
      return true;
    }
    const id = vnicOfPcieMessage(next.channel, next.bytes);
    const target = id === null ? undefined : this.vnics.get(id);
    if (target === undefined) {
      this.unrouted++;
      return true;
    }
    const result = target.onPcie(this.hostCtx, next.channel, next.bytes);
    this.toGuest.get(target.id)!.push(...result.frames);
    if (result.steps.length > 0) this.hostRxSteps.push(result.steps);
    return true;
  }

  /** Delivers messages until the wire is empty; returns how many. */
  run(): number {
    let n = 0;
    while (this.step()) n++;
    return n;
  }

  /** Messages on the wire now. */
  get pending(): number {
    return this.wire.length;
  }

  /** Mismatches between a guest's driver and the device serving it now (its VF, or the host's backend). */
  mismatches(vnic: string): string[] {
    const view = this.vnic(vnic).inspect();
    if (view.serving === 'backend') return compareViews(view.driver, view.backend);
    const vf = this.endpoint.pool.byVnic(vnic);
    if (vf === null) return [`vNIC ${vnic} runs UPTv2 but the DPU has no VF for it`];
    return compareViews(view.driver, vf.device.snapshot());
  }

  /** Payloads of the recorded events of one kind. */
  payloads(kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.events.filter((e) => e.kind === kind).map((e) => e.payload);
  }

  private put(to: 'host' | 'dpu' | null, bytes: Uint8Array, channel: Channel): boolean {
    if (to === null) return false;
    this.wire.push({ to, channel, bytes: new Uint8Array(bytes), arrival: this.clock.now + this.latency, seq: this.seq++ });
    this.wire.sort((a, b) => a.arrival - b.arrival || a.seq - b.seq);
    return true;
  }
}

/** A VM as the topology resolves it: fully reserved, hardware 20, driver 7, unless overridden. */
export function testVm(id: string, vnics: readonly VnicSpec[], overrides: Partial<Omit<VmSpec, 'id' | 'vnics'>> = {}): VmSpec {
  return {
    id,
    host: 'host-a',
    vcpus: 2,
    memoryMiB: 4096,
    memoryReservationMiB: 4096,
    hardwareVersion: 20,
    driverVersion: 7,
    dirtyPagesPerSec: 0,
    ...overrides,
    vnics,
  };
}

/** A vNIC numbered `n`: MAC 00:50:56:aa:00:0n, 10.0.1.1n/24 and 2001:db8:1::1n/64, in `mode`. */
export function testVnic(n: number, mode: VnicMode = 'uptv2'): VnicSpec {
  const hex = n.toString(16).padStart(2, '0');
  return { id: `vm-${n}.eth0`, mac: `00:50:56:aa:00:${hex}`, segment: 'seg-a', ipv4: `10.0.1.${10 + n}/24`, ipv6: `2001:db8:1::${10 + n}/64`, mode };
}

/** The MAC of the peer the bench's frames go to and come from. */
export const PEER_MAC = '00:50:56:bb:00:01';

/** A UDP frame carrying `seq` (4 bytes) from `src` to `dst`; `extra` bytes of payload make it longer. */
export function numberedFrame(src: string, dst: string, seq: number, extra = 0): Uint8Array {
  const payload = new Uint8Array(4 + extra);
  new DataView(payload.buffer).setUint32(0, seq);
  return buildUdpFrame({ srcMac: src, dstMac: dst, srcIp: '10.0.1.99', dstIp: '10.0.1.98', srcPort: 4000, dstPort: 5000, payload });
}

/** The sequence number a `numberedFrame` carries. */
export function seqOf(frame: Uint8Array): number {
  // Ethernet 14 + IPv4 20 + UDP 8.
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(42);
}
