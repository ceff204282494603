/**
 * The exported state of a guest stack: everything inside the VM (neighbour caches, sockets, TCP
 * connections, apps, the flow checker, counters, pending timers) as plain data, for vMotion. The
 * source host exports it when it stuns the VM (`GuestStack.exportState`), it travels as msgpack to
 * another process, and `GuestStack.restore` rebuilds the stack there.
 *
 * The state crosses a process boundary, so it is parsed with a schema before use and every
 * refusal is a {@link GuestStateError} naming the field. Interfaces and settings are not in it:
 * they come from the VM's spec and the host on the other side, as when the stack was built.
 *
 * Absolute virtual times never appear: a time is an age (`...AgoNs`, before the export instant)
 * or a remaining delay (`remainingNs`), because the VM is frozen while its state travels and
 * carries on from the same instant of its own life on the other side.
 */
import { CodedError } from '../../../shared/errors.js';
import { z } from 'zod';
import { AddressError } from '../../../shared/net/errors.js';
import { normalizeIp } from '../../../shared/net/ip.js';
import { normalizeMac } from '../../../shared/net/mac.js';
import { APP_FIXED_HEADER_LENGTH } from '../../../shared/net/app-message.js';

/** Connection states, named as RFC 9293 and netstat name them. */
export type TcpState =
  | 'CLOSED'
  | 'LISTEN'
  | 'SYN_SENT'
  | 'SYN_RECEIVED'
  | 'ESTABLISHED'
  | 'FIN_WAIT_1'
  | 'FIN_WAIT_2'
  | 'CLOSE_WAIT'
  | 'CLOSING'
  | 'LAST_ACK'
  | 'TIME_WAIT';

/** Why a connection reached CLOSED. */
export type TcpCloseReason = 'closed' | 'reset' | 'refused' | 'timeout' | 'aborted';

/** The state of a neighbour entry. */
export type NeighborState = 'incomplete' | 'reachable' | 'probe';

/** Why a sender stopped. */
export type FlowStopReason = 'stopped' | 'count' | 'no-route' | 'peer-closed' | TcpCloseReason;

/** Format marker of a guest stack state; anything else is refused. */
export const GUEST_STATE_FORMAT = 'guest-stack';
/** Version of the state format; `restore` refuses any other. Bump it when the shape changes. */
export const GUEST_STATE_VERSION = 1;

/** Why a guest stack state was refused. */
export type GuestStateErrorCode = 'malformed-state';

/**
 * A guest stack state that cannot be restored: not a guest stack state at all, a field missing
 * or of the wrong type, or parts that contradict each other (a timer no part holds, a connection
 * no table lists). `field` is the path of the first problem (`connections[0].tcp.sndUna`);
 * `problems` lists every one found.
 */
export class GuestStateError extends CodedError<GuestStateErrorCode> {
  override readonly name = 'GuestStateError';
  /** Path of the first wrong field, `` for the state as a whole. */
  readonly field: string;
  /** Every problem, as `path: what is wrong`. */
  readonly problems: readonly string[];

  constructor(code: GuestStateErrorCode, field: string, message: string, problems: readonly string[] = []) {
    super(code, message);
    this.field = field;
    this.problems = problems;
  }
}

const TCP_STATES = ['CLOSED', 'LISTEN', 'SYN_SENT', 'SYN_RECEIVED', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'CLOSE_WAIT', 'CLOSING', 'LAST_ACK', 'TIME_WAIT'] as const satisfies readonly TcpState[];
const TCP_CLOSE_REASONS = ['closed', 'reset', 'refused', 'timeout', 'aborted'] as const satisfies readonly TcpCloseReason[];
const NEIGHBOR_STATES = ['incomplete', 'reachable', 'probe'] as const satisfies readonly NeighborState[];
const FLOW_STOP_REASONS = ['stopped', 'count', 'no-route', 'peer-closed', ...TCP_CLOSE_REASONS] as const satisfies readonly FlowStopReason[];

const int = z.number().int();
const count = int.min(0);
const u8 = int.min(0).max(0xff);
const u16 = int.min(0).max(0xffff);
const u32 = int.min(0).max(0xffffffff);
const bytes = z.custom<Uint8Array>((value) => value instanceof Uint8Array, { error: (issue) => `Invalid input: expected bytes, received ${describe(issue.input)}` });
/** Nanoseconds before the export instant. */
const ago = count;
/** The stack's number of a pending timer (see `timers.ts`), null when none is armed. */
const timerRef = int.min(1).nullable();
const ip = z.string().refine(isCanonicalIp, { error: 'expected an IP address in canonical form' });
const mac = z.string().refine(isCanonicalMac, { error: 'expected a MAC address in canonical form' });

/**
 * A pending timer: the stack's number for it, its name, the delay it had left and the payload of
 * its data. The payload is checked against the part that holds the timer (`GuestStack.restore`).
 */
const pendingTimerSchema = z.strictObject({
  timer: int.min(1),
  name: z.string(),
  remainingNs: count,
  data: z.record(z.string(), z.unknown()),
});

const timersSchema = z.strictObject({
  next: int.min(1),
  pending: z.array(pendingTimerSchema),
});

const neighborCacheSchema = z.strictObject({
  entries: z.array(
    z.strictObject({
      vnic: z.string(),
      ip,
      mac: mac.nullable(),
      state: z.enum(NEIGHBOR_STATES),
      confirmedAgoNs: ago,
      probes: count,
      timer: timerRef,
      generation: count,
      queue: z.array(z.strictObject({ srcIp: ip, dstIp: ip, protocol: u8, l4: bytes })),
    }),
  ),
});

const tcpConnectionSchema = z.strictObject({
  state: z.enum(TCP_STATES),
  closeReason: z.enum(TCP_CLOSE_REASONS).nullable(),
  counters: z.strictObject({
    segmentsSent: count,
    segmentsReceived: count,
    retransmits: count,
    timeouts: count,
    fastRetransmits: count,
    duplicateAcks: count,
    bytesAcked: count,
    bytesDelivered: count,
    duplicateSegments: count,
    outOfOrderSegments: count,
  }),
  iss: u32,
  irs: u32,
  sndUna: u32,
  sndNxt: u32,
  sndMax: u32,
  sndWnd: u16,
  rcvNxt: u32,
  dataStart: u32,
  /** Bytes written and not yet acknowledged, from `dataStart` on. */
  sendQueue: bytes,
  finQueued: z.boolean(),
  closeAfterConnect: z.boolean(),
  outOfOrder: z.array(z.strictObject({ seq: u32, payload: bytes, fin: z.boolean() })),
  peerFinReceived: z.boolean(),
  mss: int.min(1).max(0xffff),
  cwnd: int.min(1),
  ssthresh: count,
  inRecovery: z.boolean(),
  recoverSeq: u32,
  dupAcks: count,
  rtoNs: int.min(1),
  srttNs: count.nullable(),
  rttVarNs: z.number().min(0),
  retries: count,
  timing: z.strictObject({ endSeq: u32, sentAgoNs: ago }).nullable(),
  rtoTimer: timerRef,
  timeWaitTimer: timerRef,
  timerToken: count,
  ackPending: z.boolean(),
});

const sequenceCheckerSchema = z
  .strictObject({
    delivered: count,
    duplicated: count,
    reordered: count,
    highest: int.min(-1),
    floor: count,
    /** Sequence numbers above `floor` seen, ascending. */
    above: z.array(count),
  })
  .refine((c) => c.above.every((seq, i) => seq > c.floor && (i === 0 || seq > c.above[i - 1]!)), { error: 'above must ascend, every number above floor', path: ['above'] });

const tcpSinkSchema = z.strictObject({
  /** The app-message splitter: the header bytes gathered so far, body bytes still to skip. */
  stream: z.strictObject({ header: bytes.refine((b) => b.length <= APP_FIXED_HEADER_LENGTH + 255, { error: `a header is at most ${APP_FIXED_HEADER_LENGTH + 255} bytes` }), skip: count, broken: z.boolean() }),
  /** The received flow the connection's messages belong to, null before the first header. */
  flow: z.string().nullable(),
  reportedBroken: z.boolean(),
});

const connectionSchema = z.strictObject({
  id: int.min(1),
  role: z.enum(['client', 'server']),
  localIp: ip,
  localPort: u16,
  remoteIp: ip,
  remotePort: u16,
  flow: z.string().nullable(),
  /** Dropped from the stack's table (closed, beyond the ones kept) but still held by its flow's sender. */
  pruned: z.boolean(),
  tcp: tcpConnectionSchema,
  /** The sink session of a server connection; null for a client (its app is the flow's sender). */
  sink: tcpSinkSchema.nullable(),
});

const flowSpecSchema = z.strictObject({
  id: z.string(),
  kind: z.enum(['ping', 'tcp', 'udp']),
  from: z.string(),
  to: ip,
  family: z.union([z.literal(4), z.literal(6)]),
  port: u16.nullable(),
  ratePps: z.number().positive(),
  payloadBytes: count,
  count: count.nullable(),
});

const senderBase = {
  spec: flowSpecSchema,
  sent: count,
  stopped: z.boolean(),
  stopReason: z.enum(FLOW_STOP_REASONS).nullable(),
  unreachable: count,
  startedAgoNs: ago,
  timer: timerRef,
  generation: count,
  blocked: z.boolean(),
};

const senderSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('ping'),
    ...senderBase,
    identifier: int.min(-1).max(0xffff),
    replies: sequenceCheckerSchema,
    rtt: z.strictObject({ count, sum: z.number().min(0), min: z.number().min(0).nullable(), max: z.number().min(0) }),
    /** When each unanswered request went out. */
    sentAt: z.array(z.strictObject({ seq: count, agoNs: ago })),
  }),
  z.strictObject({ kind: z.literal('udp'), ...senderBase, port: int.min(-1).max(0xffff) }),
  /** `connection`: the id of its connection (null when it found no route). */
  z.strictObject({ kind: z.literal('tcp'), ...senderBase, connection: int.min(1).nullable() }),
]);

const receivedFlowSchema = z.strictObject({
  flow: z.string(),
  kind: z.enum(['tcp', 'udp']),
  from: z.string(),
  to: z.string(),
  port: u16,
  checker: sequenceCheckerSchema,
  malformed: count,
  retransmits: count.nullable(),
  tcpState: z.string().nullable(),
  closeReason: z.string().nullable(),
});

const guestStackStateSchema = z.strictObject({
  format: z.literal(GUEST_STATE_FORMAT),
  version: z.literal(GUEST_STATE_VERSION),
  vm: z.string(),
  /** Restores so far; the restored stack is one more (its timers' data carries it). */
  incarnation: count,
  ipId: u16,
  nextConnectionId: int.min(1),
  counters: z.strictObject({ rxFrames: count, txFrames: count, malformed: z.record(z.string(), count), drops: z.record(z.string(), count) }),
  timers: timersSchema,
  arp: neighborCacheSchema,
  nd: neighborCacheSchema,
  /** Bound UDP ports: the sink (`flow` null) or a UDP flow's sender. */
  udpSockets: z.array(z.strictObject({ port: u16, flow: z.string().nullable() })),
  /** Bound ICMP echo identifiers, each a ping flow's. */
  echo: z.array(z.strictObject({ identifier: u16, flow: z.string() })),
  tcpListeners: z.array(u16),
  connections: z.array(connectionSchema),
  senders: z.array(senderSchema),
  receiverFlows: z.array(receivedFlowSchema),
  udpSink: z.strictObject({ port: u16, malformed: count }).nullable(),
  /** Signature of the last periodic report per flow and side (unchanged ones are skipped). */
  lastReport: z.array(z.strictObject({ key: z.string(), signature: z.string() })),
  reportTimer: timerRef,
});

/** The exported state of a guest stack (see the file comment). */
export type GuestStackState = z.output<typeof guestStackStateSchema>;
/** A pending timer in the state. */
export type PendingTimerState = z.output<typeof pendingTimerSchema>;
/** The timers of a stack: the number the next one gets, the pending ones in arming order. */
export type GuestTimersState = z.output<typeof timersSchema>;
/** A neighbour cache in the state. */
export type NeighborCacheState = z.output<typeof neighborCacheSchema>;
/** A TCP connection's own state (sequence space, windows, queues, RTO, timers). */
export type TcpConnectionState = z.output<typeof tcpConnectionSchema>;
/** A TCP connection with its addresses and app. */
export type ConnectionState = z.output<typeof connectionSchema>;
/** A TCP sink session. */
export type TcpSinkState = z.output<typeof tcpSinkSchema>;
/** A flow's sender app. */
export type SenderState = z.output<typeof senderSchema>;
/** What a sequence checker has seen. */
export type SequenceCheckerState = z.output<typeof sequenceCheckerSchema>;
/** A receiver-side flow. */
export type ReceivedFlowState = z.output<typeof receivedFlowSchema>;

/**
 * Parses an exported state (anything: it came out of msgpack). Throws GuestStateError
 * (`malformed-state`) naming the first wrong field and listing every problem.
 */
export function parseGuestStackState(value: unknown): GuestStackState {
  const result = guestStackStateSchema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${formatPath(issue.path) || '(state)'}: ${issue.message}`);
  const first = result.error.issues[0]!;
  throw stateError(formatPath(first.path), first.message, problems);
}

/** A GuestStateError for a field whose value contradicts the rest of the state. */
export function stateError(field: string, problem: string, problems: readonly string[] = [`${field || '(state)'}: ${problem}`]): GuestStateError {
  return new GuestStateError('malformed-state', field, `Guest stack state is not usable: ${field || '(state)'}: ${problem}`, problems);
}

/** `connections[0].tcp.sndUna` from a schema path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) out += typeof key === 'number' ? `[${key}]` : out === '' ? String(key) : `.${String(key)}`;
  return out;
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function isCanonicalIp(text: string): boolean {
  try {
    return normalizeIp(text) === text;
  } catch (error) {
    if (error instanceof AddressError) return false;
    throw error;
  }
}

function isCanonicalMac(text: string): boolean {
  try {
    return normalizeMac(text) === text;
  } catch (error) {
    if (error instanceof AddressError) return false;
    throw error;
  }
}
