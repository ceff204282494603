import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRunDir, MAX_SOCKET_PATH_BYTES, removeAbandonedRunDirs, runDirBase } from './run-dir.js';

const saved = { TMPDIR: process.env.TMPDIR, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
let root = '';

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'dpulab-rundir-'));
  delete process.env.XDG_RUNTIME_DIR;
});
afterEach(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  rmSync(root, { recursive: true, force: true });
});

describe('run directories', () => {
  it('runDirBase is a private directory of the user, in XDG_RUNTIME_DIR when it is one', () => {
    const runtime = join(root, 'runtime');
    mkdirSync(runtime, { mode: 0o700 });
    process.env.XDG_RUNTIME_DIR = runtime;
    const base = runDirBase();
    expect(base).toBe(join(runtime, 'dpulab'));
    expect(statSync(base).mode & 0o777).toBe(0o700);

    // An XDG_RUNTIME_DIR open to others is not the user's runtime directory: tmp it is.
    chmodSync(runtime, 0o755);
    process.env.TMPDIR = root;
    expect(runDirBase()).toMatch(new RegExp(`^${root}/dpulab-`));
  });

  it('runDirBase refuses a shared directory someone left in its place instead of using it', () => {
    process.env.TMPDIR = root;
    const squatted = join(root, `dpulab-${process.getuid!()}`);
    mkdirSync(squatted, { mode: 0o777 });
    chmodSync(squatted, 0o777);
    expect(() => runDirBase()).toThrow(expect.objectContaining({ code: 'permission', message: expect.stringContaining('not a private directory of yours') }));
  });

  it('runDirBase names a TMPDIR that does not exist and says what to do', () => {
    process.env.TMPDIR = join(root, 'missing');
    expect(() => runDirBase()).toThrow(/The temporary directory .*missing does not exist or is not a directory \(ENOENT\): create it, or set TMPDIR/);
  });

  it('createRunDir makes a fresh directory per run and refuses socket paths a Unix socket cannot hold', () => {
    process.env.TMPDIR = root;
    const a = createRunDir(['ctl', 'w0']);
    const b = createRunDir(['ctl', 'w0']);
    expect(a).not.toBe(b);
    expect(readdirSync(a)).toEqual(['controller.pid']);

    const long = join(root, 't'.repeat(MAX_SOCKET_PATH_BYTES));
    mkdirSync(long);
    process.env.TMPDIR = long;
    expect(() => createRunDir(['ctl', 'w12'])).toThrow(/makes socket paths \d+ bytes long, more than the 10[37] a Unix socket path may have: set XDG_RUNTIME_DIR/);
    expect(readdirSync(join(long, `dpulab-${process.getuid!()}`))).toEqual([]);
  });

  it('removeAbandonedRunDirs removes the directories of dead controllers only, and never fails', () => {
    const base = join(root, 'base');
    mkdirSync(base);
    const dead = join(base, 'dpl-dead');
    const alive = join(base, 'dpl-alive');
    const unreadable = join(base, 'dpl-nopid');
    for (const dir of [dead, alive, unreadable]) mkdirSync(dir);
    writeFileSync(join(dead, 'controller.pid'), '2147483646');
    writeFileSync(join(alive, 'controller.pid'), String(process.pid));
    removeAbandonedRunDirs(base);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(alive)).toBe(true);
    expect(existsSync(unreadable)).toBe(true);
    expect(() => removeAbandonedRunDirs(join(root, 'no-such-base'))).not.toThrow();
  });
});
