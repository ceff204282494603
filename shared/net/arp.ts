/**
 * ARP for IPv4 over Ethernet (RFC 826). Only hardware type 1 with protocol 0x0800 is handled:
 * that is the only combination an Ethernet/IPv4 emulator ever sends or needs to answer.
 */
import { checkRange, clampEnd, need, readU16, readU8, writeU16 } from './bytes.js';
import { FrameError } from './errors.js';
import { formatIpv4, parseIpv4 } from './ip.js';
import type { Ipv4Address } from './ip.js';
import { formatMac, writeMac } from './mac.js';
import type { MacAddress } from './mac.js';
import { ETHERTYPE_IPV4 } from './ethernet.js';

/** ARP operation: who has targetIp? */
export const ARP_REQUEST = 1;
/** ARP operation: senderIp is at senderMac. */
export const ARP_REPLY = 2;
/** Length of an Ethernet/IPv4 ARP packet. */
export const ARP_PACKET_LENGTH = 28;

const HARDWARE_ETHERNET = 1;

/** An Ethernet/IPv4 ARP packet. */
export interface ArpPacket {
  /** ARP_REQUEST or ARP_REPLY. */
  readonly operation: number;
  readonly senderMac: MacAddress;
  readonly senderIp: Ipv4Address;
  /** 00:00:00:00:00:00 in a request: the address being asked for. */
  readonly targetMac: MacAddress;
  readonly targetIp: Ipv4Address;
}

/** Encodes an ARP packet (28 bytes; the Ethernet layer pads it). */
export function encodeArp(packet: ArpPacket): Uint8Array {
  checkRange('operation', packet.operation, 1, 2);
  const out = new Uint8Array(ARP_PACKET_LENGTH);
  writeU16(out, 0, HARDWARE_ETHERNET);
  writeU16(out, 2, ETHERTYPE_IPV4);
  out[4] = 6;
  out[5] = 4;
  writeU16(out, 6, packet.operation);
  writeMac(out, 8, packet.senderMac);
  out.set(parseIpv4(packet.senderIp), 14);
  writeMac(out, 18, packet.targetMac);
  out.set(parseIpv4(packet.targetIp), 24);
  return out;
}

/** Decodes an ARP packet at `offset`; bytes after the 28 (Ethernet padding) are ignored. */
export function decodeArp(bytes: Uint8Array, offset = 0, end?: number): ArpPacket {
  const limit = clampEnd(bytes, end);
  need(offset, 8, limit, 'arp', 'ARP fixed header');
  const hardwareType = readU16(bytes, offset);
  const protocolType = readU16(bytes, offset + 2);
  const hardwareLength = readU8(bytes, offset + 4);
  const protocolLength = readU8(bytes, offset + 5);
  if (hardwareType !== HARDWARE_ETHERNET || protocolType !== ETHERTYPE_IPV4) {
    throw new FrameError(
      'unsupported',
      'arp',
      `ARP hardware/protocol type is ${hardwareType}/0x${protocolType.toString(16).padStart(4, '0')}, only Ethernet/IPv4 (1/0x0800) is handled`,
      offset,
    );
  }
  if (hardwareLength !== 6 || protocolLength !== 4) {
    throw new FrameError('bad-length', 'arp', `ARP address lengths are ${hardwareLength}/${protocolLength}, expected 6/4 for Ethernet/IPv4`, offset + 4);
  }
  need(offset, ARP_PACKET_LENGTH, limit, 'arp', 'ARP packet');
  const operation = readU16(bytes, offset + 6);
  if (operation !== ARP_REQUEST && operation !== ARP_REPLY) {
    throw new FrameError('unsupported', 'arp', `ARP operation is ${operation}, only request (1) and reply (2) are handled`, offset + 6);
  }
  return {
    operation,
    senderMac: formatMac(bytes, offset + 8),
    senderIp: formatIpv4(bytes, offset + 14),
    targetMac: formatMac(bytes, offset + 18),
    targetIp: formatIpv4(bytes, offset + 24),
  };
}
