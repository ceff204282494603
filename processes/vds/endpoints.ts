import type { ResolvedTopology, VmSpec, VnicSpec } from '../../shared/topology/types.js';

/** A vNIC with the VM it belongs to and the host that runs it. */
export interface PlacedVnic extends VnicSpec {
  readonly vm: string;
  readonly host: string;
}

/** Every vNIC of the topology, sorted by id. */
export function allVnics(topology: ResolvedTopology): PlacedVnic[] {
  const out: PlacedVnic[] = [];
  for (const node of topology.nodes) {
    if (node.kind !== 'host') continue;
    for (const vm of node.spec.vms) for (const vnic of vm.vnics) out.push({ ...vnic, vm: vm.id, host: node.id });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The VMs of a host, sorted by id. */
export function vmsOf(topology: ResolvedTopology, host: string): VmSpec[] {
  const node = topology.nodes.find((n) => n.id === host);
  return node?.kind === 'host' ? [...node.spec.vms].sort((a, b) => (a.id < b.id ? -1 : 1)) : [];
}

/**
 * The addresses a firewall rule means by a VM id or a vNIC id (without prefix lengths): what
 * the management plane resolves group members to.
 */
export function endpointResolver(topology: ResolvedTopology): (name: string) => string[] {
  const table = new Map<string, string[]>();
  for (const vnic of allVnics(topology)) {
    const addresses = [vnic.ipv4, vnic.ipv6].filter((a): a is string => a !== null).map((a) => a.split('/')[0]!);
    table.set(vnic.id, addresses);
    table.set(vnic.vm, [...(table.get(vnic.vm) ?? []), ...addresses]);
  }
  return (name) => table.get(name) ?? [];
}
