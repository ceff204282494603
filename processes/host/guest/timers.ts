/**
 * The timers of one guest stack: every `guest.*` timer its parts arm goes through here, so the
 * stack knows at any instant which timers are pending, when each is due and what it carries. That
 * is what a VM's state needs when it moves to another host (vMotion): each pending timer leaves as
 * its remaining delay and is armed again on the other side.
 *
 * A timer is known by the stack's own number for it (`timer` in its data), not by the context's
 * id, so the parts that hold on to a timer keep the same number across a move. The data also
 * carries the stack's `incarnation`, bumped by every restore: a timer the previous object armed
 * may still fire into the same host after the VM came back to it, and must not be taken for one of
 * the restored stack's.
 */
import type { VTime } from '../../../shared/events.js';
import type { NodeContext } from '../../runtime/types.js';
import type { GuestTimersState } from './state.js';

interface Pending {
  readonly contextId: number;
  readonly name: string;
  readonly dueAt: VTime;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The pending timers of one guest stack; see the file comment. */
export class GuestTimers {
  /** By the stack's timer number, which only grows: iteration is arming order. */
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly vm: string,
    /** Restores of this VM's stack so far; a stale timer carries an older one. */
    readonly incarnation: number,
    private next = 1,
  ) {}

  /** Arms timer `name` in `delayNs`; its data is `payload` plus the stamp. Returns the stack's number for it. */
  set(ctx: NodeContext, delayNs: VTime, name: string, payload: Readonly<Record<string, unknown>>): number {
    const timer = this.next++;
    const contextId = ctx.setTimer(delayNs, name, { vm: this.vm, ...payload, incarnation: this.incarnation, timer });
    this.pending.set(timer, { contextId, name, dueAt: ctx.now() + delayNs, data: payload });
    return timer;
  }

  /** Cancels a timer by the stack's number; null and timers already fired are ignored. */
  cancel(ctx: NodeContext, timer: number | null): void {
    if (timer === null) return;
    const entry = this.pending.get(timer);
    if (!entry) return;
    ctx.cancelTimer(entry.contextId);
    this.pending.delete(timer);
  }

  /**
   * A timer fired with `data`: true when it is one of this object's pending timers (it is then
   * forgotten), false for a timer that was cancelled or belongs to another incarnation.
   */
  take(data: Readonly<Record<string, unknown>>): boolean {
    if (data['incarnation'] !== this.incarnation || typeof data['timer'] !== 'number') return false;
    return this.pending.delete(data['timer']);
  }

  /**
   * A timer fired with `data` while the vCPUs sleep (vMotion's throttle): it stays pending, under
   * the same number, and fires `delayNs` later. False when it is not one of this object's pending
   * timers (cancelled, or another incarnation's).
   */
  defer(ctx: NodeContext, data: Readonly<Record<string, unknown>>, delayNs: VTime): boolean {
    if (data['incarnation'] !== this.incarnation || typeof data['timer'] !== 'number') return false;
    const timer = data['timer'];
    const entry = this.pending.get(timer);
    if (!entry) return false;
    const contextId = ctx.setTimer(delayNs, entry.name, { vm: this.vm, ...entry.data, incarnation: this.incarnation, timer });
    this.pending.set(timer, { ...entry, contextId, dueAt: ctx.now() + delayNs });
    return true;
  }

  /** The pending timer with this number, for consistency checks. */
  peek(timer: number): { readonly name: string; readonly data: Readonly<Record<string, unknown>> } | null {
    const entry = this.pending.get(timer);
    return entry ? { name: entry.name, data: entry.data } : null;
  }

  /** Pending timers as plain data, with their delays counted from `now`. */
  exportState(now: VTime): GuestTimersState {
    return {
      next: this.next,
      pending: [...this.pending].map(([timer, p]) => ({ timer, name: p.name, remainingNs: Math.max(0, p.dueAt - now), data: { ...p.data } })),
    };
  }

  /**
   * Timers of a restored stack: each pending one is armed again on `ctx` with the delay it had
   * left, in the order the original armed them (so same-instant timers keep their order).
   */
  static restore(vm: string, incarnation: number, state: GuestTimersState, ctx: NodeContext): GuestTimers {
    const timers = new GuestTimers(vm, incarnation, state.next);
    for (const p of [...state.pending].sort((a, b) => a.timer - b.timer)) {
      const contextId = ctx.setTimer(p.remainingNs, p.name, { vm, ...p.data, incarnation, timer: p.timer });
      timers.pending.set(p.timer, { contextId, name: p.name, dueAt: ctx.now() + p.remainingNs, data: { ...p.data } });
    }
    return timers;
  }
}
