/**
 * Invariants the nodes check themselves and report as events: a frame delivered on both hosts of
 * a vMotion, a core that threw while handling a message. The checker turns each report into a
 * violation so that it ends the run with exit 1 like any other.
 *
 * Events read: `vmotion.checker.violation` (vm, checker, detail), `node.error` (message, while),
 * `node.exit` (node, planned, reason).
 */
import { NONE, refOf, type Invariant, type InvariantMonitor } from './types.js';
import { typed } from './world.js';

/** `no-double-delivery`: no frame reaches a migrating VM on both its source and its destination. */
export const noDoubleDelivery: Invariant = {
  id: 'no-double-delivery',
  meaning: "No frame is delivered to a migrating VM on both hosts: the destination's vMotion checker never reports one",
  start(): InvariantMonitor {
    return {
      observe(event) {
        const e = typed(event);
        if (e?.kind !== 'vmotion.checker.violation') return NONE;
        const p = e.payload;
        // A changed MAC is mac-stable's to report.
        if (p.checker === 'mac-unchanged') return NONE;
        return [{ invariant: 'no-double-delivery', message: `${e.node}'s vMotion checker ${p.checker} on VM ${p.vm}: ${p.detail}`, event: refOf(e) }];
      },
      finish: () => NONE,
    };
  },
};

/**
 * `no-core-error`: no node core throws while handling a message (the runtime records `node.error`
 * and goes on), and no node process dies unless the scenario killed it (`node.exit` with
 * `planned: false`).
 */
export const noCoreError: Invariant = {
  id: 'no-core-error',
  meaning: 'No node core fails while handling a message (node.error) and no node process dies unless a scenario step killed it',
  start(): InvariantMonitor {
    return {
      observe(event) {
        const e = typed(event);
        if (e?.kind === 'node.exit' && !e.payload.planned) {
          const p = e.payload;
          return [{ invariant: 'no-core-error', message: `Node ${p.node} died unasked: ${p.reason ?? (p.signal !== null ? `signal ${p.signal}` : `exit code ${String(p.code)}`)}`, event: refOf(e) }];
        }
        if (e?.kind !== 'node.error') return NONE;
        return [{ invariant: 'no-core-error', message: `${e.node} failed while handling a ${e.payload.while}: ${e.payload.message}`, event: refOf(e) }];
      },
      finish: () => NONE,
    };
  },
};
