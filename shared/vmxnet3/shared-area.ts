/**
 * The driver-shared area: validation, copies and the VLAN filter table.
 *
 * The device reads the area from guest memory, which it cannot trust: `validateSharedArea` takes
 * anything (it may have come through a mailbox message) and lists every problem, so a bad area is
 * refused with one complete report instead of failing on its first field.
 */
import { AddressError } from '../net/errors.js';
import { normalizeMac } from '../net/mac.js';
import {
  FEATURE_ALL,
  IML,
  MAX_INTRS,
  MAX_MTU,
  MAX_RX_QUEUES,
  MAX_TX_QUEUES,
  MIN_MTU,
  RING_MAX_SIZE,
  RX_COMP_RING_MAX_SIZE,
  RX_MODE_ALL,
  SHARED_MAGIC,
  VLAN_FILTER_WORDS,
} from './registers.js';
import { Vmxnet3Error } from './errors.js';
import { ringSizeProblem } from './ring.js';
import type { DriverShared } from './state.js';
import { cloneRssConf, rssProblems, type RssConf } from './rss.js';

/** True for a plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** True for an integer in [min, max]. */
export function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** Every problem of a driver-shared area, as `field: problem`; empty when the device can use it. */
export function validateSharedArea(value: unknown): string[] {
  const problems: string[] = [];
  if (!isRecord(value)) return ['the driver-shared area is not an object'];
  const s = value;
  if (s.magic !== SHARED_MAGIC) problems.push(`magic: ${hex(s.magic)} is not 0x${SHARED_MAGIC.toString(16)}`);
  if (!isIntIn(s.driverVersion, 0, 0xffff)) problems.push(`driverVersion: ${String(s.driverVersion)} is not a version number`);
  if (!isIntIn(s.revision, 1, 7)) problems.push(`revision: ${String(s.revision)} is not a vmxnet3 revision from 1 to 7`);
  if (s.uptVersion !== 1) problems.push(`uptVersion: ${String(s.uptVersion)} is not 1`);
  if (!isIntIn(s.mtu, MIN_MTU, MAX_MTU)) problems.push(`mtu: ${String(s.mtu)} is outside ${MIN_MTU}..${MAX_MTU}`);
  if (!isIntIn(s.features, 0, FEATURE_ALL)) problems.push(`features: ${hex(s.features)} has unknown bits`);
  if (!isIntIn(s.numTxQueues, 1, MAX_TX_QUEUES)) problems.push(`numTxQueues: ${String(s.numTxQueues)} is outside 1..${MAX_TX_QUEUES}`);
  if (!isIntIn(s.numRxQueues, 1, MAX_RX_QUEUES)) problems.push(`numRxQueues: ${String(s.numRxQueues)} is outside 1..${MAX_RX_QUEUES}`);

  const intr = s.intr;
  let numIntrs = 0;
  if (!isRecord(intr)) problems.push('intr: missing');
  else {
    if (typeof intr.autoMask !== 'boolean') problems.push('intr.autoMask: not a boolean');
    if (!isIntIn(intr.numIntrs, 1, MAX_INTRS)) problems.push(`intr.numIntrs: ${String(intr.numIntrs)} is outside 1..${MAX_INTRS}`);
    else numIntrs = intr.numIntrs;
    if (!isIntIn(intr.eventIntrIdx, 0, Math.max(0, numIntrs - 1))) problems.push(`intr.eventIntrIdx: ${String(intr.eventIntrIdx)} is not one of the ${numIntrs} vectors`);
    if (!Array.isArray(intr.modLevels) || intr.modLevels.length !== numIntrs) problems.push(`intr.modLevels: expected one level per vector (${numIntrs})`);
    else intr.modLevels.forEach((level, v) => {
      if (!isIntIn(level, IML.NONE, IML.ADAPTIVE)) problems.push(`intr.modLevels[${v}]: ${String(level)} is outside ${IML.NONE}..${IML.ADAPTIVE}`);
    });
  }
  const vector = (field: string, v: unknown): void => {
    if (!isIntIn(v, 0, Math.max(0, numIntrs - 1))) problems.push(`${field}: vector ${String(v)} is not one of the ${numIntrs} vectors`);
  };

  if (!Array.isArray(s.txQueues)) problems.push('txQueues: not a list');
  else {
    if (s.txQueues.length !== s.numTxQueues) problems.push(`txQueues: ${s.txQueues.length} entries for numTxQueues ${String(s.numTxQueues)}`);
    s.txQueues.forEach((q: unknown, i) => {
      const at = `txQueues[${i}]`;
      if (!isRecord(q)) return void problems.push(`${at}: not an object`);
      ring(problems, `${at}.ringSize`, q.ringSize, RING_MAX_SIZE);
      ring(problems, `${at}.compRingSize`, q.compRingSize, RING_MAX_SIZE);
      if (typeof q.ringSize === 'number' && typeof q.compRingSize === 'number' && q.compRingSize < q.ringSize) {
        problems.push(`${at}.compRingSize: ${q.compRingSize} cannot hold the completions of ${q.ringSize} descriptors`);
      }
      vector(`${at}.intrIdx`, q.intrIdx);
    });
  }
  if (!Array.isArray(s.rxQueues)) problems.push('rxQueues: not a list');
  else {
    if (s.rxQueues.length !== s.numRxQueues) problems.push(`rxQueues: ${s.rxQueues.length} entries for numRxQueues ${String(s.numRxQueues)}`);
    s.rxQueues.forEach((q: unknown, i) => {
      const at = `rxQueues[${i}]`;
      if (!isRecord(q)) return void problems.push(`${at}: not an object`);
      ring(problems, `${at}.ring1Size`, q.ring1Size, RING_MAX_SIZE);
      ring(problems, `${at}.ring2Size`, q.ring2Size, RING_MAX_SIZE);
      ring(problems, `${at}.compRingSize`, q.compRingSize, RX_COMP_RING_MAX_SIZE);
      if (typeof q.ring1Size === 'number' && typeof q.ring2Size === 'number' && typeof q.compRingSize === 'number' && q.compRingSize < q.ring1Size + q.ring2Size) {
        problems.push(`${at}.compRingSize: ${q.compRingSize} cannot hold the completions of both rings (${q.ring1Size} + ${q.ring2Size})`);
      }
      for (const field of ['ring1BufferLength', 'ring2BufferLength'] as const) {
        if (!isIntIn(q[field], 1, 0xffff)) problems.push(`${at}.${field}: ${String(q[field])} is not a buffer length`);
      }
      vector(`${at}.intrIdx`, q.intrIdx);
    });
  }

  const filter = s.rxFilter;
  if (!isRecord(filter)) problems.push('rxFilter: missing');
  else {
    if (!isIntIn(filter.rxMode, 0, RX_MODE_ALL)) problems.push(`rxFilter.rxMode: ${hex(filter.rxMode)} has unknown bits`);
    if (!Array.isArray(filter.multicast)) problems.push('rxFilter.multicast: not a list');
    else filter.multicast.forEach((mac: unknown, i) => {
      if (typeof mac !== 'string' || !isCanonicalMac(mac)) problems.push(`rxFilter.multicast[${i}]: ${JSON.stringify(mac)} is not a MAC address in canonical form`);
      else if ((parseInt(mac.slice(0, 2), 16) & 1) === 0) problems.push(`rxFilter.multicast[${i}]: ${mac} is not a multicast address`);
    });
    const table = filter.vlanFilter;
    if (!Array.isArray(table) || table.length !== VLAN_FILTER_WORDS || !table.every((w) => isIntIn(w, 0, 0xffffffff))) {
      problems.push(`rxFilter.vlanFilter: expected ${VLAN_FILTER_WORDS} 32-bit words`);
    }
  }
  problems.push(...rssConfProblems('rss', s.rss, s.numRxQueues));
  return problems;
}

/**
 * The problems of an RSS configuration found at `field` of a state read from elsewhere: null is
 * no RSS; anything else must be a whole configuration for `numRxQueues` queues.
 */
export function rssConfProblems(field: string, value: unknown, numRxQueues: unknown): string[] {
  if (value === null) return [];
  if (!isRecord(value)) return [`${field}: expected an RSS configuration or null`];
  const conf = value as unknown as RssConf;
  if (!isIntIn(conf.hashType, 0, 0xffff) || !isIntIn(conf.hashFunc, 0, 0xffff) || !Array.isArray(conf.hashKey) || !Array.isArray(conf.indTable)) {
    return [`${field}: hashType, hashFunc, hashKey and indTable are all required`];
  }
  return rssProblems(conf, typeof numRxQueues === 'number' ? numRxQueues : 0).map((p) => `${field}: ${p}`);
}

function ring(problems: string[], field: string, size: unknown, max: number): void {
  const problem = typeof size === 'number' ? ringSizeProblem(size, max) : `${String(size)} is not a number`;
  if (problem !== null) problems.push(`${field}: ${problem}`);
}

function hex(value: unknown): string {
  return typeof value === 'number' && Number.isInteger(value) ? `0x${(value >>> 0).toString(16)}` : String(value);
}

/** True when `mac` is a MAC address already in canonical form. */
export function isCanonicalMac(mac: string): boolean {
  try {
    return normalizeMac(mac) === mac;
  } catch (error) {
    if (error instanceof AddressError) return false;
    throw error;
  }
}

/** A deep copy of a driver-shared area. */
export function cloneSharedArea(shared: DriverShared): DriverShared {
  return {
    ...shared,
    txQueues: shared.txQueues.map((q) => ({ ...q })),
    rxQueues: shared.rxQueues.map((q) => ({ ...q })),
    intr: { ...shared.intr, modLevels: [...shared.intr.modLevels] },
    rxFilter: { rxMode: shared.rxFilter.rxMode, multicast: [...shared.rxFilter.multicast], vlanFilter: [...shared.rxFilter.vlanFilter] },
    rss: shared.rss ? cloneRssConf(shared.rss) : null,
  };
}

/** A VLAN filter table that admits nothing. */
export function emptyVlanFilter(): number[] {
  return new Array<number>(VLAN_FILTER_WORDS).fill(0);
}

/** True when the table admits VLAN `vid` (0 = untagged). */
export function vlanFilterHas(table: readonly number[], vid: number): boolean {
  return (((table[vid >>> 5] ?? 0) >>> (vid & 31)) & 1) === 1;
}

/** Sets or clears VLAN `vid` in the table, in place. */
export function setVlanFilter(table: number[], vid: number, admit: boolean): void {
  if (!isIntIn(vid, 0, 4095)) throw new Vmxnet3Error('bad-value', `VLAN id ${vid} is outside 0..4095`);
  const word = table[vid >>> 5] ?? 0;
  const bit = (1 << (vid & 31)) >>> 0;
  table[vid >>> 5] = (admit ? word | bit : word & ~bit) >>> 0;
}

/** The VLAN ids a table admits, ascending. */
export function vlanFilterIds(table: readonly number[]): number[] {
  const ids: number[] = [];
  for (let vid = 0; vid < 4096; vid++) if (vlanFilterHas(table, vid)) ids.push(vid);
  return ids;
}
