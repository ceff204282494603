import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventPayload } from '../shared/events/typed.js';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { dpulab, lastJson, tempDir } from './support/cli.js';
import { labWithoutDpus } from './support/labs.js';
import type { RunSummary } from '../processes/controller/session.js';

/** The default scenario's flows that a firewall rule rejects. */
const BLOCKED = ['web-db-blocked', 'web01-db-after-move'];
/** What `dpulab run --json` prints last: the run summary. */
type RunJson = RunSummary;

type Lab = { hosts: Array<Record<string, unknown> & { id: string; vms: Array<{ vnics: Array<{ mode: string }>; memoryMiB: number; memoryReservationMiB?: number }> }>; dpus?: Array<{ id: string; host: string }>; wires: Array<{ id: string; a: string; b: string }> };

/** The default lab with every vNIC asking for `mode`, every VM fully reserved. */
function labInMode(mode: 'uptv2' | 'mux'): string {
  const lab = parse(DEFAULT_LAB_YAML) as Lab;
  for (const host of lab.hosts) {
    for (const vm of host.vms) {
      vm.memoryReservationMiB = vm.memoryMiB;
      for (const vnic of vm.vnics) vnic.mode = mode;
    }
  }
  return stringify(lab);
}

describe('the emulated network on the default lab', () => {
  const tmp = tempDir();
  let run: RunJson;

  beforeAll(() => {
    const result = dpulab(['run', '--seed', '3', '--json', '--db', join(tmp.dir, 'default.db')]);
    expect(result.code, result.stderr).toBe(0);
    run = lastJson<RunJson>(result);
  });
  afterAll(() => tmp.remove());

  it('every allowed flow arrives whole: no loss, no duplicates, no reordering', () => {
    const allowed = run.flows.filter((f) => !BLOCKED.includes(f.flow));
    expect(allowed.map((f) => f.flow).sort()).toEqual(['app-db-udp', 'web-app-tcp', 'web-ping', 'web-tcp']);
    for (const f of allowed) {
      expect(f.sent, f.flow).toBeGreaterThan(20);
      expect({ flow: f.flow, delivered: f.delivered, lost: f.lost, duplicated: f.duplicated, reordered: f.reordered }).toEqual({
        flow: f.flow,
        delivered: f.sent,
        lost: 0,
        duplicated: 0,
        reordered: 0,
      });
    }
  });

  it('the blocked flow is stopped by its rule, which counts it, and answered with a TCP reset', () => {
    const blocked = run.flows.find((f) => f.flow === 'web-db-blocked')!;
    expect(blocked.delivered).toBe(0);
    expect(blocked.tcpState).toBe('CLOSED');
    const reader = EventLogReader.open(run.db);
    try {
      const hits = [...reader.events({ kinds: ['dfw.rule.hit'] })].map((e) => eventPayload(e, 'dfw.rule.hit'));
      // web-02's connection, and the one web-01 opens after its vMotion.
      expect(hits.filter((h) => h.rule === 'web-to-db-5201')).toEqual([expect.objectContaining({ action: 'reject', vnic: 'web-02.eth0' }), expect.objectContaining({ action: 'reject', vnic: 'web-01.eth0' })]);
      const rejects = [...reader.events({ kinds: ['dfw.reject'] })].map((e) => eventPayload(e, 'dfw.reject'));
      expect(rejects).toEqual([expect.objectContaining({ rule: 'web-to-db-5201', reply: 'tcp-rst' }), expect.objectContaining({ rule: 'web-to-db-5201', reply: 'tcp-rst' })]);
      // The rule stopped nothing else.
      expect(hits.filter((h) => h.action !== 'allow')).toHaveLength(2);
    } finally {
      reader.close();
    }
  });

  it('the DPUs run established flows in the eSwitch: a high hit ratio, no Arm CPU on the hardware path, the summary says so', () => {
    const dpu01a = run.cores.find((c) => c.node === 'dpu-01a')!;
    expect(dpu01a.offload).not.toBeNull();
    const o = dpu01a.offload!;
    expect(o.slowPathPackets).toBeGreaterThan(0);
    expect(o.slowPathCpuNs).toBeGreaterThan(0);
    expect(o.hardwarePackets).toBeGreaterThan(10 * o.slowPathPackets);
    expect(o.hardwareCpuNs).toBe(0);
    expect(o.hitRatio).toBeCloseTo(o.hardwarePackets / (o.hardwarePackets + o.slowPathPackets), 10);
    // web-01 left dpu-01a by vMotion: its flows were taken out of the eSwitch.
    expect(o.invalidations).toBeGreaterThan(0);
    // Hosts have no eSwitch.
    expect(run.cores.filter((c) => c.nodeKind === 'host').map((c) => c.offload)).toEqual([null, null]);
  });

  it('a vNIC whose VM lacks the memory reservation runs emulated and the log says why', () => {
    const reader = EventLogReader.open(run.db);
    try {
      const modes = [...reader.events({ kinds: ['vnic.mode'] })].map((e) => eventPayload(e, 'vnic.mode'));
      expect(modes.filter((m) => m.vnic === 'app-02.eth0')).toEqual([
        { vnic: 'app-02.eth0', vm: 'app-02', requested: 'uptv2', active: 'emulated', reason: 'insufficient-memory-reservation' },
      ]);
      // The others that asked for UPTv2 got it.
      for (const vnic of ['web-01.eth0', 'web-02.eth0', 'app-01.eth0']) expect(modes.filter((m) => m.vnic === vnic).at(-1)?.active).toBe('uptv2');
    } finally {
      reader.close();
    }
  });

  it('pcap of an uplink reads in tshark with nothing malformed: GENEVE carrying the VMs, and LLDP', () => {
    const file = join(tmp.dir, 'up-01a-a.pcapng');
    expect(dpulab(['pcap', run.db, '--wire', 'up-01a-a', '-o', file]).code).toBe(0);
    const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    // Malformed packets and checksum or protocol errors fail; TCP sequence analysis ("segment not
    // captured") is Wireshark reading the real loss of the scripted DPU failover, not a bad packet.
    const filter = '_ws.malformed || (_ws.expert.severity >= warning && _ws.expert.group != "Sequence")';
    const bad = spawnSync('tshark', ['-r', file, ...checks, '-Y', filter], { encoding: 'utf8' });
    expect(bad.status, bad.stderr).toBe(0);
    expect(bad.stdout.trim()).toBe('');
    const protocols = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.protocols'], { encoding: 'utf8' }).stdout.split('\n');
    expect(protocols).toContain('eth:ethertype:lldp');
    expect(protocols.some((p) => p.startsWith('eth:ethertype:ip:udp:geneve:eth:ethertype:ip:tcp'))).toBe(true);
    const vni = spawnSync('tshark', ['-r', file, '-Y', 'geneve', '-T', 'fields', '-e', 'geneve.vni'], { encoding: 'utf8' }).stdout;
    // The two segments, and the vMotion network's reserved VNI (web-01's migration).
    expect(new Set(vni.trim().split('\n').map((v) => Number(v)))).toEqual(new Set([5001, 5002, 16777215]));
  });

  it("pcap --vnic captures what the guest sent and received, from the dma channel, on both hosts web-01 ran on", () => {
    const file = join(tmp.dir, 'web-01.eth0.pcapng');
    const result = dpulab(['pcap', run.db, '--vnic', 'web-01.eth0', '-o', file]);
    expect(result.code, result.stderr).toBe(0);
    // web-01 moves to esx-02 by vMotion: its frames cross esx-01's pcie wire, then esx-02's.
    expect(result.stderr).toMatch(/frames sent and \d+ received by vNIC web-01\.eth0 .*\(dma channel of pcie-dpu-01a, pcie-dpu-02b\)/);
    const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const filter = '_ws.malformed || (_ws.expert.severity >= warning && _ws.expert.group != "Sequence")';
    const bad = spawnSync('tshark', ['-r', file, ...checks, '-Y', filter], { encoding: 'utf8' });
    expect(bad.status, bad.stderr).toBe(0);
    expect(bad.stdout.trim()).toBe('');
    const fields = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.protocols', '-e', 'frame.p2p_dir', '-e', 'eth.src', '-e', 'eth.dst'], { encoding: 'utf8' });
    const rows = fields.stdout.trim().split('\n').map((line) => line.split('\t'));
    const protocols = rows.map((r) => r[0]!);
    // The guest's own traffic, no GENEVE (that is the DPU's): neighbour resolution and its TCP stream.
    expect(protocols.some((p) => p === 'eth:ethertype:arp' || p.includes('icmpv6'))).toBe(true);
    expect(protocols.some((p) => p.startsWith('eth:ethertype:ip:tcp'))).toBe(true);
    expect(protocols.some((p) => p.includes('geneve'))).toBe(false);
    // Direction flags (Wireshark's p2p_dir: 0 sent, 1 received): every sent frame is from the vNIC's one MAC, no received one is.
    const sent = rows.filter((r) => r[1] === '0');
    const received = rows.filter((r) => r[1] === '1');
    expect(sent.length).toBeGreaterThan(0);
    expect(received.length).toBeGreaterThan(0);
    const own = new Set(sent.map((r) => r[2]));
    expect(own.size).toBe(1);
    expect(received.some((r) => own.has(r[2]))).toBe(false);

    const unknown = dpulab(['pcap', run.db, '--vnic', 'web-09.eth0', '-o', join(tmp.dir, 'none.pcapng')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe(`dpulab: No vNIC web-09.eth0 in ${run.db} (vNICs: app-01.eth0, app-02.eth0, db-01.eth0, web-01.eth0, web-02.eth0)\n`);
  });
});

describe('what the DPU takes off the host', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  function runLab(name: string, yaml: string): RunJson {
    const file = join(tmp.dir, `${name}.yaml`);
    writeFileSync(file, yaml);
    // The default lab's scenario, on each variant of the lab.
    const scenario = join(tmp.dir, 'traffic.yaml');
    const result = dpulab(['run', file, '--scenario', scenario, '--in-process', '--seed', '5', '--json', '--db', join(tmp.dir, `${name}.db`)]);
    expect(result.code, result.stderr).toBe(0);
    return lastJson<RunJson>(result);
  }

  it('the same traffic costs x86 cores in the order no DPU > MUX > UPTv2, and the DPU Arm cores carry the difference', async () => {
    const { DEFAULT_SCENARIO_YAML } = await import('../shared/scenario/load.js');
    // The default traffic, without the DPU kill (a lab without DPUs has no dpu-02a) and without
    // the vMotion (its emulated phase would blur what each mode costs).
    writeFileSync(join(tmp.dir, 'traffic.yaml'), DEFAULT_SCENARIO_YAML.split('\n').filter((l) => !/action: (kill|restart|vmotion)/.test(l)).join('\n'));
    const runs = { uptv2: runLab('uptv2', labInMode('uptv2')), mux: runLab('mux', labInMode('mux')), 'no-dpu': runLab('no-dpu', labWithoutDpus(labInMode('uptv2'))) };
    const total = (r: RunJson, kind: 'host' | 'dpu'): number => r.cores.filter((c) => c.nodeKind === kind).reduce((n, c) => n + c.coresUsed, 0);
    const x86 = { uptv2: total(runs.uptv2, 'host'), mux: total(runs.mux, 'host'), noDpu: total(runs['no-dpu'], 'host') };
    const arm = { uptv2: total(runs.uptv2, 'dpu'), mux: total(runs.mux, 'dpu'), noDpu: total(runs['no-dpu'], 'dpu') };
    expect(x86.noDpu).toBeGreaterThan(x86.mux);
    expect(x86.mux).toBeGreaterThan(x86.uptv2);
    expect(arm.noDpu).toBe(0);
    expect(arm.uptv2).toBeGreaterThan(0);
    expect(arm.mux).toBeGreaterThan(0);
    // Same traffic everywhere: every allowed flow delivered in full in each mode.
    for (const r of Object.values(runs)) {
      for (const f of r.flows.filter((x) => !BLOCKED.includes(x.flow))) expect([f.flow, f.lost, f.duplicated, f.reordered]).toEqual([f.flow, 0, 0, 0]);
    }
    // With every vNIC in UPTv2, nearly all host cost is UPTv2's (guest driver and doorbells); the
    // rest is the boot announcements sent emulated while the DPU was still binding the VFs.
    for (const c of runs.uptv2.cores.filter((c) => c.nodeKind === 'host')) expect(c.byMode.uptv2!).toBeGreaterThan(0.95 * c.coresUsed);
  });
});
