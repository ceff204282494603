/**
 * Frames that stand for longer ones. A vMotion page batch would be hundreds of KiB of guest memory
 * on the wire; dpulab does not store page contents (they would swamp the event log), so the batch's
 * frame carries its headers and the stream message and says, in the first four bytes of its UDP
 * payload, how many payload bytes it stands for beyond what it carries. Every wire charges a frame
 * its full length (`NodeRuntime.transmit`), so page batches occupy link time at the wire's rate and
 * queue with other traffic, at every hop, as the real bytes would.
 *
 * Recognised: a vMotion datagram (IPv4, UDP to port {@link VMOTION_UDP_PORT}), bare or inside a
 * GENEVE tunnel on the vMotion VNI, optionally 802.1Q-tagged. Anything else elides nothing.
 */
import { VMOTION_VNI } from '../topology/types.js';
import { ETHERTYPE_IPV4, ETHERTYPE_VLAN } from './ethernet.js';
import { GENEVE_UDP_PORT } from './geneve.js';

/** The UDP port of the vMotion network (vmknic to vmknic). */
export const VMOTION_UDP_PORT = 8000;
/** The size of the elided-length prefix of a vMotion datagram's payload. */
export const ELIDED_PREFIX_BYTES = 4;

/**
 * How many bytes beyond its own a frame stands for: the elided length of a vMotion datagram, bare
 * or tunnelled; 0 for any other frame or one too short to say.
 */
export function elidedBytes(frame: Uint8Array, at = 0, depth = 0): number {
  let eth = at + 12;
  if (frame.length < eth + 2) return 0;
  let type = (frame[eth]! << 8) | frame[eth + 1]!;
  if (type === ETHERTYPE_VLAN) {
    eth += 4;
    if (frame.length < eth + 2) return 0;
    type = (frame[eth]! << 8) | frame[eth + 1]!;
  }
  if (type !== ETHERTYPE_IPV4) return 0;
  const ip = eth + 2;
  if (frame.length < ip + 20 || frame[ip + 9] !== 17) return 0;
  const udp = ip + (frame[ip]! & 0x0f) * 4;
  if (frame.length < udp + 8) return 0;
  const dstPort = (frame[udp + 2]! << 8) | frame[udp + 3]!;
  const payload = udp + 8;
  if (dstPort === VMOTION_UDP_PORT) {
    if (frame.length < payload + ELIDED_PREFIX_BYTES) return 0;
    return ((frame[payload]! << 24) >>> 0) + (frame[payload + 1]! << 16) + (frame[payload + 2]! << 8) + frame[payload + 3]!;
  }
  if (dstPort !== GENEVE_UDP_PORT || depth > 0 || frame.length < payload + 8) return 0;
  const vni = (frame[payload + 4]! << 16) | (frame[payload + 5]! << 8) | frame[payload + 6]!;
  if (vni !== VMOTION_VNI) return 0;
  return elidedBytes(frame, payload + 8 + (frame[payload]! & 0x3f) * 4, depth + 1);
}

/** The four bytes that start a vMotion datagram's payload: `bytes` elided, big-endian. */
export function elidedPrefix(bytes: number): Uint8Array {
  const prefix = new Uint8Array(ELIDED_PREFIX_BYTES);
  new DataView(prefix.buffer).setUint32(0, bytes);
  return prefix;
}
