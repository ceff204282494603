/**
 * The invariant checkers: every property dpulab's emulated world must keep, each a pure fold over
 * a run's events. The CLI (`dpulab run`, `dpulab explore`), the tests and the UI all use this one
 * list, so a property is written once and judged the same everywhere.
 *
 * | id | what must hold |
 * | --- | --- |
 * | `vmotion-ends-once` | every vMotion ends exactly once |
 * | `vm-one-host` | a VM runs on one host at a time |
 * | `flow-no-excess` | no flow delivers more than was sent |
 * | `traffic-recovers` | after the last fault and a settling time, traffic between healthy hosts flows again |
 * | `drops-logged` | every frame dropped is logged with a reason |
 * | `mac-stable` | a vNIC's MAC never changes |
 * | `vf-arcs` | VF moves are VFIO v2 arcs, each one logged |
 * | `dfw-before-resume` | the firewall state is on the destination before resume |
 * | `dfw-fail-closed` | an unknown export version fails closed |
 * | `abort-restores-source` | an aborted vMotion leaves the VM on its source, passthrough back |
 * | `failover-justified` | failover only on crash, linkDown or request, detected in time |
 * | `ring-view` | the guest's ring view equals the device's after every hand-off |
 * | `no-double-delivery` | no frame reaches a migrating VM on both hosts |
 * | `no-core-error` | no node core throws |
 *
 * `docs/explore.md` explains each one, the events it reads and its limits.
 */
import type { VTime } from '../events.js';
import { NONE, type CheckedEvent, type Invariant, type InvariantContext, type InvariantMonitor, type Violation } from './types.js';
import { abortRestoresSource, dfwBeforeResume, dfwFailClosed, vmOneHost, vmotionEndsOnce } from './vmotion.js';
import { flowNoExcess, trafficRecovers } from './flows.js';
import { dropsLogged } from './drops.js';
import { macStable, ringView, vfArcs } from './devices.js';
import { failoverJustified } from './failover.js';
import { noCoreError, noDoubleDelivery } from './node-reports.js';

export type { CheckedEvent, EventRef, Invariant, InvariantContext, InvariantMonitor, Violation } from './types.js';
export { DEFAULT_SETTLE_NS } from './types.js';

/** Every invariant, in the order summaries list them. */
export const INVARIANTS: readonly Invariant[] = [
  vmotionEndsOnce,
  vmOneHost,
  flowNoExcess,
  trafficRecovers,
  dropsLogged,
  macStable,
  vfArcs,
  dfwBeforeResume,
  dfwFailClosed,
  abortRestoresSource,
  failoverJustified,
  ringView,
  noDoubleDelivery,
  noCoreError,
];

/** The ids of every invariant. */
export const INVARIANT_IDS: readonly string[] = INVARIANTS.map((i) => i.id);

/** The invariant with this id, or undefined. */
export function invariantById(id: string): Invariant | undefined {
  return INVARIANTS.find((i) => i.id === id);
}

/** A verdict on a whole run. */
export interface InvariantReport {
  /** Events observed. */
  readonly events: number;
  /** Every violation, in the order found (by event seq, then invariant order). */
  readonly violations: readonly Violation[];
  /** The first violation of each invariant that broke, in invariant order. */
  readonly firstByInvariant: readonly Violation[];
}

/**
 * Checks a run as it goes: every invariant (or those chosen) observes each event once, and the
 * whole run is judged when it ends. Use it online (a live run, the UI) or over a recorded log.
 *
 * @example
 * const suite = new InvariantSuite({ topology });
 * for (const e of events) suite.observe(e);
 * const report = suite.finish(endNs);
 * if (report.violations.length > 0) console.log(report.firstByInvariant[0]);
 */
export class InvariantSuite {
  private readonly monitors: { readonly invariant: Invariant; readonly monitor: InvariantMonitor }[];
  private readonly found: Violation[] = [];
  private events = 0;
  private finished: InvariantReport | null = null;

  constructor(context: InvariantContext, invariants: readonly Invariant[] = INVARIANTS) {
    this.monitors = invariants.map((invariant) => ({ invariant, monitor: invariant.start(context) }));
  }

  /** Observes the next event (in seq order); returns the violations it revealed. */
  observe(event: CheckedEvent): readonly Violation[] {
    if (this.finished) throw new Error('Cannot observe an event after the run was judged');
    this.events++;
    let out: Violation[] | null = null;
    for (const { monitor } of this.monitors) {
      const found = monitor.observe(event);
      if (found.length === 0) continue;
      out ??= [];
      out.push(...found);
    }
    if (out === null) return NONE;
    this.found.push(...out);
    return out;
  }

  /** Violations found so far. */
  violations(): readonly Violation[] {
    return this.found;
  }

  /** Ends the run at `endNs` and returns the verdict (the same one on later calls). */
  finish(endNs: VTime): InvariantReport {
    if (this.finished) return this.finished;
    for (const { monitor } of this.monitors) this.found.push(...monitor.finish(endNs));
    const first = new Map<string, Violation>();
    for (const v of this.found) {
      const seen = first.get(v.invariant);
      if (!seen || v.event.seq < seen.event.seq) first.set(v.invariant, v);
    }
    const order = this.monitors.map((m) => m.invariant.id);
    this.finished = {
      events: this.events,
      violations: this.found,
      firstByInvariant: order.flatMap((id) => (first.has(id) ? [first.get(id)!] : [])),
    };
    return this.finished;
  }
}

/** Checks a whole run at once. */
export function checkInvariants(events: Iterable<CheckedEvent>, context: InvariantContext, endNs: VTime, invariants?: readonly Invariant[]): InvariantReport {
  const suite = new InvariantSuite(context, invariants);
  for (const e of events) suite.observe(e);
  return suite.finish(endNs);
}
