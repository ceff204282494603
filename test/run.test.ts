import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventPayload } from '../shared/events/typed.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { dpulab, isAlive, lastJson, nodeProcesses, tempDir } from './support/cli.js';
import type { RunSummary } from '../processes/controller/session.js';

/** What `dpulab run --json` prints last: the run summary. */
type RunJson = RunSummary;

describe('dpulab run on the default lab', () => {
  const tmp = tempDir();
  let first: RunJson;
  let firstStdout: string;

  beforeAll(() => {
    const result = dpulab(['run', '--seed', '7', '--json', '--db', join(tmp.dir, 'seed7-a.db')]);
    expect(result.code, result.stderr).toBe(0);
    firstStdout = result.stdout;
    first = lastJson<RunJson>(result);
  });
  afterAll(() => tmp.remove());

  it('run --json prints one JSON object last with the contract fields', () => {
    for (const field of ['db', 'seed', 'fingerprint', 'events', 'virtualTimeNs', 'wallMs', 'nodes']) expect(first).toHaveProperty(field);
    expect(firstStdout.trim().split('\n')).toHaveLength(1);
    expect(first.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(first.status).toBe('completed');
    expect(first.virtualTimeNs).toBe(4_000_000_000);
  });

  it('run gives the same fingerprint twice, and in-process the same again', () => {
    const again = lastJson<RunJson>(dpulab(['run', '--seed', '7', '--json', '--db', join(tmp.dir, 'seed7-b.db')]));
    const inProcess = lastJson<RunJson>(dpulab(['run', '--seed', '7', '--json', '--in-process', '--db', join(tmp.dir, 'seed7-c.db')]));
    expect(again.fingerprint).toBe(first.fingerprint);
    expect(inProcess.fingerprint).toBe(first.fingerprint);
    expect(inProcess.events).toBe(first.events);
  });

  it('run with another seed completes with its own fingerprint', () => {
    const result = dpulab(['run', '--seed', '8', '--json', '--db', join(tmp.dir, 'seed8.db')]);
    expect(result.code, result.stderr).toBe(0);
    const eight = lastJson<RunJson>(result);
    expect(eight.status).toBe('completed');
    expect(eight.fingerprint).not.toBe(first.fingerprint);
  });

  it('run starts one distinct process per host, DPU, switch and the manager, none the controller, all gone after', () => {
    // The default scenario kills dpu-02a and starts it again: its second life is a tenth process.
    expect(first.nodes.map((n) => n.id)).toEqual(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b', 'esx-01', 'esx-02', 'tor-a', 'tor-b', 'vcenter', 'dpu-02a']);
    expect(first.nodes.find((n) => n.id === 'vcenter')?.kind).toBe('manager');
    const pids = first.nodes.map((n) => n.pid);
    expect(new Set(pids).size).toBe(10);
    for (const pid of pids) {
      expect(pid).toBeGreaterThan(0);
      expect(pid).not.toBe(process.pid);
      expect(isAlive(pid)).toBe(false);
    }
    // The recorded nodes table agrees, and every node exited cleanly.
    const reader = EventLogReader.open(first.db);
    try {
      const nodes = reader.nodes();
      expect(nodes.map((n) => n.pid).sort()).toEqual([...pids].sort());
      for (const n of nodes) expect(n.exitCode ?? n.exitSignal).toBe(n.id === 'dpu-02a' && n.incarnation === 0 ? 'SIGKILL' : 0);
    } finally {
      reader.close();
    }
  });

  it('run records LLDP neighbours learned at both ends of every ethernet wire', () => {
    const reader = EventLogReader.open(first.db);
    try {
      const learned = new Set<string>();
      for (const e of reader.events({ kinds: ['lldp.neighbor'] })) {
        const p = eventPayload(e, 'lldp.neighbor');
        learned.add(`${e.node}:${p.port}<-${p.systemName}:${p.portId}`);
      }
      const ethernet = reader.wires().filter((w) => w.kind === 'ethernet');
      expect(ethernet).toHaveLength(9);
      for (const w of ethernet) {
        expect(learned).toContain(`${w.aNode}:${w.aPort}<-${w.bNode}:${w.bPort}`);
        expect(learned).toContain(`${w.bNode}:${w.bPort}<-${w.aNode}:${w.aPort}`);
      }
    } finally {
      reader.close();
    }
  });

  it('run keeps every DPU answering its host: no heartbeat misses until the scripted kill', () => {
    const reader = EventLogReader.open(first.db);
    try {
      expect([...reader.events({ kinds: ['dpu.heartbeat.miss'], toNs: 1.2e9 })]).toHaveLength(0);
      const misses = [...reader.events({ kinds: ['dpu.heartbeat.miss'] })].map((e) => eventPayload(e, 'dpu.heartbeat.miss').dpu);
      expect(new Set(misses)).toEqual(new Set(['dpu-02a']));
      const beats = [...reader.events({ kinds: ['frame.tx'], toNs: 1.2e9 })].filter((e) => eventPayload(e, 'frame.tx').channel === 'mgmt');
      // 4 DPUs, 10 beats a second each, request and reply, until the kill at 1.2 s.
      expect(beats.length).toBeGreaterThanOrEqual(4 * 2 * 11);
    } finally {
      reader.close();
    }
  });

  it('replay --verify exits 0 on the run', () => {
    const result = dpulab(['replay', first.db, '--verify']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain('identical');
  });

  it('replay --verify exits 1 naming the first altered event', () => {
    const altered = join(tmp.dir, 'altered.db');
    copyFileSync(first.db, altered);
    const db = new Database(altered);
    const target = db.prepare("SELECT seq FROM events WHERE kind = 'lldp.neighbor' ORDER BY seq LIMIT 1 OFFSET 3").get() as { seq: number };
    db.prepare("UPDATE events SET node = 'tor-z' WHERE seq = ?").run(target.seq);
    db.close();
    const result = dpulab(['replay', altered, '--verify', '--json']);
    expect(result.code).toBe(1);
    const verdict = lastJson<{ ok: boolean; divergence: { seq: number; fields: string[] } }>(result);
    expect(verdict.ok).toBe(false);
    expect(verdict.divergence.seq).toBe(target.seq);
    expect(verdict.divergence.fields).toContain('node');
    const readable = dpulab(['replay', altered, '--verify']);
    expect(readable.stdout).toContain(`first divergent event: seq ${target.seq}`);
  });

  it('log filters by kind, node and time and prints decoded JSON lines', () => {
    const result = dpulab(['log', first.db, '--kind', 'lldp.*', '--node', 'tor-a', '--from', '0s', '--to', '1s', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as { node: string; kind: string; vtime: number; payload: { systemName: string } });
    expect(lines.length).toBe(5);
    for (const l of lines) {
      expect(l.node).toBe('tor-a');
      expect(l.kind).toBe('lldp.neighbor');
      expect(l.vtime).toBeLessThan(1e9);
    }
    expect(lines.map((l) => l.payload.systemName).sort()).toEqual(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b', 'tor-b']);
  });

  it('leaves no node process behind', () => {
    expect(nodeProcesses()).toEqual([]);
  });
});
