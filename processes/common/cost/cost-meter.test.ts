import { describe, expect, test } from 'vitest';
import { TestContext } from '../../runtime/testing.js';
import { CostMeter, emitCostReport } from './cost-meter.js';
import { CostError } from './errors.js';
import { COST_PARAMETERS, DEFAULT_ARM_SLOWDOWN } from './parameters.js';
import { chargeFlow, freshMeters } from './testing.js';
import type { SimulatedMode } from './testing.js';

function costErrorOf(fn: () => unknown): CostError {
  try {
    fn();
  } catch (error) {
    if (error instanceof CostError) return error;
    throw error;
  }
  throw new Error('expected a CostError');
}

describe('CostMeter', () => {
  test('charges add up by step, by mode and in total', () => {
    const meter = new CostMeter({ core: 'x86', parameters: { 'emulation-tx': { perFrameNs: 500, perByteNs: 0.5 }, switch: { perFrameNs: 100 } } });
    expect(meter.charge('emulation-tx', 'emulated', 1000)).toBe(1000);
    expect(meter.charge('emulation-tx', 'no-dpu', 200)).toBe(600);
    expect(meter.charge('switch', 'no-dpu', 1500)).toBe(100);
    const report = meter.report(1_000_000);
    expect(report.byStep).toEqual({ 'emulation-tx': { cpuNs: 1600, frames: 2 }, switch: { cpuNs: 100, frames: 1 } });
    expect(report.byMode).toEqual({ emulated: { cpuNs: 1000, cores: 0.001 }, 'no-dpu': { cpuNs: 700, cores: 0.0007 } });
    expect(report.totalCpuNs).toBe(1700);
    expect(report.coresUsed).toBeCloseTo(0.0017, 12);
  });

  test('reports steps and modes in sorted order whatever the order of charges', () => {
    const meter = new CostMeter({ core: 'arm' });
    meter.charge('switch', 'uptv2', 64);
    meter.charge('encap', 'mux', 64);
    meter.charge('arp-suppress', 'none', 64);
    meter.charge('decap', 'emulated', 64);
    const report = meter.report(1e9);
    expect(Object.keys(report.byStep)).toEqual(['arp-suppress', 'decap', 'encap', 'switch']);
    expect(Object.keys(report.byMode)).toEqual(['emulated', 'mux', 'none', 'uptv2']);
  });

  test('rounds each charge to whole ns so that steps sum to the total exactly', () => {
    const meter = new CostMeter({ core: 'arm', parameters: { hairpin: { perFrameNs: 1, perByteNs: 0.1 } }, armSlowdown: 1.37 });
    let sum = 0;
    for (let bytes = 60; bytes < 1600; bytes += 37) sum += meter.charge('hairpin', 'uptv2', bytes);
    const report = meter.report(1e9);
    expect(Number.isInteger(report.totalCpuNs)).toBe(true);
    expect(report.totalCpuNs).toBe(sum);
    expect(report.byStep.hairpin?.cpuNs).toBe(sum);
  });

  test('reports zero cores over an empty run rather than dividing by zero', () => {
    const meter = new CostMeter({ core: 'x86' });
    meter.charge('doorbell', 'uptv2', 0);
    expect(meter.report(0)).toEqual({ byStep: { doorbell: { cpuNs: 30, frames: 1 } }, byMode: { uptv2: { cpuNs: 30, cores: 0 } }, totalCpuNs: 30, coresUsed: 0 });
  });

  test('charges Arm cores the x86 cost times the slowdown factor', () => {
    const x86 = new CostMeter({ core: 'x86' });
    const arm = new CostMeter({ core: 'arm' });
    const slow = new CostMeter({ core: 'arm', armSlowdown: 3 });
    expect(x86.charge('dfw-lookup', 'no-dpu', 100)).toBe(COST_PARAMETERS['dfw-lookup'].perFrameNs);
    expect(arm.charge('dfw-lookup', 'uptv2', 100)).toBe(COST_PARAMETERS['dfw-lookup'].perFrameNs * DEFAULT_ARM_SLOWDOWN);
    expect(slow.charge('dfw-lookup', 'uptv2', 100)).toBe(COST_PARAMETERS['dfw-lookup'].perFrameNs * 3);
  });

  test('refuses a step charged to cores it cannot run on', () => {
    expect(costErrorOf(() => new CostMeter({ core: 'arm' }).charge('guest-driver-tx', 'uptv2', 100)).code).toBe('wrong-core');
    expect(costErrorOf(() => new CostMeter({ core: 'arm' }).charge('emulation-rx', 'emulated', 100)).code).toBe('wrong-core');
    expect(costErrorOf(() => new CostMeter({ core: 'x86' }).charge('vf-dma', 'uptv2', 100)).code).toBe('wrong-core');
    expect(new CostMeter({ core: 'x86' }).charge('switch', 'no-dpu', 100)).toBe(COST_PARAMETERS.switch.perFrameNs);
  });

  test('overrides change the named parameter only, and bad overrides are refused', () => {
    const meter = new CostMeter({ core: 'arm', parameters: { 'vf-dma': { perByteNs: 0.01 } } });
    expect(meter.parameters['vf-dma']).toEqual({ perFrameNs: 0, perByteNs: 0.01, runsOn: 'dpu' });
    expect(meter.parameters.switch).toEqual(COST_PARAMETERS.switch);
    expect(meter.charge('vf-dma', 'uptv2', 1000)).toBe(15);
    expect(costErrorOf(() => new CostMeter({ core: 'x86', parameters: { switch: { perFrameNs: -1 } } })).code).toBe('bad-parameter');
    expect(costErrorOf(() => new CostMeter({ core: 'x86', parameters: { encap: { perByteNs: Number.NaN } } })).code).toBe('bad-parameter');
    expect(costErrorOf(() => new CostMeter({ core: 'arm', armSlowdown: 0 })).code).toBe('bad-parameter');
    const unknown = costErrorOf(() => new CostMeter({ core: 'x86', parameters: { swich: { perFrameNs: 1 } } as never }));
    expect(unknown.code).toBe('unknown-step');
    expect(unknown.message).toMatch(/^No cost step "swich"/);
  });
});

describe('cost model defaults', () => {
  const FRAMES = 1000;
  const BYTES = 1000;
  const MODES: readonly SimulatedMode[] = ['uptv2', 'mux', 'emulated', 'no-dpu'];

  function run(mode: SimulatedMode): { x86: number; arm: number } {
    const meters = freshMeters();
    chargeFlow(meters, mode, 'tx', FRAMES, BYTES);
    chargeFlow(meters, mode, 'rx', FRAMES, BYTES);
    return { x86: meters.x86.totalCpuNs, arm: meters.arm.totalCpuNs };
  }

  test('use fewer x86 cores the more the DPU does: no DPU > emulated > mux > uptv2', () => {
    const [uptv2, mux, emulated, noDpu] = MODES.map(run) as [ReturnType<typeof run>, ReturnType<typeof run>, ReturnType<typeof run>, ReturnType<typeof run>];
    expect(noDpu.x86).toBeGreaterThan(emulated.x86);
    expect(emulated.x86).toBeGreaterThan(mux.x86);
    expect(mux.x86).toBeGreaterThan(uptv2.x86);
  });

  test('put the switching, firewall and tunnel work on the DPU Arm cores, at the Arm slowdown', () => {
    const results = Object.fromEntries(MODES.map((m) => [m, run(m)])) as Record<SimulatedMode, { x86: number; arm: number }>;
    expect(results['no-dpu'].arm).toBe(0);
    expect(results.uptv2.arm).toBeGreaterThan(0);
    expect(results.mux.arm).toBe(results.uptv2.arm);
    expect(results.emulated.arm).toBe(results.uptv2.arm);
    // What the host stops doing when a DPU switches for it (emulated vs no DPU: the same device
    // emulation, no software switch) reappears on the Arm cores, made slower by the factor.
    const movedX86 = results['no-dpu'].x86 - results.emulated.x86;
    expect(results.uptv2.arm).toBeCloseTo(movedX86 * DEFAULT_ARM_SLOWDOWN, -1);
    // And with a DPU the host as a whole does less: uptv2 frees most of what no-DPU spends.
    expect(results['no-dpu'].x86 - results.uptv2.x86).toBeGreaterThan(results.uptv2.x86);
  });

  test('match the public anchors: passthrough about 5 to 6 times cheaper, no soft switch about 38% cheaper', () => {
    const uptv2 = run('uptv2');
    const emulated = run('emulated');
    const noDpu = run('no-dpu');
    const passthroughGain = noDpu.x86 / uptv2.x86;
    expect(passthroughGain).toBeGreaterThanOrEqual(5);
    expect(passthroughGain).toBeLessThanOrEqual(6);
    const noSoftSwitchGain = noDpu.x86 / emulated.x86;
    expect(noSoftSwitchGain).toBeGreaterThan(1.3);
    expect(noSoftSwitchGain).toBeLessThan(1.45);
  });
});

describe('emitCostReport', () => {
  test('records cost.report with the report, the node kind and the core type', () => {
    const ctx = new TestContext('dpu-01a', { clock: { now: 2_000_000_000 } });
    const meter = new CostMeter({ core: 'arm' });
    meter.charge('switch', 'uptv2', 1000);
    emitCostReport(ctx, meter, { nodeKind: 'dpu', coresAvailable: 8 });
    expect(ctx.events).toEqual([
      {
        node: 'dpu-01a',
        time: 2_000_000_000,
        kind: 'cost.report',
        payload: {
          nodeKind: 'dpu',
          coreType: 'arm',
          coresAvailable: 8,
          elapsedNs: 2_000_000_000,
          factor: 1.5,
          byStep: { switch: { cpuNs: 195, frames: 1 } },
          byMode: { uptv2: { cpuNs: 195, cores: 195 / 2e9 } },
          totalCpuNs: 195,
          coresUsed: 195 / 2e9,
          offload: null,
        },
      },
    ]);
  });
});
