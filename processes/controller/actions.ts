import { DpulabError } from '../../shared/errors.js';
import type { ResolvedTopology, VnicSpec } from '../../shared/topology/types.js';
import { z } from 'zod';
import { flowSpecSchema, traceflowSpecSchema } from '../../shared/scenario/actions.js';
import { isIpv4, isIpv6 } from '../../shared/net/ip.js';
import { dfwRuleSchema } from '../../shared/scenario/dfw-rule.js';
import type { NodeInput } from '../runtime/types.js';
import type { InputPlan, TimedInput } from './controller.js';

/** A `vmotion` step's options once loaded: durations in ns. */
const resolvedVmotionOptions = z.strictObject({
  switchoverGoal: z.number().int().positive().optional(),
  maxPrecopy: z.number().int().positive().optional(),
  throttle: z.boolean().optional(),
  onDfwRefused: z.enum(['abort', 'disconnect']).optional(),
});

/** An input the controller cannot carry out: names the action and what was wrong. */
export class InputError extends DpulabError {
  readonly code = 'invalid-input';
  constructor(message: string) {
    super(message, { fromInput: true });
    this.name = 'InputError';
  }
}

/**
 * Turns a recorded input (`input.<action>` payload) into what it does to the cluster. The same
 * function serves scenario steps, API and UI actions, and replays of recorded inputs, so a
 * replay does exactly what the run did.
 */
export function planInput(topology: ResolvedTopology, record: TimedInput['record']): InputPlan {
  switch (record.action) {
    case 'link': {
      const wire = topology.wires.find((w) => w.id === record.wire);
      if (!wire) throw new InputError(`Action link: no wire ${String(record.wire)}`);
      if (record.state !== 'up' && record.state !== 'down') throw new InputError(`Action link: state must be up or down, got ${String(record.state)}`);
      const up = record.state === 'up';
      return {
        deliveries: [wire.a, wire.b].map((end) => ({ node: end.node, input: { type: 'link', port: end.port, up } as const })),
      };
    }
    case 'kill': {
      const node = topology.nodes.find((n) => n.id === record.node);
      if (!node) throw new InputError(`Action kill: no node ${String(record.node)}`);
      // A dead box's cables lose carrier at the other end.
      return { deliveries: peerLinks(topology, node.id, false), kill: node.id };
    }
    case 'restart': {
      const node = topology.nodes.find((n) => n.id === record.node);
      if (!node) throw new InputError(`Action restart: no node ${String(record.node)}`);
      return { deliveries: peerLinks(topology, node.id, true), restart: node.id };
    }
    case 'dpu.failover': {
      const host = topology.nodes.find((n) => n.id === record.host);
      if (host?.kind !== 'host') throw new InputError(`Action dpu.failover: no host ${String(record.host)}`);
      return { deliveries: [{ node: host.id, input: action('dpu.failover', {}) }] };
    }
    case 'note':
      if (typeof record.text !== 'string') throw new InputError('Action note: text must be a string');
      return { deliveries: [] };
    case 'flow.start': {
      const flow = flowSpecSchema.safeParse(record.flow);
      if (!flow.success) throw new InputError(`Action flow.start: ${flow.error.issues[0]?.path.join('.') ?? 'flow'}: ${flow.error.issues[0]?.message ?? 'invalid'}`);
      vmHost(topology, flow.data.from);
      const to = resolveDestination(topology, flow.data.to);
      // VMs move (vMotion) and the controller keeps no state: every host hears it, the one running the VM acts.
      return { deliveries: everyHost(topology, action('flow.start', { flow: { ...flow.data, to } })) };
    }
    case 'flow.stop':
      if (typeof record.flow !== 'string') throw new InputError('Action flow.stop: flow must be a flow id');
      // The controller keeps no state between inputs: every host hears it, the one running the flow acts.
      return { deliveries: hosts(topology).map((node) => ({ node, input: action('flow.stop', { flow: record.flow }) })) };
    case 'dfw.rule.add': {
      const rule = dfwRuleSchema.safeParse(record.rule);
      if (!rule.success) throw new InputError(`Action dfw.rule.add: rule.${rule.error.issues[0]?.path.join('.') ?? ''}: ${rule.error.issues[0]?.message ?? 'invalid'}`);
      return { deliveries: firewallNodes(topology).map((node) => ({ node, input: action('dfw.rule.add', { rule: rule.data }) })) };
    }
    case 'dfw.rule.remove':
      if (typeof record.rule !== 'string') throw new InputError('Action dfw.rule.remove: rule must be a rule id');
      return { deliveries: firewallNodes(topology).map((node) => ({ node, input: action('dfw.rule.remove', { rule: record.rule }) })) };
    case 'vnic.mode': {
      const mode = record.mode;
      if (mode !== 'uptv2' && mode !== 'mux' && mode !== 'emulated') throw new InputError(`Action vnic.mode: mode must be uptv2, mux or emulated, got ${String(mode)}`);
      vnicHost(topology, String(record.vnic));
      return { deliveries: everyHost(topology, action('vnic.mode', { vnic: record.vnic, mode })) };
    }
    case 'traceflow': {
      const trace = traceflowSpecSchema.safeParse(record.trace);
      if (!trace.success) throw new InputError(`Action traceflow: trace.${trace.error.issues[0]?.path.join('.') ?? ''}: ${trace.error.issues[0]?.message ?? 'invalid'}`);
      const { id, from, to, protocol = 'icmp', port } = trace.data;
      const source = traceSource(topology, from);
      const address = traceDestination(topology, to);
      if ((isIpv6(address) ? source.vnic.ipv6 : source.vnic.ipv4) === null) throw new InputError(`Action traceflow: vNIC ${source.vnic.id} has no address of the family of ${address}`);
      // The host resolves MACs from the topology, as the guest's ARP would.
      const request = { id, vnic: source.vnic.id, to: address, protocol, port: port ?? null };
      return { deliveries: everyHost(topology, action('traceflow', { trace: request })) };
    }
    case 'vmotion': {
      const vm = String(record.vm);
      vmHost(topology, vm);
      const to = topology.nodes.find((n) => n.id === record.to);
      if (to?.kind !== 'host') throw new InputError(`Action vmotion: to: no host ${String(record.to)} in topology ${topology.name}`);
      const options = resolvedVmotionOptions.safeParse(record.options ?? {});
      if (!options.success) throw new InputError(`Action vmotion: options.${options.error.issues[0]?.path.join('.') ?? ''}: ${options.error.issues[0]?.message ?? 'invalid'}`);
      return { deliveries: everyHost(topology, action('vmotion', { vm, to: to.id, options: options.data })) };
    }
    case 'vm.reserve': {
      const vm = String(record.vm);
      vmHost(topology, vm);
      const mib = record.memoryReservationMiB;
      if (typeof mib !== 'number' || !Number.isInteger(mib) || mib < 0) throw new InputError(`Action vm.reserve: memoryReservationMiB must be a whole number of MiB, got ${String(mib)}`);
      return { deliveries: everyHost(topology, action('vm.reserve', { vm, memoryReservationMiB: mib })) };
    }
    default:
      throw new InputError(`Unknown action ${(record as { action: string }).action}`);
  }
}

/** The vNIC a traceflow leaves from: a vNIC by id, or a VM's first vNIC; and its host. */
function traceSource(topology: ResolvedTopology, from: string): { host: string; vnic: VnicSpec } {
  for (const node of topology.nodes) {
    if (node.kind !== 'host') continue;
    for (const vm of node.spec.vms) {
      const vnic = vm.id === from ? vm.vnics[0] : vm.vnics.find((v) => v.id === from);
      if (vnic) return { host: node.id, vnic };
      if (vm.id === from) throw new InputError(`Action traceflow: VM ${from} has no vNIC to send from`);
    }
  }
  throw new InputError(`Action traceflow: no VM or vNIC ${from} in topology ${topology.name}`);
}

/** A traceflow's destination as an address: a VM's first vNIC's IPv4 address, a vNIC's IPv4 address, or an address as given. */
function traceDestination(topology: ResolvedTopology, to: string): string {
  for (const node of topology.nodes) {
    if (node.kind !== 'host') continue;
    for (const vm of node.spec.vms) {
      const vnic = vm.id === to ? vm.vnics[0] : vm.vnics.find((v) => v.id === to);
      if (vnic) return vnic.ipv4.split('/')[0]!;
    }
  }
  if (isIpv4(to) || isIpv6(to)) return to;
  throw new InputError(`Action traceflow: trace.to ${to} is no VM, vNIC or IP address of topology ${topology.name}`);
}

/** Link state changes at the far end of every wire of `node`. */
function peerLinks(topology: ResolvedTopology, node: string, up: boolean): Array<{ node: string; input: NodeInput }> {
  const out: Array<{ node: string; input: NodeInput }> = [];
  for (const wire of topology.wires) {
    if (wire.a.node === node) out.push({ node: wire.b.node, input: { type: 'link', port: wire.b.port, up } });
    if (wire.b.node === node) out.push({ node: wire.a.node, input: { type: 'link', port: wire.a.port, up } });
  }
  return out;
}

function action(name: string, args: Record<string, unknown>): NodeInput {
  return { type: 'action', action: name, args };
}

/** The same input for every host: the one that runs the VM concerned acts, the others ignore it. */
function everyHost(topology: ResolvedTopology, input: NodeInput): Array<{ node: string; input: NodeInput }> {
  return hosts(topology).map((node) => ({ node, input }));
}

function hosts(topology: ResolvedTopology): string[] {
  return topology.nodes.filter((n) => n.kind === 'host').map((n) => n.id);
}

/**
 * Where the management plane pushes firewall rules: every DPU, and every host without a DPU
 * (its software switch filters on x86).
 */
function firewallNodes(topology: ResolvedTopology): string[] {
  return topology.nodes.filter((n) => n.kind === 'dpu' || (n.kind === 'host' && n.spec.dpus.length === 0)).map((n) => n.id);
}

function vmHost(topology: ResolvedTopology, vm: string): string {
  for (const node of topology.nodes) if (node.kind === 'host' && node.spec.vms.some((v) => v.id === vm)) return node.id;
  throw new InputError(`No VM ${vm} in topology ${topology.name}`);
}

function vnicHost(topology: ResolvedTopology, vnic: string): string {
  for (const node of topology.nodes) if (node.kind === 'host' && node.spec.vms.some((v) => v.vnics.some((n) => n.id === vnic))) return node.id;
  throw new InputError(`No vNIC ${vnic} in topology ${topology.name}`);
}

/** A flow's destination as an address: a VM id becomes its first vNIC's IPv4 address. */
function resolveDestination(topology: ResolvedTopology, to: string): string {
  for (const node of topology.nodes) {
    if (node.kind !== 'host') continue;
    const vm = node.spec.vms.find((v) => v.id === to);
    if (vm) {
      const first = vm.vnics[0];
      if (!first) throw new InputError(`VM ${to} has no vNIC to send to`);
      return first.ipv4.split('/')[0]!;
    }
  }
  return to;
}
