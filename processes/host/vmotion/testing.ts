import type { PrecopyAbort, PrecopyPlanner, Round, Switchover } from './precopy.js';

/** Bytes per second of a link of `gbps` gigabits per second. */
export function gbpsToBytesPerSec(gbps: number): number {
  return (gbps * 1_000_000_000) / 8;
}

/** A pre-copy run to its end: the rounds sent and how it ended. */
export interface PrecopyRun {
  readonly rounds: readonly Round[];
  readonly end: Switchover | PrecopyAbort;
}

/**
 * Runs a planner to its end over a link that always carries `bytesPerSec`: every round sends all
 * its pages and lasts exactly as long as they take to cross. Stops after `maxRounds` as a guard
 * against a planner that never ends.
 */
export function runPrecopy(planner: PrecopyPlanner, bytesPerSec: number, maxRounds = 10_000): PrecopyRun {
  const rounds: Round[] = [];
  let step: Round | Switchover | PrecopyAbort = planner.firstRound();
  while (step.kind === 'round') {
    if (rounds.length >= maxRounds) throw new Error(`Pre-copy did not end within ${maxRounds} rounds`);
    rounds.push(step);
    const durationNs = planner.switchoverNs(step.pages, bytesPerSec);
    step = planner.nextRound({ pagesSent: step.pages, durationNs, bytesPerSec });
  }
  return { rounds, end: step };
}
