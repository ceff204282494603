/**
 * For tests: a host's vNICs and one or more DPUs' VF endpoints on fake pcie wires, on one test
 * lab's clock. `ctx.send` on either side puts the message on the wire; `step` and `run` deliver
 * them in (arrival, send order), which keeps each direction first in, first out as the real wire
 * does. A DPU can be killed: it stops answering, what was on its way to it is lost, what it had
 * already sent still arrives (as the runtime guarantees for a killed node).
 */
import { buildUdpFrame } from '../../../shared/net/builders.js';
import type { VmSpec, VnicMode, VnicSpec } from '../../../shared/topology/types.js';
import { compareViews } from '../../../shared/vmxnet3/compare.js';
import { VfEndpoint } from '../../dpu/vf-endpoint/vf-endpoint.js';
import type { EndpointCostStep, FrameFromVnic } from '../../dpu/vf-endpoint/vf-endpoint.js';
import { TestLab } from '../../runtime/testing.js';
import type { TestContext } from '../../runtime/testing.js';
import type { Channel } from '../../runtime/types.js';
import { HostVnic, vnicOfPcieMessage } from './host-vnic.js';
import type { HostCostStep, TransmitResult } from './host-vnic.js';

/** A message on the fake wire: to the host (from a DPU) or to a DPU. */
interface InFlight {
  readonly to: 'host' | 'dpu';
  /** The DPU at the other end of the wire. */
  readonly dpu: string;
}

function noTimers(): never {
  throw new Error('The vNIC datapath sets no timers');
}

/** Options of a bench. */
export interface BenchOptions {
  /** VFs in the DPU's pool (default 16). */
  vfCount?: number;
  /** One-way latency of the wire (default 500 ns). */
  latencyNs?: number;
  /** The DPU's id, also the host's port towards it (default `dpu-a`). */
  dpu?: string;
  /** Several DPUs, each with its own endpoint; the first serves the vNICs at boot (default: `[dpu]`). */
  dpus?: readonly string[];
}

/** A frame a DPU took from a vNIC, and which DPU took it. */
export type BenchFrameFromVnic = FrameFromVnic & { dpu: string };

/** A host and its DPUs joined by fake pcie wires, on one test lab's clock. */
export class PcieBench {
  readonly lab = new TestLab();
  readonly clock = this.lab.clock;
  readonly events = this.lab.events;
  /** The first DPU: the one the vNICs start on. */
  readonly dpu: string;
  readonly dpus: readonly string[];
  readonly hostCtx: TestContext;
  /** The first DPU's context and endpoint. */
  readonly dpuCtx: TestContext;
  readonly endpoint: VfEndpoint;
  readonly endpoints = new Map<string, VfEndpoint>();
  readonly dpuCtxs = new Map<string, TestContext>();
  readonly vnics = new Map<string, HostVnic>();
  /** Frames the DPUs took from the vNICs, in order (what their switches would get). */
  readonly fromVnic: BenchFrameFromVnic[] = [];
  /** Frames each guest's stack received, in order. */
  readonly toGuest = new Map<string, Uint8Array[]>();
  /** Host cost steps of each message the host took, in order (empty ones left out). */
  readonly hostRxSteps: HostCostStep[][] = [];
  /** DPU cost steps of each message the DPU took, in order (empty ones left out). */
  readonly dpuSteps: EndpointCostStep[][] = [];
  /** Messages from the DPU that named no vNIC of the host. */
  unrouted = 0;
  /** Messages the host sent to a killed DPU, and messages on their way to it when it was killed. */
  lostToDead = 0;
  private readonly latency: number;
  private readonly dead = new Set<string>();
  private readonly vfCount: number;

  constructor(options: BenchOptions = {}) {
    this.dpus = options.dpus ?? [options.dpu ?? 'dpu-a'];
    this.dpu = this.dpus[0]!;
    this.latency = options.latencyNs ?? 500;
    this.vfCount = options.vfCount ?? 16;
    for (const dpu of this.dpus) {
      this.endpoints.set(dpu, new VfEndpoint({ vfCount: this.vfCount }));
      this.dpuCtxs.set(dpu, this.lab.context(dpu, noTimers, { random: 0.5, onSend: (port, bytes, channel) => (port === 'pcie' ? this.put('host', dpu, bytes, channel) : false) }));
    }
    this.endpoint = this.endpoints.get(this.dpu)!;
    this.dpuCtx = this.dpuCtxs.get(this.dpu)!;
    this.hostCtx = this.lab.context('host-a', noTimers, { random: 0.5, onSend: (port, bytes, channel) => (this.endpoints.has(port) ? this.put('dpu', port, bytes, channel) : false) });
  }

  /** Adds a vNIC of a VM to the host (and tells the DPU how it is served when it is not UPTv2). */
  addVnic(vm: VmSpec, vnic: VnicSpec, requested: VnicMode = vnic.mode): HostVnic {
    const host = new HostVnic({ vm, vnic, dpu: this.dpu, requested });
    this.vnics.set(vnic.id, host);
    this.toGuest.set(vnic.id, []);
    for (const endpoint of this.endpoints.values()) endpoint.setMode(vnic.id, requested !== 'uptv2' ? requested : 'emulated');
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

  /** The switch of `dpu` (default: the DPU serving the vNIC) hands a frame to `vnic`. */
  deliver(vnic: string, frame: Uint8Array, dpu: string = this.vnic(vnic).servingDpu ?? this.dpu): boolean {
    if (this.dead.has(dpu)) return false;
    return this.endpointOf(dpu).toVnic(this.dpuCtxs.get(dpu)!, vnic, frame);
  }

  /** The endpoint of a DPU of the bench. */
  endpointOf(dpu: string): VfEndpoint {
    const endpoint = this.endpoints.get(dpu);
    if (endpoint === undefined) throw new Error(`No DPU ${dpu} on the bench`);
    return endpoint;
  }

  /** The DPU stops: what is on its way to it is lost, and from now on so is everything sent to it. */
  kill(dpu: string): void {
    this.endpointOf(dpu);
    this.dead.add(dpu);
    this.lostToDead += this.lab.cancel((tag) => (tag as InFlight).to === 'dpu' && (tag as InFlight).dpu === dpu);
  }

  /**
   * A killed DPU boots again with a fresh endpoint that knows nothing of the vNICs but how the
   * topology says they are served (`endpoint` keeps naming the old one: use `endpointOf`).
   */
  restart(dpu: string): void {
    this.endpointOf(dpu);
    this.dead.delete(dpu);
    const endpoint = new VfEndpoint({ vfCount: this.vfCount });
    for (const vnic of this.vnics.values()) endpoint.setMode(vnic.id, vnic.requested !== 'uptv2' ? vnic.requested : 'emulated');
    this.endpoints.set(dpu, endpoint);
  }

  /** Delivers the next message on the wire; false when the wire is empty. */
  step(): boolean {
    return this.lab.step();
  }

  /** Delivers messages until the wire is empty; returns how many. */
  run(): number {
    let n = 0;
    while (this.step()) n++;
    return n;
  }

  /** Messages on the wire now. */
  get pending(): number {
    return this.lab.pending();
  }

  /** Mismatches between a guest's driver and the device serving it now (its VF on its DPU, or the host's backend). */
  mismatches(vnic: string): string[] {
    const view = this.vnic(vnic).inspect();
    if (view.serving === 'backend') return compareViews(view.driver, view.backend);
    const vf = this.endpointOf(view.dpu ?? this.dpu).pool.byVnic(vnic);
    if (vf === null) return [`vNIC ${vnic} runs UPTv2 but the DPU has no VF for it`];
    return compareViews(view.driver, vf.device.snapshot());
  }

  /** Payloads of the recorded events of one kind. */
  payloads(kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.lab.payloads(kind);
  }

  private put(to: 'host' | 'dpu', dpu: string, bytes: Uint8Array, channel: Channel): boolean {
    if (to === 'dpu' && this.dead.has(dpu)) {
      this.lostToDead++;
      return false;
    }
    const copy = new Uint8Array(bytes);
    const tag: InFlight = { to, dpu };
    this.lab.after(this.latency, () => (to === 'dpu' ? this.toDpu(dpu, channel, copy) : this.toHost(dpu, channel, copy)), tag);
    return true;
  }

  private toDpu(dpu: string, channel: Channel, bytes: Uint8Array): void {
    const result = this.endpointOf(dpu).onPcie(this.dpuCtxs.get(dpu)!, channel, bytes);
    this.fromVnic.push(...result.framesFromVnic.map((f) => ({ ...f, dpu })));
    if (result.steps.length > 0) this.dpuSteps.push(result.steps);
  }

  private toHost(dpu: string, channel: Channel, bytes: Uint8Array): void {
    const id = vnicOfPcieMessage(channel, bytes);
    const target = id === null ? undefined : this.vnics.get(id);
    if (target === undefined) {
      this.unrouted++;
      return;
    }
    const result = target.onPcie(this.hostCtx, channel, bytes, dpu);
    this.toGuest.get(target.id)!.push(...result.frames);
    if (result.steps.length > 0) this.hostRxSteps.push(result.steps);
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
    workingSetMiB: 4096,
    coldDirtyPagesPerSec: 0,
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
