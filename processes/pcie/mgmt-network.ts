/**
 * The private management network of a host and its DPUs, as DPU high availability uses it.
 *
 * Each DPU reaches its host over the `mgmt` channel of its pcie wire; two DPUs of one host have no
 * wire between them. The host bridges the management network: a frame a DPU addresses to another
 * DPU of the same host (IPv4 destination = that DPU's management address, Ethernet destination =
 * that DPU's pcie MAC) is forwarded unchanged out of the host's port towards it. So the state sync
 * between the active and the standby DPU is a real UDP conversation between two link-local
 * addresses, and a capture of either pcie wire shows it.
 *
 * Addresses: the host keeps 169.254.0.1; DPU `d` of a host gets 169.254.0.<10 + i>, `i` the index
 * of `d` among its host's DPUs sorted by id. (The heartbeat's historical 169.254.0.2 stays valid
 * on each point-to-point link; the relay only needs the per-DPU addresses.)
 *
 * The host's vMotion vmknic (`vds/vmotion-net.ts`) is reached the same way: its DPU hands the
 * vMotion datagrams addressed to it up on `mgmt`, and the relay keeps them for the host.
 */
import { DpulabError } from '../../shared/errors.js';
import { decodeEthernet, ETHERTYPE_IPV4 } from '../../shared/net/ethernet.js';
import { decodeIpv4 } from '../../shared/net/ipv4.js';
import type { DpuNode, HostNode, ResolvedTopology } from '../../shared/topology/types.js';
import { DPU_MGMT_IP, HOST_MGMT_IP } from './heartbeat.js';
import { vmotionAddress, VMOTION_SUBNET } from '../vds/vmotion-net.js';
import { cidrContains, parseCidr } from '../../shared/net/ip.js';

/** The UDP port of the state-sync protocol (next to the heartbeat's 5999). */
/** A lookup on the management network named a DPU or host the topology does not hold: a caller bug or a topology that does not fit. */
export class MgmtNetworkError extends DpulabError {
  override readonly name = 'MgmtNetworkError';
  constructor(
    readonly code: 'unknown-dpu' | 'unknown-host',
    message: string,
  ) {
    super(message);
  }
}

export const HA_SYNC_UDP_PORT = 5_998;

/** The first host part of a DPU's management address. */
const DPU_MGMT_OFFSET = 10;

/** The management subnet's prefix (a /24 of 169.254.0.0/16). */
const MGMT_PREFIX = '169.254.0.';

const VMOTION_NETWORK = parseCidr(VMOTION_SUBNET);

/** One end of the management network: a node, its pcie-side MAC and its address. */
export interface MgmtEndpoint {
  readonly node: string;
  readonly mac: string;
  readonly ip: string;
}

function dpuNode(topology: ResolvedTopology, dpu: string): DpuNode {
  const node = topology.nodes.find((n) => n.id === dpu);
  if (node?.kind !== 'dpu') throw new MgmtNetworkError('unknown-dpu', `No DPU ${dpu} in topology ${topology.name}`);
  return node;
}

function hostNode(topology: ResolvedTopology, host: string): HostNode {
  const node = topology.nodes.find((n) => n.id === host);
  if (node?.kind !== 'host') throw new MgmtNetworkError('unknown-host', `No host ${host} in topology ${topology.name}`);
  return node;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The management address of a DPU: 169.254.0.<10 + index of the DPU among its host's DPUs sorted by id>. */
export function dpuMgmtIp(topology: ResolvedTopology, dpu: string): string {
  const node = dpuNode(topology, dpu);
  const siblings = [...hostNode(topology, node.spec.host).spec.dpus].sort(byString);
  const index = siblings.indexOf(dpu);
  if (index < 0) throw new MgmtNetworkError('unknown-dpu', `DPU ${dpu} is not listed by its host ${node.spec.host}`);
  return `${MGMT_PREFIX}${DPU_MGMT_OFFSET + index}`;
}

/** A DPU as a management-network endpoint: its id, the MAC of its `pcie` port, its management address. */
export function dpuMgmtEndpoint(topology: ResolvedTopology, dpu: string): MgmtEndpoint {
  const node = dpuNode(topology, dpu);
  const pcie = node.ports.find((p) => p.name === 'pcie');
  if (pcie === undefined) throw new MgmtNetworkError('unknown-dpu', `DPU ${dpu} has no pcie port`);
  return { node: dpu, mac: pcie.mac, ip: dpuMgmtIp(topology, dpu) };
}

/**
 * The other DPU of a DPU's HA pair: the host's first standby for its active DPU and the host's
 * first active for its standby. Null when the host has no standby (no failover) or the DPU is in
 * neither list.
 */
export function haPeerOf(topology: ResolvedTopology, dpu: string): string | null {
  const host = hostNode(topology, dpuNode(topology, dpu).spec.host);
  const { active, standby } = host.spec.failover;
  const first = active[0];
  const second = standby[0];
  if (first === undefined || second === undefined) return null;
  if (dpu === first) return second;
  if (dpu === second) return first;
  return null;
}

/** Where the host bridges management traffic: each DPU's address and the host port towards it. */
export interface MgmtRelayTable {
  readonly host: string;
  /** DPU management address → the host's port towards that DPU (the port is named after the DPU). */
  readonly ports: Readonly<Record<string, string>>;
  /** The host's own vMotion vmknic address: vMotion datagrams for it are the host's. */
  readonly vmotionIp: string;
}

/** The relay table of a host, from the topology. */
export function mgmtRelayTable(topology: ResolvedTopology, host: string): MgmtRelayTable {
  const node = hostNode(topology, host);
  const ports: Record<string, string> = {};
  for (const dpu of [...node.spec.dpus].sort(byString)) ports[dpuMgmtIp(topology, dpu)] = dpu;
  return { host, ports, vmotionIp: vmotionAddress(topology, host).ip };
}

/**
 * What the host does with a management frame from one of its DPUs:
 * - `forward`: another DPU's address; send the bytes unchanged out of `port` on the `mgmt` channel;
 * - `local`: for the host itself (its address, its vMotion vmknic's, or not IPv4: heartbeats,
 *   vMotion datagrams and anything else it parses);
 * - `drop`: a management address no DPU of this host has, or a vMotion address that is not this
 *   host's (`unknown-address`), or a frame that would go back out of the port it came in on
 *   (`hairpin`).
 */
export type RelayVerdict =
  | { readonly action: 'forward'; readonly port: string }
  | { readonly action: 'local' }
  | { readonly action: 'drop'; readonly reason: 'unknown-address' | 'hairpin' };

/**
 * The host's bridge decision for a `mgmt` frame that arrived on `fromPort` (a DPU's port). Pure:
 * the host core sends (or handles, or counts) according to the verdict. Throws FrameError for a
 * frame whose Ethernet or IPv4 header does not decode, like every decoder of the frame library.
 */
export function hostRelay(table: MgmtRelayTable, fromPort: string, frame: Uint8Array): RelayVerdict {
  const eth = decodeEthernet(frame);
  if (eth.etherType !== ETHERTYPE_IPV4) return { action: 'local' };
  const ip = decodeIpv4(frame, eth.payloadOffset, frame.length);
  if (cidrContains(VMOTION_NETWORK, ip.dst)) return ip.dst === table.vmotionIp ? { action: 'local' } : { action: 'drop', reason: 'unknown-address' };
  if (ip.dst === HOST_MGMT_IP || !ip.dst.startsWith(MGMT_PREFIX)) return { action: 'local' };
  const port = table.ports[ip.dst];
  // The point-to-point heartbeat address is every DPU's on its own link: the host's own business.
  if (port === undefined) return ip.dst === DPU_MGMT_IP ? { action: 'local' } : { action: 'drop', reason: 'unknown-address' };
  if (port === fromPort) return { action: 'drop', reason: 'hairpin' };
  return { action: 'forward', port };
}
