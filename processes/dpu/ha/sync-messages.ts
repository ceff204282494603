/**
 * The state-sync wire format: UDP datagrams on the private management network, port 5998, between
 * the management addresses of a host's active and standby DPU (relayed by the host).
 *
 * UDP payload: "DPHA" magic, u8 version (1), then one msgpack map, the message:
 *
 * - `update` {type, session, seq, ackRequest, records}: sequenced state changes.
 * - `bulk` {type, session, seq, bulk, part, last, ackRequest, records}: one chunk of a full
 *   snapshot, sequenced in the same stream as updates. Part 0 starts with a `reset` record and is a
 *   base: a receiver without one, or one stuck on a gap, may start (again) from it. `last` marks
 *   the end of the snapshot.
 * - `ack` {type, session, seq}: cumulative; every sequenced message up to `seq` of `session` was applied.
 * - `bulk-request` {type, reason}: a standby joining (or lost) asks for a full snapshot.
 *
 * `session` names a sender incarnation: a receiver that sees a new one knows the sender restarted
 * (or another DPU took over) and its old sequence numbers mean nothing any more.
 *
 * Decoding checks everything: a payload that is not this format throws `SyncMessageError`, which
 * the receiving side counts and drops.
 */
import { z } from 'zod';
import { buildUdpIpv4Frame } from '../../../shared/net/builders.js';
import { decodeFrame } from '../../../shared/net/frame.js';
import { FramedMessageFormat } from '../../common/framed-message.js';
import { SyncMessageError } from './errors.js';
import { HA_SYNC_UDP_PORT } from '../../pcie/mgmt-network.js';
import type { MgmtEndpoint } from '../../pcie/mgmt-network.js';
import { parseSyncRecord } from './sync-records.js';
import type { SyncRecord } from './sync-records.js';

/** The version of the payload format this code writes and reads. */
export const SYNC_WIRE_VERSION = 1;

/** Why a standby asks for a full snapshot. */
export type BulkRequestReason = 'join' | 'new-session' | 'no-base' | 'retry' | 'owner';

/** Sequenced state changes. */
export interface UpdateMessage {
  readonly type: 'update';
  readonly session: number;
  readonly seq: number;
  /** The sender wants an acknowledgement now (end of a flush, a resend, every ack window). */
  readonly ackRequest: boolean;
  readonly records: readonly SyncRecord[];
}

/** One chunk of a full snapshot, sequenced with the updates. */
export interface BulkMessage {
  readonly type: 'bulk';
  readonly session: number;
  readonly seq: number;
  /** Which bulk of this session (1, 2, ...). */
  readonly bulk: number;
  /** Chunk number within the bulk, from 0. */
  readonly part: number;
  /** The end marker: the snapshot is complete with this chunk. */
  readonly last: boolean;
  readonly ackRequest: boolean;
  readonly records: readonly SyncRecord[];
}

/** Cumulative acknowledgement of a session's sequenced messages. */
export interface AckMessage {
  readonly type: 'ack';
  readonly session: number;
  readonly seq: number;
}

/** A standby asks for a full snapshot. */
export interface BulkRequestMessage {
  readonly type: 'bulk-request';
  readonly reason: BulkRequestReason;
}

/** Every state-sync message. */
export type SyncMessage = UpdateMessage | BulkMessage | AckMessage | BulkRequestMessage;

/** A message that carries records in the sequenced stream. */
export type SequencedMessage = UpdateMessage | BulkMessage;

const counter = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const session = z.number().int().min(1).max(0xffffffff);
const records = z.array(z.unknown());

const messageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('update'), session, seq: counter.min(1), ackRequest: z.boolean(), records }),
  z.object({ type: z.literal('bulk'), session, seq: counter.min(1), bulk: counter.min(1), part: counter, last: z.boolean(), ackRequest: z.boolean(), records }),
  z.object({ type: z.literal('ack'), session, seq: counter }),
  z.object({ type: z.literal('bulk-request'), reason: z.enum(['join', 'new-session', 'no-base', 'retry', 'owner']) }),
]);

const SYNC_FORMAT = new FramedMessageFormat({ what: 'Sync', magic: 'DPHA', version: SYNC_WIRE_VERSION, schema: messageSchema, error: (message) => new SyncMessageError(message) });

/** Encodes a message as a UDP payload: magic, version, msgpack. */
export function encodeSyncMessage(message: SyncMessage): Uint8Array {
  return SYNC_FORMAT.encode(message);
}

/** Decodes and validates a UDP payload; throws `SyncMessageError` naming what is wrong. */
export function decodeSyncMessage(payload: Uint8Array): SyncMessage {
  const m = SYNC_FORMAT.decode(payload);
  if (m.type === 'update' || m.type === 'bulk') {
    const typed = m.records.map((r, i) => parseSyncRecord(r, i));
    if (m.type === 'bulk' && m.part === 0 && typed[0]?.kind !== 'reset') throw new SyncMessageError('Sync bulk part 0 does not start with a reset record');
    return { ...m, records: typed };
  }
  return m;
}

/** Builds the Ethernet/IPv4/UDP frame that carries a message from one DPU to the other. */
export function buildSyncFrame(from: MgmtEndpoint, to: MgmtEndpoint, message: SyncMessage): Uint8Array {
  return buildUdpIpv4Frame({
    srcMac: from.mac,
    dstMac: to.mac,
    srcIp: from.ip,
    dstIp: to.ip,
    srcPort: HA_SYNC_UDP_PORT,
    dstPort: HA_SYNC_UDP_PORT,
    payload: encodeSyncMessage(message),
    ttl: 1,
  });
}

/**
 * The sync payload of a management frame, or null for a well-formed frame that is not state sync
 * (another UDP port, not UDP). Throws FrameError for a frame that does not decode; the payload
 * itself is decoded by `decodeSyncMessage`.
 */
export function syncPayloadOf(bytes: Uint8Array): Uint8Array | null {
  const udp = decodeFrame(bytes).udp;
  if (!udp || udp.dstPort !== HA_SYNC_UDP_PORT) return null;
  return udp.payload;
}
