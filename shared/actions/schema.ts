/**
 * Every action a person can take on a lab (scenario step, UI button, API call), declared once:
 * its fields and their real limits. The same declaration is read in two forms:
 *
 * - **written** (`WRITTEN_ACTIONS`): as a scenario file, the UI or an API caller writes it, with
 *   durations in units (`500ms`) and firewall port shorthands (`"8000-8080"`);
 * - **recorded** (`RECORDED_ACTIONS`): as the controller records it in the `input.*` event and
 *   a replay reads it back, durations in integer nanoseconds, every rule default filled in.
 *
 * A written action parses to its recorded form, and a recorded action parses to itself. The types
 * {@link Action} and {@link WrittenAction} come from these schemas, so an action added here is
 * typed everywhere at once; the compiler then asks for its topology checks (`topology.ts`), its
 * plan in the controller and, when it reaches nodes, its node form (`node-actions.ts`).
 */
import { z } from 'zod';
import type { VTime } from '../events.js';
import { durationSchema, nameSchema, WIRE_ID_PATTERN } from '../topology/schema.js';
import { checkWithSchema, describeValue, didYouMean } from '../topology/yaml-source.js';
import type { CheckResult, DataPath } from '../topology/yaml-source.js';
import { dfwRuleSchema } from './dfw-rule.js';
import { flowIdSchema, flowSpecSchema } from './flow.js';

/** Longest trace id, in UTF-8 bytes: the id travels in the packet's mark behind a one-byte length. */
export const MAX_TRACE_ID_BYTES = 64;

/** The datapath modes a vNIC may be asked for. */
export const VNIC_MODES = ['uptv2', 'mux', 'emulated'] as const;

/** A TCP or UDP port a packet is sent to. */
export const portSchema = z.int().min(1).max(65_535);

/** A probability, from 0 (never) to 1 (always). */
export const probabilitySchema = z.number().min(0).max(1);

/** A wire id as the topology names it (`up-01a-a`, `dpu-01a:p0--tor-a:swp1`). */
export const wireIdSchema = z.string().regex(WIRE_ID_PATTERN, {
  error: (issue) => `expected a wire id of letters, digits, ".", "_", ":" or "-", got ${describeValue(issue.input)}`,
});

/** A trace id: a name short enough for the packet's mark (names are ASCII: one byte a character). */
export const traceIdSchema = nameSchema('a trace id').max(MAX_TRACE_ID_BYTES, { error: `must be at most ${MAX_TRACE_ID_BYTES} characters: it travels in the traced packet` });

/** The packet a `traceflow` action injects. */
export const traceflowSpecSchema = z
  .strictObject({
    /** Names the trace in every observation (`traceflow.observe` events) and in the packet's mark. */
    id: traceIdSchema,
    /** The VM (its first vNIC) or the vNIC the packet leaves from, as if its guest sent it. */
    from: nameSchema('a VM or vNIC id'),
    /** A VM id (its first vNIC's IPv4 address), a vNIC id (its IPv4 address), or an IPv4 or IPv6 address. */
    to: z.string().min(1),
    /** What the packet is: an ICMP echo request (default), a TCP SYN or a UDP datagram. */
    protocol: z.enum(['icmp', 'tcp', 'udp']).optional(),
    /** TCP or UDP destination port; defaults to the guests' listeners (5201 TCP, 5202 UDP). */
    port: portSchema.optional(),
  })
  .refine((t) => t.port === undefined || (t.protocol ?? 'icmp') !== 'icmp', { message: 'an ICMP trace has no port; give protocol tcp or udp', path: ['port'] });

/** How one form reads a duration that must be at least `minNs`. */
type DurationField<D extends z.ZodType<number>> = (minNs: number) => D;

/** The tunables of a `vmotion`; every field has a default (see `docs/vmotion.md`). */
function vmotionOptionsSchema<D extends z.ZodType<number>>(duration: DurationField<D>) {
  return z.strictObject({
    /** Pre-copy stops once the rest of memory can cross within this long (500 ms). */
    switchoverGoal: duration(1).optional(),
    /** Pre-copy that has not met the goal after this long aborts (60 s). */
    maxPrecopy: duration(1).optional(),
    /** Whether the vCPUs may be slowed down when the guest dirties memory faster than the link carries (yes). */
    throttle: z.boolean().optional(),
    /**
     * When the destination DPU refuses the firewall export (it does not know its version):
     * `abort` the migration, the VM carries on at the source (default); or `disconnect`: finish the
     * move and leave the vNIC disconnected on the destination (fail closed).
     */
    onDfwRefused: z.enum(['abort', 'disconnect']).optional(),
  });
}

/** The schema of an action: `action` names it, the rest are its fields. */
function action<K extends string, S extends z.ZodRawShape>(name: K, fields: S) {
  return z.strictObject({ action: z.literal(name), ...fields });
}

/** Every action's schema, durations read by `duration`. */
function actionSchemas<D extends z.ZodType<number>>(duration: DurationField<D>) {
  return {
    /** Takes a wire down (both ends see carrier loss) or brings it back up. */
    link: action('link', { wire: wireIdSchema, state: z.enum(['up', 'down']) }),
    /**
     * Impairs a wire, both directions, for a while: its loss, corruption and duplication
     * probabilities and its jitter are these instead of the topology's until `duration` has
     * passed (fields left out count as 0). Jitter reorders frames. Drawn from each direction's own
     * seeded stream, so a run replays exactly.
     */
    impair: action('impair', {
      wire: wireIdSchema,
      /** Probability in [0, 1] that a frame is lost. */
      loss: probabilitySchema.optional(),
      /** Probability in [0, 1] that one byte of a frame is flipped. */
      corrupt: probabilitySchema.optional(),
      /** Probability in [0, 1] that a frame arrives twice. */
      duplicate: probabilitySchema.optional(),
      /** Extra delay drawn uniformly in [0, jitter] per frame. */
      jitter: duration(0).optional(),
      /** How long the burst lasts. */
      duration: duration(1),
    }),
    /** Kills a node's process abruptly, as a power loss or crash would. */
    kill: action('kill', { node: nameSchema('a node id') }),
    /** Starts a killed node's process again: it boots as a new incarnation. */
    restart: action('restart', { node: nameSchema('a node id') }),
    /** Asks a host to fail over from its active DPU to its standby (reason `userInitiated`). */
    'dpu.failover': action('dpu.failover', { host: nameSchema('a host id') }),
    /** Marks the timeline with a remark; changes nothing in the lab. */
    note: action('note', { text: z.string().min(1) }),
    /** Starts a guest app in a VM (see `docs/flows.md`). */
    'flow.start': action('flow.start', { flow: flowSpecSchema }),
    /** Stops a guest app (TCP closes its connection). */
    'flow.stop': action('flow.stop', { flow: flowIdSchema }),
    /** Pushes a rule to every DPU (and every host without a DPU). */
    'dfw.rule.add': action('dfw.rule.add', { rule: dfwRuleSchema }),
    /** Withdraws a rule by id. */
    'dfw.rule.remove': action('dfw.rule.remove', { rule: nameSchema('a rule id') }),
    /** Asks for another datapath mode for a vNIC; UPTv2 still needs its requirements. */
    'vnic.mode': action('vnic.mode', { vnic: nameSchema('a vNIC id'), mode: z.enum(VNIC_MODES) }),
    /**
     * Injects one marked packet into a vNIC and records every point that observes it on its way
     * (firewalls, switches, tunnels, physical switches, the destination vNIC). See `docs/traceflow.md`.
     */
    traceflow: action('traceflow', { trace: traceflowSpecSchema }),
    /**
     * Migrates a running VM to another host (vMotion): its passthrough vNICs hand their VF state to
     * the hypervisor's emulated vmxnet3, memory is pre-copied, the VM is stunned, its firewall and
     * device state move, it resumes on the destination, which announces it (RARP) and hands the
     * vNICs to a destination VF. See `docs/vmotion.md`.
     */
    vmotion: action('vmotion', { vm: nameSchema('a VM id'), to: nameSchema('a host id'), options: vmotionOptionsSchema(duration).optional() }),
    /** Sets how much of a VM's memory is reserved (UPTv2 needs all of it); its vNICs reconsider their mode. */
    'vm.reserve': action('vm.reserve', { vm: nameSchema('a VM id'), memoryReservationMiB: z.int().min(0) }),
  };
}

/** Actions as written: durations with units. */
export const WRITTEN_ACTIONS = actionSchemas((minNs) => durationSchema({ minNs }));

/** Actions as recorded: durations in whole nanoseconds. */
export const RECORDED_ACTIONS = actionSchemas((minNs) => z.int().min(minNs));

/** The name of an action: `link`, `kill`, `flow.start`. */
export type ActionName = keyof typeof RECORDED_ACTIONS;

/** Every action, as recorded (the payload of its `input.<action>` event), discriminated by `action`. */
export type Action = { [K in ActionName]: z.output<(typeof RECORDED_ACTIONS)[K]> }[ActionName];

/** Every action as a person may write it (durations with units, rule shorthands, defaults left out). */
export type WrittenAction = { [K in ActionName]: z.input<(typeof WRITTEN_ACTIONS)[K]> }[ActionName];

/** One action of the union. */
export type ActionOf<K extends ActionName> = Extract<Action, { action: K }>;

/** What a `vmotion` may tune, durations in ns. */
export type VmotionOptions = NonNullable<ActionOf<'vmotion'>['options']>;

/** The packet a `traceflow` injects. */
export type TraceflowSpec = ActionOf<'traceflow'>['trace'];

/** The action names, sorted, for messages. */
export const ACTION_NAMES: readonly ActionName[] = (Object.keys(RECORDED_ACTIONS) as ActionName[]).sort();

/** True when `name` is a known action. */
export function isActionName(name: unknown): name is ActionName {
  return typeof name === 'string' && Object.hasOwn(RECORDED_ACTIONS, name);
}

/** The schema of one action in one form, as a plain object schema (the union of all of them loses the link between name and fields). */
function objectSchema(schemas: Readonly<Record<ActionName, z.ZodType>>, name: ActionName): z.ZodObject {
  return schemas[name] as z.ZodObject;
}

/** A written action parses to what it would be recorded as: both forms agree on every field. */
export function writtenActionSchema(name: ActionName): z.ZodType<Action> {
  return objectSchema(WRITTEN_ACTIONS, name) as unknown as z.ZodType<Action>;
}

/** A scenario step as written: `at` plus the action's fields. */
export function stepSchema(name: ActionName): z.ZodType<Action & { readonly at: VTime }> {
  return z.strictObject({ at: durationSchema(), ...objectSchema(WRITTEN_ACTIONS, name).shape }) as unknown as z.ZodType<Action & { readonly at: VTime }>;
}

/** A recorded input: its action, and the index of the scenario step it came from, if any. */
export function recordedInputSchema(name: ActionName): z.ZodType<Action & { readonly step?: number }> {
  return objectSchema(RECORDED_ACTIONS, name).extend({ step: z.int().min(0).optional() }) as unknown as z.ZodType<Action & { readonly step?: number }>;
}

type WrittenOutput = { [K in ActionName]: z.output<(typeof WRITTEN_ACTIONS)[K]> }[ActionName];
/** Fails to compile when the two forms parse an action to different records. */
type SameRecord<T extends true> = T;
type _FormsAgree = SameRecord<[WrittenOutput, Action] extends [Action, WrittenOutput] ? true : false>;

/**
 * Reads an action in one form: its name first (so a message can list the actions and suggest
 * one), then its fields with the house messages. Problem paths start at `base`.
 */
export function parseAction<A>(record: unknown, schemaOf: (name: ActionName) => z.ZodType<A>, base: DataPath = []): CheckResult<A> {
  if (typeof record !== 'object' || record === null || Array.isArray(record)) {
    return { ok: false, problems: [{ path: base, message: 'expected an action such as { action: note, text: "..." }' }] };
  }
  const name = (record as { action?: unknown }).action;
  if (!isActionName(name)) {
    const message =
      name === undefined
        ? `required (one of ${ACTION_NAMES.join(', ')})`
        : `unknown action ${typeof name === 'string' ? `"${name}"` : describeValue(name)} (actions: ${ACTION_NAMES.join(', ')})${typeof name === 'string' ? didYouMean(name, ACTION_NAMES) : ''}`;
    return { ok: false, problems: [{ path: [...base, 'action'], message }] };
  }
  return checkWithSchema(schemaOf(name), record, base);
}
