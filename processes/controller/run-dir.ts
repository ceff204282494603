import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EnvironmentError, orEnvironmentError, shownPath } from './environment.js';

/**
 * Where a multi-process run keeps its ipc sockets: a fresh directory per run, made with mkdtemp
 * inside a directory of the user's own (`$XDG_RUNTIME_DIR/dpulab`, or `$TMPDIR/dpulab-<uid>`,
 * mode 0700). Another user can neither reach the sockets nor, by leaving directories of theirs
 * about, stop this user's runs.
 */

/** Run directories start with this; a directory whose controller is gone is removed by the next run. */
export const RUN_DIR_PREFIX = 'dpl-';

/**
 * Longest path a Unix socket may have, in bytes: `sun_path` holds 108 bytes with its NUL on
 * Linux, 104 on macOS and the BSDs.
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

function uid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

/** Whether `dir` is a real directory (no symlink) of this user that nobody else may enter. */
function isPrivateDirectory(dir: string): boolean {
  try {
    const stat = lstatSync(dir);
    const me = uid();
    return stat.isDirectory() && (me === null || stat.uid === me) && (stat.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** Makes `dir` (mode 0700) unless it exists, then insists that it is this user's private directory. */
function ensurePrivateDirectory(dir: string): string {
  orEnvironmentError('create the run directory', dir, () => {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  });
  if (!isPrivateDirectory(dir)) {
    throw new EnvironmentError(
      'permission',
      dir,
      `The directory ${shownPath(dir)} for run sockets is not a private directory of yours (another user's, a link, or open to others): remove it, or set XDG_RUNTIME_DIR to a directory of your own`,
    );
  }
  return dir;
}

/** The user's directory that holds run directories: `$XDG_RUNTIME_DIR/dpulab`, else `$TMPDIR/dpulab-<uid>`. */
export function runDirBase(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && runtime !== '' && isPrivateDirectory(runtime)) return ensurePrivateDirectory(join(runtime, 'dpulab'));
  const tmp = tmpdir();
  try {
    if (!statSync(tmp).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    throw new EnvironmentError(
      'missing',
      tmp,
      `The temporary directory ${shownPath(tmp)} does not exist or is not a directory (${code}): create it, or set TMPDIR (or XDG_RUNTIME_DIR) to a directory that does`,
      { cause: error },
    );
  }
  return ensurePrivateDirectory(join(tmp, `dpulab-${uid() ?? 'user'}`));
}

/**
 * Removes run directories in `base` whose controller is gone (killed before it could clean up),
 * so socket files do not pile up. A directory is abandoned when the pid in its `controller.pid`
 * no longer runs. Never fails a run: what cannot be removed stays.
 */
export function removeAbandonedRunDirs(base: string): void {
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = join(base, entry);
    try {
      const pid = Number(readFileSync(join(dir, 'controller.pid'), 'utf8'));
      if (!Number.isInteger(pid) || pid <= 0) continue;
      process.kill(pid, 0);
    } catch (error) {
      // ESRCH: the controller is gone. Anything else (no pid file, alive elsewhere): leave it.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue;
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        /* someone else's business after all; it does not stop this run */
      }
    }
  }
}

/**
 * Makes this run's directory and checks that its longest socket path fits a Unix socket; throws
 * EnvironmentError saying what to change when it does not.
 *
 * @param socketNames The socket file names the run will create in it (`ctl`, `w0`, ...).
 */
export function createRunDir(socketNames: readonly string[]): string {
  const base = runDirBase();
  removeAbandonedRunDirs(base);
  const dir = orEnvironmentError('create the run directory in', base, () => mkdtempSync(join(base, RUN_DIR_PREFIX)));
  const longest = socketNames.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), '');
  const bytes = Buffer.byteLength(join(dir, longest));
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    rmSync(dir, { recursive: true, force: true });
    throw new EnvironmentError(
      'name-too-long',
      dir,
      `The run directory ${shownPath(dir)} makes socket paths ${String(bytes)} bytes long, more than the ${String(MAX_SOCKET_PATH_BYTES)} a Unix socket path may have: set XDG_RUNTIME_DIR (or TMPDIR) to a shorter directory`,
    );
  }
  orEnvironmentError('create the run directory', dir, () => writeFileSync(join(dir, 'controller.pid'), String(process.pid)));
  return dir;
}
