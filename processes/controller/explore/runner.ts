/**
 * Runs one schedule and judges it: the scenario file's text goes through the same preparation as
 * `dpulab run --scenario`, so what the explorer saw is what the replay command shows. Events go
 * straight to the invariant checkers, not to a database: the explorer keeps only the verdict.
 */
import type { VTime } from '../../../shared/events.js';
import type { Violation } from '../../../shared/invariants/index.js';
import { planInput } from '../actions.js';
import type { Cluster, NodeExit } from '../cluster.js';
import { Controller } from '../controller.js';
import { InProcessCluster } from '../in-process.js';
import { OnlineInvariants } from '../invariants.js';
import { MultiProcessCluster } from '../multi-process.js';
import { prepareRun, type RunMode, type SourceFile } from '../session.js';

/** What to run. */
export interface ScheduleRunOptions {
  /** Topology YAML; the embedded default lab when absent. */
  readonly topology?: SourceFile;
  /** The schedule as a scenario file. */
  readonly scenario: SourceFile;
  readonly seed: number;
  readonly mode?: RunMode;
  readonly settleNs?: VTime;
  /** Stop as soon as this invariant breaks (shrinking needs no more). */
  readonly stopOn?: string;
  /** Where node processes' log lines go (multi-process). */
  readonly log?: (line: string) => void;
}

/** The verdict on one run. */
export interface ScheduleRunResult {
  /** `stopped` when `stopOn` broke and the run was cut short. */
  readonly status: 'completed' | 'stopped';
  readonly events: number;
  readonly virtualTimeNs: VTime;
  readonly wallMs: number;
  /** Every violation, in the order found. */
  readonly violations: readonly Violation[];
  /** The first violation of each invariant that broke. */
  readonly firstByInvariant: readonly Violation[];
  /** Node processes that died on their own (multi-process). */
  readonly crashed: readonly NodeExit[];
}

/** Runs a schedule's scenario against its topology and checks every invariant on the events. */
export async function runSchedule(options: ScheduleRunOptions): Promise<ScheduleRunResult> {
  const prepared = prepareRun({ ...(options.topology ? { topology: options.topology } : {}), scenario: options.scenario, seed: options.seed });
  const mode = options.mode ?? 'in-process';
  const cluster: Cluster =
    mode === 'in-process'
      ? new InProcessCluster(prepared.topology, prepared.seed)
      : new MultiProcessCluster({ topology: prepared.topology, seed: prepared.seed, log: options.log ?? (() => {}) });
  const checks = new OnlineInvariants(prepared.topology, options.settleNs !== undefined ? { settleNs: options.settleNs } : {});
  let stopped = false;
  const started = Date.now();
  try {
    const controller = new Controller({
      topology: prepared.topology,
      cluster,
      endNs: prepared.endNs,
      inputs: prepared.inputs,
      plan: (record) => planInput(prepared.topology, record),
      sink: {
        append: (events) => {
          const found = checks.append(events);
          if (options.stopOn !== undefined && found.some((v) => v.invariant === options.stopOn)) {
            stopped = true;
            return false;
          }
          return true;
        },
      },
    });
    const result = await controller.run();
    // A run cut short is not judged as a whole: its end is not the scenario's.
    const report = stopped ? checks.sofar() : checks.finish(result.virtualTimeNs);
    return {
      status: stopped ? 'stopped' : 'completed',
      events: result.events,
      virtualTimeNs: result.virtualTimeNs,
      wallMs: Date.now() - started,
      violations: report.violations,
      firstByInvariant: report.firstByInvariant,
      crashed: result.crashed,
    };
  } finally {
    await cluster.dispose();
  }
}
