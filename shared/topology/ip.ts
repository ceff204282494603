/**
 * IPv4 and IPv6 addresses and prefixes, enough to validate a topology: parse, canonical form,
 * subnet membership. Addresses are bigints for both families so that one set of helpers serves
 * both; nothing here depends on Node's `net` module, so it runs in browsers too.
 */

/** 4 for IPv4, 6 for IPv6. */
export type IpFamily = 4 | 6;

/** An address with an optional prefix length, as written in `10.0.1.11/24` or `fd00:1::11`. */
export interface IpWithPrefix {
  readonly family: IpFamily;
  readonly address: bigint;
  /** Prefix length, or null when the text had none. */
  readonly prefix: number | null;
}

/** Bits in an address of the family. */
export function addressBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** Parses dotted-quad IPv4 (`10.0.1.11`); leading zeros are rejected as ambiguous. Null if invalid. */
export function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^(?:0|[1-9]\d{0,2})$/.test(part)) return null;
    const octet = Number(part);
    if (octet > 255) return null;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

function parseIpv6Groups(text: string): bigint[] | null {
  if (text === '') return [];
  const groups: bigint[] = [];
  const parts = text.split(':');
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] ?? '';
    if (i === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      groups.push(v4 >> 16n, v4 & 0xffffn);
    } else {
      if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
      groups.push(BigInt(`0x${part}`));
    }
  }
  return groups;
}

/** Parses IPv6 (`fd00:1::11`, `::1`, `::ffff:10.0.0.1`); no zone ids. Null if invalid. */
export function parseIpv6(text: string): bigint | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  let groups: bigint[];
  if (halves.length === 2) {
    const head = parseIpv6Groups(halves[0] ?? '');
    const tail = parseIpv6Groups(halves[1] ?? '');
    if (head === null || tail === null || head.length + tail.length > 7) return null;
    groups = [...head, ...Array<bigint>(8 - head.length - tail.length).fill(0n), ...tail];
  } else {
    const all = parseIpv6Groups(text);
    if (all === null || all.length !== 8) return null;
    groups = all;
  }
  return groups.reduce((acc, group) => (acc << 16n) | group, 0n);
}

/** Parses an address of the given family. Null if invalid. */
export function parseIp(text: string, family: IpFamily): bigint | null {
  return family === 4 ? parseIpv4(text) : parseIpv6(text);
}

/** Parses `address` or `address/prefix` of the given family. Null if either part is invalid. */
export function parseIpWithPrefix(text: string, family: IpFamily): IpWithPrefix | null {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const address = parseIp(addressText, family);
  if (address === null) return null;
  if (slash < 0) return { family, address, prefix: null };
  const prefixText = text.slice(slash + 1);
  if (!/^(?:0|[1-9]\d{0,2})$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix > addressBits(family)) return null;
  return { family, address, prefix };
}

/** The mask of a prefix length, e.g. /24 → 0xffffff00. */
export function prefixMask(prefix: number, family: IpFamily): bigint {
  const bits = BigInt(addressBits(family));
  const all = (1n << bits) - 1n;
  return (all << (bits - BigInt(prefix))) & all;
}

/** The network address of `address` under `prefix` (host bits cleared). */
export function networkAddress(address: bigint, prefix: number, family: IpFamily): bigint {
  return address & prefixMask(prefix, family);
}

/** The last address of the subnet (the IPv4 broadcast address). */
export function lastAddress(address: bigint, prefix: number, family: IpFamily): bigint {
  const bits = BigInt(addressBits(family));
  const all = (1n << bits) - 1n;
  return networkAddress(address, prefix, family) | (all ^ prefixMask(prefix, family));
}

/** True when `address` lies in the subnet `network/prefix`. */
export function inSubnet(address: bigint, network: bigint, prefix: number, family: IpFamily): boolean {
  return networkAddress(address, prefix, family) === networkAddress(network, prefix, family);
}

/** Canonical text of an address: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(address: bigint, family: IpFamily): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((address >> BigInt(112 - 16 * i)) & 0xffffn));
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
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
