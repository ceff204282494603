/**
 * A tiny deterministic network simulator for guest stack tests: hosts holding guest stacks with
 * a shared virtual clock, point-to-point links with latency, loss, duplication, jitter and a tap
 * that can drop, rewrite or answer frames (a firewall), and a router that answers ARP and ND for
 * its gateway addresses and forwards between subnets (as the distributed router does).
 *
 * Everything random is drawn from streams seeded by the lab seed and a label, so a test run is
 * the same every time.
 */
import type { VTime } from '../../../shared/events.js';
import { buildArpReply, buildNeighborAdvertisement } from '../../../shared/net/builders.js';
import { internetChecksum } from '../../../shared/net/checksum.js';
import { tryDecodeFrame } from '../../../shared/net/frame.js';
import type { DecodedFrame } from '../../../shared/net/frame.js';
import { cidrContains, parseCidr } from '../../../shared/net/ip.js';
import type { Cidr } from '../../../shared/net/ip.js';
import { ndpLinkLayerAddress } from '../../../shared/net/icmpv6.js';
import { parseMac, writeMac } from '../../../shared/net/mac.js';
import { RandomStream } from '../../../shared/random.js';
import type { SegmentSpec, VmSpec } from '../../../shared/topology/types.js';
import { TestLab } from '../../runtime/testing.js';
import type { TestContext } from '../../runtime/testing.js';
import type { NodeContext } from '../../runtime/types.js';
import { testVm } from '../vnic/testing.js';
import { GuestStack } from './stack.js';
import type { GuestStackOptions, GuestStackSettings } from './stack.js';

/** Something a link end can deliver frames to. */
export interface LabPort {
  readonly name: string;
  deliver(frame: Uint8Array): void;
  attach(link: LabLink, side: 'a' | 'b'): void;
}

/** Link impairments and behaviour; every field has a default. */
export interface LinkOptions {
  /** One-way latency (default 20 µs). */
  readonly latencyNs?: VTime;
  /** Probability a frame is lost. */
  readonly loss?: number;
  /** Probability a frame is delivered twice. */
  readonly duplicate?: number;
  /** Extra delay drawn uniformly in [0, jitterNs]: frames overtake each other. */
  readonly jitterNs?: VTime;
  /**
   * Sees every frame before the impairments. Returns the frames to carry on (none: dropped);
   * may answer with `link.inject` (a firewall reject).
   */
  readonly tap?: (frame: Uint8Array, from: 'a' | 'b', link: LabLink) => readonly Uint8Array[];
}

/** The simulator: the test lab (one clock, one time-ordered queue, the recorded events) with guest hosts, links and routers. */
export class GuestLab extends TestLab {
  /** Runs `run` at virtual time `at` (not before now); same-time items run in scheduling order. */
  schedule(at: VTime, run: () => void): void {
    this.at(at, run);
  }

  /** Processes everything due up to `untilNs`, then sets the clock there. */
  runUntil(untilNs: VTime): void {
    this.run(untilNs);
  }

  /** A host process holding one or more guest stacks that share its context (and timer stream). */
  addHost(id: string, vms: readonly VmSpec[], segments: readonly SegmentSpec[], settings?: Partial<GuestStackSettings>): LabHost {
    return new LabHost(this, id, vms, segments, settings);
  }

  /** A host with a single VM; the VM id names the host too. */
  addVm(vm: VmSpec, segments: readonly SegmentSpec[], settings?: Partial<GuestStackSettings>): LabVm {
    const host = this.addHost(vm.id, [vm], segments, settings);
    return new LabVm(host, vm.id);
  }

  /** Joins two ports with a link. */
  connect(a: LabPort, b: LabPort, options: LinkOptions = {}): LabLink {
    const link = new LabLink(this, a, b, options);
    a.attach(link, 'a');
    b.attach(link, 'b');
    return link;
  }

  /** Payloads of the latest `flow.report` of a flow and side. */
  lastReport(flow: string, side: 'sender' | 'receiver'): Record<string, unknown> | null {
    const reports = this.eventsOf('flow.report', { flow, side });
    return (reports[reports.length - 1]?.payload as Record<string, unknown> | undefined) ?? null;
  }
}

/** A host node in the lab: its context, its stacks, one port per vNIC. */
export class LabHost {
  readonly ctx: NodeContext;
  readonly stacks = new Map<string, GuestStack>();
  private readonly ports = new Map<string, VnicPort>();
  private readonly options = new Map<string, GuestStackOptions>();
  /** VMs stunned or moved away: frames for them are dropped, timers naming them are ignored. */
  private readonly away = new Set<string>();
  /** Frames that arrived for a VM while it was away. */
  droppedAway = 0;

  constructor(
    private readonly lab: GuestLab,
    readonly id: string,
    vms: readonly VmSpec[],
    segments: readonly SegmentSpec[],
    settings?: Partial<GuestStackSettings>,
  ) {
    this.ctx = labContext(lab, id, (name, data) => this.dispatchTimer(name, data));
    for (const vm of vms) {
      const options: GuestStackOptions = {
        vm,
        segments,
        transmit: (vnicId, frame) => this.ports.get(`${vm.id}/${vnicId}`)?.transmit(frame),
        ...(settings ? { settings } : {}),
      };
      this.options.set(vm.id, options);
      this.stacks.set(vm.id, new GuestStack(options));
      for (const vnic of vm.vnics) this.ports.set(`${vm.id}/${vnic.id}`, new VnicPort(`${vm.id}/${vnic.id}`, (frame) => this.deliverTo(vm.id, vnic.id, frame)));
    }
  }

  /**
   * Stuns a VM (the first half of a vMotion): from now on its frames are dropped and its timers
   * ignored. Returns its stack, to export from; the host never calls it again.
   */
  detach(vmId: string): GuestStack {
    const stack = this.stack(vmId);
    this.stacks.delete(vmId);
    this.away.add(vmId);
    return stack;
  }

  /**
   * Gives a VM of this host the stack `build` makes from the options a new stack for it would
   * get here (typically `GuestStack.restore(options, state, host.ctx)`): the VM arrived or
   * resumed. Frames and timers reach the new stack from now on.
   */
  attach(vmId: string, build: (options: GuestStackOptions) => GuestStack): GuestStack {
    const stack = build(this.optionsOf(vmId));
    this.stacks.set(vmId, stack);
    this.away.delete(vmId);
    return stack;
  }

  /** What a new stack for one of this host's VMs is built from (its spec, the segments, the wiring). */
  optionsOf(vmId: string): GuestStackOptions {
    const options = this.options.get(vmId);
    if (!options) throw new Error(`No VM ${vmId} on host ${this.id}`);
    return options;
  }

  /** The stack of one VM. */
  stack(vmId: string): GuestStack {
    const stack = this.stacks.get(vmId);
    if (!stack) throw new Error(`No VM ${vmId} on host ${this.id}`);
    return stack;
  }

  /** The port of a VM's vNIC, to connect a link to. */
  port(vmId: string, vnicId: string): VnicPort {
    const port = this.ports.get(`${vmId}/${vnicId}`);
    if (!port) throw new Error(`No vNIC ${vnicId} on VM ${vmId}`);
    return port;
  }

  /** Boots every VM (each announces itself). */
  boot(): void {
    for (const stack of this.stacks.values()) stack.boot(this.ctx);
  }

  /** Ends the run for every VM (final reports). */
  end(): void {
    for (const stack of this.stacks.values()) stack.onEnd(this.ctx);
  }

  private deliverTo(vmId: string, vnicId: string, frame: Uint8Array): { readonly code: string } | null {
    const stack = this.stacks.get(vmId);
    if (!stack) {
      this.droppedAway++;
      return null;
    }
    return stack.receive(this.ctx, vnicId, frame);
  }

  private dispatchTimer(name: string, data: unknown): void {
    for (const stack of this.stacks.values()) if (stack.onTimer(this.ctx, name, data)) return;
    // A stack that left still has timers pending here, as a host process that was left has.
    const vm = typeof data === 'object' && data !== null ? (data as { vm?: unknown }).vm : undefined;
    if (name.startsWith('guest.') && typeof vm === 'string' && this.away.has(vm)) return;
    throw new Error(`Timer ${name} was claimed by no stack on host ${this.id}`);
  }
}

/**
 * A context on the lab's clock whose timers go to `onTimer`, whose random stream is seeded by the
 * lab seed and the node id, and whose sends go nowhere (guest frames travel by lab links).
 */
/** The addresses of an answer to an IPv4 frame, in its receiver's name (as a firewall that rejects it answers). */
export function answerAddresses(f: DecodedFrame): { srcMac: string; dstMac: string; srcIp: string; dstIp: string } {
  if (!f.ipv4) throw new Error('answerAddresses needs an IPv4 frame');
  return { srcMac: f.ethernet.dst, dstMac: f.ethernet.src, srcIp: f.ipv4.dst, dstIp: f.ipv4.src };
}

export function labContext(lab: GuestLab, nodeId: string, onTimer: (name: string, data: unknown) => void): TestContext {
  return lab.context(nodeId, onTimer, { onSend: () => false });
}

/** A host with one VM, with shortcuts to its stack. */
export class LabVm {
  constructor(
    readonly host: LabHost,
    readonly id: string,
  ) {}

  get stack(): GuestStack {
    return this.host.stack(this.id);
  }

  get ctx(): NodeContext {
    return this.host.ctx;
  }

  /** The VM's vNIC port (its first vNIC when not named). */
  port(vnicId?: string): VnicPort {
    const id = vnicId ?? (this.stack.inspect().interfaces[0]?.vnic as string);
    return this.host.port(this.id, id);
  }
}

/** A vNIC's end of a link: frames the guest transmits go onto the link, frames from it into the guest. */
export class VnicPort implements LabPort {
  private link: LabLink | null = null;
  private side: 'a' | 'b' = 'a';
  /** Malformed frames the stack reported back. */
  readonly malformed: string[] = [];

  constructor(
    readonly name: string,
    private readonly receive: (frame: Uint8Array) => { readonly code: string } | null,
  ) {}

  attach(link: LabLink, side: 'a' | 'b'): void {
    this.link = link;
    this.side = side;
  }

  transmit(frame: Uint8Array): void {
    this.link?.carry(this.side, frame);
  }

  deliver(frame: Uint8Array): void {
    const error = this.receive(frame);
    if (error) this.malformed.push(error.code);
  }
}

/** A point-to-point link with impairments. */
export class LabLink {
  /** A down link loses everything. */
  up = true;
  carried = 0;
  lost = 0;
  duplicated = 0;
  private readonly random: RandomStream;

  constructor(
    private readonly lab: GuestLab,
    readonly a: LabPort,
    readonly b: LabPort,
    private readonly options: LinkOptions,
  ) {
    this.random = new RandomStream(lab.seed, 'link', a.name, b.name);
  }

  /** Carries a frame sent by the port on `from`. */
  carry(from: 'a' | 'b', frame: Uint8Array): void {
    const frames = this.options.tap ? this.options.tap(frame, from, this) : [frame];
    for (const f of frames) this.travel(from === 'a' ? 'b' : 'a', f, true);
  }

  /** Delivers a frame to the port on `to` after the latency, without impairments (a firewall's answer). */
  inject(to: 'a' | 'b', frame: Uint8Array): void {
    this.travel(to, frame, false);
  }

  private travel(to: 'a' | 'b', frame: Uint8Array, impaired: boolean): void {
    if (!this.up) {
      this.lost++;
      return;
    }
    if (impaired && this.random.chance(this.options.loss ?? 0)) {
      this.lost++;
      return;
    }
    const copies = impaired && this.random.chance(this.options.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) this.duplicated++;
    const port = to === 'a' ? this.a : this.b;
    for (let i = 0; i < copies; i++) {
      const jitter = impaired ? Math.floor(this.random.next() * (this.options.jitterNs ?? 0)) : 0;
      const bytes = frame.slice();
      this.carried++;
      this.lab.after((this.options.latencyNs ?? 20_000) + jitter, () => port.deliver(bytes));
    }
  }
}

/** The virtual router MAC every distributed router answers with. */
export const ROUTER_MAC = '02:50:56:56:44:52';

/** One routed interface of the fake router: the gateway addresses with their prefixes. */
export interface RouterInterfaceSpec {
  /** e.g. `10.0.1.1/24` */
  readonly gateway4: string;
  /** e.g. `fd00:1::1/64` */
  readonly gateway6?: string;
}

/**
 * A router between subnets, like the distributed router on a DPU: it answers ARP and neighbour
 * solicitations for its gateway addresses with the virtual router MAC, decrements TTL, rewrites
 * MACs and forwards to the VM behind the destination address (known from a static table, as the
 * control plane knows it).
 */
export class FakeRouter {
  readonly ports: RouterPort[];
  forwarded = 0;
  dropped = 0;
  private readonly hosts = new Map<string, string>();

  constructor(interfaces: readonly RouterInterfaceSpec[]) {
    this.ports = interfaces.map((spec, i) => new RouterPort(`router/${i}`, this, i, parseCidr(spec.gateway4), spec.gateway6 ? parseCidr(spec.gateway6) : null));
  }

  /** Tells the router which MAC an address has (the control-plane table). */
  learn(ip: string, mac: string): void {
    this.hosts.set(ip, mac);
  }

  /** A frame arrived on port `index`. */
  receive(index: number, bytes: Uint8Array): void {
    const port = this.ports[index]!;
    const decoded = tryDecodeFrame(bytes);
    if (!decoded.ok) {
      this.dropped++;
      return;
    }
    const f = decoded.frame;
    if (f.arp) {
      if (f.arp.operation === 1 && f.arp.targetIp === port.gateway4.address) {
        port.transmit(buildArpReply({ srcMac: ROUTER_MAC, senderIp: port.gateway4.address, dstMac: f.arp.senderMac, targetIp: f.arp.senderIp }));
      }
      return;
    }
    if (f.icmpv6?.kind === 'neighbor-solicitation') {
      if (port.gateway6 && f.icmpv6.target === port.gateway6.address) {
        const mac = ndpLinkLayerAddress(f.icmpv6) ?? f.ethernet.src;
        port.transmit(buildNeighborAdvertisement({ srcMac: ROUTER_MAC, dstMac: mac, srcIp: port.gateway6.address, dstIp: f.ipv6!.src, router: true }));
      }
      return;
    }
    if (f.ethernet.dst !== ROUTER_MAC) return;
    this.forward(f, bytes);
  }

  private forward(f: DecodedFrame, bytes: Uint8Array): void {
    const dst = f.ipv4?.dst ?? f.ipv6?.dst;
    const out = this.ports.find((p) => dst !== undefined && (cidrContains(p.gateway4, dst) || (p.gateway6 !== null && cidrContains(p.gateway6, dst))));
    const mac = dst === undefined ? undefined : this.hosts.get(dst);
    if (!out || !mac) {
      this.dropped++;
      return;
    }
    const frame = bytes.slice();
    writeMac(frame, 0, parseMac(mac));
    writeMac(frame, 6, parseMac(ROUTER_MAC));
    const ip = f.ethernet.payloadOffset;
    if (f.ipv4) {
      if (frame[ip + 8]! <= 1) {
        this.dropped++;
        return;
      }
      frame[ip + 8]! -= 1;
      frame[ip + 10] = 0;
      frame[ip + 11] = 0;
      const sum = internetChecksum(frame, ip, ip + f.ipv4.headerLength);
      frame[ip + 10] = sum >> 8;
      frame[ip + 11] = sum & 0xff;
    } else {
      if (frame[ip + 7]! <= 1) {
        this.dropped++;
        return;
      }
      frame[ip + 7]! -= 1;
    }
    this.forwarded++;
    out.transmit(frame);
  }
}

/** One port of the fake router. */
export class RouterPort implements LabPort {
  private link: LabLink | null = null;
  private side: 'a' | 'b' = 'a';

  constructor(
    readonly name: string,
    private readonly router: FakeRouter,
    private readonly index: number,
    readonly gateway4: Cidr,
    readonly gateway6: Cidr | null,
  ) {}

  attach(link: LabLink, side: 'a' | 'b'): void {
    this.link = link;
    this.side = side;
  }

  deliver(frame: Uint8Array): void {
    this.router.receive(this.index, frame);
  }

  transmit(frame: Uint8Array): void {
    this.link?.carry(this.side, frame);
  }
}

/** Two VMs on one segment (10.0.1.0/24, fd00:1::/64), joined back to back by one link. */
export interface TwoVms {
  readonly lab: GuestLab;
  readonly a: LabVm;
  readonly b: LabVm;
  readonly link: LabLink;
}

/** Addresses of {@link twoVms}. */
export const TWO_VMS = { a4: '10.0.1.11', b4: '10.0.1.12', a6: 'fd00:1::11', b6: 'fd00:1::12' } as const;

/** Builds {@link TwoVms}: `vm-a` and `vm-b`, a link with `options`, a seeded lab. */
export function twoVms(options: LinkOptions = {}, seed = 1, settings?: Partial<GuestStackSettings>): TwoVms {
  const lab = new GuestLab(seed);
  const segments = [labSegment('web', '10.0.1.0/24', '10.0.1.1', 'fd00:1::/64', 'fd00:1::1')];
  const a = lab.addVm(labVm('vm-a', [{ segment: 'web', ipv4: `${TWO_VMS.a4}/24`, ipv6: `${TWO_VMS.a6}/64` }]), segments, settings);
  const b = lab.addVm(labVm('vm-b', [{ segment: 'web', ipv4: `${TWO_VMS.b4}/24`, ipv6: `${TWO_VMS.b6}/64` }]), segments, settings);
  const link = lab.connect(a.port(), b.port(), options);
  return { lab, a, b, link };
}

/** A segment for tests: routed when gateways are given. */
export function labSegment(id: string, ipv4Subnet: string, gateway4: string | null = null, ipv6Subnet: string | null = null, gateway6: string | null = null): SegmentSpec {
  return { id, kind: 'overlay', vni: 5000, vlan: null, ipv4Subnet, ipv6Subnet, gateway4, gateway6 };
}

/** A VM for tests with one vNIC per entry; MACs are derived from the VM id and vNIC index when not given. */
export function labVm(id: string, vnics: readonly { readonly segment: string; readonly ipv4: string; readonly ipv6?: string; readonly mac?: string; readonly id?: string }[]): VmSpec {
  return testVm(
    id,
    vnics.map((v, i) => ({
      id: v.id ?? `nic${i}`,
      mac: v.mac ?? macFor(id, i),
      segment: v.segment,
      ipv4: v.ipv4,
      ipv6: v.ipv6 ?? null,
      mode: 'emulated',
    })),
    { host: 'lab' },
  );
}

function macFor(id: string, index: number): string {
  let h = 0;
  for (const c of id) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  const bytes = [0x02, (h >>> 24) & 0xff, (h >>> 16) & 0xff, (h >>> 8) & 0xff, h & 0xff, index & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
