/**
 * vMotion invariants: a migration ends once, a VM runs on one host at a time, the firewall state
 * reaches the destination before the VM resumes there, a refused firewall export fails closed, an
 * aborted migration leaves the VM on its source with passthrough back.
 *
 * Events read: `vmotion.start` (mid, vm, from, to, vnics, options), `vmotion.stun`,
 * `vmotion.resume`, `vmotion.source.released`, `vmotion.incoming.dropped`, `vmotion.done` (mid,
 * from, to, result), `dfw.import` (node, vnic, vm, ok), `dfw.rule.hit` / `dfw.conn.new` (vnic),
 * `vnic.handoff` (vnic, dpu, direction), `vnic.mode` (vnic, requested, active, reason), the
 * inputs `input.vm.reserve` / `input.vnic.mode`, `dpu.failed`, `dpu.failover.impossible`,
 * `node.start` and `node.exit`.
 */
import type { VTime } from '../events.js';
import { DEFAULT_SETTLE_NS, NONE, refOf, type CheckedEvent, type Invariant, type InvariantContext, type InvariantMonitor, type Violation } from './types.js';
import type { TypedEvent } from '../events/typed.js';
import { Liveness, TopologyIndex, VmPlacement, ms, typed } from './world.js';

/** A migration as its `vmotion.start` described it. */
interface Migration {
  readonly start: CheckedEvent;
  readonly mid: string;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly vnics: readonly string[];
  readonly maxPrecopyNs: VTime;
  readonly onDfwRefused: 'abort' | 'disconnect';
}

/** vMotion's default pre-copy limit (`docs/vmotion.md`). */
const DEFAULT_MAX_PRECOPY_NS: VTime = 60_000_000_000;

/**
 * What a migration may take beyond its pre-copy limit before it must have ended: the 500 ms
 * switchover goal, the 250 ms answer timeout of each side, the final pages and the firewall
 * round trips, with room to spare.
 */
export const VMOTION_SWITCHOVER_ALLOWANCE_NS: VTime = 2_000_000_000;

/** Reads a `vmotion.start`. */
function migrationOf(e: TypedEvent<'vmotion.start'>): Migration {
  const p = e.payload;
  return {
    start: e,
    mid: p.mid,
    vm: p.vm,
    from: p.from,
    to: p.to,
    vnics: p.vnics ?? [],
    maxPrecopyNs: p.options?.maxPrecopy ?? DEFAULT_MAX_PRECOPY_NS,
    onDfwRefused: p.options?.onDfwRefused === 'disconnect' ? 'disconnect' : 'abort',
  };
}

/** `vmotion-ends-once`: one `vmotion.done` per migration id, and every migration ends. */
export const vmotionEndsOnce: Invariant = {
  id: 'vmotion-ends-once',
  meaning: 'Every vMotion ends exactly once: one vmotion.done per migration id, never two results, none left hanging',
  start(): InvariantMonitor {
    const started = new Map<string, Migration>();
    const done = new Map<string, TypedEvent<'vmotion.done'>>();
    const liveness = new Liveness();
    const order: string[] = [];
    return {
      observe(event) {
        liveness.observe(event);
        const e = typed(event);
        if (e?.kind === 'vmotion.start') {
          if (!started.has(e.payload.mid)) {
            started.set(e.payload.mid, migrationOf(e));
            order.push(e.payload.mid);
          }
          return NONE;
        }
        if (e?.kind !== 'vmotion.done') return NONE;
        const { mid, result } = e.payload;
        const first = done.get(mid);
        if (!first) {
          done.set(mid, e);
          return NONE;
        }
        return [
          {
            invariant: 'vmotion-ends-once',
            message: `vMotion ${mid} ended twice: ${first.payload.result} on ${first.node} (seq ${first.seq}), then ${result} on ${e.node}`,
            event: refOf(e),
          },
        ];
      },
      finish(endNs) {
        const out: Violation[] = [];
        for (const mid of order) {
          const m = started.get(mid)!;
          if (done.has(mid)) continue;
          // A source that died takes its migration with it: nobody is left to record the end.
          const exited = liveness.exitedAt.get(m.from);
          if (exited !== undefined && exited >= m.start.vtime) continue;
          const budget = m.maxPrecopyNs + VMOTION_SWITCHOVER_ALLOWANCE_NS;
          if (endNs - m.start.vtime <= budget) continue;
          out.push({
            invariant: 'vmotion-ends-once',
            message: `vMotion ${mid} of ${m.vm} from ${m.from} to ${m.to} never ended: no vmotion.done within ${ms(budget)} (its pre-copy limit plus ${ms(VMOTION_SWITCHOVER_ALLOWANCE_NS)})`,
            event: refOf(m.start),
          });
        }
        return out;
      },
    };
  },
};

/** `vm-one-host`: a VM never runs on two hosts at once. */
export const vmOneHost: Invariant = {
  id: 'vm-one-host',
  meaning: 'A VM runs on one host at a time: never resumed, thawed or booted on a host while another still runs it',
  start(): InvariantMonitor {
    const placement = new VmPlacement();
    return {
      observe(e) {
        const ran = placement.observe(e);
        if (ran === null) return NONE;
        const hosts = placement.runningOn(ran.vm);
        if (hosts.length < 2) return NONE;
        const others = hosts.filter((h) => h !== ran.host);
        const how = e.kind === 'vmotion.resume' ? 'resumed' : e.kind === 'vmotion.done' ? 'thawed by an abort' : 'booted';
        return [{ invariant: 'vm-one-host', message: `VM ${ran.vm} ${how} on ${ran.host} while ${others.join(' and ')} still runs it`, event: refOf(e) }];
      },
      finish: () => NONE,
    };
  },
};

/**
 * Follows migrations and which of them a `dfw.import` belongs to: the latest migration of the
 * import's VM towards the host of the importing node, still going on.
 */
class MigrationBook {
  readonly byMid = new Map<string, Migration>();
  /** Every migration of each VM, oldest first. */
  private readonly ofVm = new Map<string, Migration[]>();
  readonly ended = new Set<string>();

  constructor(private readonly index: TopologyIndex) {}

  observe(e: TypedEvent | null): void {
    if (e?.kind === 'vmotion.start') {
      if (!this.byMid.has(e.payload.mid)) {
        const m = migrationOf(e);
        this.byMid.set(m.mid, m);
        this.ofVm.set(m.vm, [...(this.ofVm.get(m.vm) ?? []), m]);
      }
    } else if (e?.kind === 'vmotion.done') {
      this.ended.add(e.payload.mid);
    }
  }

  /** The migration a `dfw.import` on `node` for `vm` belongs to: the latest still going on towards that node's host. */
  importTarget(vm: string, node: string): Migration | null {
    const host = this.index.hostOf(node);
    const list = this.ofVm.get(vm) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      const m = list[i]!;
      if (m.to === host && !this.ended.has(m.mid)) return m;
    }
    return null;
  }

  /** Migrations of `vm` started and not ended, other than `mid`. */
  othersUnderWay(vm: string, mid: string): Migration[] {
    return (this.ofVm.get(vm) ?? []).filter((m) => m.mid !== mid && !this.ended.has(m.mid));
  }

  /** The migration a migration id names. */
  of(mid: string): Migration | null {
    return this.byMid.get(mid) ?? null;
  }
}

/** `dfw-before-resume`: each vNIC's firewall state is imported on the destination before the VM resumes there. */
export const dfwBeforeResume: Invariant = {
  id: 'dfw-before-resume',
  meaning: "The firewall state is on the destination before resume: a dfw.import ok on a destination DPU for each vNIC before vmotion.resume, unless it is left disconnected",
  start(context: InvariantContext): InvariantMonitor {
    const index = new TopologyIndex(context.topology);
    const book = new MigrationBook(index);
    /** Per migration, per vNIC: imported (true) or refused (false) on the destination. */
    const imports = new Map<string, Map<string, boolean>>();
    return {
      observe(event) {
        const e = typed(event);
        book.observe(e);
        if (e?.kind === 'dfw.import') {
          const { vm, vnic, ok } = e.payload;
          const m = book.importTarget(vm, e.payload.node ?? e.node);
          if (!m) return NONE;
          let byVnic = imports.get(m.mid);
          if (!byVnic) imports.set(m.mid, (byVnic = new Map()));
          if (byVnic.get(vnic) !== true) byVnic.set(vnic, ok);
          return NONE;
        }
        if (e?.kind !== 'vmotion.resume') return NONE;
        const m = book.of(e.payload.mid);
        if (!m) return NONE;
        const out: Violation[] = [];
        for (const vnic of m.vnics) {
          const state = imports.get(m.mid)?.get(vnic);
          if (state === true) continue;
          if (state === false && m.onDfwRefused === 'disconnect') continue;
          const why = state === false ? `its import was refused and the migration's policy is ${m.onDfwRefused}` : 'no DPU of the destination imported it';
          out.push({ invariant: 'dfw-before-resume', message: `VM ${m.vm} resumed on ${e.node} (vMotion ${m.mid}) before the firewall state of ${vnic} was on the destination: ${why}`, event: refOf(e) });
        }
        return out;
      },
      finish: () => NONE,
    };
  },
};

/** A refused import still in force: the vNIC must stay off the refusing host's DPUs. */
interface Refusal {
  readonly event: CheckedEvent;
  readonly dpu: string;
  readonly host: string;
  readonly vm: string;
  readonly mid: string | null;
}

/**
 * `dfw-fail-closed`: a destination that does not know the firewall export's version keeps the
 * vNIC off its datapath: no DPU of that host forwards for it afterwards, and a migration whose
 * policy is `abort` does not resume there.
 */
export const dfwFailClosed: Invariant = {
  id: 'dfw-fail-closed',
  meaning: 'An unknown firewall export version fails closed: after a refused dfw.import the vNIC never forwards on that host, and an abort-policy migration never resumes there',
  start(context: InvariantContext): InvariantMonitor {
    const index = new TopologyIndex(context.topology);
    const book = new MigrationBook(index);
    const refusals = new Map<string, Refusal>();
    const resumed = new Map<string, CheckedEvent>();
    const refusedMids = new Map<string, Refusal>();
    const reported = new Set<string>();

    function once(key: string, v: Violation): readonly Violation[] {
      if (reported.has(key)) return NONE;
      reported.add(key);
      return [v];
    }

    function abortViolation(m: Migration, refusal: Refusal, at: CheckedEvent): Violation {
      return {
        invariant: 'dfw-fail-closed',
        message: `VM ${m.vm} resumed on ${m.to} (vMotion ${m.mid}, policy abort) although ${refusal.dpu} refused the firewall export of a vNIC (seq ${refusal.event.seq})`,
        event: refOf(at),
      };
    }

    return {
      observe(event) {
        const e = typed(event);
        book.observe(e);
        if (e === null) return NONE;
        switch (e.kind) {
          case 'node.start': {
            // A DPU that boots again has forgotten what it refused.
            for (const [vnic, r] of refusals) if (r.dpu === e.payload.node) refusals.delete(vnic);
            return NONE;
          }
          case 'vmotion.start': {
            for (const [vnic, r] of refusals) if (r.vm === e.payload.vm) refusals.delete(vnic);
            return NONE;
          }
          case 'dfw.import': {
            const { vnic, vm } = e.payload;
            const dpu = e.payload.node ?? e.node;
            if (e.payload.ok) {
              const r = refusals.get(vnic);
              if (r && r.dpu === dpu) refusals.delete(vnic);
              return NONE;
            }
            const host = index.hostOf(dpu);
            if (host === null) return NONE;
            const m = book.importTarget(vm, dpu);
            const refusal: Refusal = { event: e, dpu, host, vm, mid: m?.mid ?? null };
            refusals.set(vnic, refusal);
            if (!m) return NONE;
            if (!refusedMids.has(m.mid)) refusedMids.set(m.mid, refusal);
            const r = resumed.get(m.mid);
            if (r && m.onDfwRefused === 'abort') return once(`abort:${m.mid}`, abortViolation(m, refusal, e));
            return NONE;
          }
          case 'vmotion.resume': {
            const m = book.of(e.payload.mid);
            if (!m) return NONE;
            resumed.set(m.mid, e);
            const refusal = refusedMids.get(m.mid);
            if (refusal && m.onDfwRefused === 'abort') return once(`abort:${m.mid}`, abortViolation(m, refusal, e));
            return NONE;
          }
          case 'vmotion.done': {
            const m = book.of(e.payload.mid);
            const refusal = refusedMids.get(e.payload.mid);
            if (!m || !refusal || m.onDfwRefused !== 'disconnect') return NONE;
            if (e.payload.result === 'success' || e.payload.result === 'success-emulated') {
              return once(`done:${m.mid}`, {
                invariant: 'dfw-fail-closed',
                message: `vMotion ${m.mid} of ${m.vm} ended ${e.payload.result} although ${refusal.dpu} refused a vNIC's firewall export (seq ${refusal.event.seq}): it must end success-disconnected or aborted`,
                event: refOf(e),
              });
            }
            return NONE;
          }
          case 'dfw.rule.hit':
          case 'dfw.conn.new':
          case 'vnic.handoff': {
            const vnic = e.payload.vnic;
            const r = refusals.get(vnic);
            if (!r) return NONE;
            if (e.kind === 'vnic.handoff' && e.payload.direction !== 'emulated-to-vf') return NONE;
            const where = e.kind === 'vnic.handoff' ? e.payload.dpu : e.node;
            if (where === null || index.hostOf(where) !== r.host || index.kindOf.get(where) !== 'dpu') return NONE;
            return once(`fwd:${vnic}:${r.event.seq}`, {
              invariant: 'dfw-fail-closed',
              message: `vNIC ${vnic} is served by ${where} on ${r.host} (${e.kind}) after ${r.dpu} refused its firewall export (seq ${r.event.seq})`,
              event: refOf(e),
            });
          }
          default:
            return NONE;
        }
      },
      finish: () => NONE,
    };
  },
};

/** Modes a vNIC reports while it waits for its VF; anything else is an answer. */
const WAITING_REASONS = new Set(['awaiting-vf', 'vmotion-in-progress']);

/** An aborted migration's vNIC that asked for UPTv2 and must get it back (or say why not) by `deadline`. */
interface PendingRestore {
  readonly done: CheckedEvent;
  readonly mid: string;
  readonly vm: string;
  readonly vnic: string;
  readonly host: string;
  readonly deadline: VTime;
}

/**
 * `abort-restores-source`: an aborted migration is recorded by the source, never after the VM
 * resumed on the destination, and its UPTv2 vNICs are back in passthrough on the source within
 * the settling time, or say why they cannot be.
 */
export const abortRestoresSource: Invariant = {
  id: 'abort-restores-source',
  meaning: 'An aborted vMotion leaves the VM on its source (ended by the source, never after a resume on the destination) with passthrough restored where possible',
  start(context: InvariantContext): InvariantMonitor {
    const index = new TopologyIndex(context.topology);
    const settle = context.settleNs ?? DEFAULT_SETTLE_NS;
    const book = new MigrationBook(index);
    const liveness = new Liveness();
    const resumed = new Map<string, CheckedEvent>();
    const aborted = new Map<string, CheckedEvent>();
    const requested = new Map<string, string>();
    /** The mode each vNIC last reported, by `host|vnic`. */
    const active = new Map<string, string>();
    /** The vNICs each migration found in passthrough when it started: those it must give back. */
    const inPassthrough = new Map<string, Set<string>>();
    let pending: PendingRestore[] = [];

    function overdue(now: VTime): Violation[] {
      if (pending.length === 0) return [];
      const late = pending.filter((r) => now > r.deadline);
      if (late.length === 0) return [];
      pending = pending.filter((r) => now <= r.deadline);
      return late.map((r) => ({
        invariant: 'abort-restores-source',
        message: `vMotion ${r.mid} of ${r.vm} aborted but ${r.vnic} did not get passthrough back on ${r.host} within ${ms(settle)}, nor said why`,
        event: refOf(r.done),
      }));
    }

    /** Forgets restores that a later fault on the source excuses. */
    function excuse(test: (r: PendingRestore) => boolean): void {
      pending = pending.filter((r) => !test(r));
    }

    return {
      observe(event) {
        const out = overdue(event.vtime);
        const e = typed(event);
        book.observe(e);
        const lifeChanged = liveness.observe(event);
        switch (e?.kind) {
          case 'vnic.mode': {
            const { vnic, requested: req, active: mode, reason } = e.payload;
            requested.set(vnic, req);
            active.set(`${e.node}|${vnic}`, mode);
            if (mode === 'uptv2' || (reason !== null && !WAITING_REASONS.has(reason))) excuse((r) => r.vnic === vnic && r.host === e.node);
            break;
          }
          case 'vmotion.resume': {
            const m = book.of(e.payload.mid);
            if (!m) break;
            resumed.set(m.mid, e);
            const a = aborted.get(m.mid);
            if (a) out.push({ invariant: 'abort-restores-source', message: `VM ${m.vm} resumed on ${e.node} after its vMotion ${m.mid} was aborted (seq ${a.seq})`, event: refOf(e) });
            break;
          }
          case 'vmotion.done': {
            if (e.payload.result !== 'aborted') break;
            const m = book.of(e.payload.mid);
            if (!m || aborted.has(m.mid)) break;
            aborted.set(m.mid, e);
            const r = resumed.get(m.mid);
            if (r) out.push({ invariant: 'abort-restores-source', message: `vMotion ${m.mid} of ${m.vm} aborted after the VM had resumed on ${r.node} (seq ${r.seq})`, event: refOf(e) });
            if (e.node !== m.from) out.push({ invariant: 'abort-restores-source', message: `vMotion ${m.mid} of ${m.vm} was aborted by ${e.node}, not by its source ${m.from}`, event: refOf(e) });
            // A migration refused because another is under way touched nothing.
            if (book.othersUnderWay(m.vm, m.mid).length > 0) break;
            for (const vnic of m.vnics) {
              if ((requested.get(vnic) ?? index.vnics.get(vnic)?.mode) !== 'uptv2') continue;
              // Only what the migration took away is owed: a vNIC that was not in passthrough when
              // it started (no VF, memory not reserved), or is still in it, is not.
              if (!inPassthrough.get(m.mid)?.has(vnic) || active.get(`${m.from}|${vnic}`) === 'uptv2') continue;
              pending.push({ done: e, mid: m.mid, vm: m.vm, vnic, host: m.from, deadline: e.vtime + settle });
            }
            break;
          }
          case 'vmotion.start': {
            const vm = e.payload.vm;
            excuse((r) => r.vm === vm);
            const m = book.of(e.payload.mid);
            if (m) inPassthrough.set(m.mid, new Set(m.vnics.filter((v) => (active.get(`${m.from}|${v}`) ?? index.vnics.get(v)?.mode) === 'uptv2')));
            break;
          }
          case 'input.vm.reserve': {
            const vm = e.payload.vm;
            excuse((r) => r.vm === vm);
            break;
          }
          case 'input.vnic.mode': {
            const vnic = e.payload.vnic;
            excuse((r) => r.vnic === vnic);
            break;
          }
          case 'node.exit': {
            // Only a death excuses: the planned exits at the end of the run change nothing.
            const node = e.payload.node;
            if (!lifeChanged) break;
            excuse((r) => r.host === node || index.hostOf(node) === r.host);
            break;
          }
          case 'dpu.failed':
          case 'dpu.failover.impossible':
          case 'dpu.role': {
            // The source's DPUs changed hands: passthrough now depends on the failover, not on the abort.
            const host = e.node;
            excuse((r) => r.host === host);
            break;
          }
          default:
            break;
        }
        return out.length === 0 ? NONE : out;
      },
      finish: (endNs) => overdue(endNs),
    };
  },
};
