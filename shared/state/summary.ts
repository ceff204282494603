/**
 * What a run came to, read from the cluster state at its end: each flow with both ends joined,
 * each vMotion's outcome, the cores each node spent on networking, and each DPU's role. The
 * summary `dpulab run` prints (and `--json`) and `dpulab lab run` show; built from the fold, so
 * it says what the UI says about the same log.
 */
import type { ResolvedTopology } from '../topology/types.js';
import type { ClusterState, FlowReportView, FlowView, OffloadView, SwitchoverBreakdownView } from './cluster-state.js';
import { dpuRoleView } from './node-view.js';

/** A flow's outcome with both sides joined. */
export interface FlowOutcome {
  readonly flow: string;
  readonly kind: string;
  readonly from: string;
  readonly to: string;
  readonly sent: number;
  readonly delivered: number;
  /** sent - delivered, never below 0: messages still in flight at the last reports count as lost. */
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  readonly retransmits: number;
  readonly rttNs: { readonly min: number; readonly avg: number; readonly max: number } | null;
  /** The sender's TCP state and close reason. */
  readonly tcpState: string | null;
  readonly closeReason: string | null;
  readonly unreachable: number;
}

/** How one vMotion ended (from its `vmotion.done`). */
export interface VmotionOutcome {
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly result: string;
  readonly reason: string | null;
  readonly rounds: number;
  readonly switchoverNs: number | null;
  readonly downtimeNs: number | null;
  /** The downtime as the guest sees it: its last frame in or out before the stun to its first after the resume. */
  readonly guestDowntimeNs: number | null;
  /** Where the switchover's time went (checkpoint, transfer, commit, restore, resume), null when it did not switch over. */
  readonly breakdown: SwitchoverBreakdownView | null;
}

/** What one node's networking cost, from its `cost.report`. */
export interface CoreUse {
  readonly node: string;
  /** `host` or `dpu`. */
  readonly nodeKind: string;
  /** `x86` or `arm`. */
  readonly coreType: string;
  readonly coresUsed: number;
  /** Cores used, by vNIC mode. */
  readonly byMode: Readonly<Record<string, number>>;
  /** A DPU's hardware flow offload: packets and Arm CPU per path, hit ratio; null for a host. */
  readonly offload: Readonly<OffloadView> | null;
}

/** A DPU at the end: the role its host gives it, the role it runs, its health. */
export interface DpuOutcome {
  readonly dpu: string;
  readonly host: string;
  /** active, standby, unavailable, failed, stopped (a clean stop at the end), not-started. */
  readonly condition: string;
  readonly role: string | null;
  readonly ownRole: string | null;
  /** The host's view: MANAGED, UNAVAILABLE... */
  readonly state: string;
}

/** The parts of a run summary that come from the events. */
export interface RunOutcome {
  /** Every flow whose sender gave its final report, by flow id. */
  readonly flows: FlowOutcome[];
  /** Every vMotion that ended, in the order they ended. */
  readonly vmotions: VmotionOutcome[];
  /** Finished vMotions the state no longer holds (it keeps the latest {@link MAX_MIGRATIONS}). */
  readonly vmotionsDropped: number;
  /** Cores each host and DPU spent on networking, by node id. */
  readonly cores: CoreUse[];
  /** Every DPU of the topology, by id. */
  readonly dpus: DpuOutcome[];
}

/** What the join reads of one side's flow report: a `flow.report` payload, or the fold's copy of one. */
export type FlowReportCounts = Pick<FlowReportView, 'sent' | 'delivered' | 'duplicated' | 'reordered' | 'retransmits' | 'rttNs' | 'tcpState' | 'closeReason' | 'unreachable'>;

/**
 * Joins a flow's latest sender and receiver reports: for a ping the sender's report is complete;
 * for TCP and UDP the receiver counts what arrived (no receiver report: nothing arrived). lost =
 * sent - delivered, never below 0 (messages in flight when the reports were taken count as lost).
 * The one join the run summary, the UI and the guest's tests read a flow's outcome through.
 */
export function joinFlowReports(flow: { readonly id: string; readonly kind: string; readonly from: string; readonly to: string }, sender: FlowReportCounts, receiver: FlowReportCounts | null): FlowOutcome {
  const fromReceiver = flow.kind !== 'ping';
  const delivered = (fromReceiver ? receiver?.delivered : sender.delivered) ?? 0;
  const sent = sender.sent ?? 0;
  return {
    flow: flow.id,
    kind: flow.kind,
    from: flow.from,
    to: flow.to,
    sent,
    delivered,
    lost: Math.max(0, sent - delivered),
    duplicated: (fromReceiver ? receiver?.duplicated : sender.duplicated) ?? 0,
    reordered: (fromReceiver ? receiver?.reordered : sender.reordered) ?? 0,
    retransmits: sender.retransmits ?? 0,
    rttNs: sender.rttNs,
    tcpState: sender.tcpState,
    closeReason: sender.closeReason,
    unreachable: sender.unreachable ?? 0,
  };
}

/** A flow's outcome from the fold's view of it; null until its sender has reported. */
export function flowOutcome(flow: FlowView): FlowOutcome | null {
  const sender = flow.sender;
  if (sender === null) return null;
  return joinFlowReports({ id: flow.id, kind: flow.kind, from: sender.from ?? flow.from, to: sender.to ?? flow.to }, sender, flow.receiver);
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The run's outcome as the state at its end tells it. */
export function runOutcome(state: ClusterState, topology: ResolvedTopology): RunOutcome {
  const flows = Object.values(state.flows)
    .filter((f) => f.sender?.final === true)
    .sort((a, b) => byId(a.id, b.id))
    .flatMap((f) => {
      const outcome = flowOutcome(f);
      return outcome === null ? [] : [outcome];
    });
  const vmotions = Object.values(state.migrations)
    .filter((m) => m.endedSeq !== null && m.result !== null)
    .sort((a, b) => a.endedSeq! - b.endedSeq!)
    .map((m) => ({ vm: m.vm, from: m.from, to: m.to, result: m.result!, reason: m.reason, rounds: m.roundCount, switchoverNs: m.switchoverNs, downtimeNs: m.downtimeNs, guestDowntimeNs: m.guestDowntimeNs, breakdown: m.breakdown }));
  const cores = Object.keys(state.costs)
    .sort(byId)
    .map((node) => {
      const c = state.costs[node]!;
      return { node, nodeKind: c.nodeKind, coreType: c.coreType, coresUsed: c.coresUsed, byMode: { ...c.byMode }, offload: c.offload === null ? null : { ...c.offload } };
    });
  const dpus = topology.nodes
    .filter((n) => n.kind === 'dpu')
    .map((n) => n.id)
    .sort(byId)
    .map((id) => {
      const view = dpuRoleView(state, topology, id)!;
      return { dpu: id, host: view.host, condition: view.condition, role: view.role, ownRole: view.ownRole, state: view.state };
    });
  return { flows, vmotions, vmotionsDropped: state.migrationsDropped, cores, dpus };
}
