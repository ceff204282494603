/**
 * MAC (EUI-48) addresses.
 *
 * Addresses travel through the library as canonical text, `aa:bb:cc:dd:ee:ff` (lowercase, colon
 * separated), because that is what topology files, logs and the UI show and compare; they become
 * bytes only when a frame is encoded.
 */
import { AddressError } from './errors.js';
import { fnv1a32, mix32 } from './hash.js';
import { utf8Encode } from './bytes.js';

/** A MAC address in canonical form: six lowercase hex pairs separated by colons. */
export type MacAddress = string;

/** The all-ones broadcast address. */
export const BROADCAST_MAC: MacAddress = 'ff:ff:ff:ff:ff:ff';

/** The all-zero address: the unknown target hardware address in ARP requests. */
export const ZERO_MAC: MacAddress = '00:00:00:00:00:00';

/** Length of a MAC address in bytes. */
export const MAC_LENGTH = 6;

const MAC_TEXT = /^([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})[:-]([0-9a-fA-F]{2})$/;

/**
 * Addresses recur (a run has a few hundred, each on every frame it sends), so each distinct text
 * is parsed once. Bounded: a run that sees more distinct addresses starts the memo afresh.
 */
const MEMO_LIMIT = 4096;
const macMemo = new Map<string, Uint8Array>();
const canonicalMemo = new Map<string, MacAddress>();

/**
 * The 6 bytes of a MAC address, parsed once per distinct text and shared: read them, never
 * write them (`parseMac` gives a copy of one's own). Throws AddressError as parseMac does.
 */
export function macBytes(text: string): Uint8Array {
  let bytes = macMemo.get(text);
  if (bytes === undefined) {
    bytes = parseMacText(text);
    if (macMemo.size >= MEMO_LIMIT) macMemo.clear();
    macMemo.set(text, bytes);
  }
  return bytes;
}

/**
 * Parses `aa:bb:cc:dd:ee:ff` or `AA-BB-CC-DD-EE-FF` into 6 bytes.
 * Mixed separators and one-digit groups are rejected: they are almost always typos.
 */
export function parseMac(text: string): Uint8Array {
  return macBytes(text).slice();
}

function parseMacText(text: string): Uint8Array {
  const match = MAC_TEXT.exec(text);
  if (match === null || (text.includes(':') && text.includes('-'))) {
    throw new AddressError('bad-mac', text, `MAC address ${JSON.stringify(text)} is not six hex pairs separated by colons or dashes`);
  }
  const out = new Uint8Array(MAC_LENGTH);
  for (let i = 0; i < MAC_LENGTH; i++) out[i] = parseInt(match[i + 1]!, 16);
  return out;
}

/** Formats the 6 bytes at `offset` as a canonical MAC address. */
export function formatMac(bytes: Uint8Array, offset = 0): MacAddress {
  let text = '';
  for (let i = 0; i < MAC_LENGTH; i++) {
    if (i > 0) text += ':';
    text += (bytes[offset + i] ?? 0).toString(16).padStart(2, '0');
  }
  return text;
}

/** Returns the canonical form of a MAC address written in any accepted form. */
export function normalizeMac(text: string): MacAddress {
  let canonical = canonicalMemo.get(text);
  if (canonical === undefined) {
    canonical = formatMac(macBytes(text));
    if (canonicalMemo.size >= MEMO_LIMIT) canonicalMemo.clear();
    canonicalMemo.set(text, canonical);
  }
  return canonical;
}

/** Writes a MAC address into `target` at `offset`. */
export function writeMac(target: Uint8Array, offset: number, mac: MacAddress | Uint8Array): void {
  target.set(typeof mac === 'string' ? macBytes(mac) : mac.subarray(0, MAC_LENGTH), offset);
}

function firstOctet(mac: MacAddress | Uint8Array): number {
  return typeof mac === 'string' ? macBytes(mac)[0]! : (mac[0] ?? 0);
}

/** True for ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(mac: MacAddress | Uint8Array): boolean {
  const bytes = typeof mac === 'string' ? macBytes(mac) : mac;
  for (let i = 0; i < MAC_LENGTH; i++) if (bytes[i] !== 0xff) return false;
  return true;
}

/** True when the I/G bit is set: a group address (multicast, including broadcast) that a switch floods. */
export function isMulticastMac(mac: MacAddress | Uint8Array): boolean {
  return (firstOctet(mac) & 0x01) !== 0;
}

/** True when the I/G bit is clear: an address of exactly one interface. */
export function isUnicastMac(mac: MacAddress | Uint8Array): boolean {
  return !isMulticastMac(mac);
}

/** True when the U/L bit is set: the address was assigned locally, not burned in by a vendor. */
export function isLocallyAdministeredMac(mac: MacAddress | Uint8Array): boolean {
  return (firstOctet(mac) & 0x02) !== 0;
}

/**
 * A deterministic locally administered unicast MAC derived from a string (e.g. `host1/vmnic0`).
 *
 * Emulated NICs need stable addresses that do not depend on run order, and setting the U/L bit
 * keeps them out of every vendor's OUI space so they can never collide with a real device.
 */
export function macFromString(seed: string): MacAddress {
  const input = utf8Encode(seed);
  // Two independently seeded hashes give 64 bits, of which 46 are used after fixing the two flag bits.
  const high = mix32(fnv1a32(input));
  const low = mix32(fnv1a32(input, 0x050c5d1f));
  const bytes = new Uint8Array([
    ((high >>> 24) & 0xfc) | 0x02, // U/L set (local), I/G clear (unicast)
    (high >>> 16) & 0xff,
    (high >>> 8) & 0xff,
    high & 0xff,
    (low >>> 8) & 0xff,
    low & 0xff,
  ]);
  return formatMac(bytes);
}

/**
 * The Ethernet multicast MAC for an IPv6 multicast group (RFC 2464 section 7): 33:33 followed by
 * the group's last four bytes. `group` is the 16 address bytes.
 */
export function ipv6MulticastMacFromBytes(group: Uint8Array): MacAddress {
  const bytes = new Uint8Array([0x33, 0x33, group[12] ?? 0, group[13] ?? 0, group[14] ?? 0, group[15] ?? 0]);
  return formatMac(bytes);
}
