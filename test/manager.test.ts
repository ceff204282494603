import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dpulab, nodeProcesses, runScenario, streamDuringVmotion, tempDir } from './support/cli.js';
import { payloads } from './support/events.js';
import type { RunSummary } from '../processes/controller/session.js';

/** What `dpulab run --json` prints last: the run summary. */
type RunJson = RunSummary;

const VIOLATIONS = ['vnic.checker.violation', 'vmotion.checker.violation', 'vf.checker.violation', 'vf.error', 'node.error'] as const;

describe('the management plane', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  function run(name: string, end: string, steps: unknown[], multiProcess = false): RunJson {
    const json = runScenario<RunJson>(tmp.dir, name, end, steps, { seed: 6, multiProcess });
    expect(json.status).toBe('completed');
    return json;
  }

  /** Where each VM runs at the end: its topology host, moved by every committed vMotion. */
  function vmHosts(db: string): Map<string, string> {
    const hosts = new Map<string, string>([['web-01', 'esx-01']]);
    for (const d of payloads(db, ['vmotion.done'])) if (d.p.result.startsWith('success')) hosts.set(d.p.vm, d.p.to);
    return hosts;
  }

  it('a cut of the destination DPU between the firewall import and the resume: the VM runs on one host, its flow delivers no more than was sent', () => {
    const steps = streamDuringVmotion('stream', '2.6s');
    // Where the destination's DPU imports the firewall state, without the cut.
    const plain = run('split-plain', '3s', steps);
    const imported = payloads(plain.db, ['dfw.import'], ['dpu-02a']).find((e) => e.p.ok)!;
    const cut = `${imported.vtime + 1}ns`;
    const summary = run('split', '3s', [...steps, { at: cut, action: 'link', wire: 'up-02a-a', state: 'down' }, { at: cut, action: 'link', wire: 'up-02a-b', state: 'down' }]);
    // The cut did land between the import and the resume (or the abort).
    const after = payloads(summary.db, ['dfw.import', 'vmotion.resume', 'vmotion.done']).map((e) => [e.kind, e.vtime >= imported.vtime + 1]);
    expect(after[0]).toEqual(['dfw.import', false]);
    // One migration, one outcome, one host.
    const done = payloads(summary.db, ['vmotion.done']);
    expect(done).toHaveLength(1);
    const resumed = payloads(summary.db, ['vmotion.resume']);
    const released = payloads(summary.db, ['vmotion.source.released']);
    if (done[0]!.p.result === 'aborted') expect([resumed, released]).toEqual([[], []]);
    else expect([resumed.length, released.length]).toEqual([1, 1]);
    const decisions = payloads(summary.db, ['switchover.decision']);
    expect(decisions.map((d) => d.p.decision)).toEqual([done[0]!.p.result === 'aborted' ? 'aborted' : 'committed']);
    const stream = summary.flows.find((f) => f.flow === 'stream')!;
    expect(stream.delivered).toBeLessThanOrEqual(stream.sent);
    expect(stream.duplicated).toBe(0);
    expect(payloads(summary.db, VIOLATIONS)).toEqual([]);
  });

  it('a failover on each host loses no TCP message: every DPU, standby too, learns the new tunnel endpoints, and a vMotion afterwards succeeds', () => {
    const summary = run('two-failovers', '4.6s', [
      { at: '200ms', action: 'flow.start', flow: { id: 'tcp', kind: 'tcp', from: 'web-02', to: 'app-01', ratePps: 100 } },
      { at: '200ms', action: 'flow.start', flow: { id: 'ping', kind: 'ping', from: 'web-02', to: 'app-01', ratePps: 10 } },
      { at: '1s', action: 'kill', node: 'dpu-02a' },
      { at: '2s', action: 'kill', node: 'dpu-01a' },
      { at: '2.5s', action: 'vmotion', vm: 'web-01', to: 'esx-02' },
      { at: '3.6s', action: 'flow.stop', flow: 'tcp' },
      { at: '3.6s', action: 'flow.stop', flow: 'ping' },
    ]);
    const tcp = summary.flows.find((f) => f.flow === 'tcp')!;
    expect({ delivered: tcp.delivered, lost: tcp.lost, duplicated: tcp.duplicated }).toEqual({ delivered: tcp.sent, lost: 0, duplicated: 0 });
    expect(['TIME_WAIT', 'CLOSED']).toContain(tcp.tcpState);
    expect(payloads(summary.db, ['dpu.failed']).map((e) => [e.p.dpu, e.p.to])).toEqual([
      ['dpu-02a', 'dpu-02b'],
      ['dpu-01a', 'dpu-01b'],
    ]);
    // The standby of esx-01 heard of esx-02's failover from the manager before it took over.
    const tables = payloads(summary.db, ['overlay.table'], ['dpu-01b']);
    const firstFailover = payloads(summary.db, ['dpu.failed'])[0]!.vtime;
    expect(tables.some((t) => t.vtime > firstFailover && t.vtime < 2e9 && t.p.hosts.includes('esx-02'))).toBe(true);
    expect(payloads(summary.db, ['vmotion.done']).map((d) => d.p.result)).toEqual(['success']);
    expect(payloads(summary.db, VIOLATIONS)).toEqual([]);
    // What crossed the standby's management cable opens in tshark: UDP 902 both ways, nothing malformed.
    const file = join(tmp.dir, 'mgmt-dpu-01b.pcapng');
    expect(dpulab(['pcap', summary.db, '--wire', 'mgmt-dpu-01b', '-o', file]).code).toBe(0);
    const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const bad = spawnSync('tshark', ['-r', file, ...checks, '-Y', '_ws.malformed || _ws.expert.severity >= warning'], { encoding: 'utf8' });
    expect(bad.status, bad.stderr).toBe(0);
    expect(bad.stdout.trim()).toBe('');
    const ports = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'ip.src', '-e', 'udp.dstport'], { encoding: 'utf8' }).stdout.trim().split('\n');
    expect(new Set(ports)).toEqual(new Set(['172.31.0.1\t902', '172.31.2.11\t902']));
  });

  it('killed mid-run, the data plane forwards on, a failover happens without it and says so, a vMotion refuses to start; restarted, it resyncs and vMotion works again', () => {
    const summary = run('manager-dies', '4.6s', [
      { at: '100ms', action: 'flow.start', flow: { id: 'tcp', kind: 'tcp', from: 'web-01', to: 'web-02', ratePps: 200 } },
      { at: '100ms', action: 'flow.start', flow: { id: 'routed', kind: 'tcp', from: 'web-02', to: 'app-01', ratePps: 100 } },
      { at: '500ms', action: 'kill', node: 'vcenter' },
      { at: '800ms', action: 'kill', node: 'dpu-02a' },
      { at: '1.5s', action: 'vmotion', vm: 'web-01', to: 'esx-02' },
      { at: '2.5s', action: 'restart', node: 'vcenter' },
      { at: '2.8s', action: 'vmotion', vm: 'web-01', to: 'esx-02' },
      { at: '4.4s', action: 'flow.stop', flow: 'tcp' },
      { at: '4.4s', action: 'flow.stop', flow: 'routed' },
    ]);
    for (const name of ['tcp', 'routed']) {
      const f = summary.flows.find((x) => x.flow === name)!;
      expect({ name, delivered: f.delivered, lost: f.lost, duplicated: f.duplicated }).toEqual({ name, delivered: f.sent, lost: 0, duplicated: 0 });
    }
    // The failover happened, and esx-02 said what waits for the manager.
    expect(payloads(summary.db, ['dpu.failed']).map((e) => e.p.dpu)).toEqual(['dpu-02a']);
    const waiting = payloads(summary.db, ['mgmt.unreachable', 'mgmt.waiting'], ['esx-02']);
    expect(waiting.flatMap((e) => (e.kind === 'mgmt.unreachable' ? e.p.waiting : [e.p.what])).join(' ')).toMatch(/peers learn its tunnel endpoint .* when vcenter answers again/);
    // The first vMotion could not start: the VM was never stopped.
    const done = payloads(summary.db, ['vmotion.done']);
    expect(done.map((d) => d.p.result)).toEqual(['aborted', 'success']);
    expect(done[0]!.p.reason).toMatch(/^manager-unreachable: no answer from vcenter/);
    const stuns = payloads(summary.db, ['vmotion.stun']);
    expect(stuns.map((s) => s.p.mid)).toEqual([done[1]!.p.mid]);
    // The restarted manager asked every node and said what it rebuilt: esx-02 served by dpu-02b.
    const resync = payloads(summary.db, ['manager.resync']);
    expect(resync).toHaveLength(1);
    expect(resync[0]!.p.vms['web-01']).toBe('esx-01');
    const boot = payloads(summary.db, ['manager.boot']);
    expect(boot.map((b) => b.p.restart)).toEqual([false, true]);
    expect(vmHosts(summary.db).get('web-01')).toBe('esx-02');
    expect(payloads(summary.db, VIOLATIONS)).toEqual([]);
  });

  it('killed between the stun and the commit and started again: the switchover waits for it, then is decided once from what the hosts report', () => {
    const steps = streamDuringVmotion('tcp', '2.4s');
    const plain = run('switchover-plain', '2.6s', steps);
    const stun = payloads(plain.db, ['vmotion.stun'])[0]!.vtime;
    const restart = stun + 300_000_000;
    const summary = run('switchover-restart', '2.6s', [...steps, { at: `${stun + 1}ns`, action: 'kill', node: 'vcenter' }, { at: `${restart}ns`, action: 'restart', node: 'vcenter' }]);
    expect(payloads(summary.db, ['vmotion.stun']).map((e) => e.vtime)).toEqual([stun]);
    // Nobody decided while the manager was away: the VM stayed stopped, then moved exactly once.
    const decisions = payloads(summary.db, ['switchover.decision']);
    expect(decisions.map((d) => d.p.decision)).toEqual(['committed']);
    expect(decisions[0]!.vtime).toBeGreaterThanOrEqual(restart);
    const done = payloads(summary.db, ['vmotion.done']);
    expect(done.map((d) => [d.node, d.p.result])).toEqual([['esx-02', 'success']]);
    expect(done[0]!.p.switchoverNs).toBeGreaterThan(300_000_000);
    expect(payloads(summary.db, ['vmotion.source.released'])).toHaveLength(1);
    // The restarted manager learned the migration from the hosts' reports.
    const resync = payloads(summary.db, ['manager.resync']);
    expect(resync[0]!.p.migrations.map((m) => m.state)).toEqual(['committed']);
    const tcp = summary.flows.find((f) => f.flow === 'tcp')!;
    expect({ delivered: tcp.delivered, duplicated: tcp.duplicated }).toEqual({ delivered: tcp.sent, duplicated: 0 });
    expect(payloads(summary.db, VIOLATIONS)).toEqual([]);
  });

  it('a host that restarts after its VM moved away powers on only the VMs the manager places on it, after it heard from the manager', () => {
    const summary = run('host-restart', '3s', [
      { at: '200ms', action: 'vmotion', vm: 'web-01', to: 'esx-02' },
      { at: '1.3s', action: 'kill', node: 'esx-01' },
      { at: '1.5s', action: 'kill', node: 'vcenter' },
      { at: '1.6s', action: 'restart', node: 'esx-01' },
      { at: '2s', action: 'restart', node: 'vcenter' },
      { at: '2.2s', action: 'flow.start', flow: { id: 'after', kind: 'tcp', from: 'web-01', to: 'web-02', ratePps: 100 } },
      { at: '2.8s', action: 'flow.stop', flow: 'after' },
    ]);
    expect(payloads(summary.db, ['vmotion.done']).map((d) => d.p.result)).toEqual(['success']);
    // web-01 runs once: only esx-02 starts its flow, which delivers what it sends.
    expect(payloads(summary.db, ['flow.start']).filter((e) => e.p.flow === 'after').map((e) => e.node)).toEqual(['esx-02']);
    const after = summary.flows.find((f) => f.flow === 'after')!;
    expect({ delivered: after.delivered, duplicated: after.duplicated }).toEqual({ delivered: after.sent, duplicated: 0 });
    // esx-01 came back while the manager was away: its VMs stayed off, and it said what it waited for.
    const waited = payloads(summary.db, ['mgmt.unreachable', 'mgmt.waiting'], ['esx-01']).filter((e) => e.vtime >= 1.6e9);
    expect(waited.flatMap((e) => (e.kind === 'mgmt.unreachable' ? e.p.waiting : [e.p.what])).join(' ')).toMatch(/which of app-01, db-01, web-01 esx-01 may power on/);
    const powered = payloads(summary.db, ['host.vms.powered'], ['esx-01']);
    expect(powered.map((e) => [e.p.on, e.p.elsewhere])).toEqual([[['app-01', 'db-01'], ['web-01']]]);
    expect(powered[0]!.vtime).toBeGreaterThanOrEqual(2e9);
  });

  it('runs in its own process, killed and restarted like any node, and gives the in-process fingerprint', () => {
    const steps = [
      { at: '100ms', action: 'flow.start', flow: { id: 'tcp', kind: 'tcp', from: 'web-02', to: 'app-01', ratePps: 100 } },
      { at: '300ms', action: 'kill', node: 'vcenter' },
      { at: '500ms', action: 'kill', node: 'dpu-01a' },
      { at: '900ms', action: 'restart', node: 'vcenter' },
      { at: '1.3s', action: 'flow.stop', flow: 'tcp' },
    ];
    const multi = run('multi', '1.5s', steps, true);
    const single = run('multi', '1.5s', steps);
    expect(multi.fingerprint).toBe(single.fingerprint);
    const lives = multi.nodes.filter((n) => n.id === 'vcenter');
    expect(lives.map((n) => n.kind)).toEqual(['manager', 'manager']);
    expect(new Set(lives.map((n) => n.pid)).size).toBe(2);
    expect(payloads(multi.db, ['manager.resync'])).toHaveLength(1);
  });

  it('leaves no node process behind', () => {
    expect(nodeProcesses()).toEqual([]);
  });
});
