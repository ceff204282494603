/**
 * The manager's part in each vMotion: it owns the switchover, so that a VM never runs on two hosts
 * whatever is lost or cut.
 *
 * 1. The source registers the migration at its precheck (`migration.register`): refused when the
 *    VM is not on the source as far as the manager knows, or already migrating.
 * 2. Before it stuns the VM, the source tells the manager (`switchover.begin`).
 * 3. The destination, once its DPU imported the firewall state and it is ready to resume, asks to
 *    commit (`switchover.commit`); either side may ask to abort (`switchover.abort`).
 * 4. The manager decides exactly once per migration id: the first of commit or abort wins and
 *    every later request (a retry, the other side's) gets the same answer. The destination resumes
 *    only on `committed`; the source lets the VM go only on `committed` and resumes it only on
 *    `aborted`. A decision is recorded (`switchover.decision`) and pushed to both hosts.
 *
 * A manager that restarted knows nothing of the migrations in flight. The hosts tell it in their
 * reports: a host that acted on a decision says so, and since at most one decision was ever issued
 * per id such facts never conflict; it is adopted as the decision. Without a fact, requests about a
 * migration wait until both its hosts have reported (a decision sent just before the restart
 * could otherwise be contradicted): then no decision was acted on, and the manager decides afresh.
 */
import type { NodeContext } from '../runtime/types.js';
import type { MigrationFact } from '../mgmt/messages.js';

/** A migration as its requests name it. */
export interface MigrationRef {
  readonly mid: string;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
}

/** A decision, or not yet. */
export type Decision = 'committed' | 'aborted' | 'pending';

/** The answer to a switchover request. */
export interface DecisionAnswer {
  readonly decision: Decision;
  readonly reason: string | null;
}

interface Switchover extends MigrationRef {
  /** registered → begun → committed | aborted; `unknown` for one first heard of after a restart. */
  state: 'registered' | 'begun' | 'committed' | 'aborted' | 'unknown';
  reason: string | null;
  /** A request that waits for the hosts' reports (after a restart). */
  held: { readonly kind: 'commit' } | { readonly kind: 'abort'; readonly reason: string } | null;
}

/** What the manager does when a migration is decided. */
export interface SwitchoverHooks {
  /** Whether both hosts of a migration are known (always, unless the manager restarted and they have not reported). */
  known(host: string): boolean;
  /** Where the inventory says the VM runs. */
  hostOf(vm: string): string | null;
  /** The decision was taken now: move the VM in the inventory, push the decision to both hosts. */
  decided(ctx: NodeContext, migration: MigrationRef, decision: 'committed' | 'aborted', reason: string | null): void;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every migration the manager knows of, and its decision. */
export class Switchovers {
  private readonly all = new Map<string, Switchover>();

  constructor(private readonly hooks: SwitchoverHooks) {}

  /**
   * `migration.register`: ok, or why not; null while a host of the migration has not reported to
   * this manager since it restarted (no answer: the source asks again, the reports come first).
   * Idempotent for the same id.
   */
  register(ctx: NodeContext, ref: MigrationRef): { ok: boolean; reason: string | null } | null {
    const known = this.all.get(ref.mid);
    if (known !== undefined) {
      if (known.state === 'aborted') return { ok: false, reason: known.reason ?? 'aborted' };
      return { ok: true, reason: null };
    }
    if (!this.hooks.known(ref.from) || !this.hooks.known(ref.to)) return null;
    const where = this.hooks.hostOf(ref.vm);
    if (where !== ref.from) return { ok: false, reason: `not-on-source: the inventory has ${ref.vm} on ${where ?? 'no host'}` };
    const busy = [...this.all.values()].find((s) => s.vm === ref.vm && (s.state === 'registered' || s.state === 'begun' || s.state === 'unknown'));
    if (busy !== undefined) return { ok: false, reason: `already-migrating: ${busy.mid}` };
    this.all.set(ref.mid, { ...ref, state: 'registered', reason: null, held: null });
    ctx.emit('manager.migration', { ...pick(ref), state: 'registered' });
    return { ok: true, reason: null };
  }

  /** `switchover.begin`: the source is about to stun the VM. Idempotent. */
  begin(ctx: NodeContext, ref: MigrationRef): { ok: boolean; reason: string | null } {
    const s = this.all.get(ref.mid);
    if (s === undefined) return { ok: false, reason: 'unknown-migration: not registered with this manager' };
    if (s.state === 'aborted') return { ok: false, reason: s.reason ?? 'aborted' };
    // Registered here, or learned from the source's report after a restart: it begins now.
    if (s.state === 'registered' || s.state === 'unknown') {
      s.state = 'begun';
      ctx.emit('manager.migration', { ...pick(s), state: 'begun' });
    }
    return { ok: true, reason: null };
  }

  /** `switchover.commit`: the destination is ready to resume. */
  commit(ctx: NodeContext, ref: MigrationRef): DecisionAnswer {
    const s = this.record(ref);
    if (s.state === 'committed' || s.state === 'aborted') return { decision: s.state, reason: s.reason };
    if (s.state === 'unknown') {
      s.held = s.held ?? { kind: 'commit' };
      return this.settleHeld(ctx, s);
    }
    return this.decide(ctx, s, 'committed', null);
  }

  /** `switchover.abort`: a side gives the migration up. */
  abort(ctx: NodeContext, ref: MigrationRef, reason: string): DecisionAnswer {
    const s = this.record(ref);
    if (s.state === 'committed' || s.state === 'aborted') return { decision: s.state, reason: s.reason };
    if (s.state === 'unknown') {
      s.held = s.held ?? { kind: 'abort', reason };
      return this.settleHeld(ctx, s);
    }
    return this.decide(ctx, s, 'aborted', reason);
  }

  /** `switchover.query`: a side waits. */
  query(ctx: NodeContext, ref: MigrationRef): DecisionAnswer {
    const s = this.record(ref);
    if (s.state === 'committed' || s.state === 'aborted') return { decision: s.state, reason: s.reason };
    if (s.state === 'unknown') return this.settleHeld(ctx, s);
    return { decision: 'pending', reason: null };
  }

  /**
   * A host reported its migrations (after a restart of the manager or of the host). Facts are
   * adopted as decisions. A host that restarted (`booting`) forgot every migration it took part
   * in: each one not decided yet is aborted (its VMs start again where the inventory has them, the
   * source). A registered migration whose source no longer mentions it is aborted too. Then waiting
   * requests are settled where both hosts are known.
   */
  onReport(ctx: NodeContext, host: string, facts: readonly MigrationFact[], booting = false): void {
    if (booting) {
      for (const s of this.sorted()) {
        if ((s.from === host || s.to === host) && s.state !== 'committed' && s.state !== 'aborted') this.decide(ctx, s, 'aborted', `${host} restarted`);
      }
    }
    for (const fact of facts) {
      let s = this.all.get(fact.mid);
      if (s === undefined) {
        s = { mid: fact.mid, vm: fact.vm, from: fact.from, to: fact.to, state: 'unknown', reason: null, held: null };
        this.all.set(fact.mid, s);
      }
      if (fact.decided !== null && s.state !== 'committed' && s.state !== 'aborted') {
        s.state = fact.decided;
        s.reason = fact.decided === 'aborted' ? (fact.reason ?? `as ${host} reported`) : null;
        ctx.emit('manager.migration', { ...pick(s), state: fact.decided, reason: s.reason, fact: host });
      } else if (s.state === 'unknown' && fact.asked !== null && s.held === null) {
        s.held = fact.asked === 'commit' ? { kind: 'commit' } : { kind: 'abort', reason: fact.reason ?? `${host} gave it up` };
      }
    }
    const mentioned = new Set(facts.map((f) => f.mid));
    for (const s of this.sorted()) {
      if (s.state === 'committed' || s.state === 'aborted') continue;
      if (s.from === host && s.state === 'registered' && !mentioned.has(s.mid)) this.decide(ctx, s, 'aborted', `${host} no longer knows the migration`);
      else if (s.state === 'unknown') this.settleHeld(ctx, s);
    }
  }

  /** Migrations in flight and decided, for the resync summary and inspectors. */
  inspect(): Array<{ mid: string; vm: string; from: string; to: string; state: string; reason: string | null }> {
    return this.sorted().map((s) => ({ ...pick(s), state: s.state, reason: s.reason }));
  }

  // -------------------------------------------------------------------------------------------

  private record(ref: MigrationRef): Switchover {
    let s = this.all.get(ref.mid);
    if (s === undefined) {
      // Never registered here: this manager restarted after the migration began.
      s = { ...pick(ref), state: 'unknown', reason: null, held: null };
      this.all.set(ref.mid, s);
    }
    return s;
  }

  /** A migration first heard of after a restart: decided only once both its hosts have reported. */
  private settleHeld(ctx: NodeContext, s: Switchover): DecisionAnswer {
    if (s.held === null || !this.hooks.known(s.from) || !this.hooks.known(s.to)) return { decision: 'pending', reason: null };
    return s.held.kind === 'commit' ? this.decide(ctx, s, 'committed', null) : this.decide(ctx, s, 'aborted', s.held.reason);
  }

  private decide(ctx: NodeContext, s: Switchover, decision: 'committed' | 'aborted', reason: string | null): DecisionAnswer {
    s.state = decision;
    s.reason = reason;
    s.held = null;
    ctx.emit('switchover.decision', { ...pick(s), decision, reason });
    this.hooks.decided(ctx, s, decision, reason);
    return { decision, reason };
  }

  private sorted(): Switchover[] {
    return [...this.all.values()].sort((a, b) => byString(a.mid, b.mid));
  }
}

function pick(ref: MigrationRef): MigrationRef {
  return { mid: ref.mid, vm: ref.vm, from: ref.from, to: ref.to };
}
