import { DpulabError, isInputError } from '../../shared/errors.js';

/** A mistake in how the command was called: a missing file, a bad option value. */
export class CliError extends DpulabError {
  readonly code = 'usage';
  constructor(message: string) {
    super(message, { fromInput: true });
    this.name = 'CliError';
  }
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

/** 2 when the user's input is at fault (a dpulab error that says so), 1 for everything else. */
export function exitCodeFor(error: unknown): number {
  return isInputError(error) ? 2 : 1;
}
