import type { ResolvedTopology } from '../../shared/topology/types.js';
import { flowSpecSchema } from '../../shared/scenario/actions.js';
import { dfwRuleSchema } from '../../shared/scenario/dfw-rule.js';
import type { NodeInput } from '../runtime/types.js';
import type { InputPlan, TimedInput } from './controller.js';

/** An input the controller cannot carry out: names the action and what was wrong. */
export class InputError extends Error {
  readonly code = 'invalid-input';
  constructor(message: string) {
    super(message);
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
      return { deliveries: [], kill: node.id };
    }
    case 'note':
      if (typeof record.text !== 'string') throw new InputError('Action note: text must be a string');
      return { deliveries: [] };
    case 'flow.start': {
      const flow = flowSpecSchema.safeParse(record.flow);
      if (!flow.success) throw new InputError(`Action flow.start: ${flow.error.issues[0]?.path.join('.') ?? 'flow'}: ${flow.error.issues[0]?.message ?? 'invalid'}`);
      const from = vmHost(topology, flow.data.from);
      const to = resolveDestination(topology, flow.data.to);
      return { deliveries: [{ node: from, input: action('flow.start', { flow: { ...flow.data, to } }) }] };
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
      const host = vnicHost(topology, String(record.vnic));
      return { deliveries: [{ node: host, input: action('vnic.mode', { vnic: record.vnic, mode }) }] };
    }
    default:
      throw new InputError(`Unknown action ${record.action}`);
  }
}

function action(name: string, args: Record<string, unknown>): NodeInput {
  return { type: 'action', action: name, args };
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
