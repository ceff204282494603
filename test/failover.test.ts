import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { dpulab, isAlive, lastJson, nodeProcesses, runScenario, streamDuringVmotion, tempDir } from './support/cli.js';
import { payloads } from './support/events.js';
import type { RunSummary } from '../processes/controller/session.js';

/** What `dpulab run --json` prints last: the run summary. */
type RunJson = RunSummary;

/** A TCP flow `f` from web-01 to web-02, started at `atMs`. */
function tcpFlow(atMs: number, ratePps: number): unknown {
  return { at: `${atMs}ms`, action: 'flow.start', flow: { id: 'f', kind: 'tcp', from: 'web-01', to: 'web-02', ratePps } };
}
const stopFlow = { at: '1.8s', action: 'flow.stop', flow: 'f' };
function uplink(wire: string, at: string): unknown {
  return { at, action: 'link', wire, state: 'down' };
}

/** The flow delivered every segment it sent, once. */
function expectWhole(summary: RunJson, flow: string): void {
  const f = summary.flows.find((x) => x.flow === flow)!;
  expect({ delivered: f.delivered, lost: f.lost, duplicated: f.duplicated }).toEqual({ delivered: f.sent, lost: 0, duplicated: 0 });
}

describe('DPU failover in the default scenario (dpu-02a killed at 1.2 s, started again at 2 s)', () => {
  const tmp = tempDir();
  let run: RunJson;

  beforeAll(() => {
    const result = dpulab(['run', '--seed', '11', '--json', '--db', join(tmp.dir, 'default.db')]);
    expect(result.code, result.stderr).toBe(0);
    run = lastJson<RunJson>(result);
  });
  afterAll(() => tmp.remove());

  it('the DPU process really dies: its pid is gone and a new process boots later', () => {
    const lives = run.nodes.filter((n) => n.id === 'dpu-02a').map((n) => n.pid);
    expect(lives).toHaveLength(2);
    expect(new Set(lives).size).toBe(2);
    for (const pid of lives) expect(isAlive(pid)).toBe(false);
    const exits = payloads(run.db, ['node.exit']).filter((e) => e.p.node === 'dpu-02a');
    expect(exits[0]).toMatchObject({ vtime: 1.2e9, p: { signal: 'SIGKILL', incarnation: 0 } });
  });

  it('the host detects it within 3 heartbeat intervals plus one and fails over to the standby', () => {
    const failed = payloads(run.db, ['dpu.failed']);
    expect(failed.map((f) => f.p)).toEqual([expect.objectContaining({ dpu: 'dpu-02a', reason: 'crash', to: 'dpu-02b' })]);
    expect(failed[0]!.p.detectNs).toBeLessThanOrEqual(4 * 100_000_000);
    const done = payloads(run.db, ['dpu.failover.done']);
    expect(done).toHaveLength(1);
    expect(done[0]!.p).toMatchObject({ from: 'dpu-02a', to: 'dpu-02b' });
    expect(done[0]!.p.totalNs).toBeGreaterThanOrEqual(done[0]!.p.detectNs);
    // Every vNIC of esx-02 is restored; the passthrough one gets a VF on the new DPU.
    expect(done[0]!.p.vnics).toEqual([
      { vnic: 'app-02.eth0', mode: 'emulated' },
      { vnic: 'web-02.eth0', mode: 'uptv2' },
    ]);
  });

  it("the takeover costs the new active's Arm cores more than 100 us, step by step, and the failover is done only after it", () => {
    const done = payloads(run.db, ['dpu.failover.done'])[0]!;
    const t = done.p.takeover!;
    expect(t.totalNs).toBeGreaterThan(100_000);
    expect(t.replicaCommitNs + t.vfBindNs + t.switchNs + t.tunnelNs).toBe(t.totalNs);
    for (const part of [t.replicaCommitNs, t.vfBindNs, t.switchNs, t.tunnelNs]) expect(part).toBeGreaterThan(0);
    expect(t.vnics).toBe(2);
    expect(t.connections).toBeGreaterThan(0);
    // After the decision, the failover lasts at least the takeover's work.
    const failed = payloads(run.db, ['dpu.failed'])[0]!;
    expect(done.vtime - failed.vtime).toBeGreaterThanOrEqual(t.totalNs);
    // The same work is charged to dpu-02b's Arm cores in its cost report.
    const report = payloads(run.db, ['cost.report'], ['dpu-02b']).at(-1)!.p;
    const charged = ['takeover-replica-commit', 'takeover-vf-bind', 'takeover-switch', 'takeover-tunnel'].reduce((n, step) => n + (report.byStep[step]?.cpuNs ?? 0), 0);
    expect(charged).toBe(t.totalNs);
  });

  it('established TCP streams through the firewall keep their connections: no new rule evaluation, no duplicates', () => {
    for (const name of ['web-tcp', 'web-app-tcp']) {
      const f = run.flows.find((x) => x.flow === name)!;
      expect({ name, delivered: f.delivered, lost: f.lost, duplicated: f.duplicated, reordered: f.reordered }).toEqual({ name, delivered: f.sent, lost: 0, duplicated: 0, reordered: 0 });
      // Frames lost between the kill and the failover were sent again by TCP, and counted.
      expect(f.retransmits).toBeGreaterThan(0);
    }
    // Until 3.2 s, when web-01 (moved to esx-02 by then) opens a new connection on purpose.
    const afterKill = payloads(run.db, ['dfw.rule.hit']).filter((h) => h.vtime > 1.2e9 && h.vtime < 3.2e9);
    expect(afterKill.filter((h) => h.p.proto === 'tcp' && (h.p.dport === 5201 || h.node === 'dpu-02b'))).toEqual([]);
    const commit = payloads(run.db, ['ha.sync.commit'], ['dpu-02b']);
    expect(commit).toHaveLength(1);
    expect(commit[0]!.p.connections).toBeGreaterThan(0);
  });

  it("the physical switches learn the standby's tunnel endpoint on its uplinks, never the overlay VMs' MACs", () => {
    const reader = EventLogReader.open(run.db);
    let web02Mac = '';
    let standbyPorts: string[] = [];
    try {
      const topology = JSON.parse(reader.run().topologyJson) as { nodes: Array<{ id: string; kind: string; spec: { vms?: Array<{ id: string; vnics: Array<{ mac: string }> }> } }> };
      web02Mac = topology.nodes.find((n) => n.id === 'esx-02')!.spec.vms!.find((v) => v.id === 'web-02')!.vnics[0]!.mac;
      standbyPorts = reader.wires().filter((w) => w.aNode === 'dpu-02b' && w.kind === 'ethernet').map((w) => `${w.bNode}:${w.bPort}`);
    } finally {
      reader.close();
    }
    // The standby's tunnel endpoint is known on its uplink (from its own traffic since boot).
    const learned = payloads(run.db, ['mac.learn']);
    expect(learned.map((e) => `${e.node}:${e.p.port}`)).toContain(standbyPorts.find((p) => p.startsWith('tor-a'))!);
    // The takeover announces web-02 in GENEVE to the other tunnel endpoints, so no switch sees its MAC.
    expect(payloads(run.db, ['mac.learn']).filter((e) => e.p.mac === web02Mac)).toEqual([]);
    const announced = payloads(run.db, ['net.announce']).filter((e) => e.p.vnic === 'web-02.eth0' && e.p.why === 'takeover');
    expect(announced.map((e) => [e.node, e.p.round, e.p.carrier])).toEqual([1, 2, 3, 4, 5].map((r) => ['dpu-02b', r, 'geneve']));
  });

  it('the killed DPU comes back as standby and in sync', () => {
    const roles = payloads(run.db, ['dpu.role'], ['esx-02']).filter((r) => r.p.dpu === 'dpu-02a');
    expect(roles.map((r) => [r.p.role, r.p.reason])).toEqual([
      ['standby', 'crash'],
      ['standby', 'rejoined'],
    ]);
    const bulk = payloads(run.db, ['ha.sync.bulk.end'], ['dpu-02a']);
    expect(bulk.length).toBeGreaterThan(0);
    expect(bulk.every((b) => b.vtime >= 2e9)).toBe(true);
  });

  it('every DPU, standby ones too, gets the new tunnel endpoint of esx-02 from the manager, and the restarted one the table as it is now', () => {
    const table = payloads(run.db, ['manager.table']).find((t) => t.p.hosts.some((h) => h.host === 'esx-02'))!;
    expect(table.vtime).toBeGreaterThan(1.2e9);
    const applied = payloads(run.db, ['overlay.table']).filter((e) => e.p.generation === table.p.generation);
    expect(new Set(applied.filter((e) => e.vtime < 2e9).map((e) => e.node))).toEqual(new Set(['dpu-01a', 'dpu-01b', 'dpu-02b']));
    // dpu-02a boots at 2 s with the topology's table, reports, and gets what changed since.
    const restarted = applied.filter((e) => e.node === 'dpu-02a');
    expect(restarted).toHaveLength(1);
    expect(restarted[0]!.vtime).toBeGreaterThanOrEqual(2e9);
  });

  it('is reproducible: the same seed gives the same fingerprint, kill included, in one process too', () => {
    const again = lastJson<RunJson>(dpulab(['run', '--seed', '11', '--json', '--in-process', '--db', join(tmp.dir, 'again.db')]));
    expect(again.fingerprint).toBe(run.fingerprint);
  });
});

describe('DPU failover edge cases', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('with an empty standby list the same kill leaves the host VMs disconnected, and says so', () => {
    // esx-02 keeps one DPU and an empty standby list: no failover possible.
    const lab = parse(DEFAULT_LAB_YAML) as { hosts: Array<Record<string, unknown> & { id: string }>; dpus: Array<{ id: string }>; wires: Array<{ a: string; b: string }> };
    lab.hosts.find((h) => h.id === 'esx-02')!.failover = { active: ['dpu-02a'], standby: [] };
    lab.dpus = lab.dpus.filter((d) => d.id !== 'dpu-02b');
    lab.wires = lab.wires.filter((w) => !w.a.startsWith('dpu-02b:') && !w.b.startsWith('dpu-02b:'));
    const { db } = runScenario<RunJson>(tmp.dir, 'no-standby', '2s', [tcpFlow(500, 100), { at: '1s', action: 'kill', node: 'dpu-02a' }], { lab });
    const impossible = payloads(db, ['dpu.failover.impossible']);
    expect(impossible).toHaveLength(1);
    expect(impossible[0]!.p).toMatchObject({ dpu: 'dpu-02a', reason: 'no-standby', vnicsDisconnected: true });
    expect(impossible[0]!.p.message).toMatch(/disconnected/);
    expect(payloads(db, ['dpu.failed'])).toEqual([]);
  });

  it('an uplink failure moves traffic to the DPU other uplink with no DPU failover', () => {
    const summary = runScenario<RunJson>(tmp.dir, 'uplink', '2s', [tcpFlow(300, 200), uplink('up-02a-a', '800ms'), stopFlow]);
    const failovers = payloads(summary.db, ['team.failover'], ['dpu-02a']);
    expect(failovers.map((f) => [f.vtime, f.p.from, f.p.to])).toEqual([[0.8e9, 'p0', 'p1']]);
    expect(payloads(summary.db, ['dpu.failed'])).toEqual([]);
    expectWhole(summary, 'f');
  });

  it('all uplinks of the active DPU down fail the host over with reason linkDown', () => {
    const summary = runScenario<RunJson>(tmp.dir, 'uplinks-down', '2s', [tcpFlow(300, 100), uplink('up-02a-a', '800ms'), uplink('up-02a-b', '800ms'), stopFlow]);
    expect(payloads(summary.db, ['dpu.failed']).map((f) => f.p)).toEqual([expect.objectContaining({ dpu: 'dpu-02a', reason: 'linkDown', to: 'dpu-02b' })]);
    expectWhole(summary, 'f');
  });

  it('a requested failover moves a host to its standby with reason userInitiated', () => {
    const { db } = runScenario<RunJson>(tmp.dir, 'user', '1s', [{ at: '500ms', action: 'dpu.failover', host: 'esx-01' }]);
    expect(payloads(db, ['dpu.failed']).map((f) => f.p)).toEqual([expect.objectContaining({ dpu: 'dpu-01a', reason: 'userInitiated', to: 'dpu-01b' })]);
    expect(payloads(db, ['dpu.failover.done'])).toHaveLength(1);
  });

  it('leaves no node process behind', () => {
    expect(nodeProcesses()).toEqual([]);
  });
});

describe('DPU failback', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('with failback set, the preferred DPU takes the host back once it is healthy again', () => {
    const lab = parse(DEFAULT_LAB_YAML) as { hosts: Array<Record<string, unknown> & { id: string }> };
    lab.hosts.find((h) => h.id === 'esx-02')!.failover = { active: ['dpu-02a'], standby: ['dpu-02b'], failback: true };
    const steps = [
      { at: '500ms', action: 'kill', node: 'dpu-02a' },
      { at: '1.5s', action: 'restart', node: 'dpu-02a' },
    ];
    const { db } = runScenario<RunJson>(tmp.dir, 'failback', '3s', steps, { lab });
    const failed = payloads(db, ['dpu.failed']).map((f) => [f.p.dpu, f.p.reason, f.p.to]);
    expect(failed).toEqual([
      ['dpu-02a', 'crash', 'dpu-02b'],
      ['dpu-02b', 'failback', 'dpu-02a'],
    ]);
  });
});

describe('a failover right after a VM arrived', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('keeps serving a vNIC adopted less than one HA sync flush before it: the host, not the replica, says which vNICs it has', () => {
    const steps = streamDuringVmotion('stream', '2.3s');
    const run = (name: string, extra: unknown[]): RunJson => runScenario<RunJson>(tmp.dir, name, '2.5s', [...steps, ...extra], { seed: 5 });
    // Where the VM resumes on esx-02 (and dpu-02a imported its firewall state), without the failover.
    const resume = payloads(run('plain', []).db, ['vmotion.resume'])[0]!.vtime;
    // esx-02 fails over to dpu-02b 1 us after the resume: dpu-02a's next sync flush is up to 10 ms away.
    const at = `${resume + 1_000}ns`;
    const summary = run('failover', [{ at, action: 'dpu.failover', host: 'esx-02' }]);
    expect(payloads(summary.db, ['dpu.failed']).map((f) => [f.vtime, f.p.dpu, f.p.to])).toEqual([[resume + 1_000, 'dpu-02a', 'dpu-02b']]);
    const done = payloads(summary.db, ['dpu.failover.done'], ['esx-02']);
    expect(done[0]!.p.vnics.map((v) => v.vnic)).toContain('web-01.eth0');
    // The vNIC carries on, on dpu-02b, back in passthrough; nothing is refused as unknown.
    const modes = payloads(summary.db, ['vnic.mode'], ['esx-02']).filter((e) => e.p.vnic === 'web-01.eth0');
    expect(modes.at(-1)!.p.active).toBe('uptv2');
    const unknown = payloads(summary.db, ['pcie.drop']).filter((e) => e.p.vnic === 'web-01.eth0');
    expect(unknown).toEqual([]);
    expectWhole(summary, 'stream');
  });
});
