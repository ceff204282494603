/**
 * The UI's HTTP and WebSocket contract: zod schemas of every request (the server parses each one
 * with them and answers 400 naming the field when it does not fit) and the shapes of the answers.
 * Imports nothing from Node, so the renderer can import its types.
 */
import { z } from 'zod';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { InputRecord } from '../../shared/events/catalogue.js';
import type { ClusterState, ClusterEvent } from '../../shared/state/cluster-state.js';
import type { NodeStateView } from '../../shared/state/node-view.js';
import type { Violation } from '../../shared/invariants/index.js';
import type { LabMessage, SessionMode } from './lab-protocol.js';

export type { SessionMode } from './lab-protocol.js';

/** Most events one `/api/events` call returns. */
export const MAX_EVENTS_PER_CALL = 5000;

/**
 * Most kind patterns one `/api/events` call takes, in `kind` and in `notKind`: more than any run
 * has kinds (each pattern is one index scan, merged by seq), so no view needs to trim its list.
 */
export const MAX_KIND_PATTERNS = 500;

/** A non-negative integer given as query text. */
function integerParam(max = Number.MAX_SAFE_INTEGER) {
  return z
    .string()
    .regex(/^\d{1,16}$/, { error: 'expected a non-negative integer' })
    .transform(Number)
    .pipe(z.number().int().min(0).max(max));
}

/** An event kind (`lldp.neighbor`), a prefix written `lldp.*`, or a plain prefix (`lldp`). */
export const kindPatternSchema = z
  .string()
  .max(100)
  .regex(/^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.\*)?$/, { error: 'expected an event kind such as lldp.neighbor, or a prefix such as lldp or lldp.*' });

const nodeIdSchema = z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a node id' });

/** `GET /api/events` query. */
export const eventsQuerySchema = z.strictObject({
  /** First seq (inclusive). */
  from: integerParam().optional(),
  /** Seq bound (exclusive). */
  to: integerParam().optional(),
  limit: integerParam(MAX_EVENTS_PER_CALL).pipe(z.number().min(1)).default(200),
  /** Kinds: exact, `prefix.*`, or a plain prefix matching the kind and everything under it. */
  kind: z.array(kindPatternSchema).max(MAX_KIND_PATTERNS).optional(),
  /** Kinds left out, written as `kind` is: the sequence chart without frames asks `notKind=frame.tx`, whatever kinds the run has. */
  notKind: z.array(kindPatternSchema).max(MAX_KIND_PATTERNS).optional(),
  node: z.array(nodeIdSchema).max(100).optional(),
  /** Frame protocols (`TCP`, `ARP`, `heartbeat`, `GENEVE` for every tunnelled frame; case ignored): only `frame.tx` events carrying one. */
  protocol: z.array(z.string().min(1).max(40).regex(/^[A-Za-z0-9 ./_-]+$/, { error: 'expected a protocol name such as TCP or ARP' })).max(20).optional(),
  /** 0: leave out pcie housekeeping frames (heartbeats, doorbells, ring completions and refills). */
  housekeeping: z.enum(['0', '1']).default('1'),
  /** Virtual time range in ns: from (inclusive), to (exclusive). */
  fromNs: integerParam().optional(),
  toNs: integerParam().optional(),
  /** asc: the first `limit` matches from `from`; desc: the last `limit` matches before `to`. Always returned in seq order. */
  order: z.enum(['asc', 'desc']).default('asc'),
  /** 1: include frame bytes (hex) in frame.tx payloads. */
  bytes: z.enum(['0', '1']).default('0'),
});
/** A parsed `GET /api/events` query. */
export type EventsQuery = z.output<typeof eventsQuerySchema>;

/** `GET /api/throughput` query: bucket width, and the event the series ends at (default: the latest). */
export const throughputQuerySchema = z.strictObject({
  /** Bucket width in ms (1-1000, default 10). */
  bucketMs: integerParam(1000).pipe(z.number().min(1)).default(10),
  at: integerParam().optional(),
});
/** A parsed `GET /api/throughput` query. */
export type ThroughputQuery = z.output<typeof throughputQuerySchema>;

/** `GET /api/throughput`: each flow's messages per virtual second, bucket by bucket, from the log. */
export interface ThroughputResponse {
  readonly bucketNs: number;
  /** The series end here (the state's virtual time). */
  readonly untilNs: number;
  readonly flows: ReadonlyArray<{
    readonly id: string;
    readonly kind: string;
    /** `delivered`: what the receiving guest got; `replies`: the echo replies a ping's sender got back. */
    readonly measure: 'delivered' | 'replies';
    /** [bucket start in ns, messages per virtual second], every bucket from the flow's start, zeros included. */
    readonly points: ReadonlyArray<readonly [number, number]>;
  }>;
}

/** `GET /api/cores`: the cores each host and DPU spends on networking (CPU time over virtual time). */
export interface CoresResponse {
  readonly vtime: number;
  readonly nodes: ReadonlyArray<{
    readonly node: string;
    readonly coreType: string;
    readonly coresUsed: number;
    /** `live`: the node's own account now; `report`: its end-of-run cost.report. */
    readonly source: 'live' | 'report';
  }>;
}

/** No query parameters at all. */
export const emptyQuerySchema = z.strictObject({});

/** `?at=SEQ`: a point in the run (state, inspect). */
export const atQuerySchema = z.strictObject({ at: integerParam().optional() });

/** `/api/inspect/:node` path parameter. */
export const nodeParamSchema = z.strictObject({ node: nodeIdSchema });

/** `/api/frame/:seq` path parameter. */
export const seqParamSchema = z.strictObject({ seq: integerParam() });

/** `POST /api/control` body. */
export const controlSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('pause') }),
  z.strictObject({ op: z.literal('resume') }),
  z.strictObject({ op: z.literal('step') }),
  z.strictObject({ op: z.literal('speed'), speed: z.number().min(0).max(1000) }),
  z
    .strictObject({ op: z.literal('until'), atNs: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(), kind: kindPatternSchema.optional() })
    .refine((v) => (v.atNs === undefined) !== (v.kind === undefined), { error: 'give exactly one of atNs and kind', path: ['atNs'] }),
]);
/** A parsed `POST /api/control` body. */
export type ControlRequest = z.output<typeof controlSchema>;

/** `POST /api/action` body: the record of one input, as a scenario step without `at`. */
export const actionRequestSchema = z.strictObject({
  record: z.looseObject({ action: z.string().min(1).max(100) }),
});

/** `GET /api/capture` query: a wire id or a vNIC id (`web-01.eth0`), exactly one. */
export const captureQuerySchema = z
  .strictObject({ wire: nodeIdSchema.optional(), vnic: nodeIdSchema.optional() })
  .refine((v) => (v.wire === undefined) !== (v.vnic === undefined), { error: 'give exactly one of wire and vnic', path: ['wire'] });
/** A parsed `GET /api/capture` query. */
export type CaptureQuery = z.output<typeof captureQuerySchema>;

/** The media type of `/api/capture`: pcapng (`application/vnd.tcpdump.pcap` is the older pcap format). */
export const PCAPNG_MEDIA_TYPE = 'application/x-pcapng';

/** An error answer: what was wrong and, for a malformed request, the field. */
export interface ApiErrorBody {
  readonly error: string;
  readonly code: string;
  readonly field: string | null;
}


/** What the run is doing. `recorded`: a replay of a finished log. */
export type RunState = 'starting' | 'running' | 'paused' | 'completed' | 'interrupted' | 'failed' | 'recorded';

/** The run as `/api/run` describes it. */
export interface RunInfo {
  readonly id: string;
  readonly topology: string;
  readonly scenario: string | null;
  readonly seed: number;
  readonly runMode: string;
  readonly db: string;
  readonly endNs: number | null;
  readonly fingerprint: string | null;
}

/** The time control's view of a run. */
export interface RunStatus {
  readonly state: RunState;
  /** Current virtual time (live) or the end of the recording (replay). */
  readonly vtime: number;
  readonly paused: boolean;
  /** Virtual seconds per wall second asked for; 0 as fast as possible. */
  readonly speed: number;
  /** Virtual seconds per wall second the run achieved over the last two wall seconds (two significant digits); null unless it is running. */
  readonly achieved: number | null;
  readonly events: number;
  /** A pending `until`, if any. */
  readonly until: { readonly atNs?: number; readonly kind?: string } | null;
  /** Why the run stopped, or what `until` reached. */
  readonly message: string | null;
}

/** `GET /api/run`. */
export interface RunResponse {
  readonly mode: SessionMode;
  readonly run: RunInfo;
  readonly topology: ResolvedTopology;
  readonly status: RunStatus;
  /** Actions `POST /api/action` accepts (empty for a replay). */
  readonly actions: readonly string[];
}

/** `GET /api/events`. */
export interface EventsResponse {
  readonly events: ClusterEvent[];
  /** Events in the log. */
  readonly total: number;
  /** Whether more events match beyond those returned. */
  readonly more: boolean;
}

/** `GET /api/inspect/:node`. */
export interface InspectResponse {
  readonly node: string;
  readonly kind: string;
  /** live: asked the running node; log: rebuilt from the events up to `at`. */
  readonly source: 'live' | 'log';
  /** The event the log view is as of. */
  readonly at: number;
  /** The node's own plain-data state (live only; null when it is not running). */
  readonly live: unknown;
  readonly log: NodeStateView | null;
}

/** `GET /api/frame/:seq`. */
export interface FrameResponse {
  readonly seq: number;
  readonly vtime: number;
  readonly node: string;
  readonly wire: string;
  readonly dir: string;
  readonly port: string;
  readonly channel: string;
  readonly len: number;
  readonly fate: string;
  readonly txStart: number | null;
  readonly arrival: number | null;
  /** What the wire carried, hex. */
  readonly bytes: string;
  /**
   * A PCIe device-channel message (`dma`, `doorbell`, `mailbox`: msgpack maps), decoded, binary
   * as hex; null on Ethernet channels (`eth`, `mgmt`).
   */
  readonly message: unknown;
  /** The Ethernet frame decoded below, hex: the wire bytes, or the frame a `dma` message carries; null when there is none. */
  readonly frame: string | null;
  /** tcpdump-like one-liner of the frame; null when there is no frame or it does not decode. */
  readonly summary: string | null;
  /** Every decoded layer (binary fields as hex); null when there is no frame or it does not decode. */
  readonly decoded: unknown;
  readonly error: { readonly code: string; readonly layer: string; readonly offset: number; readonly message: string } | null;
}

/** `GET /api/invariants`: what the invariant checkers say about the run so far. */
export interface InvariantsResponse {
  /** Every invariant checked, with its meaning. */
  readonly invariants: readonly { readonly id: string; readonly meaning: string }[];
  /** Events checked so far. */
  readonly checked: number;
  /** True once the run has ended and was judged as a whole (a live run before its end: false). */
  readonly final: boolean;
  /** Every violation, in the order found. */
  readonly violations: readonly Violation[];
}

/** `POST /api/action`. */
export interface ActionResponse {
  readonly scheduled: { readonly atNs: number; readonly record: InputRecord };
}

/** What the server pushes on `/api/stream`. */
export type ServerMessage =
  | { readonly t: 'hello'; readonly run: RunResponse; readonly state: ClusterState }
  | { readonly t: 'events'; readonly events: ClusterEvent[]; readonly skipped: number }
  | { readonly t: 'state'; readonly state: ClusterState }
  | { readonly t: 'status'; readonly status: RunStatus }
  | LabMessage;
