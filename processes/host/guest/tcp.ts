/**
 * TCP connections (RFC 9293) for guest apps: the three-way handshake, 32-bit sequence arithmetic,
 * the MSS option, a congestion window with slow start, retransmission on timeout with a doubling
 * RTO (Karn's rule for RTT samples), fast retransmit on three duplicate ACKs with NewReno-style
 * partial-ACK recovery, in-order delivery from an out-of-order queue, both FIN handshakes,
 * TIME_WAIT and RST. It runs over a fabric that drops frames (links going down, firewall drops,
 * DPU failover), so every path that can lose a segment recovers by retransmission.
 *
 * A connection knows nothing of IP or Ethernet: the owner gives it a `transmit` for segments
 * and a timer service, and gets data, state changes and closure back through hooks.
 */
import type { VTime } from '../../../shared/events.js';
import type { TcpFlags, TcpOption } from '../../../shared/net/tcp.js';
import type { NodeContext } from '../../runtime/types.js';
import type { TcpCloseReason, TcpConnectionState, TcpState } from './state.js';

export type { TcpCloseReason, TcpState } from './state.js';


/** Tunables of the guest TCP. */
export interface TcpSettings {
  /** The MSS this end announces and the largest segment it sends. */
  readonly mss: number;
  /** RTO before any RTT sample. */
  readonly initialRtoNs: VTime;
  /** The RTO never goes below this (Linux: 200 ms). */
  readonly minRtoNs: VTime;
  /** Backoff stops doubling here. */
  readonly maxRtoNs: VTime;
  /** Consecutive timeouts of data or FIN before the connection is reset. */
  readonly maxRetries: number;
  /** Consecutive timeouts of a SYN or SYN-ACK before giving up. */
  readonly synRetries: number;
  readonly initialCwndSegments: number;
  readonly maxCwndSegments: number;
  /** The window this end advertises (no window scaling). */
  readonly receiveWindow: number;
  /** Bytes an app may have written but not yet had acknowledged. */
  readonly sendBufferBytes: number;
  /** How long TIME_WAIT lasts (shortened from 2 MSL: virtual runs are seconds long). */
  readonly timeWaitNs: VTime;
}

/** Defaults: MSS 1400 (fits any overlay MTU), RTO from 200 ms doubling to 60 s, 8 retries. */
export const DEFAULT_TCP_SETTINGS: TcpSettings = {
  mss: 1400,
  initialRtoNs: 200_000_000,
  minRtoNs: 200_000_000,
  maxRtoNs: 60_000_000_000,
  maxRetries: 8,
  synRetries: 6,
  initialCwndSegments: 10,
  maxCwndSegments: 64,
  receiveWindow: 65535,
  sendBufferBytes: 256 * 1024,
  timeWaitNs: 1_000_000_000,
};

/** The MSS assumed when the peer's SYN carries no MSS option (RFC 9293: 536 for IPv4). */
const DEFAULT_PEER_MSS = 536;

/** A segment this connection sends; the owner adds ports and addresses. */
export interface TcpOutSegment {
  readonly seq: number;
  readonly ack: number;
  readonly flags: Partial<TcpFlags>;
  readonly window: number;
  readonly options: readonly TcpOption[];
  readonly payload: Uint8Array;
}

/** A received segment, as the frame decoder gives it. */
export interface TcpInSegment {
  readonly seq: number;
  readonly ack: number;
  readonly flags: TcpFlags;
  readonly window: number;
  readonly options: readonly TcpOption[];
  readonly payload: Uint8Array;
}

/** Which timer of a connection fired. */
export type TcpTimerKind = 'rto' | 'time-wait';

/** What a connection needs from its owner and tells it. */
export interface TcpHooks {
  transmit(ctx: NodeContext, segment: TcpOutSegment): void;
  /** Arms a timer that calls `onTimer(ctx, kind, token)` back; returns its id. */
  setTimer(ctx: NodeContext, delayNs: VTime, kind: TcpTimerKind, token: number): number;
  /** Cancels a timer `setTimer` armed. */
  cancelTimer(ctx: NodeContext, id: number): void;
  onStateChange(ctx: NodeContext, from: TcpState, to: TcpState, reason: TcpCloseReason | null): void;
  /** In-order bytes for the app. */
  onData(ctx: NodeContext, bytes: Uint8Array): void;
  /** The peer sent FIN: no more data will come. */
  onPeerClosed(ctx: NodeContext): void;
}

/** Counters of one connection. */
export interface TcpCounters {
  segmentsSent: number;
  segmentsReceived: number;
  /** Segments sent again: timeouts, fast retransmits, SYN/SYN-ACK/FIN resends. */
  retransmits: number;
  timeouts: number;
  fastRetransmits: number;
  duplicateAcks: number;
  bytesAcked: number;
  bytesDelivered: number;
  /** Received segments that were wholly old (already delivered). */
  duplicateSegments: number;
  outOfOrderSegments: number;
}

/** A plain-data view of a connection, for inspectors. */
export interface TcpConnectionView {
  readonly id: number;
  readonly state: TcpState;
  readonly closeReason: TcpCloseReason | null;
  readonly iss: number;
  readonly irs: number;
  readonly sndUna: number;
  readonly sndNxt: number;
  readonly sndMax: number;
  readonly sndWnd: number;
  readonly rcvNxt: number;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly rtoNs: VTime;
  readonly srttNs: VTime | null;
  readonly mss: number;
  readonly sendQueued: number;
  readonly outOfOrderQueued: number;
  readonly counters: TcpCounters;
}

// 32-bit sequence arithmetic (RFC 9293 section 3.4): comparisons are modulo 2^32.
/** a - b as a signed 32-bit distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
/** a + n modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a before b. */
export function seqLt(a: number, b: number): boolean {
  return seqDiff(a, b) < 0;
}
/** a before or at b. */
export function seqLe(a: number, b: number): boolean {
  return seqDiff(a, b) <= 0;
}

/**
 * Bytes an app wrote, from the oldest unacknowledged one on, in a ring: writing copies the bytes
 * in at the tail, an acknowledgement moves the head, and reading any stretch is at most two
 * copies, however many writes it spans. The ring doubles when a write does not fit.
 */
class SendQueue {
  private ring = new Uint8Array(4096);
  /** Index in `ring` of the oldest byte. */
  private head = 0;
  length = 0;

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.length + bytes.length > this.ring.length) this.grow(this.length + bytes.length);
    const tail = (this.head + this.length) % this.ring.length;
    const first = Math.min(bytes.length, this.ring.length - tail);
    this.ring.set(bytes.subarray(0, first), tail);
    if (first < bytes.length) this.ring.set(bytes.subarray(first), 0);
    this.length += bytes.length;
  }

  /** A copy of `count` bytes from `offset`. */
  read(offset: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    const start = (this.head + offset) % this.ring.length;
    const first = Math.min(count, this.ring.length - start);
    out.set(this.ring.subarray(start, start + first), 0);
    if (first < count) out.set(this.ring.subarray(0, count - first), first);
    return out;
  }

  /** Replaces the whole queue with a copy of `bytes` (a restored connection). */
  replace(bytes: Uint8Array): void {
    this.head = 0;
    this.length = 0;
    this.push(bytes);
  }

  /** Drops the first `count` bytes (they were acknowledged). */
  consume(count: number): void {
    this.length -= count;
    this.head = this.length === 0 ? 0 : (this.head + count) % this.ring.length;
  }

  /** Moves the queued bytes to the start of a ring of at least `needed` bytes. */
  private grow(needed: number): void {
    let size = this.ring.length * 2;
    while (size < needed) size *= 2;
    const ring = new Uint8Array(size);
    ring.set(this.read(0, this.length));
    this.ring = ring;
    this.head = 0;
  }
}

interface OutOfOrder {
  readonly seq: number;
  readonly payload: Uint8Array;
  readonly fin: boolean;
}

const SENDING_STATES: ReadonlySet<TcpState> = new Set(['ESTABLISHED', 'CLOSE_WAIT', 'FIN_WAIT_1', 'CLOSING', 'LAST_ACK']);
const RECEIVING_STATES: ReadonlySet<TcpState> = new Set(['ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2']);

/**
 * One TCP connection. Create it, then `connect` (active open) or `accept` (passive open from a
 * listener's SYN); feed it received segments with `receive` and its timers with `onTimer`.
 */
export class TcpConnection {
  state: TcpState = 'CLOSED';
  closeReason: TcpCloseReason | null = null;
  readonly counters: TcpCounters = {
    segmentsSent: 0,
    segmentsReceived: 0,
    retransmits: 0,
    timeouts: 0,
    fastRetransmits: 0,
    duplicateAcks: 0,
    bytesAcked: 0,
    bytesDelivered: 0,
    duplicateSegments: 0,
    outOfOrderSegments: 0,
  };

  private iss = 0;
  private irs = 0;
  private sndUna = 0;
  private sndNxt = 0;
  /** Highest sequence number sent so far: sndNxt goes back on a timeout, this does not. */
  private sndMax = 0;
  private sndWnd = 0;
  private rcvNxt = 0;
  /** Sequence number of the first byte in `sendQueue`. */
  private dataStart = 0;
  private readonly sendQueue = new SendQueue();
  private finQueued = false;
  /** The app closed during SYN_SENT with data written: FIN follows once connected. */
  private closeAfterConnect = false;
  private readonly outOfOrder = new Map<number, OutOfOrder>();
  private outOfOrderBytes = 0;
  private peerFinReceived = false;

  private mss: number;
  private cwnd: number;
  private ssthresh = 0x7fffffff;
  private inRecovery = false;
  private recoverSeq = 0;
  private dupAcks = 0;

  private rtoNs: VTime;
  private srttNs: VTime | null = null;
  private rttVarNs: VTime = 0;
  private retries = 0;
  /** The one segment being timed: its end sequence and send time (Karn: never a retransmission). */
  private timing: { readonly endSeq: number; readonly sentAt: VTime } | null = null;
  private rtoTimer: number | null = null;
  private timeWaitTimer: number | null = null;
  private timerToken = 0;
  /** Set while processing a segment that calls for an ACK; any segment sent clears it. */
  private ackPending = false;

  constructor(
    /** The owner's id for this connection (its timers carry it). */
    readonly id: number,
    private readonly settings: TcpSettings,
    private readonly hooks: TcpHooks,
  ) {
    this.mss = settings.mss;
    this.cwnd = settings.initialCwndSegments * settings.mss;
    this.rtoNs = settings.initialRtoNs;
  }

  /** Active open: sends SYN with initial sequence number `iss`. */
  connect(ctx: NodeContext, iss: number): void {
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.dataStart = seqAdd(this.iss, 1);
    this.setState(ctx, 'SYN_SENT', null);
    this.sendSyn(ctx);
  }

  /** Passive open: a listener got `syn`; answers SYN-ACK with initial sequence number `iss`. */
  accept(ctx: NodeContext, syn: TcpInSegment, iss: number): void {
    this.iss = iss >>> 0;
    this.sndUna = this.iss;
    this.sndNxt = this.iss;
    this.sndMax = this.iss;
    this.dataStart = seqAdd(this.iss, 1);
    this.irs = syn.seq >>> 0;
    this.rcvNxt = seqAdd(this.irs, 1);
    this.sndWnd = syn.window;
    this.mss = Math.min(this.settings.mss, peerMss(syn.options));
    this.cwnd = this.settings.initialCwndSegments * this.mss;
    this.counters.segmentsReceived++;
    // The connection is born from the listening socket, so its history starts at LISTEN.
    this.state = 'LISTEN';
    this.setState(ctx, 'SYN_RECEIVED', null);
    this.sendSyn(ctx);
  }

  /** Room left in the send buffer. */
  writable(): number {
    const open = this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED' || this.state === 'ESTABLISHED' || this.state === 'CLOSE_WAIT';
    if (!open || this.finQueued || this.closeAfterConnect) return 0;
    return Math.max(0, this.settings.sendBufferBytes - this.sendQueue.length);
  }

  /** Queues app bytes for sending; returns false (nothing queued) when they do not fit or the connection cannot send. */
  write(ctx: NodeContext, bytes: Uint8Array): boolean {
    if (bytes.length > this.writable()) return false;
    this.sendQueue.push(bytes);
    this.output(ctx);
    return true;
  }

  /** The app closes: FIN after everything written (graceful). */
  close(ctx: NodeContext): void {
    switch (this.state) {
      case 'SYN_SENT':
        if (this.sendQueue.length > 0) {
          // Unlike a plain close() on a connecting socket, written data is not thrown away.
          this.closeAfterConnect = true;
          return;
        }
        this.stopTimers(ctx);
        this.setState(ctx, 'CLOSED', 'closed');
        return;
      case 'LISTEN':
        this.stopTimers(ctx);
        this.setState(ctx, 'CLOSED', 'closed');
        return;
      case 'SYN_RECEIVED':
      case 'ESTABLISHED':
        this.finQueued = true;
        this.setState(ctx, 'FIN_WAIT_1', null);
        break;
      case 'CLOSE_WAIT':
        this.finQueued = true;
        this.setState(ctx, 'LAST_ACK', null);
        break;
      default:
        return;
    }
    this.output(ctx);
  }

  /** Tears the connection down at once with RST (an app abort). */
  abort(ctx: NodeContext, reason: TcpCloseReason = 'aborted'): void {
    if (this.state === 'CLOSED') return;
    if (this.state !== 'SYN_SENT' && this.state !== 'LISTEN' && this.state !== 'TIME_WAIT') {
      this.send(ctx, { seq: this.sndMax, ack: this.rcvNxt, flags: { rst: true, ack: true }, payload: EMPTY });
    }
    this.stopTimers(ctx);
    this.setState(ctx, 'CLOSED', reason);
  }

  /** Processes a received segment (RFC 9293 section 3.10.7). */
  receive(ctx: NodeContext, seg: TcpInSegment): void {
    if (this.state === 'CLOSED') return;
    this.counters.segmentsReceived++;
    this.ackPending = false;
    if (this.state === 'SYN_SENT') this.receiveInSynSent(ctx, seg);
    else this.receiveSynchronized(ctx, seg);
    // The handlers above may have closed the connection (TypeScript cannot see that state moved).
    if (this.ackPending && (this.state as TcpState) !== 'CLOSED') this.sendAck(ctx);
  }

  /** A timer of this connection fired. */
  onTimer(ctx: NodeContext, kind: TcpTimerKind, token: number): void {
    if (kind === 'time-wait') {
      if (this.state === 'TIME_WAIT' && this.timeWaitTimer !== null) {
        this.timeWaitTimer = null;
        this.setState(ctx, 'CLOSED', 'closed');
      }
      return;
    }
    if (token !== this.timerToken || this.rtoTimer === null) return;
    this.rtoTimer = null;
    this.onRetransmitTimeout(ctx);
  }

  /** Where the connection stands in both sequence spaces (RFC 9293's ISS, IRS, SND.* and RCV.NXT). */
  private sequenceSpace(): Pick<TcpConnectionView, 'iss' | 'irs' | 'sndUna' | 'sndNxt' | 'sndMax' | 'sndWnd' | 'rcvNxt'> {
    return { iss: this.iss, irs: this.irs, sndUna: this.sndUna, sndNxt: this.sndNxt, sndMax: this.sndMax, sndWnd: this.sndWnd, rcvNxt: this.rcvNxt };
  }

  /** A plain-data view for inspectors. */
  view(): TcpConnectionView {
    return {
      id: this.id,
      state: this.state,
      closeReason: this.closeReason,
      ...this.sequenceSpace(),
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      rtoNs: this.rtoNs,
      srttNs: this.srttNs,
      mss: this.mss,
      sendQueued: this.sendQueue.length,
      outOfOrderQueued: this.outOfOrder.size,
      counters: { ...this.counters },
    };
  }

  /**
   * Everything the connection knows, as plain data, for moving it with its VM. Times are ages
   * before `now`; timers are the owner's ids (the owner exports the timers themselves).
   */
  exportState(now: VTime): TcpConnectionState {
    const outOfOrder = [...this.outOfOrder.values()].sort((a, b) => seqDiff(a.seq, this.rcvNxt) - seqDiff(b.seq, this.rcvNxt));
    return {
      state: this.state,
      closeReason: this.closeReason,
      counters: { ...this.counters },
      ...this.sequenceSpace(),
      dataStart: this.dataStart,
      sendQueue: this.sendQueue.read(0, this.sendQueue.length),
      finQueued: this.finQueued,
      closeAfterConnect: this.closeAfterConnect,
      outOfOrder: outOfOrder.map((piece) => ({ seq: piece.seq, payload: piece.payload.slice(), fin: piece.fin })),
      peerFinReceived: this.peerFinReceived,
      mss: this.mss,
      cwnd: this.cwnd,
      ssthresh: this.ssthresh,
      inRecovery: this.inRecovery,
      recoverSeq: this.recoverSeq,
      dupAcks: this.dupAcks,
      rtoNs: this.rtoNs,
      srttNs: this.srttNs,
      rttVarNs: this.rttVarNs,
      retries: this.retries,
      timing: this.timing === null ? null : { endSeq: this.timing.endSeq, sentAgoNs: now - this.timing.sentAt },
      rtoTimer: this.rtoTimer,
      timeWaitTimer: this.timeWaitTimer,
      timerToken: this.timerToken,
      ackPending: this.ackPending,
    };
  }

  /**
   * Takes over a state `exportState` gave (already validated), on a connection just built and
   * never opened. Nothing is sent and no hook is called: the connection carries on from there.
   */
  importState(state: TcpConnectionState, now: VTime): void {
    this.state = state.state;
    this.closeReason = state.closeReason;
    Object.assign(this.counters, state.counters);
    this.iss = state.iss;
    this.irs = state.irs;
    this.sndUna = state.sndUna;
    this.sndNxt = state.sndNxt;
    this.sndMax = state.sndMax;
    this.sndWnd = state.sndWnd;
    this.rcvNxt = state.rcvNxt;
    this.dataStart = state.dataStart;
    this.sendQueue.replace(state.sendQueue);
    this.finQueued = state.finQueued;
    this.closeAfterConnect = state.closeAfterConnect;
    this.outOfOrder.clear();
    this.outOfOrderBytes = 0;
    for (const piece of state.outOfOrder) {
      this.outOfOrder.set(piece.seq, { seq: piece.seq, payload: new Uint8Array(piece.payload), fin: piece.fin });
      this.outOfOrderBytes += piece.payload.length;
    }
    this.peerFinReceived = state.peerFinReceived;
    this.mss = state.mss;
    this.cwnd = state.cwnd;
    this.ssthresh = state.ssthresh;
    this.inRecovery = state.inRecovery;
    this.recoverSeq = state.recoverSeq;
    this.dupAcks = state.dupAcks;
    this.rtoNs = state.rtoNs;
    this.srttNs = state.srttNs;
    this.rttVarNs = state.rttVarNs;
    this.retries = state.retries;
    this.timing = state.timing === null ? null : { endSeq: state.timing.endSeq, sentAt: now - state.timing.sentAgoNs };
    this.rtoTimer = state.rtoTimer;
    this.timeWaitTimer = state.timeWaitTimer;
    this.timerToken = state.timerToken;
    this.ackPending = state.ackPending;
  }

  // --- receiving -------------------------------------------------------------------------------

  private receiveInSynSent(ctx: NodeContext, seg: TcpInSegment): void {
    const f = seg.flags;
    if (f.ack && (seqLe(seg.ack, this.iss) || seqLt(this.sndMax, seg.ack))) {
      if (!f.rst) this.send(ctx, { seq: seg.ack, ack: 0, flags: { rst: true }, payload: EMPTY });
      return;
    }
    if (f.rst) {
      if (f.ack) {
        this.stopTimers(ctx);
        this.setState(ctx, 'CLOSED', 'refused');
      }
      return;
    }
    if (!f.syn) return;
    this.irs = seg.seq >>> 0;
    this.rcvNxt = seqAdd(this.irs, 1);
    this.mss = Math.min(this.settings.mss, peerMss(seg.options));
    this.cwnd = this.settings.initialCwndSegments * this.mss;
    this.sndWnd = seg.window;
    if (!f.ack) {
      // Simultaneous open: both ends sent SYN. Answer SYN-ACK for our own SYN.
      this.setState(ctx, 'SYN_RECEIVED', null);
      this.sndNxt = this.iss;
      this.sendSyn(ctx);
      return;
    }
    this.sndUna = seg.ack;
    this.takeRttSample(ctx, seg.ack);
    this.retries = 0;
    this.cancelRto(ctx);
    this.setState(ctx, 'ESTABLISHED', null);
    this.ackPending = true;
    if (this.closeAfterConnect) {
      this.finQueued = true;
      this.setState(ctx, 'FIN_WAIT_1', null);
    }
    this.output(ctx);
  }

  private receiveSynchronized(ctx: NodeContext, seg: TcpInSegment): void {
    const f = seg.flags;
    const segLength = seg.payload.length + (f.syn ? 1 : 0) + (f.fin ? 1 : 0);

    // Our SYN-ACK was lost and the peer sent its SYN again (it is left of the window, so test first).
    if (this.state === 'SYN_RECEIVED' && f.syn && !f.ack && !f.rst && seg.seq === this.irs) {
      this.counters.retransmits++;
      this.sendSyn(ctx);
      return;
    }

    // 1. Sequence number acceptable?
    if (!this.acceptable(seg.seq, segLength)) {
      if (!f.rst) {
        if (segLength > 0) this.counters.duplicateSegments++;
        this.ackPending = true;
      }
      return;
    }

    // 2. RST: the peer (or a firewall in its name) tore the connection down.
    if (f.rst) {
      this.stopTimers(ctx);
      this.setState(ctx, 'CLOSED', this.state === 'SYN_RECEIVED' ? 'refused' : 'reset');
      return;
    }

    // 3. SYN in a synchronized state: answer with a challenge ACK (RFC 5961).
    if (f.syn) {
      this.ackPending = true;
      return;
    }

    // 4. ACK.
    if (!f.ack) return;
    if (this.state === 'SYN_RECEIVED') {
      if (seqLt(this.sndUna, seg.ack) && seqLe(seg.ack, this.sndMax)) {
        this.setState(ctx, 'ESTABLISHED', null);
      } else {
        this.send(ctx, { seq: seg.ack, ack: 0, flags: { rst: true }, payload: EMPTY });
        return;
      }
    }
    this.processAck(ctx, seg);
    if (this.state === 'CLOSED') return;

    // 5. Data and 6. FIN.
    if (segLength > 0) this.processData(ctx, seg);
    this.output(ctx);
  }

  private acceptable(seq: number, length: number): boolean {
    const window = this.settings.receiveWindow;
    const inWindow = (s: number): boolean => seqLe(this.rcvNxt, s) && seqLt(s, seqAdd(this.rcvNxt, window));
    if (length === 0) return window === 0 ? seq === this.rcvNxt : inWindow(seq);
    return inWindow(seq) || inWindow(seqAdd(seq, length - 1));
  }

  private processAck(ctx: NodeContext, seg: TcpInSegment): void {
    const ack = seg.ack >>> 0;
    if (seqLt(this.sndMax, ack)) {
      // Acknowledges something never sent.
      this.ackPending = true;
      return;
    }
    if (seqLt(this.sndUna, ack)) {
      this.onNewAck(ctx, ack);
      this.sndWnd = seg.window;
      return;
    }
    const outstanding = this.sndUna !== this.sndMax;
    const isDuplicate = ack === this.sndUna && seg.payload.length === 0 && !seg.flags.fin && outstanding && seg.window === this.sndWnd;
    this.sndWnd = seg.window;
    if (!isDuplicate) return;
    this.dupAcks++;
    this.counters.duplicateAcks++;
    if (this.dupAcks === 3 && !this.inRecovery) {
      this.counters.fastRetransmits++;
      this.ssthresh = Math.max(Math.floor(seqDiff(this.sndMax, this.sndUna) / 2), 2 * this.mss);
      this.cwnd = this.ssthresh;
      this.inRecovery = true;
      this.recoverSeq = this.sndMax;
      this.timing = null;
      this.retransmitAt(ctx, this.sndUna);
      this.armRto(ctx, true);
    }
  }

  private onNewAck(ctx: NodeContext, ack: number): void {
    const acked = seqDiff(ack, this.sndUna);
    // Bytes of app data covered (the SYN and FIN take sequence numbers but are not data).
    if (seqLt(this.dataStart, ack)) {
      const data = Math.min(seqDiff(ack, this.dataStart), this.sendQueue.length);
      this.sendQueue.consume(data);
      this.dataStart = seqAdd(this.dataStart, data);
      this.counters.bytesAcked += data;
    }
    this.sndUna = ack;
    if (seqLt(this.sndNxt, ack)) this.sndNxt = ack;
    this.takeRttSample(ctx, ack);
    // The peer is reachable again: forget the backoff (Karn keeps it only until the next sample,
    // which after a long outage could take one more backed-off timeout to come).
    this.retries = 0;
    this.rtoNs = this.baseRto();
    this.dupAcks = 0;

    if (this.inRecovery) {
      if (seqLe(this.recoverSeq, ack)) {
        this.inRecovery = false;
        this.cwnd = this.ssthresh;
      } else {
        // Partial ACK: the next hole is lost too; resend it without waiting for three more duplicates.
        this.retransmitAt(ctx, ack);
      }
    } else if (this.cwnd < this.ssthresh) {
      this.cwnd += Math.min(acked, this.mss);
    } else {
      this.cwnd += Math.max(1, Math.floor((this.mss * this.mss) / this.cwnd));
    }
    this.cwnd = Math.min(this.cwnd, this.settings.maxCwndSegments * this.mss);

    const finAcked = this.finQueued && this.sendQueue.length === 0 && ack === seqAdd(this.dataStart, 1);
    if (this.sndUna === this.sndMax) this.cancelRto(ctx);
    else this.armRto(ctx, true);

    if (finAcked) {
      if (this.state === 'FIN_WAIT_1') this.setState(ctx, 'FIN_WAIT_2', null);
      else if (this.state === 'CLOSING') this.enterTimeWait(ctx);
      else if (this.state === 'LAST_ACK') {
        this.stopTimers(ctx);
        this.setState(ctx, 'CLOSED', 'closed');
      }
    }
  }

  private processData(ctx: NodeContext, seg: TcpInSegment): void {
    if (!RECEIVING_STATES.has(this.state)) {
      // The peer already closed its side: anything new is a retransmission. Acknowledge it.
      this.ackPending = true;
      return;
    }
    let seq = seg.seq >>> 0;
    let payload = seg.payload;
    const fin = seg.flags.fin;
    if (seqLt(seq, this.rcvNxt)) {
      const skip = seqDiff(this.rcvNxt, seq);
      payload = payload.subarray(Math.min(skip, payload.length));
      seq = this.rcvNxt;
    }
    this.ackPending = true;
    if (seq !== this.rcvNxt) {
      this.counters.outOfOrderSegments++;
      const existing = this.outOfOrder.get(seq);
      if (!existing || existing.payload.length < payload.length || (fin && !existing.fin)) {
        const room = this.settings.receiveWindow - this.outOfOrderBytes + (existing?.payload.length ?? 0);
        if (payload.length <= room) {
          if (existing) this.outOfOrderBytes -= existing.payload.length;
          this.outOfOrder.set(seq, { seq, payload: payload.slice(), fin });
          this.outOfOrderBytes += payload.length;
        }
      }
      return;
    }
    this.deliver(ctx, payload, fin);
    this.drainOutOfOrder(ctx);
  }

  private deliver(ctx: NodeContext, payload: Uint8Array, fin: boolean): void {
    if (payload.length > 0) {
      this.rcvNxt = seqAdd(this.rcvNxt, payload.length);
      this.counters.bytesDelivered += payload.length;
      this.hooks.onData(ctx, payload);
    }
    if (fin && !this.peerFinReceived && RECEIVING_STATES.has(this.state)) this.onFin(ctx);
  }

  private drainOutOfOrder(ctx: NodeContext): void {
    let progressed = true;
    while (progressed && this.outOfOrder.size > 0 && !this.peerFinReceived) {
      progressed = false;
      // Take every queued piece that starts at or before rcvNxt; the order of the map is irrelevant
      // because a piece is used only once it touches rcvNxt.
      const ready = [...this.outOfOrder.values()].filter((piece) => seqLe(piece.seq, this.rcvNxt)).sort((a, b) => seqDiff(a.seq, b.seq));
      for (const piece of ready) {
        if (this.peerFinReceived) return;
        this.outOfOrder.delete(piece.seq);
        this.outOfOrderBytes -= piece.payload.length;
        const end = seqAdd(piece.seq, piece.payload.length);
        if (seqLt(this.rcvNxt, end) || (piece.fin && end === this.rcvNxt)) {
          const fresh = piece.payload.subarray(seqDiff(this.rcvNxt, piece.seq));
          this.deliver(ctx, fresh, piece.fin);
          progressed = true;
        }
      }
    }
  }

  private onFin(ctx: NodeContext): void {
    this.peerFinReceived = true;
    this.rcvNxt = seqAdd(this.rcvNxt, 1);
    this.outOfOrder.clear();
    this.outOfOrderBytes = 0;
    this.ackPending = true;
    if (this.state === 'ESTABLISHED') {
      this.setState(ctx, 'CLOSE_WAIT', null);
      this.hooks.onPeerClosed(ctx);
    } else if (this.state === 'FIN_WAIT_1') {
      const ourFinAcked = this.finQueued && this.sendQueue.length === 0 && this.sndUna === seqAdd(this.dataStart, 1);
      if (ourFinAcked) this.enterTimeWait(ctx);
      else this.setState(ctx, 'CLOSING', null);
    } else if (this.state === 'FIN_WAIT_2') {
      this.enterTimeWait(ctx);
    }
  }

  private enterTimeWait(ctx: NodeContext): void {
    this.cancelRto(ctx);
    this.setState(ctx, 'TIME_WAIT', null);
    this.timeWaitTimer = this.hooks.setTimer(ctx, this.settings.timeWaitNs, 'time-wait', 0);
  }

  // --- sending ---------------------------------------------------------------------------------

  /** Sends whatever the windows allow: new data, then FIN once everything written is out. */
  private output(ctx: NodeContext): void {
    if (!SENDING_STATES.has(this.state)) return;
    for (;;) {
      const inFlight = seqDiff(this.sndNxt, this.sndUna);
      const sentData = seqDiff(this.sndNxt, this.dataStart);
      const unsent = this.sendQueue.length - sentData;
      if (unsent > 0) {
        let room = Math.min(this.cwnd, this.sndWnd) - inFlight;
        if (room <= 0) {
          if (inFlight > 0) return;
          room = this.mss; // zero window and nothing in flight: probe with one segment
        }
        const length = Math.min(this.mss, unsent, room);
        const fin = this.finQueued && sentData + length === this.sendQueue.length;
        this.sendData(ctx, this.sndNxt, length, fin);
        this.sndNxt = seqAdd(this.sndNxt, length + (fin ? 1 : 0));
        if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
        continue;
      }
      if (unsent === 0 && this.finQueued) {
        this.sendData(ctx, this.sndNxt, 0, true);
        this.sndNxt = seqAdd(this.sndNxt, 1);
        if (seqLt(this.sndMax, this.sndNxt)) this.sndMax = this.sndNxt;
      }
      return;
    }
  }

  /** Sends `length` bytes (and FIN) starting at `seq`, counting it a retransmission if it was sent before. */
  private sendData(ctx: NodeContext, seq: number, length: number, fin: boolean): void {
    const offset = seqDiff(seq, this.dataStart);
    const payload = length > 0 ? this.sendQueue.read(offset, length) : EMPTY;
    const end = seqAdd(seq, length + (fin ? 1 : 0));
    if (seqLt(seq, this.sndMax)) this.counters.retransmits++;
    else if (this.timing === null) this.timing = { endSeq: end, sentAt: ctx.now() };
    this.send(ctx, { seq, ack: this.rcvNxt, flags: { ack: true, psh: length > 0, fin }, payload });
    if (this.rtoTimer === null) this.armRto(ctx, false);
  }

  /** Resends one segment at `seq` without moving sndNxt (fast retransmit, partial ACKs). */
  private retransmitAt(ctx: NodeContext, seq: number): void {
    const offset = seqDiff(seq, this.dataStart);
    const remaining = this.sendQueue.length - offset;
    if (remaining > 0) {
      const length = Math.min(this.mss, remaining);
      this.sendData(ctx, seq, length, this.finQueued && offset + length === this.sendQueue.length);
    } else if (remaining === 0 && this.finQueued) {
      this.sendData(ctx, seq, 0, true);
    }
  }

  private onRetransmitTimeout(ctx: NodeContext): void {
    this.counters.timeouts++;
    const handshake = this.state === 'SYN_SENT' || this.state === 'SYN_RECEIVED';
    if (this.retries >= (handshake ? this.settings.synRetries : this.settings.maxRetries)) {
      this.abort(ctx, 'timeout');
      return;
    }
    this.retries++;
    this.rtoNs = Math.min(this.rtoNs * 2, this.settings.maxRtoNs);
    this.timing = null;
    if (handshake) {
      this.counters.retransmits++;
      this.sendSyn(ctx);
      return;
    }
    if (this.sndUna === this.sndMax) return;
    // Go back to the oldest unacknowledged byte and slow-start again.
    this.ssthresh = Math.max(Math.floor(seqDiff(this.sndMax, this.sndUna) / 2), 2 * this.mss);
    this.cwnd = this.mss;
    this.inRecovery = false;
    this.dupAcks = 0;
    this.sndNxt = this.sndUna;
    this.output(ctx);
    this.armRto(ctx, true);
  }

  private sendSyn(ctx: NodeContext): void {
    const synAck = this.state === 'SYN_RECEIVED';
    this.send(ctx, {
      seq: this.iss,
      ack: synAck ? this.rcvNxt : 0,
      flags: { syn: true, ack: synAck },
      options: [{ kind: 'mss', mss: this.settings.mss }],
      payload: EMPTY,
    });
    this.sndNxt = seqAdd(this.iss, 1);
    this.sndMax = this.sndNxt;
    if (this.timing === null && this.retries === 0) this.timing = { endSeq: this.sndNxt, sentAt: ctx.now() };
    this.armRto(ctx, true);
  }

  private sendAck(ctx: NodeContext): void {
    // A pure ACK carries sndMax: after a timeout sndNxt went back, and an older sequence number
    // would look like an old duplicate to the peer, which would then drop the acknowledgement.
    this.send(ctx, { seq: this.sndMax, ack: this.rcvNxt, flags: { ack: true }, payload: EMPTY });
  }

  private send(ctx: NodeContext, segment: { seq: number; ack: number; flags: Partial<TcpFlags>; options?: readonly TcpOption[]; payload: Uint8Array }): void {
    this.counters.segmentsSent++;
    if (segment.flags.ack) this.ackPending = false;
    this.hooks.transmit(ctx, {
      seq: segment.seq >>> 0,
      ack: segment.ack >>> 0,
      flags: segment.flags,
      window: this.settings.receiveWindow,
      options: segment.options ?? [],
      payload: segment.payload,
    });
  }

  // --- timers and RTT --------------------------------------------------------------------------

  private takeRttSample(ctx: NodeContext, ack: number): void {
    if (this.timing === null || seqLt(ack, this.timing.endSeq)) return;
    const sample = ctx.now() - this.timing.sentAt;
    this.timing = null;
    if (this.srttNs === null) {
      this.srttNs = sample;
      this.rttVarNs = sample / 2;
    } else {
      this.rttVarNs = 0.75 * this.rttVarNs + 0.25 * Math.abs(this.srttNs - sample);
      this.srttNs = 0.875 * this.srttNs + 0.125 * sample;
    }
    this.srttNs = Math.round(this.srttNs);
    this.rtoNs = this.baseRto();
  }

  /** The RTO without backoff: from the smoothed RTT once measured (RFC 6298), the initial RTO before. */
  private baseRto(): VTime {
    if (this.srttNs === null) return this.settings.initialRtoNs;
    return Math.min(this.settings.maxRtoNs, Math.max(this.settings.minRtoNs, Math.round(this.srttNs + 4 * this.rttVarNs)));
  }

  private armRto(ctx: NodeContext, restart: boolean): void {
    if (this.rtoTimer !== null) {
      if (!restart) return;
      this.hooks.cancelTimer(ctx, this.rtoTimer);
    }
    this.timerToken++;
    this.rtoTimer = this.hooks.setTimer(ctx, this.rtoNs, 'rto', this.timerToken);
  }

  private cancelRto(ctx: NodeContext): void {
    if (this.rtoTimer !== null) this.hooks.cancelTimer(ctx, this.rtoTimer);
    this.rtoTimer = null;
    this.timerToken++;
  }

  private stopTimers(ctx: NodeContext): void {
    this.cancelRto(ctx);
    if (this.timeWaitTimer !== null) this.hooks.cancelTimer(ctx, this.timeWaitTimer);
    this.timeWaitTimer = null;
  }

  private setState(ctx: NodeContext, to: TcpState, reason: TcpCloseReason | null): void {
    const from = this.state;
    if (from === to) return;
    this.state = to;
    if (to === 'CLOSED') this.closeReason = reason;
    this.hooks.onStateChange(ctx, from, to, to === 'CLOSED' ? reason : null);
  }
}

const EMPTY = new Uint8Array(0);

/** The MSS a SYN announces, or the RFC default when it has none. */
function peerMss(options: readonly TcpOption[]): number {
  for (const option of options) if (option.kind === 'mss' && option.mss > 0) return option.mss;
  return DEFAULT_PEER_MSS;
}
