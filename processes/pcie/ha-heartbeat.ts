/**
 * Heartbeats that carry DPU high availability: version 2 of the host ↔ DPU heartbeat payload
 * (`processes/pcie/heartbeat.ts` writes version 1). Same frames, same UDP port 5999, same first
 * eight bytes; the bytes version 1 left reserved now say which role the host gives the DPU (in a
 * request) and which one it runs (in a reply), and a few flags; an epoch follows the sequence.
 *
 * Payload (16 bytes): "DPHB" magic, u8 type (1 request, 2 reply, 3 status), u8 version (2),
 * u8 role (0 none, 1 active, 2 standby), u8 flags (bit 0: every uplink of the DPU is down; bit 1:
 * the DPU's HA state is in sync with its peer), u32 sequence, u32 epoch (the DPU's boot time in
 * microseconds, modulo 2^32: a different value means the DPU restarted).
 *
 * `status` is new: a DPU sends it unasked when its uplinks all go down or one comes back (the
 * `linkDown` failover trigger), with its own sequence. A version 1 parser reads requests and
 * replies of version 2 as it always did and ignores `status`; this parser reads version 1 frames
 * with no role, no flags and no epoch.
 */
import { decodeFrame } from '../../shared/net/frame.js';
import { HEARTBEAT_UDP_PORT, heartbeatFrame, type MgmtAddress } from './heartbeat.js';

const MAGIC = [0x44, 0x50, 0x48, 0x42]; // "DPHB"
const V1_LENGTH = 12;
const V2_LENGTH = 16;
/** The heartbeat payload version this module writes. */
export const HA_HEARTBEAT_VERSION = 2;

/** The role a host gives a DPU of an HA pair. */
export type DpuRole = 'active' | 'standby';

/** Heartbeat message types: the host asks, the DPU answers, or the DPU reports on its own. */
export type HaHeartbeatType = 'request' | 'reply' | 'status';

/** A heartbeat with the HA fields. */
export interface HaHeartbeat {
  readonly type: HaHeartbeatType;
  readonly seq: number;
  /** Request: the role the host gives the DPU. Reply and status: the role the DPU runs. Null: none (yet). */
  readonly role: DpuRole | null;
  /** Reply and status: every uplink of the DPU is down. */
  readonly uplinksDown: boolean;
  /** Reply and status: the DPU's HA state is in sync (a standby holds a complete replica; an active's standby acknowledged it). */
  readonly synced: boolean;
  /** Reply and status: the DPU's boot epoch; null in a request or a version 1 frame. */
  readonly epoch: number | null;
}

const TYPES: readonly HaHeartbeatType[] = ['request', 'reply', 'status'];
const FLAG_UPLINKS_DOWN = 1;
const FLAG_SYNCED = 2;

/** A DPU's epoch from its boot time: microseconds modulo 2^32. */
export function bootEpoch(bootNs: number): number {
  return Math.floor(bootNs / 1000) % 0x1_0000_0000;
}

/** Builds a version 2 heartbeat frame from one end of a management link to the other. */
export function buildHaHeartbeat(from: MgmtAddress, to: MgmtAddress, beat: HaHeartbeat): Uint8Array {
  const payload = new Uint8Array(V2_LENGTH);
  payload.set(MAGIC, 0);
  payload[4] = TYPES.indexOf(beat.type) + 1;
  payload[5] = HA_HEARTBEAT_VERSION;
  payload[6] = beat.role === 'active' ? 1 : beat.role === 'standby' ? 2 : 0;
  payload[7] = (beat.uplinksDown ? FLAG_UPLINKS_DOWN : 0) | (beat.synced ? FLAG_SYNCED : 0);
  const view = new DataView(payload.buffer);
  view.setUint32(8, beat.seq >>> 0);
  view.setUint32(12, (beat.epoch ?? 0) >>> 0);
  return heartbeatFrame(from, to, payload);
}

/**
 * Reads a heartbeat of version 1 or 2 out of a management frame. Null for a well-formed frame that
 * is not a heartbeat (another port, a bad magic, an unknown type or version, a short payload);
 * throws FrameError for a frame that does not decode.
 */
export function parseHaHeartbeat(bytes: Uint8Array): HaHeartbeat | null {
  const udp = decodeFrame(bytes).udp;
  if (!udp || udp.dstPort !== HEARTBEAT_UDP_PORT) return null;
  const p = udp.payload;
  if (p.length < V1_LENGTH || MAGIC.some((b, i) => p[i] !== b)) return null;
  const type = TYPES[p[4]! - 1];
  if (type === undefined) return null;
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const seq = view.getUint32(8);
  const version = p[5]!;
  if (version === 1) return type === 'status' ? null : { type, seq, role: null, uplinksDown: false, synced: false, epoch: null };
  if (version !== HA_HEARTBEAT_VERSION || p.length < V2_LENGTH) return null;
  const role = p[6] === 1 ? 'active' : p[6] === 2 ? 'standby' : null;
  const flags = p[7]!;
  return { type, seq, role, uplinksDown: (flags & FLAG_UPLINKS_DOWN) !== 0, synced: (flags & FLAG_SYNCED) !== 0, epoch: type === 'request' ? null : view.getUint32(12) };
}
