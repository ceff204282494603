import { describe, expect, it } from 'vitest';
import type { ScheduleStep } from './schedule.js';
import { shrinkSteps, simplifications } from './shrink.js';

const MS = 1_000_000;

/** Twelve steps; the failure needs the kill of dpu-02a and the cut of up-01a-a, nothing else. */
function noisySchedule(): ScheduleStep[] {
  const steps: ScheduleStep[] = [];
  for (let i = 0; i < 5; i++) steps.push({ atNs: (100 + i) * MS, action: 'flow.start', flow: { id: `f${i}`, kind: 'udp', from: 'web-01', to: 'web-02', ratePps: 100 } });
  steps.push({ atNs: 500 * MS, action: 'kill', node: 'dpu-02a' });
  steps.push({ atNs: 600 * MS, action: 'impair', wire: 'isl-ab', loss: 0.2, jitter: 5_000, duration: 400 * MS });
  steps.push({ atNs: 700 * MS, action: 'restart', node: 'dpu-02a' });
  steps.push({ atNs: 800 * MS, action: 'link', wire: 'up-01a-a', state: 'down' });
  steps.push({ atNs: 900 * MS, action: 'dpu.failover', host: 'esx-01' });
  steps.push({ atNs: 1000 * MS, action: 'vmotion', vm: 'web-01', to: 'esx-02', options: { maxPrecopy: 2000 * MS } });
  steps.push({ atNs: 1100 * MS, action: 'link', wire: 'up-01a-a', state: 'up' });
  return steps;
}

const needsKillAndCut = async (steps: readonly ScheduleStep[]): Promise<boolean> =>
  steps.some((s) => s.action === 'kill' && s.node === 'dpu-02a') && steps.some((s) => s.action === 'link' && s.state === 'down');

describe('shrinkSteps', () => {
  it('shrinkSteps keeps only the steps the failure needs', async () => {
    const runs: number[] = [];
    const result = await shrinkSteps(noisySchedule(), needsKillAndCut, { onRun: (n) => runs.push(n) });
    expect(result.steps.map((s) => s.action)).toEqual(['kill', 'link']);
    expect(result.minimal).toBe(true);
    expect(result.runs).toBe(runs.length);
    expect(result.runs).toBeLessThan(40);
  });

  it('shrinkSteps simplifies the steps it keeps: an impairment loses what the failure does not need', async () => {
    const fails = async (steps: readonly ScheduleStep[]): Promise<boolean> => steps.some((s) => s.action === 'impair' && (s.loss ?? 0) > 0);
    const result = await shrinkSteps(noisySchedule(), fails);
    expect(result.steps).toEqual([{ atNs: 600 * MS, action: 'impair', wire: 'isl-ab', loss: 0.2, duration: 1_563_000 }]);
  });

  it('shrinkSteps stops at its budget with the smallest failing schedule found so far', async () => {
    const result = await shrinkSteps(noisySchedule(), needsKillAndCut, { budget: 3 });
    expect(result.runs).toBe(3);
    expect(result.minimal).toBe(false);
    expect(await needsKillAndCut(result.steps)).toBe(true);
    expect(result.steps.length).toBeLessThan(12);
  });

  it('simplifications of a step are smaller variants of it', () => {
    expect(simplifications({ atNs: 0, action: 'vmotion', vm: 'web-01', to: 'esx-02', options: { maxPrecopy: 1 } })).toEqual([{ atNs: 0, action: 'vmotion', vm: 'web-01', to: 'esx-02' }]);
    expect(simplifications({ atNs: 0, action: 'kill', node: 'tor-a' })).toEqual([]);
    expect(simplifications({ atNs: 0, action: 'impair', wire: 'w', loss: 0.1, duration: 1_000_000 })).toEqual([]);
  });
});
