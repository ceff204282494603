import { buildUdpFrame } from '../../shared/net/builders.js';
import type { VlanTag } from '../../shared/net/ethernet.js';
import { loadTopology } from '../../shared/topology/load.js';
import type { ResolvedTopology, SwitchNode } from '../../shared/topology/types.js';
import { TestContext } from '../runtime/testing.js';
import { SwitchCore } from './switch-core.js';

/**
 * A topology with switch `tor-a` (8 ports, `switchLines` appended to its entry, indented by four
 * spaces) whose every port is cabled to a switch of its own (`peer-1`..`peer-8`): no loop.
 */
export function switchTopology(switchLines = ''): ResolvedTopology {
  const peers = Array.from({ length: 8 }, (_, i) => `  - { id: peer-${i + 1}, ports: 1 }`).join('\n');
  const wires = Array.from({ length: 8 }, (_, i) => `  - { a: tor-a:swp${i + 1}, b: peer-${i + 1}:swp1 }`).join('\n');
  return loadTopology(
    `hosts:
  - id: esx-01
switches:
  - id: tor-a
    ports: 8
${switchLines}${peers}
wires:
${wires}
`,
    'switch-test.yaml',
  );
}

/** A booted switch core for tor-a of {@link switchTopology}, with the test context it runs on. */
export function switchUnderTest(switchLines = ''): { core: SwitchCore; ctx: TestContext } {
  const topology = switchTopology(switchLines);
  const node = topology.nodes.find((n): n is SwitchNode => n.id === 'tor-a' && n.kind === 'switch')!;
  const core = new SwitchCore(node, topology);
  const ctx = new TestContext('tor-a', { random: 0.25 });
  core.onBoot(ctx);
  return { core, ctx };
}

/** Station MACs for tests. */
export const MAC_A = '00:50:56:00:00:0a';
export const MAC_B = '00:50:56:00:00:0b';
export const MAC_C = '00:50:56:00:00:0c';
export const BROADCAST = 'ff:ff:ff:ff:ff:ff';

/** A small UDP/IPv4 frame from `src` to `dst`, untagged or with `vlan`. */
export function udpFrame(src: string, dst: string, vlan?: number | VlanTag): Uint8Array {
  return buildUdpFrame({
    srcMac: src,
    dstMac: dst,
    srcIp: '10.0.0.1',
    dstIp: '10.0.0.2',
    srcPort: 1000,
    dstPort: 2000,
    payload: new Uint8Array([1, 2, 3, 4]),
    ...(vlan === undefined ? {} : { vlan }),
  });
}
