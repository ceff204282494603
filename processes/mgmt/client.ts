/**
 * A host's or DPU's end of the management protocol: requests to the manager that are retried until
 * answered, and the node's view of whether the manager can be reached.
 *
 * Every request has an id the node never reuses and a key: a newer request with the same key
 * supersedes the older one (a second failover report replaces the first). A request is sent at once
 * and again after 10 ms, 20 ms, 40 ms ... (at most 320 ms apart) until `onAnswer` says it is done;
 * one with a deadline gives up when it passes (`onGiveUp`). The manager answers every request, so
 * duplicates cost nothing: every request is idempotent on the manager's side.
 *
 * A request unanswered for 100 ms makes the node record `mgmt.unreachable` once, with what it is
 * waiting for in words; a request made while it lasts records `mgmt.waiting`; the next word from
 * the manager records `mgmt.reachable`. Nothing else depends on it: the data plane keeps
 * forwarding on the last tables the manager pushed.
 */
import type { VTime } from '../../shared/events.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { NodeContext } from '../runtime/types.js';
import { managerEndpoint, nodeEndpoint, type MgmtEndpoint } from './addresses.js';
import { buildMgmtFrame, type MgmtAnswer, type MgmtMessage, type MgmtRequest } from './messages.js';

/** Timers of the client start with this prefix. */
export const MGMT_TIMER_PREFIX = 'mgmt.';
const RETRY_TIMER = `${MGMT_TIMER_PREFIX}retry`;

/** When a request is first sent again, and the most its retries are apart (an assumption, see docs/manager.md). */
export const MGMT_RETRY_FIRST_NS = 10_000_000;
export const MGMT_RETRY_MAX_NS = 320_000_000;
/** A request unanswered this long means the manager cannot be reached. */
export const MGMT_UNREACHABLE_NS = 100_000_000;

/** How a request is followed. */
export interface RequestOptions {
  /** What the node waits for, in words, for `mgmt.unreachable`. */
  readonly what: string;
  /** Give up this long after the first send; absent: retry until answered. */
  readonly deadlineNs?: VTime;
  /** An answer came; true when the request is done (false: keep asking, e.g. a decision still pending). */
  readonly onAnswer: (ctx: NodeContext, answer: MgmtAnswer) => boolean;
  /** The deadline passed unanswered. */
  readonly onGiveUp?: (ctx: NodeContext) => void;
}

interface Pending {
  readonly id: number;
  readonly key: string;
  /** Builds the request again at each send: a retry carries what the node knows then. */
  readonly build: (id: number) => MgmtRequest;
  readonly options: RequestOptions;
  readonly firstSentAt: VTime;
  delayNs: VTime;
  timer: number | null;
}

/** The node's client of the manager. */
export class ManagerClient {
  readonly self: MgmtEndpoint;
  readonly manager: MgmtEndpoint;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private unreachableSince: VTime | null = null;
  /** When the manager was last heard from. */
  private lastHeardNs: VTime | null = null;
  private sent = 0;
  private answered = 0;

  constructor(topology: ResolvedTopology, node: string) {
    this.self = nodeEndpoint(topology, node);
    this.manager = managerEndpoint(topology, node);
  }

  /** Whether the manager has been silent past the threshold (and has not answered since). */
  get unreachable(): boolean {
    return this.unreachableSince !== null;
  }

  /** Whether a request with this key is still being asked. */
  has(key: string): boolean {
    return this.byKey(key) !== undefined;
  }

  /**
   * Sends a request (its `id` filled in; `build` is called again for each retry, so a retry says
   * what the node knows then), superseding any with the same key, and follows it until done.
   */
  request(ctx: NodeContext, key: string, build: (id: number) => MgmtRequest, options: RequestOptions): void {
    this.cancel(ctx, key);
    const id = this.nextId++;
    const pending: Pending = { id, key, build, options, firstSentAt: ctx.now(), delayNs: MGMT_RETRY_FIRST_NS, timer: null };
    this.pending.set(id, pending);
    // Known to be out of reach: say now what waits for it, not only when the outage began.
    if (this.unreachableSince !== null) ctx.emit('mgmt.waiting', { manager: this.manager.node, what: options.what });
    this.transmit(ctx, pending);
  }

  /** Stops asking a request. */
  cancel(ctx: NodeContext, key: string): void {
    const pending = this.byKey(key);
    if (pending === undefined) return;
    if (pending.timer !== null) ctx.cancelTimer(pending.timer);
    this.pending.delete(pending.id);
  }

  /** Sends a message that needs no answer (an acknowledgement of the manager's own). */
  send(ctx: NodeContext, message: MgmtMessage): void {
    ctx.send(this.self.port, buildMgmtFrame(this.self, this.manager, message));
  }

  /** An answer from the manager: handed to its request, which stops or keeps asking. */
  onAnswer(ctx: NodeContext, answer: MgmtAnswer): void {
    this.heard(ctx);
    const pending = answer.re === null ? undefined : this.pending.get(answer.re);
    if (pending === undefined) return;
    this.answered++;
    if (!pending.options.onAnswer(ctx, answer)) return;
    if (this.pending.get(pending.id) !== pending) return;
    if (pending.timer !== null) ctx.cancelTimer(pending.timer);
    this.pending.delete(pending.id);
  }

  /**
   * Anything from the manager (a table, a pushed decision, a resync) shows it is reachable: what
   * waited for it during an outage is asked again at once, not at its next backed-off retry.
   */
  heard(ctx: NodeContext): void {
    this.lastHeardNs = ctx.now();
    if (this.unreachableSince === null) return;
    ctx.emit('mgmt.reachable', { manager: this.manager.node, silentNs: ctx.now() - this.unreachableSince });
    this.unreachableSince = null;
    for (const pending of [...this.pending.values()].sort((a, b) => a.id - b.id)) {
      if (pending.timer !== null) ctx.cancelTimer(pending.timer);
      pending.delayNs = MGMT_RETRY_FIRST_NS;
      this.transmit(ctx, pending);
    }
  }

  /** Handles the client's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (name !== RETRY_TIMER) return false;
    const pending = this.pending.get((data as { id: number }).id);
    if (pending === undefined) return true;
    pending.timer = null;
    const waited = ctx.now() - pending.firstSentAt;
    if (pending.options.deadlineNs !== undefined && waited >= pending.options.deadlineNs) {
      this.pending.delete(pending.id);
      pending.options.onGiveUp?.(ctx);
      return true;
    }
    // Silent since the request was first sent, and since the manager last said anything.
    const silentSince = Math.max(pending.firstSentAt, this.lastHeardNs ?? 0);
    if (ctx.now() - silentSince >= MGMT_UNREACHABLE_NS && this.unreachableSince === null) {
      this.unreachableSince = silentSince;
      const waiting = [...this.pending.values()].sort((a, b) => a.id - b.id).map((p) => p.options.what);
      ctx.emit('mgmt.unreachable', { manager: this.manager.node, sinceNs: silentSince, waiting });
    }
    pending.delayNs = Math.min(MGMT_RETRY_MAX_NS, pending.delayNs * 2);
    this.transmit(ctx, pending);
    return true;
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return {
      manager: this.manager.node,
      unreachableSince: this.unreachableSince,
      sent: this.sent,
      answered: this.answered,
      pending: [...this.pending.values()].sort((a, b) => a.id - b.id).map((p) => ({ id: p.id, key: p.key, what: p.options.what, since: p.firstSentAt })),
    };
  }

  private transmit(ctx: NodeContext, pending: Pending): void {
    this.sent++;
    this.send(ctx, pending.build(pending.id));
    const left = pending.options.deadlineNs === undefined ? pending.delayNs : Math.max(1, Math.min(pending.delayNs, pending.firstSentAt + pending.options.deadlineNs - ctx.now()));
    pending.timer = ctx.setTimer(left, RETRY_TIMER, { id: pending.id });
  }

  private byKey(key: string): Pending | undefined {
    for (const p of this.pending.values()) if (p.key === key) return p;
    return undefined;
  }
}
