import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventPayload } from '../shared/events/typed.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { runDirBase } from '../processes/controller/run-dir.js';
import { childrenOf, committedEvents, dpulab, eventually, exited, isAlive, nodeProcesses, startDpulab, tempDir } from './support/cli.js';

/** Run directories (in the user's run directory base) whose controller.pid names `pid`. */
function runDirsOf(pid: number): string[] {
  return readdirSync(runDirBase())
    .filter((d) => d.startsWith('dpl-'))
    .map((d) => join(runDirBase(), d))
    .filter((dir) => {
      try {
        return readFileSync(join(dir, 'controller.pid'), 'utf8') === String(pid);
      } catch {
        return false;
      }
    });
}

/** Starts a paced run long enough to be interrupted, and waits until its 8 node processes run. */
async function startLongRun(db: string, extra: string[] = []): Promise<{ child: ReturnType<typeof startDpulab>; nodes: number[] }> {
  const child = startDpulab(['run', '--realtime', '--until', '60s', '--db', db, ...extra]);
  // Running means recording: the nodes have booted and exchanged their first frames.
  const running = await eventually(() => committedEvents(db) > 30, 30_000, 50);
  expect(running, child.output.stderr).toBe(true);
  const nodes = childrenOf(child.pid!, 'dist/bundle/node.js');
  expect(nodes).toHaveLength(8);
  return { child, nodes };
}

describe('process lifecycle', () => {
  const tmp = tempDir();
  const started: Array<ReturnType<typeof startDpulab>> = [];
  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  afterAll(() => tmp.remove());

  it('a node killed with SIGKILL is recorded, the run ends cleanly and reports it', async () => {
    const db = join(tmp.dir, 'node-killed.db');
    const child = startDpulab(['run', '--realtime', '--until', '3s', '--json', '--db', db]);
    started.push(child);
    expect(await eventually(() => committedEvents(db) > 30, 30_000, 50), child.output.stderr).toBe(true);
    const [victim] = childrenOf(child.pid!, '--node dpu-01b');
    process.kill(victim!, 'SIGKILL');
    const { code } = await exited(child);
    expect(code, child.output.stderr).toBe(1);
    const summary = JSON.parse(child.output.stdout.trim().split('\n').pop()!) as { status: string; crashed: Array<{ node: string; signal: string }>; nodes: Array<{ pid: number }> };
    expect(summary.status).toBe('completed');
    expect(summary.crashed).toEqual([expect.objectContaining({ node: 'dpu-01b', signal: 'SIGKILL', planned: false })]);
    for (const n of summary.nodes) expect(isAlive(n.pid)).toBe(false);

    const reader = EventLogReader.open(db);
    try {
      const exits = [...reader.events({ kinds: ['node.exit'] })].map((e) => eventPayload(e, 'node.exit'));
      expect(exits.find((e) => e.node === 'dpu-01b')).toMatchObject({ planned: false });
      expect(exits.filter((e) => !e.planned)).toHaveLength(1);
      // The host noticed: its standby DPU stopped answering heartbeats.
      const states = [...reader.events({ kinds: ['dpu.state'], nodes: ['esx-01'] })].map((e) => eventPayload(e, 'dpu.state'));
      expect(states).toContainEqual(expect.objectContaining({ dpu: 'dpu-01b', state: 'UNAVAILABLE' }));
      expect(reader.run().status).toBe('completed');
    } finally {
      reader.close();
    }
  });

  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    it(`${signal} on dpulab run stops every node and keeps what was recorded`, async () => {
      const db = join(tmp.dir, `${signal}.db`);
      const { child, nodes } = await startLongRun(db);
      started.push(child);
      child.kill(signal);
      const exit = await exited(child);
      expect(exit.code, child.output.stderr).toBe(code);
      for (const pid of nodes) expect(isAlive(pid)).toBe(false);
      const reader = EventLogReader.open(db);
      try {
        expect(reader.run().status).toBe('interrupted');
        expect(reader.count()).toBeGreaterThan(20);
        expect(reader.verifyFingerprint().ok).toBe(true);
      } finally {
        reader.close();
      }
      // The stop is part of the record: a replay re-executes the run up to it, identically.
      const replay = dpulab(['replay', db, '--verify', '--in-process']);
      expect(replay.code, replay.stdout + replay.stderr).toBe(0);
      expect(replay.stdout).toMatch(/identical up to its stop: interrupted at /);
    });
  }

  it('nodes exit within a second when the controller is killed with SIGKILL', async () => {
    const { child, nodes } = await startLongRun(join(tmp.dir, 'controller-killed.db'));
    started.push(child);
    child.kill('SIGKILL');
    await exited(child);
    const gone = await eventually(() => nodes.every((pid) => !isAlive(pid)), 1_000, 10);
    expect(gone, `still running: ${nodes.filter(isAlive).join(', ')}`).toBe(true);

    // Its run directory (ipc sockets) was left behind; the next run clears it away.
    const abandoned = runDirsOf(child.pid!);
    expect(abandoned).toHaveLength(1);
    expect(dpulab(['run', '--until', '10ms', '--db', join(tmp.dir, 'next.db')]).code).toBe(0);
    expect(existsSync(abandoned[0]!)).toBe(false);
  });

  it('leaves no node process behind', () => {
    expect(nodeProcesses()).toEqual([]);
  });
});
