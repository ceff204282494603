/**
 * Guest flows as actions name them (`flow.start`): the one schema of a flow spec, with the limits
 * the guest stack really has, and its resolved form with every default filled in. The scenario
 * loader, the UI server, the API, the controller and the guest all read flows through here, so a
 * flow that loads is a flow the guest can run.
 */
import { z } from 'zod';
import { appHeaderLength } from '../net/app-message.js';
import { utf8Encode } from '../net/bytes.js';
import { ipFamily, isIpv4, isIpv6, normalizeIp } from '../net/ip.js';
import { nameSchema } from '../topology/schema.js';

/** What a flow sends: ICMP echo requests, UDP datagrams or a TCP byte stream of app messages. */
export type FlowKind = 'ping' | 'tcp' | 'udp';

/** The flow kinds, for validation and messages. */
export const FLOW_KINDS: readonly FlowKind[] = ['ping', 'tcp', 'udp'];

/** The port every guest's TCP sink listens on, and the default TCP flow destination. */
export const DEFAULT_TCP_PORT = 5201;
/** The port every guest's UDP sink listens on, and the default UDP flow destination. */
export const DEFAULT_UDP_PORT = 5202;
/** Default messages per second for every kind. */
export const DEFAULT_RATE_PPS = 100;
/** Default ICMP echo data size. */
export const DEFAULT_PING_BYTES = 64;
/** Default UDP datagram and TCP app message size. */
export const DEFAULT_MESSAGE_BYTES = 1000;
/**
 * Largest ping or UDP payload: the guest does not fragment, so one message must fit a 1500-byte
 * MTU with room for IPv6 and UDP headers and any tunnel overhead the fabric adds.
 */
export const MAX_DATAGRAM_BYTES = 1400;
/** Largest TCP app message. */
export const MAX_TCP_MESSAGE_BYTES = 1 << 20;
/** Highest accepted rate: beyond it one virtual second would hold more messages than is useful. */
export const MAX_RATE_PPS = 1_000_000;
/**
 * Lowest accepted rate: the sender sleeps 1/rate seconds between messages, and that sleep must
 * stay a whole number of virtual nanoseconds a timer can hold (one message every 11.6 days).
 */
export const MIN_RATE_PPS = 1e-6;
/** Longest flow id in UTF-8 bytes: the id travels in every message header. */
export const MAX_FLOW_ID_BYTES = 64;

/** A flow id: a name short enough for the message header. */
export const flowIdSchema = nameSchema('a flow id').refine((id) => utf8Encode(id).length <= MAX_FLOW_ID_BYTES, {
  error: `must be at most ${MAX_FLOW_ID_BYTES} bytes long: it travels in every message`,
});

const portSchema = z.int().min(1).max(65_535);

/** The fields of a flow spec; `to` is narrowed per form (see {@link flowSpecSchema}, {@link addressedFlowSpecSchema}). */
function flowShape<T extends z.ZodType<string>>(to: T) {
  return {
    id: flowIdSchema,
    kind: z.enum(['ping', 'tcp', 'udp']),
    /** The VM that sends. */
    from: nameSchema('a VM id'),
    /** Where to: see the two forms. */
    to,
    /** TCP or UDP destination port; defaults to the receivers' listeners (5201 TCP, 5202 UDP); not for ping. */
    port: portSchema.optional(),
    /** Messages per second. */
    ratePps: z.number().min(MIN_RATE_PPS).max(MAX_RATE_PPS).optional(),
    /** Bytes per message: ICMP echo data for ping, UDP payload, TCP app message (header included). */
    payloadBytes: z.int().optional(),
    /** Stop after this many messages. */
    count: z.int().min(1).optional(),
  };
}

/** The largest message a flow of `kind` may ask for. */
export function maxPayloadBytes(kind: FlowKind): number {
  return kind === 'tcp' ? MAX_TCP_MESSAGE_BYTES : MAX_DATAGRAM_BYTES;
}

/** The checks that span fields: a ping has no port; a message holds its header and fits the kind. */
function checkFlow(flow: { id: string; kind: FlowKind; port?: number | undefined; payloadBytes?: number | undefined }, ctx: z.RefinementCtx): void {
  if (flow.kind === 'ping' && flow.port !== undefined) ctx.addIssue({ code: 'custom', path: ['port'], message: 'a ping flow has no port' });
  if (flow.payloadBytes === undefined) return;
  const min = appHeaderLength(flow.id);
  const max = maxPayloadBytes(flow.kind);
  if (flow.payloadBytes < min || flow.payloadBytes > max) {
    const why = flow.payloadBytes < min ? `the message header of flow ${flow.id} takes ${min}` : flow.kind === 'tcp' ? 'the largest TCP app message' : `a ${flow.kind} message must fit one unfragmented packet`;
    ctx.addIssue({ code: 'custom', path: ['payloadBytes'], message: `must be from ${min} to ${max} for a ${flow.kind} flow (${why}), got ${flow.payloadBytes}` });
  }
}

/**
 * A flow as an action writes it: `to` is an IPv4 or IPv6 address, a VM id (its first vNIC's
 * IPv4 address) or a vNIC id (its IPv4 address), checked against the topology.
 */
export const flowSpecSchema = z.strictObject(flowShape(z.string().min(1))).superRefine(checkFlow);

/** A flow as a host receives it: the controller has turned `to` into an address. */
export const addressedFlowSpecSchema = z
  .strictObject(flowShape(z.string().refine((to) => isIpv4(to) || isIpv6(to), { error: 'expected an IPv4 or IPv6 address' })))
  .superRefine(checkFlow);

/** A flow spec as written. */
export type FlowSpec = z.output<typeof flowSpecSchema>;

/** A flow spec whose destination is an address. */
export type AddressedFlowSpec = z.output<typeof addressedFlowSpecSchema>;

/** A flow with every default filled in; `to` is canonical address text. */
export interface ResolvedFlowSpec {
  readonly id: string;
  readonly kind: FlowKind;
  readonly from: string;
  readonly to: string;
  readonly family: 4 | 6;
  /** null for ping. */
  readonly port: number | null;
  readonly ratePps: number;
  readonly payloadBytes: number;
  /** null: until stopped. */
  readonly count: number | null;
}

/** Fills in the defaults of a checked flow. */
export function resolveFlowDefaults(spec: AddressedFlowSpec): ResolvedFlowSpec {
  const { id, kind, from } = spec;
  const port = kind === 'ping' ? null : (spec.port ?? (kind === 'tcp' ? DEFAULT_TCP_PORT : DEFAULT_UDP_PORT));
  const payloadBytes = spec.payloadBytes ?? Math.max(appHeaderLength(id), kind === 'ping' ? DEFAULT_PING_BYTES : DEFAULT_MESSAGE_BYTES);
  return { id, kind, from, to: normalizeIp(spec.to), family: ipFamily(spec.to), port, ratePps: spec.ratePps ?? DEFAULT_RATE_PPS, payloadBytes, count: spec.count ?? null };
}
