/**
 * The out-of-band management network: who has which address on it.
 *
 * Every host's management NIC and every DPU's RJ-45 management port (`mgmt`) is cabled to the
 * manager (implicit wires `mgmt-<node>`, kind `mgmt`); the manager process holds the management
 * switch those cables plug into, one port per node, named after the node. Frames are real
 * Ethernet / IPv4 / UDP between these addresses:
 *
 * - the manager: 172.31.0.1, sending from its port towards each node with that port's MAC;
 * - host number i (hosts sorted by id): 172.31.1.<10 + i>;
 * - DPU number i (DPUs sorted by id): 172.31.2.<10 + i>.
 *
 * The /16 is kept apart from every other network dpulab addresses (the underlay 172.16.0.0/16, the
 * vMotion network 172.30.0.0/24, the pcie link-local 169.254.0.0/24); segments are the user's.
 */
import { byString } from '../../shared/order.js';
import { NODES_PER_RANGE, rangeAddress, rankOfKind } from '../../shared/topology/addressing.js';
import type { ResolvedNode, ResolvedTopology } from '../../shared/topology/types.js';
import { MgmtSetupError } from './errors.js';

/** The UDP port of every management message, both ways: the port ESXi hosts send their vCenter heartbeats to. */
export const MGMT_UDP_PORT = 902;

/** The management network. */
export const MGMT_SUBNET = '172.31.0.0/16';

/** The manager's address. */
export const MANAGER_MGMT_IP = '172.31.0.1';

/** The name of a host's or DPU's management port (the topology's `MGMT_PORT`). */
export const NODE_MGMT_PORT = 'mgmt';

/** One end of a management conversation: the node, the port it sends from, its MAC and address. */
export interface MgmtEndpoint {
  readonly node: string;
  readonly port: string;
  readonly mac: string;
  readonly ip: string;
}

function nodeOf(topology: ResolvedTopology, id: string): ResolvedNode {
  const node = topology.nodes.find((n) => n.id === id);
  if (node === undefined) throw new MgmtSetupError('unknown-node', `No node ${id} in topology ${topology.name}`);
  return node;
}

/** The manager of a topology, or null when it has none. */
export function managerOf(topology: ResolvedTopology): string | null {
  return topology.nodes.find((n) => n.kind === 'manager')?.id ?? null;
}

/** The management address of a host or DPU (see the file comment). */
export function mgmtIp(topology: ResolvedTopology, id: string): string {
  const node = nodeOf(topology, id);
  if (node.kind !== 'host' && node.kind !== 'dpu') throw new MgmtSetupError('not-managed', `${id} is a ${node.kind}: only hosts and DPUs are on the management network`);
  const index = rankOfKind(topology, node.kind, id);
  const ip = rangeAddress(`172.31.${node.kind === 'host' ? 1 : 2}`, index);
  if (ip === null) throw new MgmtSetupError('too-many-nodes', `${id} would be management address number ${index + 1}, but only ${NODES_PER_RANGE} ${node.kind}s fit`);
  return ip;
}

/** A host or DPU as it sends on the management network: its `mgmt` port, that port's MAC, its address. */
export function nodeEndpoint(topology: ResolvedTopology, id: string): MgmtEndpoint {
  const node = nodeOf(topology, id);
  const port = node.ports.find((p) => p.name === NODE_MGMT_PORT);
  if (port === undefined) throw new MgmtSetupError('not-managed', `${id} has no management port: the topology has no manager`);
  return { node: id, port: NODE_MGMT_PORT, mac: port.mac, ip: mgmtIp(topology, id) };
}

/** The manager as it sends to (and is reached from) one node: its port towards the node and that port's MAC. */
export function managerEndpoint(topology: ResolvedTopology, towards: string): MgmtEndpoint {
  const manager = managerOf(topology);
  if (manager === null) throw new MgmtSetupError('not-managed', `Topology ${topology.name} has no manager`);
  const port = nodeOf(topology, manager).ports.find((p) => p.name === towards);
  if (port === undefined) throw new MgmtSetupError('not-managed', `The manager ${manager} has no port towards ${towards}`);
  return { node: manager, port: towards, mac: port.mac, ip: MANAGER_MGMT_IP };
}

/** The nodes the manager pushes overlay tables to: every DPU, and every host that switches in software (no DPU). */
export function tableReceivers(topology: ResolvedTopology): string[] {
  return topology.nodes
    .filter((n) => n.kind === 'dpu' || (n.kind === 'host' && n.spec.dpus.length === 0))
    .map((n) => n.id)
    .sort(byString);
}
