import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EnvironmentError, environmentError, prepareDirectoryFor, shownPath } from './environment.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: refused`), { code });
}

describe('environmentError', () => {
  it('environmentError says what failed, where and what to do, for each refusal of the machine', () => {
    const cases: Array<[unknown, string, RegExp]> = [
      [errno('ENOSPC'), 'disk-full', /the disk is full \(ENOSPC\); free some space/],
      [new Database.SqliteError('database or disk is full', 'SQLITE_FULL'), 'disk-full', /the disk is full/],
      [errno('EROFS'), 'read-only', /the file system is read-only; choose a writable place/],
      [new Database.SqliteError('attempt to write a readonly database', 'SQLITE_READONLY'), 'read-only', /read-only/],
      [errno('EACCES'), 'permission', /permission denied \(EACCES\)/],
      [errno('ENAMETOOLONG'), 'name-too-long', /the path is too long/],
      [errno('ENOENT'), 'missing', /a directory on its path does not exist/],
    ];
    for (const [cause, code, message] of cases) {
      const error = environmentError(cause, 'create the event log', '/data/run.db');
      expect(error, code).toBeInstanceOf(EnvironmentError);
      expect(error!.code).toBe(code);
      expect(error!.message).toMatch(/^Cannot create the event log \/data\/run\.db: /);
      expect(error!.message).toMatch(message);
      expect(error!.message).not.toMatch(/\.$/);
    }
  });

  it('environmentError leaves a bug a bug', () => {
    expect(environmentError(new TypeError('x is undefined'), 'write', '/data/run.db')).toBeNull();
    expect(environmentError(new Database.SqliteError('no such table: t', 'SQLITE_ERROR'), 'write', '/data/run.db')).toBeNull();
  });

  it('environmentError calls a path SQLite cannot open for its length too long, and shows it shortened', () => {
    const long = `/tmp/${'d'.repeat(300)}/run.db`;
    const error = environmentError(new Database.SqliteError('unable to open database file', 'SQLITE_CANTOPEN'), 'lock the event log', long)!;
    expect(error.code).toBe('name-too-long');
    expect(error.message).toContain(shownPath(long));
    expect(error.message).toMatch(/the path is too long for the file system/);
    // Shorter parts, but more than SQLite opens.
    const deep = `/tmp/${Array(30).fill('d'.repeat(20)).join('/')}/run.db`;
    const sqlite = environmentError(new Database.SqliteError('unable to open database file', 'SQLITE_CANTOPEN'), 'lock the event log', deep)!;
    expect(sqlite.message).toMatch(/its path is \d+ bytes, more than SQLite opens \(504\); use a shorter path or working directory$/);
    expect(error.message.length).toBeLessThan(300);
  });
});

describe('prepareDirectoryFor', () => {
  it('prepareDirectoryFor makes the directory of a file, and refuses a file where a directory should be', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpulab-env-'));
    dirs.push(dir);
    prepareDirectoryFor(join(dir, 'a', 'b', 'run.db'), 'create the event log');
    expect(statSync(join(dir, 'a', 'b')).isDirectory()).toBe(true);
    writeFileSync(join(dir, 'file'), '');
    expect(() => prepareDirectoryFor(join(dir, 'file', 'run.db'), 'create the event log')).toThrow(
      expect.objectContaining({ code: 'not-a-directory', message: expect.stringMatching(/a part of its path is not a directory/) }),
    );
  });
});
