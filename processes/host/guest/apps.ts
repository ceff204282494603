/**
 * Guest apps: the senders a `flow.start` launches (ping, UDP, TCP at a fixed message rate) and
 * the sinks every guest runs (a TCP listener on 5201, a UDP sink on 5202) that feed the flow
 * checker. Apps talk to the network only through {@link GuestSockets}, so they know nothing of
 * frames, neighbours or routes.
 */
import type { VTime } from '../../../shared/events.js';
import type { NodeContext } from '../../runtime/types.js';
import { decodeAppHeader, encodeAppMessage, AppMessageStream } from '../../../shared/net/app-message.js';
import type { FlowReport, ReceivedFlow, ReceiverFlows } from './checker.js';
import { RttStats, SequenceChecker, UNCOUNTED } from './checker.js';
import type { ResolvedFlowSpec } from './flow-spec.js';
import type { FlowStopReason, SenderState, TcpSinkState } from './state.js';

export type { FlowStopReason } from './state.js';
import type { TcpCloseReason, TcpConnection, TcpState } from './tcp.js';

/** Timer name of a sender's pacing tick; `{ flow, generation }` in its data. */
export const FLOW_TIMER = 'guest.flow';
/** Senders do not tick more often than this: at high rates one tick sends several messages. */
export const MIN_TICK_NS = 100_000;
/** How long a ping waits for its reply before the sent time is forgotten (replies after it still count as delivered, without an RTT sample). */
export const PING_RTT_MEMORY_NS = 30_000_000_000;

/** What a TCP app hears from its connection. */
export interface TcpAppHandlers {
  onData(ctx: NodeContext, bytes: Uint8Array): void;
  onPeerClosed(ctx: NodeContext): void;
  onStateChange(ctx: NodeContext, state: TcpState, reason: TcpCloseReason | null): void;
}

/** ICMP error (destination unreachable) delivered to the socket whose packet caused it. */
export interface IcmpErrorNotice {
  readonly family: 4 | 6;
  readonly code: number;
  /** The router or firewall that answered. */
  readonly from: string;
}

/** A UDP socket's receive side. */
export interface UdpHandler {
  onDatagram(ctx: NodeContext, datagram: { readonly srcIp: string; readonly srcPort: number; readonly dstIp: string; readonly dstPort: number; readonly payload: Uint8Array }): void;
  onIcmpError(ctx: NodeContext, notice: IcmpErrorNotice): void;
}

/** An ICMP echo identifier's owner (a ping app). */
export interface EchoHandler {
  onEchoReply(ctx: NodeContext, reply: { readonly from: string; readonly sequence: number; readonly data: Uint8Array }): void;
  onIcmpError(ctx: NodeContext, notice: IcmpErrorNotice): void;
}

/** The socket layer (and the timers) the apps use; the guest stack implements it. */
export interface GuestSockets {
  readonly vm: string;
  /** Binds an ephemeral (random) UDP port. */
  openUdp(ctx: NodeContext, handler: UdpHandler): number;
  closeUdp(port: number): void;
  /** Sends a datagram; false when there is no route to `dstIp`. */
  sendUdp(ctx: NodeContext, srcPort: number, dstIp: string, dstPort: number, payload: Uint8Array): boolean;
  /** Takes a random free ICMP echo identifier. */
  openEcho(ctx: NodeContext, handler: EchoHandler): number;
  closeEcho(identifier: number): void;
  sendEcho(ctx: NodeContext, dstIp: string, identifier: number, sequence: number, data: Uint8Array): boolean;
  /** Opens a TCP connection from an ephemeral port; null when there is no route. */
  connectTcp(ctx: NodeContext, dstIp: string, dstPort: number, flow: string, handlers: TcpAppHandlers): TcpConnection | null;
  /** Arms a `guest.*` timer with `payload` in its data (the stack adds the VM); returns its id. */
  setTimer(ctx: NodeContext, delayNs: VTime, name: string, payload: Readonly<Record<string, unknown>>): number;
  /** Cancels a timer `setTimer` armed. */
  cancelTimer(ctx: NodeContext, id: number): void;
}


/** A running (or finished) flow at its sender. */
export abstract class FlowSender {
  sent = 0;
  stopped = false;
  stopReason: FlowStopReason | null = null;
  unreachable = 0;
  private startedAt: VTime = 0;
  private timer: number | null = null;
  private generation = 0;
  private blocked = false;

  constructor(
    readonly spec: ResolvedFlowSpec,
    protected readonly sockets: GuestSockets,
  ) {}

  /** Starts the flow: opens what it needs and sends its first message at once. */
  start(ctx: NodeContext): void {
    this.startedAt = ctx.now();
    ctx.emit('flow.start', {
      flow: this.spec.id,
      kind: this.spec.kind,
      vm: this.sockets.vm,
      from: this.spec.from,
      to: this.spec.to,
      port: this.spec.port,
      ratePps: this.spec.ratePps,
      payloadBytes: this.spec.payloadBytes,
      count: this.spec.count,
    });
    if (!this.open(ctx)) {
      this.finish(ctx, 'no-route');
      return;
    }
    this.pump(ctx);
  }

  /** Stops sending (a scenario's `flow.stop`); a TCP flow closes its connection with FIN. */
  stop(ctx: NodeContext, reason: FlowStopReason = 'stopped'): void {
    this.finish(ctx, reason);
  }

  /** The pacing timer fired. */
  onTick(ctx: NodeContext, generation: unknown): void {
    if (generation !== this.generation) return;
    this.timer = null;
    this.pump(ctx);
  }

  /** The sender-side report. */
  abstract report(final: boolean): FlowReport;

  /** The app's whole state as plain data, times as ages before `now` (for moving its VM). */
  abstract exportState(now: VTime): SenderState;

  /** Opens sockets; false when the destination cannot be reached at all. */
  protected abstract open(ctx: NodeContext): boolean;
  /** Sends message number `this.sent`; false when the socket cannot take it now. */
  protected abstract sendNext(ctx: NodeContext): boolean;
  /** Releases what `open` took. */
  protected abstract close(ctx: NodeContext): void;

  /** Sends every message due by now, then sleeps until the next one is. */
  protected pump(ctx: NodeContext): void {
    if (this.stopped) return;
    const intervalNs = 1e9 / this.spec.ratePps;
    const limit = this.spec.count ?? Infinity;
    const due = Math.min(limit, Math.floor((ctx.now() - this.startedAt) / intervalNs + 1e-9) + 1);
    this.blocked = false;
    while (this.sent < due && !this.stopped) {
      if (!this.sendNext(ctx)) {
        this.blocked = true;
        break;
      }
      this.sent++;
    }
    if (this.stopped) return;
    if (this.sent >= limit) {
      this.finish(ctx, 'count');
      return;
    }
    const nextDue = this.startedAt + Math.ceil(this.sent * intervalNs);
    const delay = this.blocked ? Math.max(MIN_TICK_NS, Math.round(intervalNs)) : Math.max(MIN_TICK_NS, nextDue - ctx.now());
    this.generation++;
    this.timer = this.sockets.setTimer(ctx, Math.round(delay), FLOW_TIMER, { flow: this.spec.id, generation: this.generation });
  }

  protected finish(ctx: NodeContext, reason: FlowStopReason): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopReason = reason;
    if (this.timer !== null) this.sockets.cancelTimer(ctx, this.timer);
    this.timer = null;
    this.generation++;
    this.close(ctx);
    ctx.emit('flow.stop', { flow: this.spec.id, kind: this.spec.kind, vm: this.sockets.vm, reason, sent: this.sent });
  }

  /** The state every sender has. */
  protected baseState(now: VTime): Omit<SenderState, 'kind'> {
    return {
      spec: { ...this.spec },
      sent: this.sent,
      stopped: this.stopped,
      stopReason: this.stopReason,
      unreachable: this.unreachable,
      startedAgoNs: now - this.startedAt,
      timer: this.timer,
      generation: this.generation,
      blocked: this.blocked,
    };
  }

  /** Takes over the state every sender has. */
  protected importBase(state: SenderState, now: VTime): void {
    this.sent = state.sent;
    this.stopped = state.stopped;
    this.stopReason = state.stopReason;
    this.unreachable = state.unreachable;
    this.startedAt = now - state.startedAgoNs;
    this.timer = state.timer;
    this.generation = state.generation;
    this.blocked = state.blocked;
  }

  /** The fields every sender report shares. */
  protected baseReport(final: boolean): FlowReport {
    return {
      flow: this.spec.id,
      kind: this.spec.kind,
      side: 'sender',
      vm: this.sockets.vm,
      from: this.spec.from,
      to: this.spec.to,
      port: this.spec.port,
      ...UNCOUNTED,
      sent: this.sent,
      unreachable: this.unreachable,
      final,
    };
  }
}

/**
 * Ping: ICMP (or ICMPv6) echo requests carrying the app header; replies are checked at the sender
 * (delivered, duplicated, reordered) and timed.
 */
export class PingSender extends FlowSender implements EchoHandler {
  private identifier = -1;
  private replies = new SequenceChecker();
  private rtt = new RttStats();
  private readonly sentAt = new Map<number, VTime>();

  exportState(now: VTime): SenderState {
    return {
      kind: 'ping',
      ...this.baseState(now),
      identifier: this.identifier,
      replies: this.replies.exportState(),
      rtt: this.rtt.exportState(),
      sentAt: [...this.sentAt].sort(([a], [b]) => a - b).map(([seq, at]) => ({ seq, agoNs: now - at })),
    };
  }

  /** A ping app that carries on from an exported (and validated) state. */
  static restore(spec: ResolvedFlowSpec, sockets: GuestSockets, state: SenderState & { kind: 'ping' }, now: VTime): PingSender {
    const sender = new PingSender(spec, sockets);
    sender.importBase(state, now);
    sender.identifier = state.identifier;
    sender.replies = SequenceChecker.restore(state.replies);
    sender.rtt = RttStats.restore(state.rtt);
    for (const { seq, agoNs } of state.sentAt) sender.sentAt.set(seq, now - agoNs);
    return sender;
  }

  protected open(ctx: NodeContext): boolean {
    this.identifier = this.sockets.openEcho(ctx, this);
    return true;
  }

  protected sendNext(ctx: NodeContext): boolean {
    const seq = this.sent;
    this.sentAt.set(seq, ctx.now());
    // Forget send times nobody will answer any more, so a long run against a dead peer stays small.
    if (seq % 1024 === 0) {
      for (const [old, at] of this.sentAt) if (ctx.now() - at > PING_RTT_MEMORY_NS) this.sentAt.delete(old);
    }
    this.sockets.sendEcho(ctx, this.spec.to, this.identifier, seq & 0xffff, encodeAppMessage(this.spec.id, seq, this.spec.payloadBytes));
    return true;
  }

  protected close(): void {
    // The identifier stays bound: late replies still count.
  }

  onEchoReply(ctx: NodeContext, reply: { readonly sequence: number; readonly data: Uint8Array }): void {
    const header = decodeAppHeader(reply.data);
    if (header === null || header.flow !== this.spec.id || (header.seq & 0xffff) !== reply.sequence) return;
    if (this.replies.record(header.seq) === 'new') {
      const at = this.sentAt.get(header.seq);
      if (at !== undefined) this.rtt.add(ctx.now() - at);
      this.sentAt.delete(header.seq);
    }
  }

  onIcmpError(): void {
    this.unreachable++;
  }

  report(final: boolean): FlowReport {
    const r = this.replies;
    return {
      ...this.baseReport(final),
      delivered: r.delivered,
      lost: Math.max(0, this.sent - r.delivered),
      duplicated: r.duplicated,
      reordered: r.reordered,
      highestSeq: r.highest,
      rttNs: this.rtt.summary(),
    };
  }
}

/** UDP: one datagram per message from an ephemeral port to the destination's sink. */
export class UdpSender extends FlowSender implements UdpHandler {
  private port = -1;

  exportState(now: VTime): SenderState {
    return { kind: 'udp', ...this.baseState(now), port: this.port };
  }

  /** A UDP app that carries on from an exported (and validated) state. */
  static restore(spec: ResolvedFlowSpec, sockets: GuestSockets, state: SenderState & { kind: 'udp' }, now: VTime): UdpSender {
    const sender = new UdpSender(spec, sockets);
    sender.importBase(state, now);
    sender.port = state.port;
    return sender;
  }

  protected open(ctx: NodeContext): boolean {
    this.port = this.sockets.openUdp(ctx, this);
    return true;
  }

  protected sendNext(ctx: NodeContext): boolean {
    this.sockets.sendUdp(ctx, this.port, this.spec.to, this.spec.port!, encodeAppMessage(this.spec.id, this.sent, this.spec.payloadBytes));
    return true;
  }

  protected close(): void {
    // The port stays bound until the end of the run: late ICMP errors still count.
  }

  onDatagram(): void {
    // The sink does not answer; anything arriving here is not part of the flow.
  }

  onIcmpError(): void {
    this.unreachable++;
  }

  report(final: boolean): FlowReport {
    return this.baseReport(final);
  }
}

/**
 * TCP: one connection; app messages are written at the rate. A write that does not fit the send
 * buffer waits (as a blocking socket would) and the app catches up when there is room again.
 * `flow.stop` closes with FIN after everything written; a reset or timeout ends the flow.
 */
export class TcpSender extends FlowSender implements TcpAppHandlers {
  private connection: TcpConnection | null = null;

  exportState(now: VTime): SenderState {
    return { kind: 'tcp', ...this.baseState(now), connection: this.connection?.id ?? null };
  }

  /** A TCP app that carries on from an exported (and validated) state, on its restored connection. */
  static restore(spec: ResolvedFlowSpec, sockets: GuestSockets, state: SenderState & { kind: 'tcp' }, connection: TcpConnection | null, now: VTime): TcpSender {
    const sender = new TcpSender(spec, sockets);
    sender.importBase(state, now);
    sender.connection = connection;
    return sender;
  }

  protected open(ctx: NodeContext): boolean {
    this.connection = this.sockets.connectTcp(ctx, this.spec.to, this.spec.port!, this.spec.id, this);
    return this.connection !== null;
  }

  protected sendNext(ctx: NodeContext): boolean {
    const c = this.connection;
    if (!c) return false;
    if (c.writable() < this.spec.payloadBytes) return false;
    return c.write(ctx, encodeAppMessage(this.spec.id, this.sent, this.spec.payloadBytes));
  }

  protected close(ctx: NodeContext): void {
    this.connection?.close(ctx);
  }

  onData(): void {
    // The sink sends nothing back.
  }

  onPeerClosed(ctx: NodeContext): void {
    // The sink never closes first; if it does, the flow cannot send any more.
    this.finish(ctx, 'peer-closed');
  }

  onIcmpError(): void {
    this.unreachable++;
  }

  onStateChange(ctx: NodeContext, state: TcpState, reason: TcpCloseReason | null): void {
    if (state === 'CLOSED') this.finish(ctx, reason ?? 'closed');
  }

  report(final: boolean): FlowReport {
    const c = this.connection;
    return {
      ...this.baseReport(final),
      retransmits: c?.counters.retransmits ?? 0,
      tcpState: c?.state ?? 'CLOSED',
      closeReason: c?.closeReason ?? null,
    };
  }
}

/** Builds the sender app for a flow kind. */
export function createSender(spec: ResolvedFlowSpec, sockets: GuestSockets): FlowSender {
  switch (spec.kind) {
    case 'ping':
      return new PingSender(spec, sockets);
    case 'udp':
      return new UdpSender(spec, sockets);
    case 'tcp':
      return new TcpSender(spec, sockets);
  }
}

/** The UDP sink every guest runs: each datagram's header is checked into the receiver table. */
export class UdpSink implements UdpHandler {
  /** Datagrams that were not app messages. */
  malformed = 0;

  constructor(
    private readonly flows: ReceiverFlows,
    readonly port: number,
  ) {}

  onDatagram(_ctx: NodeContext, d: { readonly srcIp: string; readonly dstIp: string; readonly payload: Uint8Array }): void {
    const header = decodeAppHeader(d.payload);
    if (header === null) {
      this.malformed++;
      return;
    }
    this.flows.flowFor(header.flow, 'udp', d.srcIp, d.dstIp, this.port).checker.record(header.seq);
  }

  onIcmpError(): void {}
}

/**
 * The receiving end of one TCP connection accepted by the sink listener: splits the byte stream
 * into app messages and checks them; closes its side when the peer closes.
 */
export class TcpSinkSession implements TcpAppHandlers {
  private stream = new AppMessageStream();
  private flow: ReceivedFlow | null = null;
  private connection: TcpConnection | null = null;
  private reportedBroken = false;

  constructor(
    private readonly flows: ReceiverFlows,
    private readonly remoteIp: string,
    private readonly localIp: string,
    private readonly port: number,
    /** Tells the stack the flow id of the connection once the first header names it. */
    private readonly onFlowKnown: (flow: string) => void,
  ) {}

  /** The session's state as plain data (its connection is exported by the stack). */
  exportState(): TcpSinkState {
    return { stream: this.stream.exportState(), flow: this.flow?.flow ?? null, reportedBroken: this.reportedBroken };
  }

  /** Takes over an exported (and validated) state; its received flow must already be in the table. */
  importState(state: TcpSinkState): void {
    this.stream = AppMessageStream.restore(state.stream);
    this.flow = state.flow === null ? null : (this.flows.get(state.flow) ?? null);
    this.reportedBroken = state.reportedBroken;
  }

  /** Binds the session to its connection (after the listener created it). */
  attach(connection: TcpConnection): void {
    this.connection = connection;
  }

  onData(_ctx: NodeContext, bytes: Uint8Array): void {
    for (const header of this.stream.push(bytes)) {
      if (this.flow === null) {
        this.flow = this.flows.flowFor(header.flow, 'tcp', this.remoteIp, this.localIp, this.port);
        this.onFlowKnown(header.flow);
      }
      this.flow.checker.record(header.seq);
    }
    if (this.stream.broken && !this.reportedBroken && this.flow !== null) {
      this.reportedBroken = true;
      this.flow.malformed++;
    }
    this.sync();
  }

  onPeerClosed(ctx: NodeContext): void {
    this.connection?.close(ctx);
  }

  onStateChange(): void {
    this.sync();
  }

  /** Copies the connection's state into the receiver flow, for reports. */
  sync(): void {
    if (this.flow === null || this.connection === null) return;
    this.flow.tcpState = this.connection.state;
    this.flow.closeReason = this.connection.closeReason;
    this.flow.retransmits = this.connection.counters.retransmits;
  }
}
