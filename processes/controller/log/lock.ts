import { rmSync, statSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import Database from 'better-sqlite3';
import { EventLogWriteError } from './errors.js';

/**
 * One writer per event log: an exclusive lock beside the log, held for the whole run.
 *
 * The lock is a tiny SQLite database at `<log>.lock` whose connection keeps a RESERVED lock (an
 * open `BEGIN IMMEDIATE`) for as long as the writer lives. SQLite takes that lock with `fcntl`,
 * so the kernel releases it when the writer's process dies, however it dies: a crashed run
 * never leaves a stale lock behind, and a pid that happens to be reused cannot look alive. Other
 * processes can still read the committed `holder` row, which names who has the log.
 *
 * The lock file is removed when the writer lets go. A contender that opened the old file just
 * before it was removed would lock a file nobody else can see; it notices because the path no
 * longer leads to the file it locked, and tries again.
 */

/** Who holds an event log's lock, as the holder wrote it when it took the lock. */
export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly user: string;
  /** ISO wall-clock time the lock was taken. */
  readonly since: string;
  /** The holder's command line, shortened. */
  readonly command: string;
}

/** How long a contender waits for a lock that is only briefly taken (another contender's probe). */
const CONTENTION_TIMEOUT_MS = 1_000;
/** Attempts when the lock file is swapped under a contender (its holder let go meanwhile). */
const ATTEMPTS = 5;
const COMMAND_LENGTH = 200;

/** The path of the lock file of the event log at `logPath`. */
export function lockPathOf(logPath: string): string {
  return `${logPath}.lock`;
}

function inode(path: string): number | null {
  try {
    return statSync(path).ino;
  } catch {
    return null;
  }
}

function isBusy(error: unknown): boolean {
  return error instanceof Database.SqliteError && (error.code === 'SQLITE_BUSY' || error.code.startsWith('SQLITE_BUSY_'));
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '?');
  }
}

function readHolder(db: Database.Database): LockHolder | null {
  try {
    const row = db.prepare('SELECT pid, host, user, since, command FROM holder LIMIT 1').get() as LockHolder | undefined;
    return row ?? null;
  } catch {
    return null;
  }
}

/** "pid 4242 (alice on lab-3, since 2026-01-01T10:00:00.000Z: dpulab run ...)", for messages. */
export function describeHolder(holder: LockHolder | null): string {
  if (holder === null) return 'another process (it has not said who it is yet)';
  return `pid ${String(holder.pid)} (${holder.user} on ${holder.host}, since ${holder.since}: ${holder.command})`;
}

/** The exclusive right to write one event log; `release` (or the process's death) gives it up. */
export class EventLogLock {
  private released = false;

  private constructor(
    /** The lock file. */
    readonly path: string,
    private readonly db: Database.Database,
  ) {}

  /**
   * Takes the lock of the log at `logPath`. Throws EventLogWriteError 'locked' naming the holder
   * when another writer, in this process or another, has it.
   */
  static acquire(logPath: string): EventLogLock {
    const path = lockPathOf(logPath);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const db = new Database(path, { timeout: CONTENTION_TIMEOUT_MS });
      try {
        const opened = inode(path);
        db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER, host TEXT, user TEXT, since TEXT, command TEXT)');
        try {
          db.exec('BEGIN IMMEDIATE');
        } catch (error) {
          if (!isBusy(error)) throw error;
          const holder = readHolder(db);
          throw new EventLogWriteError(
            'locked',
            `The event log ${logPath} is being written by another run, ${describeHolder(holder)}: wait for it to end, or choose another --db`,
          );
        }
        db.exec('DELETE FROM holder');
        db.prepare('INSERT INTO holder (pid, host, user, since, command) VALUES (?, ?, ?, ?, ?)').run(
          process.pid,
          hostname(),
          currentUser(),
          new Date().toISOString(),
          process.argv.slice(1).join(' ').slice(0, COMMAND_LENGTH),
        );
        db.exec('COMMIT');
        // Readers may see the holder row now; this transaction, open for the whole run, is the lock.
        try {
          db.exec('BEGIN IMMEDIATE');
        } catch (error) {
          if (!isBusy(error)) throw error;
          throw new EventLogWriteError('locked', `The event log ${logPath} is being written by another run, ${describeHolder(readHolder(db))}: wait for it to end, or choose another --db`);
        }
        if (opened !== null && inode(path) === opened) return new EventLogLock(path, db);
        // The file we locked was removed by its previous holder: try again with the new one.
        db.close();
      } catch (error) {
        if (db.open) db.close();
        throw error;
      }
    }
    throw new EventLogWriteError('locked', `Cannot take the lock of the event log ${logPath}: its lock file ${path} keeps changing`);
  }

  /**
   * Who holds the lock of the log at `logPath` now: the holder, null when nobody does (the lock
   * file is absent or free), or 'unknown' when the lock file cannot be probed (read-only media).
   */
  static holder(logPath: string): LockHolder | null | 'unknown' {
    const path = lockPathOf(logPath);
    if (inode(path) === null) return null;
    let db: Database.Database;
    try {
      db = new Database(path, { fileMustExist: true, timeout: 0 });
    } catch {
      return 'unknown';
    }
    try {
      db.exec('BEGIN IMMEDIATE');
      db.exec('ROLLBACK');
      return null;
    } catch (error) {
      if (!isBusy(error)) return 'unknown';
      return readHolder(db) ?? 'unknown';
    } finally {
      db.close();
    }
  }

  /** Gives the lock up and removes the lock file. Calling it again does nothing. */
  release(): void {
    if (this.released) return;
    this.released = true;
    // Removed while still held, so that no contender can take the lock of a file about to vanish
    // without noticing (see the module comment).
    rmSync(this.path, { force: true });
    rmSync(`${this.path}-journal`, { force: true });
    this.db.close();
  }
}
