/**
 * Shrinking a failing schedule to the smallest one that still breaks the same invariant, in the
 * manner of delta debugging (Zeller's ddmin): try dropping chunks of steps, halving the chunk
 * size when no chunk can go; then simplify each remaining step (drop an impairment, halve a
 * burst, drop a vMotion's options, slow a flow) while the failure holds. Every candidate is a
 * real run with the same seed, so a shrunk schedule fails for the very same reason.
 */
import { DpulabError } from '../../../shared/errors.js';
import type { ScheduleStep } from './schedule.js';

/** Whether a candidate still fails the same way (one run of it). */
export type StillFails = (steps: readonly ScheduleStep[]) => Promise<boolean>;

export interface ShrinkOptions {
  /** Most runs shrinking may take (default 120). */
  readonly budget?: number;
  /** Told after each run: how many so far and the size of the smallest failing schedule. */
  readonly onRun?: (runs: number, steps: number) => void;
}

export interface ShrinkResult {
  readonly steps: readonly ScheduleStep[];
  /** Runs spent. */
  readonly runs: number;
  /** False when the budget ran out before no smaller schedule could be found. */
  readonly minimal: boolean;
}

/** Thrown inside shrinking when its budget of runs is spent; caught there, never seen outside. */
class OutOfBudget extends DpulabError {
  readonly code = 'shrink-budget';
}

/**
 * Shrinks `steps`, which must fail (`stillFails(steps)` true), within a budget of runs.
 *
 * @example
 * const { steps } = await shrinkSteps(schedule.steps, async (s) => (await run(s)).some((v) => v.invariant === 'vm-one-host'));
 */
export async function shrinkSteps(steps: readonly ScheduleStep[], stillFails: StillFails, options: ShrinkOptions = {}): Promise<ShrinkResult> {
  const budget = options.budget ?? 120;
  let runs = 0;
  let best = [...steps];
  const tried = new Set<string>();

  const test = async (candidate: ScheduleStep[]): Promise<boolean> => {
    const key = JSON.stringify(candidate);
    if (tried.has(key)) return false;
    if (runs >= budget) throw new OutOfBudget('Shrinking ran out of runs');
    tried.add(key);
    runs++;
    const fails = await stillFails(candidate);
    if (fails) best = candidate;
    options.onRun?.(runs, best.length);
    return fails;
  };

  try {
    await ddmin(best, test);
    // Simplify step by step until a whole pass changes nothing.
    for (let changed = true; changed; ) {
      changed = false;
      for (let i = 0; i < best.length; i++) {
        for (const simpler of simplifications(best[i]!)) {
          const candidate = best.map((s, j) => (j === i ? simpler : s));
          if (await test(candidate)) {
            changed = true;
            break;
          }
        }
      }
    }
    return { steps: best, runs, minimal: true };
  } catch (error) {
    if (error instanceof OutOfBudget) return { steps: best, runs, minimal: false };
    throw error;
  }
}

/** ddmin: removes chunks of steps while the failure holds, with ever smaller chunks. */
async function ddmin(steps: ScheduleStep[], test: (candidate: ScheduleStep[]) => Promise<boolean>): Promise<ScheduleStep[]> {
  let current = steps;
  let n = 2;
  while (current.length >= 1) {
    const chunk = Math.ceil(current.length / n);
    let reduced = false;
    for (let start = 0; start < current.length; start += chunk) {
      const complement = [...current.slice(0, start), ...current.slice(start + chunk)];
      if (await test(complement)) {
        current = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (reduced) continue;
    if (chunk === 1) break;
    n = Math.min(n * 2, current.length);
  }
  return current;
}

/** Simpler variants of a step, most drastic first. */
export function simplifications(step: ScheduleStep): ScheduleStep[] {
  const out: ScheduleStep[] = [];
  switch (step.action) {
    case 'impair': {
      const kinds = (['loss', 'duplicate', 'corrupt', 'jitter'] as const).filter((k) => step[k] !== undefined);
      if (kinds.length > 1) {
        for (const k of kinds) {
          const { [k]: _dropped, ...rest } = step;
          out.push(rest as ScheduleStep);
        }
      }
      if (step.duration >= 2_000_000) out.push({ ...step, duration: Math.round(step.duration / 2 / 1000) * 1000 });
      break;
    }
    case 'vmotion':
      if (step.options !== undefined) {
        const { options: _dropped, ...rest } = step;
        out.push(rest);
      }
      break;
    case 'flow.start':
      if ((step.flow.ratePps ?? 0) > 10) out.push({ ...step, flow: { ...step.flow, ratePps: 10 } });
      break;
    case 'dfw.rule.add':
      if (step.rule.service.destinationPorts.length > 0) out.push({ ...step, rule: { ...step.rule, service: { ...step.rule.service, destinationPorts: [] } } });
      break;
    default:
      break;
  }
  return out;
}
