import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventPayload } from '../shared/events/typed.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { MultiProcessCluster } from '../processes/controller/multi-process.js';
import { loadDefaultLab } from '../shared/topology/load.js';
import { childrenOf, dpulab, eventually, isAlive, lastJson, nodeProcesses, tempDir } from './support/cli.js';
import type { RunSummary } from '../processes/controller/session.js';

/** What `dpulab run --json` prints last: the run summary. */
type RunJson = RunSummary;

const SCENARIO = `name: kill-and-restart
end: 2s
steps:
  - { at: 500ms, action: kill, node: dpu-02b }
  - { at: 1s, action: restart, node: dpu-02b }
  - { at: 1.2s, action: kill, node: tor-a }
  - { at: 1.5s, action: restart, node: tor-a }
`;

describe('a killed node started again', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('boots as a new process and incarnation, its peers see its cables go down and up, and the run replays', () => {
    const scenario = join(tmp.dir, 'restart.yaml');
    writeFileSync(scenario, SCENARIO);
    const multi = lastJson<RunJson>(dpulab(['run', '--scenario', scenario, '--seed', '4', '--json', '--db', join(tmp.dir, 'multi.db')]));
    const single = lastJson<RunJson>(dpulab(['run', '--scenario', scenario, '--seed', '4', '--json', '--in-process', '--db', join(tmp.dir, 'single.db')]));
    expect(single.fingerprint).toBe(multi.fingerprint);
    expect(multi.crashed).toEqual([]);

    // Two lives of dpu-02b: two processes, both gone now.
    const lives = multi.nodes.filter((n) => n.id === 'dpu-02b').map((n) => n.pid);
    expect(lives).toHaveLength(2);
    expect(new Set(lives).size).toBe(2);
    for (const pid of lives) expect(isAlive(pid)).toBe(false);

    const reader = EventLogReader.open(multi.db);
    try {
      const starts = [...reader.events({ kinds: ['node.start'], fromNs: 1 })].map((e) => [e.vtime, eventPayload(e, 'node.start')]);
      expect(starts).toEqual([
        [1e9, { node: 'dpu-02b', kind: 'dpu', incarnation: 1 }],
        [1.5e9, { node: 'tor-a', kind: 'switch', incarnation: 1 }],
      ]);
      expect(reader.nodes().filter((n) => n.id === 'dpu-02b').map((n) => n.incarnation)).toEqual([0, 1]);
      // tor-b's port towards dpu-02b lost carrier at the kill and got it back at the restart.
      const towardsDpu = [...reader.events({ kinds: ['link.state'], nodes: ['tor-b'] })].map((e) => [e.vtime, eventPayload(e, 'link.state').up]);
      expect(towardsDpu.slice(0, 2)).toEqual([
        [0.5e9, false],
        [1e9, true],
      ]);
      // The host saw its standby DPU go silent and come back.
      const states = [...reader.events({ kinds: ['dpu.state'], nodes: ['esx-02'] })].map((e) => eventPayload(e, 'dpu.state'));
      expect(states.filter((s) => s.dpu === 'dpu-02b').map((s) => s.reason)).toEqual(['boot', 'heartbeat-lost', 'heartbeat-restored']);
      // The restarted DPU relearns its neighbour as soon as tor-a is back and advertises on link-up.
      const relearned = [...reader.events({ kinds: ['lldp.neighbor'], nodes: ['dpu-02b'], fromNs: 1.5e9 })].map((e) => eventPayload(e, 'lldp.neighbor'));
      expect(relearned.map((n) => n.systemName)).toContain('tor-a');
    } finally {
      reader.close();
    }
    const replay = dpulab(['replay', multi.db, '--verify']);
    expect(replay.code, replay.stdout).toBe(0);
  });

  it('survives a dozen kills and restarts in quick succession, each restarted node catching up with its peers', () => {
    // Each restarted node must receive the frames its peers sent since it came back; a lost
    // wake-up of its socket once hung such a run. Six nodes, each killed and restarted twice.
    const nodes = ['dpu-01a', 'dpu-02b', 'tor-a', 'esx-01', 'dpu-01b', 'tor-b'];
    const steps = Array.from({ length: 12 }, (_, i) => {
      const node = nodes[i % nodes.length];
      const at = 200 + i * 100;
      return `  - { at: ${at}ms, action: kill, node: ${node} }\n  - { at: ${at + 60}ms, action: restart, node: ${node} }\n`;
    });
    const scenario = join(tmp.dir, 'many.yaml');
    writeFileSync(scenario, `name: many-restarts\nend: 1.6s\nsteps:\n${steps.join('')}`);
    const multi = lastJson<RunJson>(dpulab(['run', '--scenario', scenario, '--seed', '3', '--json', '--db', join(tmp.dir, 'many-multi.db')]));
    const single = lastJson<RunJson>(dpulab(['run', '--scenario', scenario, '--seed', '3', '--json', '--in-process', '--db', join(tmp.dir, 'many-single.db')]));
    expect(multi.crashed).toEqual([]);
    expect(multi.fingerprint).toBe(single.fingerprint);
    // Three lives per node, every one of them a process of its own.
    for (const id of nodes) expect(new Set(multi.nodes.filter((n) => n.id === id).map((n) => n.pid)).size).toBe(3);
    const reader = EventLogReader.open(multi.db);
    try {
      expect([...reader.events({ kinds: ['node.start'], fromNs: 1 })]).toHaveLength(12);
    } finally {
      reader.close();
    }
  });

  it("starts a killed node's next life at the kill, and the restart takes that very process; none outlives the run", async () => {
    const cluster = new MultiProcessCluster({ topology: loadDefaultLab(), seed: 1, log: () => undefined });
    /** This test's processes of dpu-02a's incarnation `n`, running. */
    const lifeOf = (n: number): number[] => childrenOf(process.pid, `--node dpu-02a --incarnation ${n} `).filter(isAlive);
    try {
      await cluster.start();
      await cluster.kill('dpu-02a');
      expect(await eventually(() => lifeOf(1).length === 1, 20_000)).toBe(true);
      const waiting = lifeOf(1)[0];
      // It waits: the run goes on without it until the restart.
      expect(cluster.alive()).not.toContain('dpu-02a');
      const info = await cluster.restart('dpu-02a', 1, 100);
      expect(info.pid).toBe(waiting);
      expect(cluster.alive()).toContain('dpu-02a');
      // Killed again, with no restart to come: its third life starts, and goes with the run.
      await cluster.kill('dpu-02a');
      expect(await eventually(() => lifeOf(2).length === 1, 20_000)).toBe(true);
      const third = lifeOf(2)[0]!;
      const exits = await cluster.stop();
      expect(exits.map((e) => e.node)).not.toContain('dpu-02a');
      expect(await eventually(() => !isAlive(third), 5_000)).toBe(true);
    } finally {
      await cluster.dispose();
    }
  });

  it('leaves no node process behind', () => {
    expect(nodeProcesses()).toEqual([]);
  });
});
