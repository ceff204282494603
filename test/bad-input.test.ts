import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { dpulab, nodeProcesses, tempDir } from './support/cli.js';

/** The default lab with one line replaced, so the error's line number is known. */
function labWith(find: string, replace: string): { text: string; line: number } {
  const lines = DEFAULT_LAB_YAML.split('\n');
  const index = lines.findIndex((l) => l.includes(find));
  if (index < 0) throw new Error(`No line with ${find} in the default lab`);
  lines[index] = lines[index]!.replace(find, replace);
  return { text: lines.join('\n'), line: index + 1 };
}

describe('dpulab with bad input', () => {
  const tmp = tempDir();
  let goodDb: string;

  beforeAll(() => {
    goodDb = join(tmp.dir, 'good.db');
    const result = dpulab(['run', '--in-process', '--until', '200ms', '--db', goodDb]);
    expect(result.code, result.stderr).toBe(0);
  });
  afterAll(() => tmp.remove());

  it('a wire to an unknown port exits 2 naming the file, line and field, and starts nothing', () => {
    const { text, line } = labWith('b: tor-a:swp1', 'b: tor-a:swp42');
    const file = join(tmp.dir, 'bad-port.yaml');
    writeFileSync(file, text);
    const result = dpulab(['run', file, '--db', join(tmp.dir, 'never.db')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`bad-port\\.yaml:${line}:\\d+: wires\\[\\d+\\]\\.b: .*swp42`));
    expect(result.stderr).not.toContain('    at ');
    expect(nodeProcesses()).toEqual([]);
  });

  it('a DPU with no host exits 2 naming the file, line and field', () => {
    const { text, line } = labWith('host: esx-02', 'host: esx-99');
    const file = join(tmp.dir, 'no-host.yaml');
    writeFileSync(file, text);
    const result = dpulab(['run', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`no-host\\.yaml:${line}:\\d+: dpus\\[\\d+\\]\\.host: .*esx-99`));
    expect(nodeProcesses()).toEqual([]);
  });

  it('a scenario step on an unknown wire exits 2 naming the scenario line', () => {
    const file = join(tmp.dir, 'bad-scenario.yaml');
    writeFileSync(file, 'name: bad\nend: 1s\nsteps:\n  - { at: 100ms, action: note, text: fine }\n  - { at: 200ms, action: link, wire: nowhere, state: down }\n');
    const result = dpulab(['run', '--scenario', file]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bad-scenario\.yaml:5:\d+: steps\[1\]\.wire: .*nowhere/);
  });

  it('a missing topology file exits 2 naming it', () => {
    const result = dpulab(['run', join(tmp.dir, 'absent.yaml')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('absent.yaml');
    expect(result.stderr).toContain('ENOENT');
  });

  it('a file that is not a database gets a clear error from every command', () => {
    const file = join(tmp.dir, 'notes.db');
    writeFileSync(file, 'these are my notes, not a database\n'.repeat(20));
    for (const args of [['log', file], ['replay', file, '--verify'], ['pcap', file, '--wire', 'up-01a-a', '-o', join(tmp.dir, 'x.pcapng')]]) {
      const result = dpulab(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/^dpulab: Not a SQLite database: .*notes\.db/);
    }
  });

  it('a SQLite database that is not a dpulab log is named as such', () => {
    const other = join(tmp.dir, 'foreign.db');
    const db = new Database(other);
    db.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)');
    db.close();
    const foreign = dpulab(['log', other]);
    expect(foreign.code).toBe(2);
    expect(foreign.stderr).toMatch(/^dpulab: Not a dpulab event log: .*foreign\.db/);
  });

  it('a truncated log gets a clear error, not a stack trace', () => {
    const file = join(tmp.dir, 'truncated.db');
    const bytes = readFileSync(goodDb);
    expect(statSync(goodDb).size).toBeGreaterThan(8192);
    writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const result = dpulab(['replay', file, '--verify']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^dpulab: Event log is truncated: .*truncated\.db/);
    expect(result.stderr).not.toContain('    at ');
  });

  it('a bad option value exits 2 naming the option', () => {
    const result = dpulab(['run', '--until', 'soon']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--until soon');
  });

  it('YAML aliases that expand to a bomb, or point nowhere, exit 2 naming the line, with no stack trace', () => {
    const bomb = join(tmp.dir, 'bomb.yaml');
    const levels = ['name: bomb', 'a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);
    writeFileSync(bomb, `${levels.join('\n')}\n`);
    const result = dpulab(['run', bomb, '--in-process']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/bomb\.yaml:3:\d+: YAML aliases: they expand to too much/);
    expect(result.stderr).not.toContain('    at ');

    const dangling = join(tmp.dir, 'dangling.yaml');
    writeFileSync(dangling, `${DEFAULT_LAB_YAML}\nextra: *nowhere\n`);
    const undefinedAlias = dpulab(['run', dangling, '--in-process']);
    expect(undefinedAlias.code).toBe(2);
    expect(undefinedAlias.stderr).toMatch(/dangling\.yaml:\d+:8: YAML alias: \*nowhere has no anchor &nowhere before it/);
  });

  it('a device, a directory or a pipe named as a file exits 2 at once, unread', () => {
    for (const [args, what] of [[['run', '/dev/zero'], 'topology file /dev/zero'], [['run', '--scenario', tmp.dir], `scenario file ${tmp.dir}`]] as const) {
      const result = dpulab(args, { timeoutMs: 20_000 });
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(`Cannot read ${what}: not a regular file`);
    }
  });

  it('a lab may name only files beside it: /etc/passwd and /dev/zero are refused without being read', () => {
    for (const named of ['/etc/passwd', '/dev/zero', '../outside.yaml']) {
      const lab = join(tmp.dir, 'sneaky-lab.yaml');
      writeFileSync(lab, `name: sneaky\ntitle: Sneaky\nintroduction: reads files\ntopology: ${named}\ntasks:\n  - { id: t, title: T, check: { event: node.start } }\n`);
      const result = dpulab(['lab', 'run', lab, '--in-process'], { timeoutMs: 30_000 });
      expect(result.code, named).toBe(2);
      expect(result.stderr).toMatch(/sneaky-lab\.yaml:4:\d+: topology: cannot read .*: it is not beside the lab file/);
      expect(result.stderr).not.toMatch(/root:|x:0:0/);
    }
  });

  it('a topology named to escape runs/ still logs under runs/, with a safe file name', () => {
    const dir = join(tmp.dir, 'cwd');
    mkdirSync(dir);
    for (const name of ['../../escaped', 'n'.repeat(300)]) {
      const file = join(tmp.dir, 'named.yaml');
      writeFileSync(file, DEFAULT_LAB_YAML.replace('name: default-lab', `name: "${name}"`));
      const result = dpulab(['run', file, '--in-process', '--until', '1ms', '--json'], { cwd: dir });
      expect(result.code, result.stderr).toBe(0);
      const { db } = JSON.parse(result.stdout.trim().split('\n').pop()!) as { db: string };
      expect(dirname(db)).toBe(join(dir, 'runs'));
    }
    expect(readdirSync(tmp.dir).filter((f) => f.includes('escaped'))).toEqual([]);
  });

  it('a scenario that stops a flow never started, or sends a VM to its own host, exits 2 naming the line', () => {
    const scenario = join(tmp.dir, 'cross.yaml');
    writeFileSync(scenario, 'end: 1s\nsteps:\n  - { at: 10ms, action: flow.stop, flow: ghost }\n  - { at: 20ms, action: vmotion, vm: web-01, to: esx-01 }\n');
    const result = dpulab(['run', '--scenario', scenario, '--in-process']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('cross.yaml:3:42: steps[0].flow: no flow "ghost" is started before this step');
    expect(result.stderr).toContain('cross.yaml:4:50: steps[1].to: VM web-01 already runs on esx-01: a vMotion must go to another host');
  });

  it('ui over a log with a gap or a negative seq exits 2 before serving anything', () => {
    for (const [what, sql] of [['gap', 'DELETE FROM events WHERE seq = 5'], ['negative', 'UPDATE events SET seq = -1 WHERE seq = 0']] as const) {
      const file = join(tmp.dir, `${what}.db`);
      writeFileSync(file, readFileSync(goodDb));
      const db = new Database(file);
      db.exec(sql);
      db.close();
      const result = dpulab(['ui', '--port', '0', '--db', file], { timeoutMs: 20_000 });
      expect(result.code, what).toBe(2);
      expect(result.stdout).not.toContain('dpulab ui: http');
      expect(result.stderr).toMatch(/^dpulab: Event log is corrupt: .* \(its \d+ events are numbered -?\d+ to \d+: seqs must run from 0 without gaps\)/);
    }
  });
});
