/**
 * Errors of the event log. Each class carries a stable `code` that callers (the CLI, the UI,
 * tests) switch on; messages are for people and may change.
 */
import { DpulabError, PathError } from '../../../shared/errors.js';

/** Why an event log could not be read. */
export type EventLogErrorCode =
  /** The path does not exist or cannot be opened. */
  | 'not-found'
  /** The file is not a SQLite database. */
  | 'not-sqlite'
  /** A SQLite database, but not a dpulab event log (no meta table, other format). */
  | 'not-dpulab'
  /** A dpulab event log of a schema version this code does not read. */
  | 'unsupported-version'
  /** SQLite reports damage, or the file is shorter than its header says (truncated). */
  | 'corrupt'
  /** A dpulab event log lacking a required part: a table, or the run row. */
  | 'incomplete';

/** An event log that cannot be read; `path` names the file. */
export class EventLogError extends PathError<EventLogErrorCode> {
  override readonly name = 'EventLogError';
}

/** Why the writer refused a call. */
export type EventLogWriteErrorCode =
  /** The target file is already a dpulab event log and `overwrite` was not set. */
  | 'exists'
  /** The target file exists and is not a dpulab event log: it is never touched. */
  | 'foreign-file'
  /** A call out of order: append before beginRun, beginRun twice, anything after close. */
  | 'bad-state'
  /** An event's seq is not the next one: seqs must be dense from 0. */
  | 'seq-not-dense'
  /** An event's vtime is lower than the previous event's. */
  | 'vtime-backwards'
  /** A run or node field out of range (a seed that is not a safe integer, a negative time). */
  | 'invalid-argument'
  /** Another writer holds the log's lock (the message names it): one writer per log. */
  | 'locked';

/** A programming or usage error detected by the writer; nothing of the offending call was kept. */
export class EventLogWriteError extends DpulabError {
  override readonly name = 'EventLogWriteError';

  constructor(
    readonly code: EventLogWriteErrorCode,
    message: string,
  ) {
    super(message, { fromInput: code === 'exists' || code === 'foreign-file' || code === 'invalid-argument' || code === 'locked' });
  }
}

/** An event with a field the canonical encoding cannot represent (see fingerprint.ts). */
export class InvalidEventError extends DpulabError {
  override readonly name = 'InvalidEventError';
  readonly code = 'invalid-event';
}
