/**
 * The control-plane table: which vNIC (MAC and addresses) lives on which segment, behind which
 * tunnel endpoint. Derived from the topology at boot; the owner updates it when a VM moves
 * (vMotion) or a host's datapath moves to another DPU (failover).
 *
 * It is what lets the switch answer ARP and neighbour solicitations locally, send unicast
 * straight to the right TEP and replicate broadcast only to the TEPs that need it.
 */
import { ipv4ToUint32, normalizeIp, parseCidr } from '../../../shared/net/ip.js';
import type { IpAddress, Ipv4Address, Ipv6Address } from '../../../shared/net/ip.js';
import { normalizeMac } from '../../../shared/net/mac.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import type { DpuNode, HostNode, ResolvedTopology } from '../../../shared/topology/types.js';
import { SwitchingError } from './errors.js';
import { dpuTepIp, hostTepIp } from './tep.js';

/** One vNIC as the control plane knows it. Plain data. */
export interface ControlPlaneEntry {
  readonly vnic: string;
  readonly vm: string;
  readonly mac: MacAddress;
  /** The interface address without prefix length, e.g. `10.0.1.11`. */
  readonly ipv4: Ipv4Address;
  readonly ipv6: Ipv6Address | null;
  readonly segment: string;
  /** GENEVE VNI of an overlay segment, else null. */
  readonly vni: number | null;
  /** 802.1Q id of a VLAN segment, else null. */
  readonly vlan: number | null;
  /** The host the VM runs on. */
  readonly host: string;
  /** TEP address of the host's active DPU, or of the host itself when it has no DPU. */
  readonly tep: Ipv4Address;
}

/** Where a vNIC lives now: what a vMotion or a failover changes. */
export interface ControlPlaneLocation {
  readonly host: string;
  readonly tep: Ipv4Address;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The address part of `10.0.1.11/24`, canonical. */
function interfaceAddress(cidr: string): IpAddress {
  return parseCidr(cidr).address;
}

/**
 * The TEP that serves a host's VMs: its active DPU's (the first active by id when several are),
 * or its own for a host without DPUs.
 */
export function servingTep(topology: ResolvedTopology, host: string): Ipv4Address {
  const node = topology.nodes.find((n): n is HostNode => n.kind === 'host' && n.id === host);
  if (!node) throw new SwitchingError('unknown-owner', `No host ${host} in topology ${topology.name}`);
  if (node.spec.dpus.length === 0) return hostTepIp(topology, host);
  const dpus = topology.nodes.filter((n): n is DpuNode => n.kind === 'dpu' && node.spec.dpus.includes(n.id)).sort((a, b) => byString(a.id, b.id));
  const active = dpus.find((d) => d.spec.role === 'active') ?? dpus[0];
  if (!active) throw new SwitchingError('unknown-owner', `Host ${host} lists DPUs ${node.spec.dpus.join(', ')} that the topology does not define`);
  return dpuTepIp(topology, active.id);
}

/**
 * The table, indexed by vNIC, by (segment, MAC) and by (segment, IP). Every list it returns is
 * sorted, so that what the switch does with it never depends on insertion order.
 */
export class ControlPlane {
  private readonly byVnic = new Map<string, ControlPlaneEntry>();
  private readonly byMac = new Map<string, string>();
  private readonly byIp = new Map<string, string>();
  /** The TEP serving each host, whether or not it runs VMs (the vMotion network needs it). */
  private readonly hostTeps = new Map<string, Ipv4Address>();
  private readonly segmentIds: ReadonlySet<string>;

  constructor(topology: ResolvedTopology) {
    this.segmentIds = new Set(topology.segments.map((s) => s.id));
    const segments = new Map(topology.segments.map((s) => [s.id, s]));
    const hosts = topology.nodes.filter((n): n is HostNode => n.kind === 'host');
    for (const host of hosts) {
      const tep = servingTep(topology, host.id);
      this.hostTeps.set(host.id, tep);
      for (const vm of host.spec.vms) {
        for (const vnic of vm.vnics) {
          const segment = segments.get(vnic.segment);
          if (!segment) throw new SwitchingError('unknown-segment', `vNIC ${vnic.id} of VM ${vm.id} is on segment ${vnic.segment}, which the topology does not define`);
          this.insert({
            vnic: vnic.id,
            vm: vm.id,
            mac: normalizeMac(vnic.mac),
            ipv4: interfaceAddress(vnic.ipv4),
            ipv6: vnic.ipv6 === null ? null : interfaceAddress(vnic.ipv6),
            segment: segment.id,
            vni: segment.vni,
            vlan: segment.vlan,
            host: host.id,
            tep,
          });
        }
      }
    }
  }

  private insert(entry: ControlPlaneEntry): void {
    this.byVnic.set(entry.vnic, entry);
    this.byMac.set(`${entry.segment}/${entry.mac}`, entry.vnic);
    this.byIp.set(`${entry.segment}/${entry.ipv4}`, entry.vnic);
    if (entry.ipv6 !== null) this.byIp.set(`${entry.segment}/${entry.ipv6}`, entry.vnic);
  }

  /** Every entry, sorted by vNIC id. */
  entries(): ControlPlaneEntry[] {
    return [...this.byVnic.keys()].sort(byString).map((id) => this.byVnic.get(id)!);
  }

  /** The entry of a vNIC, or undefined. */
  vnic(id: string): ControlPlaneEntry | undefined {
    return this.byVnic.get(id);
  }

  /** The vNIC with this MAC on this segment, or undefined. */
  lookupMac(segment: string, mac: MacAddress): ControlPlaneEntry | undefined {
    const id = this.byMac.get(`${segment}/${normalizeMac(mac)}`);
    return id === undefined ? undefined : this.byVnic.get(id);
  }

  /** The vNIC with this IPv4 or IPv6 address on this segment, or undefined. */
  lookupIp(segment: string, ip: IpAddress): ControlPlaneEntry | undefined {
    const id = this.byIp.get(`${segment}/${normalizeIp(ip)}`);
    return id === undefined ? undefined : this.byVnic.get(id);
  }

  /** The TEPs that have at least one vNIC on the segment, sorted by address. */
  tepsForSegment(segment: string): Ipv4Address[] {
    const teps = new Set<string>();
    for (const entry of this.byVnic.values()) if (entry.segment === segment) teps.add(entry.tep);
    return [...teps].sort(compareIpv4);
  }

  /** Every TEP that serves a host now, sorted: where an announcement of a moved VM must reach. */
  allTeps(): Ipv4Address[] {
    return [...new Set(this.hostTeps.values())].sort(compareIpv4);
  }

  /** The TEP that serves a host now (its active DPU's, or its own without DPUs), or undefined for an unknown host. */
  hostTep(host: string): Ipv4Address | undefined {
    return this.hostTeps.get(host);
  }

  /** Whether the topology defines the segment. */
  hasSegment(segment: string): boolean {
    return this.segmentIds.has(segment);
  }

  /**
   * Moves a vNIC to another host and TEP (after a vMotion or a failover); returns the updated
   * entry. Throws SwitchingError `unknown-vnic` for an id the table does not hold.
   */
  update(vnic: string, location: ControlPlaneLocation): ControlPlaneEntry {
    const entry = this.byVnic.get(vnic);
    if (!entry) throw new SwitchingError('unknown-vnic', `The control plane has no vNIC ${vnic}`);
    const updated = { ...entry, host: location.host, tep: location.tep };
    this.byVnic.set(vnic, updated);
    // A VM is only ever behind the TEP that serves its host.
    if (this.hostTeps.has(location.host)) this.hostTeps.set(location.host, location.tep);
    return updated;
  }

  /**
   * Applies what the management plane pushed (`processes/mgmt`): each host is behind its TEP, each
   * vNIC on its host behind its TEP. vNICs the topology does not define are ignored. Returns the
   * hosts and the vNICs whose place changed, sorted.
   */
  applyTable(hosts: readonly { readonly host: string; readonly tep: Ipv4Address }[], vnics: readonly { readonly vnic: string; readonly host: string; readonly tep: Ipv4Address }[]): { hosts: string[]; vnics: string[] } {
    const movedHosts: string[] = [];
    for (const { host, tep } of hosts) {
      if (!this.hostTeps.has(host) || this.hostTeps.get(host) === tep) continue;
      this.hostTeps.set(host, tep);
      movedHosts.push(host);
    }
    const moved: string[] = [];
    for (const { vnic, host, tep } of vnics) {
      const entry = this.byVnic.get(vnic);
      if (!entry || (entry.host === host && entry.tep === tep)) continue;
      this.byVnic.set(vnic, { ...entry, host, tep });
      moved.push(vnic);
    }
    return { hosts: movedHosts.sort(byString), vnics: moved.sort(byString) };
  }

  /**
   * Points a host and every vNIC on it at a new TEP (the host's standby DPU took over); returns
   * the ids of the vNICs that changed, sorted.
   */
  updateHostTep(host: string, tep: Ipv4Address): string[] {
    if (this.hostTeps.has(host)) this.hostTeps.set(host, tep);
    const changed: string[] = [];
    for (const entry of this.entries()) {
      if (entry.host !== host || entry.tep === tep) continue;
      this.byVnic.set(entry.vnic, { ...entry, tep });
      changed.push(entry.vnic);
    }
    return changed;
  }
}

/** Orders IPv4 addresses numerically, so that .9 comes before .10. */
export function compareIpv4(a: Ipv4Address, b: Ipv4Address): number {
  return ipv4ToUint32(a) - ipv4ToUint32(b);
}
