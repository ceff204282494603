import { cpSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, dpulab, nodeProcesses, tempDir } from './support/cli.js';

/**
 * The CLI picks its exit code from the error's base class alone (DpulabError.fromInput): 2 when
 * what the user gave cannot be used, whichever loader refused it; 1 when dpulab itself failed.
 */
describe('dpulab exit codes', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  const inputErrors: Array<[string, () => string[]]> = [
    [
      'a topology the loader refuses',
      () => {
        writeFileSync(join(tmp.dir, 'topology.yaml'), 'hosts: 3\n');
        return ['run', join(tmp.dir, 'topology.yaml'), '--in-process', '--db', join(tmp.dir, 'never-1.db')];
      },
    ],
    [
      'a scenario the loader refuses',
      () => {
        writeFileSync(join(tmp.dir, 'scenario.yaml'), 'name: s\nend: 1s\nsteps: [{ at: 1s, action: fly }]\n');
        return ['run', '--scenario', join(tmp.dir, 'scenario.yaml'), '--in-process', '--db', join(tmp.dir, 'never-2.db')];
      },
    ],
    [
      'a lab file the loader refuses',
      () => {
        writeFileSync(join(tmp.dir, 'lab.yaml'), 'name: broken\ntasks: 4\n');
        return ['lab', 'show', join(tmp.dir, 'lab.yaml')];
      },
    ],
    [
      'a database the reader refuses',
      () => {
        writeFileSync(join(tmp.dir, 'notes.db'), 'these are notes\n'.repeat(50));
        return ['log', join(tmp.dir, 'notes.db')];
      },
    ],
    [
      'a database whose recorded input is damaged, replayed',
      () => {
        const db = join(tmp.dir, 'damaged.db');
        const run = dpulab(['run', '--in-process', '--until', '300ms', '--db', db]);
        expect(run.code, run.stderr).toBe(0);
        const sqlite = new Database(db);
        sqlite.prepare("UPDATE events SET payload = x'82a1' WHERE seq = (SELECT min(seq) FROM events WHERE kind LIKE 'input.%')").run();
        sqlite.close();
        return ['replay', db, '--verify'];
      },
    ],
  ];

  for (const [what, args] of inputErrors) {
    it(`${what} exits 2 with its message and no stack`, () => {
      const result = dpulab(args());
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(/^dpulab: [A-Za-z/]/);
      expect(result.stderr).not.toContain('internal error');
      expect(result.stderr).not.toContain('    at ');
      expect(nodeProcesses()).toEqual([]);
    });
  }

  it('a broken installation (the UI was never built) is dpulab failing, not the user: exits 1 with the stack', () => {
    // A copy of the installed package without the UI bundle.
    const install = join(tmp.dir, 'install');
    for (const part of ['bin', 'dist', 'package.json']) cpSync(join(ROOT, part), join(install, part), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(install, 'node_modules'));
    rmSync(join(install, 'dist', 'app', 'server', 'static'), { recursive: true, force: true });
    const result = spawnSync(process.execPath, [join(install, 'bin', 'dpulab.js'), 'ui', '--port', '0', '--in-process'], { cwd: tmp.dir, encoding: 'utf8', timeout: 60_000 });
    expect(result.status, result.stderr).toBe(1);
    expect(result.stderr).toContain('dpulab: internal error: StaticFilesError: The UI is not built');
    expect(result.stderr).toContain('    at ');
  });
});
