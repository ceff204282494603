import { describe, expect, test } from 'vitest';
import { loadDefaultLab, loadTopology, TopologyError } from './load.js';
import type { ResolvedTopology, SwitchNode } from './types.js';

function switchNode(t: ResolvedTopology, id: string): SwitchNode {
  const node = t.nodes.find((n) => n.id === id);
  if (node?.kind !== 'switch') throw new Error(`no switch ${id}`);
  return node;
}

/** The report lines after the summary: `file:line:col: path: message`. */
function problemLines(text: string): string[] {
  try {
    loadTopology(text, 'lab.yaml');
  } catch (error) {
    if (error instanceof TopologyError) return error.message.split('\n').slice(1);
    throw error;
  }
  throw new Error('expected a TopologyError, but the topology loaded');
}

/** A host and one 8-port switch whose entry ends the file: line numbers below count from here. */
function lab(switchLines: string): string {
  return `hosts:
  - id: esx-01
switches:
  - id: tor-a
    ports: 8
${switchLines}`;
}

const TRUNK_ALL = { mode: 'trunk', allowed: [{ first: 1, last: 4094 }], native: 1 };

describe('switch port VLAN modes', () => {
  test('every port of a switch without portConfig is a trunk for all VLANs, native VLAN 1, with no mirror sessions', () => {
    const tor = switchNode(loadDefaultLab(), 'tor-a');
    expect(Object.keys(tor.spec.portConfig ?? {})).toEqual(['swp1', 'swp2', 'swp3', 'swp4', 'swp5', 'swp6', 'swp7', 'swp8']);
    for (const config of Object.values(tor.spec.portConfig ?? {})) expect(config).toEqual(TRUNK_ALL);
    expect(tor.spec.mirror).toEqual([]);
  });

  test('portConfig makes access and trunk ports; allowed lists are sorted and merged, the rest stay default trunks', () => {
    const t = loadTopology(
      lab(`    portConfig:
      swp1: { mode: access, vlan: 10 }
      swp2: { mode: trunk, allowed: [30, 10-19, 20, 100-199, 150-160], native: 99 }
      swp3: { mode: trunk, allowed: [1-4094] }
      swp4: { mode: trunk, allowed: ["7"] }
`),
      'lab.yaml',
    );
    const config = switchNode(t, 'tor-a').spec.portConfig ?? {};
    expect(config.swp1).toEqual({ mode: 'access', vlan: 10 });
    expect(config.swp2).toEqual({ mode: 'trunk', allowed: [{ first: 10, last: 20 }, { first: 30, last: 30 }, { first: 100, last: 199 }], native: 99 });
    expect(config.swp3).toEqual(TRUNK_ALL);
    expect(config.swp4).toEqual({ mode: 'trunk', allowed: [{ first: 7, last: 7 }], native: 1 });
    expect(config.swp5).toEqual(TRUNK_ALL);
    expect(Object.keys(config)).toEqual(['swp1', 'swp2', 'swp3', 'swp4', 'swp5', 'swp6', 'swp7', 'swp8']);
  });

  test('a port the switch does not have is located at its key', () => {
    expect(problemLines(lab(`    portConfig:
      swp9: { mode: access, vlan: 10 }
`))).toEqual(['lab.yaml:7:7: switches[0].portConfig.swp9: no port "swp9" on switch "tor-a" (ports: swp1..swp8) (did you mean "swp1"?)']);
  });

  test('a missing or misspelt mode, out-of-range VLANs and keys of the other mode name line, column and field', () => {
    expect(
      problemLines(
        lab(`    portConfig:
      swp1: { vlan: 10 }
      swp2: { mode: acess, vlan: 10 }
      swp3: { mode: access, vlan: 4095 }
      swp4: { mode: trunk, allowed: [0, 20-10, ten], native: 0 }
      swp5: { mode: access, vlan: 10, native: 1 }
`),
      ),
    ).toEqual([
      'lab.yaml:7:13: switches[0].portConfig.swp1.mode: required (access or trunk)',
      'lab.yaml:8:21: switches[0].portConfig.swp2.mode: expected "access" or "trunk", got "acess" (did you mean "access"?)',
      'lab.yaml:9:35: switches[0].portConfig.swp3.vlan: must be at most 4094',
      'lab.yaml:10:38: switches[0].portConfig.swp4.allowed[0]: expected a VLAN id from 1 to 4094 or a range such as 100-199, got 0',
      'lab.yaml:10:41: switches[0].portConfig.swp4.allowed[1]: range "20-10" ends before it starts',
      'lab.yaml:10:48: switches[0].portConfig.swp4.allowed[2]: expected a VLAN id from 1 to 4094 or a range such as 100-199, got "ten"',
      'lab.yaml:10:62: switches[0].portConfig.swp4.native: must be at least 1',
      'lab.yaml:11:39: switches[0].portConfig.swp5.native: unknown key (known keys: mode, vlan)',
    ]);
  });

  test('a broken portConfig is left out without hiding the problems of other entries', () => {
    const text = `${lab(`    portConfig:
      swp1: { mode: access, vlan: 0 }
`)}wires:
  - { a: tor-a:swp1, b: tor-a:swp9 }
`;
    expect(problemLines(text)).toEqual([
      'lab.yaml:7:35: switches[0].portConfig.swp1.vlan: must be at least 1',
      'lab.yaml:9:25: wires[0].b: no port "swp9" on switch "tor-a" (ports: swp1..swp8)',
    ]);
  });
});

describe('switch mirror sessions', () => {
  test('resolve in file order, both directions by default', () => {
    const t = loadTopology(
      lab(`    mirror:
      - { name: web-tap, sources: [swp1, swp2], destination: swp7 }
      - { name: isl-rx, sources: [swp8], direction: rx, destination: swp6 }
`),
      'lab.yaml',
    );
    expect(switchNode(t, 'tor-a').spec.mirror).toEqual([
      { name: 'web-tap', sources: ['swp1', 'swp2'], direction: 'both', destination: 'swp7' },
      { name: 'isl-rx', sources: ['swp8'], direction: 'rx', destination: 'swp6' },
    ]);
  });

  test('unknown ports, a destination that is also a source or shared by two sessions, and duplicate names are reported', () => {
    expect(
      problemLines(
        lab(`    mirror:
      - { name: a, sources: [swp1, swp7, swp1], destination: swp7 }
      - { name: a, sources: [swp12], destination: swp7 }
      - { name: c, sources: [swp6], direction: tx, destination: swp5 }
      - { name: d, sources: [swp5], destination: swp99 }
`),
      ),
    ).toEqual([
      'lab.yaml:7:36: switches[0].mirror[0].sources[1]: port "swp7" is the destination of this session and cannot be one of its sources',
      'lab.yaml:7:42: switches[0].mirror[0].sources[2]: duplicate source "swp1"',
      'lab.yaml:8:17: switches[0].mirror[1].name: duplicate mirror session "a" (already at switches[0].mirror[0])',
      'lab.yaml:8:30: switches[0].mirror[1].sources[0]: no port "swp12" on switch "tor-a" (ports: swp1..swp8) (did you mean "swp1"?)',
      'lab.yaml:8:51: switches[0].mirror[1].destination: port "swp7" is already the destination of mirror session "a"',
      'lab.yaml:10:30: switches[0].mirror[3].sources[0]: port "swp5" is the destination of mirror session "c" and cannot be mirrored',
      'lab.yaml:10:50: switches[0].mirror[3].destination: no port "swp99" on switch "tor-a" (ports: swp1..swp8)',
    ]);
  });

  test('an unknown direction is a problem of the session entry', () => {
    expect(problemLines(lab(`    mirror:
      - { name: c, sources: [swp6], direction: sideways, destination: swp5 }
`))).toEqual(['lab.yaml:7:48: switches[0].mirror[0].direction: expected one of "rx", "tx", "both", got "sideways"']);
  });
});
