/**
 * Actions as a node receives them: what the controller's planner delivers to a host, DPU or
 * switch once it has checked an action against the topology and resolved its names (a flow's
 * destination is an address, a trace names the vNIC it leaves from). Built from the same field
 * schemas as the actions themselves, so the limits are the same on both sides of the control
 * channel. A node's runtime parses what arrives with {@link parseNodeAction} before its core sees
 * it: a core gets typed arguments, and a bad record becomes a `node.error` naming the field.
 */
import { z } from 'zod';
import { isIpv4, isIpv6 } from '../net/ip.js';
import { nameSchema } from '../topology/schema.js';
import { checkWithSchema, formatPath } from '../topology/yaml-source.js';
import { dfwRuleSchema } from './dfw-rule.js';
import { addressedFlowSpecSchema, flowIdSchema } from './flow.js';
import { portSchema, RECORDED_ACTIONS, traceIdSchema, VNIC_MODES } from './schema.js';

/** Per action a node can take, the schema of its arguments. */
export const NODE_ACTION_SCHEMAS = {
  /** To a host: fail over from the active DPU to the standby. */
  'dpu.failover': z.strictObject({}),
  /** To every host (VMs move): the one running `flow.from` starts the flow. */
  'flow.start': z.strictObject({ flow: addressedFlowSpecSchema }),
  /** To every host: the one running the flow stops it. */
  'flow.stop': z.strictObject({ flow: flowIdSchema }),
  /** To every DPU and every host without one. */
  'dfw.rule.add': z.strictObject({ rule: dfwRuleSchema }),
  'dfw.rule.remove': z.strictObject({ rule: nameSchema('a rule id') }),
  /** To every host: the one running the vNIC asks for the mode. */
  'vnic.mode': z.strictObject({ vnic: nameSchema('a vNIC id'), mode: z.enum(VNIC_MODES) }),
  /** To every host: the one running the vNIC injects the packet. */
  traceflow: z.strictObject({
    trace: z.strictObject({
      id: traceIdSchema,
      /** The vNIC the packet leaves from. */
      vnic: nameSchema('a vNIC id'),
      /** The destination address. */
      to: z.string().refine((to) => isIpv4(to) || isIpv6(to), { error: 'expected an IPv4 or IPv6 address' }),
      protocol: z.enum(['icmp', 'tcp', 'udp']),
      /** null: the listener's port for TCP and UDP, none for ICMP. */
      port: portSchema.nullable(),
    }),
  }),
  /** To every host: the one running the VM starts the migration. */
  vmotion: z.strictObject({ vm: nameSchema('a VM id'), to: nameSchema('a host id'), options: RECORDED_ACTIONS.vmotion.shape.options.unwrap() }),
  /** To every host: the one running the VM changes its reservation. */
  'vm.reserve': z.strictObject({ vm: nameSchema('a VM id'), memoryReservationMiB: z.int().min(0) }),
};

/** The name of an action a node can take. */
export type NodeActionName = keyof typeof NODE_ACTION_SCHEMAS;

/** The arguments of one node action. */
export type NodeActionArgs<K extends NodeActionName> = z.output<(typeof NODE_ACTION_SCHEMAS)[K]>;

/** An action as a core receives it, discriminated by `action`. */
export type NodeAction = { [K in NodeActionName]: { readonly action: K; readonly args: NodeActionArgs<K> } }[NodeActionName];

/** The outcome of reading an action that arrived at a node. */
export type NodeActionCheck = { readonly ok: true; readonly action: NodeAction } | { readonly ok: false; readonly message: string };

/**
 * Reads an action as it came over the control channel (or from the in-process controller).
 * Never throws: an unknown action or bad arguments give a message that names the field.
 */
export function parseNodeAction(action: string, args: unknown): NodeActionCheck {
  if (!Object.hasOwn(NODE_ACTION_SCHEMAS, action)) return { ok: false, message: `Unknown action ${action}` };
  const name = action as NodeActionName;
  const checked = checkWithSchema(NODE_ACTION_SCHEMAS[name], args);
  if (checked.ok) return { ok: true, action: { action: name, args: checked.value } as NodeAction };
  const first = checked.problems[0]!;
  return { ok: false, message: `Action ${name}: ${formatPath(['args', ...first.path])}: ${first.message}` };
}
