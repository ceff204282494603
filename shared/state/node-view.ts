/**
 * The cluster state read against the topology: a node, a wire, a vNIC as the log tells them. What
 * the inspectors show, what the topology colours its elements by and what the report lists, so
 * that they all say the same. Before an event has said anything, the topology's own values stand
 * (a DPU's policy role, a VM's host).
 */
import type { HostSpec, ResolvedTopology, ResolvedWire, VmSpec } from '../topology/types.js';
import type { ClusterState, CostView, DfwView, DpuFailureView, DpuView, FlowView, MacView, NeighborView, NodeLife, ServingDevice, VfView, VnicView } from './cluster-state.js';
import { dpuRoleOf, vmHostOf, wireFramesPerSecond } from './queries.js';

/** A port of a node: its wire, whether it is up, who is at the other end by LLDP. */
export interface PortStateView {
  port: string;
  wire: string | null;
  up: boolean;
  neighbor: NeighborView | null;
}

/** A firewall rule on a node: its definition when the log has it, and its hits. */
export interface RuleStateView {
  id: string;
  definition: unknown;
  hits: number;
}

/** A DPU's role and health, in one shape for every view (inspectors, topology, report). */
export interface DpuRoleView {
  dpu: string;
  host: string;
  /** How it looks: active, standby, unavailable, failed, stopped, not-started. */
  condition: NodeCondition;
  /** The role its host gives it (the policy's until the host says). */
  role: string | null;
  /** The role it runs by its own account, null when it has not said (or is dead). */
  ownRole: string | null;
  /** Its host's view of its health: MANAGED, UNAVAILABLE, or '' before the host said. */
  state: string;
  reason: string | null;
  roleReason: string | null;
  roleSince: number;
  misses: number;
  failure: DpuFailureView | null;
}

/** A vNIC and the device serving it, in one shape for every view. */
export interface VnicStateView {
  vnic: string;
  vm: string;
  /** The host that runs it now. */
  host: string;
  requested: string;
  /** The mode it runs ('' before its host said). */
  active: string;
  reason: string | null;
  /** The device serving it (before its host said: the backend, through the host's active DPU). */
  serving: ServingDevice;
  disconnected: string | null;
}

/** A node as the log tells it, at some point of a run. */
export interface NodeStateView {
  id: string;
  kind: 'host' | 'dpu' | 'switch' | 'manager';
  life: NodeLife | null;
  ports: PortStateView[];
  /** Switch MAC table, sorted by VLAN and MAC. */
  macs: MacView[];
  cost: CostView | null;
  /** For a DPU: its role and health, its firewall, its VFs (each with the vNIC it serves). */
  dpu?: { host: string; role: DpuRoleView; view: DpuView | null; firewall: DfwView | null; rules: RuleStateView[]; vfs: VfView[] };
  /** For a host: its DPUs' roles, the vNICs of the VMs it runs now and what serves them, the flows its VMs run. */
  host?: { activeDpu: string | null; dpus: DpuRoleView[]; vnics: VnicStateView[]; flows: FlowView[] };
}

/** How a node looks: a DPU's role and health, or any node's life. */
export type NodeCondition = 'up' | 'active' | 'standby' | 'unavailable' | 'failed' | 'stopped' | 'not-started';

type HostNode = Extract<ResolvedTopology['nodes'][number], { kind: 'host' }>;

function hostSpec(topology: ResolvedTopology, id: string): HostSpec | null {
  const node = topology.nodes.find((n) => n.id === id);
  return node?.kind === 'host' ? node.spec : null;
}

/** Whether a node's last life ended by a kill or a crash (failed) or a clean stop at the end (stopped); a DPU's role. */
export function nodeCondition(state: ClusterState, topology: ResolvedTopology, id: string): NodeCondition {
  const life = state.nodes[id];
  if (!life) return 'not-started';
  if (!life.up) {
    const exit = life.exit;
    return exit && exit.planned && exit.code === 0 && exit.signal === null ? 'stopped' : 'failed';
  }
  const node = topology.nodes.find((n) => n.id === id);
  if (node?.kind !== 'dpu') return 'up';
  if (state.dpus[id]?.state === 'UNAVAILABLE') return 'unavailable';
  return dpuRoleOf(state, id, node.spec.role) === 'active' ? 'active' : 'standby';
}

/** A DPU's role and health; null for an id that is not a DPU of the topology. */
export function dpuRoleView(state: ClusterState, topology: ResolvedTopology, dpu: string): DpuRoleView | null {
  const node = topology.nodes.find((n) => n.id === dpu);
  if (node?.kind !== 'dpu') return null;
  const view = state.dpus[dpu];
  const condition = nodeCondition(state, topology, dpu);
  return {
    dpu,
    host: node.spec.host,
    condition,
    role: dpuRoleOf(state, dpu, node.spec.role),
    // A DPU that was killed or crashed says nothing: what it said before is no longer its account.
    ownRole: condition === 'failed' ? null : (view?.ownRole ?? null),
    state: view?.state ?? '',
    reason: view?.reason ?? null,
    roleReason: view?.roleReason ?? null,
    roleSince: view?.roleSince ?? 0,
    misses: view?.misses ?? 0,
    failure: view?.failure ?? null,
  };
}

/**
 * The DPU a host moves its vNICs to: the one it last made active (whether or not it is healthy:
 * a dead active DPU is exactly what the topology should show), else the policy's first active.
 */
export function hostActiveDpu(state: ClusterState, topology: ResolvedTopology, host: string): string | null {
  const spec = hostSpec(topology, host);
  if (spec === null) return null;
  return state.hosts[host]?.activeDpu ?? spec.failover.active[0] ?? spec.dpus[0] ?? null;
}

/** The VM of a vNIC and the host the topology puts it on. */
function vnicHome(topology: ResolvedTopology, vnic: string): { vm: VmSpec; home: string } | null {
  for (const node of topology.nodes) {
    if (node.kind !== 'host') continue;
    const vm = node.spec.vms.find((v) => v.vnics.some((n) => n.id === vnic));
    if (vm) return { vm, home: node.id };
  }
  return null;
}

/** A vNIC, the host running it and the device serving it; null for an id the topology does not have. */
export function vnicStateView(state: ClusterState, topology: ResolvedTopology, vnic: string): VnicStateView | null {
  const found = vnicHome(topology, vnic);
  if (found === null) return null;
  const view: VnicView | undefined = state.vnics[vnic];
  if (view) return { vnic, vm: view.vm, host: view.host, requested: view.requested, active: view.active, reason: view.reason, serving: { ...view.serving }, disconnected: view.disconnected };
  const host = vmHostOf(state, found.vm.id, found.home);
  const spec = found.vm.vnics.find((n) => n.id === vnic)!;
  return { vnic, vm: found.vm.id, host, requested: spec.mode, active: '', reason: null, serving: { device: 'backend', dpu: hostActiveDpu(state, topology, host), vf: null, since: 0 }, disconnected: null };
}

/** The serving device in words: `dpu-02b VF 1`, `esx-02 emulated backend via dpu-02b`. */
export function servingText(view: VnicStateView): string {
  const s = view.serving;
  if (s.device === 'vf') return `${s.dpu ?? '?'} VF ${s.vf ?? '?'}`;
  return `${view.host} emulated backend${s.dpu === null ? '' : ` via ${s.dpu}`}`;
}

/** A wire is down when either end saw it go down or either end's node is not running. */
export function wireUp(state: ClusterState, wire: ResolvedWire): boolean {
  for (const end of [wire.a, wire.b]) {
    if (state.ports[`${end.node}:${end.port}`]?.up === false) return false;
    const life = state.nodes[end.node];
    if (life && !life.up) return false;
  }
  return true;
}

/** Frames per second of virtual time on a wire, at the state's time (or `vtime`). */
export function wireLoad(state: ClusterState, wire: string, vtime = state.vtime): number {
  return wireFramesPerSecond(state.wires[wire], vtime);
}

/** Every VM each host runs at this point, in drawing order: its own (topology order), then visitors by id. */
export function vmsByHost(state: ClusterState, topology: ResolvedTopology): Map<string, VmSpec[]> {
  const hosts = topology.nodes.filter((n): n is HostNode => n.kind === 'host');
  const out = new Map<string, VmSpec[]>(hosts.map((host) => [host.id, []]));
  const visitors: Array<[string, VmSpec]> = [];
  for (const host of hosts) {
    for (const vm of host.spec.vms) {
      const where = vmHostOf(state, vm.id, host.id);
      if (where === host.id) out.get(host.id)!.push(vm);
      else if (out.has(where)) visitors.push([where, vm]);
      else out.get(host.id)!.push(vm); // a host the topology does not have: keep it home
    }
  }
  visitors.sort(([, a], [, b]) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const [host, vm] of visitors) out.get(host)!.push(vm);
  return out;
}

/** The node's view from the log; null for an id the topology does not have. */
export function nodeStateView(state: ClusterState, topology: ResolvedTopology, id: string): NodeStateView | null {
  const node = topology.nodes.find((n) => n.id === id);
  if (!node) return null;
  const ports: PortStateView[] = node.ports.map((p) => {
    const wire = topology.wires.find((w) => (w.a.node === id && w.a.port === p.name) || (w.b.node === id && w.b.port === p.name));
    return { port: p.name, wire: wire?.id ?? null, up: state.ports[`${id}:${p.name}`]?.up ?? true, neighbor: state.lldp[id]?.[p.name] ?? null };
  });
  const macs = Object.values(state.macs[id] ?? {}).sort((a, b) => a.vlan - b.vlan || (a.mac < b.mac ? -1 : a.mac > b.mac ? 1 : 0));
  const view: NodeStateView = { id, kind: node.kind, life: state.nodes[id] ?? null, ports, macs, cost: state.costs[id] ?? null };
  if (node.kind === 'dpu') {
    const firewall = state.dfw[id] ?? null;
    const ids = [...(firewall?.rules ?? [])];
    for (const rule of Object.keys(firewall?.hits ?? {})) if (!ids.includes(rule)) ids.push(rule);
    view.dpu = {
      host: node.spec.host,
      role: dpuRoleView(state, topology, id)!,
      view: state.dpus[id] ?? null,
      firewall,
      rules: ids.map((rule) => ({ id: rule, definition: state.rules[rule] ?? null, hits: firewall?.hits[rule] ?? 0 })),
      vfs: Object.values(state.vfs[id] ?? {}).sort((a, b) => a.vf - b.vf),
    };
  } else if (node.kind === 'host') {
    // The VMs it runs at this point: its own unless a vMotion took them, and any that came to it.
    const running = vmsByHost(state, topology).get(id) ?? [];
    const vms = new Set(running.map((vm) => vm.id));
    view.host = {
      activeDpu: hostActiveDpu(state, topology, id),
      dpus: node.spec.dpus.map((dpu) => dpuRoleView(state, topology, dpu)).filter((d): d is DpuRoleView => d !== null),
      vnics: running.flatMap((vm) => vm.vnics.map((n) => vnicStateView(state, topology, n.id)!)),
      flows: Object.values(state.flows).filter((f) => f.node === id || vms.has(f.vm)).sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }
  return view;
}
