/**
 * The flow checker: what arrived of a flow, judged by app sequence numbers, and the reports the
 * guests emit about it.
 *
 * Each side reports what it can see. The sender knows how many messages it sent (and, for TCP,
 * how often it retransmitted); the receiver knows which sequence numbers arrived, how many came
 * twice and how many came after a higher one. For ping the sender sees the replies, so its report
 * is complete on its own. `combineReports` joins a sender report and a receiver report into the
 * numbers a person asks for: sent, delivered, lost.
 */
import type { VTime } from '../../../shared/events.js';
import type { FlowReportPayload, RttSummary } from '../../../shared/events/catalogue.js';
import { joinFlowReports, type FlowOutcome } from '../../../shared/state/summary.js';
import type { FlowKind } from './flow-spec.js';
import type { ReceivedFlowState, SequenceCheckerState } from './state.js';

/** What one received message was, by its sequence number. */
export type SequenceVerdict = 'new' | 'duplicate';

/**
 * Counts distinct, duplicated and reordered sequence numbers. Memory stays small on long runs:
 * everything below `floor` has been seen, and only numbers above it are kept one by one.
 */
export class SequenceChecker {
  /** Distinct sequence numbers seen. */
  delivered = 0;
  /** Arrivals of a sequence number already seen. */
  duplicated = 0;
  /** First arrivals of a sequence number lower than one already seen. */
  reordered = 0;
  /** Highest sequence number seen, -1 before the first. */
  highest = -1;
  private floor = 0;
  private readonly above = new Set<number>();

  /** Records one arrival. */
  record(seq: number): SequenceVerdict {
    if (seq < this.floor || this.above.has(seq)) {
      this.duplicated++;
      return 'duplicate';
    }
    this.delivered++;
    if (seq < this.highest) this.reordered++;
    else this.highest = seq;
    if (seq === this.floor) {
      this.floor++;
      while (this.above.delete(this.floor)) this.floor++;
    } else {
      this.above.add(seq);
    }
    return 'new';
  }

  /** Whether `seq` has arrived. */
  has(seq: number): boolean {
    return seq < this.floor || this.above.has(seq);
  }

  /** What the checker has seen, as plain data. */
  exportState(): SequenceCheckerState {
    return { delivered: this.delivered, duplicated: this.duplicated, reordered: this.reordered, highest: this.highest, floor: this.floor, above: [...this.above].sort((a, b) => a - b) };
  }

  /** A checker that carries on from an exported (and validated) state. */
  static restore(state: SequenceCheckerState): SequenceChecker {
    const checker = new SequenceChecker();
    checker.delivered = state.delivered;
    checker.duplicated = state.duplicated;
    checker.reordered = state.reordered;
    checker.highest = state.highest;
    checker.floor = state.floor;
    for (const seq of state.above) checker.above.add(seq);
    return checker;
  }
}

/** What {@link RttStats} holds, as plain data (`min` is null before the first sample). */
export interface RttState {
  readonly count: number;
  readonly sum: number;
  readonly min: number | null;
  readonly max: number;
}

/** Round-trip times of a ping flow, in virtual nanoseconds (declared with `flow.report`). */
export type { RttSummary } from '../../../shared/events/catalogue.js';

/** Accumulates round-trip samples. */
export class RttStats {
  private count = 0;
  private sum = 0;
  private min = Infinity;
  private max = 0;

  add(sample: VTime): void {
    this.count++;
    this.sum += sample;
    if (sample < this.min) this.min = sample;
    if (sample > this.max) this.max = sample;
  }

  /** min/avg/max, or null before the first sample. */
  summary(): RttSummary | null {
    if (this.count === 0) return null;
    return { min: this.min, avg: Math.round(this.sum / this.count), max: this.max };
  }

  /** The samples so far, as plain data. */
  exportState(): RttState {
    return { count: this.count, sum: this.sum, min: this.count === 0 ? null : this.min, max: this.max };
  }

  /** Stats that carry on from an exported state. */
  static restore(state: RttState): RttStats {
    const stats = new RttStats();
    stats.count = state.count;
    stats.sum = state.sum;
    stats.min = state.min ?? Infinity;
    stats.max = state.max;
    return stats;
  }
}

/** Which end of a flow a report comes from. */
export type FlowSide = 'sender' | 'receiver';

/** The payload of a `flow.report` event (declared in the event catalogue). */
export type FlowReport = FlowReportPayload;

/** The counters of a report before a side fills those it measures: every one unknown (null). */
export const UNCOUNTED = {
  sent: null,
  delivered: null,
  lost: null,
  duplicated: null,
  reordered: null,
  highestSeq: null,
  retransmits: null,
  rttNs: null,
  tcpState: null,
  closeReason: null,
  unreachable: null,
  malformed: null,
} as const satisfies Partial<FlowReport>;

/** A flow's outcome with both sides joined (the run summary's, with the guest's flow kind). */
export type FlowSummary = FlowOutcome & { readonly kind: FlowKind };

/**
 * Joins the latest sender and receiver reports of one flow. lost = sent - delivered (never below
 * 0; messages still in flight when the reports were taken count as lost). A flow whose receiver
 * never saw a message has no receiver report: pass null and everything sent is lost. A ping's
 * sender report is complete, so its receiver is always null.
 */
export function combineReports(sender: FlowReport, receiver: FlowReport | null): FlowSummary {
  return { ...joinFlowReports({ id: sender.flow, kind: sender.kind, from: sender.from, to: sender.to }, sender, receiver), kind: sender.kind };
}

/** A receiver-side flow: what arrived of it at this VM. */
export interface ReceivedFlow {
  readonly flow: string;
  readonly kind: 'tcp' | 'udp';
  readonly from: string;
  readonly to: string;
  readonly port: number;
  readonly checker: SequenceChecker;
  malformed: number;
  retransmits: number | null;
  tcpState: string | null;
  closeReason: string | null;
}

/**
 * The receiving side's table of flows, learned from the headers of the messages that arrive.
 * Flows are reported in id order, never in arrival order.
 */
export class ReceiverFlows {
  private readonly flows = new Map<string, ReceivedFlow>();

  /** The flow a message belongs to, created on its first message. */
  flowFor(flow: string, kind: 'tcp' | 'udp', from: string, to: string, port: number): ReceivedFlow {
    let entry = this.flows.get(flow);
    if (!entry) {
      entry = { flow, kind, from, to, port, checker: new SequenceChecker(), malformed: 0, retransmits: null, tcpState: null, closeReason: null };
      this.flows.set(flow, entry);
    }
    return entry;
  }

  /** Every flow seen, sorted by id. */
  list(): ReceivedFlow[] {
    return [...this.flows.values()].sort((a, b) => (a.flow < b.flow ? -1 : a.flow > b.flow ? 1 : 0));
  }

  /** The flow with this id, if any has arrived. */
  get(flow: string): ReceivedFlow | undefined {
    return this.flows.get(flow);
  }

  /** Every flow as plain data, sorted by id. */
  exportState(): ReceivedFlowState[] {
    return this.list().map((f) => ({
      flow: f.flow,
      kind: f.kind,
      from: f.from,
      to: f.to,
      port: f.port,
      checker: f.checker.exportState(),
      malformed: f.malformed,
      retransmits: f.retransmits,
      tcpState: f.tcpState,
      closeReason: f.closeReason,
    }));
  }

  /** Takes over the flows of an exported (and validated) state. */
  importState(flows: readonly ReceivedFlowState[]): void {
    this.flows.clear();
    for (const f of flows) {
      const { checker, ...rest } = f;
      this.flows.set(f.flow, { ...rest, checker: SequenceChecker.restore(checker) });
    }
  }

  /** The receiver-side report of one flow. */
  static report(vm: string, entry: ReceivedFlow, final: boolean): FlowReport {
    const c = entry.checker;
    return {
      flow: entry.flow,
      kind: entry.kind,
      side: 'receiver',
      vm,
      from: entry.from,
      to: entry.to,
      port: entry.port,
      ...UNCOUNTED,
      delivered: c.delivered,
      duplicated: c.duplicated,
      reordered: c.reordered,
      highestSeq: c.highest,
      retransmits: entry.retransmits,
      tcpState: entry.tcpState,
      closeReason: entry.closeReason,
      malformed: entry.malformed,
      final,
    };
  }
}

/** The counters of a report that change, as a key: a periodic report is skipped when it is unchanged. */
export function reportSignature(report: FlowReport): string {
  return JSON.stringify([
    report.sent,
    report.delivered,
    report.duplicated,
    report.reordered,
    report.retransmits,
    report.tcpState,
    report.unreachable,
    report.malformed,
    report.rttNs?.max ?? null,
  ]);
}
