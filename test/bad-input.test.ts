import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
});
