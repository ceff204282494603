import { describe, expect, test } from 'vitest';
import { decodeEthernet } from '../../shared/net/ethernet.js';
import { buildLldpFrame } from '../../shared/net/lldp.js';
import { BROADCAST, MAC_A, MAC_B, MAC_C, switchUnderTest, udpFrame } from './testing.js';
import type { TestContext } from '../runtime/testing.js';

const ALL = ['swp1', 'swp2', 'swp3', 'swp4', 'swp5', 'swp6', 'swp7', 'swp8'];

/** Ports a frame went out of, and the VLAN tag it had there (null: untagged). */
function egress(ctx: TestContext): Array<[string, number | null]> {
  return ctx.takeSent().map((s) => [s.port, decodeEthernet(s.bytes).vlan?.vid ?? null]);
}

describe('SwitchCore with default ports', () => {
  test('floods an unknown unicast to every other cabled port with its bytes unchanged, tagged or not', () => {
    const { core, ctx } = switchUnderTest();
    const untagged = udpFrame(MAC_A, MAC_B);
    const tagged = udpFrame(MAC_A, MAC_C, { vid: 20, pcp: 5, dei: false });
    core.onFrame(ctx, 'swp1', untagged, 'eth');
    const first = ctx.takeSent();
    expect(first.map((s) => s.port)).toEqual(ALL.filter((p) => p !== 'swp1'));
    for (const s of first) expect(s.bytes).toBe(untagged);
    core.onFrame(ctx, 'swp2', tagged, 'eth');
    const second = ctx.takeSent();
    expect(second.map((s) => s.port)).toEqual(ALL.filter((p) => p !== 'swp2'));
    for (const s of second) expect(s.bytes).toBe(tagged);
  });

  test('learns untagged stations in the native VLAN 1 and then forwards to the learned port only', () => {
    const { core, ctx } = switchUnderTest();
    core.onFrame(ctx, 'swp3', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(ctx.payloads('mac.learn')).toEqual([{ vlan: 1, mac: MAC_A, port: 'swp3', movedFrom: null }]);
    ctx.takeSent();
    core.onFrame(ctx, 'swp5', udpFrame(MAC_B, MAC_A), 'eth');
    expect(egress(ctx)).toEqual([['swp3', null]]);
  });

  test('does not send a frame back out of the port its destination was learned on', () => {
    const { core, ctx } = switchUnderTest();
    core.onFrame(ctx, 'swp3', udpFrame(MAC_A, BROADCAST), 'eth');
    core.onFrame(ctx, 'swp3', udpFrame(MAC_B, BROADCAST), 'eth');
    ctx.takeSent();
    core.onFrame(ctx, 'swp3', udpFrame(MAC_B, MAC_A), 'eth');
    expect(ctx.takeSent()).toEqual([]);
    expect(ctx.payloads('switch.drop')).toEqual([]);
  });

  test('consumes LLDP frames: never forwarded, never learned', () => {
    const { core, ctx } = switchUnderTest();
    const lldp = buildLldpFrame({ srcMac: '02:00:00:00:00:01', chassisMac: '02:00:00:00:00:01', portId: 'p0', ttlSec: 120, systemName: 'dpu-01a' });
    core.onFrame(ctx, 'swp1', lldp, 'eth');
    expect(ctx.takeSent()).toEqual([]);
    expect(ctx.payloads('mac.learn')).toEqual([]);
    expect(ctx.payloads('lldp.neighbor')).toHaveLength(1);
  });

  test('skips ports whose link is down and forgets what it learned on them', () => {
    const { core, ctx } = switchUnderTest();
    core.onFrame(ctx, 'swp3', udpFrame(MAC_A, BROADCAST), 'eth');
    ctx.down.add('swp3');
    core.onLink(ctx, 'swp3', false);
    ctx.takeSent();
    core.onFrame(ctx, 'swp1', udpFrame(MAC_B, MAC_A), 'eth');
    expect(ctx.takeSent().map((s) => s.port)).toEqual(['swp2', 'swp4', 'swp5', 'swp6', 'swp7', 'swp8']);
  });
});

const VLAN_LAB = `    portConfig:
      swp1: { mode: access, vlan: 10 }
      swp2: { mode: access, vlan: 10 }
      swp3: { mode: access, vlan: 20 }
      swp4: { mode: trunk, allowed: [10, 20] }
      swp5: { mode: trunk, allowed: [20-30] }
      swp6: { mode: trunk, allowed: [1-4094], native: 10 }
      swp7: { mode: trunk, allowed: [10, 20], native: 99 }
`;

describe('SwitchCore VLANs', () => {
  test('floods an access port frame only within its VLAN, untagged on access ports and native trunks, tagged on others', () => {
    const { core, ctx } = switchUnderTest(VLAN_LAB);
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(egress(ctx)).toEqual([
      ['swp2', null],
      ['swp4', 10],
      ['swp6', null],
      ['swp7', 10],
      ['swp8', 10],
    ]);
  });

  test('puts an untagged frame on a trunk in its native VLAN and a tagged one in its tag VLAN', () => {
    const { core, ctx } = switchUnderTest(VLAN_LAB);
    core.onFrame(ctx, 'swp6', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(egress(ctx)).toEqual([
      ['swp1', null],
      ['swp2', null],
      ['swp4', 10],
      ['swp7', 10],
      ['swp8', 10],
    ]);
    core.onFrame(ctx, 'swp6', udpFrame(MAC_B, BROADCAST, 20), 'eth');
    expect(egress(ctx)).toEqual([
      ['swp3', null],
      ['swp4', 20],
      ['swp5', 20],
      ['swp7', 20],
      ['swp8', 20],
    ]);
    expect(ctx.payloads('mac.learn').map((e) => [e.vlan, e.mac])).toEqual([
      [10, MAC_A],
      [20, MAC_B],
    ]);
  });

  test('drops a frame tagged with a VLAN the trunk does not allow, and counts it', () => {
    const { core, ctx } = switchUnderTest(VLAN_LAB);
    const frame = udpFrame(MAC_A, BROADCAST, 40);
    core.onFrame(ctx, 'swp5', frame, 'eth');
    expect(ctx.takeSent()).toEqual([]);
    expect(ctx.payloads('mac.learn')).toEqual([]);
    expect(ctx.payloads('switch.drop')).toEqual([{ port: 'swp5', reason: 'vlan-not-allowed', vlan: 40, len: frame.length }]);
    expect(core.inspect()).toMatchObject({ drops: { 'vlan-not-allowed': 1 } });
  });

  test('drops untagged frames on a trunk whose native VLAN is not allowed', () => {
    const { core, ctx } = switchUnderTest(VLAN_LAB);
    core.onFrame(ctx, 'swp7', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(ctx.takeSent()).toEqual([]);
    expect(ctx.payloads('switch.drop')).toMatchObject([{ port: 'swp7', reason: 'vlan-not-allowed', vlan: 99 }]);
  });

  test('an access port drops frames tagged with another VLAN, takes its own and priority-tagged ones', () => {
    const { core, ctx } = switchUnderTest(VLAN_LAB);
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST, 20), 'eth');
    expect(ctx.takeSent()).toEqual([]);
    expect(ctx.payloads('switch.drop')).toMatchObject([{ port: 'swp1', reason: 'tagged-on-access', vlan: 20 }]);
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST, 10), 'eth');
    expect(egress(ctx).map(([p]) => p)).toEqual(['swp2', 'swp4', 'swp6', 'swp7', 'swp8']);
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST, { vid: 0, pcp: 6, dei: false }), 'eth');
    const sent = ctx.takeSent();
    expect(sent.map((s) => [s.port, decodeEthernet(s.bytes).vlan ?? null])).toEqual([
      ['swp2', null],
      ['swp4', { vid: 10, pcp: 6, dei: false }],
      ['swp6', null],
      ['swp7', { vid: 10, pcp: 6, dei: false }],
      ['swp8', { vid: 10, pcp: 6, dei: false }],
    ]);
    expect(core.inspect()).toMatchObject({ drops: { 'tagged-on-access': 1 } });
  });

  test('learns the same MAC separately in each VLAN', () => {
    const { core, ctx } = switchUnderTest(VLAN_LAB);
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    core.onFrame(ctx, 'swp3', udpFrame(MAC_A, BROADCAST), 'eth');
    ctx.takeSent();
    core.onFrame(ctx, 'swp4', udpFrame(MAC_B, MAC_A, 10), 'eth');
    core.onFrame(ctx, 'swp4', udpFrame(MAC_B, MAC_A, 20), 'eth');
    expect(egress(ctx)).toEqual([
      ['swp1', null],
      ['swp3', null],
    ]);
    expect(ctx.payloads('mac.learn').filter((e) => e.mac === MAC_A).map((e) => [e.vlan, e.port, e.movedFrom])).toEqual([
      [10, 'swp1', null],
      [20, 'swp3', null],
    ]);
  });

  test('strips the tag towards an access port and pads the frame back to 60 bytes', () => {
    const { core, ctx } = switchUnderTest(VLAN_LAB);
    const tagged = udpFrame(MAC_B, BROADCAST, 20);
    expect(tagged.length).toBe(60);
    core.onFrame(ctx, 'swp5', tagged, 'eth');
    const toAccess = ctx.takeSent().find((s) => s.port === 'swp3')!;
    expect(toAccess.bytes.length).toBe(60);
    expect([...toAccess.bytes.subarray(0, 12)]).toEqual([...tagged.subarray(0, 12)]);
    expect([...toAccess.bytes.subarray(12, 56)]).toEqual([...tagged.subarray(16, 60)]);
    expect([...toAccess.bytes.subarray(56)]).toEqual([0, 0, 0, 0]);
  });
});

const MIRROR_LAB = `    portConfig:
      swp1: { mode: access, vlan: 10 }
      swp2: { mode: access, vlan: 10 }
      swp3: { mode: trunk, allowed: [10] }
    mirror:
      - { name: rx-tap, sources: [swp1], direction: rx, destination: swp7 }
      - { name: tx-tap, sources: [swp3], direction: tx, destination: swp8 }
`;

describe('SwitchCore port mirroring', () => {
  test('copies what a source port receives, unmodified, out of the destination', () => {
    const { core, ctx } = switchUnderTest(MIRROR_LAB);
    const frame = udpFrame(MAC_A, BROADCAST);
    core.onFrame(ctx, 'swp1', frame, 'eth');
    const sent = ctx.takeSent();
    expect(sent.filter((s) => s.port === 'swp7').map((s) => s.bytes)).toEqual([frame]);
    expect(sent.find((s) => s.port === 'swp7')!.bytes).toBe(frame);
  });

  test('mirrors received frames before VLAN filtering, so dropped frames are still copied', () => {
    const { core, ctx } = switchUnderTest(MIRROR_LAB);
    const wrongVlan = udpFrame(MAC_A, BROADCAST, 30);
    core.onFrame(ctx, 'swp1', wrongVlan, 'eth');
    expect(ctx.takeSent()).toEqual([{ port: 'swp7', bytes: wrongVlan, channel: 'eth' }]);
    expect(ctx.payloads('switch.drop')).toMatchObject([{ reason: 'tagged-on-access' }]);
  });

  test('copies what a source port sends, as sent (tagged), and not what it receives', () => {
    const { core, ctx } = switchUnderTest(MIRROR_LAB);
    core.onFrame(ctx, 'swp2', udpFrame(MAC_A, BROADCAST), 'eth');
    const sent = ctx.takeSent();
    const toTrunk = sent.find((s) => s.port === 'swp3')!;
    const copy = sent.find((s) => s.port === 'swp8')!;
    expect(copy.bytes).toBe(toTrunk.bytes);
    expect(decodeEthernet(copy.bytes).vlan?.vid).toBe(10);
    core.onFrame(ctx, 'swp3', udpFrame(MAC_B, BROADCAST, 10), 'eth');
    expect(ctx.takeSent().map((s) => s.port)).toEqual(['swp1', 'swp2', 'swp4', 'swp5', 'swp6']);
  });

  test('mirrors both directions when asked, and never floods to a destination port', () => {
    const { core, ctx } = switchUnderTest(`    mirror:
      - { name: all, sources: [swp1], destination: swp8 }
`);
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(ctx.takeSent().map((s) => s.port)).toEqual(['swp8', 'swp2', 'swp3', 'swp4', 'swp5', 'swp6', 'swp7']);
    core.onFrame(ctx, 'swp2', udpFrame(MAC_B, BROADCAST), 'eth');
    expect(ctx.takeSent().map((s) => s.port)).toEqual(['swp1', 'swp8', 'swp3', 'swp4', 'swp5', 'swp6', 'swp7']);
    expect(core.inspect()).toMatchObject({ ports: expect.arrayContaining([expect.objectContaining({ port: 'swp8', mirrored: 2, txFrames: 2, floods: 0 })]) });
  });

  test('drops what arrives on a destination port and learns nothing from it', () => {
    const { core, ctx } = switchUnderTest(MIRROR_LAB);
    core.onFrame(ctx, 'swp7', udpFrame(MAC_C, BROADCAST), 'eth');
    expect(ctx.takeSent()).toEqual([]);
    expect(ctx.payloads('mac.learn')).toEqual([]);
    expect(ctx.payloads('switch.drop')).toMatchObject([{ port: 'swp7', reason: 'mirror-destination', vlan: 1 }]);
  });

  test('sends no copy while the destination link is down', () => {
    const { core, ctx } = switchUnderTest(MIRROR_LAB);
    ctx.down.add('swp7');
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    // swp8 gets the copy of what swp3 sends (tx-tap); swp7, down, gets nothing.
    expect(ctx.takeSent().map((s) => s.port)).toEqual(['swp2', 'swp3', 'swp8', 'swp4', 'swp5', 'swp6']);
  });
});
