/**
 * Flow hashing for tunnel entropy. A GENEVE sender derives the outer UDP source port from the
 * inner flow so that ECMP routers spread different flows over different paths while keeping each
 * flow on one path (no reordering), as RFC 8926 section 3.3 recommends.
 *
 * The key extraction is deliberately lenient and never throws: a frame too odd to parse still
 * gets a stable hash of its Ethernet header, because a tunnel must encapsulate whatever it is given.
 */
import { fnv1a32, mix32 } from './hash.js';

/** Start of the ephemeral port range RFC 8926 recommends for the outer source port. */
export const FLOW_PORT_MIN = 49152;
/** End of that range. */
export const FLOW_PORT_MAX = 65535;

function u16(bytes: Uint8Array, at: number): number {
  return ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0);
}

/**
 * The bytes that identify an Ethernet frame's flow: the IP 5-tuple when there is one (addresses,
 * protocol, and TCP/UDP/SCTP ports of unfragmented packets), otherwise the MAC addresses and EtherType.
 */
export function flowKey(frame: Uint8Array): Uint8Array {
  if (frame.length < 14) return frame.slice();
  let at = 12;
  let type = u16(frame, at);
  if (type === 0x8100 && frame.length >= 18) {
    at = 16;
    type = u16(frame, at);
  }
  const ip = at + 2;
  const hasPorts = (protocol: number): boolean => protocol === 6 || protocol === 17 || protocol === 132;
  if (type === 0x0800 && frame.length >= ip + 20 && (frame[ip]! >>> 4) === 4) {
    const ihl = (frame[ip]! & 0x0f) * 4;
    const protocol = frame[ip + 9]!;
    const fragmented = (u16(frame, ip + 6) & 0x3fff) !== 0;
    const key = new Uint8Array(13);
    key.set(frame.subarray(ip + 12, ip + 20), 0);
    key[8] = protocol;
    if (!fragmented && hasPorts(protocol) && ihl >= 20 && frame.length >= ip + ihl + 4) key.set(frame.subarray(ip + ihl, ip + ihl + 4), 9);
    return key;
  }
  if (type === 0x86dd && frame.length >= ip + 40 && (frame[ip]! >>> 4) === 6) {
    const protocol = frame[ip + 6]!;
    const key = new Uint8Array(37);
    key.set(frame.subarray(ip + 8, ip + 40), 0);
    key[32] = protocol;
    if (hasPorts(protocol) && frame.length >= ip + 44) key.set(frame.subarray(ip + 40, ip + 44), 33);
    return key;
  }
  return frame.slice(0, at + 2);
}

/** A well-mixed 32-bit hash of the frame's flow key. */
export function flowHash(frame: Uint8Array): number {
  return mix32(fnv1a32(flowKey(frame)));
}

/** A UDP source port in [min, max] chosen by the inner frame's flow: stable per flow, spread across flows. */
export function flowSourcePort(frame: Uint8Array, min = FLOW_PORT_MIN, max = FLOW_PORT_MAX): number {
  return min + (flowHash(frame) % (max - min + 1));
}
