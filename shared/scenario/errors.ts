/**
 * The error a bad scenario file produces, in the same form as a bad topology: every problem,
 * located to `file:line:column` and a field path.
 */

import { DpulabError } from '../errors.js';
import { formatProblemReport } from '../topology/yaml-source.js';
import type { SourceProblem } from '../topology/yaml-source.js';

/** A scenario that cannot be loaded or does not fit its topology; `problems` lists everything wrong. */
export class ScenarioError extends DpulabError {
  /** Stable code for callers to recognise the failure. */
  readonly code = 'invalid-scenario';
  /** The file name the problems refer to, as given to the loader. */
  readonly file: string;
  /** Every problem found, sorted by line and column (unknown positions first). */
  readonly problems: readonly SourceProblem[];

  constructor(file: string, problems: readonly SourceProblem[]) {
    super(formatProblemReport('scenario', file, problems), { fromInput: true });
    this.name = 'ScenarioError';
    this.file = file;
    this.problems = problems;
  }
}
