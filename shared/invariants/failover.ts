/**
 * DPU failover invariant: a host fails over only for a reason it can show (its active DPU
 * crashed, lost every uplink, or was given up on request), and detects a crash or a loss of
 * uplinks of its active DPU within (misses + 1) heartbeat intervals.
 *
 * Events read: `dpu.failed` (dpu, reason, to), `dpu.failover.impossible` (dpu), `dpu.role` (dpu,
 * role), `link.state` on DPUs (port, up), `input.dpu.failover` (host), `input.link` and
 * `input.impair` on the pcie wires (a host that cannot hear its DPU rightly calls it crashed),
 * `node.start`, `node.exit`.
 */
import type { VTime } from '../events.js';
import { NONE, refOf, type CheckedEvent, type Invariant, type InvariantContext, type InvariantMonitor, type Violation } from './types.js';
import { Liveness, TopologyIndex, ms, typed } from './world.js';

/** Slack on a detection deadline for the pcie wire's latency and the heartbeat's own handling. */
const DETECTION_SLACK_NS: VTime = 1_000_000;

/** A fault of a host's active DPU that the host owes a decision on, by `deadline`. */
interface Obligation {
  readonly host: string;
  readonly dpu: string;
  readonly cause: 'crash' | 'linkDown';
  readonly event: CheckedEvent;
  readonly deadline: VTime;
}

/** `failover-justified`: failovers have a cause, and causes get a failover in time. */
export const failoverJustified: Invariant = {
  id: 'failover-justified',
  meaning: 'A DPU failover happens only on crash, linkDown or userInitiated (or failback when enabled), within (misses + 1) heartbeat intervals of its cause, and a crash or loss of uplinks of the active DPU is always detected in that time',
  start(context: InvariantContext): InvariantMonitor {
    const index = new TopologyIndex(context.topology);
    const liveness = new Liveness();
    const active = new Map<string, string>();
    for (const host of index.hosts.keys()) {
      const dpu = index.initialActive(host);
      if (dpu !== null) active.set(host, dpu);
    }
    /** Down uplinks per DPU, and when each DPU last had none up. */
    const downUplinks = new Map<string, Set<string>>();
    const allDownAt = new Map<string, VTime>();
    const requestedAt = new Map<string, VTime>();
    /** Last time each pcie wire went down, was restored, or was impaired (start and end of the burst). */
    const pcieTrouble = new Map<string, { from: VTime; until: VTime }[]>();
    const pcieWire = new Map<string, string>();
    for (const wire of context.topology.wires) {
      if (wire.kind !== 'pcie') continue;
      const dpu = index.kindOf.get(wire.a.node) === 'dpu' ? wire.a.node : wire.b.node;
      pcieWire.set(wire.id, dpu);
    }
    const pcieDown = new Map<string, VTime>();
    let obligations: Obligation[] = [];
    /** DPUs whose missed deadline was reported: a late failover for them says the same again. */
    const reportedLate = new Set<string>();

    function hasStandby(host: string): boolean {
      return (index.hosts.get(host)?.failover.standby.length ?? 0) > 0;
    }

    function allDown(dpu: string): boolean {
      const uplinks = index.uplinks.get(dpu) ?? [];
      const down = downUplinks.get(dpu);
      return uplinks.length > 0 && down !== undefined && uplinks.every((u) => down.has(u));
    }

    function overdue(now: VTime): Violation[] {
      if (obligations.length === 0) return [];
      const late = obligations.filter((o) => now > o.deadline);
      if (late.length === 0) return [];
      obligations = obligations.filter((o) => now <= o.deadline);
      for (const o of late) reportedLate.add(o.dpu);
      return late.map((o) => ({
        invariant: 'failover-justified',
        message: `${o.host} did not react to its active DPU ${o.dpu}'s ${o.cause === 'crash' ? 'crash' : 'loss of every uplink'} within ${ms(index.detectionBound(o.host))} ((misses + 1) heartbeat intervals): no dpu.failed nor dpu.failover.impossible`,
        event: refOf(o.event),
      }));
    }

    function owe(host: string, dpu: string, cause: Obligation['cause'], e: CheckedEvent): void {
      if (!hasStandby(host) || !liveness.isAlive(host) || active.get(host) !== dpu) return;
      if (obligations.some((o) => o.dpu === dpu && o.cause === cause)) return;
      obligations.push({ host, dpu, cause, event: e, deadline: e.vtime + index.detectionBound(host) + DETECTION_SLACK_NS });
    }

    /** Why a host could rightly call `dpu` crashed at `t`, or null. */
    function crashCause(host: string, dpu: string, t: VTime, bound: VTime): string | null {
      const exit = liveness.exitedAt.get(dpu);
      const start = liveness.startedAt.get(dpu) ?? 0;
      const hostStart = liveness.startedAt.get(host) ?? 0;
      if (exit !== undefined && !liveness.isAlive(dpu)) {
        // Dead: the host owed the decision within the bound of the kill (or of its own boot).
        const since = Math.max(exit, hostStart);
        return t - since <= bound ? 'its process died' : `late: it died ${ms(t - exit)} before`;
      }
      if (start > 0 && t - start <= bound) return 'it restarted (new boot epoch)';
      if (exit !== undefined && t - exit <= bound) return 'its process died';
      for (const [wire, d] of pcieWire) {
        if (d !== dpu) continue;
        const downAt = pcieDown.get(wire);
        if (downAt !== undefined) return 'its pcie wire is down';
        for (const burst of pcieTrouble.get(wire) ?? []) if (burst.from <= t && burst.until >= t - bound) return 'its pcie wire was impaired';
      }
      return null;
    }

    return {
      observe(event) {
        const out = overdue(event.vtime);
        const lifeChanged = liveness.observe(event);
        const e = typed(event);
        switch (e?.kind) {
          case 'node.exit': {
            const node = e.payload.node;
            // The planned exits at the end of the run are no deaths.
            if (!lifeChanged) break;
            obligations = obligations.filter((o) => o.host !== node);
            const host = index.hostOf(node);
            if (host !== null && index.kindOf.get(node) === 'dpu') owe(host, node, 'crash', e);
            break;
          }
          case 'node.start': {
            const node = e.payload.node;
            downUplinks.delete(node);
            reportedLate.delete(node);
            // A host that boots again starts from its policy.
            if (index.hosts.has(node)) {
              const dpu = index.initialActive(node);
              if (dpu !== null) active.set(node, dpu);
            }
            break;
          }
          case 'link.state': {
            const uplinks = index.uplinks.get(e.node);
            const port = e.payload.port;
            if (!uplinks || !uplinks.includes(port)) break;
            let down = downUplinks.get(e.node);
            if (!down) downUplinks.set(e.node, (down = new Set()));
            const wasAllDown = allDown(e.node);
            if (e.payload.up) down.delete(port);
            else down.add(port);
            if (allDown(e.node) && !wasAllDown) {
              allDownAt.set(e.node, e.vtime);
              const host = index.hostOf(e.node);
              if (host !== null) owe(host, e.node, 'linkDown', e);
            } else if (!allDown(e.node)) {
              // The uplinks came back before the host had to decide: nothing is owed.
              obligations = obligations.filter((o) => !(o.dpu === e.node && o.cause === 'linkDown'));
            }
            break;
          }
          case 'input.dpu.failover':
            requestedAt.set(e.payload.host, e.vtime);
            break;
          case 'input.link': {
            const wire = e.payload.wire;
            if (!pcieWire.has(wire)) break;
            if (e.payload.state === 'down') pcieDown.set(wire, e.vtime);
            else {
              const since = pcieDown.get(wire);
              pcieDown.delete(wire);
              if (since !== undefined) pcieTrouble.set(wire, [...(pcieTrouble.get(wire) ?? []), { from: since, until: e.vtime }]);
            }
            break;
          }
          case 'input.impair': {
            const { wire, loss = 0, jitter = 0, corrupt = 0, duration } = e.payload;
            if (!pcieWire.has(wire) || !(loss > 0 || jitter > 0 || corrupt > 0)) break;
            pcieTrouble.set(wire, [...(pcieTrouble.get(wire) ?? []), { from: e.vtime, until: e.vtime + duration }]);
            break;
          }
          case 'dpu.role': {
            const { dpu, role } = e.payload;
            const host = e.node;
            if (role === 'active') active.set(host, dpu);
            obligations = obligations.filter((o) => !(o.host === host && o.dpu === dpu && role !== 'active'));
            break;
          }
          case 'dpu.failover.impossible': {
            const dpu = e.payload.dpu;
            const host = e.node;
            obligations = obligations.filter((o) => !(o.host === host && o.dpu === dpu));
            break;
          }
          case 'dpu.failed': {
            const { dpu, reason, to } = e.payload;
            const host = e.node;
            obligations = obligations.filter((o) => !(o.host === host && o.dpu === dpu));
            const bound = index.detectionBound(e.node);
            const t = e.vtime;
            let problem: string | null = null;
            if (reason === 'crash') {
              const cause = crashCause(e.node, dpu, t, bound);
              if (cause === null) problem = `${dpu} is alive, restarted more than ${ms(bound)} ago and its pcie wire is sound`;
              else if (cause.startsWith('late') && !reportedLate.has(dpu)) problem = `detected too late (${cause.slice(6)}; bound ${ms(bound)})`;
            } else if (reason === 'linkDown') {
              const at = allDownAt.get(dpu);
              if (!allDown(dpu) && (at === undefined || t - at > bound)) problem = `${dpu} has an uplink up and had none down together within ${ms(bound)}`;
              else if (allDown(dpu) && at !== undefined && t - at > bound && !reportedLate.has(dpu)) problem = `detected too late (every uplink down since ${ms(t - at)} before; bound ${ms(bound)})`;
            } else if (reason === 'userInitiated') {
              const at = requestedAt.get(e.node);
              if (at === undefined || t - at > bound) problem = `no dpu.failover request for ${e.node} within ${ms(bound)}`;
            } else if (reason === 'failback') {
              if (index.hosts.get(e.node)?.failover.failback !== true) problem = `failback is off for ${e.node}`;
            } else {
              problem = `reason ${String(reason)} is none of crash, linkDown, userInitiated, failback`;
            }
            active.set(e.node, to);
            if (problem !== null) out.push({ invariant: 'failover-justified', message: `${e.node} failed over from ${dpu} (${String(reason)}) without cause: ${problem}`, event: refOf(e) });
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
