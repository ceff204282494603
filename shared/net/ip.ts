/**
 * IPv4 and IPv6 addresses and prefixes.
 *
 * Like MAC addresses, IP addresses travel as canonical text: dotted quad for IPv4 and RFC 5952
 * text for IPv6 (lowercase, no leading zeros, the longest run of two or more zero groups written
 * as `::`), so that two spellings of one address compare equal as strings once normalised.
 */
import { AddressError } from './errors.js';
import { ipv6MulticastMacFromBytes, parseMac } from './mac.js';
import type { MacAddress } from './mac.js';

/** An IPv4 address as dotted-quad text, e.g. `192.0.2.1`. */
export type Ipv4Address = string;
/** An IPv6 address as RFC 5952 text, e.g. `2001:db8::1`. */
export type Ipv6Address = string;
/** Either family, as text. */
export type IpAddress = string;
/** Address family, named by IP version. */
export type IpFamily = 4 | 6;

/**
 * Addresses recur (every frame a host sends names the same few), so each distinct text is parsed
 * once per family. Bounded: a run that sees more distinct addresses starts the memo afresh.
 */
const MEMO_LIMIT = 4096;
const v4Memo = new Map<string, Uint8Array>();
const v6Memo = new Map<string, Uint8Array>();
const cidrMemo = new Map<string, Cidr>();

function memo<T>(map: Map<string, T>, text: string, parse: (text: string) => T): T {
  let value = map.get(text);
  if (value === undefined) {
    value = parse(text);
    if (map.size >= MEMO_LIMIT) map.clear();
    map.set(text, value);
  }
  return value;
}

/**
 * The 4 or 16 bytes of an address of either family, parsed once per distinct text and shared:
 * read them, never write them (`parseIp` gives a copy of one's own). Throws as parseIp does.
 */
export function ipBytes(text: string): Uint8Array {
  return text.includes(':') ? memo(v6Memo, text, parseIpv6Text) : memo(v4Memo, text, parseIpv4Text);
}

/** Like `ipBytes` for IPv4 text only: throws as parseIpv4 does for anything else. */
export function ipv4Bytes(text: string): Uint8Array {
  return memo(v4Memo, text, parseIpv4Text);
}

/**
 * Parses a dotted quad into 4 bytes. Leading zeros are rejected because some stacks read
 * `010` as octal; accepting it would make the same text mean different hosts.
 */
export function parseIpv4(text: string): Uint8Array {
  return memo(v4Memo, text, parseIpv4Text).slice();
}

function parseIpv4Text(text: string): Uint8Array {
  const parts = text.split('.');
  const out = new Uint8Array(4);
  const bad = (): AddressError =>
    new AddressError('bad-ipv4', text, `IPv4 address ${JSON.stringify(text)} is not four decimal octets from 0 to 255`);
  if (parts.length !== 4) throw bad();
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) throw bad();
    const value = Number(part);
    if (value > 255) throw bad();
    out[i] = value;
  }
  return out;
}

/** Formats the 4 bytes at `offset` as a dotted quad. */
export function formatIpv4(bytes: Uint8Array, offset = 0): Ipv4Address {
  return `${bytes[offset] ?? 0}.${bytes[offset + 1] ?? 0}.${bytes[offset + 2] ?? 0}.${bytes[offset + 3] ?? 0}`;
}

/**
 * Parses IPv6 text (RFC 4291 section 2.2: full, `::`-compressed, or with a trailing dotted quad)
 * into 16 bytes. Zone ids (`%eth0`) are rejected: they are not part of an address on the wire.
 */
export function parseIpv6(text: string): Uint8Array {
  return memo(v6Memo, text, parseIpv6Text).slice();
}

function parseIpv6Text(text: string): Uint8Array {
  const bad = (why: string): AddressError => new AddressError('bad-ipv6', text, `IPv6 address ${JSON.stringify(text)} ${why}`);
  const halves = text.split('::');
  if (halves.length > 2) throw bad('has more than one "::"');
  const compressed = halves.length === 2;

  const parseGroups = (part: string, allowDottedTail: boolean): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (allowDottedTail && i === pieces.length - 1 && piece.includes('.')) {
        let v4: Uint8Array;
        try {
          v4 = parseIpv4(piece);
        } catch {
          throw bad('has an invalid embedded IPv4 address');
        }
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) throw bad('has a group that is not 1 to 4 hex digits');
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };

  const head = parseGroups(halves[0]!, !compressed);
  const tail = compressed ? parseGroups(halves[1]!, true) : [];
  let groups: number[];
  if (compressed) {
    if (head.length + tail.length > 7) throw bad('has "::" but already 8 groups');
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) throw bad('does not have 8 groups');
    groups = head;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = groups[i]! >>> 8;
    out[i * 2 + 1] = groups[i]! & 0xff;
  }
  return out;
}

/**
 * Formats the 16 bytes at `offset` as RFC 5952 text. IPv4-mapped addresses (::ffff:0:0/96) keep
 * their dotted tail, as RFC 5952 section 5 recommends.
 */
export function formatIpv6(bytes: Uint8Array, offset = 0): Ipv6Address {
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push(((bytes[offset + i * 2] ?? 0) << 8) | (bytes[offset + i * 2 + 1] ?? 0));

  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return `::ffff:${formatIpv4(bytes, offset + 12)}`;

  // Longest run of zero groups, first one on a tie; a single zero group is not compressed.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hexOf = (list: number[]): string => list.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hexOf(groups);
  return `${hexOf(groups.slice(0, bestStart))}::${hexOf(groups.slice(bestStart + bestLength))}`;
}

/** True if `text` is a valid IPv4 address. */
export function isIpv4(text: string): boolean {
  try {
    parseIpv4(text);
    return true;
  } catch {
    return false;
  }
}

/** True if `text` is a valid IPv6 address. */
export function isIpv6(text: string): boolean {
  try {
    parseIpv6(text);
    return true;
  } catch {
    return false;
  }
}

/** The family of an address written as text; throws AddressError if it is neither. */
export function ipFamily(text: string): IpFamily {
  // A colon can only appear in IPv6 text, so the family is known before full parsing.
  return ipBytes(text).length === 4 ? 4 : 6;
}

/** Parses either family into 4 or 16 bytes. */
export function parseIp(text: string): Uint8Array {
  return ipBytes(text).slice();
}

/** Formats 4 or 16 bytes as an address of the matching family. */
export function formatIp(bytes: Uint8Array): IpAddress {
  if (bytes.length === 4) return formatIpv4(bytes);
  if (bytes.length === 16) return formatIpv6(bytes);
  throw new AddressError('bad-ipv6', `${bytes.length} bytes`, `An IP address is 4 or 16 bytes, not ${bytes.length}`);
}

/** Returns the canonical text of an address of either family. */
export function normalizeIp(text: string): IpAddress {
  return formatIp(parseIp(text));
}

/** An IPv4 address as an unsigned 32-bit number, for range arithmetic and sorting. */
export function ipv4ToUint32(address: Ipv4Address): number {
  const b = parseIpv4(address);
  return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
}

/** The IPv4 address for an unsigned 32-bit number. */
export function uint32ToIpv4(value: number): Ipv4Address {
  return `${(value >>> 24) & 0xff}.${(value >>> 16) & 0xff}.${(value >>> 8) & 0xff}.${value & 0xff}`;
}

/** True when the first `prefixLength` bits of two equal-length addresses agree. */
export function prefixMatch(a: Uint8Array, b: Uint8Array, prefixLength: number): boolean {
  if (a.length !== b.length || prefixLength < 0 || prefixLength > a.length * 8) return false;
  const whole = prefixLength >>> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const rest = prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[whole]! ^ b[whole]!) & mask) === 0;
}

/** A parsed prefix such as `10.1.0.5/24`: the address as written and its network. */
export interface Cidr {
  readonly family: IpFamily;
  /** The address as written, canonicalised (host bits kept: `10.1.0.5/24` names an interface address). */
  readonly address: IpAddress;
  /** The network address with host bits cleared. */
  readonly network: IpAddress;
  readonly prefixLength: number;
  /** The network address bytes (host bits cleared). */
  readonly networkBytes: Uint8Array;
}

/**
 * Parses `address/prefix`. Host bits may be set (interface addresses are written that way);
 * `network` gives the prefix itself. A bare address is treated as a host prefix (/32 or /128).
 */
export function parseCidr(text: string): Cidr {
  return memo(cidrMemo, text, parseCidrText);
}

function parseCidrText(text: string): Cidr {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  let bytes: Uint8Array;
  try {
    bytes = ipBytes(addressText);
  } catch {
    throw new AddressError('bad-cidr', text, `CIDR ${JSON.stringify(text)} does not start with a valid IP address`);
  }
  const bits = bytes.length * 8;
  let prefixLength = bits;
  if (slash >= 0) {
    const prefixText = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(prefixText) || Number(prefixText) > bits) {
      throw new AddressError('bad-cidr', text, `CIDR ${JSON.stringify(text)} has a prefix length that is not 0 to ${bits}`);
    }
    prefixLength = Number(prefixText);
  }
  const networkBytes = new Uint8Array(bytes);
  for (let bit = prefixLength; bit < bits; bit++) networkBytes[bit >>> 3]! &= ~(0x80 >>> (bit & 7));
  return {
    family: bytes.length === 4 ? 4 : 6,
    address: formatIp(bytes),
    network: formatIp(networkBytes),
    prefixLength,
    networkBytes,
  };
}

/** Formats a prefix as `network/length`. */
export function formatCidr(cidr: Cidr): string {
  return `${cidr.network}/${cidr.prefixLength}`;
}

/** True when `address` lies inside `cidr` (an address of the other family never does). */
export function cidrContains(cidr: Cidr | string, address: IpAddress | Uint8Array): boolean {
  const prefix = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
  const bytes = typeof address === 'string' ? ipBytes(address) : address;
  return prefixMatch(prefix.networkBytes, bytes, prefix.prefixLength);
}

/** The solicited-node multicast group of an IPv6 address (RFC 4291 section 2.7.1): ff02::1:ffXX:XXXX. */
export function solicitedNodeMulticast(address: Ipv6Address): Ipv6Address {
  const bytes = parseIpv6(address);
  const group = parseIpv6('ff02::1:ff00:0');
  group[13] = bytes[13]!;
  group[14] = bytes[14]!;
  group[15] = bytes[15]!;
  return formatIpv6(group);
}

/** The Ethernet destination MAC for an IPv6 multicast group (33:33 + its last 32 bits). */
export function ipv6MulticastMac(group: Ipv6Address): MacAddress {
  return ipv6MulticastMacFromBytes(parseIpv6(group));
}

/** True for IPv6 multicast (ff00::/8). */
export function isIpv6Multicast(address: Ipv6Address): boolean {
  return parseIpv6(address)[0] === 0xff;
}

/**
 * The fe80::/64 link-local address with a modified EUI-64 interface id built from a MAC
 * (RFC 4291 appendix A): the address a host autoconfigures on a link.
 */
export function ipv6LinkLocalFromMac(mac: MacAddress): Ipv6Address {
  const m = parseMac(mac);
  const bytes = new Uint8Array(16);
  bytes[0] = 0xfe;
  bytes[1] = 0x80;
  bytes.set([m[0]! ^ 0x02, m[1]!, m[2]!, 0xff, 0xfe, m[3]!, m[4]!, m[5]!], 8);
  return formatIpv6(bytes);
}
