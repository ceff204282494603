import { describe, expect, test } from 'vitest';
import { switchTopology } from './testing.js';
import { DEFAULT_PORT_VLANS, VlanPort } from './vlan-port.js';

const access = new VlanPort('swp1', { mode: 'access', vlan: 10 });
const trunk = new VlanPort('swp2', { mode: 'trunk', allowed: [{ first: 10, last: 20 }, { first: 100, last: 100 }], native: 15 });

describe('VlanPort', () => {
  test('an access port takes untagged, priority-tagged and own-VLAN frames into its VLAN, nothing else', () => {
    expect([null, 0, 10, 11, 4095].map((vid) => access.classify(vid))).toEqual([{ vlan: 10 }, { vlan: 10 }, { vlan: 10 }, { drop: 'tagged-on-access' }, { drop: 'tagged-on-access' }]);
    expect(access.carries(10)).toBe(true);
    expect(access.carries(11)).toBe(false);
    expect(access.tagsOnEgress(10)).toBe(false);
  });

  test('a trunk puts untagged frames in its native VLAN and takes tagged frames of allowed VLANs only', () => {
    expect([null, 0, 10, 20, 21, 100, 4095].map((vid) => trunk.classify(vid))).toEqual([
      { vlan: 15 },
      { vlan: 15 },
      { vlan: 10 },
      { vlan: 20 },
      { drop: 'vlan-not-allowed' },
      { vlan: 100 },
      { drop: 'vlan-not-allowed' },
    ]);
    expect(trunk.tagsOnEgress(15)).toBe(false);
    expect(trunk.tagsOnEgress(10)).toBe(true);
  });

  test('a port the topology says nothing about is a trunk for every VLAN with native VLAN 1', () => {
    const tor = switchTopology().nodes.find((n) => n.id === 'tor-a');
    if (tor?.kind !== 'switch') throw new Error('no tor-a');
    const bare = { ...tor.spec, portConfig: undefined };
    expect(VlanPort.fromSpec(bare, 'swp1').config).toEqual(DEFAULT_PORT_VLANS);
    expect(VlanPort.fromSpec(tor.spec, 'swp1').config).toEqual(DEFAULT_PORT_VLANS);
    expect(VlanPort.fromSpec(bare, 'swp1').classify(null)).toEqual({ vlan: 1 });
    expect(VlanPort.fromSpec(bare, 'swp1').tagsOnEgress(1)).toBe(false);
    expect(VlanPort.fromSpec(bare, 'swp1').tagsOnEgress(4094)).toBe(true);
  });
});
