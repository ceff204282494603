import { CostMeter } from './cost-meter.js';
import type { CostMode } from './cost-meter.js';
import type { CostStep } from './parameters.js';

/** The vNIC modes a frame sequence can be simulated in. */
export type SimulatedMode = Exclude<CostMode, 'none'>;

/** The two meters of one host: its x86 cores and the Arm cores of its DPU (none without a DPU). */
export interface HostMeters {
  readonly x86: CostMeter;
  readonly arm: CostMeter;
}

/** A fresh pair of meters with default parameters. */
export function freshMeters(): HostMeters {
  return { x86: new CostMeter({ core: 'x86' }), arm: new CostMeter({ core: 'arm' }) };
}

/**
 * The steps one frame takes in each mode, as `docs/datapath.md` describes them: which run on
 * the host's x86 cores and which on the DPU's Arm cores. `firstOfFlow` frames go through a rule
 * lookup; the others hit the connection table.
 */
export function stepsOf(mode: SimulatedMode, direction: 'tx' | 'rx', firstOfFlow: boolean): { x86: CostStep[]; arm: CostStep[] } {
  const dfw: CostStep = firstOfFlow ? 'dfw-lookup' : 'dfw-conntrack';
  const driver: CostStep = direction === 'tx' ? 'guest-driver-tx' : 'guest-driver-rx';
  const emulation: CostStep = direction === 'tx' ? 'emulation-tx' : 'emulation-rx';
  const network: CostStep[] = direction === 'tx' ? ['switch', dfw, 'encap'] : ['decap', dfw, 'switch'];
  switch (mode) {
    case 'uptv2':
      return { x86: [driver, 'doorbell'], arm: ['vf-dma', ...network] };
    case 'mux':
      return { x86: [driver, 'mux-tag'], arm: ['vf-dma', ...network] };
    case 'emulated':
      return { x86: [driver, emulation], arm: ['vf-dma', ...network] };
    case 'no-dpu':
      return { x86: [driver, emulation, ...network], arm: [] };
  }
}

/**
 * Charges `frames` frames of `bytes` in one direction of one flow, in `mode`, to the host's and
 * the DPU's meters: the representative sequence the cost tests compare modes with.
 */
export function chargeFlow(meters: HostMeters, mode: SimulatedMode, direction: 'tx' | 'rx', frames: number, bytes: number): void {
  for (let i = 0; i < frames; i++) {
    const steps = stepsOf(mode, direction, i === 0);
    for (const step of steps.x86) meters.x86.charge(step, mode, bytes);
    for (const step of steps.arm) meters.arm.charge(step, mode, bytes);
  }
}
