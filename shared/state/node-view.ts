/**
 * One node, one wire, one vNIC as the lab state tells them: what the inspector shows for a
 * recorded run (where no process can be asked) and what the topology colours its elements by.
 */
import type { ResolvedTopology, ResolvedWire } from '../topology/types.js';
import { vmHostOf, wireFramesPerSecond, type CostView, type DfwView, type DpuView, type FlowView, type LabState, type MacView, type NeighborView, type NodeLife, type VfView, type VnicView } from './lab-state.js';

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

/** A node as the log tells it, at some point of a run. */
export interface NodeStateView {
  id: string;
  kind: 'host' | 'dpu' | 'switch' | 'manager';
  life: NodeLife | null;
  ports: PortStateView[];
  /** Switch MAC table, sorted by VLAN and MAC. */
  macs: MacView[];
  cost: CostView | null;
  /** For a DPU: its host's view of it, its firewall, its VFs. */
  dpu?: { host: string; view: DpuView | null; firewall: DfwView | null; rules: RuleStateView[]; vfs: VfView[] };
  /** For a host: its view of its DPUs, its vNICs' modes, the flows its VMs run. */
  host?: { dpus: Array<{ dpu: string; view: DpuView | null }>; vnics: Array<{ vnic: string; vm: string; view: VnicView | null }>; flows: FlowView[] };
}

/** How a node looks: a DPU's role and health, or any node's life. */
export type NodeCondition = 'up' | 'active' | 'standby' | 'unavailable' | 'failed' | 'stopped' | 'not-started';

/** Whether a node's last life ended by a kill or a crash (failed) or a clean stop at the end (stopped). */
export function nodeCondition(state: LabState, topology: ResolvedTopology, id: string): NodeCondition {
  const life = state.nodes[id];
  if (!life) return 'not-started';
  if (!life.up) {
    const exit = life.exit;
    return exit && exit.planned && exit.code === 0 && exit.signal === null ? 'stopped' : 'failed';
  }
  const node = topology.nodes.find((n) => n.id === id);
  if (node?.kind !== 'dpu') return 'up';
  const view = state.dpus[id];
  if (view?.state === 'UNAVAILABLE') return 'unavailable';
  return (view?.role ?? node.spec.role) === 'active' ? 'active' : 'standby';
}

/** A wire is down when either end saw it go down or either end's node is not running. */
export function wireUp(state: LabState, wire: ResolvedWire): boolean {
  for (const end of [wire.a, wire.b]) {
    if (state.ports[`${end.node}:${end.port}`]?.up === false) return false;
    const life = state.nodes[end.node];
    if (life && !life.up) return false;
  }
  return true;
}

/** Frames per second of virtual time on a wire, at the state's time (or `vtime`). */
export function wireLoad(state: LabState, wire: string, vtime = state.vtime): number {
  return wireFramesPerSecond(state.wires[wire], vtime);
}

/**
 * The DPU a host's vNICs go through: the one whose role is active, as the host last reported it
 * (whether or not it is healthy: a dead active DPU is exactly what the topology should show).
 */
export function activeDpuOf(state: LabState, topology: ResolvedTopology, host: string): string | null {
  const node = topology.nodes.find((n) => n.id === host);
  if (node?.kind !== 'host') return null;
  const roleOf = (dpu: string): string | undefined => {
    const spec = topology.nodes.find((n) => n.id === dpu);
    return state.dpus[dpu]?.role ?? (spec?.kind === 'dpu' ? spec.spec.role : undefined);
  };
  return node.spec.dpus.find((d) => roleOf(d) === 'active') ?? node.spec.dpus[0] ?? null;
}

/** The node's view from the log; null for an id the topology does not have. */
export function nodeStateView(state: LabState, topology: ResolvedTopology, id: string): NodeStateView | null {
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
      view: state.dpus[id] ?? null,
      firewall,
      rules: ids.map((rule) => ({ id: rule, definition: state.rules[rule] ?? null, hits: firewall?.hits[rule] ?? 0 })),
      vfs: Object.values(state.vfs[id] ?? {}).sort((a, b) => a.vf - b.vf),
    };
  } else if (node.kind === 'host') {
    // The VMs it runs at this point: its own unless a vMotion took them, and any that came to it.
    const running = topology.nodes.flatMap((h) => (h.kind === 'host' ? h.spec.vms.filter((vm) => vmHostOf(state, vm.id, h.id) === id) : []));
    const vnics = running.flatMap((vm) => vm.vnics.map((n) => ({ vnic: n.id, vm: vm.id, view: state.vnics[n.id] ?? null })));
    const vms = new Set(running.map((vm) => vm.id));
    view.host = {
      dpus: node.spec.dpus.map((dpu) => ({ dpu, view: state.dpus[dpu] ?? null })),
      vnics,
      flows: Object.values(state.flows).filter((f) => f.node === id || vms.has(f.vm)).sort((a, b) => (a.id < b.id ? -1 : 1)),
    };
  }
  return view;
}
