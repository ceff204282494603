/**
 * The network stack of one guest VM: its vNIC interfaces and addresses, routing to on-link peers
 * or the segment gateway, ARP and IPv6 neighbour discovery, the ICMP/ICMPv6 echo responder, UDP
 * and TCP demultiplexing to sockets, and the apps (flow senders and the always-on sinks).
 *
 * The host core owns the VM: it hands the stack every frame a vNIC received (`receive`) and
 * gives it a `transmit` callback for the frames the guest sends. The stack never learns how the
 * vNIC is served (UPTv2, MUX, emulated): the guest cannot tell either.
 *
 * Everything is deterministic: time, randomness (initial sequence numbers, ephemeral ports, echo
 * identifiers) and timers come from the NodeContext; tables are reported in sorted order.
 */
import type { VTime } from '../../../shared/events.js';
import { ARP_REQUEST, encodeArp } from '../../../shared/net/arp.js';
import type { ArpPacket } from '../../../shared/net/arp.js';
import { buildArpReply, buildArpRequest, buildGratuitousArp, buildIpFrame, buildNeighborAdvertisement, buildNeighborSolicitation } from '../../../shared/net/builders.js';
import type { FrameError, FrameErrorCode } from '../../../shared/net/errors.js';
import { encodeEthernet, ETHERTYPE_ARP } from '../../../shared/net/ethernet.js';
import { tryDecodeFrame } from '../../../shared/net/frame.js';
import type { DecodedFrame } from '../../../shared/net/frame.js';
import { encodeIcmp, ICMP_ECHO_REQUEST, ICMP_UNREACHABLE_PORT } from '../../../shared/net/icmp.js';
import { encodeIcmpv6, ICMPV6_ECHO_REQUEST, ndpLinkLayerAddress, NDP_HOP_LIMIT } from '../../../shared/net/icmpv6.js';
import { cidrContains, formatIpv4, formatIpv6, ipFamily, ipv6MulticastMac, normalizeIp, parseCidr, solicitedNodeMulticast } from '../../../shared/net/ip.js';
import type { Cidr } from '../../../shared/net/ip.js';
import { IP_PROTOCOL_ICMP, IP_PROTOCOL_ICMPV6, IP_PROTOCOL_TCP, IP_PROTOCOL_UDP } from '../../../shared/net/ipv4.js';
import { isBroadcastMac, normalizeMac } from '../../../shared/net/mac.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import { encodeTcp } from '../../../shared/net/tcp.js';
import type { TcpSegment } from '../../../shared/net/tcp.js';
import { encodeUdp } from '../../../shared/net/udp.js';
import type { SegmentSpec, VmSpec } from '../../../shared/topology/types.js';
import type { NodeContext } from '../../runtime/types.js';
import { createSender, FLOW_TIMER, FlowSender, PingSender, TcpSender, TcpSinkSession, UdpSender, UdpSink } from './apps.js';
import type { EchoHandler, GuestSockets, IcmpErrorNotice, TcpAppHandlers, UdpHandler } from './apps.js';
import { ReceiverFlows, reportSignature } from './checker.js';
import type { FlowReport } from './checker.js';
import { DEFAULT_TCP_PORT, DEFAULT_UDP_PORT, FlowError, resolveFlowSpec } from './flow-spec.js';
import type { ResolvedFlowSpec } from './flow-spec.js';
import { DEFAULT_NEIGHBOR_SETTINGS, NeighborCache } from './neighbors.js';
import type { NeighborSettings, NeighborView, PendingPacket } from './neighbors.js';
import { GUEST_STATE_FORMAT, GUEST_STATE_VERSION, parseGuestStackState, stateError } from './state.js';
import type { ConnectionState, GuestStackState, NeighborCacheState, SenderState } from './state.js';
import { DEFAULT_TCP_SETTINGS, TcpConnection } from './tcp.js';
import type { TcpCloseReason, TcpConnectionView, TcpSettings, TcpState, TcpTimerKind } from './tcp.js';
import { GuestTimers } from './timers.js';

export { GuestStateError } from './state.js';
export type { GuestStackState } from './state.js';

/** IPv4 TTL and IPv6 hop limit of everything the guest sends (a Linux guest's default). */
export const GUEST_TTL = 64;
/** Timer name of a TCP connection's timers; `{ socket, kind, token }` in their data. */
export const TCP_TIMER = 'guest.tcp';
/** Timer name of the periodic flow reports. */
export const REPORT_TIMER = 'guest.report';
/** Every timer this stack sets starts with this; the host hands those to `onTimer`. */
export const GUEST_TIMER_PREFIX = 'guest.';
/** First ephemeral port (IANA dynamic range 49152-65535). */
export const EPHEMERAL_PORT_FIRST = 49152;
const EPHEMERAL_PORT_COUNT = 16384;
/** Closed TCP connections kept for inspectors. */
const CLOSED_CONNECTIONS_KEPT = 32;
const ALL_NODES_GROUP = 'ff02::1';

/** Sends a frame out of one of the VM's vNICs. The host core decides how it leaves the VM. */
export type VnicTransmit = (vnicId: string, frame: Uint8Array, ctx: NodeContext) => void;

/** Tunables of a guest stack; every field has a default. */
export interface GuestStackSettings {
  readonly tcp: Partial<TcpSettings>;
  readonly neighbors: Partial<NeighborSettings>;
  /** Period of `flow.report` (default 1 s). */
  readonly reportIntervalNs: VTime;
  /** Port of the TCP sink (default 5201), null for none. */
  readonly tcpSinkPort: number | null;
  /** Port of the UDP sink (default 5202), null for none. */
  readonly udpSinkPort: number | null;
}

/** What a guest stack is built from. */
export interface GuestStackOptions {
  readonly vm: VmSpec;
  /** The topology's segments (for gateways); others than the VM's are ignored. */
  readonly segments: readonly SegmentSpec[];
  readonly transmit: VnicTransmit;
  readonly settings?: Partial<GuestStackSettings>;
}

/** One vNIC as the guest OS configures it. */
export interface GuestInterface {
  readonly vnic: string;
  readonly mac: MacAddress;
  readonly segment: string;
  readonly ipv4: Cidr;
  readonly ipv6: Cidr | null;
  readonly gateway4: string | null;
  readonly gateway6: string | null;
}

/** Why the stack dropped a frame or packet it could decode (malformed ones are counted by FrameError code). */
export type GuestDropReason =
  | 'unknown-vnic'
  | 'not-for-us'
  | 'not-our-ip'
  | 'fragment'
  | 'unhandled-protocol'
  | 'ndp-hop-limit'
  | 'no-route'
  | 'loopback'
  | 'neighbor-unresolved'
  | 'neighbor-queue-full'
  | 'udp-no-socket'
  | 'tcp-no-socket';

/** A TCP connection with its addresses, as inspectors see it. */
export interface GuestSocketView extends TcpConnectionView {
  readonly role: 'client' | 'server';
  readonly flow: string | null;
  readonly localIp: string;
  readonly localPort: number;
  readonly remoteIp: string;
  readonly remotePort: number;
}

/** The plain-data state of a guest stack (`inspect()`). */
export interface GuestStackView {
  readonly vm: string;
  readonly interfaces: readonly { readonly vnic: string; readonly mac: string; readonly segment: string; readonly ipv4: string; readonly ipv6: string | null; readonly gateway4: string | null; readonly gateway6: string | null }[];
  readonly arp: readonly NeighborView[];
  readonly nd: readonly NeighborView[];
  readonly tcp: readonly GuestSocketView[];
  readonly listeners: readonly number[];
  readonly udpPorts: readonly number[];
  readonly flows: readonly FlowReport[];
  readonly received: readonly FlowReport[];
  readonly counters: { readonly rxFrames: number; readonly txFrames: number; readonly malformed: Readonly<Record<string, number>>; readonly drops: Readonly<Record<string, number>> };
}

interface Route {
  readonly iface: GuestInterface;
  readonly srcIp: string;
  readonly nextHop: string;
}

interface ConnectionEntry {
  readonly id: number;
  readonly connection: TcpConnection;
  readonly role: 'client' | 'server';
  readonly localIp: string;
  readonly localPort: number;
  readonly remoteIp: string;
  readonly remotePort: number;
  readonly tuple: string;
  flow: string | null;
  app: TcpAppHandlers & { onIcmpError?(ctx: NodeContext, notice: IcmpErrorNotice): void };
}

/** What an ICMP error quotes of the packet that caused it. */
interface QuotedPacket {
  readonly protocol: number;
  readonly src: string;
  readonly dst: string;
  /** Source and destination port for TCP and UDP; identifier in `srcPort` for an echo request. */
  readonly srcPort: number;
  readonly dstPort: number;
  readonly icmpType: number;
}

/**
 * The guest network stack of one VM. Build one per VM; call `boot` when the VM powers on,
 * `receive` for every frame a vNIC gets, `onTimer` for every `guest.*` timer (it returns true
 * for its own), `onEnd` when the run ends. When the VM moves to another host (vMotion), take
 * `exportState` at stun time and build the stack there with `GuestStack.restore`.
 */
export class GuestStack implements GuestSockets {
  readonly vm: string;
  private readonly interfaces: readonly GuestInterface[];
  private readonly transmit: VnicTransmit;
  private readonly settings: GuestStackSettings;
  private readonly tcpSettings: TcpSettings;
  private readonly arp: NeighborCache;
  private readonly nd: NeighborCache;

  private ipId = 0;
  private readonly udpSockets = new Map<number, UdpHandler>();
  private readonly echoHandlers = new Map<number, EchoHandler>();
  private readonly tcpListeners = new Set<number>();
  private readonly connections = new Map<number, ConnectionEntry>();
  /** Closed flow connections pruned from `connections` that their sender still holds (and reports on). */
  private readonly pruned = new Map<number, ConnectionEntry>();
  private readonly byTuple = new Map<string, number>();
  private nextConnectionId = 1;
  /** Every timer this stack armed goes through here (replaced by `restore`). */
  private timers: GuestTimers;
  /** vMotion's throttle: the vCPUs run `quantumNs`, then sleep `sleepNs`, from `sinceNs` on; null when they run freely. */
  private throttle: { readonly sinceNs: VTime; readonly quantumNs: VTime; readonly sleepNs: VTime } | null = null;

  private readonly senders = new Map<string, FlowSender>();
  private readonly receiverFlows = new ReceiverFlows();
  private readonly udpSink: UdpSink | null;
  private readonly lastReport = new Map<string, string>();
  private reportTimer: number | null = null;

  private rxFrames = 0;
  private txFrames = 0;
  private readonly malformed = new Map<string, number>();
  private readonly drops = new Map<string, number>();

  constructor(options: GuestStackOptions) {
    this.vm = options.vm.id;
    this.timers = new GuestTimers(this.vm, 0);
    this.transmit = options.transmit;
    this.settings = {
      tcp: options.settings?.tcp ?? {},
      neighbors: options.settings?.neighbors ?? {},
      reportIntervalNs: options.settings?.reportIntervalNs ?? 1_000_000_000,
      tcpSinkPort: options.settings?.tcpSinkPort === undefined ? DEFAULT_TCP_PORT : options.settings.tcpSinkPort,
      udpSinkPort: options.settings?.udpSinkPort === undefined ? DEFAULT_UDP_PORT : options.settings.udpSinkPort,
    };
    this.tcpSettings = { ...DEFAULT_TCP_SETTINGS, ...this.settings.tcp };
    const segments = new Map(options.segments.map((s) => [s.id, s]));
    this.interfaces = options.vm.vnics.map((v) => {
      const segment = segments.get(v.segment);
      return {
        vnic: v.id,
        mac: normalizeMac(v.mac),
        segment: v.segment,
        ipv4: parseCidr(v.ipv4),
        ipv6: v.ipv6 === null ? null : parseCidr(v.ipv6),
        gateway4: segment?.gateway4 ? normalizeIp(segment.gateway4) : null,
        gateway6: segment?.gateway6 ? normalizeIp(segment.gateway6) : null,
      };
    });
    const neighborSettings = { ...DEFAULT_NEIGHBOR_SETTINGS, ...this.settings.neighbors };
    const hooks = (family: 4 | 6) => ({
      solicit: (ctx: NodeContext, vnic: string, ip: string, unicastTo: MacAddress | null) => this.solicit(ctx, family, vnic, ip, unicastTo),
      flush: (ctx: NodeContext, vnic: string, mac: MacAddress, packets: readonly PendingPacket[]) => {
        const iface = this.interfaceById(vnic);
        if (iface) for (const packet of packets) this.emitFrame(ctx, iface, mac, packet);
      },
      drop: (reason: 'neighbor-unresolved' | 'neighbor-queue-full', count: number) => this.drop(reason, count),
      setTimer: (ctx: NodeContext, delayNs: VTime, name: string, payload: Readonly<Record<string, unknown>>) => this.timers.set(ctx, delayNs, name, payload),
      cancelTimer: (ctx: NodeContext, id: number) => this.timers.cancel(ctx, id),
    });
    this.arp = new NeighborCache(this.vm, 4, neighborSettings, hooks(4));
    this.nd = new NeighborCache(this.vm, 6, neighborSettings, hooks(6));
    if (this.settings.tcpSinkPort !== null) this.tcpListeners.add(this.settings.tcpSinkPort);
    this.udpSink = this.settings.udpSinkPort === null ? null : new UdpSink(this.receiverFlows, this.settings.udpSinkPort);
    if (this.udpSink) this.udpSockets.set(this.udpSink.port, this.udpSink);
  }

  // --- host-facing API -------------------------------------------------------------------------

  /** The VM powered on: it announces its addresses (gratuitous ARP, unsolicited NA). */
  boot(ctx: NodeContext): void {
    this.announce(ctx);
  }

  /**
   * Announces every address so switches and peers relearn where the VM is: a gratuitous ARP per
   * IPv4 address, an unsolicited neighbour advertisement to all nodes per IPv6 address. The host
   * calls it at boot and after the VM moved (vMotion).
   */
  announce(ctx: NodeContext): void {
    for (const iface of this.interfaces) {
      this.send(ctx, iface, buildGratuitousArp({ srcMac: iface.mac, ip: iface.ipv4.address }));
      if (iface.ipv6) {
        this.send(
          ctx,
          iface,
          buildNeighborAdvertisement({ srcMac: iface.mac, dstMac: ipv6MulticastMac(ALL_NODES_GROUP), srcIp: iface.ipv6.address, dstIp: ALL_NODES_GROUP, solicited: false, override: true }),
        );
      }
    }
  }

  /**
   * A frame arrived on vNIC `vnicId`. Returns the FrameError when the frame was malformed (it is
   * dropped and counted by code; the host may record it), null otherwise. Never throws for bad
   * input.
   */
  receive(ctx: NodeContext, vnicId: string, frame: Uint8Array): FrameError | null {
    this.rxFrames++;
    const iface = this.interfaceById(vnicId);
    if (!iface) {
      this.drop('unknown-vnic');
      return null;
    }
    const decoded = tryDecodeFrame(frame);
    if (!decoded.ok) {
      this.countMalformed(decoded.error.code);
      return decoded.error;
    }
    const f = decoded.frame;
    const dst = f.ethernet.dst;
    if (dst !== iface.mac && !isBroadcastMac(dst) && !dst.startsWith('33:33:')) {
      this.drop('not-for-us');
      return null;
    }
    if (f.arp) this.receiveArp(ctx, iface, f.arp);
    else if (f.ipv4) this.receiveIpv4(ctx, iface, f, frame);
    else if (f.ipv6) this.receiveIpv6(ctx, iface, f, frame);
    else this.drop('unhandled-protocol');
    return null;
  }

  /**
   * Handles a `guest.*` timer; true when it was this stack's (the data names its VM). A timer
   * that was cancelled, or that an earlier incarnation of this VM's stack armed (before a
   * restore on the same host), is claimed and ignored.
   */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (!name.startsWith(GUEST_TIMER_PREFIX)) return false;
    if (typeof data !== 'object' || data === null || (data as { vm?: unknown }).vm !== this.vm) return false;
    const d = data as Record<string, unknown>;
    // A throttled guest's vCPUs sleep part of the time: what its timers would do waits for them to run again.
    const asleep = this.sleepLeft(ctx.now());
    if (asleep > 0 && this.timers.defer(ctx, d, asleep)) {
      if (name === FLOW_TIMER) this.senders.get(d['flow'] as string)?.lose(asleep);
      return true;
    }
    if (!this.timers.take(d)) return true;
    switch (name) {
      case this.arp.timerName:
        return this.arp.onTimer(ctx, data);
      case this.nd.timerName:
        return this.nd.onTimer(ctx, data);
      case TCP_TIMER: {
        const entry = this.connections.get(d['socket'] as number);
        entry?.connection.onTimer(ctx, d['kind'] as TcpTimerKind, d['token'] as number);
        return true;
      }
      case FLOW_TIMER:
        this.senders.get(d['flow'] as string)?.onTick(ctx, d['generation']);
        return true;
      case REPORT_TIMER:
        this.reportTimer = null;
        this.emitReports(ctx, false);
        this.armReports(ctx);
        return true;
      default:
        return false;
    }
  }

  /**
   * Starts a flow from this VM (a `flow.start` step). `spec` is validated here; throws FlowError
   * (`bad-flow-spec`, `wrong-vm`, `duplicate-flow`). Returns the spec with defaults filled in.
   */
  startFlow(ctx: NodeContext, spec: unknown): ResolvedFlowSpec {
    const resolved = resolveFlowSpec(spec);
    if (resolved.from !== this.vm) {
      throw new FlowError('wrong-vm', resolved.id, `Flow ${resolved.id} is from ${resolved.from}, not from VM ${this.vm}`);
    }
    if (this.senders.has(resolved.id)) throw new FlowError('duplicate-flow', resolved.id, `Flow ${resolved.id} was already started on VM ${this.vm}`);
    const sender = createSender(resolved, this);
    this.senders.set(resolved.id, sender);
    this.armReports(ctx);
    sender.start(ctx);
    return resolved;
  }

  /** Stops a flow (a `flow.stop` step): no more messages; a TCP flow closes with FIN. Throws FlowError('unknown-flow'). */
  stopFlow(ctx: NodeContext, flowId: string): void {
    const sender = this.senders.get(flowId);
    if (!sender) throw new FlowError('unknown-flow', flowId, `VM ${this.vm} runs no flow ${flowId}`);
    sender.stop(ctx);
  }

  /** The run ends: every flow, sender and receiver side, reports one last time (`final: true`). */
  onEnd(ctx: NodeContext): void {
    this.emitReports(ctx, true);
    this.timers.cancel(ctx, this.reportTimer);
    this.reportTimer = null;
  }

  /** The stack's state as plain data, sorted, for inspectors and snapshots. */
  inspect(): GuestStackView {
    return {
      vm: this.vm,
      interfaces: this.interfaces.map((i) => ({
        vnic: i.vnic,
        mac: i.mac,
        segment: i.segment,
        ipv4: `${i.ipv4.address}/${i.ipv4.prefixLength}`,
        ipv6: i.ipv6 ? `${i.ipv6.address}/${i.ipv6.prefixLength}` : null,
        gateway4: i.gateway4,
        gateway6: i.gateway6,
      })),
      arp: this.arp.view(),
      nd: this.nd.view(),
      tcp: [...this.connections.values()]
        .sort((a, b) => a.id - b.id)
        .map((e) => ({ ...e.connection.view(), role: e.role, flow: e.flow, localIp: e.localIp, localPort: e.localPort, remoteIp: e.remoteIp, remotePort: e.remotePort })),
      listeners: [...this.tcpListeners].sort((a, b) => a - b),
      udpPorts: [...this.udpSockets.keys()].sort((a, b) => a - b),
      flows: this.sortedSenders().map((s) => s.report(false)),
      received: this.receiverFlows.list().map((r) => ReceiverFlows.report(this.vm, r, false)),
      counters: { rxFrames: this.rxFrames, txFrames: this.txFrames, malformed: sortedRecord(this.malformed), drops: sortedRecord(this.drops) },
    };
  }

  // --- moving the VM (vMotion) ----------------------------------------------------------------

  /**
   * Everything inside the guest as plain data (msgpack safe), at instant `now`: neighbour caches
   * with their waiting packets, sockets, every TCP connection, the apps, the flow checker, the
   * counters, and each pending timer as the delay it has left. Interfaces and settings are not in
   * it: `restore` takes them from the VM's spec again. Exporting changes nothing; the host drops
   * this object afterwards (its pending timers are then ignored wherever they fire).
   *
   * @example
   * const bytes = encode(stack.exportState(ctx.now()));
   * // ...in the destination host process:
   * const moved = GuestStack.restore(options, decode(bytes), ctx);
   */
  /**
   * vMotion slows the guest's vCPUs down (`throttle`: run `quantumNs`, sleep `sleepNs`), or lets
   * them run freely again (null). While throttled, every guest timer that falls in a sleep fires at
   * the next run instead: apps send less, as the guest dirties less.
   */
  setThrottle(now: VTime, throttle: { readonly quantumNs: VTime; readonly sleepNs: VTime } | null): void {
    this.throttle = throttle === null || throttle.sleepNs <= 0 ? null : { sinceNs: now, quantumNs: throttle.quantumNs, sleepNs: throttle.sleepNs };
  }

  /** How long the vCPUs still sleep at `now`, 0 when they run. */
  private sleepLeft(now: VTime): VTime {
    const t = this.throttle;
    if (t === null) return 0;
    const period = t.quantumNs + t.sleepNs;
    const at = (now - t.sinceNs) % period;
    return at < t.quantumNs ? 0 : period - at;
  }

  exportState(now: VTime): GuestStackState {
    const entries = [...this.connections.values(), ...this.pruned.values()].sort((a, b) => a.id - b.id);
    const senders = this.sortedSenders();
    return {
      format: GUEST_STATE_FORMAT,
      version: GUEST_STATE_VERSION,
      vm: this.vm,
      incarnation: this.timers.incarnation,
      ipId: this.ipId,
      nextConnectionId: this.nextConnectionId,
      counters: { rxFrames: this.rxFrames, txFrames: this.txFrames, malformed: sortedRecord(this.malformed), drops: sortedRecord(this.drops) },
      timers: this.timers.exportState(now),
      arp: this.arp.exportState(now),
      nd: this.nd.exportState(now),
      udpSockets: [...this.udpSockets].sort(([a], [b]) => a - b).map(([port, handler]) => ({ port, flow: handler === this.udpSink ? null : flowOf(handler) })),
      echo: [...this.echoHandlers].sort(([a], [b]) => a - b).map(([identifier, handler]) => ({ identifier, flow: flowOf(handler) })),
      tcpListeners: [...this.tcpListeners].sort((a, b) => a - b),
      connections: entries.map((e) => ({
        id: e.id,
        role: e.role,
        localIp: e.localIp,
        localPort: e.localPort,
        remoteIp: e.remoteIp,
        remotePort: e.remotePort,
        flow: e.flow,
        pruned: this.pruned.has(e.id),
        tcp: e.connection.exportState(now),
        sink: e.app instanceof TcpSinkSession ? e.app.exportState() : null,
      })),
      senders: senders.map((sender) => sender.exportState(now)),
      receiverFlows: this.receiverFlows.exportState(),
      udpSink: this.udpSink === null ? null : { port: this.udpSink.port, malformed: this.udpSink.malformed },
      lastReport: [...this.lastReport].sort(([a], [b]) => compareText(a, b)).map(([key, signature]) => ({ key, signature })),
      reportTimer: this.reportTimer,
    };
  }

  /**
   * The stack of a VM that moved here, from the state `exportState` gave on the other side (any
   * value: it is parsed; throws GuestStateError `malformed-state` naming the field). `options`
   * are the ones a new stack for the VM would get on this host. The VM was frozen while the state
   * travelled, so each pending timer is armed again with the delay it had left, counted from
   * `ctx.now()`, and ages are counted back from it: the stack goes on exactly as the exported one
   * would have, shifted by the freeze. Nothing is sent (no boot, no announcement: the caller
   * announces the VM where it now is, see `announce`).
   *
   * The restored stack is the next incarnation of the VM's stack: timers the exported object armed
   * carry the old one, so if they fire into this same host they are ignored.
   */
  /**
   * Checks that `state` would restore into a stack with these options, without restoring it (no
   * context, nothing armed): a vMotion destination checks the state before it asks to commit.
   * Throws GuestStateError `malformed-state` naming the field.
   */
  static check(options: GuestStackOptions, state: unknown): void {
    new GuestStack(options).checkState(parseGuestStackState(state));
  }

  static restore(options: GuestStackOptions, state: unknown, ctx: NodeContext): GuestStack {
    const parsed = parseGuestStackState(state);
    const stack = new GuestStack(options);
    const specs = stack.checkState(parsed);
    stack.load(parsed, specs, ctx);
    return stack;
  }

  /**
   * Checks that the parts of a parsed state agree with each other and with this VM (ids, timers
   * held by exactly one part, sockets bound to the apps that own them). Returns the senders' specs.
   */
  private checkState(s: GuestStackState): Map<string, ResolvedFlowSpec> {
    const fail = (field: string, problem: string): never => {
      throw stateError(field, problem);
    };
    if (s.vm !== this.vm) fail('vm', `the state is VM ${s.vm}'s, not VM ${this.vm}'s`);
    const expectedSinkPort = this.settings.udpSinkPort;
    if ((s.udpSink?.port ?? null) !== expectedSinkPort) fail('udpSink', `the UDP sink here is on port ${String(expectedSinkPort)}, the state has ${s.udpSink === null ? 'none' : `port ${s.udpSink.port}`}`);

    // Timers: each pending one is held by exactly one part, with the data that part expects.
    const pending = new Map<number, { readonly at: string; readonly name: string; readonly data: unknown }>();
    s.timers.pending.forEach((t, i) => {
      const at = `timers.pending[${i}]`;
      if (pending.has(t.timer)) fail(`${at}.timer`, `timer ${t.timer} is listed twice`);
      if (t.timer >= s.timers.next) fail(`${at}.timer`, `timer ${t.timer} is not below timers.next (${s.timers.next})`);
      pending.set(t.timer, { at, name: t.name, data: t.data });
    });
    const held = new Set<number>();
    const holds = (field: string, timer: number | null, name: string, data: Readonly<Record<string, unknown>>): void => {
      if (timer === null) return;
      const p = pending.get(timer);
      if (!p) return fail(field, `timer ${timer} is not pending`);
      if (held.has(timer)) fail(field, `timer ${timer} is held by another part too`);
      if (p.name !== name || !samePlain(p.data, data)) fail(field, `timer ${timer} is ${p.name} ${JSON.stringify(p.data)}, expected ${name} ${JSON.stringify(data)}`);
      held.add(timer);
    };
    holds('reportTimer', s.reportTimer, REPORT_TIMER, {});

    const checkNeighbors = (field: 'arp' | 'nd', cache: NeighborCacheState, timerName: string): void => {
      const seen = new Set<string>();
      cache.entries.forEach((e, i) => {
        const at = `${field}.entries[${i}]`;
        if (!this.interfaceById(e.vnic)) fail(`${at}.vnic`, `VM ${this.vm} has no vNIC ${e.vnic}`);
        if (ipFamily(e.ip) !== (field === 'arp' ? 4 : 6)) fail(`${at}.ip`, `${e.ip} is not an IPv${field === 'arp' ? 4 : 6} address`);
        if (seen.has(`${e.vnic}|${e.ip}`)) fail(`${at}.ip`, `${e.ip} on ${e.vnic} is listed twice`);
        seen.add(`${e.vnic}|${e.ip}`);
        if ((e.mac === null) !== (e.state === 'incomplete')) fail(`${at}.mac`, `an entry in state ${e.state} ${e.mac === null ? 'must' : 'cannot'} have a MAC`);
        holds(`${at}.timer`, e.timer, timerName, { vnic: e.vnic, ip: e.ip, generation: e.generation });
      });
    };
    checkNeighbors('arp', s.arp, this.arp.timerName);
    checkNeighbors('nd', s.nd, this.nd.timerName);

    // Senders: their specs must be what `startFlow` would have accepted on this VM.
    const specs = new Map<string, ResolvedFlowSpec>();
    const senders = new Map<string, SenderState>();
    s.senders.forEach((sender, i) => {
      const at = `senders[${i}]`;
      const spec = sender.spec;
      if (senders.has(spec.id)) fail(`${at}.spec.id`, `flow ${spec.id} is listed twice`);
      if (spec.kind !== sender.kind) fail(`${at}.spec.kind`, `a ${sender.kind} sender cannot run a ${spec.kind} flow`);
      if (spec.from !== this.vm) fail(`${at}.spec.from`, `flow ${spec.id} is from ${spec.from}, not from VM ${this.vm}`);
      let resolved: ResolvedFlowSpec;
      try {
        resolved = resolveFlowSpec({ id: spec.id, kind: spec.kind, from: spec.from, to: spec.to, ...(spec.port === null ? {} : { port: spec.port }), ratePps: spec.ratePps, payloadBytes: spec.payloadBytes, ...(spec.count === null ? {} : { count: spec.count }) });
      } catch (error) {
        if (error instanceof FlowError) return fail(`${at}.spec`, error.message);
        throw error;
      }
      if (!samePlain(resolved, spec)) fail(`${at}.spec`, `flow ${spec.id} does not resolve to itself (${JSON.stringify(resolved)})`);
      specs.set(spec.id, resolved);
      senders.set(spec.id, sender);
      holds(`${at}.timer`, sender.timer, FLOW_TIMER, { flow: spec.id, generation: sender.generation });
    });

    // Receiver flows and connections.
    const received = new Set<string>();
    s.receiverFlows.forEach((f, i) => {
      if (received.has(f.flow)) fail(`receiverFlows[${i}].flow`, `flow ${f.flow} is listed twice`);
      received.add(f.flow);
    });
    const connections = new Map<number, ConnectionState>();
    const liveTuples = new Set<string>();
    s.connections.forEach((c, i) => {
      const at = `connections[${i}]`;
      if (connections.has(c.id)) fail(`${at}.id`, `connection ${c.id} is listed twice`);
      if (c.id >= s.nextConnectionId) fail(`${at}.id`, `connection ${c.id} is not below nextConnectionId (${s.nextConnectionId})`);
      connections.set(c.id, c);
      if (c.role === 'server') {
        if (c.sink === null) fail(`${at}.sink`, 'a connection the listener accepted has a sink session');
        if (c.pruned) fail(`${at}.pruned`, 'only a flow sender keeps a pruned connection');
        const flow = c.sink?.flow ?? null;
        if (flow !== null && !received.has(flow)) fail(`${at}.sink.flow`, `no received flow ${flow}`);
      } else {
        if (c.sink !== null) fail(`${at}.sink`, "a flow's own connection has no sink session");
        const sender = c.flow === null ? undefined : senders.get(c.flow);
        if (sender?.kind !== 'tcp' || sender.connection !== c.id) fail(`${at}.flow`, `no TCP sender of flow ${String(c.flow)} holds connection ${c.id}`);
      }
      if (c.pruned && c.tcp.state !== 'CLOSED') fail(`${at}.pruned`, `a ${c.tcp.state} connection is not pruned`);
      if (c.tcp.state !== 'CLOSED') {
        const tuple = tupleKey(c.localIp, c.localPort, c.remoteIp, c.remotePort);
        if (liveTuples.has(tuple)) fail(`${at}.remotePort`, `another open connection has the same addresses and ports`);
        liveTuples.add(tuple);
      }
      holds(`${at}.tcp.rtoTimer`, c.tcp.rtoTimer, TCP_TIMER, { socket: c.id, kind: 'rto', token: c.tcp.timerToken });
      holds(`${at}.tcp.timeWaitTimer`, c.tcp.timeWaitTimer, TCP_TIMER, { socket: c.id, kind: 'time-wait', token: 0 });
    });
    s.senders.forEach((sender, i) => {
      if (sender.kind !== 'tcp' || sender.connection === null) return;
      const c = connections.get(sender.connection);
      if (c?.role !== 'client' || c.flow !== sender.spec.id) fail(`senders[${i}].connection`, `no connection ${sender.connection} of flow ${sender.spec.id}`);
    });
    for (const [timer, p] of pending) if (!held.has(timer)) fail(p.at, `no part of the stack holds timer ${timer} (${p.name})`);

    // Sockets.
    const ports = new Set<number>();
    s.udpSockets.forEach((u, i) => {
      const at = `udpSockets[${i}]`;
      if (ports.has(u.port)) fail(`${at}.port`, `UDP port ${u.port} is bound twice`);
      ports.add(u.port);
      if (u.flow === null) {
        if (u.port !== s.udpSink?.port) fail(`${at}.flow`, `UDP port ${u.port} has no owner (the sink is on ${String(s.udpSink?.port ?? null)})`);
        return;
      }
      const sender = senders.get(u.flow);
      if (sender?.kind !== 'udp' || sender.port !== u.port) fail(`${at}.flow`, `no UDP sender of flow ${u.flow} has port ${u.port}`);
    });
    if (s.udpSink !== null && !ports.has(s.udpSink.port)) fail('udpSockets', `the UDP sink's port ${s.udpSink.port} is not bound`);
    const identifiers = new Set<number>();
    s.echo.forEach((e, i) => {
      const at = `echo[${i}]`;
      if (identifiers.has(e.identifier)) fail(`${at}.identifier`, `echo identifier ${e.identifier} is bound twice`);
      identifiers.add(e.identifier);
      const sender = senders.get(e.flow);
      if (sender?.kind !== 'ping' || sender.identifier !== e.identifier) fail(`${at}.flow`, `no ping sender of flow ${e.flow} has identifier ${e.identifier}`);
    });
    if (new Set(s.tcpListeners).size !== s.tcpListeners.length) fail('tcpListeners', 'a port is listed twice');
    if (new Set(s.lastReport.map((r) => r.key)).size !== s.lastReport.length) fail('lastReport', 'a key is listed twice');
    return specs;
  }

  /** Takes over a checked state on this fresh stack; re-arms its timers on `ctx`. */
  private load(s: GuestStackState, specs: ReadonlyMap<string, ResolvedFlowSpec>, ctx: NodeContext): void {
    const now = ctx.now();
    this.ipId = s.ipId;
    this.nextConnectionId = s.nextConnectionId;
    this.rxFrames = s.counters.rxFrames;
    this.txFrames = s.counters.txFrames;
    for (const [code, n] of Object.entries(s.counters.malformed)) this.malformed.set(code, n);
    for (const [reason, n] of Object.entries(s.counters.drops)) this.drops.set(reason, n);
    this.arp.importState(s.arp, now);
    this.nd.importState(s.nd, now);
    this.receiverFlows.importState(s.receiverFlows);
    if (this.udpSink !== null && s.udpSink !== null) this.udpSink.malformed = s.udpSink.malformed;

    // Connections first (a TCP sender needs its own), with their sink sessions.
    const built = new Map<number, ConnectionEntry>();
    for (const c of s.connections) {
      let entry: ConnectionEntry | null = null;
      const session = c.sink === null ? null : new TcpSinkSession(this.receiverFlows, c.remoteIp, c.localIp, c.localPort, (flow) => {
        if (entry) entry.flow = flow;
      });
      // A client's app is its flow's sender, set below once it exists.
      entry = this.buildConnection(c.id, c.role, c.localIp, c.localPort, c.remoteIp, c.remotePort, c.flow, session ?? NO_APP);
      entry.connection.importState(c.tcp, now);
      if (session) {
        session.attach(entry.connection);
        session.importState(c.sink!);
      }
      built.set(c.id, entry);
      if (c.pruned) this.pruned.set(c.id, entry);
      else this.connections.set(c.id, entry);
      if (c.tcp.state !== 'CLOSED') this.byTuple.set(entry.tuple, entry.id);
    }
    for (const state of s.senders) {
      const spec = specs.get(state.spec.id)!;
      let sender: FlowSender;
      switch (state.kind) {
        case 'ping':
          sender = PingSender.restore(spec, this, state, now);
          break;
        case 'udp':
          sender = UdpSender.restore(spec, this, state, now);
          break;
        case 'tcp': {
          const entry = state.connection === null ? null : built.get(state.connection)!;
          sender = TcpSender.restore(spec, this, state, entry?.connection ?? null, now);
          if (entry) entry.app = sender as TcpSender;
          break;
        }
      }
      this.senders.set(spec.id, sender);
    }

    this.tcpListeners.clear();
    for (const port of s.tcpListeners) this.tcpListeners.add(port);
    this.udpSockets.clear();
    for (const u of s.udpSockets) this.udpSockets.set(u.port, u.flow === null ? this.udpSink! : (this.senders.get(u.flow) as UdpSender));
    for (const e of s.echo) this.echoHandlers.set(e.identifier, this.senders.get(e.flow) as PingSender);
    for (const r of s.lastReport) this.lastReport.set(r.key, r.signature);
    this.reportTimer = s.reportTimer;
    this.timers = GuestTimers.restore(this.vm, s.incarnation + 1, s.timers, ctx);
  }

  // --- sockets for the apps (GuestSockets) ---------------------------------------------------

  /** @inheritdoc */
  openUdp(ctx: NodeContext, handler: UdpHandler): number {
    const port = this.freePort(ctx, (p) => this.udpSockets.has(p));
    this.udpSockets.set(port, handler);
    return port;
  }

  /** @inheritdoc */
  closeUdp(port: number): void {
    if (port !== this.udpSink?.port) this.udpSockets.delete(port);
  }

  /** @inheritdoc */
  sendUdp(ctx: NodeContext, srcPort: number, dstIp: string, dstPort: number, payload: Uint8Array): boolean {
    return this.sendIp(ctx, dstIp, null, IP_PROTOCOL_UDP, (srcIp) => encodeUdp({ srcPort, dstPort, payload, srcIp, dstIp, checksum: true }));
  }

  /** @inheritdoc */
  openEcho(ctx: NodeContext, handler: EchoHandler): number {
    let id = Math.floor(ctx.random() * 0x10000);
    while (this.echoHandlers.has(id)) id = (id + 1) & 0xffff;
    this.echoHandlers.set(id, handler);
    return id;
  }

  /** @inheritdoc */
  closeEcho(identifier: number): void {
    this.echoHandlers.delete(identifier);
  }

  /** @inheritdoc */
  sendEcho(ctx: NodeContext, dstIp: string, identifier: number, sequence: number, data: Uint8Array): boolean {
    const echo = { kind: 'echo-request' as const, identifier, sequence, data };
    if (ipFamily(dstIp) === 4) return this.sendIp(ctx, dstIp, null, IP_PROTOCOL_ICMP, () => encodeIcmp(echo));
    return this.sendIp(ctx, dstIp, null, IP_PROTOCOL_ICMPV6, (srcIp) => encodeIcmpv6(echo, srcIp, dstIp));
  }

  /** @inheritdoc */
  setTimer(ctx: NodeContext, delayNs: VTime, name: string, payload: Readonly<Record<string, unknown>>): number {
    return this.timers.set(ctx, delayNs, name, payload);
  }

  /** @inheritdoc */
  cancelTimer(ctx: NodeContext, id: number): void {
    this.timers.cancel(ctx, id);
  }

  /** @inheritdoc */
  connectTcp(ctx: NodeContext, dstIp: string, dstPort: number, flow: string, handlers: TcpAppHandlers): TcpConnection | null {
    const route = this.isLocalAddress(dstIp) ? null : this.route(dstIp);
    if (!route) {
      this.drop(this.isLocalAddress(dstIp) ? 'loopback' : 'no-route');
      return null;
    }
    const localIp = route.srcIp;
    const localPort = this.freePort(ctx, (p) => this.byTuple.has(tupleKey(localIp, p, dstIp, dstPort)) || this.tcpListeners.has(p));
    const entry = this.addConnection('client', localIp, localPort, dstIp, dstPort, flow, handlers);
    entry.connection.connect(ctx, this.initialSequence(ctx));
    return entry.connection;
  }

  // --- receive paths ---------------------------------------------------------------------------

  private receiveArp(ctx: NodeContext, iface: GuestInterface, arp: ArpPacket): void {
    const ours = arp.targetIp === iface.ipv4.address;
    if (arp.senderIp !== '0.0.0.0' && arp.senderIp !== iface.ipv4.address) {
      this.arp.learn(ctx, iface.vnic, arp.senderIp, arp.senderMac, { create: ours });
    }
    if (ours && arp.operation === ARP_REQUEST && arp.senderIp !== arp.targetIp) {
      this.send(ctx, iface, buildArpReply({ srcMac: iface.mac, senderIp: iface.ipv4.address, dstMac: arp.senderMac, targetIp: arp.senderIp }));
    }
  }

  private receiveIpv4(ctx: NodeContext, iface: GuestInterface, f: DecodedFrame, bytes: Uint8Array): void {
    const ip = f.ipv4!;
    if (!this.isLocalAddress(ip.dst)) {
      this.drop('not-our-ip');
      return;
    }
    if (ip.isFragment) {
      this.drop('fragment');
      return;
    }
    if (f.icmp) {
      const icmp = f.icmp;
      if (icmp.kind === 'echo-request') {
        this.sendIp(ctx, ip.src, ip.dst, IP_PROTOCOL_ICMP, () => encodeIcmp({ kind: 'echo-reply', identifier: icmp.identifier, sequence: icmp.sequence, data: icmp.data }));
      } else if (icmp.kind === 'echo-reply') {
        this.echoHandlers.get(icmp.identifier)?.onEchoReply(ctx, { from: ip.src, sequence: icmp.sequence, data: icmp.data });
      } else if (icmp.kind === 'destination-unreachable') {
        this.onIcmpError(ctx, parseQuoted(icmp.original, 4), { family: 4, code: icmp.code, from: ip.src });
      }
      return;
    }
    const ipStart = f.ethernet.payloadOffset;
    this.receiveTransport(ctx, f, ip.src, ip.dst, bytes.subarray(ipStart, ip.payloadEnd));
  }

  private receiveIpv6(ctx: NodeContext, iface: GuestInterface, f: DecodedFrame, bytes: Uint8Array): void {
    const ip = f.ipv6!;
    const own = iface.ipv6?.address ?? null;
    const group = own !== null && (ip.dst === solicitedNodeMulticast(own) || ip.dst === ALL_NODES_GROUP);
    if (!group && !this.isLocalAddress(ip.dst)) {
      this.drop('not-our-ip');
      return;
    }
    if (ip.isFragment) {
      this.drop('fragment');
      return;
    }
    if (f.icmpv6) {
      const icmp = f.icmpv6;
      switch (icmp.kind) {
        case 'neighbor-solicitation':
        case 'neighbor-advertisement':
          if (ip.hopLimit !== NDP_HOP_LIMIT) {
            this.drop('ndp-hop-limit');
            return;
          }
          if (icmp.kind === 'neighbor-solicitation') this.receiveSolicitation(ctx, iface, ip.src, icmp.target, ndpLinkLayerAddress(icmp) ?? null);
          else this.nd.learn(ctx, iface.vnic, icmp.target, ndpLinkLayerAddress(icmp) ?? f.ethernet.src, { create: false });
          return;
        case 'echo-request':
          if (group) return;
          this.sendIp(ctx, ip.src, ip.dst, IP_PROTOCOL_ICMPV6, (srcIp) =>
            encodeIcmpv6({ kind: 'echo-reply', identifier: icmp.identifier, sequence: icmp.sequence, data: icmp.data }, srcIp, ip.src),
          );
          return;
        case 'echo-reply':
          this.echoHandlers.get(icmp.identifier)?.onEchoReply(ctx, { from: ip.src, sequence: icmp.sequence, data: icmp.data });
          return;
        case 'destination-unreachable':
          this.onIcmpError(ctx, parseQuoted(icmp.original, 6), { family: 6, code: icmp.code, from: ip.src });
          return;
        default:
          return;
      }
    }
    if (group) {
      this.drop('not-our-ip');
      return;
    }
    const ipStart = f.ethernet.payloadOffset;
    this.receiveTransport(ctx, f, ip.src, ip.dst, bytes.subarray(ipStart, ip.payloadEnd));
  }

  private receiveSolicitation(ctx: NodeContext, iface: GuestInterface, src: string, target: string, senderMac: MacAddress | null): void {
    if (!iface.ipv6 || target !== iface.ipv6.address) return;
    const unspecified = src === '::';
    if (!unspecified && senderMac !== null) this.nd.learn(ctx, iface.vnic, src, senderMac, { create: true });
    const dstIp = unspecified ? ALL_NODES_GROUP : src;
    const dstMac = unspecified ? ipv6MulticastMac(ALL_NODES_GROUP) : (senderMac ?? this.nd.peek(iface.vnic, src));
    if (dstMac === null) return;
    this.send(ctx, iface, buildNeighborAdvertisement({ srcMac: iface.mac, dstMac, srcIp: iface.ipv6.address, dstIp, targetIp: iface.ipv6.address, solicited: !unspecified, override: true }));
  }

  /** UDP and TCP; `packet` is the whole IP packet, quoted by an ICMP error if no socket wants it. */
  private receiveTransport(ctx: NodeContext, f: DecodedFrame, src: string, dst: string, packet: Uint8Array): void {
    if (f.udp) {
      const handler = this.udpSockets.get(f.udp.dstPort);
      if (handler) {
        if (handler === this.udpSink) this.armReports(ctx);
        handler.onDatagram(ctx, { srcIp: src, srcPort: f.udp.srcPort, dstIp: dst, dstPort: f.udp.dstPort, payload: f.udp.payload });
        return;
      }
      this.drop('udp-no-socket');
      this.sendPortUnreachable(ctx, src, dst, packet);
      return;
    }
    if (f.tcp) {
      this.receiveTcp(ctx, src, dst, f.tcp);
      return;
    }
    this.drop('unhandled-protocol');
  }

  private receiveTcp(ctx: NodeContext, src: string, dst: string, tcp: TcpSegment): void {
    const id = this.byTuple.get(tupleKey(dst, tcp.dstPort, src, tcp.srcPort));
    const segment = { seq: tcp.seq, ack: tcp.ack, flags: tcp.flags, window: tcp.window, options: tcp.options, payload: tcp.payload };
    if (id !== undefined) {
      this.connections.get(id)!.connection.receive(ctx, segment);
      return;
    }
    const f = tcp.flags;
    if (f.syn && !f.ack && !f.rst && this.tcpListeners.has(tcp.dstPort)) {
      this.armReports(ctx);
      let entry: ConnectionEntry | null = null;
      const session = new TcpSinkSession(this.receiverFlows, src, dst, tcp.dstPort, (flow) => {
        if (entry) entry.flow = flow;
      });
      entry = this.addConnection('server', dst, tcp.dstPort, src, tcp.srcPort, null, session);
      session.attach(entry.connection);
      entry.connection.accept(ctx, segment, this.initialSequence(ctx));
      return;
    }
    this.drop('tcp-no-socket');
    if (f.rst) return;
    // RFC 9293 section 3.10.7.1: answer a segment for no connection with a reset.
    const length = tcp.payload.length + (f.syn ? 1 : 0) + (f.fin ? 1 : 0);
    const reply = f.ack
      ? { seq: tcp.ack, ack: 0, flags: { rst: true } }
      : { seq: 0, ack: (tcp.seq + length) >>> 0, flags: { rst: true, ack: true } };
    this.sendIp(ctx, src, dst, IP_PROTOCOL_TCP, (srcIp) =>
      encodeTcp({ srcPort: tcp.dstPort, dstPort: tcp.srcPort, seq: reply.seq, ack: reply.ack, flags: reply.flags, window: 0, srcIp, dstIp: src }),
    );
  }

  private onIcmpError(ctx: NodeContext, quoted: QuotedPacket | null, notice: IcmpErrorNotice): void {
    if (!quoted || !this.isLocalAddress(quoted.src)) return;
    switch (quoted.protocol) {
      case IP_PROTOCOL_UDP:
        this.udpSockets.get(quoted.srcPort)?.onIcmpError(ctx, notice);
        return;
      case IP_PROTOCOL_TCP: {
        const id = this.byTuple.get(tupleKey(quoted.src, quoted.srcPort, quoted.dst, quoted.dstPort));
        if (id !== undefined) this.connections.get(id)?.app.onIcmpError?.(ctx, notice);
        return;
      }
      case IP_PROTOCOL_ICMP:
      case IP_PROTOCOL_ICMPV6:
        if (quoted.icmpType === ICMP_ECHO_REQUEST || quoted.icmpType === ICMPV6_ECHO_REQUEST) this.echoHandlers.get(quoted.srcPort)?.onIcmpError(ctx, notice);
        return;
    }
  }

  private sendPortUnreachable(ctx: NodeContext, src: string, dst: string, packet: Uint8Array): void {
    if (ipFamily(src) === 4) {
      this.sendIp(ctx, src, dst, IP_PROTOCOL_ICMP, () => encodeIcmp({ kind: 'destination-unreachable', code: ICMP_UNREACHABLE_PORT, nextHopMtu: 0, original: packet }));
    } else {
      // ICMPv6 destination unreachable code 4: port unreachable.
      this.sendIp(ctx, src, dst, IP_PROTOCOL_ICMPV6, (srcIp) => encodeIcmpv6({ kind: 'destination-unreachable', code: 4, parameter: 0, original: packet }, srcIp, src));
    }
  }

  // --- TCP connections -------------------------------------------------------------------------

  private addConnection(role: 'client' | 'server', localIp: string, localPort: number, remoteIp: string, remotePort: number, flow: string | null, app: ConnectionEntry['app']): ConnectionEntry {
    const entry = this.buildConnection(this.nextConnectionId++, role, localIp, localPort, remoteIp, remotePort, flow, app);
    this.connections.set(entry.id, entry);
    this.byTuple.set(entry.tuple, entry.id);
    return entry;
  }

  /** A connection wired to this stack (transmit, timers, state changes), not yet in any table. */
  private buildConnection(id: number, role: 'client' | 'server', localIp: string, localPort: number, remoteIp: string, remotePort: number, flow: string | null, app: ConnectionEntry['app']): ConnectionEntry {
    const tuple = tupleKey(localIp, localPort, remoteIp, remotePort);
    let entry: ConnectionEntry | null = null;
    const connection = new TcpConnection(id, this.tcpSettings, {
      transmit: (ctx, seg) => {
        this.sendIp(ctx, remoteIp, localIp, IP_PROTOCOL_TCP, (srcIp) =>
          encodeTcp({ srcPort: localPort, dstPort: remotePort, seq: seg.seq, ack: seg.ack, flags: seg.flags, window: seg.window, options: seg.options, payload: seg.payload, srcIp, dstIp: remoteIp }),
        );
      },
      setTimer: (ctx, delayNs, kind, token) => this.timers.set(ctx, delayNs, TCP_TIMER, { socket: id, kind, token }),
      cancelTimer: (ctx, timer) => this.timers.cancel(ctx, timer),
      onStateChange: (ctx, from, to, reason) => {
        if (entry) this.onConnectionState(ctx, entry, from, to, reason);
      },
      onData: (ctx, bytes) => entry?.app.onData(ctx, bytes),
      onPeerClosed: (ctx) => entry?.app.onPeerClosed(ctx),
    });
    entry = { id, connection, role, localIp, localPort, remoteIp, remotePort, tuple, flow, app };
    return entry;
  }

  private onConnectionState(ctx: NodeContext, entry: ConnectionEntry, from: TcpState, to: TcpState, reason: TcpCloseReason | null): void {
    ctx.emit('tcp.state', {
      vm: this.vm,
      flow: entry.flow,
      role: entry.role,
      state: to,
      previous: from,
      reason,
      localIp: entry.localIp,
      localPort: entry.localPort,
      remoteIp: entry.remoteIp,
      remotePort: entry.remotePort,
    });
    if (to === 'CLOSED') {
      if (this.byTuple.get(entry.tuple) === entry.id) this.byTuple.delete(entry.tuple);
      this.pruneClosedConnections();
    }
    entry.app.onStateChange(ctx, to, reason);
  }

  private pruneClosedConnections(): void {
    const closed = [...this.connections.values()].filter((e) => e.connection.state === 'CLOSED').sort((a, b) => a.id - b.id);
    for (const e of closed.slice(0, Math.max(0, closed.length - CLOSED_CONNECTIONS_KEPT))) {
      // A flow's own connection stays visible to its sender app regardless (and moves with the VM).
      this.connections.delete(e.id);
      if (e.role === 'client') this.pruned.set(e.id, e);
    }
  }

  private initialSequence(ctx: NodeContext): number {
    return Math.floor(ctx.random() * 0x100000000) >>> 0;
  }

  private freePort(ctx: NodeContext, taken: (port: number) => boolean): number {
    const start = Math.floor(ctx.random() * EPHEMERAL_PORT_COUNT);
    for (let i = 0; i < EPHEMERAL_PORT_COUNT; i++) {
      const port = EPHEMERAL_PORT_FIRST + ((start + i) % EPHEMERAL_PORT_COUNT);
      if (!taken(port)) return port;
    }
    throw new FlowError('bad-flow-spec', null, `VM ${this.vm} has no free ephemeral port`);
  }

  // --- sending ---------------------------------------------------------------------------------

  /** Where a packet to `dst` goes: the on-link interface, else the first interface with a gateway of its family. */
  private route(dst: string): Route | null {
    const family = ipFamily(dst);
    for (const iface of this.interfaces) {
      const cidr = family === 4 ? iface.ipv4 : iface.ipv6;
      if (cidr && cidrContains(cidr, dst)) return { iface, srcIp: cidr.address, nextHop: dst };
    }
    for (const iface of this.interfaces) {
      const cidr = family === 4 ? iface.ipv4 : iface.ipv6;
      const gateway = family === 4 ? iface.gateway4 : iface.gateway6;
      if (cidr && gateway) return { iface, srcIp: cidr.address, nextHop: gateway };
    }
    return null;
  }

  /**
   * Sends an IP packet: routes it, builds the upper layer for the chosen source address (or
   * `srcIp` when the packet answers one sent to that address), resolves the next hop's MAC.
   */
  private sendIp(ctx: NodeContext, dstIp: string, srcIp: string | null, protocol: number, build: (srcIp: string) => Uint8Array): boolean {
    if (this.isLocalAddress(dstIp)) {
      this.drop('loopback');
      return false;
    }
    const route = this.route(dstIp);
    if (!route) {
      this.drop('no-route');
      return false;
    }
    const source = srcIp ?? route.srcIp;
    const packet: PendingPacket = { srcIp: source, dstIp, protocol, l4: build(source) };
    const cache = ipFamily(dstIp) === 4 ? this.arp : this.nd;
    cache.resolve(ctx, route.iface.vnic, route.nextHop, packet, (mac) => this.emitFrame(ctx, route.iface, mac, packet));
    return true;
  }

  private emitFrame(ctx: NodeContext, iface: GuestInterface, dstMac: MacAddress, packet: PendingPacket): void {
    const v4 = ipFamily(packet.dstIp) === 4;
    const frame = buildIpFrame({ srcMac: iface.mac, dstMac, srcIp: packet.srcIp, dstIp: packet.dstIp, ttl: GUEST_TTL, id: v4 ? this.nextIpId() : 0 }, packet.protocol, packet.l4);
    this.send(ctx, iface, frame);
  }

  private solicit(ctx: NodeContext, family: 4 | 6, vnic: string, ip: string, unicastTo: MacAddress | null): void {
    const iface = this.interfaceById(vnic);
    if (!iface) return;
    if (family === 4) {
      const request = unicastTo === null
        ? buildArpRequest({ srcMac: iface.mac, senderIp: iface.ipv4.address, targetIp: ip })
        : encodeEthernet({
            dst: unicastTo,
            src: iface.mac,
            etherType: ETHERTYPE_ARP,
            payload: encodeArp({ operation: ARP_REQUEST, senderMac: iface.mac, senderIp: iface.ipv4.address, targetMac: '00:00:00:00:00:00', targetIp: ip }),
            pad: true,
          });
      this.send(ctx, iface, request);
      return;
    }
    if (!iface.ipv6) return;
    if (unicastTo === null) {
      this.send(ctx, iface, buildNeighborSolicitation({ srcMac: iface.mac, srcIp: iface.ipv6.address, targetIp: ip }));
      return;
    }
    const ns = encodeIcmpv6({ kind: 'neighbor-solicitation', target: ip, options: [{ kind: 'source-link-layer-address', mac: iface.mac }] }, iface.ipv6.address, ip);
    this.send(ctx, iface, buildIpFrame({ srcMac: iface.mac, dstMac: unicastTo, srcIp: iface.ipv6.address, dstIp: ip, ttl: NDP_HOP_LIMIT }, IP_PROTOCOL_ICMPV6, ns));
  }

  private send(ctx: NodeContext, iface: GuestInterface, frame: Uint8Array): void {
    this.txFrames++;
    this.transmit(iface.vnic, frame, ctx);
  }

  private nextIpId(): number {
    const id = this.ipId;
    this.ipId = (this.ipId + 1) & 0xffff;
    return id;
  }

  // --- reports ---------------------------------------------------------------------------------

  /** Arms the report timer for the next multiple of the interval, so every VM reports at the same instants. */
  private armReports(ctx: NodeContext): void {
    if (this.reportTimer !== null) return;
    const interval = this.settings.reportIntervalNs;
    const delay = interval - (ctx.now() % interval);
    this.reportTimer = this.timers.set(ctx, delay, REPORT_TIMER, {});
  }

  private emitReports(ctx: NodeContext, final: boolean): void {
    for (const sender of this.sortedSenders()) this.emitReport(ctx, `s:${sender.spec.id}`, sender.report(final), final);
    for (const flow of this.receiverFlows.list()) this.emitReport(ctx, `r:${flow.flow}`, ReceiverFlows.report(this.vm, flow, final), final);
  }

  private emitReport(ctx: NodeContext, key: string, report: FlowReport, final: boolean): void {
    const signature = reportSignature(report);
    if (!final && this.lastReport.get(key) === signature) return;
    this.lastReport.set(key, signature);
    ctx.emit('flow.report', { ...report });
  }

  private sortedSenders(): FlowSender[] {
    return [...this.senders.values()].sort((a, b) => (a.spec.id < b.spec.id ? -1 : a.spec.id > b.spec.id ? 1 : 0));
  }

  // --- helpers ---------------------------------------------------------------------------------

  private interfaceById(vnic: string): GuestInterface | undefined {
    return this.interfaces.find((i) => i.vnic === vnic);
  }

  private isLocalAddress(ip: string): boolean {
    return this.interfaces.some((i) => i.ipv4.address === ip || i.ipv6?.address === ip);
  }

  private drop(reason: GuestDropReason, count = 1): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + count);
  }

  private countMalformed(code: FrameErrorCode): void {
    this.malformed.set(code, (this.malformed.get(code) ?? 0) + 1);
  }
}

/** The app of a connection whose app is attached right after it is built. */
const NO_APP: TcpAppHandlers = { onData: () => undefined, onPeerClosed: () => undefined, onStateChange: () => undefined };

/** The flow of an app bound to a socket (only flow senders bind besides the sink). */
function flowOf(handler: UdpHandler | EchoHandler): string {
  if (handler instanceof FlowSender) return handler.spec.id;
  throw new Error('A socket is bound by something other than a flow sender');
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Deep equality of plain data (what survives msgpack). */
function samePlain(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && samePlain((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function tupleKey(localIp: string, localPort: number, remoteIp: string, remotePort: number): string {
  return `${localIp}|${localPort}|${remoteIp}|${remotePort}`;
}

function sortedRecord(map: ReadonlyMap<string, number>): Record<string, number> {
  return Object.fromEntries([...map].sort(([a], [b]) => compareText(a, b)));
}

/** Reads what an ICMP error quotes: the IP header and the first 8 bytes of its payload. */
function parseQuoted(original: Uint8Array, family: 4 | 6): QuotedPacket | null {
  let l4: number;
  let protocol: number;
  let src: string;
  let dst: string;
  if (family === 4) {
    if (original.length < 20 || original[0]! >> 4 !== 4) return null;
    l4 = (original[0]! & 0x0f) * 4;
    protocol = original[9]!;
    src = formatIpv4(original, 12);
    dst = formatIpv4(original, 16);
  } else {
    if (original.length < 40 || original[0]! >> 4 !== 6) return null;
    l4 = 40;
    protocol = original[6]!;
    src = formatIpv6(original, 8);
    dst = formatIpv6(original, 24);
  }
  if (original.length < l4 + 8) return null;
  const u16 = (at: number): number => (original[l4 + at]! << 8) | original[l4 + at + 1]!;
  const icmp = protocol === IP_PROTOCOL_ICMP || protocol === IP_PROTOCOL_ICMPV6;
  return {
    protocol,
    src,
    dst,
    srcPort: icmp ? u16(4) : u16(0),
    dstPort: icmp ? u16(6) : u16(2),
    icmpType: icmp ? original[l4]! : -1,
  };
}
