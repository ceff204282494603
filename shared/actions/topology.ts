/**
 * An action against the topology it runs on: whether what it names exists and can do what it asks
 * (a VM that has an address of the destination's family, a reservation within the VM's memory),
 * and the addresses its names stand for. The scenario loader locates each problem in its file,
 * the UI server and the API name the field, and the controller plans only what passed.
 */
import { ipFamily, normalizeIp } from '../net/ip.js';
import type { HostNode, ResolvedTopology, VmSpec, VnicSpec } from '../topology/types.js';
import { didYouMean } from '../topology/yaml-source.js';
import type { DataPath, PathProblem } from '../topology/yaml-source.js';
import { isAddressTerm } from './dfw-rule.js';
import type { Action } from './schema.js';

/** What kind of topology object a name must be. */
type ReferenceKind = 'wire' | 'node' | 'host' | 'vm' | 'vnic' | 'endpoint';

/** The ids of a topology that actions may name, by kind. */
export interface KnownIds {
  readonly wire: ReadonlySet<string>;
  readonly node: ReadonlySet<string>;
  readonly host: ReadonlySet<string>;
  readonly vm: ReadonlySet<string>;
  readonly vnic: ReadonlySet<string>;
  /** VMs and vNICs. */
  readonly endpoint: ReadonlySet<string>;
}

/** The ids of a topology that actions may name, by kind. */
export function knownIds(topology: ResolvedTopology): KnownIds {
  const vms = new Set<string>();
  const vnics = new Set<string>();
  for (const host of hostsOf(topology)) {
    for (const vm of host.spec.vms) {
      vms.add(vm.id);
      for (const vnic of vm.vnics) vnics.add(vnic.id);
    }
  }
  return {
    wire: new Set(topology.wires.map((w) => w.id)),
    node: new Set(topology.nodes.map((n) => n.id)),
    host: new Set(hostsOf(topology).map((n) => n.id)),
    vm: vms,
    vnic: vnics,
    endpoint: new Set([...vms, ...vnics]),
  };
}

const NOUNS: Readonly<Record<ReferenceKind, string>> = { wire: 'wire', node: 'node', host: 'host', vm: 'VM', vnic: 'vnic', endpoint: 'VM or vNIC' };

/**
 * Everything wrong with `action` on `topology`, each with the path of the field at fault (from
 * the action record). Empty when the controller can plan it.
 */
export function actionProblems(action: Action, topology: ResolvedTopology, known: KnownIds = knownIds(topology)): PathProblem[] {
  const problems: PathProblem[] = [];
  const fail = (path: DataPath, message: string): void => void problems.push({ path, message });
  /** Checks that `id` is a `kind`; true when it is. */
  const exists = (path: DataPath, kind: ReferenceKind, id: string): boolean => {
    if (known[kind].has(id)) return true;
    fail(path, `no ${NOUNS[kind]} "${id}" in topology "${topology.name}"${didYouMean(id, known[kind])}`);
    return false;
  };
  switch (action.action) {
    case 'link':
    case 'impair':
      exists(['wire'], 'wire', action.wire);
      break;
    case 'kill':
    case 'restart':
      exists(['node'], 'node', action.node);
      break;
    case 'dpu.failover':
      exists(['host'], 'host', action.host);
      break;
    case 'note':
    case 'flow.stop':
    case 'dfw.rule.remove':
      break;
    case 'flow.start': {
      const { flow } = action;
      if (!exists(['flow', 'from'], 'vm', flow.from)) break;
      const to = destinationAddress(topology, flow.to);
      if (!to.ok) fail(['flow', 'to'], to.message);
      else if (!vmHasFamily(vmSpec(topology, flow.from)!, to.family)) fail(['flow', 'to'], `VM ${flow.from} has no IPv${to.family} address to send to ${to.address} from`);
      break;
    }
    case 'dfw.rule.add':
      for (const field of ['appliedTo', 'sources', 'destinations'] as const) {
        action.rule[field].forEach((term, i) => {
          if (term !== 'any' && !isAddressTerm(term)) exists(['rule', field, i], 'endpoint', term);
        });
      }
      break;
    case 'vnic.mode':
      exists(['vnic'], 'vnic', action.vnic);
      break;
    case 'traceflow': {
      const { trace } = action;
      if (!exists(['trace', 'from'], 'endpoint', trace.from)) break;
      const source = traceSource(topology, trace.from);
      if (source === null) {
        fail(['trace', 'from'], `VM ${trace.from} has no vNIC to send from`);
        break;
      }
      const to = destinationAddress(topology, trace.to);
      if (!to.ok) fail(['trace', 'to'], to.message);
      else if ((to.family === 6 ? source.ipv6 : source.ipv4) === null) fail(['trace', 'to'], `vNIC ${source.id} has no IPv${to.family} address to send to ${to.address} from`);
      break;
    }
    case 'vmotion':
      exists(['vm'], 'vm', action.vm);
      exists(['to'], 'host', action.to);
      break;
    case 'vm.reserve': {
      if (!exists(['vm'], 'vm', action.vm)) break;
      const vm = vmSpec(topology, action.vm)!;
      if (action.memoryReservationMiB > vm.memoryMiB) fail(['memoryReservationMiB'], `must not exceed the memory of VM ${vm.id} (${vm.memoryMiB} MiB), got ${action.memoryReservationMiB}`);
      break;
    }
  }
  return problems;
}

/** A destination as an address, or why it is none. */
export type DestinationAddress = { readonly ok: true; readonly address: string; readonly family: 4 | 6 } | { readonly ok: false; readonly message: string };

/**
 * What a flow or trace destination stands for: a VM id is its first vNIC's IPv4 address, a vNIC
 * id its IPv4 address, and an IPv4 or IPv6 address itself (canonical text).
 */
export function destinationAddress(topology: ResolvedTopology, to: string): DestinationAddress {
  for (const host of hostsOf(topology)) {
    for (const vm of host.spec.vms) {
      const vnic = vm.id === to ? vm.vnics[0] : vm.vnics.find((v) => v.id === to);
      if (vnic) return { ok: true, address: vnic.ipv4.split('/')[0]!, family: 4 };
      if (vm.id === to) return { ok: false, message: `VM ${to} has no vNIC to send to` };
    }
  }
  try {
    return { ok: true, address: normalizeIp(to), family: ipFamily(to) };
  } catch {
    return { ok: false, message: `"${to}" is no VM, vNIC or IP address of topology "${topology.name}"` };
  }
}

/** The vNIC a trace leaves from: a vNIC by id, or a VM's first vNIC; null for a VM without vNICs or an unknown id. */
export function traceSource(topology: ResolvedTopology, from: string): VnicSpec | null {
  for (const host of hostsOf(topology)) {
    for (const vm of host.spec.vms) {
      const vnic = vm.id === from ? vm.vnics[0] : vm.vnics.find((v) => v.id === from);
      if (vnic) return vnic;
    }
  }
  return null;
}

function hostsOf(topology: ResolvedTopology): HostNode[] {
  return topology.nodes.filter((n): n is HostNode => n.kind === 'host');
}

function vmSpec(topology: ResolvedTopology, id: string): VmSpec | undefined {
  for (const host of hostsOf(topology)) for (const vm of host.spec.vms) if (vm.id === id) return vm;
  return undefined;
}

/** Whether one of the VM's vNICs has an address of `family`, so its guest can send to one. */
function vmHasFamily(vm: VmSpec, family: 4 | 6): boolean {
  return vm.vnics.some((v) => (family === 4 ? v.ipv4 : v.ipv6) !== null);
}
