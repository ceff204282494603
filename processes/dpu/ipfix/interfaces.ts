import type { DpuNode, ResolvedTopology } from '../../../shared/topology/types.js';
import { allVnics } from '../../vds/endpoints.js';

/** The first interface index of the vNICs; uplinks count from 1 below it. */
export const VNIC_INTERFACE_BASE = 1000;

/**
 * The interface indices a DPU's IPFIX records name in `ingressInterface` and `egressInterface`.
 *
 * - An uplink is 1 + its position in the DPU's uplink list (`p0` is 1, `p1` is 2).
 * - A vNIC is `VNIC_INTERFACE_BASE` + its position among every vNIC of the topology, sorted by
 *   id. The list is the whole cluster's and is fixed for the run, so a vMotion (a vNIC leaving or
 *   arriving) never renumbers another vNIC, and a vNIC keeps the same index on every DPU it
 *   crosses: a collector can follow it from one observation domain to the next.
 * - A vNIC the topology does not name (none should reach a DPU) is numbered after the topology's,
 *   in the order this DPU first meets it, and keeps that number.
 * - 0 means "no interface": a denied packet went nowhere.
 */
export class IpfixInterfaces {
  private readonly uplinks: readonly string[];
  private readonly vnics = new Map<string, number>();
  private next: number;

  constructor(topology: ResolvedTopology, node: DpuNode) {
    this.uplinks = node.spec.uplinks;
    const ids = allVnics(topology).map((v) => v.id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    ids.forEach((id, i) => this.vnics.set(id, VNIC_INTERFACE_BASE + i));
    this.next = VNIC_INTERFACE_BASE + ids.length;
  }

  /** The index of uplink `port`, or 0 for a port that is not an uplink. */
  uplink(port: string): number {
    const i = this.uplinks.indexOf(port);
    return i < 0 ? 0 : i + 1;
  }

  /** The index of vNIC `id`, assigning the next free one to a vNIC the topology does not name. */
  vnic(id: string): number {
    let index = this.vnics.get(id);
    if (index === undefined) {
      index = this.next++;
      this.vnics.set(id, index);
    }
    return index;
  }
}
