/**
 * The one base of every dpulab error: a stable `code` programs switch on, and whether the error is
 * the user's input (a file, an option, a database, a request that cannot be used) or dpulab's own.
 * The CLI exits 2 for input and 1 for the rest from this flag alone, with no list of classes.
 */

/** Options of a {@link DpulabError}: the standard `cause`, and whether the user's input is at fault. */
export interface DpulabErrorOptions extends ErrorOptions {
  /** True when what the user gave is wrong, not dpulab; false (internal) when absent. */
  readonly fromInput?: boolean;
}

/**
 * An error dpulab raises on purpose. Subclasses keep their own name and code; messages start with
 * a capital letter, have no trailing period and name the thing that was wrong.
 *
 * @example
 * export class TopologyError extends DpulabError {
 *   readonly code = 'invalid-topology';
 *   constructor(message: string) {
 *     super(message, { fromInput: true });
 *     this.name = 'TopologyError';
 *   }
 * }
 */
export abstract class DpulabError extends Error {
  /** What went wrong, for programs: stable across releases, unlike the message. */
  abstract readonly code: string;
  /** Whether the user's input caused it: a person can fix it by changing what they gave. */
  readonly fromInput: boolean;

  constructor(message: string, options: DpulabErrorOptions = {}) {
    const { fromInput = false, ...errorOptions } = options;
    super(message, errorOptions);
    this.fromInput = fromInput;
  }
}

/**
 * A dpulab error whose thrower picks the code from a closed set `C` (a union of strings the
 * error's module declares), the form most modules' errors take.
 *
 * @example
 * export type CostErrorCode = 'bad-parameter' | 'wrong-core';
 * export class CostError extends CodedError<CostErrorCode> {
 *   override readonly name = 'CostError';
 * }
 * throw new CostError('bad-parameter', 'Cost parameter vf.rx is negative');
 */
export abstract class CodedError<C extends string> extends DpulabError {
  /** Stable reason, one of `C`. */
  readonly code: C;

  constructor(code: C, message: string, options?: DpulabErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A coded error about a file or directory the user chose (a database, an output folder): `path`
 * names it, and the user can fix it (exit 2) by choosing another or freeing this one.
 */
export abstract class PathError<C extends string> extends CodedError<C> {
  constructor(
    code: C,
    /** The file or directory concerned. */
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, { ...options, fromInput: true });
  }
}

/** Whether a thrown value is one of dpulab's own errors. */
export function isDpulabError(error: unknown): error is DpulabError {
  return error instanceof DpulabError;
}

/** Whether a thrown value is a dpulab error the user's input caused. */
export function isInputError(error: unknown): error is DpulabError {
  return error instanceof DpulabError && error.fromInput;
}
