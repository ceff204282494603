/**
 * The error a bad lab file produces, in the same form as a bad topology or scenario: every
 * problem, located to `file:line:column` and a field path.
 */

import { DpulabError } from '../errors.js';
import { formatProblemReport } from '../topology/yaml-source.js';
import type { SourceProblem } from '../topology/yaml-source.js';

/** A lab that cannot be loaded; `problems` lists everything wrong with it, in file order. */
export class LabError extends DpulabError {
  /** Stable code for callers to recognise the failure. */
  readonly code = 'invalid-lab';
  /** The file name the problems refer to, as given to the loader. */
  readonly file: string;
  readonly problems: readonly SourceProblem[];

  constructor(file: string, problems: readonly SourceProblem[]) {
    super(formatProblemReport('lab', file, problems), { fromInput: true });
    this.name = 'LabError';
    this.file = file;
    this.problems = problems;
  }
}
