import { describe, expect, it } from 'vitest';
import { PrecopyError } from './errors.js';
import { PrecopyPlanner, type PrecopyConfig } from './precopy.js';
import { gbpsToBytesPerSec, runPrecopy } from './testing.js';

const LINK_25G = gbpsToBytesPerSec(25);
const LINK_10G = gbpsToBytesPerSec(10);
/** The default lab's VM: 4 GiB, 2000 dirty pages/s. */
const DEFAULT_VM = { memoryMiB: 4096, dirtyPagesPerSec: 2000 } as const;
/** A VM that dirties 400 000 pages/s (about 1.6 GB/s), faster than a 10 Gb/s link carries. */
const HOT_VM = { memoryMiB: 4096, dirtyPagesPerSec: 400_000 } as const;

function planner(vm: { memoryMiB: number; dirtyPagesPerSec: number }, bytesPerSec: number, extra: Partial<PrecopyConfig> = {}): PrecopyPlanner {
  return new PrecopyPlanner({ ...vm, nominalBytesPerSec: bytesPerSec, ...extra });
}

describe('PrecopyPlanner', () => {
  it('precopy of the default lab VM over 25 Gb/s converges in a few rounds with a switchover under 500 ms', () => {
    const run = runPrecopy(planner(DEFAULT_VM, LINK_25G), LINK_25G);
    expect(run.rounds[0]).toMatchObject({ index: 0, pages: 1_048_576, bytes: 4 * 1024 ** 3, throttleFactor: 1 });
    expect(run.rounds.length).toBeLessThanOrEqual(3);
    expect(run.end.kind).toBe('switchover');
    if (run.end.kind !== 'switchover') return;
    expect(run.end.estimatedNs).toBeLessThan(500_000_000);
    expect(run.end.remainingPages).toBeGreaterThan(0);
  });

  it('precopy round dirtiedDuring is the dirty rate times the round duration, in whole pages', () => {
    const first = planner(DEFAULT_VM, LINK_25G).firstRound();
    // 4 GiB at 3.125 GB/s = 1.374389535 s; 2000 pages/s over it = 2748.78 pages.
    expect(first.estimatedNs).toBe(1_374_389_535);
    expect(first.dirtiedDuring).toBe(2748);
  });

  it('precopy round dirtiedDuring is capped at the VM page count', () => {
    const first = planner(HOT_VM, LINK_10G, { throttle: { enabled: false } }).firstRound();
    expect(first.dirtiedDuring).toBe(1_048_576);
  });

  it('precopy of a VM dirtying faster than the link converges with vCPU throttling', () => {
    const run = runPrecopy(planner(HOT_VM, LINK_10G), LINK_10G);
    expect(run.end.kind).toBe('switchover');
    if (run.end.kind !== 'switchover') return;
    expect(run.end.estimatedNs).toBeLessThanOrEqual(500_000_000);
    for (const round of run.rounds) {
      expect(round.throttleFactor).toBeLessThan(1);
      expect(round.throttleSleepNs).toBeGreaterThan(0);
      expect(round.throttleSleepNs).toBeLessThanOrEqual(5_000_000);
    }
  });

  it('precopy of a VM dirtying faster than the link aborts with no-convergence when throttling is disabled', () => {
    const p = planner(HOT_VM, LINK_10G, { throttle: { enabled: false } });
    const run = runPrecopy(p, LINK_10G);
    expect(run.end).toEqual({ kind: 'abort', reason: 'no-convergence', rounds: run.rounds.length });
    expect(p.elapsedNs).toBeGreaterThanOrEqual(60_000_000_000);
    expect(run.rounds.every((round) => round.throttleFactor === 1)).toBe(true);
  });

  it('precopy limit passes inside a round longer than the limit: expire aborts with no-convergence and no round completed', () => {
    // 16 GiB over 25 Gb/s: the first pass alone takes 5.5 s, the limit is 2 s.
    const p = planner({ memoryMiB: 16_384, dirtyPagesPerSec: 2000 }, LINK_25G, { maxPrecopyNs: 2_000_000_000 });
    const first = p.firstRound();
    expect(first.estimatedNs).toBeGreaterThan(5_000_000_000);
    expect(p.remainingNs).toBe(2_000_000_000);
    expect(() => p.expire({ durationNs: 1_999_999_999 })).toThrow(expect.objectContaining({ code: 'bad-measurement' }));
    expect(p.expire({ durationNs: 2_000_000_000 })).toEqual({ kind: 'abort', reason: 'no-convergence', rounds: 0 });
    expect(p.elapsedNs).toBe(2_000_000_000);
    expect(() => p.nextRound({ pagesSent: first.pages, durationNs: first.estimatedNs, bytesPerSec: LINK_25G })).toThrow(expect.objectContaining({ code: 'bad-sequence' }));
  });

  it('precopy remainingNs shrinks by each reported round, so a later round is cut at the same overall limit', () => {
    const p = planner(HOT_VM, LINK_10G, { throttle: { enabled: false }, maxPrecopyNs: 5_000_000_000 });
    const first = p.firstRound();
    const second = p.nextRound({ pagesSent: first.pages, durationNs: first.estimatedNs, bytesPerSec: LINK_10G });
    expect(second.kind).toBe('round');
    expect(p.remainingNs).toBe(5_000_000_000 - first.estimatedNs);
    expect(p.expire({ durationNs: p.remainingNs })).toEqual({ kind: 'abort', reason: 'no-convergence', rounds: 1 });
    expect(p.elapsedNs).toBe(5_000_000_000);
  });

  it('precopy throttling is bounded and cannot save a guest far faster than the link', () => {
    const p = planner({ memoryMiB: 4096, dirtyPagesPerSec: 4_000_000 }, LINK_10G);
    const throttle = p.throttleFor(LINK_10G);
    expect(throttle.sleepNs).toBe(5_000_000);
    expect(throttle.factor).toBeCloseTo(1 / 6, 5);
    expect(runPrecopy(p, LINK_10G).end).toMatchObject({ kind: 'abort', reason: 'no-convergence' });
  });

  it('precopy throttles only when the dirty rate exceeds half the link', () => {
    const p = planner(HOT_VM, LINK_10G);
    expect(p.throttleFor(LINK_25G * 4)).toEqual({ factor: 1, sleepNs: 0 });
    // Half of 10 Gb/s is 625 MB/s; the guest dirties 1638.4 MB/s: 0.381468 of full speed.
    expect(p.throttleFor(LINK_10G)).toEqual({ factor: 0.381468, sleepNs: 1_621_445 });
  });

  it('precopy round pages decrease monotonically while converging', () => {
    const scenarios = [
      runPrecopy(planner(HOT_VM, LINK_10G), LINK_10G),
      runPrecopy(planner({ memoryMiB: 4096, dirtyPagesPerSec: 150_000 }, LINK_10G), LINK_10G),
    ];
    for (const run of scenarios) {
      expect(run.end.kind).toBe('switchover');
      expect(run.rounds.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < run.rounds.length; i++) {
        expect(run.rounds[i]!.pages).toBeLessThan(run.rounds[i - 1]!.pages);
        expect(run.rounds[i]!.index).toBe(i);
      }
    }
  });

  it('precopy is deterministic: the same inputs give the same rounds', () => {
    const config = { memoryMiB: 6000, dirtyPagesPerSec: 123_456.789, nominalBytesPerSec: LINK_10G };
    const a = runPrecopy(new PrecopyPlanner(config), 1_187_654_321.5);
    const b = runPrecopy(new PrecopyPlanner(config), 1_187_654_321.5);
    expect(b).toEqual(a);
    // Plain data, integers throughout: survives serialization unchanged.
    expect(JSON.parse(JSON.stringify(a))).toEqual(a);
    for (const round of a.rounds) {
      for (const value of [round.pages, round.bytes, round.estimatedNs, round.dirtiedDuring, round.throttleSleepNs]) {
        expect(Number.isSafeInteger(value)).toBe(true);
      }
    }
  });

  it('precopy keeps pages a round did not send dirty for the next round', () => {
    const p = planner(DEFAULT_VM, LINK_25G, { switchoverGoalNs: 0 });
    const first = p.firstRound();
    const next = p.nextRound({ pagesSent: first.pages - 1000, durationNs: first.estimatedNs, bytesPerSec: LINK_25G });
    expect(next).toMatchObject({ kind: 'round', index: 1, pages: 2748 + 1000 });
  });

  it('precopy switchoverNs of the real log case (1296 pages at 145 MB/s) is tens of ms', () => {
    const ns = planner(DEFAULT_VM, LINK_25G).switchoverNs(1296, 145_000_000);
    expect(ns).toBe(36_609_766);
  });

  it('precopy refuses calls out of order and impossible measurements', () => {
    const p = planner(DEFAULT_VM, LINK_25G);
    expect(() => p.nextRound({ pagesSent: 0, durationNs: 0, bytesPerSec: 1 })).toThrow(expect.objectContaining({ code: 'bad-sequence' }));
    const first = p.firstRound();
    expect(() => p.firstRound()).toThrow(PrecopyError);
    expect(() => p.nextRound({ pagesSent: first.pages, durationNs: 1, bytesPerSec: 0 })).toThrow(expect.objectContaining({ code: 'bad-measurement' }));
    expect(() => p.nextRound({ pagesSent: first.pages + 1, durationNs: 1, bytesPerSec: 1 })).toThrow(expect.objectContaining({ code: 'bad-measurement' }));
    expect(p.nextRound({ pagesSent: first.pages, durationNs: first.estimatedNs, bytesPerSec: LINK_25G }).kind).toBe('switchover');
    expect(() => p.nextRound({ pagesSent: 0, durationNs: 0, bytesPerSec: 1 })).toThrow(expect.objectContaining({ code: 'bad-sequence' }));
  });

  it('precopy refuses a configuration it cannot plan from', () => {
    expect(() => planner({ memoryMiB: 0, dirtyPagesPerSec: 1 }, LINK_25G)).toThrow(expect.objectContaining({ code: 'bad-config' }));
    expect(() => planner(DEFAULT_VM, 0)).toThrow(expect.objectContaining({ code: 'bad-config' }));
    expect(() => planner(DEFAULT_VM, LINK_25G, { throttle: { minFactor: 0 } })).toThrow(expect.objectContaining({ code: 'bad-config' }));
  });
});

describe('PrecopyPlanner working set', () => {
  it('precopy never finds more of the hot set dirty than the working set, however long a round runs', () => {
    const p = planner({ memoryMiB: 4096, dirtyPagesPerSec: 1_000_000 }, LINK_25G, { workingSetMiB: 256, throttle: { enabled: false } });
    const first = p.firstRound();
    const next = p.nextRound({ pagesSent: first.pages, durationNs: 10_000_000_000, bytesPerSec: LINK_25G });
    // 256 MiB of 4 KiB pages, not ten seconds of a million writes a second.
    expect(next).toMatchObject({ kind: 'switchover', remainingPages: 65_536 });
  });

  it('precopy adds the cold remainder at its own rate, and the throttle slows both', () => {
    const p = planner({ memoryMiB: 4096, dirtyPagesPerSec: 1_000 }, LINK_25G, { workingSetMiB: 256, coldDirtyPagesPerSec: 100 });
    expect(p.dirtiedIn(1_000_000_000, 1)).toBe(1_100);
    expect(p.dirtiedIn(1_000_000_000, 0.5)).toBe(550);
    expect(p.dirtiedIn(1_000_000_000_000, 1)).toBe(65_536 + 100_000);
  });

  it('precopy without a working set keeps all memory hot', () => {
    const p = planner({ memoryMiB: 1024, dirtyPagesPerSec: 1_000 }, LINK_25G);
    expect(p.dirtiedIn(1_000_000_000_000, 1)).toBe(262_144);
  });
});
