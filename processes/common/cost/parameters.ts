import { CostError } from './errors.js';

/**
 * The steps a frame can take through a host or a DPU, each charged separately. The names are
 * the ones `cost.report` uses as keys and `docs/cost-model.md` explains.
 */
export type CostStep =
  | 'arp-suppress'
  | 'decap'
  | 'dfw-conntrack'
  | 'dfw-lookup'
  | 'doorbell'
  | 'emulation-rx'
  | 'emulation-tx'
  | 'encap'
  | 'eswitch'
  | 'guest-driver-rx'
  | 'guest-driver-tx'
  | 'hairpin'
  | 'mux-tag'
  | 'route'
  | 'switch'
  | 'vf-dma';

/** Every step, sorted: the order reports list them in. */
export const COST_STEPS: readonly CostStep[] = [
  'arp-suppress',
  'decap',
  'dfw-conntrack',
  'dfw-lookup',
  'doorbell',
  'emulation-rx',
  'emulation-tx',
  'encap',
  'eswitch',
  'guest-driver-rx',
  'guest-driver-tx',
  'hairpin',
  'mux-tag',
  'route',
  'switch',
  'vf-dma',
];

/** The two kinds of CPU a meter counts: a host's x86 cores or a DPU's Arm cores. */
export type CoreType = 'x86' | 'arm';

/**
 * Where a step can run: only on the host's x86 cores (the guest's vCPU, the hypervisor), only on
 * the DPU (its VF hardware), or on whichever box does the switching (`any`: the DPU's Arm cores
 * when the host has a DPU, the host's x86 cores in a software switch).
 */
export type StepPlacement = 'x86' | 'dpu' | 'any';

/** What one step costs, in nanoseconds of x86 CPU: a fixed part per frame plus a part per byte. */
export interface CostParameter {
  readonly perFrameNs: number;
  readonly perByteNs: number;
  readonly runsOn: StepPlacement;
}

/**
 * The default cost of every step, in ns of one x86 core. A charge on a DPU's Arm cores is
 * multiplied by {@link DEFAULT_ARM_SLOWDOWN}. No public measurement gives these per-step figures
 * (nor the cores a DPU frees): they are parameters, chosen so that the ratios between datapath
 * modes match the public anchors listed in `docs/cost-model.md`, and each can be overridden.
 */
export const COST_PARAMETERS: Readonly<Record<CostStep, CostParameter>> = {
  'arp-suppress': { perFrameNs: 300, perByteNs: 0, runsOn: 'any' },
  decap: { perFrameNs: 110, perByteNs: 0, runsOn: 'any' },
  'dfw-conntrack': { perFrameNs: 100, perByteNs: 0, runsOn: 'any' },
  'dfw-lookup': { perFrameNs: 700, perByteNs: 0, runsOn: 'any' },
  doorbell: { perFrameNs: 30, perByteNs: 0, runsOn: 'x86' },
  'emulation-rx': { perFrameNs: 700, perByteNs: 0.15, runsOn: 'x86' },
  'emulation-tx': { perFrameNs: 600, perByteNs: 0.15, runsOn: 'x86' },
  encap: { perFrameNs: 130, perByteNs: 0, runsOn: 'any' },
  // A packet of an offloaded flow, switched, filtered and encapsulated by the DPU's eSwitch
  // hardware: no Arm CPU by default, like vf-dma (docs/cost-model.md, "Hardware flow offload").
  eswitch: { perFrameNs: 0, perByteNs: 0, runsOn: 'dpu' },
  'guest-driver-rx': { perFrameNs: 250, perByteNs: 0, runsOn: 'x86' },
  'guest-driver-tx': { perFrameNs: 200, perByteNs: 0, runsOn: 'x86' },
  hairpin: { perFrameNs: 150, perByteNs: 0.05, runsOn: 'any' },
  'mux-tag': { perFrameNs: 120, perByteNs: 0, runsOn: 'x86' },
  route: { perFrameNs: 90, perByteNs: 0, runsOn: 'any' },
  switch: { perFrameNs: 130, perByteNs: 0, runsOn: 'any' },
  'vf-dma': { perFrameNs: 0, perByteNs: 0, runsOn: 'dpu' },
};

/**
 * How many times longer an Arm core of the DPU takes than an x86 core for the same step. A
 * BlueField-2's Arm A72 cores are narrower and clocked lower than a server's x86 cores; 1.5 is a
 * parameter, not a measurement.
 */
export const DEFAULT_ARM_SLOWDOWN = 1.5;

/** Overrides for some parameters of some steps; the rest keep their defaults. */
export type CostOverrides = Partial<Readonly<Record<CostStep, Partial<Pick<CostParameter, 'perFrameNs' | 'perByteNs'>>>>>;

/** True for a step name this model knows. */
export function isCostStep(name: string): name is CostStep {
  return (COST_STEPS as readonly string[]).includes(name);
}

function checkAmount(what: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new CostError('bad-parameter', `Cost parameter ${what} is ${String(value)}, expected a finite number of at least 0`);
  }
  return value;
}

/**
 * The parameter table with `overrides` applied, checked: every amount a finite number of at
 * least 0, every step a known one.
 *
 * @throws CostError `unknown-step` or `bad-parameter`
 */
export function resolveCostParameters(overrides: CostOverrides = {}): Readonly<Record<CostStep, CostParameter>> {
  for (const name of Object.keys(overrides)) {
    if (!isCostStep(name)) throw new CostError('unknown-step', `No cost step ${JSON.stringify(name)} (steps: ${COST_STEPS.join(', ')})`);
  }
  const table = {} as Record<CostStep, CostParameter>;
  for (const step of COST_STEPS) {
    const base = COST_PARAMETERS[step];
    const override = overrides[step] ?? {};
    table[step] = {
      perFrameNs: checkAmount(`${step}.perFrameNs`, override.perFrameNs ?? base.perFrameNs),
      perByteNs: checkAmount(`${step}.perByteNs`, override.perByteNs ?? base.perByteNs),
      runsOn: base.runsOn,
    };
  }
  return table;
}

/** Checks an Arm slowdown factor: a finite number greater than 0. */
export function checkArmSlowdown(value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new CostError('bad-parameter', `Arm slowdown is ${String(value)}, expected a finite number greater than 0`);
  }
  return value;
}
