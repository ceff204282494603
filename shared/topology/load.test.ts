import { describe, expect, test } from 'vitest';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML, TopologyError, fileStem, loadDefaultLab, loadTopology } from './load.js';
import { VMOTION_VNI } from './schema.js';
import type { DpuNode, HostNode, ResolvedTopology, SwitchNode, ResolvedWire } from './types.js';

/** The error a text must produce; fails the test if it loads. */
function topologyError(text: string, file = 'lab.yaml'): TopologyError {
  try {
    loadTopology(text, file);
  } catch (error) {
    if (error instanceof TopologyError) return error;
    throw error;
  }
  throw new Error('expected a TopologyError, but the topology loaded');
}

/** The report lines after the summary: `file:line:col: path: message`. */
function problemLines(text: string, file = 'lab.yaml'): string[] {
  return topologyError(text, file).message.split('\n').slice(1);
}

/** The resolved wire a test expects: ends as `node:port`, no impairments. */
function cleanWire(id: string, kind: ResolvedWire['kind'], a: string, b: string, latencyNs: number, bandwidthBps: number): ResolvedWire {
  const end = (at: string): ResolvedWire['a'] => {
    const [node = '', port = ''] = at.split(':');
    return { node, port };
  };
  return { id, kind, a: end(a), b: end(b), latencyNs, bandwidthBps, impairments: { loss: 0, corrupt: 0, duplicate: 0, jitterNs: 0 } };
}

function host(t: ResolvedTopology, id: string): HostNode {
  const node = t.nodes.find((n) => n.id === id);
  if (node?.kind !== 'host') throw new Error(`no host ${id}`);
  return node;
}

function dpu(t: ResolvedTopology, id: string): DpuNode {
  const node = t.nodes.find((n) => n.id === id);
  if (node?.kind !== 'dpu') throw new Error(`no DPU ${id}`);
  return node;
}

function switchNode(t: ResolvedTopology, id: string): SwitchNode {
  const node = t.nodes.find((n) => n.id === id);
  if (node?.kind !== 'switch') throw new Error(`no switch ${id}`);
  return node;
}

/** A small valid lab: line numbers in the tests below refer to it. */
const SMALL = `name: small
segments:
  - { id: web, kind: overlay, vni: 5001, ipv4Subnet: 10.0.1.0/24, ipv6Subnet: fd00:1::/64, gateway4: 10.0.1.1 }
hosts:
  - id: esx-01
    vms:
      - id: web-01
        vnics:
          - { segment: web, ipv4: 10.0.1.11/24, mode: uptv2 }
dpus:
  - { id: dpu-01a, host: esx-01 }
  - { id: dpu-01b, host: esx-01 }
switches:
  - { id: tor-a, ports: 8 }
wires:
  - { id: w0, a: dpu-01a:p0, b: tor-a:swp1 }
  - { id: w1, a: dpu-01b:p0, b: tor-a:swp2 }
`;

/** SMALL with one line replaced (1-based), to plant a fault at a known line. */
function withLine(line: number, text: string): string {
  const lines = SMALL.split('\n');
  lines[line - 1] = text;
  return lines.join('\n');
}

describe('the default lab', () => {
  const lab = loadDefaultLab();

  test('resolves to 2 hosts, 4 DPUs, 2 switches and the manager, sorted by id', () => {
    expect(lab.name).toBe('default-lab');
    expect(lab.nodes.map((n) => `${n.kind}:${n.id}`)).toEqual([
      'dpu:dpu-01a',
      'dpu:dpu-01b',
      'dpu:dpu-02a',
      'dpu:dpu-02b',
      'host:esx-01',
      'host:esx-02',
      'switch:tor-a',
      'switch:tor-b',
      'manager:vcenter',
    ]);
  });

  test('cables every host and DPU to the manager with an implicit 1 Gbps management wire', () => {
    const mgmt = lab.wires.filter((w) => w.kind === 'mgmt');
    expect(mgmt.map((w) => w.id)).toEqual(['mgmt-dpu-01a', 'mgmt-dpu-01b', 'mgmt-dpu-02a', 'mgmt-dpu-02b', 'mgmt-esx-01', 'mgmt-esx-02']);
    expect(mgmt.find((w) => w.id === 'mgmt-esx-02')).toEqual(cleanWire('mgmt-esx-02', 'mgmt', 'esx-02:mgmt', 'vcenter:esx-02', 20_000, 1e9));
    const vcenter = lab.nodes.find((n) => n.id === 'vcenter');
    expect(vcenter?.kind === 'manager' && vcenter.spec.manages).toEqual(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b', 'esx-01', 'esx-02']);
    expect(vcenter?.ports.map((p) => p.name)).toEqual(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b', 'esx-01', 'esx-02']);
    expect([host(lab, 'esx-01').spec.manager, dpu(lab, 'dpu-02b').spec.manager]).toEqual(['vcenter', 'vcenter']);
  });

  test('has 9 Ethernet wires and 4 implicit PCIe wires, sorted by id', () => {
    expect(lab.wires.filter((w) => w.kind === 'ethernet')).toHaveLength(9);
    expect(lab.wires.filter((w) => w.kind === 'pcie').map((w) => w.id)).toEqual(['pcie-dpu-01a', 'pcie-dpu-01b', 'pcie-dpu-02a', 'pcie-dpu-02b']);
    const ids = lab.wires.map((w) => w.id);
    expect(ids).toEqual([...ids].sort());
  });

  test('joins each DPU to its host over PCIe at 1 us and 64 Gbps', () => {
    const pcie = lab.wires.find((w) => w.id === 'pcie-dpu-02b');
    expect(pcie).toEqual(cleanWire('pcie-dpu-02b', 'pcie', 'esx-02:dpu-02b', 'dpu-02b:pcie', 1_000, 64e9));
  });

  test('wires every DPU uplink p0 to tor-a and p1 to tor-b, and the switches to each other', () => {
    for (const id of ['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b']) {
      const ends = lab.wires.filter((w) => w.a.node === id && w.kind === 'ethernet').map((w) => `${w.a.port}>${w.b.node}`);
      expect(ends.sort()).toEqual(['p0>tor-a', 'p1>tor-b']);
    }
    expect(lab.wires.find((w) => w.id === 'isl-ab')).toMatchObject({ a: { node: 'tor-a', port: 'swp8' }, b: { node: 'tor-b', port: 'swp8' } });
  });

  test('gives each host one active and one standby DPU', () => {
    expect(host(lab, 'esx-01').spec.failover).toEqual({ active: ['dpu-01a'], standby: ['dpu-01b'], failback: false });
    expect(host(lab, 'esx-02').spec.failover).toEqual({ active: ['dpu-02a'], standby: ['dpu-02b'], failback: false });
    expect(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((id) => dpu(lab, id).spec.role)).toEqual(['active', 'standby', 'active', 'standby']);
  });

  test('gives ports to every node: DPU uplinks plus pcie and mgmt, host DPU slots and mgmt, switch swp1..swp8', () => {
    expect(dpu(lab, 'dpu-01a').ports.map((p) => p.name)).toEqual(['p0', 'p1', 'pcie', 'mgmt']);
    expect(host(lab, 'esx-01').ports.map((p) => p.name)).toEqual(['dpu-01a', 'dpu-01b', 'mgmt']);
    expect(switchNode(lab, 'tor-b').ports.map((p) => p.name)).toEqual(['swp1', 'swp2', 'swp3', 'swp4', 'swp5', 'swp6', 'swp7', 'swp8']);
    expect(switchNode(lab, 'tor-b').spec.macAgingNs).toBe(300e9);
  });

  test('has VMs sorted by id inside their host, with defaults filled', () => {
    expect(host(lab, 'esx-01').spec.vms.map((v) => v.id)).toEqual(['app-01', 'db-01', 'web-01']);
    expect(host(lab, 'esx-02').spec.vms.map((v) => v.id)).toEqual(['app-02', 'web-02']);
    const web02 = host(lab, 'esx-02').spec.vms.find((v) => v.id === 'web-02');
    expect(web02).toMatchObject({ host: 'esx-02', vcpus: 2, memoryMiB: 4096, memoryReservationMiB: 4096, hardwareVersion: 20, driverVersion: 7 });
    expect(web02?.vnics[0]).toMatchObject({ id: 'web-02.eth0', segment: 'web', ipv4: '10.0.1.12/24', ipv6: 'fd00:1::12/64', mode: 'uptv2' });
    const db01 = host(lab, 'esx-01').spec.vms.find((v) => v.id === 'db-01');
    expect(db01?.vnics[0]?.mode).toBe('mux');
  });

  test('has locally administered port MACs and VMware VNIC MACs, all distinct', () => {
    const portMacs = lab.nodes.flatMap((n) => n.ports.map((p) => p.mac));
    const vnicMacs = lab.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.flatMap((v) => v.vnics.map((x) => x.mac)) : []));
    for (const mac of portMacs) expect(mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    for (const mac of vnicMacs) expect(mac).toMatch(/^00:50:56:[89ab][0-9a-f](:[0-9a-f]{2}){2}$/);
    expect(new Set([...portMacs, ...vnicMacs]).size).toBe(portMacs.length + vnicMacs.length);
  });

  test('has two routed overlay segments', () => {
    expect(lab.segments).toEqual([
      { id: 'app', kind: 'overlay', vni: 5002, vlan: null, ipv4Subnet: '10.0.2.0/24', ipv6Subnet: 'fd00:2::/64', gateway4: '10.0.2.1', gateway6: 'fd00:2::1' },
      { id: 'web', kind: 'overlay', vni: 5001, vlan: null, ipv4Subnet: '10.0.1.0/24', ipv6Subnet: 'fd00:1::/64', gateway4: '10.0.1.1', gateway6: 'fd00:1::1' },
    ]);
  });

  test('is plain JSON data and the same on every load', () => {
    expect(JSON.parse(JSON.stringify(lab))).toEqual(lab);
    expect(loadTopology(DEFAULT_LAB_YAML, DEFAULT_LAB_FILE)).toEqual(lab);
    expect(DEFAULT_LAB_FILE).toBe('default-lab.yaml');
  });
});

describe('loadTopology', () => {
  test('loads the small fixture', () => {
    const t = loadTopology(SMALL, 'small.yaml');
    expect(t.nodes).toHaveLength(4);
    expect(t.wires.map((w) => w.id)).toEqual(['pcie-dpu-01a', 'pcie-dpu-01b', 'w0', 'w1']);
  });

  test('fills wire defaults: id from its ends, 5 us, 25 Gbps, no impairments', () => {
    const t = loadTopology(withLine(17, '  - { a: dpu-01b:p0, b: tor-a:swp2 }'), 'lab.yaml');
    expect(t.wires.find((w) => w.kind === 'ethernet' && w.id !== 'w0')).toEqual(cleanWire('dpu-01b:p0--tor-a:swp2', 'ethernet', 'dpu-01b:p0', 'tor-a:swp2', 5_000, 25e9));
  });

  test('reads wire latency, bandwidth and impairments', () => {
    const t = loadTopology(
      withLine(17, '  - { id: w1, a: dpu-01b:p0, b: tor-a:swp2, latency: 2.5us, bandwidth: 10G, impairments: { loss: 0.01, jitter: 1us } }'),
      'lab.yaml',
    );
    expect(t.wires.find((w) => w.id === 'w1')).toMatchObject({ latencyNs: 2_500, bandwidthBps: 10e9, impairments: { loss: 0.01, corrupt: 0, duplicate: 0, jitterNs: 1_000 } });
  });

  test('defaults the name to the file name without extension', () => {
    expect(loadTopology(SMALL.replace('name: small\n', ''), 'labs/rack-2.yaml').name).toBe('rack-2');
    expect(fileStem('C:\\labs\\x.yml')).toBe('x');
  });

  test('derives a VNIC MAC and id, and appends the segment prefix to a bare address', () => {
    const t = loadTopology(withLine(9, '          - { segment: web, ipv4: 10.0.1.11 }'), 'lab.yaml');
    const vnic = host(t, 'esx-01').spec.vms[0]?.vnics[0];
    expect(vnic).toMatchObject({ id: 'web-01.eth0', ipv4: '10.0.1.11/24', ipv6: null, mode: 'emulated' });
    expect(vnic?.mac).toMatch(/^00:50:56:[89ab]/);
  });

  test('does not depend on the order of entries in the file', () => {
    const lines = DEFAULT_LAB_YAML.split('\n');
    const start = lines.indexOf('wires:') + 1;
    const wires = lines.slice(start).filter((l) => l.startsWith('  - '));
    const reordered = [...lines.slice(0, start), ...wires.reverse(), ''].join('\n');
    expect(loadTopology(reordered, DEFAULT_LAB_FILE)).toEqual(loadDefaultLab());
  });

  test('lets a host without DPUs have uplinks of its own, wired to a switch', () => {
    const t = loadTopology(
      `hosts:
  - { id: classic-01, uplinks: [vmnic0, vmnic1] }
switches:
  - { id: tor-a, ports: [eth1, eth2] }
wires:
  - { a: classic-01:vmnic0, b: tor-a:eth1 }
`,
      'classic.yaml',
    );
    expect(host(t, 'classic-01').ports.map((p) => p.name)).toEqual(['vmnic0', 'vmnic1']);
    expect(host(t, 'classic-01').spec).toMatchObject({ dpus: [], failover: { active: [], standby: [] } });
    expect(t.wires.map((w) => w.id)).toEqual(['classic-01:vmnic0--tor-a:eth1']);
  });

  test('gives a DPU 16 VFs and DFW export version 1 unless told otherwise', () => {
    const t = loadTopology(withLine(12, '  - { id: dpu-01b, host: esx-01, vfs: 0, dfwExportVersion: 2 }'), 'lab.yaml');
    expect(dpu(t, 'dpu-01a').spec).toMatchObject({ vfs: 16, dfwExportVersion: 1 });
    expect(dpu(t, 'dpu-01b').spec).toMatchObject({ vfs: 0, dfwExportVersion: 2 });
  });

  test('reads standby: [] as every DPU active, with no failover', () => {
    const t = loadTopology(withLine(5, '  - { id: esx-01, failover: { standby: [] } }').replace(/ {4}vms:\n( {6}.*\n| {10}.*\n)+/, ''), 'lab.yaml');
    expect(host(t, 'esx-01').spec.failover).toEqual({ active: ['dpu-01a', 'dpu-01b'], standby: [], failback: false });
    expect(dpu(t, 'dpu-01b').spec.role).toBe('active');
  });
});

describe('topology errors', () => {
  test('a wire to an unknown port names file, line, column and field', () => {
    const error = topologyError(withLine(17, '  - { id: w1, a: dpu-01b:p0, b: tor-a:swp9 }'));
    expect(error.code).toBe('invalid-topology');
    expect(error.file).toBe('lab.yaml');
    expect(error.problems).toEqual([{ path: 'wires[1].b', line: 17, column: 33, message: 'no port "swp9" on switch "tor-a" (ports: swp1..swp8)' }]);
    expect(error.message).toBe('Invalid topology in lab.yaml (1 problem)\nlab.yaml:17:33: wires[1].b: no port "swp9" on switch "tor-a" (ports: swp1..swp8)');
  });

  test('a DPU with no host points at the DPU entry', () => {
    expect(problemLines(withLine(12, '  - { id: dpu-01b }'))).toEqual([
      'lab.yaml:12:5: dpus[1].host: required (a DPU must belong to a host)',
    ]);
  });

  test('a DPU whose host does not exist names the hosts there are', () => {
    expect(problemLines(withLine(12, '  - { id: dpu-01b, host: esx-1 }'))).toEqual([
      'lab.yaml:12:26: dpus[1].host: no host "esx-1" (hosts: esx-01) (did you mean "esx-01"?)',
    ]);
  });

  test('every problem in a file is reported, in file order', () => {
    const text = SMALL.replace('ipv4: 10.0.1.11/24', 'ipv4: 10.0.9.11/24')
      .replace('{ id: dpu-01b, host: esx-01 }', '{ id: dpu-01b, host: esx-01, armCores: many }')
      .replace('ports: 8', 'ports: 8, mac_aging: 5m')
      .replace('b: tor-a:swp2', 'b: tor-a:swp1');
    expect(problemLines(text)).toEqual([
      'lab.yaml:9:35: hosts[0].vms[0].vnics[0].ipv4: 10.0.9.11 is not in 10.0.1.0/24 (segment "web")',
      'lab.yaml:12:44: dpus[1].armCores: expected an integer, got "many"',
      'lab.yaml:14:28: switches[0].mac_aging: unknown key (did you mean "macAging"?)',
      'lab.yaml:17:33: wires[1].b: port tor-a:swp1 is already used by wire "w0" (wires[0].b)',
    ]);
  });

  test('duplicate ids are reported across hosts, DPUs and switches, and among VMs and wires', () => {
    const text = `hosts:
  - id: esx-01
    vms:
      - { id: vm-1 }
      - { id: vm-1 }
      - { id: tor-a }
dpus:
  - { id: esx-01, host: esx-01 }
switches:
  - { id: tor-a, ports: 2 }
wires:
  - { id: w, a: tor-a:swp1, b: tor-a:swp2 }
  - { id: w, a: tor-a:swp1, b: tor-a:swp2 }
`;
    expect(problemLines(text)).toEqual([
      'lab.yaml:5:15: hosts[0].vms[1].id: duplicate id "vm-1" (already a VM at hosts[0].vms[0])',
      'lab.yaml:6:15: hosts[0].vms[2].id: duplicate id "tor-a" (already a switch at switches[0])',
      'lab.yaml:8:11: dpus[0].id: duplicate id "esx-01" (already a host at hosts[0])',
      'lab.yaml:12:5: wires[0]: this wire closes a switching loop through tor-a (wires w), in which a broadcast would circle forever: remove one of these wires, or run a spanning tree on tor-a (stp: true)',
      'lab.yaml:13:11: wires[1].id: duplicate wire id "w" (already at wires[0])',
      'lab.yaml:13:17: wires[1].a: port tor-a:swp1 is already used by wire "w" (wires[0].a)',
      'lab.yaml:13:32: wires[1].b: port tor-a:swp2 is already used by wire "w" (wires[0].b)',
    ]);
  });

  test('bad durations name the text, the field and the line', () => {
    const text = SMALL.replace('{ id: w0, a: dpu-01a:p0, b: tor-a:swp1 }', '{ id: w0, a: dpu-01a:p0, b: tor-a:swp1, latency: 5 parsecs }')
      .replace('{ id: w1, a: dpu-01b:p0, b: tor-a:swp2 }', '{ id: w1, a: dpu-01b:p0, b: tor-a:swp2, latency: 0 }')
      .replace('  - id: esx-01\n', '  - id: esx-01\n    heartbeat: { interval: -100ms }\n');
    expect(problemLines(text)).toEqual([
      'lab.yaml:6:28: hosts[0].heartbeat.interval: invalid duration "-100ms": must not be negative',
      'lab.yaml:17:54: wires[0].latency: invalid duration "5 parsecs": unknown unit "parsecs"; expected a number and a unit (ns, us, ms, s, m, h), e.g. 5us, 1.5s or 1m30s',
      "lab.yaml:18:54: wires[1].latency: must be at least 1 ns, got 0 (a wire's latency is its lookahead)",
    ]);
  });

  test('unknown keys are located at the key, with a hint when they look like a typo', () => {
    const text = SMALL.replace('name: small', 'name: small\ndpu:\n  - x').replace('{ id: dpu-01a, host: esx-01 }', '{ id: dpu-01a, host: esx-01, modle: bf3 }');
    expect(problemLines(text)).toEqual([
      'lab.yaml:2:1: dpu: unknown key (did you mean "dpus"?)',
      'lab.yaml:13:34: dpus[0].modle: unknown key (did you mean "model"?)',
    ]);
    expect(problemLines(SMALL.replace('{ id: tor-a, ports: 8 }', '{ id: tor-a, ports: 8, colour: red }'))).toEqual([
      'lab.yaml:14:28: switches[0].colour: unknown key (known keys: id, ports, macAging, portConfig, mirror, stp, stormControl)',
    ]);
  });

  test('YAML syntax errors are reported with their line', () => {
    const error = topologyError(withLine(14, '  - { id: tor-a, ports: 8'));
    expect(error.problems.length).toBeGreaterThan(0);
    expect(error.problems[0]?.message).toMatch(/^YAML syntax: /);
    expect(error.problems[0]?.line).toBeGreaterThanOrEqual(14);
    expect(problemLines('a: 1\na: 2\n')).toEqual(['lab.yaml:2:1: YAML syntax: map keys must be unique']);
  });

  test('a document that is not a mapping says what is expected', () => {
    expect(problemLines('- 1\n')).toEqual(['lab.yaml:1:1: expected a mapping, got a list']);
    expect(problemLines('')).toEqual(['lab.yaml:1:1: expected a mapping, got an empty value']);
    expect(problemLines('name: x\n')).toEqual(['lab.yaml:1:1: hosts: required']);
  });

  test('a broken entry does not cause follow-on problems where it is referenced', () => {
    const text = SMALL.replace('{ id: dpu-01a, host: esx-01 }', '{ id: dpu-01a, host: esx-01, uplinks: p0 }');
    expect(problemLines(text)).toEqual(['lab.yaml:11:43: dpus[0].uplinks: expected a list, got "p0"']);
  });

  test('VNIC addresses must fit their segment and be unique', () => {
    const text = SMALL.replace(
      '          - { segment: web, ipv4: 10.0.1.11/24, mode: uptv2 }',
      [
        '          - { segment: web, ipv4: 10.0.1.11/16, ipv6: fd00:2::1 }',
        '          - { segment: web, ipv4: 10.0.1.11 }',
        '          - { segment: web, ipv4: 10.0.1.1 }',
        '          - { segment: web, ipv4: 10.0.1.255 }',
        '          - { segment: db, ipv4: 10.0.1.12 }',
      ].join('\n'),
    );
    expect(problemLines(text)).toEqual([
      'lab.yaml:9:35: hosts[0].vms[0].vnics[0].ipv4: prefix /16 does not match segment "web" (10.0.1.0/24)',
      'lab.yaml:9:55: hosts[0].vms[0].vnics[0].ipv6: fd00:2::1 is not in fd00:1::/64 (segment "web")',
      'lab.yaml:10:35: hosts[0].vms[0].vnics[1].ipv4: 10.0.1.11 is already used by web-01.eth0',
      'lab.yaml:11:35: hosts[0].vms[0].vnics[2].ipv4: 10.0.1.1 is the gateway of segment "web"',
      'lab.yaml:12:35: hosts[0].vms[0].vnics[3].ipv4: 10.0.1.255 is the broadcast address of 10.0.1.0/24 (segment "web")',
      'lab.yaml:13:24: hosts[0].vms[0].vnics[4].segment: no segment "db" (segments: web)',
    ]);
  });

  test('network and broadcast addresses are found on prefixes that do not end on an octet', () => {
    const text = SMALL.replace('ipv4Subnet: 10.0.1.0/24', 'ipv4Subnet: 10.0.16.0/20')
      .replace('gateway4: 10.0.1.1', 'gateway4: 10.0.31.255')
      .replace(
        '          - { segment: web, ipv4: 10.0.1.11/24, mode: uptv2 }',
        [
          '          - { segment: web, ipv4: 10.0.16.0/20 }',
          '          - { segment: web, ipv4: 10.0.31.254 }',
          '          - { segment: web, ipv4: 10.0.32.1 }',
        ].join('\n'),
      );
    expect(problemLines(text)).toEqual([
      'lab.yaml:3:103: segments[0].gateway4: 10.0.31.255 is the broadcast address of 10.0.16.0/20',
      'lab.yaml:9:35: hosts[0].vms[0].vnics[0].ipv4: 10.0.16.0 is the network address of 10.0.16.0/20 (segment "web")',
      'lab.yaml:11:35: hosts[0].vms[0].vnics[2].ipv4: 10.0.32.1 is not in 10.0.16.0/20 (segment "web")',
    ]);
  });

  test('segments need the id their kind implies, unique, and subnets without host bits', () => {
    const text = SMALL.replace(
      /segments:\n.*\n/,
      `segments:
  - { id: web, kind: overlay, ipv4Subnet: 10.0.1.0/24 }
  - { id: app, kind: vlan, vlan: 200, vni: 7, ipv4Subnet: 10.0.2.1/24 }
  - { id: db, kind: vlan, vlan: 200, ipv4Subnet: 10.0.3.0/24, gateway6: fd00::1 }
`,
    );
    expect(problemLines(text)).toEqual([
      'lab.yaml:3:5: segments[0].vni: required for an overlay segment',
      'lab.yaml:4:44: segments[1].vni: a vlan segment has a vlan, not a vni',
      'lab.yaml:4:59: segments[1].ipv4Subnet: 10.0.2.1/24 has host bits set (did you mean 10.0.2.0/24?)',
      'lab.yaml:5:33: segments[2].vlan: VLAN 200 is already used by segment "app"',
      'lab.yaml:5:73: segments[2].gateway6: no ipv6Subnet on this segment',
    ]);
  });

  test('a DPU needs a whole number of VFs and a DFW export version of at least 1', () => {
    expect(problemLines(withLine(12, '  - { id: dpu-01b, host: esx-01, vfs: -1, dfwExportVersion: 0 }'))).toEqual([
      'lab.yaml:12:39: dpus[1].vfs: must be at least 0',
      'lab.yaml:12:61: dpus[1].dfwExportVersion: must be at least 1',
    ]);
    expect(problemLines(withLine(12, '  - { id: dpu-01b, host: esx-01, vfs: many, dfwExportVersion: 1.5, vf: 2 }'))).toEqual([
      'lab.yaml:12:39: dpus[1].vfs: expected an integer, got "many"',
      'lab.yaml:12:63: dpus[1].dfwExportVersion: expected an integer, got 1.5',
      'lab.yaml:12:68: dpus[1].vf: unknown key (known keys: id, host, model, armCores, uplinks, vfs, dfwExportVersion)',
    ]);
  });

  test('no segment may use the VNI reserved for the vMotion network', () => {
    expect(problemLines(SMALL.replace('vni: 5001', `vni: ${VMOTION_VNI}`))).toEqual([
      `lab.yaml:3:36: segments[0].vni: VNI ${VMOTION_VNI} is reserved for the vMotion network`,
    ]);
  });

  test('the failover policy may only name the host\'s own DPUs, each once', () => {
    const text = withLine(5, '  - id: esx-01\n    failover: { active: [dpu-01a, dpu-01b, dpu-9], standby: [dpu-01b] }');
    expect(problemLines(text)).toEqual([
      'lab.yaml:6:44: hosts[0].failover.active[2]: no DPU "dpu-9" on host "esx-01" (DPUs: dpu-01a, dpu-01b)',
      'lab.yaml:6:62: hosts[0].failover.standby[0]: "dpu-01b" is already active',
    ]);
    expect(problemLines(withLine(5, '  - id: esx-01\n    failover: { active: [], standby: [dpu-01a] }'))).toEqual([
      'lab.yaml:6:15: hosts[0].failover: DPU "dpu-01b" of this host is neither active nor standby',
      'lab.yaml:6:15: hosts[0].failover: no active DPU: at least one DPU must be active',
    ]);
  });

  test('hosts with DPUs have no Ethernet ports of their own, and pcie ports are not for wires', () => {
    const text = SMALL.replace('b: tor-a:swp1 }', 'b: esx-01:vmnic0 }').replace('a: dpu-01b:p0', 'a: dpu-01b:pcie');
    expect(problemLines(text)).toEqual([
      'lab.yaml:16:33: wires[0].b: host "esx-01" has no Ethernet ports: its NICs are DPUs (dpu-01a, dpu-01b); wire a DPU uplink instead',
      'lab.yaml:17:18: wires[1].a: "pcie" is the PCIe port of DPU "dpu-01b", wired to its host implicitly (pcie-dpu-01b)',
    ]);
  });

  test('wire ends must name an existing node, in node:port form', () => {
    const text = SMALL.replace('a: dpu-01a:p0', 'a: dpu-1a:p0').replace('a: dpu-01b:p0', 'a: dpu-01b');
    expect(problemLines(text)).toEqual([
      'lab.yaml:16:18: wires[0].a: no node "dpu-1a" (did you mean "dpu-01a"?)',
      'lab.yaml:17:18: wires[1].a: expected "node:port" such as dpu-01a:p0, got "dpu-01b"',
    ]);
  });

  test('the problem list is sorted by position and lists each problem once', () => {
    const error = topologyError(SMALL.replace(/esx-01 }/g, 'esx-9 }'));
    const positions = error.problems.map((p) => p.line * 1000 + p.column);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(error.problems.map((p) => p.path)).toEqual(['dpus[0].host', 'dpus[1].host']);
  });
});

describe('loadTopology reserved names', () => {
  test('loadTopology rejects a node named controller, naming the line', () => {
    const text = DEFAULT_LAB_YAML.replace('id: tor-b', 'id: controller');
    expect(() => loadTopology(text, 'reserved.yaml')).toThrow(/reserved\.yaml:\d+:\d+: switches\[1\]\.id: "controller" is reserved/);
  });
});

describe('switching loops', () => {
  const SWITCHES = `hosts:
  - id: esx-01
switches:
  - { id: s1, ports: 4 }
  - { id: s2, ports: 4 }
  - { id: s3, ports: 4 }
wires:
  - { id: a, a: s1:swp1, b: s2:swp1 }
  - { id: b, a: s2:swp2, b: s3:swp1 }
`;

  test('a tree of switches loads; a wire that closes a loop is refused with the loop named', () => {
    expect(() => loadTopology(SWITCHES, 'lab.yaml')).not.toThrow();
    expect(problemLines(`${SWITCHES}  - { id: c, a: s3:swp2, b: s1:swp2 }\n`)).toEqual([
      'lab.yaml:10:5: wires[2]: this wire closes a switching loop through s1, s2, s3 (wires b, a, c), in which a broadcast would circle forever: remove one of these wires, or run a spanning tree on s1, s2, s3 (stp: true)',
    ]);
    // Two wires between the same switches, and a switch cabled to itself, are loops too.
    expect(problemLines(`${SWITCHES}  - { id: c, a: s1:swp3, b: s2:swp3 }\n  - { id: d, a: s3:swp3, b: s3:swp4 }\n`).map((l) => l.replace(/, in which.*/, ''))).toEqual([
      'lab.yaml:10:5: wires[2]: this wire closes a switching loop through s1, s2 (wires a, c)',
      'lab.yaml:11:5: wires[3]: this wire closes a switching loop through s3 (wires d)',
    ]);
  });

  test('a loop is accepted when every switch on it runs a spanning tree', () => {
    const withStp = SWITCHES.replace(/ports: 4 }/g, 'ports: 4, stp: true }');
    const topology = loadTopology(`${withStp}  - { id: c, a: s3:swp2, b: s1:swp2 }\n`, 'lab.yaml');
    const s1 = topology.nodes.find((n) => n.id === 's1');
    expect(s1?.kind === 'switch' && s1.spec.stp).toEqual({ priority: 32768, helloNs: 2e9, maxAgeNs: 20e9, forwardDelayNs: 15e9 });
    expect(problemLines(`${SWITCHES.replace('{ id: s1, ports: 4 }', '{ id: s1, ports: 4, stp: { priority: 4097 } }')}`)).toEqual([
      'lab.yaml:4:42: switches[0].stp.priority: must be a multiple of 4096 (0, 4096, ..., 61440)',
    ]);
  });
});

describe('loadTopology manager', () => {
  test('loadTopology without a manager has no management ports or cables', () => {
    const t = loadTopology(SMALL, 'small.yaml');
    expect(t.nodes.some((n) => n.kind === 'manager')).toBe(false);
    expect(t.wires.filter((w) => w.kind === 'mgmt')).toEqual([]);
    expect(dpu(t, 'dpu-01a').ports.map((p) => p.name)).toEqual(['p0', 'p1', 'pcie']);
    expect(host(t, 'esx-01').spec.manager).toBeNull();
  });

  test('loadTopology takes the manager cables latency and bandwidth', () => {
    const t = loadTopology(`${SMALL}manager: { id: vc, latency: 50us, bandwidth: 10Gbps }\n`, 'small.yaml');
    expect(t.wires.filter((w) => w.kind === 'mgmt').map((w) => [w.id, w.latencyNs, w.bandwidthBps])).toEqual([
      ['mgmt-dpu-01a', 50_000, 10e9],
      ['mgmt-dpu-01b', 50_000, 10e9],
      ['mgmt-esx-01', 50_000, 10e9],
    ]);
  });

  test('loadTopology names the field of a bad manager, a taken id, a reserved port and a wire to the manager', () => {
    expect(problemLines(`${SMALL}manager: { id: vc, latency: 0 }\n`)).toEqual(['lab.yaml:18:29: manager.latency: must be at least 1 ns, got 0 (a wire\'s latency is its lookahead)']);
    expect(problemLines(`${SMALL}manager: { id: tor-a }\n`)).toEqual(['lab.yaml:18:16: manager.id: duplicate id "tor-a" (already a switch at switches[0])']);
    expect(problemLines(SMALL.replace('{ id: dpu-01b, host: esx-01 }', '{ id: dpu-01b, host: esx-01, uplinks: [p0, mgmt] }'))).toEqual(['lab.yaml:12:48: dpus[1].uplinks[1]: "mgmt" is reserved for the DPU\'s management port']);
    const wired = `${SMALL}  - { id: w2, a: vc:x, b: tor-a:swp3 }\n  - { id: w3, a: dpu-01a:mgmt, b: tor-a:swp4 }\nmanager: { id: vc }\n`;
    expect(problemLines(wired)).toEqual([
      'lab.yaml:18:18: wires[2].a: the manager "vc" has no ports to wire: every host and DPU is cabled to it implicitly (mgmt-<node>)',
      'lab.yaml:19:18: wires[3].a: "mgmt" is the management port of DPU "dpu-01a", cabled to the manager implicitly (mgmt-dpu-01a)',
    ]);
  });
});
