/**
 * The management protocol between the manager (vCenter with NSX Manager's central control plane)
 * and the hosts and DPUs it manages, on the out-of-band management network (`addresses.ts`).
 *
 * Each message is one UDP datagram to or from port 902: "DPMG" magic, u8 version (1), then one
 * msgpack map, parsed with a schema on receipt. A capture of a `mgmt-<node>` wire opens in
 * Wireshark/tshark as Ethernet / IPv4 / UDP with this payload as data.
 *
 * Node to manager (requests carry `id`, a number the sender never reuses; the manager's answer
 * carries it back as `re`; the sender retries until it has one):
 * - `host.report` / `dpu.report`: what the node knows (its DPUs and VMs and the migrations it
 *   takes part in, or the overlay table it holds); sent when the node boots after the start of the
 *   run and whenever the manager asks (`resync`). Answer: `ack`.
 * - `host.dpus`: the host failed over; which DPU serves it now. Answer: `ack`.
 * - `migration.register` (source, at precheck) and `switchover.begin` (source, before the stun).
 *   Answer: `migration.answer` (ok, or why not).
 * - `switchover.commit` (destination, ready to resume), `switchover.abort` (either side),
 *   `switchover.query` (either side, waiting). Answer: `switchover.decision`.
 * - `table.ack`: the overlay table generation the node holds now (answers `table`, no `id`).
 *
 * Manager to node:
 * - `table`: the overlay's MAC/IP-to-tunnel-endpoint table, versioned by the manager's `epoch`
 *   (its boot) and a `generation`; `base` null for the whole table, else the generation it
 *   follows (a delta); split in `parts` to fit the MTU. Retried until acknowledged.
 * - `switchover.decision`: also pushed unasked to both hosts of a migration when it is decided.
 * - `resync`: the manager restarted; the node answers with its report.
 *
 * Decoding checks everything: a payload that is not this format throws `MgmtMessageError`, which
 * the receiver counts and drops.
 */
import { z } from 'zod';
import { buildUdpIpv4Frame } from '../../shared/net/builders.js';
import { decodeFrame } from '../../shared/net/frame.js';
import { MGMT_UDP_PORT, type MgmtEndpoint } from './addresses.js';
import type { MalformedCounter } from '../common/malformed.js';
import type { NodeContext } from '../runtime/types.js';
import { FramedMessageFormat } from '../common/framed-message.js';
import { MgmtMessageError } from './errors.js';

/** The version of the payload format this code writes and reads. */
export const MGMT_WIRE_VERSION = 1;

const name = z.string().min(1);
const requestId = z.number().int().min(0);
const count = z.number().int().min(0);

const migration = { mid: name, vm: name, from: name, to: name };

/** One vNIC of the overlay table: where its MAC and addresses live now. */
export const overlayEntrySchema = z.object({
  vnic: name,
  vm: name,
  mac: name,
  ipv4: name,
  ipv6: name.nullable(),
  segment: name,
  /** The host the VM runs on. */
  host: name,
  /** The tunnel endpoint serving that host. */
  tep: name,
});
/** One vNIC of the overlay table. */
export type OverlayEntry = z.infer<typeof overlayEntrySchema>;

/** Which tunnel endpoint serves a host now. */
export const hostTepSchema = z.object({ host: name, tep: name });
/** Which tunnel endpoint serves a host now. */
export type HostTep = z.infer<typeof hostTepSchema>;

/** A version of the overlay table: the manager's boot epoch and a generation within it. */
export const tableVersionSchema = z.object({ epoch: count, generation: count });
/** A version of the overlay table. */
export type TableVersion = z.infer<typeof tableVersionSchema>;

/** How a host takes part in a migration, as it reports it to a manager that restarted. */
export const migrationFactSchema = z.object({
  ...migration,
  role: z.enum(['source', 'destination']),
  /** The host's phase of the migration (`docs/vmotion.md`). */
  phase: name,
  /** What the host asked the manager, still unanswered: to commit (destination), to abort (either). */
  asked: z.enum(['commit', 'abort']).nullable(),
  /** Why, for an abort. */
  reason: z.string().nullable(),
  /** A decision the host received and acted on: a fact, since at most one was ever issued. */
  decided: z.enum(['committed', 'aborted']).nullable(),
});
/** How a host takes part in a migration. */
export type MigrationFact = z.infer<typeof migrationFactSchema>;

const messageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('host.report'),
    id: requestId,
    node: name,
    active: name.nullable(),
    standby: name.nullable(),
    /** The VMs the host runs, a stunned one leaving by vMotion included. */
    vms: z.array(name),
    /**
     * The host restarted and keeps `vms` (its topology VMs) off until the manager says which are
     * still its own: the answer's `vms`.
     */
    booting: z.boolean(),
    migrations: z.array(migrationFactSchema),
    /** The overlay table a host that switches in software holds; null for a host with DPUs. */
    table: tableVersionSchema.nullable(),
  }),
  z.object({ t: z.literal('dpu.report'), id: requestId, node: name, table: tableVersionSchema.nullable() }),
  z.object({ t: z.literal('host.dpus'), id: requestId, node: name, active: name.nullable(), standby: name.nullable(), reason: name }),
  z.object({ t: z.literal('migration.register'), id: requestId, node: name, ...migration }),
  z.object({ t: z.literal('switchover.begin'), id: requestId, node: name, ...migration }),
  z.object({ t: z.literal('switchover.commit'), id: requestId, node: name, ...migration }),
  z.object({ t: z.literal('switchover.abort'), id: requestId, node: name, ...migration, reason: name }),
  z.object({ t: z.literal('switchover.query'), id: requestId, node: name, ...migration }),
  z.object({ t: z.literal('table.ack'), node: name, epoch: count, generation: count }),
  /** The answer to a report or a failover; to a host's report, the VMs the manager places on that host. */
  z.object({ t: z.literal('ack'), re: requestId, epoch: count, vms: z.array(name).optional() }),
  z.object({ t: z.literal('migration.answer'), re: requestId, mid: name, ok: z.boolean(), reason: z.string().nullable() }),
  z.object({
    t: z.literal('switchover.decision'),
    re: requestId.nullable(),
    mid: name,
    decision: z.enum(['committed', 'aborted', 'pending']),
    reason: z.string().nullable(),
  }),
  z.object({
    t: z.literal('table'),
    epoch: count,
    generation: count,
    base: count.nullable(),
    part: count,
    parts: z.number().int().min(1),
    hosts: z.array(hostTepSchema),
    vnics: z.array(overlayEntrySchema),
  }),
  z.object({ t: z.literal('resync'), epoch: count }),
]);

/** A management message of either direction. */
export type MgmtMessage = z.infer<typeof messageSchema>;
/** The messages a node sends the manager that expect an answer. */
export type MgmtRequest = Extract<MgmtMessage, { id: number }>;
/** The answers the manager sends back, matched by `re`. */
export type MgmtAnswer = Extract<MgmtMessage, { t: 'ack' | 'migration.answer' | 'switchover.decision' }>;

const MGMT_FORMAT = new FramedMessageFormat({ what: 'Management', magic: 'DPMG', version: MGMT_WIRE_VERSION, schema: messageSchema, error: (message) => new MgmtMessageError(message) });

/** Encodes a message as a UDP payload: magic, version, msgpack. */
export function encodeMgmtMessage(message: MgmtMessage): Uint8Array {
  return MGMT_FORMAT.encode(message);
}

/** Decodes a UDP payload; throws `MgmtMessageError` naming what is wrong. */
export function decodeMgmtMessage(payload: Uint8Array): MgmtMessage {
  return MGMT_FORMAT.decode(payload);
}

/** A management datagram from one endpoint to another: Ethernet / IPv4 / UDP 902 / the message. */
export function buildMgmtFrame(from: MgmtEndpoint, to: MgmtEndpoint, message: MgmtMessage): Uint8Array {
  return buildUdpIpv4Frame({ srcMac: from.mac, dstMac: to.mac, srcIp: from.ip, dstIp: to.ip, srcPort: MGMT_UDP_PORT, dstPort: MGMT_UDP_PORT, payload: encodeMgmtMessage(message) });
}

/**
 * The management message a frame carries: null for a well-formed frame that is not one (not UDP to
 * port 902). Throws `FrameError` (shared/net) for a frame that does not decode and
 * `MgmtMessageError` for a datagram to port 902 whose payload is not a message.
 */
export function parseMgmtFrame(bytes: Uint8Array): MgmtMessage | null {
  const frame = decodeFrame(bytes);
  const udp = frame.udp;
  if (!udp || udp.dstPort !== MGMT_UDP_PORT) return null;
  return decodeMgmtMessage(udp.payload);
}

/** Table entries per `table` part: each entry is about 150 bytes, so a part stays within one MTU. */
export const TABLE_ENTRIES_PER_PART = 8;

/**
 * A frame that came in on a management port, read as {@link parseMgmtFrame} reads it, with what
 * does not read counted as malformed on that port (a bad payload by its code, a frame that does
 * not decode by the decoder's). Null for a malformed frame and for one that carries no message.
 */
export function takeMgmtFrame(ctx: NodeContext, malformed: MalformedCounter, port: string, bytes: Uint8Array): MgmtMessage | null {
  try {
    return parseMgmtFrame(bytes);
  } catch (error) {
    if (error instanceof MgmtMessageError) malformed.recordPayload(ctx, port, error.code, error.message);
    else malformed.record(ctx, port, error);
    return null;
  }
}
