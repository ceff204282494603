import { InputError } from '../../processes/controller/actions.js';
import { EnvironmentError } from '../../processes/controller/environment.js';
import { EventLogError, EventLogWriteError } from '../../processes/controller/log/errors.js';
import { LabError } from '../../shared/lab/errors.js';
import { ScenarioError } from '../../shared/scenario/load.js';
import { TopologyError } from '../../shared/topology/errors.js';
import { UnitError } from '../../shared/units.js';
import { InputFileError } from '../lab/input-file.js';
import { LabNotFoundError } from '../lab/labs.js';

/** A mistake in how the command was called: a missing file, a bad option value. */
export class CliError extends Error {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * Errors that are the user's input or the machine's refusal (a full disk, a read-only place), not
 * a dpulab bug: their message is the whole story.
 */
function isInputError(error: unknown): error is Error {
  return (
    error instanceof CliError ||
    error instanceof TopologyError ||
    error instanceof ScenarioError ||
    error instanceof LabError ||
    error instanceof LabNotFoundError ||
    error instanceof EventLogError ||
    error instanceof EventLogWriteError ||
    error instanceof InputError ||
    error instanceof UnitError ||
    error instanceof InputFileError ||
    error instanceof EnvironmentError
  );
}

/** Prints an error for a person: the message for input errors, the stack for anything else. */
export function reportError(error: unknown): void {
  if (isInputError(error)) {
    process.stderr.write(`dpulab: ${error.message}\n`);
  } else {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`dpulab: internal error: ${text}\n`);
  }
}

/** 2 for bad input, 1 for everything else. */
export function exitCodeFor(error: unknown): number {
  return isInputError(error) ? 2 : 1;
}
