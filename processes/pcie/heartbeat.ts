import { buildUdpIpv4Frame } from '../../shared/net/builders.js';
import { decodeFrame } from '../../shared/net/frame.js';

/**
 * Heartbeats between a host and each of its DPUs, on the private management network that crosses
 * the pcie wire. They are real frames (Ethernet, IPv4, UDP) between link-local addresses, so a
 * capture of a pcie wire opens in Wireshark like any other.
 *
 * Payload: "DPHB" magic, u8 type (1 request, 2 reply), u8 version (1), u16 reserved, u32 sequence.
 */
export const HEARTBEAT_UDP_PORT = 5_999;
export const HOST_MGMT_IP = '169.254.0.1';
export const DPU_MGMT_IP = '169.254.0.2';
const MAGIC = [0x44, 0x50, 0x48, 0x42]; // "DPHB"
const PAYLOAD_LENGTH = 12;

export type HeartbeatType = 'request' | 'reply';

export interface Heartbeat {
  readonly type: HeartbeatType;
  readonly seq: number;
}

/** One end of the management link: its MAC and address. */
export interface MgmtAddress {
  readonly mac: string;
  readonly ip: string;
}

/** The frame every heartbeat version travels in: UDP on the heartbeat port, TTL 1 (link-local). */
export function heartbeatFrame(from: MgmtAddress, to: MgmtAddress, payload: Uint8Array): Uint8Array {
  return buildUdpIpv4Frame({
    srcMac: from.mac,
    dstMac: to.mac,
    srcIp: from.ip,
    dstIp: to.ip,
    srcPort: HEARTBEAT_UDP_PORT,
    dstPort: HEARTBEAT_UDP_PORT,
    payload,
    ttl: 1,
  });
}

/** Builds a heartbeat frame from one end of the management link to the other. */
export function buildHeartbeat(from: MgmtAddress, to: MgmtAddress, beat: Heartbeat): Uint8Array {
  const payload = new Uint8Array(PAYLOAD_LENGTH);
  payload.set(MAGIC, 0);
  payload[4] = beat.type === 'request' ? 1 : 2;
  payload[5] = 1;
  new DataView(payload.buffer).setUint32(8, beat.seq >>> 0);
  return heartbeatFrame(from, to, payload);
}

/**
 * Reads a heartbeat out of a management frame. Returns null for a well-formed frame that is not a
 * heartbeat; throws FrameError for a malformed one.
 */
export function parseHeartbeat(bytes: Uint8Array): Heartbeat | null {
  const frame = decodeFrame(bytes);
  const udp = frame.udp;
  if (!udp || udp.dstPort !== HEARTBEAT_UDP_PORT) return null;
  const p = udp.payload;
  if (p.length < PAYLOAD_LENGTH || MAGIC.some((b, i) => p[i] !== b)) return null;
  const type = p[4] === 1 ? 'request' : p[4] === 2 ? 'reply' : null;
  if (!type) return null;
  return { type, seq: new DataView(p.buffer, p.byteOffset, p.byteLength).getUint32(8) };
}
