/**
 * The plain data the explorer's parent and its workers exchange: what a run shares with the others,
 * what one run found, what shrinking kept.
 */
import type { VTime } from '../../../shared/events.js';
import type { Violation } from '../../../shared/invariants/index.js';
import type { FaultKind, ScheduleStep } from './schedule.js';
import type { RunMode, SourceFile } from '../session.js';

/** What every run of one exploration shares; plain data, so it can be sent to a worker. */
export interface ExploreSetup {
  readonly topology: SourceFile | null;
  readonly faults: readonly FaultKind[] | null;
  readonly mode: RunMode;
}

/** What one run did and broke, as the explorer keeps it. */
export interface ExploredRun {
  readonly seed: number;
  readonly steps: number;
  readonly faults: number;
  readonly events: number;
  readonly virtualTimeNs: VTime;
  readonly wallMs: number;
  /** The first violation of each invariant the run broke. */
  readonly violations: readonly Violation[];
  /** The scenario file written for it (failing runs with `out` only). */
  readonly scenario: string | null;
}

/** What shrinking one failure kept. */
export interface ShrunkSteps {
  readonly steps: readonly ScheduleStep[];
  /** Runs it took. */
  readonly runs: number;
  /** False when the budget ran out first. */
  readonly minimal: boolean;
  /** The violation the kept steps give. */
  readonly violation: Violation;
}
