/**
 * The fault explorer, in the spirit of TigerBeetle's VOPR and Jepsen: many runs, each with a fault
 * schedule drawn from its own seed, every run judged by the invariant checkers; the first failing
 * run of each broken invariant is shrunk to the smallest schedule that still breaks it and saved
 * as a scenario file, with the `dpulab run` command that replays it.
 *
 * Run `i` of an exploration from seed `S` uses seed `S + i` for both its schedule and its run, so
 * any run can be replayed alone. Results do not depend on `jobs`: runs are independent, and the
 * failure shrunk for each invariant is the one with the lowest seed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VTime } from '../../../shared/events.js';
import { INVARIANT_IDS, type Violation } from '../../../shared/invariants/index.js';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML, loadTopology } from '../../../shared/topology/load.js';
import type { ResolvedTopology } from '../../../shared/topology/types.js';
import { formatDuration } from '../../../shared/units.js';
import { ScenarioError } from '../../../shared/scenario/errors.js';
import type { RunMode, SourceFile } from '../session.js';
import { runSchedule, type ScheduleRunResult } from './runner.js';
import { drawSchedule, faultCount, scheduleYaml, withEnd, type FaultKind, type Schedule } from './schedule.js';
import { shrinkSteps } from './shrink.js';
import { WorkerPool } from './pool.js';
import type { ExploredRun, ExploreSetup, ShrunkSteps } from './types.js';

export type { ExploredRun, ExploreSetup, ShrunkSteps } from './types.js';

/** How to explore. */
export interface ExploreOptions {
  /** Topology YAML; the embedded default lab when absent. */
  readonly topology?: SourceFile;
  /** Number of runs (default 20). */
  readonly runs?: number;
  /** Seed of the first run; run `i` uses `seed + i` (default 1). */
  readonly seed?: number;
  /** Fault kinds to draw (default: all). */
  readonly faults?: readonly FaultKind[];
  /** Child processes running runs in parallel; 1 (default) runs everything in this process. */
  readonly jobs?: number;
  /** Directory for the failing runs' scenario files and the shrunk ones; none written when absent. */
  readonly out?: string;
  /** How each run hosts its nodes (default in-process). */
  readonly mode?: RunMode;
  /** Shrink the first failure of each invariant (default true). */
  readonly shrink?: boolean;
  /** Most runs shrinking one failure may take (default 120). */
  readonly shrinkBudget?: number;
  /** Shrink only the failures of these invariants (default: every broken one). */
  readonly shrinkInvariants?: readonly string[];
  /** Told after each run and each shrink. */
  readonly onProgress?: (progress: ExploreProgress) => void;
}

/** One step of progress. */
export type ExploreProgress =
  | { readonly phase: 'run'; readonly done: number; readonly total: number; readonly seed: number; readonly broken: readonly string[]; readonly wallMs: number }
  | { readonly phase: 'shrink'; readonly invariant: string; readonly seed: number; readonly runs: number; readonly steps: number };

/** A failure shrunk to its smallest schedule. */
export interface ShrunkFailure {
  readonly invariant: string;
  readonly seed: number;
  readonly originalSteps: number;
  readonly steps: number;
  /** Runs shrinking took. */
  readonly runs: number;
  /** False when the budget ran out first: smaller may exist. */
  readonly minimal: boolean;
  /** The violation the shrunk schedule gives. */
  readonly violation: Violation;
  /** The shrunk schedule as a scenario file. */
  readonly yaml: string;
  /** Where it was written (with `out`), or null. */
  readonly scenario: string | null;
  /** The command that replays it. */
  readonly replay: string;
}

/** The outcome of an exploration; `--json` prints it. */
export interface ExploreSummary {
  readonly seed: number;
  readonly runs: number;
  readonly faultsDrawn: number;
  readonly eventsChecked: number;
  readonly virtualTimeNs: VTime;
  readonly wallMs: number;
  /** Per invariant, how many runs broke it (every invariant listed, 0 when none). */
  readonly violationsByInvariant: Readonly<Record<string, number>>;
  readonly failingRuns: readonly ExploredRun[];
  readonly shrunk: readonly ShrunkFailure[];
}

/** The resolved topology of a setup. */
export function setupTopology(setup: ExploreSetup): ResolvedTopology {
  return loadTopology(setup.topology?.text ?? DEFAULT_LAB_YAML, setup.topology?.file ?? DEFAULT_LAB_FILE);
}

/** The schedule a run draws. */
export function scheduleOf(setup: ExploreSetup, seed: number, topology: ResolvedTopology = setupTopology(setup)): Schedule {
  return drawSchedule(topology, seed, setup.faults ? { faults: setup.faults } : {});
}

/** The scenario file name of a run's schedule. */
function scenarioName(seed: number, invariant?: string): string {
  return invariant === undefined ? `explore-seed-${seed}` : `shrunk-${invariant}-seed-${seed}`;
}

/** Runs a schedule as its scenario file. */
async function run(setup: ExploreSetup, schedule: Schedule, name: string, stopOn?: string): Promise<ScheduleRunResult> {
  return runSchedule({
    ...(setup.topology ? { topology: setup.topology } : {}),
    scenario: { text: scheduleYaml(schedule, name), file: `${name}.yaml` },
    seed: schedule.seed,
    mode: setup.mode,
    ...(stopOn !== undefined ? { stopOn } : {}),
  });
}

/** One run of an exploration: draw, run, judge. */
export async function exploreOne(setup: ExploreSetup, seed: number, topology?: ResolvedTopology): Promise<ExploredRun & { readonly schedule: Schedule }> {
  const schedule = scheduleOf(setup, seed, topology);
  const result = await run(setup, schedule, scenarioName(seed));
  return {
    seed,
    steps: schedule.steps.length,
    faults: faultCount(schedule),
    events: result.events,
    virtualTimeNs: result.virtualTimeNs,
    wallMs: result.wallMs,
    violations: result.firstByInvariant,
    scenario: null,
    schedule,
  };
}

/** Shrinks a failing schedule while `invariant` still breaks; returns the steps and the violation they give. */
export async function shrinkFailure(
  setup: ExploreSetup,
  schedule: Schedule,
  invariant: string,
  budget: number,
  onRun?: (runs: number, steps: number) => void,
): Promise<ShrunkSteps> {
  let lastViolation: Violation | null = null;
  const result = await shrinkSteps(
    schedule.steps,
    async (steps) => {
      const candidate = withEnd({ seed: schedule.seed, endNs: 0, steps });
      let r: ScheduleRunResult;
      try {
        r = await run(setup, candidate, scenarioName(schedule.seed, invariant), invariant);
      } catch (error) {
        // Dropping steps can leave a schedule the scenario loader refuses (without the vMotion
        // there, the one back goes to the host the VM is on): not a run, so not a reproduction.
        if (error instanceof ScenarioError) return false;
        throw error;
      }
      const v = r.violations.find((x) => x.invariant === invariant);
      if (v) lastViolation = v;
      return v !== undefined;
    },
    { budget, ...(onRun ? { onRun } : {}) },
  );
  // The violation of the schedule kept: run it once more in full to report it exactly.
  const final = await run(setup, withEnd({ seed: schedule.seed, endNs: 0, steps: result.steps }), scenarioName(schedule.seed, invariant));
  const violation = final.firstByInvariant.find((v) => v.invariant === invariant) ?? lastViolation;
  if (violation === null) throw new Error(`The shrunk schedule of seed ${schedule.seed} no longer breaks ${invariant}`);
  return { steps: result.steps, runs: result.runs + 1, minimal: result.minimal, violation };
}

/** The command that replays a scenario file. */
export function replayCommand(setup: ExploreSetup, file: string, seed: number): string {
  const topology = setup.topology ? `${setup.topology.file} ` : '';
  return `dpulab run ${topology}${setup.mode === 'in-process' ? '--in-process ' : ''}--scenario ${file} --seed ${seed}`;
}

function describeViolation(v: Violation): string {
  return `seq ${v.event.seq} at ${formatDuration(v.event.vtime)} on ${v.event.node} (${v.event.kind}): ${v.message}`;
}

/**
 * Explores: runs, judges, saves and shrinks.
 *
 * @example
 * const summary = await explore({ runs: 10, seed: 1, out: 'explore-out' });
 * for (const s of summary.shrunk) console.log(s.invariant, s.replay);
 */
export async function explore(options: ExploreOptions = {}): Promise<ExploreSummary> {
  const started = Date.now();
  const setup: ExploreSetup = { topology: options.topology ?? null, faults: options.faults ?? null, mode: options.mode ?? 'in-process' };
  const topology = setupTopology(setup);
  const total = options.runs ?? 20;
  const first = options.seed ?? 1;
  const jobs = Math.max(1, options.jobs ?? 1);
  if (options.out !== undefined) mkdirSync(options.out, { recursive: true });
  const seeds = Array.from({ length: total }, (_, i) => first + i);
  const pool = jobs > 1 ? new WorkerPool(jobs, setup) : null;

  try {
    const results: (ExploredRun & { readonly schedule: Schedule })[] = [];
    let done = 0;
    const onRun = (r: ExploredRun & { readonly schedule: Schedule }): void => {
      results.push(r);
      done++;
      options.onProgress?.({ phase: 'run', done, total, seed: r.seed, broken: r.violations.map((v) => v.invariant), wallMs: r.wallMs });
    };
    if (pool) {
      await Promise.all(seeds.map(async (seed) => onRun(await pool.run(seed))));
    } else {
      for (const seed of seeds) onRun(await exploreOne(setup, seed, topology));
    }
    results.sort((a, b) => a.seed - b.seed);

    const failing = results.filter((r) => r.violations.length > 0).map((r) => {
      if (options.out === undefined) return r;
      const file = join(options.out, `${scenarioName(r.seed)}.yaml`);
      const header = [`dpulab explore: seed ${r.seed} breaks ${r.violations.map((v) => v.invariant).join(', ')}`, ...r.violations.map((v) => `${v.invariant}: ${describeViolation(v)}`), `replay: ${replayCommand(setup, file, r.seed)}`];
      writeFileSync(file, scheduleYaml(r.schedule, scenarioName(r.seed), header));
      return { ...r, scenario: file };
    });

    const byInvariant: Record<string, number> = Object.fromEntries(INVARIANT_IDS.map((id) => [id, 0]));
    for (const r of failing) for (const v of r.violations) byInvariant[v.invariant] = (byInvariant[v.invariant] ?? 0) + 1;

    // The first failing run of each broken invariant, by seed.
    const targets: { invariant: string; run: ExploredRun & { readonly schedule: Schedule } }[] = [];
    for (const id of INVARIANT_IDS) {
      if (options.shrinkInvariants !== undefined && !options.shrinkInvariants.includes(id)) continue;
      const r = failing.find((x) => x.violations.some((v) => v.invariant === id));
      if (r) targets.push({ invariant: id, run: r });
    }
    const budget = options.shrinkBudget ?? 120;
    const shrinkOne = async (t: (typeof targets)[number]): Promise<ShrunkFailure> => {
      const report = (runs: number, steps: number): void => options.onProgress?.({ phase: 'shrink', invariant: t.invariant, seed: t.run.seed, runs, steps });
      const shrunk = pool ? await pool.shrink(t.run.schedule, t.invariant, budget) : await shrinkFailure(setup, t.run.schedule, t.invariant, budget, report);
      if (pool) report(shrunk.runs, shrunk.steps.length);
      const schedule = withEnd({ seed: t.run.seed, endNs: 0, steps: shrunk.steps });
      const name = scenarioName(t.run.seed, t.invariant);
      const file = options.out !== undefined ? join(options.out, `${name}.yaml`) : `${name}.yaml`;
      const replay = replayCommand(setup, file, t.run.seed);
      const header = [
        `dpulab explore: seed ${t.run.seed} breaks ${t.invariant}; shrunk from ${t.run.steps} to ${shrunk.steps.length} steps in ${shrunk.runs} runs${shrunk.minimal ? '' : ' (budget spent: smaller may exist)'}`,
        describeViolation(shrunk.violation),
        `replay: ${replay}`,
      ];
      const yaml = scheduleYaml(schedule, name, header);
      if (options.out !== undefined) writeFileSync(file, yaml);
      return {
        invariant: t.invariant,
        seed: t.run.seed,
        originalSteps: t.run.steps,
        steps: shrunk.steps.length,
        runs: shrunk.runs,
        minimal: shrunk.minimal,
        violation: shrunk.violation,
        yaml,
        scenario: options.out !== undefined ? file : null,
        replay,
      };
    };
    const shrunk: ShrunkFailure[] = options.shrink === false ? [] : pool ? await Promise.all(targets.map(shrinkOne)) : [];
    if (options.shrink !== false && !pool) for (const t of targets) shrunk.push(await shrinkOne(t));

    return {
      seed: first,
      runs: results.length,
      faultsDrawn: results.reduce((n, r) => n + r.faults, 0),
      eventsChecked: results.reduce((n, r) => n + r.events, 0),
      virtualTimeNs: results.reduce((n, r) => n + r.virtualTimeNs, 0),
      wallMs: Date.now() - started,
      violationsByInvariant: byInvariant,
      failingRuns: failing.map(({ schedule: _schedule, ...r }) => r),
      shrunk,
    };
  } finally {
    await pool?.close();
  }
}
