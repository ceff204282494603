/**
 * Reliable, ordered state sync from a host's active DPU to its standby, in the manner of
 * conntrackd's reliable (FT-FW) mode: every message that carries state has a sequence number;
 * the receiver applies messages strictly in sequence order, buffers what arrives early, drops
 * duplicates, and acknowledges cumulatively (at least every `ackWindow` messages, and whenever
 * the sender asks); the sender keeps every unacknowledged message in a bounded resend queue,
 * resends on a timeout that backs off while nothing is acknowledged, and purges on each ack.
 *
 * A full snapshot (bulk) travels in the same sequenced stream, in chunks, after a `reset`; its
 * first chunk is a base a fresh receiver can start from, its last one the end marker after which
 * the receiver is in sync. A standby that joins (or restarts, or sees a new sender session) asks
 * for one with `bulk-request`; the sender also needs one after its resend queue overflowed (the
 * receiver can never fill that gap otherwise).
 *
 * Both ends are deterministic: time and timers come from the context, nothing iterates a map in
 * arrival order. Events are sparse: bulk start and end, resend bursts, gaps, overflows, new
 * sessions, malformed messages.
 */
import type { VTime } from '../../../shared/events.js';
import { encode } from '../../../shared/codec.js';
import type { NodeContext } from '../../runtime/types.js';
import { HaSetupError, SyncMessageError } from './errors.js';
import { decodeSyncMessage, syncPayloadOf } from './sync-messages.js';
import type { BulkMessage, BulkRequestReason, SequencedMessage, SyncMessage, UpdateMessage } from './sync-messages.js';
import type { SyncRecord } from './sync-records.js';

/** How a sync end puts a message on the wire (in a DPU: a UDP frame to the peer's management address). */
export type SyncTransmit = (ctx: NodeContext, message: SyncMessage) => void;

/** Timer names of the sync ends; the owner routes timers whose name starts with this to both. */
export const HA_SYNC_TIMER_PREFIX = 'ha.sync.';
/** The sender's resend timer. */
export const RESEND_TIMER = `${HA_SYNC_TIMER_PREFIX}resend`;
/** The receiver's bulk-request retry timer. */
export const REQUEST_TIMER = `${HA_SYNC_TIMER_PREFIX}request`;

/** Defaults of the protocol's parameters. */
export const SYNC_DEFAULTS = {
  /** Messages applied between two acknowledgements at most (conntrackd's ACKWindowSize). */
  ackWindow: 300,
  /** Unacknowledged messages kept for resending (conntrackd's ResendQueueSize is 131072). */
  resendQueueLimit: 4096,
  /** First resend timeout; doubled after each burst without progress. */
  resendNs: 20_000_000,
  /** Cap of the resend timeout. */
  maxResendNs: 1_000_000_000,
  /** Largest message payload the sender builds (the management network carries jumbo frames). */
  maxMessageBytes: 8192,
  /** A standby without a base asks again for a bulk after this long. */
  requestRetryNs: 250_000_000,
  /** Messages a receiver keeps while it waits for a gap to fill. */
  reorderLimit: 4096,
} as const;

/** Room left in a message for its own fields, next to the records. */
const MESSAGE_OVERHEAD_BYTES = 96;

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new HaSetupError('bad-option', `Sync option ${name} must be a positive integer, not ${value}`);
  return value;
}

/** Splits records into chunks whose msgpack size stays under `budget` (a record larger than that goes alone). */
function chunk(records: readonly SyncRecord[], budget: number): SyncRecord[][] {
  const out: SyncRecord[][] = [];
  let current: SyncRecord[] = [];
  let size = 0;
  for (const record of records) {
    const bytes = encode(record).length;
    if (current.length > 0 && size + bytes > budget) {
      out.push(current);
      current = [];
      size = 0;
    }
    current.push(record);
    size += bytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Reads a management frame as a sync message: null when it is not one, `malformed` when it is a broken one. */
function readFrame(bytes: Uint8Array): SyncMessage | null | { malformed: string } {
  const payload = syncPayloadOf(bytes);
  if (payload === null) return null;
  try {
    return decodeSyncMessage(payload);
  } catch (error) {
    if (error instanceof SyncMessageError) return { malformed: error.message };
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// Sender

/** How a sender is built. */
export interface SyncSenderOptions {
  readonly transmit: SyncTransmit;
  /**
   * This sender's incarnation, 1 .. 2^32-1. Default: taken from the clock at the first message,
   * so that a restarted DPU (which boots later in virtual time) never reuses its predecessor's.
   */
  readonly session?: number;
  readonly ackWindow?: number;
  readonly resendQueueLimit?: number;
  readonly resendNs?: VTime;
  readonly maxResendNs?: VTime;
  readonly maxMessageBytes?: number;
}

/** What an incoming message asks of the sender's owner. */
export interface SenderOutcome {
  /** The standby asked for a full snapshot: call `bulk(ctx, snapshot)`. */
  readonly bulkRequested: boolean;
}

/** Counters of a sender. */
export interface SyncSenderCounters {
  messages: number;
  records: number;
  resent: number;
  acks: number;
  staleAcks: number;
  bulks: number;
  bulkRequests: number;
  overflowDropped: number;
  malformed: number;
  unexpected: number;
}

/** A sender's state for inspectors. */
export interface SyncSenderView {
  session: number | null;
  nextSeq: number;
  acked: number;
  queuedRecords: number;
  unacked: number;
  resendTimeoutNs: VTime;
  needsBulk: boolean;
  bulkInFlight: { bulk: number; lastSeq: number } | null;
  counters: SyncSenderCounters;
}

interface Outstanding {
  message: SequencedMessage;
  lastSentAt: VTime;
}

/** The active DPU's end: queues records, sends them in sequenced messages, resends until acknowledged. */
export class SyncSender {
  private readonly transmit: SyncTransmit;
  private readonly ackWindow: number;
  private readonly resendQueueLimit: number;
  private readonly baseResendNs: VTime;
  private readonly maxResendNs: VTime;
  private readonly budget: number;
  private sessionId: number | null;
  private nextSeq = 1;
  private acked = 0;
  private queued: SyncRecord[] = [];
  /** Unacknowledged messages in sequence order. */
  private outstanding: Outstanding[] = [];
  private sinceAckRequest = 0;
  private timer: number | null = null;
  private timeoutNs: VTime;
  private bulkCount = 0;
  private bulkInFlight: { bulk: number; lastSeq: number; startedAt: VTime } | null = null;
  private wantBulk: 'request' | 'overflow' | null = null;
  private overflowing = false;
  private readonly counters: SyncSenderCounters = { messages: 0, records: 0, resent: 0, acks: 0, staleAcks: 0, bulks: 0, bulkRequests: 0, overflowDropped: 0, malformed: 0, unexpected: 0 };

  constructor(options: SyncSenderOptions) {
    this.transmit = options.transmit;
    this.ackWindow = positive(options.ackWindow ?? SYNC_DEFAULTS.ackWindow, 'ackWindow');
    this.resendQueueLimit = positive(options.resendQueueLimit ?? SYNC_DEFAULTS.resendQueueLimit, 'resendQueueLimit');
    this.baseResendNs = positive(options.resendNs ?? SYNC_DEFAULTS.resendNs, 'resendNs');
    this.maxResendNs = Math.max(this.baseResendNs, positive(options.maxResendNs ?? SYNC_DEFAULTS.maxResendNs, 'maxResendNs'));
    this.budget = Math.max(1, positive(options.maxMessageBytes ?? SYNC_DEFAULTS.maxMessageBytes, 'maxMessageBytes') - MESSAGE_OVERHEAD_BYTES);
    if (options.session !== undefined && (!Number.isInteger(options.session) || options.session < 1 || options.session > 0xffffffff)) {
      throw new HaSetupError('bad-option', `Sync session ${options.session} is not in 1..4294967295`);
    }
    this.sessionId = options.session ?? null;
    this.timeoutNs = this.baseResendNs;
  }

  /** True after a bulk request or an overflow of the resend queue, until `bulk` is called. */
  get needsBulk(): boolean {
    return this.wantBulk !== null;
  }

  /** Messages sent and not yet acknowledged. */
  get unacked(): number {
    return this.outstanding.length;
  }

  /** Adds records to send with the next `flush`. */
  queue(records: readonly SyncRecord[]): void {
    this.queued.push(...records);
  }

  /**
   * Sends the queued records as `update` messages (as many as their size needs); the last one asks
   * for an acknowledgement. Returns the number of messages sent.
   */
  flush(ctx: NodeContext): number {
    if (this.queued.length === 0) return 0;
    const chunks = chunk(this.queued, this.budget);
    this.queued = [];
    chunks.forEach((records, i) => {
      const message: UpdateMessage = { type: 'update', session: this.session(ctx), seq: this.nextSeq++, ackRequest: this.wantsAck(i === chunks.length - 1), records };
      this.send(ctx, message);
    });
    return chunks.length;
  }

  /**
   * Sends a full snapshot in `bulk` chunks, after a `reset`; records still queued are dropped (the
   * snapshot supersedes them). Records `ha.sync.bulk.start`; `ha.sync.bulk.acked` follows when the
   * end marker is acknowledged.
   */
  bulk(ctx: NodeContext, snapshot: readonly SyncRecord[], reason: 'request' | 'overflow' | 'owner' = this.wantBulk ?? 'owner'): void {
    this.queued = [];
    const chunks = chunk([{ kind: 'reset' }, ...snapshot], this.budget);
    const bulk = ++this.bulkCount;
    const firstSeq = this.nextSeq;
    chunks.forEach((records, part) => {
      const last = part === chunks.length - 1;
      const message: BulkMessage = { type: 'bulk', session: this.session(ctx), seq: this.nextSeq++, bulk, part, last, ackRequest: this.wantsAck(last), records };
      this.send(ctx, message);
    });
    this.counters.bulks++;
    this.wantBulk = null;
    this.overflowing = false;
    this.bulkInFlight = { bulk, lastSeq: this.nextSeq - 1, startedAt: ctx.now() };
    ctx.emit('ha.sync.bulk.start', { bulk, reason, records: snapshot.length, messages: chunks.length, firstSeq, lastSeq: this.nextSeq - 1 });
  }

  /** A message from the standby: acknowledgements purge the resend queue; a bulk request is returned to the owner. */
  onMessage(ctx: NodeContext, message: SyncMessage): SenderOutcome {
    switch (message.type) {
      case 'ack':
        this.onAck(ctx, message.session, message.seq);
        return { bulkRequested: false };
      case 'bulk-request':
        this.counters.bulkRequests++;
        this.wantBulk = 'request';
        return { bulkRequested: true };
      default:
        this.counters.unexpected++;
        return { bulkRequested: false };
    }
  }

  /**
   * A management frame: handled when it is a sync message (null when it is not one). A malformed
   * sync message is dropped, counted and recorded (`ha.sync.malformed`). Throws FrameError for a
   * frame that does not decode at all, for the owner's malformed-frame counter.
   */
  onFrame(ctx: NodeContext, bytes: Uint8Array): SenderOutcome | null {
    const read = readFrame(bytes);
    if (read === null) return null;
    if ('malformed' in read) {
      this.counters.malformed++;
      ctx.emit('ha.sync.malformed', { side: 'sender', message: read.malformed });
      return { bulkRequested: false };
    }
    return this.onMessage(ctx, read);
  }

  /** The resend timer: unacknowledged messages older than the timeout go again, and the timeout backs off. */
  onTimer(ctx: NodeContext, name: string): boolean {
    if (name !== RESEND_TIMER) return false;
    this.timer = null;
    const now = ctx.now();
    const due = this.outstanding.filter((o) => o.lastSentAt + this.timeoutNs <= now).slice(0, this.ackWindow);
    if (due.length > 0) {
      due.forEach((o, i) => {
        const again = i === due.length - 1 ? { ...o.message, ackRequest: true } : o.message;
        o.lastSentAt = now;
        this.transmit(ctx, again);
      });
      this.counters.resent += due.length;
      ctx.emit('ha.sync.resend', { count: due.length, firstSeq: due[0]!.message.seq, lastSeq: due[due.length - 1]!.message.seq, unacked: this.outstanding.length, timeoutNs: this.timeoutNs });
      this.timeoutNs = Math.min(this.maxResendNs, this.timeoutNs * 2);
    }
    this.arm(ctx);
    return true;
  }

  /** Stops the resend timer (the DPU stops being active). */
  stop(ctx: NodeContext): void {
    if (this.timer !== null) ctx.cancelTimer(this.timer);
    this.timer = null;
  }

  inspect(): SyncSenderView {
    return {
      session: this.sessionId,
      nextSeq: this.nextSeq,
      acked: this.acked,
      queuedRecords: this.queued.length,
      unacked: this.outstanding.length,
      resendTimeoutNs: this.timeoutNs,
      needsBulk: this.wantBulk !== null,
      bulkInFlight: this.bulkInFlight === null ? null : { bulk: this.bulkInFlight.bulk, lastSeq: this.bulkInFlight.lastSeq },
      counters: { ...this.counters },
    };
  }

  private session(ctx: NodeContext): number {
    this.sessionId ??= 1 + (ctx.now() % 0xfffffffe);
    return this.sessionId;
  }

  private wantsAck(last: boolean): boolean {
    this.sinceAckRequest++;
    if (!last && this.sinceAckRequest < this.ackWindow) return false;
    this.sinceAckRequest = 0;
    return true;
  }

  private send(ctx: NodeContext, message: SequencedMessage): void {
    this.transmit(ctx, message);
    this.counters.messages++;
    this.counters.records += message.records.length;
    this.outstanding.push({ message, lastSentAt: ctx.now() });
    if (this.outstanding.length > this.resendQueueLimit) {
      const dropped = this.outstanding.length - this.resendQueueLimit;
      this.outstanding.splice(0, dropped);
      this.counters.overflowDropped += dropped;
      this.wantBulk ??= 'overflow';
      if (!this.overflowing) {
        this.overflowing = true;
        ctx.emit('ha.sync.overflow', { limit: this.resendQueueLimit, firstLostSeq: this.outstanding[0]!.message.seq - dropped });
      }
    }
    this.arm(ctx);
  }

  private onAck(ctx: NodeContext, session: number, seq: number): void {
    if (session !== this.sessionId || seq >= this.nextSeq) {
      this.counters.staleAcks++;
      return;
    }
    this.counters.acks++;
    if (seq <= this.acked) return;
    this.acked = seq;
    let purged = 0;
    while (purged < this.outstanding.length && this.outstanding[purged]!.message.seq <= seq) purged++;
    this.outstanding.splice(0, purged);
    this.timeoutNs = this.baseResendNs;
    if (this.bulkInFlight !== null && seq >= this.bulkInFlight.lastSeq) {
      ctx.emit('ha.sync.bulk.acked', { bulk: this.bulkInFlight.bulk, elapsedNs: ctx.now() - this.bulkInFlight.startedAt });
      this.bulkInFlight = null;
    }
    if (this.outstanding.length === 0) this.stop(ctx);
    else if (this.timer !== null) {
      // Re-arm from the oldest message still waiting.
      this.stop(ctx);
      this.arm(ctx);
    }
  }

  private arm(ctx: NodeContext): void {
    if (this.timer !== null) return;
    const oldest = this.outstanding.reduce<VTime | null>((min, o) => (min === null || o.lastSentAt < min ? o.lastSentAt : min), null);
    if (oldest === null) return;
    this.timer = ctx.setTimer(Math.max(0, oldest + this.timeoutNs - ctx.now()), RESEND_TIMER);
  }
}

// ---------------------------------------------------------------------------------------------
// Receiver

/** How a receiver is built. */
export interface SyncReceiverOptions {
  readonly transmit: SyncTransmit;
  readonly ackWindow?: number;
  readonly requestRetryNs?: VTime;
  readonly reorderLimit?: number;
}

/** Counters of a receiver. */
export interface SyncReceiverCounters {
  applied: number;
  records: number;
  duplicates: number;
  outOfOrder: number;
  beforeBase: number;
  overflowDropped: number;
  skipped: number;
  acks: number;
  requests: number;
  sessions: number;
  /** Messages of a session this receiver already left (late copies from a previous active). */
  stale: number;
  malformed: number;
  unexpected: number;
}

/** A receiver's state for inspectors. */
export interface SyncReceiverView {
  session: number | null;
  /** The next sequence number it can apply, null before a base. */
  expected: number | null;
  buffered: number;
  inSync: boolean;
  bulk: { bulk: number; messages: number; records: number } | null;
  counters: SyncReceiverCounters;
}

/** The standby DPU's end: applies the active's messages exactly once, in sequence order, and acknowledges them. */
export class SyncReceiver {
  private readonly transmit: SyncTransmit;
  private readonly ackWindow: number;
  private readonly retryNs: VTime;
  private readonly reorderLimit: number;
  private session: number | null = null;
  private expected: number | null = null;
  private readonly buffer = new Map<number, SequencedMessage>();
  private bulkState: { bulk: number; messages: number; records: number; startedAt: VTime } | null = null;
  private synced = false;
  private appliedSinceAck = 0;
  private gapOpen = false;
  private timer: number | null = null;
  private readonly counters: SyncReceiverCounters = {
    applied: 0,
    records: 0,
    duplicates: 0,
    outOfOrder: 0,
    beforeBase: 0,
    overflowDropped: 0,
    skipped: 0,
    acks: 0,
    requests: 0,
    sessions: 0,
    stale: 0,
    malformed: 0,
    unexpected: 0,
  };
  /** Sessions left behind, newest last: their late messages must not drag the receiver back. */
  private readonly retired: number[] = [];

  constructor(options: SyncReceiverOptions) {
    this.transmit = options.transmit;
    this.ackWindow = positive(options.ackWindow ?? SYNC_DEFAULTS.ackWindow, 'ackWindow');
    this.retryNs = positive(options.requestRetryNs ?? SYNC_DEFAULTS.requestRetryNs, 'requestRetryNs');
    this.reorderLimit = positive(options.reorderLimit ?? SYNC_DEFAULTS.reorderLimit, 'reorderLimit');
  }

  /**
   * True when a complete snapshot has been applied and every message received since is applied
   * too (no gap waiting): the replica is what the sender had a moment ago.
   */
  inSync(): boolean {
    return this.synced && this.expected !== null && this.buffer.size === 0;
  }

  /**
   * A message from the active DPU. Returns the records it made applicable, in sequence order
   * (possibly records of earlier messages that were waiting for it); empty for a duplicate, an early
   * message, one before any base, an acknowledgement or a request.
   */
  onMessage(ctx: NodeContext, message: SyncMessage): SyncRecord[] {
    if (message.type !== 'update' && message.type !== 'bulk') {
      this.counters.unexpected++;
      return [];
    }
    if (this.retired.includes(message.session)) {
      this.counters.stale++;
      return [];
    }
    if (message.session !== this.session) this.newSession(ctx, message.session);
    const isBase = message.type === 'bulk' && message.part === 0;
    if (this.expected === null) {
      if (!isBase) {
        this.counters.beforeBase++;
        this.keep(message);
        if (this.timer === null) this.request(ctx, this.counters.sessions > 1 ? 'new-session' : 'no-base');
        return [];
      }
      this.startFrom(message.seq);
    } else if (message.seq < this.expected) {
      this.counters.duplicates++;
      this.ack(ctx);
      return [];
    } else if (isBase && message.seq > this.expected) {
      // A new snapshot supersedes whatever was lost before it.
      this.counters.skipped += message.seq - this.expected;
      this.startFrom(message.seq);
    }
    if (message.seq > this.expected!) {
      if (this.buffer.has(message.seq)) this.counters.duplicates++;
      else if (this.keep(message)) this.counters.outOfOrder++;
      if (!this.gapOpen) {
        this.gapOpen = true;
        ctx.emit('ha.sync.gap', { expected: this.expected!, got: message.seq });
        this.ack(ctx);
      }
      return [];
    }
    const out: SyncRecord[] = [];
    let ackNow = false;
    let next: SequencedMessage | undefined = message;
    while (next !== undefined) {
      ackNow = this.apply(ctx, next, out) || ackNow;
      this.expected! += 1;
      next = this.buffer.get(this.expected!);
      this.buffer.delete(this.expected!);
    }
    this.gapOpen = this.buffer.size > 0;
    if (ackNow || this.appliedSinceAck >= this.ackWindow) this.ack(ctx);
    return out;
  }

  /**
   * A management frame: its records when it is a sync message (see `onMessage`), null when it is
   * not one. A malformed sync message is dropped, counted and recorded (`ha.sync.malformed`).
   * Throws FrameError for a frame that does not decode at all.
   */
  onFrame(ctx: NodeContext, bytes: Uint8Array): SyncRecord[] | null {
    const read = readFrame(bytes);
    if (read === null) return null;
    if ('malformed' in read) {
      this.counters.malformed++;
      ctx.emit('ha.sync.malformed', { side: 'receiver', message: read.malformed });
      return [];
    }
    return this.onMessage(ctx, read);
  }

  /**
   * Asks the active DPU for a full snapshot (a standby joining, or its owner wanting a resync);
   * asks again every `requestRetryNs` until a snapshot starts arriving. Records `ha.sync.request`
   * for the first attempt.
   */
  request(ctx: NodeContext, reason: BulkRequestReason = 'owner'): void {
    this.counters.requests++;
    if (reason !== 'retry') ctx.emit('ha.sync.request', { reason });
    this.transmit(ctx, { type: 'bulk-request', reason });
    if (this.timer !== null) ctx.cancelTimer(this.timer);
    this.timer = ctx.setTimer(this.retryNs, REQUEST_TIMER);
  }

  /** The retry timer: asks again while no snapshot has started. */
  onTimer(ctx: NodeContext, name: string): boolean {
    if (name !== REQUEST_TIMER) return false;
    this.timer = null;
    if (this.expected === null) this.request(ctx, 'retry');
    return true;
  }

  /** Stops the retry timer (the DPU stops being standby). */
  stop(ctx: NodeContext): void {
    if (this.timer !== null) ctx.cancelTimer(this.timer);
    this.timer = null;
  }

  inspect(): SyncReceiverView {
    return {
      session: this.session,
      expected: this.expected,
      buffered: this.buffer.size,
      inSync: this.inSync(),
      bulk: this.bulkState === null ? null : { bulk: this.bulkState.bulk, messages: this.bulkState.messages, records: this.bulkState.records },
      counters: { ...this.counters },
    };
  }

  /** A new sender incarnation: its sequence numbers start a new stream, which needs a new base. */
  private newSession(ctx: NodeContext, session: number): void {
    if (this.session !== null) {
      ctx.emit('ha.sync.session', { from: this.session, to: session });
      this.retired.push(this.session);
      if (this.retired.length > 4) this.retired.shift();
    }
    this.counters.sessions++;
    this.session = session;
    this.expected = null;
    this.buffer.clear();
    this.bulkState = null;
    this.synced = false;
    this.gapOpen = false;
    this.appliedSinceAck = 0;
  }

  private startFrom(seq: number): void {
    this.expected = seq;
    for (const buffered of [...this.buffer.keys()]) if (buffered < seq) this.buffer.delete(buffered);
  }

  /** Keeps an early message; false when the reorder buffer is full (it will come again). */
  private keep(message: SequencedMessage): boolean {
    if (this.buffer.has(message.seq)) return false;
    if (this.buffer.size >= this.reorderLimit) {
      this.counters.overflowDropped++;
      return false;
    }
    this.buffer.set(message.seq, message);
    return true;
  }

  /** Applies one in-order message; returns whether it calls for an acknowledgement now. */
  private apply(ctx: NodeContext, message: SequencedMessage, out: SyncRecord[]): boolean {
    out.push(...message.records);
    this.counters.applied++;
    this.counters.records += message.records.length;
    this.appliedSinceAck++;
    if (message.type === 'update') return message.ackRequest;
    if (message.part === 0) {
      this.bulkState = { bulk: message.bulk, messages: 0, records: 0, startedAt: ctx.now() };
      this.synced = false;
      if (this.timer !== null) this.stop(ctx);
    }
    const state = this.bulkState;
    if (state === null || state.bulk !== message.bulk) return message.ackRequest;
    state.messages++;
    // The reset record is the protocol's, not the snapshot's.
    state.records += message.records.filter((r) => r.kind !== 'reset').length;
    if (message.last) {
      this.synced = true;
      ctx.emit('ha.sync.bulk.end', { bulk: state.bulk, messages: state.messages, records: state.records, seq: message.seq, elapsedNs: ctx.now() - state.startedAt });
      return true;
    }
    return message.ackRequest;
  }

  private ack(ctx: NodeContext): void {
    if (this.session === null || this.expected === null) return;
    this.counters.acks++;
    this.appliedSinceAck = 0;
    this.transmit(ctx, { type: 'ack', session: this.session, seq: this.expected - 1 });
  }
}
