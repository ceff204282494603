import { describe, expect, test } from 'vitest';
import { CostMeter } from './cost-meter.js';
import { CostError } from './errors.js';
import { switchoverCost } from './switchover.js';
import { takeoverWorkNs, TAKEOVER_STEPS } from './takeover.js';

describe('takeover cost', () => {
  test('takeover of a host with three vNICs costs a DPU more than 100 us of Arm time, each step charged', () => {
    const meter = new CostMeter({ core: 'arm' });
    const work = takeoverWorkNs({ connections: 10, vnics: 3, macs: 4 });
    const total = TAKEOVER_STEPS.reduce((n, step) => n + meter.chargeWork(step, 'none', work[step]), 0);
    expect(total).toBeGreaterThan(100_000);
    expect(meter.totalCpuNs).toBe(total);
    const report = meter.report(1_000_000_000);
    expect(Object.keys(report.byStep)).toEqual([...TAKEOVER_STEPS].sort());
    // The Arm slowdown applies as to any step.
    expect(report.byStep['takeover-vf-bind']).toEqual({ cpuNs: Math.round(work['takeover-vf-bind'] * 1.5), frames: 1 });
  });

  test('takeover work grows with what there is to take over', () => {
    const small = takeoverWorkNs({ connections: 0, vnics: 1, macs: 0 });
    const large = takeoverWorkNs({ connections: 1000, vnics: 8, macs: 100 });
    for (const step of TAKEOVER_STEPS) expect(large[step]).toBeGreaterThan(small[step]);
  });

  test('takeover work is refused on a host meter and for a bad amount', () => {
    expect(() => new CostMeter({ core: 'x86' }).chargeWork('takeover-switch', 'none', 10)).toThrow(CostError);
    expect(() => new CostMeter({ core: 'arm' }).chargeWork('takeover-switch', 'none', -1)).toThrow(CostError);
  });
});

describe('switchover cost', () => {
  test('switchover of a 2-vCPU VM with one vNIC saves, restores and resumes in about 16 ms', () => {
    const cost = switchoverCost({ vcpus: 2, vnics: 1 });
    expect(cost).toEqual({ checkpointNs: 7_000_000, restoreNs: 7_000_000, resumeNs: 2_000_000 });
  });

  test('switchover grows with vCPUs and vNICs', () => {
    const small = switchoverCost({ vcpus: 1, vnics: 1 });
    const large = switchoverCost({ vcpus: 16, vnics: 4 });
    expect(large.checkpointNs).toBeGreaterThan(small.checkpointNs);
    expect(large.restoreNs).toBeGreaterThan(small.restoreNs);
  });
});
