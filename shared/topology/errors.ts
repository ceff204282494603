/**
 * The error a bad topology file produces: every problem found, each located to
 * `file:line:column` and a field path, so that one run of the loader is enough to fix a file.
 */

import { DpulabError } from '../errors.js';
import { formatProblemReport } from './yaml-source.js';
import type { SourceProblem } from './yaml-source.js';

/** A topology file that cannot be loaded; `problems` lists everything wrong with it, in file order. */
export class TopologyError extends DpulabError {
  /** Stable code for callers (CLI exit paths, the UI) to recognise the failure. */
  readonly code = 'invalid-topology';
  /** The file name the problems refer to, as given to the loader. */
  readonly file: string;
  /** Every problem found, sorted by line and column. */
  readonly problems: readonly SourceProblem[];

  constructor(file: string, problems: readonly SourceProblem[]) {
    super(formatProblemReport('topology', file, problems), { fromInput: true });
    this.name = 'TopologyError';
    this.file = file;
    this.problems = problems;
  }
}
