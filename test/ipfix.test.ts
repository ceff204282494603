import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefaultLab } from '../shared/topology/load.js';
import type { DpuNode } from '../shared/topology/types.js';
import { IpfixInterfaces } from '../processes/dpu/ipfix/interfaces.js';
import { dpulab, lastJson, tempDir } from './support/cli.js';
import type { RunSummary } from '../processes/controller/session.js';

/** One IPFIX data record as tshark's cflow dissector reads it. */
interface CflowRecord {
  readonly src: string;
  readonly dst: string;
  readonly protocol: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly ingress: number;
  readonly egress: number;
  readonly octets: number;
  readonly packets: number;
  readonly firewallEvent: number;
}

type Json = Record<string, unknown>;

/** Every data record tshark finds in a capture, decoding UDP 4739 as IPFIX (`-d udp.port==4739,cflow -T json`). */
function cflowRecords(file: string): CflowRecord[] {
  const out = spawnSync('tshark', ['-r', file, '-d', 'udp.port==4739,cflow', '-Y', 'cflow', '-T', 'json'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  expect(out.status, out.stderr).toBe(0);
  const packets = JSON.parse(out.stdout) as Array<{ _source: { layers: { cflow: Json } } }>;
  const records: CflowRecord[] = [];
  const visit = (node: Json): void => {
    for (const [key, value] of Object.entries(node)) {
      if (typeof value !== 'object' || value === null) continue;
      const v = value as Json;
      if (/^Flow \d+$/.test(key)) {
        const n = (name: string): number => Number(v[`cflow.${name}`]);
        records.push({
          src: String(v['cflow.srcaddr'] ?? v['cflow.srcaddrv6']),
          dst: String(v['cflow.dstaddr'] ?? v['cflow.dstaddrv6']),
          protocol: n('protocol'),
          srcPort: n('srcport'),
          dstPort: n('dstport'),
          ingress: n('inputint'),
          egress: n('outputint'),
          octets: n('octets'),
          packets: n('packets'),
          firewallEvent: n('firewall_event'),
        });
      } else visit(v);
    }
  };
  for (const p of packets) visit(p._source.layers.cflow);
  return records;
}

/** The frames a guest sent (Wireshark's p2p_dir 0 in a `pcap --vnic` capture): IP length, frame length, 5-tuple. */
function sentPackets(file: string): Array<{ frameLen: number; ipLen: number; dst: string; protocol: number; srcPort: number; dstPort: number }> {
  const fields = ['frame.len', 'ip.len', 'ip.dst', 'ip.proto', 'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport'];
  const out = spawnSync('tshark', ['-r', file, '-Y', 'frame.p2p_dir == 0 && ip', '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  expect(out.status, out.stderr).toBe(0);
  return out.stdout
    .trim()
    .split('\n')
    .map((line) => line.split('\t'))
    .map(([frameLen, ipLen, dst, protocol, tcpSrc, tcpDst, udpSrc, udpDst]) => ({
      frameLen: Number(frameLen),
      ipLen: Number(ipLen),
      dst: dst!,
      protocol: Number(protocol),
      srcPort: Number(tcpSrc || udpSrc || 0),
      dstPort: Number(tcpDst || udpDst || 0),
    }));
}

const WEB_01 = '10.0.1.11';
const WEB_02 = '10.0.1.12';
const APP_01 = '10.0.2.11';
const DB_01 = '10.0.2.21';

describe('IPFIX of the default run, read by tshark', () => {
  const tmp = tempDir();
  const topology = loadDefaultLab();
  const dpu = (id: string): DpuNode => topology.nodes.find((n): n is DpuNode => n.kind === 'dpu' && n.id === id)!;
  const index = new IpfixInterfaces(topology, dpu('dpu-01a'));
  const uplinks = [index.uplink('p0'), index.uplink('p1')];
  let run: RunSummary;
  /** Records exported by esx-01's DPU (never fails) and by esx-02's dpu-02b (active from the takeover on, web-01's destination). */
  let dpu01a: CflowRecord[];
  let dpu02b: CflowRecord[];

  beforeAll(() => {
    const result = dpulab(['run', '--seed', '1', '--json', '--db', join(tmp.dir, 'run.db')]);
    expect(result.code, result.stderr).toBe(0);
    run = lastJson<RunSummary>(result);
    const read = (wire: string): CflowRecord[] => {
      const file = join(tmp.dir, `${wire}.pcapng`);
      expect(dpulab(['pcap', run.db, '--wire', wire, '-o', file]).code).toBe(0);
      return cflowRecords(file);
    };
    dpu01a = read('pcie-dpu-01a');
    dpu02b = read('pcie-dpu-02b');
  });
  afterAll(() => tmp.remove());

  it("octetDeltaCount is the sum of the IP lengths of the flow's packets, without Ethernet header or padding", () => {
    const file = join(tmp.dir, 'app-01.pcapng');
    expect(dpulab(['pcap', run.db, '--vnic', 'app-01.eth0', '-o', file]).code).toBe(0);
    const sent = sentPackets(file);
    // app-01's unicast IPv4 flows, all through dpu-01a, which never fails: its UDP stream to db-01 and its TCP answers to web-02.
    const flows = dpu01a.filter((r) => r.src === APP_01 && (r.protocol === 6 || r.protocol === 17));
    expect(flows.map((r) => r.dst).sort()).toEqual([WEB_02, DB_01]);
    let padded = 0;
    for (const r of flows) {
      const packets = sent.filter((p) => p.dst === r.dst && p.protocol === r.protocol && p.srcPort === r.srcPort && p.dstPort === r.dstPort);
      expect({ flow: r.dst, octets: r.octets, packets: r.packets }).toEqual({ flow: r.dst, octets: packets.reduce((n, p) => n + p.ipLen, 0), packets: packets.length });
      padded += packets.filter((p) => p.frameLen - 14 > p.ipLen).length;
    }
    // The TCP acknowledgements are 40-byte IP packets in 60-byte frames: counting the frame would count padding.
    expect(padded).toBeGreaterThan(100);
  });

  it('a vNIC keeps its interface index across a vMotion, on both DPUs, and every forwarded record names its egress interface', () => {
    const web01 = index.vnic('web-01.eth0');
    const web02 = index.vnic('web-02.eth0');
    // web-02 sends to web-01 over the tunnel before the move, and to web-01 beside it afterwards.
    const fromWeb02 = dpu02b.filter((r) => r.src === WEB_02 && r.dst === WEB_01);
    expect(new Set(fromWeb02.map((r) => r.ingress))).toEqual(new Set([web02]));
    for (const r of fromWeb02) expect([web01, ...uplinks]).toContain(r.egress);
    expect(fromWeb02.some((r) => r.egress === web01)).toBe(true);
    expect(fromWeb02.some((r) => uplinks.includes(r.egress))).toBe(true);
    // web-01 itself has one index, before (dpu-01a) and after (dpu-02b) the move: every record of
    // what it sent that did not arrive over the tunnel.
    const fromWeb01 = [...dpu01a, ...dpu02b].filter((r) => r.src === WEB_01 && !uplinks.includes(r.ingress));
    expect(dpu01a.some((r) => fromWeb01.includes(r)) && dpu02b.some((r) => fromWeb01.includes(r))).toBe(true);
    expect(new Set(fromWeb01.map((r) => r.ingress))).toEqual(new Set([web01]));
    for (const r of [...dpu01a, ...dpu02b].filter((f) => f.firewallEvent !== 3)) expect(r.egress, JSON.stringify(r)).not.toBe(0);
  });

  it('traffic decapsulated from the tunnel towards a local VM is metered, named by the VMs, not the tunnel endpoints', () => {
    const app01 = index.vnic('app-01.eth0');
    const arrived = dpu01a.filter((r) => r.src === WEB_02 && r.dst === APP_01);
    expect(arrived.length).toBeGreaterThan(0);
    for (const r of arrived) expect([uplinks.includes(r.ingress), r.egress, r.firewallEvent]).toEqual([true, app01, 2]);
    expect(dpu01a.some((r) => r.dstPort === 6081 || r.srcPort === 6081)).toBe(false);
  });

  it('flows the firewall rejects are exported, as firewallEvent "flow denied" going nowhere', () => {
    const denied = dpu02b.filter((r) => r.firewallEvent === 3);
    const tuples = denied.map((r) => `${r.src}>${r.dst}:${r.dstPort}/${r.protocol}`);
    // The connection web-01 opens to db-01 after its move, rejected by web-to-db-5201. (web-02's,
    // rejected before the scripted kill of dpu-02a, was in dpu-02a's cache and died with it.)
    expect(new Set(tuples)).toEqual(new Set([`${WEB_01}>${DB_01}:5201/6`]));
    for (const r of denied) expect([r.egress, r.packets > 0]).toEqual([0, true]);
  });
});
