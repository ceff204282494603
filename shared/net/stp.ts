/**
 * Rapid Spanning Tree BPDUs (IEEE 802.1D-2004 clause 9, RST BPDU): what switches that run a
 * spanning tree tell their neighbours. An 802.3 frame (a length, not an EtherType) to the bridge
 * group address, an LLC header (DSAP 0x42, SSAP 0x42, UI), then 36 bytes: protocol 0, version 2,
 * type 0x02, flags, root id, root path cost, bridge id, port id and four timers in 1/256 s.
 * Wireshark decodes these frames as STP.
 */
import { need, readU16, readU32, readU8, writeU16, writeU32 } from './bytes.js';
import { FrameError } from './errors.js';
import { decodeEthernet, ETHERNET_MIN_FRAME_LENGTH } from './ethernet.js';
import { formatMac, writeMac } from './mac.js';
import type { MacAddress } from './mac.js';

/** The bridge group address: frames sent here are consumed by every bridge, never forwarded. */
export const STP_MULTICAST_MAC: MacAddress = '01:80:c2:00:00:00';

/** LLC header bytes 0x42 0x42 0x03 plus the 36-byte RST BPDU. */
const LLC_LENGTH = 3;
const RST_BPDU_LENGTH = 36;
const HEADER = 14;

/** A port's role as a BPDU states it (flags bits 2-3). */
export type StpRole = 'unknown' | 'alternate' | 'root' | 'designated';
const ROLES: readonly StpRole[] = ['unknown', 'alternate', 'root', 'designated'];

/** A bridge identifier: 4-bit priority (a multiple of 4096 up to 61440), then the bridge MAC. */
export interface BridgeId {
  readonly priority: number;
  readonly mac: MacAddress;
}

/** The fields of an RST BPDU. Times are in seconds, as the BPDU carries them (1/256 s units). */
export interface RstBpdu {
  readonly topologyChange: boolean;
  readonly proposal: boolean;
  readonly role: StpRole;
  readonly learning: boolean;
  readonly forwarding: boolean;
  readonly agreement: boolean;
  readonly root: BridgeId;
  readonly rootPathCost: number;
  readonly bridge: BridgeId;
  /** Port priority (high 4 bits, a multiple of 16 up to 240) and port number (12 bits). */
  readonly portId: number;
  readonly messageAge: number;
  readonly maxAge: number;
  readonly helloTime: number;
  readonly forwardDelay: number;
}

/** A bridge id as 16 hex digits (priority, MAC): ids compare as these strings do, lowest best. */
export function bridgeIdText(id: BridgeId): string {
  return `${id.priority.toString(16).padStart(4, '0')}${id.mac.replace(/:/g, '')}`;
}

function writeBridgeId(out: Uint8Array, offset: number, id: BridgeId): void {
  writeU16(out, offset, id.priority & 0xf000);
  writeMac(out, offset + 2, id.mac);
}

function readBridgeId(bytes: Uint8Array, offset: number): BridgeId {
  return { priority: readU16(bytes, offset) & 0xf000, mac: formatMac(bytes, offset + 2) };
}

const toUnits = (seconds: number): number => Math.max(0, Math.min(0xffff, Math.round(seconds * 256)));

/** An Ethernet frame carrying `bpdu`, from `src`, padded to the minimum frame length. */
export function encodeRstBpduFrame(src: MacAddress, bpdu: RstBpdu): Uint8Array {
  const out = new Uint8Array(Math.max(ETHERNET_MIN_FRAME_LENGTH, HEADER + LLC_LENGTH + RST_BPDU_LENGTH));
  writeMac(out, 0, STP_MULTICAST_MAC);
  writeMac(out, 6, src);
  writeU16(out, 12, LLC_LENGTH + RST_BPDU_LENGTH);
  out.set([0x42, 0x42, 0x03], HEADER);
  const b = HEADER + LLC_LENGTH;
  writeU16(out, b, 0);
  out[b + 2] = 2;
  out[b + 3] = 0x02;
  out[b + 4] =
    (bpdu.topologyChange ? 0x01 : 0) |
    (bpdu.proposal ? 0x02 : 0) |
    (ROLES.indexOf(bpdu.role) << 2) |
    (bpdu.learning ? 0x10 : 0) |
    (bpdu.forwarding ? 0x20 : 0) |
    (bpdu.agreement ? 0x40 : 0);
  writeBridgeId(out, b + 5, bpdu.root);
  writeU32(out, b + 13, bpdu.rootPathCost);
  writeBridgeId(out, b + 17, bpdu.bridge);
  writeU16(out, b + 25, bpdu.portId);
  writeU16(out, b + 27, toUnits(bpdu.messageAge));
  writeU16(out, b + 29, toUnits(bpdu.maxAge));
  writeU16(out, b + 31, toUnits(bpdu.helloTime));
  writeU16(out, b + 33, toUnits(bpdu.forwardDelay));
  out[b + 35] = 0;
  return out;
}

/** Whether a frame is addressed to the bridge group address with an 802.3 length (a BPDU, or meant as one). */
export function isBpduFrame(bytes: Uint8Array): boolean {
  if (bytes.length < HEADER) return false;
  return formatMac(bytes, 0) === STP_MULTICAST_MAC && readU16(bytes, 12) <= 1500;
}

/**
 * Decodes an RST BPDU frame. Throws FrameError naming the field for anything else: a truncated
 * frame, another LLC header, protocol or BPDU type (a configuration or TCN BPDU of plain STP is
 * `unsupported`).
 */
export function decodeRstBpduFrame(bytes: Uint8Array): RstBpdu {
  const eth = decodeEthernet(bytes);
  const b = eth.payloadOffset;
  need(b, LLC_LENGTH + RST_BPDU_LENGTH, bytes.length, 'stp', 'LLC header and RST BPDU');
  if (bytes[b] !== 0x42 || bytes[b + 1] !== 0x42 || bytes[b + 2] !== 0x03) throw new FrameError('malformed', 'stp', 'LLC header is not 42 42 03 (spanning tree)', b);
  const p = b + LLC_LENGTH;
  if (readU16(bytes, p) !== 0) throw new FrameError('malformed', 'stp', 'protocol identifier is not 0', p);
  const version = readU8(bytes, p + 2);
  const type = readU8(bytes, p + 3);
  if (version !== 2 || type !== 0x02) throw new FrameError('unsupported', 'stp', `BPDU version ${version} type ${type} is not an RST BPDU`, p + 2);
  const flags = readU8(bytes, p + 4);
  return {
    topologyChange: (flags & 0x01) !== 0,
    proposal: (flags & 0x02) !== 0,
    role: ROLES[(flags >> 2) & 0x03]!,
    learning: (flags & 0x10) !== 0,
    forwarding: (flags & 0x20) !== 0,
    agreement: (flags & 0x40) !== 0,
    root: readBridgeId(bytes, p + 5),
    rootPathCost: readU32(bytes, p + 13),
    bridge: readBridgeId(bytes, p + 17),
    portId: readU16(bytes, p + 25),
    messageAge: readU16(bytes, p + 27) / 256,
    maxAge: readU16(bytes, p + 29) / 256,
    helloTime: readU16(bytes, p + 31) / 256,
    forwardDelay: readU16(bytes, p + 33) / 256,
  };
}
