/**
 * The reliable stream of one migration between its two hosts, over vMotion datagrams: what the
 * host's vMotion TCP stack gives a real vMotion, modelled at the level that matters here.
 *
 * - Every message (a body: prepare, verdict, pages, state part, resumed, abort) gets the next
 *   sequence number of its direction and stays in the sender's queue until acknowledged.
 * - Every datagram carries a cumulative acknowledgement of the other direction: the number of
 *   messages received in order so far. A receiver acknowledges every message it gets, in order or
 *   not (a pure acknowledgement unless a message of its own carries it); it delivers messages in
 *   order, keeps early ones (at most a window of them) and drops duplicates.
 * - At most `window` messages are unacknowledged; `send` refuses more, and the caller waits for
 *   `onAcked`.
 * - The oldest unacknowledged message is sent again when its retransmission timer expires (20 ms,
 *   doubled after each expiry without progress, at most 1 s), or at once after three duplicate
 *   acknowledgements (a fast retransmit). Until everything sent before that is acknowledged, each
 *   acknowledgement that advances but stops short sends the next hole at once (as TCP NewReno's
 *   partial acknowledgements do), so a burst of losses costs a round trip per message, not a
 *   timeout each. Progress resets the timer.
 *
 * So a lost datagram, a duplicated or a reordered one slows a migration down instead of ending it.
 * The stream itself never gives up: the agent decides after a long silence (`lastHeardNs`).
 */
import type { VTime } from '../../../shared/events.js';
import type { NodeContext } from '../../runtime/types.js';
import type { VmotionBody, VmotionDatagram } from './messages.js';

/** The retransmission timer of a stream (data: `{ mid }`). */
export const STREAM_RTO_TIMER = 'vmotion.rto';

/** How a stream behaves; every field has a default (`STREAM_DEFAULTS`). */
export interface StreamOptions {
  /** Most messages unacknowledged at once. */
  readonly window: number;
  /** The first retransmission timeout; doubled after each expiry without progress. */
  readonly rtoFirstNs: VTime;
  /** The longest retransmission timeout. */
  readonly rtoMaxNs: VTime;
  /** Duplicate acknowledgements that trigger a fast retransmit. */
  readonly dupAcks: number;
}

/**
 * Defaults: 64 messages in flight (64 MiB of pages: far more than the lab's bandwidth-delay
 * product, so only loss stalls a round), 20 ms first timeout (two orders of magnitude over the
 * lab's round trip, an assumption), 1 s at most, TCP's three duplicate acknowledgements.
 */
export const STREAM_DEFAULTS: StreamOptions = { window: 64, rtoFirstNs: 20_000_000, rtoMaxNs: 1_000_000_000, dupAcks: 3 };

/** What a stream needs of its owner. */
export interface StreamHooks {
  /** Sends a datagram to the peer host; false when there is no path now (the stream retries anyway). */
  send(ctx: NodeContext, datagram: VmotionDatagram): boolean;
  /** Acknowledgements advanced: room in the window, messages confirmed. */
  onAcked?(ctx: NodeContext): void;
  /** A message is sent again (a lost page batch costs its bytes on the link once more). */
  onRetransmit?(ctx: NodeContext, body: VmotionBody): void;
}

interface Outstanding {
  readonly seq: number;
  readonly body: VmotionBody;
}

/** Both directions of one migration's stream, as one host holds them. */
export class VmotionStream {
  private readonly options: StreamOptions;
  private nextSeq = 0;
  private readonly unacked: Outstanding[] = [];
  /** Messages the peer has acknowledged (the next sequence number it expects). */
  private ackedUpTo = 0;
  private expected = 0;
  private readonly early = new Map<number, VmotionBody>();
  private rtoNs: VTime;
  private timer: number | null = null;
  private dupCount = 0;
  /** While recovering from a loss: the messages sent before it (recovery ends when all are acknowledged). */
  private recoverUntil: number | null = null;
  private ackOwed = false;
  private closed = false;
  /** When the peer was last heard from (any datagram of this stream), null before. */
  lastHeardNs: VTime | null = null;
  /** Messages sent again, in all. */
  retransmits = 0;
  /** Messages received twice (and dropped). */
  duplicates = 0;

  constructor(
    readonly mid: string,
    private readonly hooks: StreamHooks,
    options: Partial<StreamOptions> = {},
  ) {
    this.options = { ...STREAM_DEFAULTS, ...options };
    this.rtoNs = this.options.rtoFirstNs;
  }

  /** Whether `send` would take another message now. */
  get windowOpen(): boolean {
    return this.unacked.length < this.options.window;
  }

  /** Messages sent and acknowledged (the sequence number of the next unacknowledged one). */
  get acknowledged(): number {
    return this.ackedUpTo;
  }

  /** Messages sent, acknowledged or not. */
  get sent(): number {
    return this.nextSeq;
  }

  /**
   * Sends a message; returns its sequence number, or null when the window is full (nothing sent).
   */
  send(ctx: NodeContext, body: VmotionBody): number | null {
    if (this.closed || !this.windowOpen) return null;
    const seq = this.nextSeq++;
    this.unacked.push({ seq, body });
    this.transmit(ctx, seq, body);
    if (this.timer === null) this.arm(ctx);
    return seq;
  }

  /**
   * A datagram of this stream from the peer: its acknowledgement is applied, and the messages it
   * completes are returned in order (none for a duplicate, an early one or a pure acknowledgement).
   */
  onDatagram(ctx: NodeContext, datagram: VmotionDatagram): VmotionBody[] {
    this.lastHeardNs = ctx.now();
    this.onAck(ctx, datagram.ack, datagram.body === null);
    if (datagram.seq === null || datagram.body === null) return [];
    if (this.closed) {
      // Nobody needs it any more, but the peer must hear it arrived, or it sends it forever.
      this.expected = Math.max(this.expected, datagram.seq + 1);
      this.hooks.send(ctx, { mid: this.mid, seq: null, ack: this.expected, body: null });
      return [];
    }
    this.ackOwed = true;
    if (datagram.seq < this.expected || this.early.has(datagram.seq)) {
      this.duplicates++;
      return [];
    }
    if (datagram.seq > this.expected) {
      if (datagram.seq < this.expected + this.options.window) this.early.set(datagram.seq, datagram.body);
      return [];
    }
    const delivered = [datagram.body];
    this.expected++;
    for (let next = this.early.get(this.expected); next !== undefined; next = this.early.get(this.expected)) {
      this.early.delete(this.expected);
      delivered.push(next);
      this.expected++;
    }
    return delivered;
  }

  /** Sends a pure acknowledgement if one is owed and no message of ours carried it since. */
  flushAck(ctx: NodeContext): void {
    if (!this.ackOwed || this.closed) return;
    this.ackOwed = false;
    this.hooks.send(ctx, { mid: this.mid, seq: null, ack: this.expected, body: null });
  }

  /** The retransmission timer expired: the oldest unacknowledged message goes again. */
  onTimer(ctx: NodeContext): void {
    this.timer = null;
    if (this.closed || this.unacked.length === 0) return;
    this.retransmitOldest(ctx);
    this.rtoNs = Math.min(this.options.rtoMaxNs, this.rtoNs * 2);
    this.arm(ctx);
  }

  /** The migration ended on this side: nothing more is sent or retransmitted. */
  close(ctx: NodeContext): void {
    this.closed = true;
    if (this.timer !== null) ctx.cancelTimer(this.timer);
    this.timer = null;
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return { sent: this.nextSeq, acknowledged: this.ackedUpTo, received: this.expected, early: this.early.size, retransmits: this.retransmits, duplicates: this.duplicates, rtoNs: this.rtoNs };
  }

  private onAck(ctx: NodeContext, ack: number, pure: boolean): void {
    if (ack > this.ackedUpTo) {
      this.ackedUpTo = Math.min(ack, this.nextSeq);
      while (this.unacked.length > 0 && this.unacked[0]!.seq < this.ackedUpTo) this.unacked.shift();
      this.dupCount = 0;
      this.rtoNs = this.options.rtoFirstNs;
      if (this.timer !== null) ctx.cancelTimer(this.timer);
      this.timer = null;
      if (this.recoverUntil !== null && this.ackedUpTo >= this.recoverUntil) this.recoverUntil = null;
      // A partial acknowledgement: the next message sent before the loss is missing too.
      if (this.recoverUntil !== null) this.retransmitOldest(ctx);
      if (this.unacked.length > 0) this.arm(ctx);
      this.hooks.onAcked?.(ctx);
      return;
    }
    if (!pure || this.unacked.length === 0) return;
    this.dupCount++;
    if (this.dupCount === this.options.dupAcks) this.retransmitOldest(ctx);
  }

  private retransmitOldest(ctx: NodeContext): void {
    const oldest = this.unacked[0];
    if (oldest === undefined) return;
    this.recoverUntil ??= this.nextSeq;
    this.retransmits++;
    this.hooks.onRetransmit?.(ctx, oldest.body);
    this.transmit(ctx, oldest.seq, oldest.body);
  }

  private transmit(ctx: NodeContext, seq: number, body: VmotionBody): void {
    this.ackOwed = false;
    this.hooks.send(ctx, { mid: this.mid, seq, ack: this.expected, body });
  }

  private arm(ctx: NodeContext): void {
    this.timer = ctx.setTimer(this.rtoNs, STREAM_RTO_TIMER, { mid: this.mid });
  }
}
