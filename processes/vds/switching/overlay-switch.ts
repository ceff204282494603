/**
 * The distributed switch, overlay tunnel endpoint and distributed router of one box: a DPU
 * (offloaded, on Arm) or a host without DPUs (in software, on x86). The owner hands it every
 * frame from a local vNIC or an uplink and performs the actions it returns; the switch never
 * sends anything itself, so the owner can apply its firewall and charge the work per step.
 */
import type { VTime } from '../../../shared/events.js';
import { ARP_REQUEST, decodeArp } from '../../../shared/net/arp.js';
import type { ArpPacket } from '../../../shared/net/arp.js';
import { writeU16 } from '../../../shared/net/bytes.js';
import { buildArpReply, buildArpRequest, buildGeneveFrame, buildGratuitousArp, buildIcmpEchoFrame, buildNeighborAdvertisement } from '../../../shared/net/builders.js';
import {
  decodeEthernet,
  ETHERNET_MIN_FRAME_LENGTH,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_IPV6,
  ETHERTYPE_TRANSPARENT_ETHERNET,
  ETHERTYPE_VLAN,
} from '../../../shared/net/ethernet.js';
import type { DecodedEthernet } from '../../../shared/net/ethernet.js';
import { FrameError } from '../../../shared/net/errors.js';
import { decodeGeneve, GENEVE_BASE_HEADER_LENGTH, GENEVE_UDP_PORT } from '../../../shared/net/geneve.js';
import { decodeIcmp } from '../../../shared/net/icmp.js';
import { decodeIcmpv6, NDP_HOP_LIMIT } from '../../../shared/net/icmpv6.js';
import { cidrContains, normalizeIp, parseCidr } from '../../../shared/net/ip.js';
import type { Cidr, IpAddress, Ipv4Address } from '../../../shared/net/ip.js';
import { decodeIpv4, IP_PROTOCOL_ICMP, IP_PROTOCOL_ICMPV6, IP_PROTOCOL_UDP, IPV4_MIN_HEADER_LENGTH } from '../../../shared/net/ipv4.js';
import { decodeIpv6, IPV6_HEADER_LENGTH } from '../../../shared/net/ipv6.js';
import { formatMac, isMulticastMac, normalizeMac, writeMac, ZERO_MAC } from '../../../shared/net/mac.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import { decodeUdp, UDP_HEADER_LENGTH } from '../../../shared/net/udp.js';
import type { ResolvedTopology, SegmentSpec, VnicSpec } from '../../../shared/topology/types.js';
import type { NodeContext } from '../../runtime/types.js';
import type { DropReason, FrameOrigin, SwitchAction, SwitchStep } from './actions.js';
import { SWITCH_STEPS } from './actions.js';
import { ControlPlane } from './control-plane.js';
import { SwitchingError } from './errors.js';
import { DEFAULT_MAC_AGING_NS, DEFAULT_MAC_LIMIT, MacLearningTable } from './mac-learning.js';
import type { LearnedMac, MacLocation } from './mac-learning.js';
import { buildRarpAnnouncement, ETHERTYPE_RARP } from './rarp.js';
import { buildTimeExceeded, routedCopy } from './router.js';
import { Teaming } from './teaming.js';
import { dpuTepIp, hostTepIp, ROUTER_MAC, UNDERLAY_SUBNET } from './tep.js';
import type { TepAddress } from './tep.js';
import { UnderlayArp } from './underlay-arp.js';
import type { QueuedFrame, UnderlayNeighbor } from './underlay-arp.js';

/** A vNIC served by this switch: its spec and the VM it belongs to. */
export interface LocalVnic extends VnicSpec {
  readonly vm: string;
}

/** How to build a switch. Everything after `vnics` has a default. */
export interface OverlaySwitchOptions {
  /** The node that runs the switch (a DPU id, or a host id for a host without DPUs). */
  readonly owner: string;
  readonly topology: ResolvedTopology;
  /** This switch's tunnel endpoint, see `tepOf`. */
  readonly tep: TepAddress;
  /** Uplink ports in explicit failover order. */
  readonly uplinks: readonly string[];
  /** The vNICs this switch serves at boot. */
  readonly vnics: readonly LocalVnic[];
  /** A control-plane table to share; by default one is derived from the topology. */
  readonly controlPlane?: ControlPlane;
  /** Largest outer IP packet the underlay carries, in bytes; default 1600, NSX's minimum. */
  readonly underlayMtu?: number;
  readonly macAgingNs?: VTime;
  readonly macLimit?: number;
  readonly arpAgingNs?: VTime;
  readonly arpPendingLimit?: number;
  readonly arpRetryNs?: VTime;
  readonly arpAttempts?: number;
  /**
   * VNIs the owner terminates itself rather than a segment (a DPU: the vMotion network). GENEVE
   * frames to this TEP with one of them are decapsulated and kept for `takeTunnelled`, never
   * switched. Default none.
   */
  readonly ownerVnis?: readonly number[];
}

/** A frame that arrived in GENEVE on one of the owner's VNIs (`OverlaySwitchOptions.ownerVnis`). */
export interface TunnelledFrame {
  readonly vni: number;
  /** The tunnel endpoint that sent it (outer IPv4 source). */
  readonly tep: Ipv4Address;
  /** The uplink it came in on. */
  readonly port: string;
  /** The inner Ethernet frame, a copy. */
  readonly frame: Uint8Array;
  /** The work done on it, for the owner to charge (the decapsulation). */
  readonly steps: readonly SwitchStep[];
}

/** Timer names of the switch start with this; the owner routes such timers to `onTimer`. */
export const OVERLAY_TIMER_PREFIX = 'overlay.';
const ARP_RETRY_TIMER = `${OVERLAY_TIMER_PREFIX}arp-retry`;

/** Default underlay MTU: NSX requires at least 1600 bytes for GENEVE overhead. */
export const DEFAULT_UNDERLAY_MTU = 1600;

/** Outer headers GENEVE adds to an inner frame, counted in the outer IP packet: IPv4, UDP, GENEVE. */
const GENEVE_IP_OVERHEAD = IPV4_MIN_HEADER_LENGTH + UDP_HEADER_LENGTH + GENEVE_BASE_HEADER_LENGTH;

/** Frame counters of one vNIC or uplink, as `inspect()` shows them. */
export interface PortCounterView {
  readonly rxFrames: number;
  readonly txFrames: number;
  /** Dropped frames that came in on this port, by reason. */
  readonly drops: Readonly<Record<string, number>>;
}

/** Everything the switch counts, plain data. */
export interface SwitchCounterView {
  readonly vnics: Readonly<Record<string, PortCounterView>>;
  readonly uplinks: Readonly<Record<string, PortCounterView>>;
  /** Work done, by step (the sum of the steps of every action returned). */
  readonly steps: Readonly<Record<SwitchStep, number>>;
  /** ARP requests for a VM's address answered locally. */
  readonly arpSuppressed: number;
  /** Neighbour solicitations for a VM's address answered locally. */
  readonly ndSuppressed: number;
  /** ARP, NS and echo requests for a gateway address answered by the distributed router. */
  readonly routerReplies: number;
  /** Local-to-local deliveries (the frame came back to the host it left). */
  readonly hairpin: number;
  readonly encap: number;
  readonly decap: number;
  readonly routed: number;
  /** GENEVE copies made by head-end replication of broadcast, unknown unicast and multicast. */
  readonly replicated: number;
  /** Learned MACs that moved to another vNIC, TEP or uplink. */
  readonly macMoves: number;
  /** Source MACs not learned because their segment's table was full. */
  readonly macLimitHits: number;
}

/** The state of the switch, plain data, sorted. */
export interface OverlaySwitchView {
  readonly owner: string;
  readonly tep: TepAddress;
  readonly activeUplink: string | null;
  readonly uplinks: Array<{ port: string; up: boolean; active: boolean }>;
  readonly vnics: Array<{ vnic: string; vm: string; mac: MacAddress; segment: string }>;
  readonly macTables: Record<string, LearnedMac[]>;
  readonly underlayArp: UnderlayNeighbor[];
  readonly arpPending: Array<{ tep: Ipv4Address; frames: number; attempts: number }>;
  readonly counters: SwitchCounterView;
}

interface PortCounters {
  rxFrames: number;
  txFrames: number;
  readonly drops: Map<string, number>;
}

interface Segment {
  readonly spec: SegmentSpec;
  readonly v4: Cidr;
  readonly v6: Cidr | null;
  readonly gateway4: Ipv4Address | null;
  readonly gateway6: IpAddress | null;
}

type Counted = 'arpSuppressed' | 'ndSuppressed' | 'routerReplies' | 'replicated' | 'macMoves' | 'macLimitHits';

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The drop fields that say where a frame came from. */
function whence(origin: FrameOrigin): { vnic?: string; port?: string } {
  if (origin.kind === 'vnic') return { vnic: origin.vnic };
  if (origin.kind === 'uplink') return { port: origin.port };
  return {};
}

/** The `detail` of a `standby-uplink` drop of a frame addressed to this switch's tunnel endpoint. */
export const STANDBY_FOR_TEP = 'addressed to this tunnel endpoint';

function drop(reason: DropReason, origin: FrameOrigin, steps: readonly SwitchStep[] = [], detail?: string): SwitchAction {
  return { kind: 'drop', reason, ...whence(origin), steps, ...(detail !== undefined ? { detail } : {}) };
}

/** Inserts an 802.1Q tag after the MAC addresses. */
function tagFrame(frame: Uint8Array, vid: number): Uint8Array {
  const out = new Uint8Array(frame.length + 4);
  out.set(frame.subarray(0, 12), 0);
  writeU16(out, 12, ETHERTYPE_VLAN);
  writeU16(out, 14, vid & 0x0fff);
  out.set(frame.subarray(12), 16);
  return out;
}

/** Removes the 802.1Q tag, padding back to the Ethernet minimum as a receiving NIC would. */
function untagFrame(frame: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.max(frame.length - 4, ETHERNET_MIN_FRAME_LENGTH));
  out.set(frame.subarray(0, 12), 0);
  out.set(frame.subarray(16), 12);
  return out;
}

/**
 * One box's distributed switch. Every input method returns the actions to perform, in order;
 * the same inputs at the same virtual times always give the same actions and events.
 */
export class OverlaySwitch {
  /** The control-plane table this switch forwards by; the owner applies moves to it. */
  readonly controlPlane: ControlPlane;
  /** The host behind each tunnel endpoint (a DPU's host, or a host without DPUs). */
  private readonly tepHosts = new Map<string, string>();
  readonly owner: string;
  readonly tep: TepAddress;
  private readonly underlay: Cidr;
  private readonly underlayMtu: number;
  private readonly segments = new Map<string, Segment>();
  private readonly byVni = new Map<number, Segment>();
  private readonly byVlan = new Map<number, Segment>();
  /** Routed segments, sorted by id: where a routed destination address is looked for. */
  private readonly routed: Segment[] = [];
  private readonly local = new Map<string, LocalVnic>();
  /** `segment/mac` → local vNIC id. */
  private readonly localMacs = new Map<string, string>();
  private readonly team: Teaming;
  private readonly macs: MacLearningTable;
  private readonly arp: UnderlayArp;
  private readonly vnicCounters = new Map<string, PortCounters>();
  private readonly uplinkCounters = new Map<string, PortCounters>();
  private readonly stepCounts = new Map<SwitchStep, number>(SWITCH_STEPS.map((s) => [s, 0]));
  /** The VNIs of `ownerVnis`, and what arrived on them since the owner last took it. */
  private readonly ownerVnis: ReadonlySet<number>;
  private tunnelled: TunnelledFrame[] = [];
  /** The latest virtual time an input brought, for inspect() without a time. */
  private lastNow: VTime = 0;
  private readonly counts: Record<Counted, number> = { arpSuppressed: 0, ndSuppressed: 0, routerReplies: 0, replicated: 0, macMoves: 0, macLimitHits: 0 };

  constructor(options: OverlaySwitchOptions) {
    this.owner = options.owner;
    this.tep = { ip: normalizeIp(options.tep.ip), mac: normalizeMac(options.tep.mac) };
    this.controlPlane = options.controlPlane ?? new ControlPlane(options.topology);
    for (const node of options.topology.nodes) {
      if (node.kind === 'dpu') this.tepHosts.set(dpuTepIp(options.topology, node.id), node.spec.host);
      else if (node.kind === 'host' && node.spec.dpus.length === 0) this.tepHosts.set(hostTepIp(options.topology, node.id), node.id);
    }
    this.underlay = parseCidr(UNDERLAY_SUBNET);
    this.underlayMtu = options.underlayMtu ?? DEFAULT_UNDERLAY_MTU;
    for (const spec of [...options.topology.segments].sort((a, b) => byString(a.id, b.id))) {
      const segment: Segment = {
        spec,
        v4: parseCidr(spec.ipv4Subnet),
        v6: spec.ipv6Subnet === null ? null : parseCidr(spec.ipv6Subnet),
        gateway4: spec.gateway4 === null ? null : normalizeIp(spec.gateway4),
        gateway6: spec.gateway6 === null ? null : normalizeIp(spec.gateway6),
      };
      this.segments.set(spec.id, segment);
      if (spec.vni !== null) this.byVni.set(spec.vni, segment);
      if (spec.vlan !== null) this.byVlan.set(spec.vlan, segment);
      if (segment.gateway4 !== null || segment.gateway6 !== null) this.routed.push(segment);
    }
    this.team = new Teaming(options.uplinks);
    for (const port of options.uplinks) this.uplinkCounters.set(port, { rxFrames: 0, txFrames: 0, drops: new Map() });
    this.macs = new MacLearningTable(options.macAgingNs ?? DEFAULT_MAC_AGING_NS, options.macLimit ?? DEFAULT_MAC_LIMIT);
    this.arp = new UnderlayArp({
      ...(options.arpAgingNs !== undefined ? { agingNs: options.arpAgingNs } : {}),
      ...(options.arpPendingLimit !== undefined ? { pendingLimit: options.arpPendingLimit } : {}),
      ...(options.arpRetryNs !== undefined ? { retryNs: options.arpRetryNs } : {}),
      ...(options.arpAttempts !== undefined ? { attempts: options.arpAttempts } : {}),
    });
    this.ownerVnis = new Set(options.ownerVnis ?? []);
    for (const vni of this.ownerVnis) {
      const taken = this.byVni.get(vni);
      if (taken) throw new SwitchingError('vni-taken', `VNI ${vni} belongs to segment ${taken.spec.id}, so the owner cannot terminate it`);
    }
    for (const vnic of options.vnics) this.addVnic(vnic);
  }

  // ---------------------------------------------------------------- local vNICs

  /** Starts serving a vNIC (boot, a VM arriving by vMotion, a failover to this DPU). */
  addVnic(vnic: LocalVnic): void {
    if (this.local.has(vnic.id)) throw new SwitchingError('duplicate-vnic', `Switch ${this.owner} already serves vNIC ${vnic.id}`);
    if (!this.segments.has(vnic.segment)) throw new SwitchingError('unknown-segment', `vNIC ${vnic.id} is on segment ${vnic.segment}, which the topology does not define`);
    const normalized = { ...vnic, mac: normalizeMac(vnic.mac) };
    this.local.set(vnic.id, normalized);
    this.localMacs.set(`${vnic.segment}/${normalized.mac}`, vnic.id);
    this.macs.forget(vnic.segment, normalized.mac);
    if (!this.vnicCounters.has(vnic.id)) this.vnicCounters.set(vnic.id, { rxFrames: 0, txFrames: 0, drops: new Map() });
  }

  /** Stops serving a vNIC (its VM left or was powered off). Its counters stay for the report. */
  removeVnic(id: string): void {
    const vnic = this.local.get(id);
    if (!vnic) throw new SwitchingError('unknown-vnic', `Switch ${this.owner} does not serve vNIC ${id}`);
    this.local.delete(id);
    this.localMacs.delete(`${vnic.segment}/${vnic.mac}`);
  }

  /** The local vNICs of a segment, sorted by id. */
  private localOn(segment: string): LocalVnic[] {
    return [...this.local.values()].filter((v) => v.segment === segment).sort((a, b) => byString(a.id, b.id));
  }

  // ---------------------------------------------------------------- inputs

  /**
   * Boot: takes the uplinks' link state from the context (no event) and returns a gratuitous ARP
   * for the TEP on the active uplink, so the physical switches learn where the TEP is.
   */
  boot(ctx: NodeContext): SwitchAction[] {
    this.lastNow = ctx.now();
    for (const port of this.team.order) this.team.setLink(port, ctx.linkUp(port));
    const active = this.team.active;
    if (active === null) return [];
    return this.finish([this.toUplink(active, buildGratuitousArp({ srcMac: this.tep.mac, ip: this.tep.ip }), [], { kind: 'switch' })]);
  }

  /** A frame a local VM sent (after the owner's egress firewall). */
  fromVnic(ctx: NodeContext, vnicId: string, frame: Uint8Array): SwitchAction[] {
    this.lastNow = ctx.now();
    const vnic = this.local.get(vnicId);
    const origin: FrameOrigin = { kind: 'vnic', vnic: vnicId };
    if (!vnic) return this.finish([drop('unknown-vnic', origin)]);
    this.vnicCounters.get(vnicId)!.rxFrames++;
    try {
      const eth = decodeEthernet(frame);
      if (eth.vlan) return this.finish([drop('vlan-tagged', origin)]);
      const segment = this.segments.get(vnic.segment);
      if (!segment) return this.finish([drop('unknown-segment', origin)]);
      if (!isMulticastMac(eth.src)) this.learn(segment.spec.id, eth.src, { kind: 'vnic', vnic: vnicId }, ctx.now());
      return this.finish(this.egress(ctx, vnic, segment, frame, eth, origin));
    } catch (error) {
      if (error instanceof FrameError) return this.finish([drop('malformed', origin, [], error.code)]);
      throw error;
    }
  }

  /** A frame that arrived on an uplink from the underlay. */
  fromUplink(ctx: NodeContext, port: string, frame: Uint8Array): SwitchAction[] {
    this.lastNow = ctx.now();
    const origin: FrameOrigin = { kind: 'uplink', port };
    const counters = this.uplinkCounters.get(port);
    if (!counters) return this.finish([drop('not-for-us', origin, [], 'not an uplink of this switch')]);
    counters.rxFrames++;
    try {
      // Only the active uplink receives: the fabric floods unknown and broadcast traffic to every
      // uplink, and taking it on a standby one too would deliver it twice.
      if (port !== this.team.active) {
        // Traffic for our tunnel endpoint that reaches the standby uplink was flooded here for want
        // of a path to the active one: a loss worth a record, unlike the floods both uplinks get.
        const forUs = frame.length >= 6 && formatMac(frame) === this.tep.mac;
        return this.finish([drop('standby-uplink', origin, [], forUs ? STANDBY_FOR_TEP : undefined)]);
      }
      const eth = decodeEthernet(frame);
      if (eth.src === this.tep.mac) return this.finish([drop('loop', origin)]);
      if (eth.vlan && eth.vlan.vid !== 0) return this.finish(this.fromVlan(ctx, port, frame, eth, origin));
      if (eth.etherType === ETHERTYPE_ARP) return this.finish(this.underlayArp(ctx, port, frame, eth, origin));
      if (eth.etherType === ETHERTYPE_IPV4) return this.finish(this.fromTunnel(ctx, frame, eth, origin));
      return this.finish([drop('not-for-us', origin)]);
    } catch (error) {
      if (error instanceof FrameError) return this.finish([drop('malformed', origin, [], error.code)]);
      throw error;
    }
  }

  /**
   * An uplink's link changed. When the active uplink changes, records `team.failover` and returns
   * a gratuitous ARP for the TEP on the new one, RARPs for the local vNICs of VLAN segments (whose
   * MACs the physical switches see directly), and ARP requests still awaiting a reply.
   */
  onLink(ctx: NodeContext, port: string, up: boolean): SwitchAction[] {
    this.lastNow = ctx.now();
    const change = this.team.setLink(port, up);
    if (!change) return [];
    ctx.emit('team.failover', { from: change.from, to: change.to, reason: change.reason });
    const to = change.to;
    if (to === null) return [];
    const self: FrameOrigin = { kind: 'switch' };
    const actions: SwitchAction[] = [this.toUplink(to, buildGratuitousArp({ srcMac: this.tep.mac, ip: this.tep.ip }), [], self)];
    for (const vnic of [...this.local.values()].sort((a, b) => byString(a.id, b.id))) {
      const vlan = this.segments.get(vnic.segment)?.spec.vlan ?? null;
      if (vlan !== null) actions.push(this.toUplink(to, buildRarpAnnouncement(vnic.mac, vlan), [], self));
    }
    for (const tep of this.arp.pendingTeps()) actions.push(this.toUplink(to, this.arpRequest(tep), [], self));
    return this.finish(actions);
  }

  /**
   * Announces a VM MAC after a vMotion or a failover with RARP frames. Overlay segments: one
   * GENEVE-encapsulated RARP to every other TEP of the segment, so remote switches learn the MAC
   * behind this TEP (the physical switches only ever see TEP MACs, which the gratuitous ARP of a
   * failover covers). VLAN segments: one tagged RARP on the active uplink.
   */
  announce(ctx: NodeContext, mac: MacAddress, segmentId: string): SwitchAction[] {
    this.lastNow = ctx.now();
    const segment = this.segments.get(segmentId);
    if (!segment) throw new SwitchingError('unknown-segment', `No segment ${segmentId} in the topology`);
    const self: FrameOrigin = { kind: 'switch' };
    const rarp = buildRarpAnnouncement(normalizeMac(mac));
    if (segment.spec.vni !== null) {
      const vni = segment.spec.vni;
      const teps = this.controlPlane.tepsForSegment(segmentId).filter((t) => t !== this.tep.ip);
      return this.finish(teps.flatMap((tep) => this.encapsulate(ctx, tep, vni, rarp, self, ['encap'])));
    }
    return this.finish([this.tagToUplink(segment, rarp, self, [])]);
  }

  /**
   * Sends the owner's own frame (not a VM's) in GENEVE with `vni` to the tunnel endpoint `tep`,
   * out of the active uplink: at once when the TEP's MAC is known, otherwise after underlay ARP,
   * like any encapsulated frame (a later call returns the `to-uplink`, see the file's traps). The
   * one action or queued frame carries the `encap` step; refusals are `drop` actions (`no-uplink`,
   * `no-route` for a TEP outside the underlay, `mtu`, `arp-pending-overflow`).
   *
   * @example
   * ctx.send(...) // for each `to-uplink` of sw.tunnel(ctx, '172.16.0.12', VMOTION_VNI, datagram)
   */
  tunnel(ctx: NodeContext, tep: Ipv4Address, vni: number, inner: Uint8Array): SwitchAction[] {
    this.lastNow = ctx.now();
    return this.finish(this.encapsulate(ctx, normalizeIp(tep), vni, inner, { kind: 'switch' }, ['encap']));
  }

  /** The frames that arrived on the owner's VNIs since the last call, in arrival order; the list is emptied. */
  takeTunnelled(): TunnelledFrame[] {
    const taken = this.tunnelled;
    this.tunnelled = [];
    return taken;
  }

  /**
   * Learns from the owner's own tunnelled traffic that `host` is served by tunnel endpoint `tep`
   * now (its standby DPU took over): the control plane follows when `tep` is one of that host's
   * DPUs. Records `overlay.relearn` (why `host-traffic`) and returns true when something changed.
   */
  learnHostTep(ctx: NodeContext, host: string, tep: Ipv4Address): boolean {
    const from = this.controlPlane.hostTep(host);
    if (from === undefined || from === tep || this.tepHosts.get(tep) !== host) return false;
    const moved = this.controlPlane.updateHostTep(host, tep);
    ctx.emit('overlay.relearn', { mac: null, segment: null, host, from, to: tep, vnics: moved, why: 'host-traffic' });
    return true;
  }

  /** A timer the owner routed here (its name starts with OVERLAY_TIMER_PREFIX). */
  onTimer(ctx: NodeContext, name: string, data: unknown): SwitchAction[] {
    this.lastNow = ctx.now();
    if (name !== ARP_RETRY_TIMER) return [];
    const tep = (data as { tep?: unknown } | null)?.tep;
    if (typeof tep !== 'string') return [];
    const self: FrameOrigin = { kind: 'switch' };
    switch (this.arp.retry(tep)) {
      case 'none':
        return [];
      case 'retry': {
        this.arp.setTimer(tep, ctx.setTimer(this.arp.retryNs, ARP_RETRY_TIMER, { tep }));
        const active = this.team.active;
        return active === null ? [] : this.finish([this.toUplink(active, this.arpRequest(tep), [], self)]);
      }
      case 'give-up': {
        const { frames } = this.arp.release(tep);
        ctx.emit('tep.arp.failed', { tep, dropped: frames.length });
        return this.finish(frames.map((q) => drop('arp-timeout', q.origin, q.steps, tep)));
      }
    }
  }

  // ---------------------------------------------------------------- from a vNIC

  private egress(ctx: NodeContext, vnic: LocalVnic, segment: Segment, frame: Uint8Array, eth: DecodedEthernet, origin: FrameOrigin): SwitchAction[] {
    if (eth.etherType === ETHERTYPE_ARP) {
      const answer = this.answerArp(vnic, segment, decodeArp(frame, eth.payloadOffset, frame.length), eth, origin);
      if (answer) return [answer];
    }
    if (eth.etherType === ETHERTYPE_IPV6 && isMulticastMac(eth.dst)) {
      const answer = this.answerSolicitation(vnic, segment, frame, eth, origin);
      if (answer) return [answer];
    }
    if (isMulticastMac(eth.dst)) return this.flood(ctx, segment, frame, origin, vnic.id, ['switch']);
    if (eth.dst === ROUTER_MAC) {
      if (this.routed.includes(segment)) return this.route(ctx, vnic, segment, frame, eth, origin);
      return [drop('no-route', origin, ['switch'], `segment ${segment.spec.id} has no gateway`)];
    }
    return this.forward(ctx, segment, eth.dst, frame, origin, ['switch'], vnic.id);
  }

  /**
   * ARP requests answered without flooding: for a gateway (the router's MAC) on any routed
   * segment, and for a VM address the control plane knows on an overlay segment. Probes
   * (sender 0.0.0.0), gratuitous ARPs and a VM asking for its own address are not answered.
   */
  private answerArp(vnic: LocalVnic, segment: Segment, arp: ArpPacket, eth: DecodedEthernet, origin: FrameOrigin): SwitchAction | null {
    if (arp.operation !== ARP_REQUEST || !(isMulticastMac(eth.dst) || eth.dst === ROUTER_MAC)) return null;
    if (arp.senderIp === '0.0.0.0' || arp.senderIp === arp.targetIp) return null;
    const reply = (mac: MacAddress): Uint8Array => buildArpReply({ srcMac: mac, senderIp: arp.targetIp, dstMac: arp.senderMac, targetIp: arp.senderIp });
    if (segment.gateway4 !== null && arp.targetIp === segment.gateway4) {
      this.counts.routerReplies++;
      return this.toVnic(vnic.id, reply(ROUTER_MAC), ['arp-suppress'], origin);
    }
    if (segment.spec.vni === null) return null;
    const entry = this.controlPlane.lookupIp(segment.spec.id, arp.targetIp);
    if (!entry || entry.mac === arp.senderMac) return null;
    this.counts.arpSuppressed++;
    return this.toVnic(vnic.id, reply(entry.mac), ['arp-suppress'], origin);
  }

  /** The IPv6 counterpart of answerArp: neighbour solicitations (not duplicate address detection). */
  private answerSolicitation(vnic: LocalVnic, segment: Segment, frame: Uint8Array, eth: DecodedEthernet, origin: FrameOrigin): SwitchAction | null {
    const ip = decodeIpv6(frame, eth.payloadOffset, frame.length);
    if (ip.protocol !== IP_PROTOCOL_ICMPV6 || ip.isFragment || ip.hopLimit !== NDP_HOP_LIMIT || ip.src === '::') return null;
    const at = eth.payloadOffset;
    const icmp = decodeIcmpv6(frame, ip.payloadOffset, ip.payloadEnd, { src: frame.subarray(at + 8, at + 24), dst: frame.subarray(at + 24, at + 40) });
    if (icmp.kind !== 'neighbor-solicitation') return null;
    const asker = icmp.options.find((o) => o.kind === 'source-link-layer-address');
    const askerMac = asker?.kind === 'source-link-layer-address' ? asker.mac : eth.src;
    if (segment.gateway6 !== null && icmp.target === segment.gateway6) {
      this.counts.routerReplies++;
      const na = buildNeighborAdvertisement({ srcMac: ROUTER_MAC, dstMac: askerMac, srcIp: segment.gateway6, dstIp: ip.src, router: true });
      return this.toVnic(vnic.id, na, ['arp-suppress'], origin);
    }
    if (segment.spec.vni === null) return null;
    const entry = this.controlPlane.lookupIp(segment.spec.id, icmp.target);
    if (!entry || entry.mac === askerMac) return null;
    this.counts.ndSuppressed++;
    const na = buildNeighborAdvertisement({ srcMac: entry.mac, dstMac: askerMac, srcIp: icmp.target, dstIp: ip.src });
    return this.toVnic(vnic.id, na, ['arp-suppress'], origin);
  }

  /**
   * The distributed router: the packet leaves the source segment here, gets its TTL (hop limit)
   * decremented and its MACs rewritten (router → destination VM, from the control plane), and is
   * switched in the destination segment.
   */
  private route(ctx: NodeContext, vnic: LocalVnic, segment: Segment, frame: Uint8Array, eth: DecodedEthernet, origin: FrameOrigin): SwitchAction[] {
    const at = eth.payloadOffset;
    let family: 4 | 6;
    let src: IpAddress;
    let dst: IpAddress;
    let ttl: number;
    let headerLength: number;
    let packetEnd: number;
    if (eth.etherType === ETHERTYPE_IPV4) {
      const ip = decodeIpv4(frame, at, frame.length);
      [family, src, dst, ttl, headerLength, packetEnd] = [4, ip.src, ip.dst, ip.ttl, ip.headerLength, ip.payloadEnd];
      if (this.isGateway(dst)) return this.answerForRouter(vnic, frame, eth, 4, src, dst, origin);
    } else if (eth.etherType === ETHERTYPE_IPV6) {
      const ip = decodeIpv6(frame, at, frame.length);
      [family, src, dst, ttl, headerLength, packetEnd] = [6, ip.src, ip.dst, ip.hopLimit, IPV6_HEADER_LENGTH, ip.payloadEnd];
      if (this.isGateway(dst)) return this.answerForRouter(vnic, frame, eth, 6, src, dst, origin);
    } else {
      return [drop('for-router', origin, ['switch'], 'not IP')];
    }
    const target = this.routed.find((s) => (family === 4 ? s.gateway4 !== null && cidrContains(s.v4, dst) : s.gateway6 !== null && s.v6 !== null && cidrContains(s.v6, dst)));
    if (!target) return [drop('no-route', origin, ['route'], dst)];
    if (ttl <= 1) {
      const actions: SwitchAction[] = [drop('ttl-exceeded', origin, ['route'])];
      const gateway = family === 4 ? segment.gateway4 : segment.gateway6;
      if (gateway !== null) {
        const reply = buildTimeExceeded({ dstMac: eth.src, srcIp: gateway, dstIp: src }, family, frame.subarray(at, packetEnd));
        actions.push(this.toVnic(vnic.id, reply, [], origin));
      }
      return actions;
    }
    const entry = this.controlPlane.lookupIp(target.spec.id, dst);
    if (!entry) return [drop('no-route', origin, ['route'], dst)];
    const routed = routedCopy(frame, at, family, headerLength, entry.mac);
    return this.forward(ctx, target, entry.mac, routed, origin, ['route', 'switch'], vnic.id);
  }

  private isGateway(ip: IpAddress): boolean {
    return this.routed.some((s) => s.gateway4 === ip || s.gateway6 === ip);
  }

  /** A packet for a gateway address: echo requests are answered, everything else is dropped. */
  private answerForRouter(vnic: LocalVnic, frame: Uint8Array, eth: DecodedEthernet, family: 4 | 6, src: IpAddress, gateway: IpAddress, origin: FrameOrigin): SwitchAction[] {
    const at = eth.payloadOffset;
    let echo: { identifier: number; sequence: number; data: Uint8Array } | null = null;
    if (family === 4) {
      const ip = decodeIpv4(frame, at, frame.length);
      if (ip.protocol === IP_PROTOCOL_ICMP && !ip.isFragment) {
        const icmp = decodeIcmp(frame, ip.payloadOffset, ip.payloadEnd);
        if (icmp.kind === 'echo-request') echo = icmp;
      }
    } else {
      const ip = decodeIpv6(frame, at, frame.length);
      if (ip.protocol === IP_PROTOCOL_ICMPV6 && !ip.isFragment) {
        const icmp = decodeIcmpv6(frame, ip.payloadOffset, ip.payloadEnd, { src: frame.subarray(at + 8, at + 24), dst: frame.subarray(at + 24, at + 40) });
        if (icmp.kind === 'echo-request') echo = icmp;
      }
    }
    if (!echo) return [drop('for-router', origin, ['route'], gateway)];
    this.counts.routerReplies++;
    const reply = buildIcmpEchoFrame({
      srcMac: ROUTER_MAC,
      dstMac: eth.src,
      srcIp: gateway,
      dstIp: src,
      identifier: echo.identifier,
      sequence: echo.sequence,
      data: echo.data,
      reply: true,
    });
    return [this.toVnic(vnic.id, reply, ['route'], origin)];
  }

  /**
   * Unicast in a segment: to a local vNIC (a hairpin), to the remote TEP behind which the MAC
   * lives (overlay), tagged onto the active uplink (VLAN), or flooded when the MAC is unknown.
   */
  private forward(ctx: NodeContext, segment: Segment, dstMac: MacAddress, frame: Uint8Array, origin: FrameOrigin, steps: readonly SwitchStep[], sourceVnic: string): SwitchAction[] {
    const where = this.locate(segment, dstMac, ctx.now());
    if (where?.kind === 'vnic') return [this.toVnic(where.vnic, frame, [...steps, 'hairpin'], origin)];
    if (where === undefined) return this.flood(ctx, segment, frame, origin, sourceVnic, steps);
    if (segment.spec.vni !== null) {
      if (where.kind !== 'tep') return this.flood(ctx, segment, frame, origin, sourceVnic, steps);
      return this.encapsulate(ctx, where.tep, segment.spec.vni, frame, origin, [...steps, 'encap']);
    }
    return [this.tagToUplink(segment, frame, origin, steps)];
  }

  /**
   * Where a MAC of a segment is: a local vNIC first, then the control plane (authoritative for
   * VM MACs behind other TEPs), then what was learned from traffic.
   */
  private locate(segment: Segment, mac: MacAddress, now: VTime): MacLocation | undefined {
    const local = this.localMacs.get(`${segment.spec.id}/${mac}`);
    if (local !== undefined) return { kind: 'vnic', vnic: local };
    const entry = this.controlPlane.lookupMac(segment.spec.id, mac);
    if (entry && entry.tep !== this.tep.ip) return { kind: 'tep', tep: entry.tep };
    const learned = this.macs.lookup(segment.spec.id, mac, now);
    if (learned?.kind === 'vnic' && !this.local.has(learned.vnic)) return undefined;
    if (learned?.kind === 'tep' && learned.tep === this.tep.ip) return undefined;
    return learned;
  }

  /**
   * Broadcast, multicast and unknown unicast: a copy to every other local vNIC of the segment,
   * and head-end replication (one GENEVE copy per TEP with a vNIC on the segment) on an overlay
   * segment, or one tagged copy on the active uplink on a VLAN segment.
   */
  private flood(ctx: NodeContext, segment: Segment, frame: Uint8Array, origin: FrameOrigin, sourceVnic: string, shared: readonly SwitchStep[]): SwitchAction[] {
    const actions: SwitchAction[] = [];
    let sharedGiven = false;
    const stepsFor = (own: readonly SwitchStep[]): SwitchStep[] => {
      if (sharedGiven) return [...own];
      sharedGiven = true;
      return [...shared, ...own];
    };
    for (const vnic of this.localOn(segment.spec.id)) {
      if (vnic.id !== sourceVnic) actions.push(this.toVnic(vnic.id, frame, stepsFor(['hairpin']), origin));
    }
    if (segment.spec.vni !== null) {
      const vni = segment.spec.vni;
      // A RARP announces a VM that moved here: every tunnel endpoint must relearn it, including
      // those that had it (and have no VM of the segment left), as a central control plane would push.
      const rarp = frame.length >= 14 && ((frame[12]! << 8) | frame[13]!) === ETHERTYPE_RARP;
      for (const tep of rarp ? this.controlPlane.allTeps() : this.controlPlane.tepsForSegment(segment.spec.id)) {
        if (tep === this.tep.ip) continue;
        this.counts.replicated++;
        actions.push(...this.encapsulate(ctx, tep, vni, frame, origin, stepsFor(['encap'])));
      }
    } else {
      actions.push(this.tagToUplink(segment, frame, origin, stepsFor([])));
    }
    return sharedGiven ? actions : [drop('no-route', origin, shared, 'no other port on the segment')];
  }

  /** A VLAN segment's frame onto the active uplink with its 802.1Q tag. */
  private tagToUplink(segment: Segment, frame: Uint8Array, origin: FrameOrigin, steps: readonly SwitchStep[]): SwitchAction {
    const port = this.team.active;
    if (port === null) return drop('no-uplink', origin, steps);
    if (frame.length - 14 > this.underlayMtu) return drop('mtu', origin, steps);
    return this.toUplink(port, tagFrame(frame, segment.spec.vlan ?? 0), steps, origin);
  }

  /**
   * Wraps an inner frame in GENEVE to a remote TEP and sends it on the active uplink, or queues
   * it while the TEP's MAC is being resolved. Exactly one action or queued frame carries `steps`.
   */
  private encapsulate(ctx: NodeContext, tep: Ipv4Address, vni: number, inner: Uint8Array, origin: FrameOrigin, steps: readonly SwitchStep[]): SwitchAction[] {
    const port = this.team.active;
    if (port === null) return [drop('no-uplink', origin, steps)];
    if (!cidrContains(this.underlay, tep)) return [drop('no-route', origin, steps, tep)];
    if (inner.length + GENEVE_IP_OVERHEAD > this.underlayMtu) return [drop('mtu', origin, steps)];
    const now = ctx.now();
    const mac = this.arp.lookup(tep, now);
    const outer = buildGeneveFrame({ srcMac: this.tep.mac, dstMac: mac ?? ZERO_MAC, srcIp: this.tep.ip, dstIp: tep, vni, inner, srcPort: 'flow' });
    if (mac !== undefined) {
      const actions = [this.toUplink(port, outer, steps, origin)];
      if (this.arp.claimRefresh(tep, now)) actions.push(this.toUplink(port, this.arpRequest(tep), [], { kind: 'switch' }));
      return actions;
    }
    const queued = this.arp.enqueue(tep, { frame: outer, steps, origin });
    if (queued === 'full') return [drop('arp-pending-overflow', origin, steps, tep)];
    if (queued === 'queued') return [];
    this.arp.setTimer(tep, ctx.setTimer(this.arp.retryNs, ARP_RETRY_TIMER, { tep }));
    return [this.toUplink(port, this.arpRequest(tep), [], { kind: 'switch' })];
  }

  private arpRequest(tep: Ipv4Address): Uint8Array {
    return buildArpRequest({ srcMac: this.tep.mac, senderIp: this.tep.ip, targetIp: tep });
  }

  // ---------------------------------------------------------------- from an uplink

  /** Underlay ARP: answer requests for our TEP, learn TEP MACs, release frames waiting for them. */
  private underlayArp(ctx: NodeContext, port: string, frame: Uint8Array, eth: DecodedEthernet, origin: FrameOrigin): SwitchAction[] {
    const arp = decodeArp(frame, eth.payloadOffset, frame.length);
    const forUs = arp.targetIp === this.tep.ip;
    const actions: SwitchAction[] = [];
    if (arp.operation === ARP_REQUEST && forUs && arp.senderIp !== this.tep.ip) {
      actions.push(this.toUplink(port, buildArpReply({ srcMac: this.tep.mac, senderIp: this.tep.ip, dstMac: arp.senderMac, targetIp: arp.senderIp }), [], origin));
    }
    const learnable = arp.senderIp !== this.tep.ip && arp.senderIp !== '0.0.0.0' && cidrContains(this.underlay, arp.senderIp);
    const update = learnable ? this.arp.learn(arp.senderIp, arp.senderMac, port, ctx.now(), forUs) : 'ignored';
    if (update === 'resolved' || update === 'changed') ctx.emit('tep.arp.resolved', { tep: arp.senderIp, mac: arp.senderMac, port });
    if (update !== 'ignored' && this.arp.isPending(arp.senderIp)) actions.push(...this.release(ctx, arp.senderIp, arp.senderMac));
    if (actions.length === 0 && update === 'ignored') return [drop('not-for-us', origin)];
    return actions;
  }

  /** Sends the frames that waited for a TEP's MAC, on the uplink active now. */
  private release(ctx: NodeContext, tep: Ipv4Address, mac: MacAddress): SwitchAction[] {
    const { frames, timer } = this.arp.release(tep);
    if (timer !== null) ctx.cancelTimer(timer);
    const port = this.team.active;
    return frames.map((queued: QueuedFrame) => {
      if (port === null) return drop('no-uplink', queued.origin, queued.steps);
      writeMac(queued.frame, 0, mac);
      return this.toUplink(port, queued.frame, queued.steps, queued.origin);
    });
  }

  /**
   * A VM announced itself (RARP) from a tunnel endpoint the control plane does not have it
   * behind: its host's DPUs failed over (every VM of that host moves to the new endpoint) or the VM
   * moved to another host. Either way the table follows, so unicast goes to the new endpoint.
   */
  private relearnFromAnnouncement(ctx: NodeContext, segment: string, mac: MacAddress, tep: string): void {
    const entry = this.controlPlane.lookupMac(segment, mac);
    const host = this.tepHosts.get(tep);
    if (!entry || entry.tep === tep || host === undefined) return;
    const moved = host === entry.host ? this.controlPlane.updateHostTep(host, tep) : [this.controlPlane.update(entry.vnic, { host, tep }).vnic];
    ctx.emit('overlay.relearn', { mac, segment, host, from: entry.tep, to: tep, vnics: moved, why: host === entry.host ? 'tep-moved' : 'vm-moved' });
  }

  /** GENEVE to our TEP: check, decapsulate, learn the inner source behind the outer source TEP, deliver. */
  private fromTunnel(ctx: NodeContext, frame: Uint8Array, eth: DecodedEthernet, origin: FrameOrigin): SwitchAction[] {
    const at = eth.payloadOffset;
    const ip = decodeIpv4(frame, at, frame.length);
    if (eth.dst !== this.tep.mac || ip.dst !== this.tep.ip || ip.protocol !== IP_PROTOCOL_UDP || ip.isFragment) return [drop('not-for-us', origin)];
    const udp = decodeUdp(frame, ip.payloadOffset, ip.payloadEnd, { src: frame.subarray(at + 12, at + 16), dst: frame.subarray(at + 16, at + 20) });
    if (udp.dstPort !== GENEVE_UDP_PORT) return [drop('not-for-us', origin)];
    const end = udp.payloadOffset + udp.payload.length;
    const geneve = decodeGeneve(frame, udp.payloadOffset, end);
    if (geneve.protocolType !== ETHERTYPE_TRANSPARENT_ETHERNET || geneve.critical) return [drop('malformed', origin, [], 'unsupported')];
    if (this.ownerVnis.has(geneve.vni)) {
      // The owner's own traffic: it decides what to do with the inner frame, not the switch.
      const port = origin.kind === 'uplink' ? origin.port : '';
      this.tunnelled.push({ vni: geneve.vni, tep: ip.src, port, frame: frame.slice(geneve.payloadOffset, end), steps: ['decap'] });
      this.stepCounts.set('decap', (this.stepCounts.get('decap') ?? 0) + 1);
      return [];
    }
    const segment = this.byVni.get(geneve.vni);
    if (!segment) return [drop('unknown-segment', origin, [], `vni ${geneve.vni}`)];
    const inner = frame.slice(geneve.payloadOffset, end);
    const innerEth = decodeEthernet(inner);
    const isLocal = this.localMacs.has(`${segment.spec.id}/${innerEth.src}`);
    if (!isMulticastMac(innerEth.src) && !isLocal) this.learn(segment.spec.id, innerEth.src, { kind: 'tep', tep: ip.src }, ctx.now());
    if (innerEth.etherType === ETHERTYPE_RARP && !isLocal) this.relearnFromAnnouncement(ctx, segment.spec.id, innerEth.src, ip.src);
    return this.deliver(ctx, segment, inner, innerEth, origin, ['decap', 'switch'], 'no-route');
  }

  /** An 802.1Q-tagged frame of a VLAN segment: untag and deliver to local vNICs. */
  private fromVlan(ctx: NodeContext, port: string, frame: Uint8Array, eth: DecodedEthernet, origin: FrameOrigin): SwitchAction[] {
    const segment = this.byVlan.get(eth.vlan!.vid);
    if (!segment) return [drop('unknown-segment', origin, [], `vlan ${eth.vlan!.vid}`)];
    if (this.localMacs.has(`${segment.spec.id}/${eth.src}`)) return [drop('loop', origin)];
    const untagged = untagFrame(frame);
    const innerEth = decodeEthernet(untagged);
    if (!isMulticastMac(eth.src)) this.learn(segment.spec.id, eth.src, { kind: 'uplink', port }, ctx.now());
    return this.deliver(ctx, segment, untagged, innerEth, origin, ['switch'], 'not-for-us');
  }

  /** Delivers a frame that came from the underlay to the local vNIC(s) it is for. */
  private deliver(ctx: NodeContext, segment: Segment, frame: Uint8Array, eth: DecodedEthernet, origin: FrameOrigin, steps: readonly SwitchStep[], unknown: DropReason): SwitchAction[] {
    if (isMulticastMac(eth.dst)) {
      const targets = this.localOn(segment.spec.id);
      if (targets.length === 0) return [drop('no-route', origin, steps, 'no local port on the segment')];
      return targets.map((v, i) => this.toVnic(v.id, frame, i === 0 ? steps : [], origin));
    }
    const where = this.locate(segment, eth.dst, ctx.now());
    if (where?.kind === 'vnic') return [this.toVnic(where.vnic, frame, steps, origin)];
    return [drop(unknown, origin, steps, eth.dst)];
  }

  // ---------------------------------------------------------------- bookkeeping

  private learn(segment: string, mac: MacAddress, location: MacLocation, now: VTime): void {
    const outcome = this.macs.learn(segment, mac, location, now);
    if (outcome === 'moved') this.counts.macMoves++;
    else if (outcome === 'table-full') this.counts.macLimitHits++;
  }

  private toVnic(vnic: string, frame: Uint8Array, steps: readonly SwitchStep[], origin: FrameOrigin): SwitchAction {
    return { kind: 'to-vnic', vnic, frame, steps, origin };
  }

  private toUplink(port: string, frame: Uint8Array, steps: readonly SwitchStep[], origin: FrameOrigin): SwitchAction {
    return { kind: 'to-uplink', port, frame, steps, origin };
  }

  /** Counts what a call decided, then hands the actions back. */
  private finish(actions: SwitchAction[]): SwitchAction[] {
    for (const action of actions) {
      for (const step of action.steps) this.stepCounts.set(step, (this.stepCounts.get(step) ?? 0) + 1);
      if (action.kind === 'to-vnic') {
        const counters = this.vnicCounters.get(action.vnic);
        if (counters) counters.txFrames++;
      } else if (action.kind === 'to-uplink') {
        const counters = this.uplinkCounters.get(action.port);
        if (counters) counters.txFrames++;
      } else {
        const counters = action.vnic !== undefined ? this.vnicCounters.get(action.vnic) : action.port !== undefined ? this.uplinkCounters.get(action.port) : undefined;
        if (counters) counters.drops.set(action.reason, (counters.drops.get(action.reason) ?? 0) + 1);
      }
    }
    return actions;
  }

  /** The uplinks, in failover order. */
  get uplinks(): readonly string[] {
    return this.team.order;
  }

  /** The active uplink, or null when no uplink is up. */
  get activeUplink(): string | null {
    return this.team.active;
  }

  /** The switch's counters, plain data. */
  counters(): SwitchCounterView {
    const view = (m: Map<string, PortCounters>): Record<string, PortCounterView> =>
      Object.fromEntries(
        [...m.keys()].sort(byString).map((id) => {
          const c = m.get(id)!;
          return [id, { rxFrames: c.rxFrames, txFrames: c.txFrames, drops: Object.fromEntries([...c.drops].sort(([a], [b]) => byString(a, b))) }];
        }),
      );
    const steps = Object.fromEntries(SWITCH_STEPS.map((s) => [s, this.stepCounts.get(s) ?? 0])) as Record<SwitchStep, number>;
    return {
      vnics: view(this.vnicCounters),
      uplinks: view(this.uplinkCounters),
      steps,
      ...this.counts,
      hairpin: steps.hairpin,
      encap: steps.encap,
      decap: steps.decap,
      routed: steps.route,
    };
  }

  /**
   * A plain-data view of the switch for inspectors and snapshots. Aged entries are left out as of
   * `now`, by default the time of the latest input.
   */
  inspect(now: VTime = this.lastNow): OverlaySwitchView {
    const arp = this.arp.table(now);
    return {
      owner: this.owner,
      tep: { ...this.tep },
      activeUplink: this.team.active,
      uplinks: this.team.state(),
      vnics: [...this.local.values()].sort((a, b) => byString(a.id, b.id)).map((v) => ({ vnic: v.id, vm: v.vm, mac: v.mac, segment: v.segment })),
      macTables: this.macs.table(now),
      underlayArp: arp.neighbors,
      arpPending: arp.pending,
      counters: this.counters(),
    };
  }
}
