import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { dpulab, lastJson, tempDir } from './support/cli.js';

describe('dpulab topology show', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('prints the embedded default lab, which runs as a topology file of its own', () => {
    const shown = dpulab(['topology', 'show']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toBe(DEFAULT_LAB_YAML.endsWith('\n') ? DEFAULT_LAB_YAML : `${DEFAULT_LAB_YAML}\n`);
    expect(dpulab(['topology', 'show', 'default']).stdout).toBe(shown.stdout);
    const file = join(tmp.dir, 'mine.yaml');
    writeFileSync(file, shown.stdout);
    const run = dpulab(['run', file, '--in-process', '--until', '100ms', '--json', '--db', join(tmp.dir, 'mine.db')]);
    expect(run.code, run.stderr).toBe(0);
    expect(lastJson<{ topology: string }>(run).topology).toBe('default-lab');
  });

  it('names the built-in topologies when asked for another, with exit code 2', () => {
    const result = dpulab(['topology', 'show', 'leaf-spine']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('dpulab: No built-in topology leaf-spine (built-in: default)\n');
  });
});

describe('dpulab log --kind', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'short.db');
  afterAll(() => tmp.remove());
  beforeAll(() => {
    expect(dpulab(['run', '--in-process', '--until', '100ms', '--db', db]).code).toBe(0);
  });

  it('a kind no catalogue declares exits 2, naming it and listing close matches, instead of an empty table', () => {
    const typo = dpulab(['log', db, '--kind', 'lldp.neighbour']);
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toBe('dpulab: --kind lldp.neighbour: no event catalogue declares this kind (close: lldp.neighbor)\n');
    // A word of a kind finds the kinds it is part of.
    expect(dpulab(['log', db, '--kind', 'failover']).stderr).toContain('close: dpu.failover.done, dpu.failover.impossible, input.dpu.failover, team.failover, vnic.failover');
    const prefix = dpulab(['log', db, '--kind', 'lldpp.*']);
    expect(prefix.code).toBe(2);
    expect(prefix.stderr).toContain('no event catalogue declares a kind under lldpp. (close: lldp.expired, lldp.neighbor)');
    expect(dpulab(['log', db, '--kind', 'xyzzy']).stderr).toContain('(the kinds are listed in docs/event-log.md)');
  });

  it('a declared kind that did not happen is an empty table, not an error; prefixes still work', () => {
    const none = dpulab(['log', db, '--kind', 'vmotion.done']);
    expect(none.code).toBe(0);
    expect(none.stdout.trim().split('\n')).toHaveLength(1); // the header alone
    const lldp = dpulab(['log', db, '--kind', 'lldp.*', '--json']);
    expect(lldp.code).toBe(0);
    expect(lldp.stdout).toContain('"kind":"lldp.neighbor"');
  });
});
