/**
 * The fault explorer end to end: the command on a few runs (what CI can afford), and a bug put
 * back into a core on purpose, which the explorer must find and shrink to a handful of steps.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { INVARIANT_IDS } from '../shared/invariants/index.js';
import { DpuHaManager } from '../processes/host/ha/failover.js';
import { explore, type ExploreSummary } from '../processes/controller/explore/explore.js';
import { runSchedule } from '../processes/controller/explore/runner.js';
import { dpulab, lastJson, tempDir } from './support/cli.js';

describe('dpulab explore', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('dpulab explore runs seeded schedules in two worker processes, judges each and reports them', () => {
    const out = join(tmp.dir, 'ci');
    const result = dpulab(['explore', '--runs', '2', '--seed', '11', '--faults', 'link,impair', '--jobs', '2', '--no-shrink', '--out', out, '--json'], { timeoutMs: 110_000 });
    const summary = lastJson<ExploreSummary>(result);
    expect(summary.runs).toBe(2);
    expect(summary.seed).toBe(11);
    expect(summary.faultsDrawn).toBeGreaterThan(0);
    expect(summary.eventsChecked).toBeGreaterThan(10_000);
    expect(Object.keys(summary.violationsByInvariant).sort()).toEqual([...INVARIANT_IDS].sort());
    expect(summary.shrunk).toEqual([]);
    // Exit 1 exactly when a run broke an invariant; each failing run is saved with its replay.
    expect(result.code).toBe(summary.failingRuns.length > 0 ? 1 : 0);
    for (const run of summary.failingRuns) {
      expect([11, 12]).toContain(run.seed);
      const text = readFileSync(run.scenario!, 'utf8');
      expect(text).toContain(`replay: dpulab run --in-process --scenario ${run.scenario} --seed ${run.seed}`);
      // The replay is the run: the same invariants break, named the same way.
      const replay = lastJson<{ invariants: { broken: { invariant: string; event: { seq: number } }[] } }>(dpulab(['run', '--in-process', '--scenario', run.scenario!, '--seed', String(run.seed), '--db', join(tmp.dir, `replay-${run.seed}.db`), '--json']));
      expect(replay.invariants.broken.map((v) => [v.invariant, v.event.seq])).toEqual(run.violations.map((v) => [v.invariant, v.event.seq]));
    }
  });

  it('dpulab explore refuses an unknown fault kind with exit 2, naming it', () => {
    const result = dpulab(['explore', '--runs', '1', '--faults', 'kill,meteor']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--faults: unknown fault kind "meteor" (kinds: kill, link, impair, failover, vmotion, dfw, reserve)');
  });
});

describe('explore finds a bug put back into a core', () => {
  const original = DpuHaManager.prototype['fail' as keyof DpuHaManager] as (...args: unknown[]) => unknown;
  afterEach(() => {
    (DpuHaManager.prototype as unknown as Record<string, unknown>).fail = original;
  });

  it('explore finds a host that never fails over on a crash within 4 runs and shrinks it to at most 5 steps', { timeout: 400_000 }, async () => {
    // The bug: the host's HA manager ignores a crash of its active DPU (heartbeats lost or a new
    // boot epoch), so its vNICs stay on a dead DPU. Only a kill of an active DPU shows it.
    (DpuHaManager.prototype as unknown as Record<string, unknown>).fail = function (this: DpuHaManager, ...args: unknown[]) {
      return args[1] === 'crash' ? { kind: 'none' } : original.apply(this, args);
    };
    const summary = await explore({ runs: 4, seed: 1, faults: ['kill'], shrinkInvariants: ['failover-justified'], shrinkBudget: 60 });
    const found = summary.failingRuns.filter((r) => r.violations.some((v) => v.invariant === 'failover-justified'));
    expect(found.length).toBeGreaterThan(0);
    const shrunk = summary.shrunk.find((s) => s.invariant === 'failover-justified')!;
    expect(shrunk.seed).toBe(found[0]!.seed);
    expect(shrunk.steps).toBeLessThanOrEqual(5);
    expect(shrunk.violation.message).toMatch(/did not react to its active DPU dpu-0\da's crash within 400 ms/);
    expect(shrunk.yaml).toMatch(/action: kill, node: dpu-0\da/);
    expect(shrunk.replay).toBe(`dpulab run --in-process --scenario shrunk-failover-justified-seed-${shrunk.seed}.yaml --seed ${shrunk.seed}`);

    // The same shrunk schedule on the cores as they are: the invariant holds, so the failure was the bug's.
    (DpuHaManager.prototype as unknown as Record<string, unknown>).fail = original;
    const healthy = await runSchedule({ scenario: { text: shrunk.yaml, file: 'shrunk.yaml' }, seed: shrunk.seed });
    expect(healthy.violations.filter((v) => v.invariant === 'failover-justified')).toEqual([]);
  });
});
