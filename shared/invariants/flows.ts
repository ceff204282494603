/**
 * Traffic invariants, judged from the guests' flow checkers (`flow.report`): no flow delivers more
 * than it sent, and after the last fault and a settling time, traffic between two healthy hosts
 * flows again.
 *
 * Events read: `input.flow.start` / `input.flow.stop` (the flows asked for), `flow.report` (flow,
 * kind, side, sent, delivered, highestSeq), every other `input.*` (faults), `vmotion.start` /
 * `vmotion.done`, the VM placement events (see `VmPlacement`), `dpu.role`, `dpu.failed`,
 * `dpu.failover.impossible`, `dpu.failover.done`, `dpu.vnics.reconnected`, `dfw.rule.hit`,
 * `dfw.reject`, `node.start`, `node.exit`.
 */
import type { VTime } from '../events.js';
import { DEFAULT_SETTLE_NS, NONE, refOf, type CheckedEvent, type Invariant, type InvariantContext, type InvariantMonitor, type Violation } from './types.js';
import { Liveness, TopologyIndex, VmPlacement, ms, typed } from './world.js';

/** One side's report of a flow. */
interface Report {
  readonly event: CheckedEvent;
  readonly sent: number | null;
  readonly delivered: number | null;
  readonly highestSeq: number | null;
}

/** `flow-no-excess`: a receiver never counts more distinct messages than its sender had sent, nor a sequence number never sent. */
export const flowNoExcess: Invariant = {
  id: 'flow-no-excess',
  meaning: 'No flow delivers more than was sent: distinct messages received never exceed those sent, and no sequence number arrives that was never sent',
  start(): InvariantMonitor {
    const starts = new Map<string, number>();
    const senders = new Map<string, Report[]>();
    const receivers = new Map<string, Report[]>();
    return {
      observe(event) {
        const e = typed(event);
        if (e?.kind === 'input.flow.start') {
          const flow = e.payload.flow.id;
          starts.set(flow, (starts.get(flow) ?? 0) + 1);
          return NONE;
        }
        if (e?.kind !== 'flow.report') return NONE;
        const p = e.payload;
        const report: Report = { event: e, sent: p.sent, delivered: p.delivered, highestSeq: p.highestSeq };
        if (p.side === 'sender' && p.kind === 'ping') {
          // A ping's sender sees the replies: its own report must add up.
          if (report.sent !== null && report.delivered !== null && report.delivered > report.sent) {
            return [{ invariant: 'flow-no-excess', message: `ping ${p.flow} counts ${report.delivered} replies to ${report.sent} requests`, event: refOf(e) }];
          }
          return NONE;
        }
        const list = p.side === 'sender' ? senders : receivers;
        const reports = list.get(p.flow) ?? [];
        reports.push(report);
        list.set(p.flow, reports);
        return NONE;
      },
      finish() {
        const out: Violation[] = [];
        for (const [flow, received] of [...receivers].sort(([a], [b]) => (a < b ? -1 : 1))) {
          // A flow id used twice restarts its sequence numbers: its counts cannot be compared.
          if ((starts.get(flow) ?? 0) > 1) continue;
          const sent = senders.get(flow) ?? [];
          for (const r of received) {
            // Compare with what the sender had sent by then: its first report at or after this one.
            const s = sent.find((x) => x.event.vtime >= r.event.vtime && x.sent !== null);
            if (!s || s.sent === null) continue;
            let problem: string | null = null;
            if (r.delivered !== null && r.delivered > s.sent) problem = `delivers ${r.delivered} distinct messages of ${s.sent} sent`;
            else if (r.highestSeq !== null && r.highestSeq >= s.sent) problem = `received sequence number ${r.highestSeq} but only ${s.sent} were sent (0 to ${s.sent - 1})`;
            if (problem === null) continue;
            out.push({ invariant: 'flow-no-excess', message: `Flow ${flow} ${problem} (sender report seq ${s.event.seq} on ${s.event.node})`, event: refOf(r.event) });
            break;
          }
        }
        return out;
      },
    };
  },
};

/** Flow reports come at each whole second of virtual time (`processes/host/guest/stack.ts`). */
const REPORT_PERIOD_NS: VTime = 1_000_000_000;

/** How long traffic is watched once the settling time is over: one report period. */
export const TRAFFIC_WINDOW_NS: VTime = REPORT_PERIOD_NS;

/** Inputs that change nothing in the lab's health: traffic itself, marks, traces, firewall rules (judged per flow). */
const HARMLESS_INPUTS = new Set(['input.flow.start', 'input.flow.stop', 'input.note', 'input.traceflow', 'input.dfw.rule.add', 'input.dfw.rule.remove']);

/** A flow the recovery check may judge. */
interface WatchedFlow {
  readonly id: string;
  readonly kind: string;
  readonly from: string;
  readonly to: string;
  readonly start: CheckedEvent;
  readonly count: number | null;
  stopped: boolean;
  /** The reports that count its deliveries: the receiver's (UDP) or the sender's replies (ping). */
  readonly reports: Report[];
}

/**
 * `traffic-recovers`: once the lab has had its settling time after the last fault, every ping
 * and UDP flow between two healthy hosts delivers again.
 *
 * - *Last fault*: the latest input other than traffic, notes, traces and firewall rules (a kill,
 *   restart, link change, impairment burst (its end), failover request, vMotion, reservation or
 *   mode change), or the end of the latest vMotion.
 * - *Settling time*: `settleNs` (default 1 s). The window opens at the first whole second after
 *   last fault + settling time (flow reports come each whole second) and must last at least one
 *   second before the end of the run; otherwise nothing is judged.
 * - *Healthy host*: alive through the window, serving its vNICs (its active DPU alive, reached
 *   over a pcie wire that is up and not left disconnected, or no DPU at all), and joined to the
 *   other host's serving DPU by live switches and Ethernet wires that are up.
 * - *Flows*: a ping (replies counted by its sender) or UDP flow (messages counted by its
 *   receiver) between VMs that each run on exactly one such host, started before the window,
 *   not stopped, not limited by a count, neither VM rebooted since it started nor migrating,
 *   and never denied by a firewall rule. It flows if its delivered count grew during the window.
 *   TCP is not judged: its retransmission timer backs off after an outage beyond any fixed window.
 */
export const trafficRecovers: Invariant = {
  id: 'traffic-recovers',
  meaning: 'After the last fault and the settling time, ping and UDP traffic between two healthy hosts flows again',
  start(context: InvariantContext): InvariantMonitor {
    const index = new TopologyIndex(context.topology);
    const settle = context.settleNs ?? DEFAULT_SETTLE_NS;
    const liveness = new Liveness();
    const placement = new VmPlacement();
    const flows = new Map<string, WatchedFlow>();
    const flowStarts = new Map<string, number>();
    let lastFault: { at: VTime; event: CheckedEvent } | null = null;
    const wireDown = new Set<string>();
    const active = new Map<string, string>();
    const disconnected = new Set<string>();
    for (const host of index.hosts.keys()) {
      const dpu = index.initialActive(host);
      if (dpu !== null) active.set(host, dpu);
    }
    const bootedAt = new Map<string, VTime>();
    const migrating = new Map<string, number>();
    const disconnectedVms = new Set<string>();
    const denied = new Set<string>();

    function fault(at: VTime, e: CheckedEvent): void {
      if (lastFault === null || at >= lastFault.at) lastFault = { at, event: e };
    }

    function pairKey(a: string, b: string): string {
      return a < b ? `${a}|${b}` : `${b}|${a}`;
    }

    /** The node that carries a host's traffic: its active DPU, or itself without DPUs; null when none does. */
    function servingNode(host: string): string | null {
      if (!liveness.isAlive(host)) return null;
      if (index.dpusOf(host).length === 0) return host;
      const dpu = active.get(host);
      if (dpu === undefined || disconnected.has(host) || !liveness.isAlive(dpu)) return null;
      // The host reaches its DPU over their pcie wire.
      const pcie = context.topology.wires.find((w) => w.kind === 'pcie' && [w.a.node, w.b.node].includes(host) && [w.a.node, w.b.node].includes(dpu));
      if (pcie !== undefined && wireDown.has(pcie.id)) return null;
      return dpu;
    }

    /** Nodes reachable from `start` through live switches and Ethernet wires that are up. */
    function reachable(start: string): Set<string> {
      const seen = new Set([start]);
      const queue = [start];
      while (queue.length > 0) {
        const node = queue.shift()!;
        for (const w of context.topology.wires) {
          if (w.kind !== 'ethernet' || wireDown.has(w.id)) continue;
          const other = w.a.node === node ? w.b.node : w.b.node === node ? w.a.node : null;
          if (other === null || seen.has(other) || !liveness.isAlive(other)) continue;
          seen.add(other);
          // Only switches carry frames between their ports; a DPU or host is an end.
          if (index.kindOf.get(other) === 'switch') queue.push(other);
        }
      }
      return seen;
    }

    return {
      observe(event) {
        liveness.observe(event);
        const ran = placement.observe(event);
        if (ran !== null && event.kind === 'vnic.mode') bootedAt.set(ran.vm, event.vtime);
        const e = typed(event);
        if (e === null) return NONE;
        if (e.kind.startsWith('input.') && !HARMLESS_INPUTS.has(e.kind)) fault(e.kind === 'input.impair' ? e.vtime + e.payload.duration : e.vtime, e);
        switch (e.kind) {
          case 'input.flow.start': {
            const { id, from, to, kind } = e.payload.flow;
            flowStarts.set(id, (flowStarts.get(id) ?? 0) + 1);
            // A flow's destination is a VM id or an address; either way the check needs the VM.
            const toVm = index.vnicsOfVm.has(to) ? to : (index.vmOfIp.get(to) ?? null);
            if (toVm === null) break;
            flows.set(id, { id, kind, from, to: toVm, start: e, count: e.payload.flow.count ?? null, stopped: false, reports: [] });
            break;
          }
          case 'input.flow.stop':
          case 'flow.stop': {
            // Stopped by a step, or ended on its own (refused, reset, count reached).
            const f = flows.get(e.payload.flow);
            if (f) f.stopped = true;
            break;
          }
          case 'flow.report': {
            const p = e.payload;
            const f = flows.get(p.flow);
            if (!f) break;
            const counts = (f.kind === 'ping' && p.side === 'sender') || (f.kind === 'udp' && p.side === 'receiver');
            if (counts) f.reports.push({ event: e, sent: p.sent, delivered: p.delivered, highestSeq: p.highestSeq });
            break;
          }
          case 'input.link':
            if (e.payload.state === 'down') wireDown.add(e.payload.wire);
            else wireDown.delete(e.payload.wire);
            break;
          case 'vmotion.start': {
            const vm = e.payload.vm;
            migrating.set(vm, (migrating.get(vm) ?? 0) + 1);
            fault(e.vtime, e);
            break;
          }
          case 'vmotion.done': {
            const { vm, result } = e.payload;
            migrating.set(vm, Math.max(0, (migrating.get(vm) ?? 0) - 1));
            if (result === 'success-disconnected') disconnectedVms.add(vm);
            else if (result !== 'aborted') disconnectedVms.delete(vm);
            fault(e.vtime, e);
            break;
          }
          case 'node.start': {
            const node = e.payload.node;
            if (index.hosts.has(node)) {
              const dpu = index.initialActive(node);
              if (dpu !== null) active.set(node, dpu);
              disconnected.delete(node);
            }
            break;
          }
          case 'node.exit':
            if (!e.payload.planned) fault(e.vtime, e);
            break;
          case 'dpu.role':
            if (e.payload.role === 'active') active.set(e.node, e.payload.dpu);
            break;
          case 'dpu.failed':
            active.set(e.node, e.payload.to);
            break;
          case 'dpu.failover.impossible':
            if (e.payload.vnicsDisconnected) disconnected.add(e.node);
            break;
          case 'dpu.failover.done':
            disconnected.delete(e.node);
            active.set(e.node, e.payload.to);
            break;
          case 'dpu.vnics.reconnected':
            disconnected.delete(e.node);
            break;
          case 'dfw.rule.hit':
          case 'dfw.reject': {
            if (e.kind === 'dfw.rule.hit' && e.payload.action === 'allow') break;
            const a = index.vmOfIp.get(e.payload.src);
            const b = index.vmOfIp.get(e.payload.dst);
            if (a !== undefined && b !== undefined) denied.add(pairKey(a, b));
            break;
          }
          default:
            break;
        }
        return NONE;
      },
      finish(endNs) {
        const last = lastFault as { at: VTime; event: CheckedEvent } | null;
        const settledAt = (last?.at ?? 0) + settle;
        const windowStart = Math.ceil(settledAt / REPORT_PERIOD_NS) * REPORT_PERIOD_NS;
        if (endNs - windowStart < TRAFFIC_WINDOW_NS) return NONE;
        const out: Violation[] = [];
        const reach = new Map<string, Set<string>>();
        for (const f of [...flows.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
          if (f.kind !== 'ping' && f.kind !== 'udp') continue;
          if (f.stopped || f.count !== null || (flowStarts.get(f.id) ?? 0) > 1 || f.start.vtime >= windowStart) continue;
          if (denied.has(pairKey(f.from, f.to))) continue;
          const vms = [f.from, f.to];
          if (vms.some((vm) => (migrating.get(vm) ?? 0) > 0 || disconnectedVms.has(vm) || (bootedAt.get(vm) ?? -1) > f.start.vtime)) continue;
          // Each VM on exactly one host, running there, held nowhere else.
          if (vms.some((vm) => placement.runningOn(vm).length !== 1 || placement.presence(vm).size !== 1)) continue;
          const fromHost = placement.runningOn(f.from)[0]!;
          const toHost = placement.runningOn(f.to)[0]!;
          // Alive through the window: nothing started or exited after it opened.
          if ([fromHost, toHost].some((h) => (liveness.startedAt.get(h) ?? 0) > windowStart)) continue;
          const a = servingNode(fromHost);
          const b = servingNode(toHost);
          if (a === null || b === null) continue;
          if ([a, b].some((n) => (liveness.startedAt.get(n) ?? 0) > windowStart)) continue;
          if (!reach.has(a)) reach.set(a, reachable(a));
          if (!reach.get(a)!.has(b)) continue;
          const before = [...f.reports].reverse().find((r) => r.event.vtime <= windowStart);
          const after = f.reports[f.reports.length - 1];
          const deliveredBefore = before?.delivered ?? 0;
          const deliveredAfter = after?.delivered ?? 0;
          if (deliveredAfter > deliveredBefore) continue;
          const fault = last ? `last fault ${last.event.kind} at ${ms(last.event.vtime)} (seq ${last.event.seq})` : 'no fault';
          out.push({
            invariant: 'traffic-recovers',
            message: `${f.kind} flow ${f.id} from ${f.from} (${fromHost}) to ${f.to} (${toHost}) delivered nothing from ${ms(windowStart)} to ${ms(endNs)} although both hosts are healthy (${fault}, settle ${ms(settle)}; ${deliveredAfter} delivered in all)`,
            event: refOf(after?.event ?? f.start),
          });
        }
        return out;
      },
    };
  },
};
