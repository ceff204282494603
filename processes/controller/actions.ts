import { DpulabError } from '../../shared/errors.js';
import type { InputRecord } from '../../shared/events/catalogue.js';
import type { NodeActionArgs, NodeActionName } from '../../shared/actions/node-actions.js';
import { parseAction, recordedInputSchema, writtenActionSchema, type Action } from '../../shared/actions/schema.js';
import { actionProblems, destinationAddress, traceSource } from '../../shared/actions/topology.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { formatPath, type CheckResult, type DataPath, type PathProblem } from '../../shared/topology/yaml-source.js';
import type { NodeInput } from '../runtime/types.js';
import type { InputPlan } from './controller.js';

/** An input the controller cannot carry out: names the action and what was wrong. */
export class InputError extends DpulabError {
  readonly code = 'invalid-input';
  /** The path of the field at fault in the record (`['flow', 'payloadBytes']`), empty for the record as a whole. */
  readonly path: DataPath;
  constructor(message: string, path: DataPath = []) {
    super(message, { fromInput: true });
    this.name = 'InputError';
    this.path = path;
  }
}

/**
 * Reads an action as a person wrote it (UI, API: durations with units, rule shorthands) and checks
 * it against the topology. Returns it as it will be recorded, defaults filled in, as a scenario
 * step would be.
 *
 * @throws InputError naming the action and the field at fault
 */
export function acceptAction(topology: ResolvedTopology, written: unknown): InputRecord {
  return checked(topology, written, parseAction(written, writtenActionSchema));
}

/**
 * Reads a record as a recorded action and checks it against the topology: the check every input
 * passes before it is planned, whether it came from a scenario, the UI, the API or a recorded log
 * (a database we may not have written).
 *
 * @throws InputError naming the action and the field at fault
 */
export function checkInput(topology: ResolvedTopology, record: unknown): InputRecord {
  return checked(topology, record, parseAction(record, recordedInputSchema));
}

function checked(topology: ResolvedTopology, record: unknown, parsed: CheckResult<Action>): InputRecord {
  if (!parsed.ok) throw inputError(record, parsed.problems[0]!);
  const problem = actionProblems(parsed.value, topology)[0];
  if (problem) throw inputError(record, problem);
  return parsed.value as InputRecord;
}

function inputError(record: unknown, problem: PathProblem): InputError {
  const name = typeof record === 'object' && record !== null ? (record as { action?: unknown }).action : undefined;
  const field = formatPath(problem.path);
  const where = field === '' ? '' : `${field}: `;
  const message = typeof name === 'string' && field !== 'action' ? `Action ${name}: ${where}${problem.message}` : `Invalid action: ${where}${problem.message}`;
  return new InputError(message, problem.path);
}

/**
 * Turns a recorded input (`input.<action>` payload) into what it does to the cluster. The same
 * function serves scenario steps, API and UI actions, and replays of recorded inputs, so a
 * replay does exactly what the run did.
 *
 * @throws InputError when the record is no action the topology can carry out
 */
export function planInput(topology: ResolvedTopology, record: InputRecord): InputPlan {
  return plan(topology, checkInput(topology, record));
}

function plan(topology: ResolvedTopology, record: Action): InputPlan {
  switch (record.action) {
    case 'link': {
      const wire = topology.wires.find((w) => w.id === record.wire)!;
      const up = record.state === 'up';
      return { deliveries: [wire.a, wire.b].map((end) => ({ node: end.node, input: { type: 'link', port: end.port, up } as const })) };
    }
    case 'impair': {
      const wire = topology.wires.find((w) => w.id === record.wire)!;
      // The record passed the action schema: probabilities in [0, 1], whole ns (absent: none).
      const impairments = { loss: record.loss ?? 0, corrupt: record.corrupt ?? 0, duplicate: record.duplicate ?? 0, jitterNs: record.jitter ?? 0 };
      // Each end impairs what it transmits: both directions of the wire.
      return { deliveries: [wire.a, wire.b].map((end) => ({ node: end.node, input: { type: 'impair', port: end.port, impairments, durationNs: record.duration } as const })) };
    }
    case 'kill':
      // A dead box's cables lose carrier at the other end; a crashed DPU's PCIe link stays up.
      return { deliveries: peerLinks(topology, record.node, false), kill: record.node };
    case 'restart':
      return { deliveries: peerLinks(topology, record.node, true), restart: record.node };
    case 'dpu.failover':
      return { deliveries: [{ node: record.host, input: nodeAction('dpu.failover', {}) }] };
    case 'note':
      return { deliveries: [] };
    case 'flow.start': {
      const destination = destinationAddress(topology, record.flow.to);
      if (!destination.ok) throw new Error(destination.message);
      // VMs move (vMotion) and the controller keeps no state: every host hears it, the one running the VM acts.
      return { deliveries: everyHost(topology, nodeAction('flow.start', { flow: { ...record.flow, to: destination.address } })) };
    }
    case 'flow.stop':
      // The controller keeps no state between inputs: every host hears it, the one running the flow acts.
      return { deliveries: everyHost(topology, nodeAction('flow.stop', { flow: record.flow })) };
    case 'dfw.rule.add':
      return { deliveries: firewallNodes(topology).map((node) => ({ node, input: nodeAction('dfw.rule.add', { rule: record.rule }) })) };
    case 'dfw.rule.remove':
      return { deliveries: firewallNodes(topology).map((node) => ({ node, input: nodeAction('dfw.rule.remove', { rule: record.rule }) })) };
    case 'vnic.mode':
      return { deliveries: everyHost(topology, nodeAction('vnic.mode', { vnic: record.vnic, mode: record.mode })) };
    case 'traceflow': {
      const { id, from, to, protocol = 'icmp', port } = record.trace;
      const vnic = traceSource(topology, from)!;
      const destination = destinationAddress(topology, to);
      if (!destination.ok) throw new Error(destination.message);
      // The host resolves MACs from the topology, as the guest's ARP would.
      return { deliveries: everyHost(topology, nodeAction('traceflow', { trace: { id, vnic: vnic.id, to: destination.address, protocol, port: port ?? null } })) };
    }
    case 'vmotion':
      return { deliveries: everyHost(topology, nodeAction('vmotion', { vm: record.vm, to: record.to, options: record.options ?? {} })) };
    case 'vm.reserve':
      return { deliveries: everyHost(topology, nodeAction('vm.reserve', { vm: record.vm, memoryReservationMiB: record.memoryReservationMiB })) };
  }
}

/** Link state changes at the far end of every wire of `node`. */
/**
 * The far ends of `node`'s cables, losing or regaining carrier. A DPU is a card in its host's
 * PCIe slot, powered by it: when its OS crashes the link stays trained and the host learns of the
 * crash from missed heartbeats; only the wire itself going down (a `link` step) is a PCIe
 * surprise-down.
 */
function peerLinks(topology: ResolvedTopology, node: string, up: boolean): Array<{ node: string; input: NodeInput }> {
  const out: Array<{ node: string; input: NodeInput }> = [];
  const card = topology.nodes.find((n) => n.id === node)?.kind === 'dpu';
  for (const wire of topology.wires) {
    if (card && wire.kind === 'pcie') continue;
    if (wire.a.node === node) out.push({ node: wire.b.node, input: { type: 'link', port: wire.b.port, up } });
    if (wire.b.node === node) out.push({ node: wire.a.node, input: { type: 'link', port: wire.a.port, up } });
  }
  return out;
}

/** The input that has a node carry out an action; typed by the node's own schema of it. */
function nodeAction<K extends NodeActionName>(name: K, args: NodeActionArgs<K>): NodeInput {
  return { type: 'action', action: name, args };
}

/** The same input for every host: the one that runs the VM concerned acts, the others ignore it. */
function everyHost(topology: ResolvedTopology, input: NodeInput): Array<{ node: string; input: NodeInput }> {
  return topology.nodes.filter((n) => n.kind === 'host').map((n) => ({ node: n.id, input }));
}

/**
 * Where the management plane pushes firewall rules: every DPU, and every host without a DPU
 * (its software switch filters on x86).
 */
function firewallNodes(topology: ResolvedTopology): string[] {
  return topology.nodes.filter((n) => n.kind === 'dpu' || (n.kind === 'host' && n.spec.dpus.length === 0)).map((n) => n.id);
}
