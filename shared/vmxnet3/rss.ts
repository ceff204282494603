/**
 * Receive-side scaling as vmxnet3 defines it (Linux `upt1_defs.h`, `vmxnet3_defs.h`): the driver
 * gives the device a Toeplitz key, the kinds of packet to hash and an indirection table; the device
 * hashes each received packet's addresses (and TCP ports), picks the RX queue from the table, and
 * reports the hash and its type in the RX completion descriptor. Pure, browser-safe.
 */
import { Vmxnet3Error } from './errors.js';

/** Hash types the driver enables (UPT1_RSS_HASH_TYPE_*), a bit mask. */
export const RSS_HASH_TYPE = { none: 0x00, ipv4: 0x01, tcpIpv4: 0x02, ipv6: 0x04, tcpIpv6: 0x08 } as const;
/** The one hash function vmxnet3 offers (UPT1_RSS_HASH_FUNC_TOEPLITZ). */
export const RSS_HASH_FUNC_TOEPLITZ = 0x01;
/** Longest key (UPT1_RSS_MAX_KEY_SIZE) and largest indirection table (UPT1_RSS_MAX_IND_TABLE_SIZE). */
export const RSS_MAX_KEY_SIZE = 40;
export const RSS_MAX_IND_TABLE_SIZE = 128;

/** The hash type an RX completion reports (VMXNET3_RCD_RSS_TYPE_*). */
export const RCD_RSS_TYPE = { none: 0, ipv4: 1, tcpIpv4: 2, ipv6: 3, tcpIpv6: 4 } as const;

/**
 * Microsoft's verification key, the one the RSS specification's test vectors use and many drivers
 * default to.
 */
export const MICROSOFT_RSS_KEY: readonly number[] = [
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
  0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/** The RSS configuration the driver writes into the shared area (UPT1_RSSConf), as plain data. */
export interface RssConf {
  /** RSS_HASH_TYPE bits. */
  hashType: number;
  hashFunc: number;
  /** The key's bytes (hashKeySize of them). */
  hashKey: number[];
  /** RX queue per entry (indTableSize of them). */
  indTable: number[];
}

/**
 * The configuration a Linux driver writes with `numRxQueues` queues: every hash type, Toeplitz,
 * the given key, and entry i of a table of 4 entries per queue pointing at queue i mod n (Linux's
 * `ethtool_rxfh_indir_default`).
 */
export function defaultRssConf(numRxQueues: number, key: readonly number[] = MICROSOFT_RSS_KEY): RssConf {
  const size = Math.min(RSS_MAX_IND_TABLE_SIZE, 4 * numRxQueues);
  return {
    hashType: RSS_HASH_TYPE.ipv4 | RSS_HASH_TYPE.tcpIpv4 | RSS_HASH_TYPE.ipv6 | RSS_HASH_TYPE.tcpIpv6,
    hashFunc: RSS_HASH_FUNC_TOEPLITZ,
    hashKey: [...key],
    indTable: Array.from({ length: size }, (_, i) => i % numRxQueues),
  };
}

/** A deep copy of an RSS configuration. */
export function cloneRssConf(conf: RssConf): RssConf {
  return { hashType: conf.hashType, hashFunc: conf.hashFunc, hashKey: [...conf.hashKey], indTable: [...conf.indTable] };
}

/** The differences between what the guest configured and what a device applies, in words (empty when equal). */
export function rssDifferences(guest: RssConf | null, device: RssConf | null): string[] {
  if (guest === null || device === null) return guest === device ? [] : [`RSS: the guest ${guest === null ? 'has no RSS' : 'enabled RSS'}, the device ${device === null ? 'applies none' : 'applies RSS'}`];
  const out: string[] = [];
  if (guest.hashType !== device.hashType) out.push(`RSS hash types: the guest enabled 0x${guest.hashType.toString(16)}, the device hashes 0x${device.hashType.toString(16)}`);
  if (guest.hashFunc !== device.hashFunc) out.push(`RSS hash function: the guest chose ${guest.hashFunc}, the device uses ${device.hashFunc}`);
  if (guest.hashKey.join(',') !== device.hashKey.join(',')) out.push('RSS key: the device hashes with another key than the guest wrote');
  if (guest.indTable.join(',') !== device.indTable.join(',')) out.push(`RSS indirection table: the guest wrote [${guest.indTable.join(', ')}], the device applies [${device.indTable.join(', ')}]`);
  return out;
}

/**
 * Every problem of an RSS configuration for a device with `numRxQueues` queues, in words (empty
 * when it is good): hash function, key size, table size, table entries.
 */
export function rssProblems(conf: RssConf, numRxQueues: number): string[] {
  const problems: string[] = [];
  if (conf.hashFunc !== RSS_HASH_FUNC_TOEPLITZ) problems.push(`RSS hash function is ${conf.hashFunc}, expected ${RSS_HASH_FUNC_TOEPLITZ} (Toeplitz)`);
  if ((conf.hashType & ~0x0f) !== 0) problems.push(`RSS hash type 0x${conf.hashType.toString(16)} has unknown bits`);
  if (conf.hashKey.length < 8 || conf.hashKey.length > RSS_MAX_KEY_SIZE) problems.push(`RSS key is ${conf.hashKey.length} bytes, expected 8 to ${RSS_MAX_KEY_SIZE}`);
  if (conf.hashKey.some((b) => !Number.isInteger(b) || b < 0 || b > 255)) problems.push('RSS key holds a value that is not a byte');
  if (conf.indTable.length < 1 || conf.indTable.length > RSS_MAX_IND_TABLE_SIZE) problems.push(`RSS indirection table has ${conf.indTable.length} entries, expected 1 to ${RSS_MAX_IND_TABLE_SIZE}`);
  const bad = conf.indTable.findIndex((q) => !Number.isInteger(q) || q < 0 || q >= numRxQueues);
  if (bad >= 0) problems.push(`RSS indirection entry ${bad} names queue ${conf.indTable[bad]}, the device has ${numRxQueues}`);
  return problems;
}

/**
 * The Toeplitz hash of `input` under `key`: for every set bit of the input, the 32 key bits that
 * start at that bit position are XORed into the result. The key must be at least 4 bytes longer
 * than the input.
 *
 * @throws Vmxnet3Error `bad-rss` for a key too short for the input
 */
export function toeplitzHash(key: readonly number[], input: readonly number[]): number {
  if (key.length < input.length + 4) throw new Vmxnet3Error('bad-rss', `A Toeplitz key of ${key.length} bytes cannot hash ${input.length} bytes (it needs ${input.length + 4})`);
  let result = 0;
  // The 32-bit window of the key that starts at the current input bit.
  let window = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) >>> 0;
  for (let i = 0; i < input.length; i++) {
    const next = key[i + 4]!;
    for (let bit = 7; bit >= 0; bit--) {
      if ((input[i]! >> bit) & 1) result = (result ^ window) >>> 0;
      window = ((window << 1) | ((next >> bit) & 1)) >>> 0;
    }
  }
  return result;
}

/** What RSS needs of a received packet: its addresses (4 or 16 bytes each) and, for TCP, its ports. */
export interface RssInput {
  readonly src: readonly number[];
  readonly dst: readonly number[];
  /** Present for TCP (the only transport vmxnet3 hashes ports of). */
  readonly ports?: { readonly src: number; readonly dst: number };
}

/** The hash of a packet and where it goes: its type as the RX completion reports it, and the RX queue. */
export interface RssResult {
  readonly hash: number;
  /** RCD_RSS_TYPE. */
  readonly type: number;
  readonly queue: number;
}

/**
 * Hashes a received packet as the device does: source address, destination address, then (for
 * TCP, when its type is enabled) source and destination port, all in network order; the queue is
 * the indirection table's entry at hash mod its size. A packet whose kind is not enabled gets no
 * hash (type none) and goes to queue 0.
 */
export function rssClassify(conf: RssConf, packet: RssInput): RssResult {
  const v6 = packet.src.length === 16;
  const ipBit = v6 ? RSS_HASH_TYPE.ipv6 : RSS_HASH_TYPE.ipv4;
  const tcpBit = v6 ? RSS_HASH_TYPE.tcpIpv6 : RSS_HASH_TYPE.tcpIpv4;
  let input: number[];
  let type: number;
  if (packet.ports && (conf.hashType & tcpBit) !== 0) {
    const { src, dst } = packet.ports;
    input = [...packet.src, ...packet.dst, src >> 8, src & 0xff, dst >> 8, dst & 0xff];
    type = v6 ? RCD_RSS_TYPE.tcpIpv6 : RCD_RSS_TYPE.tcpIpv4;
  } else if ((conf.hashType & ipBit) !== 0) {
    input = [...packet.src, ...packet.dst];
    type = v6 ? RCD_RSS_TYPE.ipv6 : RCD_RSS_TYPE.ipv4;
  } else {
    return { hash: 0, type: RCD_RSS_TYPE.none, queue: 0 };
  }
  const hash = toeplitzHash(conf.hashKey, input);
  return { hash, type, queue: conf.indTable[hash % conf.indTable.length] ?? 0 };
}
