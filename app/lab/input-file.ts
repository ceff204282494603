import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { DpulabError } from '../../shared/errors.js';

/**
 * Every file a user names (a topology, a scenario, a lab, a file a lab names) is read here, and
 * only if it is a regular file of at most MAX_INPUT_BYTES of UTF-8 text: `/dev/zero`, a pipe or a
 * directory is refused at once instead of being read until memory runs out.
 */

/** The largest input file dpulab reads. A topology of a thousand nodes is a few hundred KiB. */
export const MAX_INPUT_BYTES = 4 * 1024 * 1024;

/** Why an input file was not read. */
export type InputFileErrorCode = 'unreadable' | 'not-a-file' | 'too-large' | 'not-text' | 'outside';

/** A named input file that cannot be used; the message names it and says why. */
export class InputFileError extends DpulabError {
  override readonly name = 'InputFileError';

  constructor(
    readonly code: InputFileErrorCode,
    readonly file: string,
    message: string,
  ) {
    super(message, { fromInput: true });
  }
}

/**
 * Reads a file the user named as UTF-8 text. `what` names it in messages ("topology file").
 *
 * @throws InputFileError when it cannot be opened, is not a regular file, is larger than
 *   MAX_INPUT_BYTES or is not UTF-8 text
 */
export function readInputFile(path: string, what: string): string {
  let fd: number;
  try {
    // Non-blocking, so that naming a FIFO with no writer does not hang here before the check.
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new InputFileError('unreadable', path, `Cannot read ${what} ${path}: ${code}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new InputFileError('not-a-file', path, `Cannot read ${what} ${path}: not a regular file (a directory, device or pipe); name a file`);
    if (stat.size > MAX_INPUT_BYTES) throw tooLarge(path, what, stat.size);
    // The size may change while reading: read at most one byte past the limit to notice.
    const buffer = Buffer.alloc(Math.min(stat.size, MAX_INPUT_BYTES) + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length; length += n) n = readSync(fd, buffer, length, buffer.length - length, null);
    if (length > MAX_INPUT_BYTES) throw tooLarge(path, what, length);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(buffer.subarray(0, length));
    } catch {
      throw new InputFileError('not-text', path, `Cannot read ${what} ${path}: it is not UTF-8 text`);
    }
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new InputFileError('unreadable', path, `Cannot read ${what} ${path}: ${code}`);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(path: string, what: string, size: number): InputFileError {
  return new InputFileError('too-large', path, `Cannot read ${what} ${path}: it is ${String(size)} bytes, more than the ${String(MAX_INPUT_BYTES)} dpulab reads`);
}

/**
 * The path of a file a lab file names, if it lies beside the lab file (in its directory or below,
 * symbolic links followed); a lab cannot make dpulab read `/etc/passwd` or `../../secret`.
 *
 * @throws InputFileError 'outside' for any other path
 */
export function besideLab(labFile: string, named: string): string {
  const dir = dirname(resolve(labFile));
  const refuse = (): never => {
    throw new InputFileError('outside', named, `it is not beside the lab file: a lab may name only files in its own directory (${dir}) or built-in ones (default-lab.yaml)`);
  };
  if (isAbsolute(named)) refuse();
  const target = resolve(dir, named);
  let realDir = dir;
  let realTarget = target;
  try {
    realDir = realpathSync(dir);
    realTarget = realpathSync(target);
  } catch {
    // A file that does not exist is refused by the read, with its own reason.
  }
  const inside = (parent: string, child: string): boolean => {
    const rel = relative(parent, child);
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel);
  };
  if (!inside(dir, target) || !inside(realDir, realTarget)) refuse();
  return target;
}
