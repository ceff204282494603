import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { PathError } from '../../shared/errors.js';

/**
 * Failures of the machine rather than of dpulab or of the user's files: a full disk, a read-only
 * file system, a path too long, a directory that does not exist. Each becomes an EnvironmentError
 * whose message says what failed, where, and what to do about it; the CLI exits 2 with it instead
 * of printing a stack trace.
 */

/** Why the environment refused. */
export type EnvironmentErrorCode =
  | 'disk-full'
  | 'read-only'
  | 'permission'
  | 'name-too-long'
  | 'missing'
  | 'not-a-directory'
  | 'io';

/**
 * The machine refused something dpulab needs; the message names the path and what to do. Counted
 * as the user's to fix (`fromInput`, exit 2): they choose where and how dpulab runs.
 */
export class EnvironmentError extends PathError<EnvironmentErrorCode> {
  override readonly name = 'EnvironmentError';
}

/** Longest path (PATH_MAX, with its NUL) and file name (NAME_MAX) Linux accepts, in bytes. */
const PATH_MAX = 4096;
const NAME_MAX = 255;
/**
 * The longest path SQLite opens, in bytes (its unix VFS's MAX_PATHNAME, 512), less room for the
 * `-journal` and `.lock` names made beside a log.
 */
const SQLITE_PATH_MAX = 512 - '-journal'.length;
/** Paths longer than this are shown shortened in messages. */
const SHOWN_PATH = 160;

/** Whether the system would refuse `path` for its length alone. */
export function pathTooLong(path: string): boolean {
  const absolute = resolve(path);
  return Buffer.byteLength(absolute) >= PATH_MAX || absolute.split(sep).some((part) => Buffer.byteLength(part) > NAME_MAX);
}

/** A path as a message shows it: a very long one keeps its start and end and says how long it is. */
export function shownPath(path: string): string {
  if (path.length <= SHOWN_PATH) return path;
  return `${path.slice(0, 60)}…${path.slice(-80)} (${String(path.length)} characters)`;
}

/** The errno of a Node fs error, or null. */
function errnoOf(error: unknown): string | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : null;
}

/** The errno name of a SQLite failure that has an unambiguous meaning for the environment. */
function sqliteMeaning(error: unknown): string | null {
  if (!(error instanceof Database.SqliteError)) return null;
  if (error.code === 'SQLITE_FULL') return 'ENOSPC';
  if (error.code.startsWith('SQLITE_READONLY')) return 'EROFS';
  if (error.code.startsWith('SQLITE_IOERR')) return 'EIO';
  if (error.code.startsWith('SQLITE_CANTOPEN')) return 'CANTOPEN';
  return null;
}

/**
 * Turns a failure to `what` (e.g. "create the event log") at `path` into an EnvironmentError, or
 * returns null when the failure is not the environment's (then it is a bug, reported as such).
 */
export function environmentError(error: unknown, what: string, path: string): EnvironmentError | null {
  if (error instanceof EnvironmentError) return error;
  let errno = errnoOf(error) ?? sqliteMeaning(error);
  if (errno === null) return null;
  // SQLite does not say why it cannot open a file; a path too long for it is one reason.
  if (errno === 'CANTOPEN' && Buffer.byteLength(resolve(path)) > SQLITE_PATH_MAX) {
    return new EnvironmentError('name-too-long', path, `Cannot ${what} ${shownPath(path)}: its path is ${String(Buffer.byteLength(resolve(path)))} bytes, more than SQLite opens (${String(SQLITE_PATH_MAX)}); use a shorter path or working directory`, { cause: error });
  }
  if (errno === 'CANTOPEN' && pathTooLong(path)) errno = 'ENAMETOOLONG';
  const detail = error instanceof Error ? error.message : String(error);
  const shown = shownPath(path);
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return new EnvironmentError('disk-full', path, `Cannot ${what} ${shown}: the disk is full (${errno}); free some space, or choose a place on another disk`, { cause: error });
    case 'EROFS':
      return new EnvironmentError('read-only', path, `Cannot ${what} ${shown}: the file system is read-only; choose a writable place`, { cause: error });
    case 'EACCES':
    case 'EPERM':
      return new EnvironmentError('permission', path, `Cannot ${what} ${shown}: permission denied (${errno}); choose a place you may write, or fix its permissions`, { cause: error });
    case 'ENAMETOOLONG':
      return new EnvironmentError('name-too-long', path, `Cannot ${what} ${shown}: the path is too long for the file system; use a shorter path or working directory`, { cause: error });
    case 'ENOENT':
      return new EnvironmentError('missing', path, `Cannot ${what} ${shown}: a directory on its path does not exist; create it, or choose another place`, { cause: error });
    case 'ENOTDIR':
      return new EnvironmentError('not-a-directory', path, `Cannot ${what} ${shown}: a part of its path is not a directory`, { cause: error });
    case 'CANTOPEN':
      return new EnvironmentError('permission', path, `Cannot ${what} ${shown}: SQLite cannot open it there (${detail}); choose a directory you may write`, { cause: error });
    default:
      return new EnvironmentError('io', path, `Cannot ${what} ${shown}: the system refused (${errno}: ${detail})`, { cause: error });
  }
}

/** Runs `act`, turning an environment failure into an EnvironmentError (others pass through). */
export function orEnvironmentError<T>(what: string, path: string, act: () => T): T {
  try {
    return act();
  } catch (error) {
    throw environmentError(error, what, path) ?? error;
  }
}

/**
 * Makes sure the directory that will hold `file` exists and can be written, before any file is
 * created there: a read-only or foreign place is refused with what to do, not half-written.
 */
export function prepareDirectoryFor(file: string, what: string): void {
  const dir = dirname(file);
  orEnvironmentError(what, file, () => {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (error) {
      // A file in the way: said below as "not a directory".
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    accessSync(dir, constants.W_OK);
  });
}
