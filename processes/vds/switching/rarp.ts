/**
 * RARP announcements (RFC 903 framing), what ESXi sends for a VM's MAC after a vMotion or a
 * failover: a broadcast with the VM's MAC as source, so every learning switch on the way moves
 * the MAC to the port it arrived on. Nobody is expected to answer.
 */
import { writeU16 } from '../../../shared/net/bytes.js';
import { encodeEthernet, ETHERTYPE_IPV4 } from '../../../shared/net/ethernet.js';
import type { VlanTag } from '../../../shared/net/ethernet.js';
import { BROADCAST_MAC, writeMac } from '../../../shared/net/mac.js';
import type { MacAddress } from '../../../shared/net/mac.js';

/** EtherType of RARP. */
export const ETHERTYPE_RARP = 0x8035;
/** RARP operation: request reverse (who am I?). */
export const RARP_REQUEST_REVERSE = 3;

/** Builds the RARP announcement of `mac`: sender and target hardware address both `mac`, addresses 0.0.0.0. */
export function buildRarpAnnouncement(mac: MacAddress, vlan?: VlanTag | number): Uint8Array {
  const packet = new Uint8Array(28);
  writeU16(packet, 0, 1); // Ethernet
  writeU16(packet, 2, ETHERTYPE_IPV4);
  packet[4] = 6;
  packet[5] = 4;
  writeU16(packet, 6, RARP_REQUEST_REVERSE);
  writeMac(packet, 8, mac);
  writeMac(packet, 18, mac);
  return encodeEthernet({ dst: BROADCAST_MAC, src: mac, etherType: ETHERTYPE_RARP, payload: packet, ...(vlan !== undefined ? { vlan } : {}) });
}
