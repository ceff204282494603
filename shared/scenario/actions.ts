/**
 * The scenario action registry: for each action, the schema of a step that takes it and the
 * topology objects it refers to. Both are typed against {@link ScenarioAction}, so an action
 * added to the union does not compile until it is described here.
 */

import { z } from 'zod';
import { durationSchema, nameSchema } from '../topology/schema.js';
import { dfwRuleSchema } from './dfw-rule.js';
import type { ResolvedTopology } from '../topology/types.js';
import type { ScenarioAction, ScenarioActionName } from './types.js';
import type { VTime } from '../events.js';

/** A step as written: `at` plus the action's fields. */
type WrittenStep<A extends ScenarioAction> = { readonly at: VTime } & A;

/** The strict schema of a step taking `action`, with that action's own fields. */
function stepSchema<K extends ScenarioActionName, S extends z.ZodRawShape>(action: K, fields: S) {
  return z.strictObject({ at: durationSchema(), action: z.literal(action), ...fields });
}

const port = z.number().int().min(1).max(65535);
const probability = z.number().min(0).max(1);

/** The guest app a `flow.start` step runs. */
export const flowSpecSchema = z.strictObject({
  id: nameSchema('a flow id'),
  kind: z.enum(['ping', 'tcp', 'udp']),
  from: nameSchema('a VM id'),
  to: z.string().min(1),
  port: port.optional(),
  ratePps: z.number().positive().max(1_000_000).optional(),
  payloadBytes: z.number().int().min(1).max(8900).optional(),
  count: z.number().int().positive().optional(),
});

/** The packet a `traceflow` step injects. */
export const traceflowSpecSchema = z.strictObject({
  id: nameSchema('a trace id').max(64),
  from: nameSchema('a VM or vNIC id'),
  to: z.string().min(1),
  protocol: z.enum(['icmp', 'tcp', 'udp']).optional(),
  port: port.optional(),
}).refine((t) => t.port === undefined || (t.protocol ?? 'icmp') !== 'icmp', { message: 'an ICMP trace has no port; give protocol tcp or udp', path: ['port'] });

/** The tunables of a `vmotion` step, as written (durations with units). */
export const vmotionOptionsSchema = z.strictObject({
  switchoverGoal: durationSchema({ minNs: 1 }).optional(),
  maxPrecopy: durationSchema({ minNs: 1 }).optional(),
  throttle: z.boolean().optional(),
  onDfwRefused: z.enum(['abort', 'disconnect']).optional(),
});

/** Per action, the schema of a step that takes it. */
export const STEP_SCHEMAS = {
  link: stepSchema('link', { wire: z.string().min(1), state: z.enum(['up', 'down']) }),
  impair: stepSchema('impair', {
    wire: z.string().min(1),
    loss: probability.optional(),
    corrupt: probability.optional(),
    duplicate: probability.optional(),
    jitter: durationSchema().optional(),
    duration: durationSchema({ minNs: 1 }),
  }),
  kill: stepSchema('kill', { node: nameSchema('a node id') }),
  restart: stepSchema('restart', { node: nameSchema('a node id') }),
  'dpu.failover': stepSchema('dpu.failover', { host: nameSchema('a host id') }),
  note: stepSchema('note', { text: z.string().min(1) }),
  'flow.start': stepSchema('flow.start', { flow: flowSpecSchema }),
  'flow.stop': stepSchema('flow.stop', { flow: nameSchema('a flow id') }),
  'dfw.rule.add': stepSchema('dfw.rule.add', { rule: dfwRuleSchema }),
  'dfw.rule.remove': stepSchema('dfw.rule.remove', { rule: nameSchema('a rule id') }),
  'vnic.mode': stepSchema('vnic.mode', { vnic: z.string().min(1), mode: z.enum(['uptv2', 'mux', 'emulated']) }),
  traceflow: stepSchema('traceflow', { trace: traceflowSpecSchema }),
  vmotion: stepSchema('vmotion', { vm: nameSchema('a VM id'), to: nameSchema('a host id'), options: vmotionOptionsSchema.optional() }),
  'vm.reserve': stepSchema('vm.reserve', { vm: nameSchema('a VM id'), memoryReservationMiB: z.number().int().min(0) }),
} satisfies { readonly [K in ScenarioActionName]: z.ZodType<WrittenStep<Extract<ScenarioAction, { action: K }>>> };

/** The action names, sorted, for messages. */
export const ACTION_NAMES: readonly ScenarioActionName[] = (Object.keys(STEP_SCHEMAS) as ScenarioActionName[]).sort();

/** A topology object a step refers to, and the step field that names it. */
export interface ActionReference {
  readonly field: string;
  /** `endpoint`: a VM or vNIC id, unless it is 'any', an IP address or a CIDR. */
  readonly kind: 'wire' | 'node' | 'host' | 'vm' | 'vnic' | 'endpoint';
  readonly id: string;
}

/** The wires and nodes an action names, which must exist in the topology it runs against. */
export function actionReferences(action: ScenarioAction): ActionReference[] {
  switch (action.action) {
    case 'link':
    case 'impair':
      return [{ field: 'wire', kind: 'wire', id: action.wire }];
    case 'kill':
    case 'restart':
      return [{ field: 'node', kind: 'node', id: action.node }];
    case 'dpu.failover':
      return [{ field: 'host', kind: 'node', id: action.host }];
    case 'note':
    case 'flow.stop':
    case 'dfw.rule.remove':
      return [];
    case 'flow.start':
      return [
        { field: 'flow.from', kind: 'vm', id: action.flow.from },
        { field: 'flow.to', kind: 'endpoint', id: action.flow.to },
      ];
    case 'dfw.rule.add':
      return (['appliedTo', 'sources', 'destinations'] as const).flatMap((field) =>
        action.rule[field].map((id, i) => ({ field: `rule.${field}.${i}`, kind: 'endpoint' as const, id })),
      );
    case 'vnic.mode':
      return [{ field: 'vnic', kind: 'vnic', id: action.vnic }];
    case 'traceflow':
      return [
        { field: 'trace.from', kind: 'endpoint', id: action.trace.from },
        { field: 'trace.to', kind: 'endpoint', id: action.trace.to },
      ];
    case 'vmotion':
      return [
        { field: 'vm', kind: 'vm', id: action.vm },
        { field: 'to', kind: 'host', id: action.to },
      ];
    case 'vm.reserve':
      return [{ field: 'vm', kind: 'vm', id: action.vm }];
  }
}

/** The ids of a topology that actions may name, by kind. */
export function knownReferenceIds(topology: ResolvedTopology): Record<ActionReference['kind'], Set<string>> {
  const vms = new Set<string>();
  const vnics = new Set<string>();
  for (const node of topology.nodes) {
    if (node.kind !== 'host') continue;
    for (const vm of node.spec.vms) {
      vms.add(vm.id);
      for (const vnic of vm.vnics) vnics.add(vnic.id);
    }
  }
  return {
    wire: new Set(topology.wires.map((w) => w.id)),
    node: new Set(topology.nodes.map((n) => n.id)),
    host: new Set(topology.nodes.filter((n) => n.kind === 'host').map((n) => n.id)),
    vm: vms,
    vnic: vnics,
    endpoint: new Set([...vms, ...vnics]),
  };
}

/** 'any', or something shaped like an IP address or CIDR (checked where it is used). */
function isAddressLike(text: string): boolean {
  return text === 'any' || /^[0-9.]+(\/\d+)?$/.test(text) || (text.includes(':') && /^[0-9a-fA-F:.]+(\/\d+)?$/.test(text));
}

/** Whether a reference names something the topology has (an endpoint may also be an address). */
export function referenceResolves(known: Record<ActionReference['kind'], Set<string>>, ref: ActionReference): boolean {
  return known[ref.kind].has(ref.id) || (ref.kind === 'endpoint' && isAddressLike(ref.id));
}

/** How a message names a kind of reference. */
export function referenceNoun(kind: ActionReference['kind']): string {
  return kind === 'endpoint' ? 'VM or vNIC' : kind === 'vm' ? 'VM' : kind;
}

/** True when `name` is a known action. */
export function isActionName(name: unknown): name is ScenarioActionName {
  return typeof name === 'string' && Object.hasOwn(STEP_SCHEMAS, name);
}
