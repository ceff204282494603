import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventPayload } from '../shared/events/typed.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { dpulab, lastJson, tempDir } from './support/cli.js';
import { labWithoutDpus } from './support/labs.js';

interface Observation {
  vtime: number;
  node: string;
  trace: string;
  point: string;
  summary: string;
  detail: Record<string, unknown>;
}

/** The default lab's firewall rule, then three traces: across the overlay, within one host, into the rule. */
const SCENARIO = `
name: traceflow
end: 1500ms
steps:
  - at: 200ms
    action: dfw.rule.add
    rule: { id: web-to-db-5201, priority: 100, sources: [web-01, web-02], destinations: [db-01], service: { protocol: tcp, destinationPorts: [5201] }, action: reject }
  - { at: 1s, action: traceflow, trace: { id: overlay, from: web-01, to: web-02 } }
  - { at: 1100ms, action: traceflow, trace: { id: same-host, from: app-01, to: db-01, protocol: udp } }
  - { at: 1200ms, action: traceflow, trace: { id: blocked, from: web-02.eth0, to: db-01, protocol: tcp, port: 5201 } }
`;

function observations(db: string): Observation[] {
  const reader = EventLogReader.open(db);
  try {
    return [...reader.events({ kinds: ['traceflow.observe'] })].map((e) => ({ vtime: e.vtime, ...eventPayload(e, 'traceflow.observe') }));
  } finally {
    reader.close();
  }
}

/** The points of one trace in log order, consecutive physical-switch hops counted once. */
function path(all: Observation[], trace: string): string[] {
  const points = all.filter((o) => o.trace === trace).map((o) => (o.point === 'dfw' ? `dfw ${String(o.detail.dir)} ${String(o.detail.action)}` : o.point));
  return points.filter((p, i) => !(p === 'physical-switch' && points[i - 1] === 'physical-switch'));
}

describe('traceflow on the default lab', () => {
  const tmp = tempDir();
  const scenario = join(tmp.dir, 'traceflow.yaml');
  let inProcess: { db: string; fingerprint: string };
  let seen: Observation[];

  beforeAll(() => {
    writeFileSync(scenario, SCENARIO);
    const result = dpulab(['run', '--scenario', scenario, '--in-process', '--seed', '11', '--json', '--db', join(tmp.dir, 'in-process.db')]);
    expect(result.code, result.stderr).toBe(0);
    inProcess = lastJson(result);
    seen = observations(inProcess.db);
  });
  afterAll(() => tmp.remove());

  it('a trace across the overlay is seen leaving, crossing a physical switch in GENEVE, and delivered on the other host', () => {
    expect(path(seen, 'overlay')).toEqual(['injected', 'dfw out allow', 'encapsulated', 'physical-switch', 'decapsulated', 'dfw in allow', 'delivered']);
    const overlay = seen.filter((o) => o.trace === 'overlay');
    const at = (point: string): Observation => overlay.find((o) => o.point === point)!;
    expect(at('injected')).toMatchObject({ node: 'esx-01', detail: { vnic: 'web-01.eth0', mode: 'uptv2', protocol: 'icmp', dstIp: '10.0.1.12' } });
    expect(at('encapsulated')).toMatchObject({ node: 'dpu-01a', detail: { vni: 5001, remoteTep: '172.16.0.12' } });
    for (const hop of overlay.filter((o) => o.point === 'physical-switch')) expect(['tor-a', 'tor-b']).toContain(hop.node);
    expect(at('physical-switch').detail).toMatchObject({ vni: 5001, dstTep: '172.16.0.12' });
    expect(at('decapsulated')).toMatchObject({ node: 'dpu-02a', detail: { vni: 5001, vnic: 'web-02.eth0' } });
    expect(at('delivered')).toMatchObject({ node: 'esx-02', detail: { vnic: 'web-02.eth0', vm: 'web-02' } });
    // Each point happens no earlier than the one before it.
    expect(overlay.map((o) => o.vtime)).toEqual([...overlay.map((o) => o.vtime)].sort((a, b) => a - b));
  });

  it('a trace between two VMs of one host hairpins through the DPU and never reaches a physical switch', () => {
    expect(path(seen, 'same-host')).toEqual(['injected', 'dfw out allow', 'hairpin', 'dfw in allow', 'delivered']);
    const hairpin = seen.find((o) => o.trace === 'same-host' && o.point === 'hairpin')!;
    expect(hairpin).toMatchObject({ node: 'dpu-01a', detail: { from: 'app-01.eth0', to: 'db-01.eth0' } });
    expect(seen.find((o) => o.trace === 'same-host' && o.point === 'delivered')).toMatchObject({ node: 'esx-01', detail: { vnic: 'db-01.eth0', mode: 'mux' } });
  });

  it('a trace into the reject rule is dropped by that rule at the source DPU and delivered nowhere', () => {
    expect(path(seen, 'blocked')).toEqual(['injected', 'dfw out reject', 'dropped']);
    const dropped = seen.find((o) => o.trace === 'blocked' && o.point === 'dropped')!;
    expect(dropped).toMatchObject({ node: 'dpu-02a', detail: { where: 'dfw', rule: 'web-to-db-5201', reason: 'reject', dir: 'out' } });
    expect(seen.filter((o) => o.trace === 'blocked').map((o) => o.point)).not.toContain('delivered');
  });

  it('dpulab log --kind traceflow.* lists each point with a line a person can read', () => {
    const log = dpulab(['log', inProcess.db, '--kind', 'traceflow.*']);
    expect(log.code, log.stderr).toBe(0);
    const lines = log.stdout.split('\n').filter((l) => l.includes('traceflow.observe'));
    expect(lines).toHaveLength(seen.length);
    expect(log.stdout).toContain('dfw out on web-02.eth0: rule web-to-db-5201 reject');
    expect(log.stdout).toContain('hairpin from app-01.eth0 to db-01.eth0');
  });

  it('the same scenario gives the same log in separate processes as in one', () => {
    const result = dpulab(['run', '--scenario', scenario, '--seed', '11', '--json', '--db', join(tmp.dir, 'multi-process.db')]);
    expect(result.code, result.stderr).toBe(0);
    const multi = lastJson<{ db: string; fingerprint: string }>(result);
    expect(multi.fingerprint).toBe(inProcess.fingerprint);
    expect(observations(multi.db)).toEqual(seen);
  });

  it('on hosts without DPUs the host records the firewall and switch points itself, on x86', () => {
    const lab = join(tmp.dir, 'no-dpu.yaml');
    writeFileSync(lab, labWithoutDpus());
    const result = dpulab(['run', lab, '--scenario', scenario, '--in-process', '--seed', '11', '--json', '--db', join(tmp.dir, 'no-dpu.db')]);
    expect(result.code, result.stderr).toBe(0);
    const points = observations(lastJson<{ db: string }>(result).db);
    expect(path(points, 'overlay')).toEqual(['injected', 'dfw out allow', 'encapsulated', 'physical-switch', 'decapsulated', 'dfw in allow', 'delivered']);
    expect(points.filter((o) => o.trace === 'overlay' && o.point !== 'physical-switch').map((o) => o.node)).toEqual(['esx-01', 'esx-01', 'esx-01', 'esx-02', 'esx-02', 'esx-02']);
    expect(points.find((o) => o.trace === 'overlay' && o.point === 'injected')?.detail.mode).toBe('no-dpu');
    expect(path(points, 'blocked')).toEqual(['injected', 'dfw out reject', 'dropped']);
  });

  it('a trace from a VM the lab does not have is refused before the run starts, naming it', () => {
    const bad = join(tmp.dir, 'bad.yaml');
    writeFileSync(bad, `name: bad\nend: 1s\nsteps:\n  - { at: 100ms, action: traceflow, trace: { id: t, from: web-09, to: web-02 } }\n`);
    const result = dpulab(['run', '--scenario', bad, '--in-process', '--db', join(tmp.dir, 'bad.db')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('web-09');
  });
});
