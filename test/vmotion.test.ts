import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { startRun } from '../processes/controller/api.js';
import { dpulab, expectRunKeepsInvariants, lastJson, tempDir } from './support/cli.js';
import { payloads } from './support/events.js';
import type { RunSummary } from '../processes/controller/session.js';

/** What `dpulab run --json` prints last: the run summary. */
type RunJson = RunSummary;

interface Done {
  vm: string;
  from: string;
  to: string;
  result: string;
  reason: string | null;
  rounds: number;
  switchoverNs: number | null;
  downtimeNs: number | null;
}

/** The default lab as YAML data, for a test to change before it runs. */
interface LabData {
  hosts: Array<{ vms: Array<Record<string, unknown>> }>;
  dpus: Array<Record<string, unknown>>;
}

const VIOLATIONS = ['vnic.checker.violation', 'vmotion.checker.violation', 'vf.checker.violation', 'vf.error', 'node.error'] as const;

/** The MAC of a VM's first vNIC and the switch ports cabled to a node, from the run's own record. */
function labFacts(db: string, vm: string, dpu: string): { mac: string; ports: string[] } {
  const reader = EventLogReader.open(db);
  try {
    const topology = JSON.parse(reader.run().topologyJson) as { nodes: Array<{ kind: string; spec: { vms?: Array<{ id: string; vnics: Array<{ mac: string }> }> } }> };
    const mac = topology.nodes.flatMap((n) => n.spec.vms ?? []).find((v) => v.id === vm)!.vnics[0]!.mac;
    const ports = reader.wires().filter((w) => w.aNode === dpu && w.kind === 'ethernet').map((w) => `${w.bNode}:${w.bPort}`);
    return { mac, ports };
  } finally {
    reader.close();
  }
}

describe('vMotion of web-01 (UPTv2) from esx-01 to esx-02 in the default scenario', () => {
  const tmp = tempDir();
  let run: RunJson;

  beforeAll(() => {
    const result = dpulab(['run', '--seed', '7', '--json', '--db', join(tmp.dir, 'default.db')]);
    expect(result.code, result.stderr).toBe(0);
    run = lastJson<RunJson>(result);
  });
  afterAll(() => tmp.remove());

  it('records every step in order, with the firewall import before the resume', () => {
    const kinds = ['vmotion.start', 'vmotion.precheck', 'vnic.handoff', 'vmotion.precopy.round', 'vmotion.stun', 'dfw.export', 'vmotion.transfer', 'dfw.import', 'vmotion.resume', 'net.rarp', 'vmotion.done'] as const;
    const events = payloads(run.db, kinds).filter((e) => e.p.vm === 'web-01' && e.vtime >= 2.2e9);
    const sequence = events.map((e) => (e.kind === 'vnic.handoff' ? `${e.kind}:${e.p.direction}@${e.node}` : e.kind));
    const collapsed = sequence.filter((k, i) => k !== sequence[i - 1]);
    expect(collapsed).toEqual([
      'vmotion.start',
      'vmotion.precheck',
      'vnic.handoff:vf-to-emulated@esx-01',
      'vmotion.precopy.round',
      'vmotion.stun',
      'dfw.export',
      'vmotion.transfer',
      'dfw.import',
      'vmotion.resume',
      'net.rarp',
      'vnic.handoff:emulated-to-vf@esx-02',
      'vmotion.done',
    ]);
    expect(events.find((e) => e.kind === 'vmotion.precheck')!.p.ok).toBe(true);
    const exported = events.find((e) => e.kind === 'dfw.export')!;
    const imported = events.find((e) => e.kind === 'dfw.import')!;
    expect([exported.node, imported.node]).toEqual(['dpu-01a', 'dpu-02b']);
    expect(imported.p.ok).toBe(true);
  });

  it('reports a switchover of 10 to 500 ms whose parts add up, and the downtime the guest saw, in the log and the summary', () => {
    const done = payloads(run.db, ['vmotion.done']).find((e) => e.p.vm === 'web-01')!.p;
    expect(done.switchoverNs!).toBeGreaterThanOrEqual(10_000_000);
    expect(done.switchoverNs!).toBeLessThanOrEqual(500_000_000);
    const b = done.breakdown!;
    expect(b.checkpointNs + b.transferNs + b.commitNs + b.restoreNs + b.resumeNs).toBe(done.switchoverNs);
    for (const part of [b.checkpointNs, b.transferNs, b.restoreNs, b.resumeNs]) expect(part).toBeGreaterThan(0);
    // The guest's last frame in or out came before the stun, its first after the resume.
    expect(done.guestDowntimeNs!).toBeGreaterThanOrEqual(done.switchoverNs!);
    const resume = payloads(run.db, ['vmotion.resume']).find((e) => e.p.vm === 'web-01')!.p;
    expect(resume.breakdown).toEqual(b);
    const summary = run.vmotions.find((m) => m.vm === 'web-01')!;
    expect(summary).toMatchObject({ switchoverNs: done.switchoverNs, guestDowntimeNs: done.guestDowntimeNs, breakdown: b });
  });

  it('completes in passthrough with a switchover within the 500 ms goal', () => {
    const done = payloads(run.db, ['vmotion.done']).filter((e) => e.p.vm === 'web-01');
    expect(done).toHaveLength(1);
    const d = done[0]!.p;
    expect(d).toMatchObject({ from: 'esx-01', to: 'esx-02', result: 'success', reason: null });
    expect(d.rounds).toBeGreaterThanOrEqual(1);
    expect(d.switchoverNs).toBeGreaterThan(0);
    expect(d.switchoverNs!).toBeLessThanOrEqual(500_000_000);
    expect(d.downtimeNs).not.toBeNull();
    expect(d.downtimeNs!).toBeGreaterThanOrEqual(d.switchoverNs!);
    const modes = payloads(run.db, ['vnic.mode'], ['esx-02']).filter((e) => e.p.vnic === 'web-01.eth0');
    expect(modes.at(-1)!.p.active).toBe('uptv2');
  });

  it('pre-copy rounds shrink to what the guest dirtied, and the pages crossed the network', () => {
    const rounds = payloads(run.db, ['vmotion.precopy.round']).filter((e) => e.p.vm === 'web-01');
    expect(rounds[0]!.p.pagesSent).toBe((2048 * 1024 * 1024) / 4096);
    for (let i = 1; i < rounds.length; i++) expect(rounds[i]!.p.pagesSent).toBe(rounds[i - 1]!.p.pagesDirtied);
    // web-01 dirties 1,000 pages a second: what the first round left fits the goal, and goes after the stun.
    expect(rounds.at(-1)!.p.pagesDirtied).toBeLessThan(rounds[0]!.p.pagesSent / 100);
    // What the last round left, and what the guest dirtied while the manager heard of the switchover.
    const stun = payloads(run.db, ['vmotion.stun']).find((e) => e.p.vm === 'web-01')!;
    const waitedNs = stun.vtime - rounds.at(-1)!.vtime;
    expect(stun.p.remainingPages).toBeGreaterThanOrEqual(rounds.at(-1)!.p.pagesDirtied!);
    expect(stun.p.remainingPages).toBeLessThanOrEqual(rounds.at(-1)!.p.pagesDirtied! + Math.ceil((1000 * waitedNs) / 1e9));
    // The first round of 2 GiB takes at least what 25 Gb/s allows.
    expect(rounds[0]!.p.durationNs).toBeGreaterThanOrEqual(Math.floor((2 * 1024 ** 3 * 8) / 25));
    const tunnelled = payloads(run.db, ['frame.tx'], ['dpu-01a']).filter((e) => e.p.wire.startsWith('up-01a') && e.vtime > 2.2e9 && e.vtime < 3e9);
    expect(tunnelled.length).toBeGreaterThan(rounds[0]!.p.pagesSent / 256);
  });

  it('the TCP stream and the ping keep flowing: no duplicates, no reordering, no loss', () => {
    for (const name of ['web-tcp', 'web-ping']) {
      const f = run.flows.find((x) => x.flow === name)!;
      expect({ name, lost: f.lost, duplicated: f.duplicated, reordered: f.reordered }).toEqual({ name, lost: name === 'web-ping' ? f.lost : 0, duplicated: 0, reordered: 0 });
      expect(f.delivered).toBeGreaterThan(0);
    }
    const tcp = run.flows.find((x) => x.flow === 'web-tcp')!;
    expect(tcp.delivered).toBe(tcp.sent);
  });

  it('the stream keeps its connection entry: exported with its state and remaining timeout, no new rule evaluation', () => {
    const exported = payloads(run.db, ['dfw.export']).find((e) => e.p.vnic === 'web-01.eth0')!;
    const stream = exported.p.connections.find((c) => c.ruleId === 'web-01-stream')!;
    expect(stream.state).toBe('established');
    expect(stream.remainingNs).toBeGreaterThan(0);
    expect(exported.p.connections.some((c) => c.ruleId === 'web-01-ping')).toBe(true);
    const resume = payloads(run.db, ['vmotion.resume'])[0]!.vtime;
    const hits = payloads(run.db, ['dfw.rule.hit']).filter((e) => e.vtime > resume && e.p.rule === 'web-01-stream');
    expect(hits).toEqual([]);
  });

  it("a new connection from the moved VM is judged by the destination's rules", () => {
    const hits = payloads(run.db, ['dfw.rule.hit']).filter((e) => e.vtime >= 3.2e9 && e.p.vnic === 'web-01.eth0');
    expect(hits.length).toBeGreaterThan(0);
    expect(hits[0]).toMatchObject({ node: 'dpu-02b', p: { rule: 'web-to-db-5201', action: 'reject' } });
  });

  it("announces the VM's MAC five times on QEMU's schedule, in GENEVE to the other tunnel endpoints, never raw on the underlay", () => {
    const { mac, ports } = labFacts(run.db, 'web-01', 'dpu-02b');
    const resume = payloads(run.db, ['vmotion.resume'])[0]!.vtime;
    // Round 1 is the hypervisor's RARP at the resume; the serving DPU sends rounds 2 to 5.
    const rarp = payloads(run.db, ['net.rarp']);
    expect(rarp.map((e) => [e.vtime === resume, e.p.vnic, e.p.dpu])).toEqual([[true, 'web-01.eth0', 'dpu-02b']]);
    const rounds = payloads(run.db, ['net.announce']).filter((e) => e.p.vnic === 'web-01.eth0');
    expect(rounds.map((e) => [e.node, e.p.round, e.p.why, e.p.carrier])).toEqual([2, 3, 4, 5].map((r) => ['dpu-02b', r, 'vmotion', 'geneve']));
    // Gaps of 50, 150, 250 and 350 ms (the first counted from the DPU's receipt of the hypervisor's RARP, a pcie crossing after it).
    const at = [resume, ...rounds.map((e) => e.vtime)];
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps[0]! - 50e6).toBeGreaterThanOrEqual(0);
    expect(gaps[0]! - 50e6).toBeLessThan(1e6);
    expect(gaps.slice(1)).toEqual([150e6, 250e6, 350e6]);
    // The physical switches only ever see tunnel endpoints: they never learn the overlay VM's MAC.
    expect(payloads(run.db, ['mac.learn']).filter((e) => e.p.mac === mac)).toEqual([]);
    // On the destination DPU's uplink, every RARP for the VM is inside GENEVE.
    const file = join(tmp.dir, 'up-02b-a.pcapng');
    expect(dpulab(['pcap', run.db, '--wire', 'up-02b-a', '-o', file]).code).toBe(0);
    expect(ports.length).toBe(2);
    const rows = spawnSync('tshark', ['-r', file, '-Y', `arp.src.hw_mac == ${mac}`, '-T', 'fields', '-e', 'frame.protocols', '-e', 'arp.opcode'], { encoding: 'utf8' }).stdout.trim().split('\n');
    const rarps = rows.filter((r) => r.endsWith('\t3'));
    expect(rarps.length).toBeGreaterThanOrEqual(5);
    for (const r of rows) expect(r.startsWith('eth:ethertype:ip:udp:geneve:eth:ethertype:arp'), r).toBe(true);
    // The remote tunnel endpoints, standby ones too, have it behind the destination: from the
    // manager's table at the commit (or from the RARP, whichever comes first).
    const relearned = payloads(run.db, ['overlay.relearn']).filter((e) => e.p.mac === mac && e.vtime >= resume && e.p.why === 'vm-moved');
    const commit = payloads(run.db, ['switchover.decision']).find((e) => e.p.vm === 'web-01')!.vtime;
    const pushed = payloads(run.db, ['overlay.table']).filter((e) => e.vtime >= commit && e.p.vnics.includes('web-01.eth0'));
    expect(new Set([...relearned, ...pushed].map((e) => e.node))).toEqual(new Set(['dpu-01a', 'dpu-01b']));
  });

  it('the guest announces itself after the resume: a gratuitous ARP and an unsolicited neighbour advertisement', () => {
    const resume = payloads(run.db, ['vmotion.resume'])[0]!.vtime;
    const file = join(tmp.dir, 'web-01.eth0.pcapng');
    expect(dpulab(['pcap', run.db, '--vnic', 'web-01.eth0', '-o', file]).code).toBe(0);
    const filter = 'frame.p2p_dir == 0 && (arp.isgratuitous || (icmpv6.type == 136 && icmpv6.nd.na.flag.s == 0 && icmpv6.nd.na.flag.o == 1 && ipv6.dst == ff02::1))';
    const out = spawnSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'arp.src.proto_ipv4', '-e', 'icmpv6.nd.na.target_address'], { encoding: 'utf8' });
    const after = out.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t'))
      .filter(([t]) => Math.round(Number(t) * 1e9) >= resume - 1000)
      .map(([, v4, v6]) => v4 || v6);
    expect(after.sort()).toEqual(['10.0.1.11', 'fd00:1::11']);
  });

  it('no checker recorded a violation', () => {
    expect(payloads(run.db, VIOLATIONS)).toEqual([]);
  });

  it('the in-process run of the same seed gives the same fingerprint', () => {
    const result = dpulab(['run', '--seed', '7', '--in-process', '--json', '--db', join(tmp.dir, 'in-process.db')]);
    expect(result.code, result.stderr).toBe(0);
    expect(lastJson<RunJson>(result).fingerprint).toBe(run.fingerprint);
  });
});

describe('vMotion failure paths', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  /** Runs the default lab changed by `edit`, with a short scenario: web-01's stream and a vMotion at 600 ms. */
  function migrate(name: string, edit: (lab: LabData) => void, steps: unknown[], extra: string[] = ['--in-process'], endNs = 2_200_000_000, seed = 3): RunJson {
    const lab = parse(DEFAULT_LAB_YAML) as LabData;
    edit(lab);
    const topology = join(tmp.dir, `${name}.lab.yaml`);
    writeFileSync(topology, stringify(lab));
    const scenario = join(tmp.dir, `${name}.scenario.yaml`);
    const base = [
      { at: '200ms', action: 'flow.start', flow: { id: 'stream', kind: 'tcp', from: 'web-01', to: 'web-02', ratePps: 100 } },
      { at: '200ms', action: 'flow.start', flow: { id: 'ping', kind: 'ping', from: 'web-01', to: 'app-01', ratePps: 10 } },
    ];
    const stop = { at: `${endNs - 200_000_000}ns`, action: 'flow.stop', flow: 'stream' };
    writeFileSync(scenario, stringify({ name, end: `${endNs}ns`, steps: [...base, ...steps, stop] }));
    const result = dpulab(['run', topology, '--scenario', scenario, '--seed', String(seed), '--json', '--db', join(tmp.dir, `${name}.db`), ...extra]);
    expectRunKeepsInvariants(result);
    return lastJson<RunJson>(result);
  }

  function doneOf(run: RunJson): Done {
    const done = payloads(run.db, ['vmotion.done']);
    expect(done).toHaveLength(1);
    return done[0]!.p;
  }

  function lastMode(run: RunJson, host: string): { active: string; reason: string | null } | undefined {
    const last = payloads(run.db, ['vnic.mode'], [host]).filter((e) => e.p.vnic === 'web-01.eth0').at(-1)?.p;
    return last && { active: last.active, reason: last.reason };
  }

  const dpus = (lab: LabData, ids: string[], fields: Record<string, unknown>): void => {
    for (const d of lab.dpus) if (ids.includes(d.id as string)) Object.assign(d, fields);
  };
  const vmotion = (options?: Record<string, unknown>) => ({ at: '600ms', action: 'vmotion', vm: 'web-01', to: 'esx-02', ...(options ? { options } : {}) });

  it('no free VF on the destination: completes in emulated mode and says why', () => {
    // web-02 takes the only VF of each esx-02 DPU.
    const run = migrate('no-vf', (lab) => dpus(lab, ['dpu-02a', 'dpu-02b'], { vfs: 1 }), [vmotion()]);
    expect(doneOf(run)).toMatchObject({ result: 'success-emulated', to: 'esx-02' });
    expect(doneOf(run).reason).toContain('no-free-vf');
    expect(lastMode(run, 'esx-02')).toEqual({ active: 'emulated', reason: 'no-free-vf' });
    expect(run.flows.find((f) => f.flow === 'stream')).toMatchObject({ lost: 0, duplicated: 0, reordered: 0 });
    expect(payloads(run.db, VIOLATIONS)).toEqual([]);
  });

  it('destination does not know the DFW export version, onDfwRefused abort: the VM stays on the source, back in passthrough', () => {
    const run = migrate('dfw-abort', (lab) => dpus(lab, ['dpu-02a', 'dpu-02b'], { dfwExportVersion: 2 }), [vmotion({ onDfwRefused: 'abort' })]);
    const done = doneOf(run);
    expect(done).toMatchObject({ result: 'aborted', from: 'esx-01' });
    expect(done.reason).toContain('dfw-import-refused');
    // Refused at the destination, then taken back by the source's DPU from its own export.
    expect(payloads(run.db, ['dfw.import']).map((e) => [e.node, e.p.ok])).toEqual([
      ['dpu-02a', false],
      ['dpu-01a', true],
    ]);
    expect(lastMode(run, 'esx-01')).toEqual({ active: 'uptv2', reason: null });
    expect(payloads(run.db, ['vmotion.resume'])).toEqual([]);
    expect(run.flows.find((f) => f.flow === 'stream')).toMatchObject({ lost: 0, duplicated: 0, reordered: 0 });
    expect(payloads(run.db, VIOLATIONS)).toEqual([]);
  });

  it('a refused import aborts even when the destination has a second, independent active DPU: only the serving DPU is heard', () => {
    // esx-02 runs both DPUs active with no failover; dpu-02a serves its vNICs and refuses the export.
    const edit = (lab: LabData): void => {
      dpus(lab, ['dpu-02a', 'dpu-02b'], { dfwExportVersion: 2 });
      (lab.hosts as Array<Record<string, unknown>>).find((h) => h.id === 'esx-02')!.failover = { active: ['dpu-02a', 'dpu-02b'], standby: [] };
    };
    const run = migrate('dfw-abort-two-actives', edit, [vmotion({ onDfwRefused: 'abort' })]);
    const done = doneOf(run);
    expect(done).toMatchObject({ result: 'aborted', from: 'esx-01' });
    expect(done.reason).toContain('dfw-import-refused');
    expect(payloads(run.db, ['vmotion.resume'])).toEqual([]);
    // Only the serving DPU was asked to import; the other one never took the vNIC.
    expect(payloads(run.db, ['dfw.import']).map((e) => [e.node, e.p.ok])).toEqual([
      ['dpu-02a', false],
      ['dpu-01a', true],
    ]);
    expect(payloads(run.db, ['vnic.mode'], ['esx-02']).filter((e) => e.p.vnic === 'web-01.eth0')).toEqual([]);
    expect(lastMode(run, 'esx-01')).toEqual({ active: 'uptv2', reason: null });
    expect(run.flows.find((f) => f.flow === 'stream')).toMatchObject({ lost: 0, duplicated: 0, reordered: 0 });
  });

  it('destination does not know the DFW export version, onDfwRefused disconnect: the VM moves, its vNIC stays disconnected', () => {
    const run = migrate('dfw-disconnect', (lab) => dpus(lab, ['dpu-02a', 'dpu-02b'], { dfwExportVersion: 2 }), [vmotion({ onDfwRefused: 'disconnect' })]);
    expect(doneOf(run)).toMatchObject({ result: 'success-disconnected', to: 'esx-02' });
    expect(lastMode(run, 'esx-02')).toEqual({ active: 'emulated', reason: 'dfw-import-refused' });
    const stream = run.flows.find((f) => f.flow === 'stream')!;
    expect(stream.delivered).toBeLessThan(stream.sent);
  });

  it('destination DPU dies during pre-copy (its process killed): its host fails over, the stream carries on through the standby, the migration succeeds', () => {
    const run = migrate('dpu-dies', () => {}, [vmotion(), { at: '800ms', action: 'kill', node: 'dpu-02a' }], [], 3_500_000_000);
    expect(payloads(run.db, ['dpu.failed']).map((e) => [e.p.dpu, e.p.to])).toEqual([['dpu-02a', 'dpu-02b']]);
    expect(doneOf(run)).toMatchObject({ result: 'success', from: 'esx-01', to: 'esx-02' });
    // The firewall state went to the DPU that serves esx-02 now.
    expect(payloads(run.db, ['dfw.import']).map((e) => [e.node, e.p.ok])).toEqual([['dpu-02b', true]]);
    expect(lastMode(run, 'esx-02')).toEqual({ active: 'uptv2', reason: null });
    expect(run.flows.find((f) => f.flow === 'stream')).toMatchObject({ lost: 0, duplicated: 0, reordered: 0 });
    expect(payloads(run.db, VIOLATIONS)).toEqual([]);
  });

  it('destination host dies during pre-copy: after 2 s of silence the source aborts, the VM carries on at the source in passthrough', () => {
    const run = migrate('host-dies', () => {}, [vmotion(), { at: '800ms', action: 'kill', node: 'esx-02' }], ['--in-process'], 3_500_000_000);
    const done = doneOf(run);
    expect(done).toMatchObject({ result: 'aborted', from: 'esx-01' });
    expect(done.reason).toMatch(/^peer-unreachable: no answer from esx-02 for 2000 ms during precopy/);
    expect(lastMode(run, 'esx-01')).toEqual({ active: 'uptv2', reason: null });
    const handoffs = payloads(run.db, ['vnic.handoff'], ['esx-01']).filter((e) => e.p.vm === 'web-01' && e.vtime > 0.6e9);
    expect(handoffs.map((e) => e.p.direction)).toEqual(['vf-to-emulated', 'emulated-to-vf']);
    // The VM was never stopped, and the manager recorded the abort.
    expect(payloads(run.db, ['vmotion.stun'])).toEqual([]);
    expect(payloads(run.db, ['switchover.decision']).map((e) => e.p.decision)).toEqual(['aborted']);
  });

  it('one datagram in 2000 lost on the active uplinks of both hosts slows the migration down and it succeeds; the flows on the same wires lose nothing', () => {
    const lossy = (lab: LabData): void => {
      for (const w of (lab as unknown as { wires: Array<Record<string, unknown>> }).wires) if (w.id === 'up-01a-a' || w.id === 'up-02a-a') w.impairments = { loss: 0.0005 };
    };
    const run = migrate('lossy', lossy, [vmotion()], ['--in-process'], 3_000_000_000, 5);
    const lost = payloads(run.db, ['frame.tx']).filter((e) => e.p.fate === 'lost' && e.vtime > 0.6e9);
    expect(lost.length).toBeGreaterThan(0);
    expect(doneOf(run)).toMatchObject({ result: 'success', from: 'esx-01', to: 'esx-02' });
    expect(run.flows.find((f) => f.flow === 'stream')).toMatchObject({ lost: 0, duplicated: 0 });
    expect(payloads(run.db, VIOLATIONS)).toEqual([]);
  });

  it('pre-copy cannot converge within the time limit: abort', () => {
    const hot = (lab: LabData) => {
      const web01 = lab.hosts.flatMap((h) => h.vms).find((v) => v.id === 'web-01')!;
      web01.dirtyPagesPerSec = 2_000_000;
    };
    const run = migrate('no-convergence', hot, [vmotion({ throttle: false, maxPrecopy: '1s' })]);
    const done = doneOf(run);
    expect(done).toMatchObject({ result: 'aborted', from: 'esx-01' });
    expect(done.reason).toMatch(/^no-convergence/);
    expect(payloads(run.db, ['vmotion.stun'])).toEqual([]);
    expect(lastMode(run, 'esx-01')).toEqual({ active: 'uptv2', reason: null });
  });
});

describe('a migrated VM after its new host fails over', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('is served by the standby that takes over, even one that restarted after the move', () => {
    const scenario = join(tmp.dir, 'after.yaml');
    writeFileSync(
      scenario,
      stringify({
        name: 'after',
        end: '3.4s',
        steps: [
          { at: '100ms', action: 'flow.start', flow: { id: 'stream', kind: 'tcp', from: 'web-01', to: 'app-02', ratePps: 100 } },
          { at: '300ms', action: 'vmotion', vm: 'web-01', to: 'esx-02' },
          // The standby restarts after the move: it boots knowing only the topology's VMs of esx-02.
          { at: '1.2s', action: 'kill', node: 'dpu-02b' },
          { at: '1.5s', action: 'restart', node: 'dpu-02b' },
          { at: '2s', action: 'kill', node: 'dpu-02a' },
          { at: '3.2s', action: 'flow.stop', flow: 'stream' },
        ],
      }),
    );
    const result = dpulab(['run', '--scenario', scenario, '--seed', '4', '--in-process', '--json', '--db', join(tmp.dir, 'after.db')]);
    expect(result.code, result.stderr).toBe(0);
    const run = lastJson<RunJson>(result);
    expect(payloads(run.db, ['vmotion.done']).map((d) => d.p.result)).toEqual(['success']);
    const failover = payloads(run.db, ['dpu.failover.done'], ['esx-02']);
    expect(failover.map((f) => [f.p.from, f.p.to])).toEqual([['dpu-02a', 'dpu-02b']]);
    expect(failover[0]!.p.vnics.map((v) => v.vnic)).toContain('web-01.eth0');
    const stream = run.flows.find((f) => f.flow === 'stream')!;
    expect({ lost: stream.lost, duplicated: stream.duplicated, reordered: stream.reordered, delivered: stream.delivered }).toEqual({ lost: 0, duplicated: 0, reordered: 0, delivered: stream.sent });
  });
});

describe('vMotion from the TypeScript API', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('a test schedules a vmotion on a running cluster and reads its outcome from the log', async () => {
    const scenario = { file: 'api.yaml', text: 'name: api\nend: 2s\nsteps:\n  - { at: 100ms, action: flow.start, flow: { id: s, kind: tcp, from: web-01, to: db-01, ratePps: 100 } }\n' };
    const run = startRun({ scenario, seed: 5, mode: 'in-process', db: join(tmp.dir, 'api.db') });
    expect(run.act({ action: 'vmotion', vm: 'web-01', to: 'esx-02', options: { switchoverGoal: '200ms' } }, { atNs: 300_000_000 }).record).toEqual({ action: 'vmotion', vm: 'web-01', to: 'esx-02', options: { switchoverGoal: 200_000_000 } });
    expect(() => run.act({ action: 'vmotion', vm: 'web-09', to: 'esx-02' })).toThrow('Action vmotion: vm: no VM "web-09" in topology "default-lab"');
    const summary = await run.done;
    expect(summary.status).toBe('completed');
    const done = payloads(run.db, ['vmotion.done']);
    expect(done.map((d) => [d.node, d.p.vm, d.p.result])).toEqual([['esx-02', 'web-01', 'success']]);
    expect(payloads(run.db, ['input.vmotion']).map((e) => e.vtime)).toEqual([300_000_000]);
  });
});
