/**
 * One fold: a run's events folded through every entry point that shows them (the summary
 * `dpulab run` prints, the UI's live session and its replay session with seeks, the lab grader,
 * `foldLog`) give the same cluster state: DPU roles, the device serving each vNIC, where each VM
 * runs, migrations, failovers and flows.
 *
 * The run is the default scenario (dpu-02a killed at 1.2 s and restarted, web-01 moved to esx-02
 * at 2.2 s) plus a kill of dpu-01a at 3.3 s, so both hosts fail over, one after a vMotion.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { foldLog } from '../processes/controller/cluster-state.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { prepareRun, startRun, type RunSummary } from '../processes/controller/session.js';
import { combineReports, type FlowReport } from '../processes/host/guest/checker.js';
import { gradeLog, openLab } from '../app/lab/labs.js';
import { LiveSession } from '../app/server/live-session.js';
import { ReplaySession } from '../app/server/replay-session.js';
import { DEFAULT_SCENARIO_YAML } from '../shared/scenario/default-scenario.js';
import type { ClusterState } from '../shared/state/cluster-state.js';
import { dpuRoleView, vnicStateView } from '../shared/state/node-view.js';
import { vmHostOf } from '../shared/state/queries.js';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML, loadTopology } from '../shared/topology/load.js';
import { tempDir } from './support/cli.js';
import { payloads } from './support/events.js';

const SCENARIO = { text: `${DEFAULT_SCENARIO_YAML}  - { at: 3.3s, action: kill, node: dpu-01a }\n`, file: 'both-hosts.yaml' };
const SEED = 3;
const topology = loadTopology(DEFAULT_LAB_YAML, DEFAULT_LAB_FILE);

/** What people compare between views: roles, serving devices, VM placement, migrations, failovers, flows. */
function essentials(state: ClusterState): unknown {
  return {
    dpus: ['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => dpuRoleView(state, topology, d)),
    vnics: ['web-01.eth0', 'web-02.eth0', 'app-01.eth0', 'app-02.eth0', 'db-01.eth0'].map((v) => vnicStateView(state, topology, v)),
    vms: ['web-01', 'web-02', 'app-01', 'app-02', 'db-01'].map((vm) => vmHostOf(state, vm, '?')),
    migrations: state.migrations,
    failovers: state.failovers,
    flows: state.flows,
  };
}

describe('one fold for every view of a run', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'run.db');
  let summary: RunSummary;
  let summaryState: ClusterState;

  beforeAll(async () => {
    const handle = startRun({ mode: 'in-process', seed: SEED, db, scenario: SCENARIO, log: () => undefined });
    summary = await handle.done;
    summaryState = handle.state();
    expect(summary.status).toBe('completed');
  }, 120_000);
  afterAll(() => tmp.remove());

  it('one fold: the run summary, foldLog, the replay session and the lab grader fold the log to equal states', async () => {
    const replay = new ReplaySession(db);
    try {
      const fromLog = foldLog(db);
      expect(fromLog).toEqual(summaryState);
      expect(replay.stateAt()).toEqual(summaryState);
      expect(gradeLog(openLab('kill-a-dpu'), db).state).toEqual(summaryState);
      // And what they agree on is the story of the run.
      const s = essentials(summaryState) as { dpus: Array<{ dpu: string; role: string }>; vnics: Array<{ vnic: string; host: string; serving: { device: string; dpu: string } }>; vms: string[] };
      expect(s.dpus.map((d) => `${d.dpu} ${d.role}`)).toEqual(['dpu-01a standby', 'dpu-01b active', 'dpu-02a standby', 'dpu-02b active']);
      expect(s.vnics.find((v) => v.vnic === 'web-01.eth0')).toMatchObject({ host: 'esx-02', serving: { device: 'vf', dpu: 'dpu-02b' } });
      expect(s.vnics.find((v) => v.vnic === 'app-01.eth0')).toMatchObject({ host: 'esx-01', serving: { device: 'vf', dpu: 'dpu-01b' } });
      expect(s.vms).toEqual(['esx-02', 'esx-02', 'esx-01', 'esx-02', 'esx-01']);
      expect(summaryState.failovers.map((f) => `${f.host} ${f.from}>${f.to} ${f.result}`)).toEqual(['esx-02 dpu-02a>dpu-02b done', 'esx-01 dpu-01a>dpu-01b done']);
    } finally {
      await replay.close();
    }
  });

  it('one fold: a replay seek across each failover equals the log folded up to that event', async () => {
    const log = EventLogReader.open(db);
    const done = [...log.events({ kinds: ['dpu.failover.done'] })].map((e) => e.seq);
    log.close();
    expect(done).toHaveLength(2);
    const reader = new ReplaySession(db);
    try {
      for (const seq of done.flatMap((s) => [s - 1, s])) {
        expect(essentials(reader.stateAt(seq))).toEqual(essentials(foldLog(db, seq + 1)));
      }
      const after = reader.stateAt(done[0]!);
      expect(dpuRoleView(after, topology, 'dpu-02b')).toMatchObject({ role: 'active', ownRole: 'active' });
      expect(vnicStateView(after, topology, 'web-02.eth0')!.serving).toMatchObject({ device: 'vf', dpu: 'dpu-02b' });
    } finally {
      await reader.close();
    }
  });

  it('one fold: the live UI session of the same run (same seed and scenario) folds to the same state', async () => {
    const prepared = prepareRun({ scenario: SCENARIO, seed: SEED });
    const run = startRun({ db: join(tmp.dir, 'live.db'), mode: 'in-process', readWhileRunning: true, log: () => undefined }, prepared);
    const session = new LiveSession(run, 0);
    try {
      const end = await run.done;
      expect(end.fingerprint).toBe(summary.fingerprint);
      expect(session.stateAt()).toEqual(summaryState);
    } finally {
      await session.close();
    }
  }, 120_000);

  it('one fold: the summary\'s flows, vMotions and DPUs are the state\'s, and the flows join the final reports as before', () => {
    const finals = new Map<string, { sender?: FlowReport; receiver?: FlowReport }>();
    for (const { p } of payloads(db, ['flow.report'])) {
      if (!p.final) continue;
      const sides = finals.get(p.flow) ?? {};
      sides[p.side] = p;
      finals.set(p.flow, sides);
    }
    const joined = [...finals].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([, sides]) => (sides.sender ? [combineReports(sides.sender, sides.receiver ?? null)] : []));
    expect(summary.flows).toEqual(joined);
    const done = payloads(db, ['vmotion.done']);
    expect(summary.vmotions).toEqual(done.map(({ p }) => ({ vm: p.vm, from: p.from, to: p.to, result: p.result, reason: p.reason, rounds: p.rounds, switchoverNs: p.switchoverNs, downtimeNs: p.downtimeNs, guestDowntimeNs: p.guestDowntimeNs, breakdown: p.breakdown })));
    expect(summary.dpus.map((d) => [d.dpu, d.role, d.ownRole])).toEqual([
      ['dpu-01a', 'standby', null],
      ['dpu-01b', 'active', 'active'],
      ['dpu-02a', 'standby', 'standby'],
      ['dpu-02b', 'active', 'active'],
    ]);
    expect(summary.cores.map((c) => c.node)).toEqual(Object.keys(summaryState.costs).sort());
  });
});
