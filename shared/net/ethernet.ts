/**
 * Ethernet II framing with an optional single IEEE 802.1Q tag.
 *
 * Frames here carry no preamble and no FCS, as on a Linux tap or in a pcap: the emulator moves
 * whole frames between processes and a CRC would only be recomputed and discarded.
 */
import { checkRange, clampEnd, need, readU16, writeU16 } from './bytes.js';
import { formatMac, writeMac } from './mac.js';
import type { MacAddress } from './mac.js';

/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** EtherType (TPID) of an IEEE 802.1Q VLAN tag. */
export const ETHERTYPE_VLAN = 0x8100;
/** EtherType of IPv6. */
export const ETHERTYPE_IPV6 = 0x86dd;
/** EtherType of LLDP. */
export const ETHERTYPE_LLDP = 0x88cc;
/** Transparent Ethernet Bridging: the GENEVE protocol type for an inner Ethernet frame. */
export const ETHERTYPE_TRANSPARENT_ETHERNET = 0x6558;

/** Destination, source and type: the untagged Ethernet II header length. */
export const ETHERNET_HEADER_LENGTH = 14;
/** Length of one 802.1Q tag (TPID + TCI). */
export const VLAN_TAG_LENGTH = 4;
/** The smallest frame a NIC sends, without FCS (64 on the wire minus the 4-byte FCS). */
export const ETHERNET_MIN_FRAME_LENGTH = 60;

/** An 802.1Q tag's control information. */
export interface VlanTag {
  /** VLAN id, 0 to 4095 (0 means priority-tagged only). */
  readonly vid: number;
  /** Priority code point, 0 to 7. */
  readonly pcp: number;
  /** Drop eligible indicator. */
  readonly dei: boolean;
}

/** The decoded Ethernet header. `etherType` is the type after the VLAN tag, if there is one. */
export interface EthernetHeader {
  readonly dst: MacAddress;
  readonly src: MacAddress;
  readonly vlan?: VlanTag;
  readonly etherType: number;
  /** 14, or 18 with a VLAN tag. */
  readonly headerLength: number;
}

/** A decoded Ethernet frame: the header and where its payload lies in the buffer. */
export interface DecodedEthernet extends EthernetHeader {
  /** Absolute offset of the payload in the decoded buffer. */
  readonly payloadOffset: number;
  /** The payload (a view into the decoded buffer, not a copy), including any padding. */
  readonly payload: Uint8Array;
}

/** Fields for encodeEthernet. */
export interface EthernetFields {
  readonly dst: MacAddress;
  readonly src: MacAddress;
  /** A tag, or just a VLAN id (priority 0, DEI clear). */
  readonly vlan?: VlanTag | number;
  readonly etherType: number;
  readonly payload: Uint8Array;
  /**
   * Pad with zeros to the 60-byte minimum, as a real NIC does (default true). Receivers must
   * then use the inner length fields, which is exactly the behaviour worth exercising.
   */
  readonly pad?: boolean;
}

/** Normalises the `vlan` shorthand (a bare id) into a full tag. */
export function toVlanTag(vlan: VlanTag | number): VlanTag {
  return typeof vlan === 'number' ? { vid: vlan, pcp: 0, dei: false } : vlan;
}

/** Encodes an Ethernet II frame, with an 802.1Q tag when `vlan` is given. */
export function encodeEthernet(fields: EthernetFields): Uint8Array {
  checkRange('etherType', fields.etherType, 0, 0xffff);
  const tag = fields.vlan === undefined ? undefined : toVlanTag(fields.vlan);
  const headerLength = tag ? ETHERNET_HEADER_LENGTH + VLAN_TAG_LENGTH : ETHERNET_HEADER_LENGTH;
  const unpadded = headerLength + fields.payload.length;
  const length = fields.pad === false ? unpadded : Math.max(unpadded, ETHERNET_MIN_FRAME_LENGTH);
  const out = new Uint8Array(length);
  writeMac(out, 0, fields.dst);
  writeMac(out, 6, fields.src);
  let at = 12;
  if (tag) {
    checkRange('vlan.vid', tag.vid, 0, 4095);
    checkRange('vlan.pcp', tag.pcp, 0, 7);
    writeU16(out, 12, ETHERTYPE_VLAN);
    writeU16(out, 14, (tag.pcp << 13) | (tag.dei ? 0x1000 : 0) | tag.vid);
    at = 16;
  }
  writeU16(out, at, fields.etherType);
  out.set(fields.payload, headerLength);
  return out;
}

/**
 * Decodes the Ethernet header at `offset`. Any EtherType is accepted here (a switch forwards
 * what it does not understand); `decodeFrame` is where unknown types are rejected.
 */
export function decodeEthernet(bytes: Uint8Array, offset = 0, end?: number): DecodedEthernet {
  const limit = clampEnd(bytes, end);
  need(offset, ETHERNET_HEADER_LENGTH, limit, 'ethernet', 'Ethernet header');
  const dst = formatMac(bytes, offset);
  const src = formatMac(bytes, offset + 6);
  let etherType = readU16(bytes, offset + 12);
  let headerLength = ETHERNET_HEADER_LENGTH;
  let vlan: VlanTag | undefined;
  if (etherType === ETHERTYPE_VLAN) {
    need(offset + 14, VLAN_TAG_LENGTH, limit, 'vlan', '802.1Q tag');
    const tci = readU16(bytes, offset + 14);
    vlan = { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff };
    etherType = readU16(bytes, offset + 16);
    headerLength += VLAN_TAG_LENGTH;
  }
  const payloadOffset = offset + headerLength;
  const header = { dst, src, etherType, headerLength, payloadOffset, payload: bytes.subarray(payloadOffset, limit) };
  return vlan ? { ...header, vlan } : header;
}
