/**
 * Flow specs: what a scenario step (`flow.start`) asks a guest to send, as plain data, and its
 * validated form with every default filled in. Validation is strict and every refusal names the
 * field, so a typo in a scenario fails at the step instead of producing a silent, empty flow.
 */
import { DpulabError } from '../../../shared/errors.js';
import { ipFamily, normalizeIp } from '../../../shared/net/ip.js';
import { utf8Encode } from '../../../shared/net/bytes.js';
import { appHeaderLength } from './app-message.js';

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
/** Longest flow id in UTF-8 bytes: the id travels in every message header. */
export const MAX_FLOW_ID_BYTES = 64;

/** A flow as a scenario step writes it; omitted fields take the defaults above. */
export interface FlowSpec {
  readonly id: string;
  readonly kind: FlowKind;
  /** The VM that sends (the stack that runs the flow). */
  readonly from: string;
  /** Destination IPv4 or IPv6 address. */
  readonly to: string;
  /** TCP or UDP destination port; not allowed for ping. */
  readonly port?: number;
  /** Messages per second. */
  readonly ratePps?: number;
  /** Bytes per message: ICMP echo data for ping, UDP payload, TCP app message. */
  readonly payloadBytes?: number;
  /** Stop after this many messages. */
  readonly count?: number;
}

/** A validated flow with every default filled in; `to` is canonical address text. */
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

/** Why a flow request was refused. */
export type FlowErrorCode = 'bad-flow-spec' | 'wrong-vm' | 'duplicate-flow' | 'unknown-flow';

/** A flow could not be started or stopped; `code` is stable, the message names the field. */
export class FlowError extends DpulabError {
  override readonly name = 'FlowError';
  readonly code: FlowErrorCode;
  /** The flow id, when it was readable. */
  readonly flow: string | null;

  constructor(code: FlowErrorCode, flow: string | null, message: string) {
    super(message);
    this.code = code;
    this.flow = flow;
  }
}

const KNOWN_FIELDS = new Set(['id', 'kind', 'from', 'to', 'port', 'ratePps', 'payloadBytes', 'count']);

/**
 * Validates a flow spec given as untyped data (a scenario step's `flow:` map) and fills in the
 * defaults. Throws FlowError('bad-flow-spec') naming the first wrong field.
 */
export function resolveFlowSpec(input: unknown): ResolvedFlowSpec {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FlowError('bad-flow-spec', null, 'A flow must be a map with id, kind, from and to');
  }
  const raw = input as Record<string, unknown>;
  const id = raw['id'];
  if (typeof id !== 'string' || id.length === 0) throw new FlowError('bad-flow-spec', null, 'Flow id must be a non-empty string');
  const bad = (message: string): FlowError => new FlowError('bad-flow-spec', id, `Flow ${id}: ${message}`);
  if (utf8Encode(id).length > MAX_FLOW_ID_BYTES) throw bad(`id is longer than ${MAX_FLOW_ID_BYTES} bytes`);
  for (const key of Object.keys(raw).sort()) {
    if (!KNOWN_FIELDS.has(key)) throw bad(`unknown field ${JSON.stringify(key)} (known: ${[...KNOWN_FIELDS].join(', ')})`);
  }

  const kind = raw['kind'];
  if (typeof kind !== 'string' || !(FLOW_KINDS as readonly string[]).includes(kind)) {
    throw bad(`kind must be one of ${FLOW_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  const flowKind = kind as FlowKind;
  const from = raw['from'];
  if (typeof from !== 'string' || from.length === 0) throw bad('from must name the sending VM');
  const toRaw = raw['to'];
  if (typeof toRaw !== 'string') throw bad('to must be an IPv4 or IPv6 address');
  let to: string;
  let family: 4 | 6;
  try {
    family = ipFamily(toRaw);
    to = normalizeIp(toRaw);
  } catch {
    throw bad(`to ${JSON.stringify(toRaw)} is not an IPv4 or IPv6 address`);
  }

  let port: number | null = null;
  if (flowKind === 'ping') {
    if (raw['port'] !== undefined) throw bad('port does not apply to a ping flow');
  } else {
    port = optionalInteger(raw['port'], flowKind === 'tcp' ? DEFAULT_TCP_PORT : DEFAULT_UDP_PORT, 1, 0xffff, 'port', bad);
  }

  const ratePps = raw['ratePps'] ?? DEFAULT_RATE_PPS;
  if (typeof ratePps !== 'number' || !Number.isFinite(ratePps) || ratePps <= 0 || ratePps > MAX_RATE_PPS) {
    throw bad(`ratePps must be a number above 0 and at most ${MAX_RATE_PPS}, got ${JSON.stringify(raw['ratePps'])}`);
  }

  const minimum = appHeaderLength(id);
  const maximum = flowKind === 'tcp' ? MAX_TCP_MESSAGE_BYTES : MAX_DATAGRAM_BYTES;
  const defaultBytes = Math.max(minimum, flowKind === 'ping' ? DEFAULT_PING_BYTES : DEFAULT_MESSAGE_BYTES);
  const payloadBytes = optionalInteger(raw['payloadBytes'], defaultBytes, minimum, maximum, 'payloadBytes', bad);

  const count = raw['count'] === undefined ? null : optionalInteger(raw['count'], 0, 1, Number.MAX_SAFE_INTEGER, 'count', bad);
  return { id, kind: flowKind, from, to, family, port, ratePps, payloadBytes, count };
}

function optionalInteger(value: unknown, fallback: number, min: number, max: number, field: string, bad: (message: string) => FlowError): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`${field} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}
