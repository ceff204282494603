import type { VTime } from '../../../shared/events.js';
import type { OffloadReportPayload } from '../../../shared/events/catalogue.js';
import type { NodeContext } from '../../runtime/types.js';
import { CostError } from './errors.js';
import { checkArmSlowdown, COST_STEPS, DEFAULT_ARM_SLOWDOWN, resolveCostParameters } from './parameters.js';
import type { CoreType, CostOverrides, CostParameter, CostStep } from './parameters.js';
import { TAKEOVER_STEPS, type TakeoverStep } from './takeover.js';

/**
 * The datapath mode a charged frame belongs to: the mode of the vNIC it came from or goes to
 * (`uptv2`, `mux`, `emulated`), `no-dpu` for a vNIC on a host without DPUs, `none` for traffic
 * that belongs to no vNIC (control traffic, transit).
 */
export type CostMode = 'emulated' | 'mux' | 'no-dpu' | 'none' | 'uptv2';

/** Every mode, sorted. */
export const COST_MODES: readonly CostMode[] = ['emulated', 'mux', 'no-dpu', 'none', 'uptv2'];

/** What a meter was told at construction. */
export interface CostMeterOptions {
  /** The cores this meter counts: a host's x86 cores or a DPU's Arm cores. */
  readonly core: CoreType;
  /** Per-step overrides of {@link COST_PARAMETERS}. */
  readonly parameters?: CostOverrides;
  /** How many times slower an Arm core is than an x86 core; default {@link DEFAULT_ARM_SLOWDOWN}. */
  readonly armSlowdown?: number;
}

/** CPU time and frames of one step. */
export interface StepTotals {
  readonly cpuNs: number;
  readonly frames: number;
}

/** CPU time of one mode, and the cores it kept busy over the elapsed time. */
export interface ModeTotals {
  readonly cpuNs: number;
  readonly cores: number;
}

/**
 * A meter's totals as plain data, keys in sorted order: what `cost.report` carries. `coresUsed`
 * is CPU time divided by elapsed virtual time: 0.5 means half of one core on average.
 */
export interface CostReport {
  /** Per frame step, and per piece of control-plane work (a takeover's steps) charged with `chargeWork`. */
  readonly byStep: Readonly<Partial<Record<CostStep | TakeoverStep, StepTotals>>>;
  readonly byMode: Readonly<Partial<Record<CostMode, ModeTotals>>>;
  readonly totalCpuNs: number;
  readonly coresUsed: number;
}

/**
 * Counts the CPU time one node spends moving frames, by step and by datapath mode. A host has
 * one for its x86 cores, a DPU one for its Arm cores. Every charge is rounded to whole
 * nanoseconds, so totals are integers and add up exactly whatever the order of charges.
 */
export class CostMeter {
  /** The cores this meter counts. */
  readonly core: CoreType;
  /** The parameters in force (defaults with overrides). */
  readonly parameters: Readonly<Record<CostStep, CostParameter>>;
  /** The factor applied to every charge on Arm cores (1 on x86). */
  readonly factor: number;
  private readonly steps = new Map<CostStep | TakeoverStep, { cpuNs: number; frames: number }>();
  private readonly modes = new Map<CostMode, number>();
  private total = 0;

  /** @throws CostError for an unknown step or a bad amount in the overrides */
  constructor(options: CostMeterOptions) {
    this.core = options.core;
    this.parameters = resolveCostParameters(options.parameters);
    this.factor = options.core === 'arm' ? checkArmSlowdown(options.armSlowdown ?? DEFAULT_ARM_SLOWDOWN) : 1;
  }

  /** What one frame of `bytes` costs at `step` on this meter's cores, in whole ns. */
  costOf(step: CostStep, bytes: number): number {
    const parameter = this.parameters[step];
    if (parameter === undefined) throw new CostError('unknown-step', `No cost step ${JSON.stringify(step)} (steps: ${COST_STEPS.join(', ')})`);
    if (!Number.isFinite(bytes) || bytes < 0) throw new CostError('bad-bytes', `Frame length ${String(bytes)} is not a number of bytes`);
    if (parameter.runsOn === 'x86' && this.core !== 'x86') {
      throw new CostError('wrong-core', `Step ${step} runs on the host's x86 cores, not on a DPU's Arm cores`);
    }
    if (parameter.runsOn === 'dpu' && this.core !== 'arm') throw new CostError('wrong-core', `Step ${step} runs on a DPU, not on a host's x86 cores`);
    return Math.round((parameter.perFrameNs + parameter.perByteNs * bytes) * this.factor);
  }

  /**
   * Charges one frame of `bytes` at `step`, on behalf of a vNIC in `mode`; returns the ns charged.
   *
   * @throws CostError when the step cannot run on this meter's cores (a bug in the caller)
   */
  charge(step: CostStep, mode: CostMode, bytes: number): number {
    return this.add(step, mode, this.costOf(step, bytes));
  }

  /**
   * Charges one piece of control-plane work (a DPU takeover's step) of `x86Ns` on this meter's
   * cores (times the Arm slowdown on a DPU); returns the ns charged. It counts as one "frame" of
   * its step in the report.
   *
   * @throws CostError for an unknown step, a bad amount, or work charged to a host
   */
  chargeWork(step: TakeoverStep, mode: CostMode, x86Ns: number): number {
    if (!TAKEOVER_STEPS.includes(step)) throw new CostError('unknown-step', `No takeover step ${JSON.stringify(step)} (steps: ${TAKEOVER_STEPS.join(', ')})`);
    if (!Number.isFinite(x86Ns) || x86Ns < 0) throw new CostError('bad-parameter', `Takeover work ${String(x86Ns)} ns is not a duration`);
    if (this.core !== 'arm') throw new CostError('wrong-core', `Step ${step} runs on a DPU, not on a host's x86 cores`);
    return this.add(step, mode, Math.round(x86Ns * this.factor));
  }

  private add(step: CostStep | TakeoverStep, mode: CostMode, ns: number): number {
    const totals = this.steps.get(step);
    if (totals) {
      totals.cpuNs += ns;
      totals.frames += 1;
    } else {
      this.steps.set(step, { cpuNs: ns, frames: 1 });
    }
    this.modes.set(mode, (this.modes.get(mode) ?? 0) + ns);
    this.total += ns;
    return ns;
  }

  /** Total CPU time charged so far, in ns. */
  get totalCpuNs(): number {
    return this.total;
  }

  /** The totals as plain data; `elapsedNs` is the virtual time they were spent over. */
  report(elapsedNs: VTime): CostReport {
    const cores = (cpuNs: number): number => (elapsedNs > 0 ? cpuNs / elapsedNs : 0);
    const byStep: Partial<Record<CostStep | TakeoverStep, StepTotals>> = {};
    for (const step of [...this.steps.keys()].sort()) {
      const t = this.steps.get(step)!;
      byStep[step] = { cpuNs: t.cpuNs, frames: t.frames };
    }
    const byMode: Partial<Record<CostMode, ModeTotals>> = {};
    for (const mode of [...this.modes.keys()].sort()) {
      const cpuNs = this.modes.get(mode)!;
      byMode[mode] = { cpuNs, cores: cores(cpuNs) };
    }
    return { byStep, byMode, totalCpuNs: this.total, coresUsed: cores(this.total) };
  }
}

/** A DPU's hardware flow offload at the end of a run, as `cost.report` carries it. */
export type OffloadReport = OffloadReportPayload;

/** What `cost.report` carries: the report, plus whose cores these are. */
export interface CostReportPayload extends CostReport {
  readonly nodeKind: 'host' | 'dpu';
  readonly coreType: CoreType;
  /** Cores the node has (a host's x86Cores, a DPU's armCores), to read `coresUsed` against. */
  readonly coresAvailable: number;
  readonly elapsedNs: VTime;
  /** The Arm slowdown applied (1 on x86). */
  readonly factor: number;
  /** A DPU's flow offload: which path its IP packets took; null for a host. */
  readonly offload: OffloadReport | null;
}

/**
 * Records `cost.report` for a node at the end of a run. `elapsedNs` defaults to the time since
 * virtual time 0; a node started again after a kill passes the time since its own boot.
 */
export function emitCostReport(
  ctx: NodeContext,
  meter: CostMeter,
  node: { readonly nodeKind: 'host' | 'dpu'; readonly coresAvailable: number; readonly elapsedNs?: VTime; readonly offload?: OffloadReport },
): CostReportPayload {
  const elapsedNs = node.elapsedNs ?? ctx.now();
  const payload: CostReportPayload = {
    nodeKind: node.nodeKind,
    coreType: meter.core,
    coresAvailable: node.coresAvailable,
    elapsedNs,
    factor: meter.factor,
    ...meter.report(elapsedNs),
    offload: node.offload ?? null,
  };
  ctx.emit('cost.report', { ...payload });
  return payload;
}
