/**
 * The numbering plan the emulated networks share: a node's address on the management network
 * and on the underlay follows from its rank among the nodes of its kind, sorted by id, so that
 * every process derives the same address from the topology alone.
 */
import { byString } from '../order.js';
import type { ResolvedTopology } from './types.js';

/** The first host part handed out in a /24: the low addresses stay with the fabric (gateways, the manager). */
const FIRST_HOST_PART = 10;
/** Host parts .10 to .254: how many nodes one /24 numbers. */
export const NODES_PER_RANGE = 245;

/** The index of `id` among the topology's nodes of `kind`, sorted by id; -1 when it is not one of them. */
export function rankOfKind(topology: ResolvedTopology, kind: 'host' | 'dpu', id: string): number {
  return topology.nodes
    .filter((n) => n.kind === kind)
    .map((n) => n.id)
    .sort(byString)
    .indexOf(id);
}

/** The address of the node of `rank` in the /24 `net` (three octets, e.g. `172.31.1`), or null when the range is full. */
export function rangeAddress(net: string, rank: number): string | null {
  return rank < NODES_PER_RANGE ? `${net}.${FIRST_HOST_PART + rank}` : null;
}
