/**
 * Resolution: checked file entries → {@link ResolvedTopology}. Expands what the file leaves
 * implicit (PCIe wires, ports, MACs, DPU roles, VNIC ids) and checks everything that involves
 * more than one entry: references, uniqueness, subnets, the failover policy, port usage.
 *
 * It never throws on bad input: it returns every problem found, each with the data path of the
 * offending value, plus a best-effort topology that callers must not use if there are problems.
 * Entries that already failed their schema check are absent; their ids are passed in so that
 * references to them are not reported a second time.
 */

import { CONTROLLER_NODE } from '../events.js';
import { cidrContains, formatCidr, ipv4ToUint32, uint32ToIpv4 } from '../net/ip.js';
import type { Cidr, IpAddress, Ipv4Address } from '../net/ip.js';
import { isMulticastMac } from '../net/mac.js';
import { switchingLoops } from './loops.js';
import { derivePortMac, deriveVnicMac } from './macs.js';
import { ALL_VLANS, DEFAULT_NATIVE_VLAN, TOPOLOGY_DEFAULTS, VMOTION_VNI } from './schema.js';
import type { DpuEntry, HostEntry, ManagerEntry, SegmentEntry, SwitchEntry, VnicEntry, WireEntry, WrittenIp } from './schema.js';
import type {
  DpuNode,
  HostNode,
  ManagerNode,
  MirrorSession,
  PortSpec,
  ResolvedNode,
  ResolvedTopology,
  ResolvedWire,
  SegmentSpec,
  StpSpec,
  SwitchNode,
  SwitchPortVlans,
  VlanRange,
  VmSpec,
  VnicSpec,
} from './types.js';
import { didYouMean, formatPath } from './yaml-source.js';
import type { DataPath, PathProblem } from './yaml-source.js';

/** A checked entry and its position in its list (for problem paths). */
export interface Entry<T> {
  readonly index: number;
  readonly value: T;
}

/** What resolution works from: the entries that passed their schema checks. */
export interface TopologyEntries {
  readonly name: string;
  readonly segments: readonly Entry<SegmentEntry>[];
  readonly hosts: readonly Entry<HostEntry>[];
  readonly dpus: readonly Entry<DpuEntry>[];
  readonly switches: readonly Entry<SwitchEntry>[];
  readonly wires: readonly Entry<WireEntry>[];
  /** The `manager:` map, when the file has a valid one. */
  readonly manager?: Entry<ManagerEntry> | null;
  /** Ids of nodes and segments whose entries failed their schema check. */
  readonly invalidIds?: ReadonlySet<string>;
}

/** The outcome of resolution: the topology, trustworthy only when `problems` is empty. */
export interface Resolution {
  readonly topology: ResolvedTopology;
  readonly problems: readonly PathProblem[];
}

/** The port name every DPU has for its PCIe link to the host. */
export const DPU_PCIE_PORT = 'pcie';

/** The id of the implicit PCIe wire between a DPU and its host. */
export function pcieWireId(dpu: string): string {
  return `pcie-${dpu}`;
}

/** The port name of a host's management NIC and of a DPU's RJ-45 management port. */
export const MGMT_PORT = 'mgmt';

/** The id of the implicit management cable between a host or DPU and the manager. */
export function mgmtWireId(node: string): string {
  return `mgmt-${node}`;
}

/** Plain code-unit order, the same in every JS engine and locale. */
function byId<T extends { readonly id: string }>(a: T, b: T): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function sortedIds(ids: Iterable<string>): string[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `swp1..swp8, mgmt`: runs of three or more consecutive numbered names are shortened. */
export function formatPortList(names: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < names.length; ) {
    const first = names[i] ?? '';
    const match = /^(.*?)(\d+)$/.exec(first);
    let j = i + 1;
    if (match) {
      const [, prefix = '', digits = ''] = match;
      let n = Number(digits);
      while (j < names.length && names[j] === `${prefix}${n + 1}`) {
        n += 1;
        j += 1;
      }
    }
    if (j - i >= 3) out.push(`${first}..${names[j - 1] ?? ''}`);
    else out.push(...names.slice(i, j));
    i = j;
  }
  return out.join(', ');
}

/** ` (hosts: esx-01, esx-02)`, or nothing when there are none to list. */
function knownList(what: string, ids: Iterable<string>): string {
  const sorted = sortedIds(ids);
  return sorted.length > 0 ? ` (${what}: ${sorted.join(', ')})` : '';
}

const KIND_NAMES: Readonly<Record<string, string>> = { host: 'a host', dpu: 'a DPU', switch: 'a switch', manager: 'the manager' };

interface NodeClaim {
  readonly kind: 'host' | 'dpu' | 'switch' | 'manager';
  readonly path: DataPath;
}

/** A segment's prefix, with its canonical `network/length` text as messages and the spec show it. */
interface Subnet extends Cidr {
  readonly text: string;
}

interface SegmentInfo {
  readonly entry: Entry<SegmentEntry>;
  readonly spec: SegmentSpec;
  readonly v4: Subnet;
  readonly v6: Subnet | null;
  readonly gateways: ReadonlySet<string>;
}

/** Resolves checked entries into a topology, collecting every problem (see the module comment). */
export function resolveTopology(entries: TopologyEntries): Resolution {
  const problems: PathProblem[] = [];
  const report: Report = (path, message, at) => {
    problems.push(at === undefined ? { path, message } : { path, message, at });
  };
  const invalid = entries.invalidIds ?? new Set<string>();

  // Node ids are one namespace across hosts, DPUs and switches.
  const claims = new Map<string, NodeClaim>();
  const claim = (id: string, kind: NodeClaim['kind'], path: DataPath): boolean => {
    if (id === CONTROLLER_NODE) {
      report([...path, 'id'], `"${CONTROLLER_NODE}" is reserved: the controller records its own events under that name`);
      return false;
    }
    const prior = claims.get(id);
    if (prior) {
      report([...path, 'id'], `duplicate id "${id}" (already ${KIND_NAMES[prior.kind]} at ${formatPath(prior.path)})`);
      return false;
    }
    claims.set(id, { kind, path });
    return true;
  };
  const hosts = entries.hosts.filter((e) => claim(e.value.id, 'host', ['hosts', e.index]));
  const dpus = entries.dpus.filter((e) => claim(e.value.id, 'dpu', ['dpus', e.index]));
  const switches = entries.switches.filter((e) => claim(e.value.id, 'switch', ['switches', e.index]));
  const manager = entries.manager && claim(entries.manager.value.id, 'manager', ['manager']) ? entries.manager.value : null;
  const hostById = new Map(hosts.map((e) => [e.value.id, e]));
  const dpuById = new Map(dpus.map((e) => [e.value.id, e]));

  const segments = resolveSegments(entries.segments, report);

  // DPUs: each belongs to an existing host.
  const dpusOfHost = new Map<string, string[]>();
  for (const { index, value: dpu } of dpus) {
    const path = ['dpus', index];
    if (dpu.host === undefined) {
      report([...path, 'host'], 'required (a DPU must belong to a host)');
    } else if (hostById.has(dpu.host)) {
      dpusOfHost.set(dpu.host, [...(dpusOfHost.get(dpu.host) ?? []), dpu.id]);
    } else if (!invalid.has(dpu.host)) {
      const other = claims.get(dpu.host);
      report(
        [...path, 'host'],
        other
          ? `"${dpu.host}" is ${KIND_NAMES[other.kind]}, not a host`
          : `no host "${dpu.host}"${knownList('hosts', hostById.keys())}${didYouMean(dpu.host, hostById.keys())}`,
      );
    }
    reportDuplicates(dpu.uplinks, [...path, 'uplinks'], 'uplink', report);
    dpu.uplinks.forEach((uplink, j) => {
      if (uplink === DPU_PCIE_PORT) report([...path, 'uplinks', j], `"${DPU_PCIE_PORT}" is reserved for the DPU's PCIe port`);
      if (uplink === MGMT_PORT) report([...path, 'uplinks', j], `"${MGMT_PORT}" is reserved for the DPU's management port`);
    });
    if (manager !== null && dpu.id === MGMT_PORT) report([...path, 'id'], `"${MGMT_PORT}" is the name of its host's management port: a DPU of a managed host needs another id`);
  }

  // Hosts: DPU roles from the failover policy; classic hosts may have uplinks of their own.
  const roles = new Map<string, 'active' | 'standby'>();
  const hostDpus = new Map<string, string[]>();
  const failovers = new Map<string, { active: string[]; standby: string[] }>();
  for (const { index, value: host } of hosts) {
    const path = ['hosts', index];
    const own = sortedIds(dpusOfHost.get(host.id) ?? []);
    hostDpus.set(host.id, own);
    if (own.length > 0 && host.uplinks !== undefined && host.uplinks.length > 0) {
      report([...path, 'uplinks'], `a host with DPUs has no uplinks of its own: its NICs are its DPUs (${own.join(', ')})`);
    }
    if (host.uplinks) reportDuplicates(host.uplinks, [...path, 'uplinks'], 'uplink', report);
    (host.uplinks ?? []).forEach((uplink, j) => {
      if (uplink === MGMT_PORT) report([...path, 'uplinks', j], `"${MGMT_PORT}" is reserved for the host's management port`);
    });
    const failover = resolveFailover(host, own, [...path, 'failover'], invalid, report);
    failovers.set(host.id, failover);
    for (const id of failover.active) roles.set(id, 'active');
    for (const id of failover.standby) roles.set(id, 'standby');
  }

  // Switches: ports from a count or a list, then the VLAN mode of each port and mirror sessions.
  const switchPorts = new Map<string, string[]>();
  const switchModes = new Map<string, SwitchPortSetup>();
  for (const { index, value: sw } of switches) {
    const ports = typeof sw.ports === 'number' ? Array.from({ length: sw.ports }, (_, i) => `swp${i + 1}`) : [...sw.ports];
    if (typeof sw.ports !== 'number') reportDuplicates(ports, ['switches', index, 'ports'], 'port', report);
    switchPorts.set(sw.id, ports);
    switchModes.set(sw.id, resolveSwitchPorts(sw, ports, ['switches', index], report));
  }

  // MACs: explicit VNIC MACs are reserved first, derived ones never take them.
  const macOwners = new Map<string, string>();
  const vms = resolveVms(hosts, claims, segments, invalid, macOwners, report);

  // Ports of every node, MACs derived in id order so they do not depend on file order.
  const portNames = new Map<string, string[]>();
  const mgmtPort = manager === null ? [] : [MGMT_PORT];
  for (const { value: host } of hosts) {
    const own = hostDpus.get(host.id) ?? [];
    portNames.set(host.id, [...own, ...(own.length === 0 ? (host.uplinks ?? []) : []), ...mgmtPort]);
  }
  for (const { value: dpu } of dpus) portNames.set(dpu.id, [...dpu.uplinks, DPU_PCIE_PORT, ...mgmtPort]);
  for (const [id, ports] of switchPorts) portNames.set(id, ports);
  // The manager has one port per node it manages, named after it, like a host's ports after its DPUs.
  const managed = sortedIds([...hosts.map((e) => e.value.id), ...dpus.map((e) => e.value.id)]);
  if (manager !== null) portNames.set(manager.id, managed);
  const ports = new Map<string, PortSpec[]>();
  for (const id of sortedIds(portNames.keys())) {
    const specs = (portNames.get(id) ?? []).map((name) => ({ name, mac: uniqueMac(macOwners, `${id}:${name}`, (n) => derivePortMac(id, name, n)) }));
    ports.set(id, specs);
  }

  const wires = resolveWires(entries.wires, { claims, dpuById, hostById, hostDpus, switchPorts, invalid, managed: manager !== null }, report);

  // Management cables: one from every host's and DPU's mgmt port to the manager.
  if (manager !== null) {
    for (const id of managed) {
      wires.push({
        id: mgmtWireId(id),
        kind: 'mgmt',
        a: { node: id, port: MGMT_PORT },
        b: { node: manager.id, port: id },
        latencyNs: manager.latency,
        bandwidthBps: manager.bandwidth,
        impairments: { loss: 0, corrupt: 0, duplicate: 0, jitterNs: 0 },
      });
    }
  }

  // PCIe wires: one per DPU that has a valid host.
  for (const { value: dpu } of dpus) {
    if (dpu.host === undefined) continue;
    const host = hostById.get(dpu.host);
    if (!host) continue;
    wires.push({
      id: pcieWireId(dpu.id),
      kind: 'pcie',
      a: { node: host.value.id, port: dpu.id },
      b: { node: dpu.id, port: DPU_PCIE_PORT },
      latencyNs: host.value.pcie.latency,
      bandwidthBps: host.value.pcie.bandwidth,
      impairments: { loss: 0, corrupt: 0, duplicate: 0, jitterNs: 0 },
    });
  }

  const nodes: ResolvedNode[] = [];
  for (const { value: host } of hosts) {
    const node: HostNode = {
      id: host.id,
      kind: 'host',
      ports: ports.get(host.id) ?? [],
      spec: {
        id: host.id,
        x86Cores: host.x86Cores,
        dpus: hostDpus.get(host.id) ?? [],
        heartbeat: { intervalNs: host.heartbeat.interval, misses: host.heartbeat.misses },
        pcieSurpriseDown: host.pcieSurpriseDown,
        failover: { ...(failovers.get(host.id) ?? { active: [], standby: [] }), failback: host.failover?.failback ?? false },
        vms: (vms.get(host.id) ?? []).sort(byId),
        manager: manager?.id ?? null,
      },
    };
    nodes.push(node);
  }
  for (const { value: dpu } of dpus) {
    const node: DpuNode = {
      id: dpu.id,
      kind: 'dpu',
      ports: ports.get(dpu.id) ?? [],
      spec: {
        id: dpu.id,
        host: dpu.host ?? '',
        model: dpu.model,
        armCores: dpu.armCores,
        uplinks: [...dpu.uplinks],
        role: roles.get(dpu.id) ?? 'active',
        vfs: dpu.vfs,
        dfwExportVersion: dpu.dfwExportVersion,
        manager: manager?.id ?? null,
      },
    };
    nodes.push(node);
  }
  if (manager !== null) {
    const node: ManagerNode = { id: manager.id, kind: 'manager', ports: ports.get(manager.id) ?? [], spec: { id: manager.id, manages: managed } };
    nodes.push(node);
  }
  for (const { value: sw } of switches) {
    const node: SwitchNode = {
      id: sw.id,
      kind: 'switch',
      ports: ports.get(sw.id) ?? [],
      spec: {
        id: sw.id,
        ports: switchPorts.get(sw.id) ?? [],
        macAgingNs: sw.macAging,
        portConfig: switchModes.get(sw.id)?.portConfig ?? {},
        mirror: switchModes.get(sw.id)?.mirror ?? [],
        stp: stpSpecOf(sw),
        stormControl: sw.stormControl === false ? null : (sw.stormControl ?? { pps: TOPOLOGY_DEFAULTS.stormControlPps, burst: TOPOLOGY_DEFAULTS.stormControlBurst }),
      },
    };
    nodes.push(node);
  }

  // Loops among switches: refused unless every switch on the loop runs a spanning tree.
  const stpOn = new Set(switches.filter((e) => stpSpecOf(e.value) !== null).map((e) => e.value.id));
  // Only wires between existing switch ports nobody else has: one reported as wrong is no link.
  const takenPorts = new Set<string>();
  const links = entries.wires.flatMap(({ index, value: w }) => {
    const ends = [`${w.a.node}:${w.a.port}`, `${w.b.node}:${w.b.port}`];
    const fresh = ends[0] !== ends[1] && ends.every((end) => !takenPorts.has(end));
    for (const end of ends) takenPorts.add(end);
    const real = [w.a, w.b].every((end) => switchPorts.get(end.node)?.includes(end.port) === true);
    if (!fresh || !real) return [];
    return [{ id: w.id ?? `${w.a.node}:${w.a.port}--${w.b.node}:${w.b.port}`, index, a: w.a.node, b: w.b.node }];
  });
  for (const loop of switchingLoops(links)) {
    const without = loop.switches.filter((id) => !stpOn.has(id));
    if (without.length === 0) continue;
    report(
      ['wires', loop.closing.index],
      `this wire closes a switching loop through ${loop.switches.join(', ')} (wires ${loop.wires.map((w) => w.id).join(', ')}), in which a broadcast would circle forever: remove one of these wires, or run a spanning tree on ${without.join(', ')} (stp: true)`,
    );
  }

  const topology: ResolvedTopology = {
    name: entries.name,
    nodes: nodes.sort(byId),
    wires: wires.sort(byId),
    segments: [...segments.values()].map((s) => s.spec).sort(byId),
  };
  return { topology, problems };
}

/** A switch's spanning tree: none unless asked for, the defaults for `stp: true`. */
function stpSpecOf(sw: SwitchEntry): StpSpec | null {
  if (sw.stp === undefined || sw.stp === false) return null;
  const given = sw.stp === true ? { priority: TOPOLOGY_DEFAULTS.stpPriority, hello: TOPOLOGY_DEFAULTS.stpHelloNs, maxAge: TOPOLOGY_DEFAULTS.stpMaxAgeNs, forwardDelay: TOPOLOGY_DEFAULTS.stpForwardDelayNs } : sw.stp;
  return { priority: given.priority, helloNs: given.hello, maxAgeNs: given.maxAge, forwardDelayNs: given.forwardDelay };
}

/** Records a problem at `path`; `at: 'key'` points at the mapping key rather than its value. */
type Report = (path: DataPath, message: string, at?: 'key' | 'value') => void;

function reportDuplicates(names: readonly string[], path: DataPath, what: string, report: Report): void {
  const seen = new Set<string>();
  names.forEach((name, j) => {
    if (seen.has(name)) report([...path, j], `duplicate ${what} "${name}"`);
    seen.add(name);
  });
}

/** Picks the derived MAC for `owner`, perturbing the hash until it is free, and records it. */
function uniqueMac(owners: Map<string, string>, owner: string, derive: (attempt: number) => string): string {
  for (let attempt = 0; ; attempt++) {
    const mac = derive(attempt);
    if (!owners.has(mac)) {
      owners.set(mac, owner);
      return mac;
    }
  }
}

/** A switch's resolved VLAN modes (every port) and mirror sessions. */
interface SwitchPortSetup {
  readonly portConfig: Record<string, SwitchPortVlans>;
  readonly mirror: MirrorSession[];
}

/** Sorts ranges and merges those that overlap or touch: `[20, 10-19, 15]` becomes `10-20`. */
export function mergeVlanRanges(ranges: readonly VlanRange[]): VlanRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first || a.last - b.last);
  const out: VlanRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.first <= last.last + 1) out[out.length - 1] = { first: last.first, last: Math.max(last.last, r.last) };
    else out.push({ first: r.first, last: r.last });
  }
  return out;
}

/**
 * The VLAN mode of every port of a switch (ports the file leaves out are trunks for every VLAN,
 * native VLAN 1) and its mirror sessions, checked against its ports: a port named in
 * `portConfig` or a session must exist; a destination port carries one session only and is never
 * a source.
 */
function resolveSwitchPorts(sw: SwitchEntry, ports: readonly string[], path: DataPath, report: Report): SwitchPortSetup {
  const known = new Set(ports);
  const noPort = (name: string): string => `no port "${name}" on switch "${sw.id}" (ports: ${formatPortList(ports)})${didYouMean(name, ports)}`;
  const given = sw.portConfig ?? {};
  for (const name of Object.keys(given)) {
    if (!known.has(name)) report([...path, 'portConfig', name], noPort(name), 'key');
  }
  const portConfig: Record<string, SwitchPortVlans> = {};
  for (const port of ports) {
    const entry = Object.hasOwn(given, port) ? given[port] : undefined;
    portConfig[port] =
      entry === undefined
        ? { mode: 'trunk', allowed: [...ALL_VLANS], native: DEFAULT_NATIVE_VLAN }
        : entry.mode === 'access'
          ? { mode: 'access', vlan: entry.vlan }
          : { mode: 'trunk', allowed: mergeVlanRanges(entry.allowed), native: entry.native };
  }

  const sessions = sw.mirror ?? [];
  const sessionPaths = new Map<string, DataPath>();
  const destinations = new Map<string, string>();
  sessions.forEach((session, j) => {
    const sessionPath = [...path, 'mirror', j];
    const prior = sessionPaths.get(session.name);
    if (prior) report([...sessionPath, 'name'], `duplicate mirror session "${session.name}" (already at ${formatPath(prior)})`);
    else sessionPaths.set(session.name, sessionPath);
    if (!known.has(session.destination)) {
      report([...sessionPath, 'destination'], noPort(session.destination));
      return;
    }
    const other = destinations.get(session.destination);
    if (other !== undefined) report([...sessionPath, 'destination'], `port "${session.destination}" is already the destination of mirror session "${other}"`);
    else destinations.set(session.destination, session.name);
  });
  sessions.forEach((session, j) => {
    const sessionPath = [...path, 'mirror', j];
    reportDuplicates(session.sources, [...sessionPath, 'sources'], 'source', report);
    session.sources.forEach((source, k) => {
      const sourcePath = [...sessionPath, 'sources', k];
      if (!known.has(source)) report(sourcePath, noPort(source));
      else if (source === session.destination) report(sourcePath, `port "${source}" is the destination of this session and cannot be one of its sources`);
      else if (destinations.has(source)) report(sourcePath, `port "${source}" is the destination of mirror session "${destinations.get(source) ?? ''}" and cannot be mirrored`);
    });
  });
  const mirror = sessions.map((s) => ({ name: s.name, sources: [...s.sources], direction: s.direction, destination: s.destination }));
  return { portConfig, mirror };
}

function subnetOf(ip: WrittenIp): Subnet {
  return { ...ip, text: formatCidr(ip) };
}

function resolveSegments(list: readonly Entry<SegmentEntry>[], report: Report): Map<string, SegmentInfo> {
  const segments = new Map<string, SegmentInfo>();
  const vnis = new Map<number, string>();
  const vlans = new Map<number, string>();
  for (const entry of list) {
    const { index, value: seg } = entry;
    const path = ['segments', index];
    const prior = segments.get(seg.id);
    if (prior) {
      report([...path, 'id'], `duplicate segment id "${seg.id}" (already at segments[${prior.entry.index}])`);
      continue;
    }
    if (seg.kind === 'overlay') {
      if (seg.vni === undefined) report([...path, 'vni'], 'required for an overlay segment');
      if (seg.vlan !== undefined) report([...path, 'vlan'], 'an overlay segment has a vni, not a vlan');
    } else {
      if (seg.vlan === undefined) report([...path, 'vlan'], 'required for a vlan segment');
      if (seg.vni !== undefined) report([...path, 'vni'], 'a vlan segment has a vlan, not a vni');
    }
    if (seg.kind === 'overlay' && seg.vni !== undefined) {
      const other = vnis.get(seg.vni);
      if (seg.vni === VMOTION_VNI) report([...path, 'vni'], `VNI ${VMOTION_VNI} is reserved for the vMotion network`);
      else if (other !== undefined) report([...path, 'vni'], `VNI ${seg.vni} is already used by segment "${other}"`);
      else vnis.set(seg.vni, seg.id);
    }
    if (seg.kind === 'vlan' && seg.vlan !== undefined) {
      const other = vlans.get(seg.vlan);
      if (other !== undefined) report([...path, 'vlan'], `VLAN ${seg.vlan} is already used by segment "${other}"`);
      else vlans.set(seg.vlan, seg.id);
    }

    const v4 = subnetOf(seg.ipv4Subnet);
    if (v4.network !== v4.address) report([...path, 'ipv4Subnet'], `${seg.ipv4Subnet.text} has host bits set (did you mean ${v4.text}?)`);
    const v6 = seg.ipv6Subnet ? subnetOf(seg.ipv6Subnet) : null;
    if (v6 && seg.ipv6Subnet && v6.network !== v6.address) {
      report([...path, 'ipv6Subnet'], `${seg.ipv6Subnet.text} has host bits set (did you mean ${v6.text}?)`);
    }
    const gateways = new Set<string>();
    const checkGateway = (key: 'gateway4' | 'gateway6', ip: WrittenIp | undefined, subnet: Subnet | null): string | null => {
      if (!ip) return null;
      if (!subnet) {
        report([...path, key], 'no ipv6Subnet on this segment');
        return null;
      }
      const problem = hostAddressProblem(ip.address, subnet);
      if (problem) report([...path, key], `${ip.text} ${problem}`);
      gateways.add(ip.address);
      return ip.address;
    };
    const gateway4 = checkGateway('gateway4', seg.gateway4, v4);
    const gateway6 = checkGateway('gateway6', seg.gateway6, v6);
    segments.set(seg.id, {
      entry,
      v4,
      v6,
      gateways,
      spec: {
        id: seg.id,
        kind: seg.kind,
        vni: seg.kind === 'overlay' ? (seg.vni ?? null) : null,
        vlan: seg.kind === 'vlan' ? (seg.vlan ?? null) : null,
        ipv4Subnet: v4.text,
        ipv6Subnet: v6?.text ?? null,
        gateway4,
        gateway6,
      },
    });
  }
  return segments;
}

/** Why `address` (canonical text) cannot be a host's address in `subnet`, or null if it can. */
function hostAddressProblem(address: IpAddress, subnet: Subnet): string | null {
  if (!cidrContains(subnet, address)) return `is not in ${subnet.text}`;
  const hostBits = (subnet.family === 4 ? 32 : 128) - subnet.prefixLength;
  if (hostBits >= 2 && address === subnet.network) return `is the network address of ${subnet.text}`;
  if (subnet.family === 4 && hostBits >= 2 && address === ipv4BroadcastAddress(subnet)) {
    return `is the broadcast address of ${subnet.text}`;
  }
  return null;
}

/** The last address of an IPv4 prefix (all host bits set): its broadcast address. */
function ipv4BroadcastAddress(subnet: Cidr): Ipv4Address {
  const hostMask = 2 ** (32 - subnet.prefixLength) - 1;
  return uint32ToIpv4((ipv4ToUint32(subnet.network) | hostMask) >>> 0);
}

/**
 * Completes and checks a host's failover policy. Omitted lists are filled from the host's DPUs
 * (sorted by id): neither given → the first DPU active, the rest standby; one given → the other
 * holds the remaining DPUs. `standby: []` therefore makes every DPU active, with no failover.
 */
function resolveFailover(
  host: HostEntry,
  own: readonly string[],
  path: DataPath,
  invalid: ReadonlySet<string>,
  report: Report,
): { active: string[]; standby: string[] } {
  const given = host.failover;
  const listed = new Map<string, 'active' | 'standby'>();
  for (const list of ['active', 'standby'] as const) {
    (given?.[list] ?? []).forEach((id, j) => {
      const where = [...path, list, j];
      const already = listed.get(id);
      if (already !== undefined) {
        report(where, already === list ? `"${id}" is listed twice` : `"${id}" is already ${already}`);
      } else if (!own.includes(id)) {
        if (!invalid.has(id)) {
          report(where, own.length > 0 ? `no DPU "${id}" on host "${host.id}" (DPUs: ${own.join(', ')})` : `no DPU "${id}" on host "${host.id}": it has no DPUs`);
        }
      } else {
        listed.set(id, list);
      }
    });
  }
  const pick = (role: 'active' | 'standby'): string[] => own.filter((id) => listed.get(id) === role);
  let active: string[];
  let standby: string[];
  if (given?.active === undefined && given?.standby === undefined) {
    active = own.slice(0, 1);
    standby = own.slice(1);
  } else if (given.active === undefined) {
    standby = pick('standby');
    active = own.filter((id) => !standby.includes(id));
  } else if (given.standby === undefined) {
    active = pick('active');
    standby = own.filter((id) => !active.includes(id));
  } else {
    active = pick('active');
    standby = pick('standby');
    for (const id of own) {
      if (!listed.has(id)) report(path, `DPU "${id}" of this host is neither active nor standby`);
    }
  }
  if (own.length > 0 && active.length === 0) report(path, 'no active DPU: at least one DPU must be active');
  if (standby.length > 0 && active.length > 1) {
    report([...path, 'active'], `with a standby DPU exactly one DPU is active, got ${active.length} (use standby: [] for independent DPUs)`);
  }
  return { active, standby };
}

function resolveVms(
  hosts: readonly Entry<HostEntry>[],
  claims: ReadonlyMap<string, NodeClaim>,
  segments: ReadonlyMap<string, SegmentInfo>,
  invalid: ReadonlySet<string>,
  macOwners: Map<string, string>,
  report: Report,
): Map<string, VmSpec[]> {
  const vmPaths = new Map<string, DataPath>();
  const vnicPaths = new Map<string, DataPath>();
  const addressOwners = new Map<string, string>();
  const derived: { vm: string; index: number; vnicId: string; slot: { mac: string } }[] = [];
  const result = new Map<string, VmSpec[]>();

  for (const { index: hostIndex, value: host } of hosts) {
    const specs: VmSpec[] = [];
    host.vms.forEach((vm, vmIndex) => {
      const path = ['hosts', hostIndex, 'vms', vmIndex];
      const node = claims.get(vm.id);
      const prior = vmPaths.get(vm.id);
      if (prior || node) {
        report([...path, 'id'], `duplicate id "${vm.id}" (already ${prior ? `a VM at ${formatPath(prior)}` : `${KIND_NAMES[node?.kind ?? 'host']} at ${formatPath(node?.path ?? [])}`})`);
        return;
      }
      vmPaths.set(vm.id, path);
      const reservation = vm.memoryReservationMiB ?? vm.memoryMiB;
      if (reservation > vm.memoryMiB) report([...path, 'memoryReservationMiB'], `must not exceed memoryMiB (${vm.memoryMiB})`);

      const vnics = vm.vnics.map((vnic, j): VnicSpec => {
        const vnicPath = [...path, 'vnics', j];
        const id = vnic.id ?? `${vm.id}.eth${j}`;
        const priorVnic = vnicPaths.get(id);
        if (priorVnic) report([...vnicPath, vnic.id === undefined ? 'segment' : 'id'], `duplicate VNIC id "${id}" (already at ${formatPath(priorVnic)})`);
        else vnicPaths.set(id, vnicPath);
        const segment = segments.get(vnic.segment);
        if (!segment && !invalid.has(vnic.segment)) {
          report([...vnicPath, 'segment'], `no segment "${vnic.segment}"${knownList('segments', segments.keys())}${didYouMean(vnic.segment, segments.keys())}`);
        }
        const ipv4 = vnicAddress(vnic, 'ipv4', segment, id, vnicPath, addressOwners, report);
        const ipv6 = vnicAddress(vnic, 'ipv6', segment, id, vnicPath, addressOwners, report);
        const spec = { id, mac: '', segment: vnic.segment, ipv4: ipv4 ?? vnic.ipv4.text, ipv6, mode: vnic.mode };
        if (vnic.mac !== undefined) {
          spec.mac = vnic.mac;
          const owner = macOwners.get(vnic.mac);
          if (vnic.mac === '00:00:00:00:00:00') report([...vnicPath, 'mac'], 'the all-zero MAC is not a station address');
          else if (isMulticastMac(vnic.mac)) report([...vnicPath, 'mac'], `${vnic.mac} is a multicast address (low bit of the first octet set)`);
          else if (owner !== undefined) report([...vnicPath, 'mac'], `${vnic.mac} is already used by ${owner}`);
          else macOwners.set(vnic.mac, id);
        } else {
          derived.push({ vm: vm.id, index: j, vnicId: id, slot: spec });
        }
        return spec;
      });

      specs.push({
        id: vm.id,
        host: host.id,
        vcpus: vm.vcpus,
        memoryMiB: vm.memoryMiB,
        memoryReservationMiB: reservation,
        hardwareVersion: vm.hardwareVersion,
        driverVersion: vm.driverVersion,
        dirtyPagesPerSec: vm.dirtyPagesPerSec,
        workingSetMiB: Math.min(vm.workingSetMiB ?? vm.memoryMiB, vm.memoryMiB),
        coldDirtyPagesPerSec: vm.coldDirtyPagesPerSec,
        vnics,
      });
    });
    result.set(host.id, specs);
  }

  derived.sort((a, b) => (a.vm < b.vm ? -1 : a.vm > b.vm ? 1 : a.index - b.index));
  for (const d of derived) d.slot.mac = uniqueMac(macOwners, d.vnicId, (n) => deriveVnicMac(d.vm, d.index, n));
  return result;
}

/** Checks one VNIC address against its segment; returns it as canonical CIDR (segment prefix) or null. */
function vnicAddress(
  vnic: VnicEntry,
  key: 'ipv4' | 'ipv6',
  segment: SegmentInfo | undefined,
  vnicId: string,
  vnicPath: DataPath,
  owners: Map<string, string>,
  report: Report,
): string | null {
  const ip = vnic[key];
  if (!ip) return null;
  if (!segment) return ip.text;
  const path = [...vnicPath, key];
  const subnet = key === 'ipv4' ? segment.v4 : segment.v6;
  if (!subnet) {
    report(path, `segment "${segment.spec.id}" has no ipv6Subnet`);
    return ip.text;
  }
  const address = ip.address;
  if (ip.prefix !== null && ip.prefix !== subnet.prefixLength) {
    report(path, `prefix /${ip.prefix} does not match segment "${segment.spec.id}" (${subnet.text})`);
  }
  const problem = hostAddressProblem(address, subnet);
  if (problem) {
    report(path, `${address} ${problem} (segment "${segment.spec.id}")`);
  } else if (segment.gateways.has(address)) {
    report(path, `${address} is the gateway of segment "${segment.spec.id}"`);
  } else {
    const ownerKey = `${segment.spec.id}/${address}`;
    const owner = owners.get(ownerKey);
    if (owner !== undefined) report(path, `${address} is already used by ${owner}`);
    else owners.set(ownerKey, vnicId);
  }
  return `${address}/${subnet.prefixLength}`;
}

interface WireContext {
  readonly claims: ReadonlyMap<string, NodeClaim>;
  readonly dpuById: ReadonlyMap<string, Entry<DpuEntry>>;
  readonly hostById: ReadonlyMap<string, Entry<HostEntry>>;
  readonly hostDpus: ReadonlyMap<string, readonly string[]>;
  readonly switchPorts: ReadonlyMap<string, readonly string[]>;
  readonly invalid: ReadonlySet<string>;
  /** Whether hosts and DPUs have a management port (the topology has a manager). */
  readonly managed: boolean;
}

/** Why `node:port` cannot take an Ethernet wire, or null if it can (or its node is already reported). */
function endpointProblem(node: string, port: string, ctx: WireContext): string | null {
  const claim = ctx.claims.get(node);
  if (!claim) {
    if (ctx.invalid.has(node)) return null;
    return `no node "${node}"${didYouMean(node, ctx.claims.keys())}`;
  }
  if (claim.kind === 'manager') return `the manager "${node}" has no ports to wire: every host and DPU is cabled to it implicitly (${mgmtWireId('<node>')})`;
  if (port === MGMT_PORT && ctx.managed && (claim.kind === 'dpu' || claim.kind === 'host')) {
    return `"${MGMT_PORT}" is the management port of ${claim.kind === 'dpu' ? 'DPU' : 'host'} "${node}", cabled to the manager implicitly (${mgmtWireId(node)})`;
  }
  if (claim.kind === 'dpu') {
    const dpu = ctx.dpuById.get(node)?.value;
    if (!dpu) return null;
    if (port === DPU_PCIE_PORT) return `"${DPU_PCIE_PORT}" is the PCIe port of DPU "${node}", wired to its host implicitly (${pcieWireId(node)})`;
    if (!dpu.uplinks.includes(port)) return `no port "${port}" on DPU "${node}" (ports: ${formatPortList(dpu.uplinks)})`;
    return null;
  }
  if (claim.kind === 'switch') {
    const ports = ctx.switchPorts.get(node) ?? [];
    return ports.includes(port) ? null : `no port "${port}" on switch "${node}" (ports: ${formatPortList(ports)})`;
  }
  const own = ctx.hostDpus.get(node) ?? [];
  if (own.length > 0) return `host "${node}" has no Ethernet ports: its NICs are DPUs (${own.join(', ')}); wire a DPU uplink instead`;
  const uplinks = ctx.hostById.get(node)?.value.uplinks ?? [];
  if (uplinks.includes(port)) return null;
  return uplinks.length > 0
    ? `no port "${port}" on host "${node}" (ports: ${formatPortList(uplinks)})`
    : `no port "${port}" on host "${node}" (it has neither DPUs nor uplinks)`;
}

function resolveWires(list: readonly Entry<WireEntry>[], ctx: WireContext, report: Report): ResolvedWire[] {
  const wires: ResolvedWire[] = [];
  const wirePaths = new Map<string, DataPath>();
  const portUsers = new Map<string, { wire: string; path: DataPath }>();
  for (const { index, value: wire } of list) {
    const path = ['wires', index];
    const id = wire.id ?? `${wire.a.node}:${wire.a.port}--${wire.b.node}:${wire.b.port}`;
    const idPath = wire.id === undefined ? path : [...path, 'id'];
    const prior = wirePaths.get(id);
    if (prior) {
      report(idPath, `duplicate wire id "${id}" (already at ${formatPath(prior)})`);
    } else if (id.startsWith('pcie-') && ctx.dpuById.has(id.slice('pcie-'.length))) {
      report(idPath, `"${id}" is the id of the implicit PCIe wire of DPU "${id.slice('pcie-'.length)}"`);
    } else if (ctx.managed && id.startsWith('mgmt-') && (ctx.dpuById.has(id.slice('mgmt-'.length)) || ctx.hostById.has(id.slice('mgmt-'.length)))) {
      report(idPath, `"${id}" is the id of the implicit management cable of "${id.slice('mgmt-'.length)}"`);
    } else {
      wirePaths.set(id, path);
    }
    for (const end of ['a', 'b'] as const) {
      const { node, port } = wire[end];
      const problem = endpointProblem(node, port, ctx);
      if (problem) {
        report([...path, end], problem);
        continue;
      }
      const key = `${node}:${port}`;
      const user = portUsers.get(key);
      if (end === 'b' && wire.a.node === node && wire.a.port === port) report([...path, end], `a wire cannot join port ${key} to itself`);
      else if (user) report([...path, end], `port ${key} is already used by wire "${user.wire}" (${formatPath(user.path)})`);
      else portUsers.set(key, { wire: id, path: [...path, end] });
    }
    wires.push({
      id,
      kind: 'ethernet',
      a: { node: wire.a.node, port: wire.a.port },
      b: { node: wire.b.node, port: wire.b.port },
      latencyNs: wire.latency,
      bandwidthBps: wire.bandwidth,
      impairments: {
        loss: wire.impairments.loss,
        corrupt: wire.impairments.corrupt,
        duplicate: wire.impairments.duplicate,
        jitterNs: wire.impairments.jitter,
      },
    });
  }
  return wires;
}
