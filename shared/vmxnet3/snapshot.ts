/**
 * The hand-off copies of a device and of the guest driver: deep copies and validation.
 *
 * A snapshot crosses process boundaries (a mailbox message from the host to a DPU, or back) and
 * may be stale, truncated or corrupted. `validateDeviceState` takes anything and lists every way it
 * fails to describe a device that could carry on: a wrong format or version, rings whose positions
 * contradict their generation bits or each other, registers out of range. `validateDriverState`
 * does the same for the guest driver's state, which travels with the VM's memory when the VM moves
 * to another host (vMotion).
 */
import { MAX_INTRS, MAX_RX_QUEUES, MAX_TX_QUEUES, RING_MAX_SIZE, RX_COMP_RING_MAX_SIZE, DCR_COUNT, PTCR_COUNT } from './registers.js';
import { lag, positionProblem, ringSizeProblem } from './ring.js';
import { isCanonicalMac, isIntIn, isRecord, rssConfProblems, validateSharedArea } from './shared-area.js';
import { DEVICE_STATE_VERSION, DRIVER_STATE_VERSION, RX_DROP_REASONS } from './state.js';
import type { DriverShared, RingPosition, Vmxnet3DeviceState } from './state.js';

/** A deep copy of plain data (objects, arrays, primitives). */
export function clonePlain<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v: unknown) => clonePlain(v)) as T;
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = clonePlain(v);
    return out as T;
  }
  return value;
}

/** Every reason `value` is not a usable device snapshot; empty when `Vmxnet3Device.restore` will accept it. */
export function validateDeviceState(value: unknown): string[] {
  if (!isRecord(value)) return ['the snapshot is not an object'];
  const s = value;
  if (s.format !== 'vmxnet3-device') return [`format: ${JSON.stringify(s.format)} is not "vmxnet3-device"`];
  if (s.version !== DEVICE_STATE_VERSION) return [`version: ${JSON.stringify(s.version)} is not ${DEVICE_STATE_VERSION}`];
  const problems: string[] = [];
  if (typeof s.permanentMac !== 'string' || !isCanonicalMac(s.permanentMac)) problems.push(`permanentMac: ${JSON.stringify(s.permanentMac)} is not a MAC address in canonical form`);
  const status = s.status;
  if (status !== 'reset' && status !== 'active' && status !== 'quiesced') problems.push(`status: ${JSON.stringify(status)} is not reset, active or quiesced`);
  if (typeof s.drained !== 'boolean') problems.push('drained: not a boolean');
  if (!isIntIn(s.link, 0, 0xffffffff)) problems.push(`link: ${String(s.link)} is not a register value`);

  const regs = s.registers;
  if (!isRecord(regs)) problems.push('registers: missing');
  else {
    for (const name of ['vrrs', 'uvrs', 'dsal', 'dsah', 'cmd', 'cmdResult', 'macl', 'mach', 'ecr'] as const) {
      if (!isIntIn(regs[name], 0, 0xffffffff)) problems.push(`registers.${name}: ${String(regs[name])} is not a register value`);
    }
    if (!words(regs.dcr, DCR_COUNT)) problems.push(`registers.dcr: expected ${DCR_COUNT} register values`);
    if (!words(regs.ptcr, PTCR_COUNT)) problems.push(`registers.ptcr: expected ${PTCR_COUNT} register values`);
  }

  if (s.shared !== null) for (const p of validateSharedArea(s.shared)) problems.push(`shared.${p}`);

  let numIntrs = 0;
  const intr = s.interrupts;
  if (!isRecord(intr)) problems.push('interrupts: missing');
  else {
    if (typeof intr.autoMask !== 'boolean') problems.push('interrupts.autoMask: not a boolean');
    if (!isIntIn(intr.numIntrs, 0, MAX_INTRS)) problems.push(`interrupts.numIntrs: ${String(intr.numIntrs)} is outside 0..${MAX_INTRS}`);
    else numIntrs = intr.numIntrs;
    const all = 2 ** Math.max(numIntrs, status === 'reset' ? MAX_INTRS : 0) - 1;
    if (!isIntIn(intr.eventIntrIdx, 0, Math.max(0, numIntrs - 1))) problems.push(`interrupts.eventIntrIdx: ${String(intr.eventIntrIdx)} is not one of the ${numIntrs} vectors`);
    if (!isIntIn(intr.mask, 0, all)) problems.push(`interrupts.mask: ${String(intr.mask)} names vectors that do not exist`);
    if (!isIntIn(intr.pending, 0, all)) problems.push(`interrupts.pending: ${String(intr.pending)} names vectors that do not exist`);
    if (!isIntIn(intr.fired, 0, Number.MAX_SAFE_INTEGER)) problems.push(`interrupts.fired: ${String(intr.fired)} is not a count`);
  }

  const config = s.config;
  if (status === 'reset' && config !== null) problems.push('config: a reset device has no applied configuration');
  if (status !== 'reset') {
    if (!isRecord(config)) problems.push('config: an activated device must have an applied configuration');
    else {
      if (!isIntIn(config.mtu, 60, 9000)) problems.push(`config.mtu: ${String(config.mtu)} is outside 60..9000`);
      if (!isIntIn(config.features, 0, 0xffffffff)) problems.push(`config.features: ${String(config.features)} is not a bitmask`);
      if (!isIntIn(config.rxMode, 0, 0x1f)) problems.push(`config.rxMode: ${String(config.rxMode)} has unknown bits`);
      if (!Array.isArray(config.multicast) || !config.multicast.every((m) => typeof m === 'string' && isCanonicalMac(m))) problems.push('config.multicast: not a list of MAC addresses');
      if (!words(config.vlanFilter, 128)) problems.push('config.vlanFilter: expected 128 32-bit words');
      if (!Array.isArray(config.modLevels) || config.modLevels.length !== numIntrs) problems.push(`config.modLevels: expected one level per vector (${numIntrs})`);
      problems.push(...rssConfProblems('config.rss', config.rss, Array.isArray(s.rxQueues) ? s.rxQueues.length : 0));
    }
  }

  const vector = (at: string, v: unknown): void => {
    if (!isIntIn(v, 0, Math.max(0, numIntrs - 1))) problems.push(`${at}.intrIdx: ${String(v)} is not one of the ${numIntrs} vectors`);
  };
  if (!Array.isArray(s.txQueues)) problems.push('txQueues: not a list');
  else {
    if (status === 'reset' ? s.txQueues.length !== 0 : !isIntIn(s.txQueues.length, 1, MAX_TX_QUEUES)) problems.push(`txQueues: ${s.txQueues.length} queues for a ${String(status)} device`);
    s.txQueues.forEach((q: unknown, i) => {
      const at = `txQueues[${i}]`;
      if (!isRecord(q)) return void problems.push(`${at}: not an object`);
      const tx = ringOf(problems, `${at}.txRing`, q.txRing, RING_MAX_SIZE);
      const comp = ringOf(problems, `${at}.compRing`, q.compRing, RING_MAX_SIZE);
      if (tx !== null) {
        const produced = positionOf(problems, `${at}.txRing.produced`, tx.produced, tx.size);
        const completed = positionOf(problems, `${at}.completed`, q.completed, tx.size);
        if (produced !== null && completed !== null) chain(problems, at, tx.size, [['completed', completed], ['consumer', tx], ['producer', produced]]);
        if (comp !== null && comp.size < tx.size) problems.push(`${at}.compRing: ${comp.size} slots cannot hold the completions of ${tx.size} descriptors`);
      }
      vector(at, q.intrIdx);
      if (typeof q.stopped !== 'boolean') problems.push(`${at}.stopped: not a boolean`);
    });
  }
  if (!Array.isArray(s.rxQueues)) problems.push('rxQueues: not a list');
  else {
    if (status === 'reset' ? s.rxQueues.length !== 0 : !isIntIn(s.rxQueues.length, 1, MAX_RX_QUEUES)) problems.push(`rxQueues: ${s.rxQueues.length} queues for a ${String(status)} device`);
    s.rxQueues.forEach((q: unknown, i) => {
      const at = `rxQueues[${i}]`;
      if (!isRecord(q)) return void problems.push(`${at}: not an object`);
      let total = 0;
      for (const name of ['ring1', 'ring2'] as const) {
        const r = ringOf(problems, `${at}.${name}`, q[name], RING_MAX_SIZE);
        if (r === null) continue;
        total += r.size;
        if (!isIntIn(r.bufferLength, 1, 0xffff)) problems.push(`${at}.${name}.bufferLength: ${String(r.bufferLength)} is not a buffer length`);
        const produced = positionOf(problems, `${at}.${name}.produced`, r.produced, r.size);
        if (produced !== null) chain(problems, `${at}.${name}`, r.size, [['consumer', r], ['producer', produced]]);
      }
      const comp = ringOf(problems, `${at}.compRing`, q.compRing, RX_COMP_RING_MAX_SIZE);
      if (comp !== null && comp.size < total) problems.push(`${at}.compRing: ${comp.size} slots cannot hold the completions of both rings (${total})`);
      vector(at, q.intrIdx);
      if (typeof q.stopped !== 'boolean') problems.push(`${at}.stopped: not a boolean`);
    });
  }

  const counters = s.counters;
  if (!isRecord(counters)) problems.push('counters: missing');
  else {
    for (const name of ['txFrames', 'txBytes', 'txCompletions', 'rxFrames', 'rxBytes'] as const) {
      if (!isIntIn(counters[name], 0, Number.MAX_SAFE_INTEGER)) problems.push(`counters.${name}: ${String(counters[name])} is not a count`);
    }
    const drops = counters.rxDrops;
    if (!isRecord(drops) || !RX_DROP_REASONS.every((r) => isIntIn(drops[r], 0, Number.MAX_SAFE_INTEGER))) problems.push('counters.rxDrops: expected a count per drop reason');
  }
  return problems;
}

/** Checks a snapshot and returns it typed; throws nothing, returns the problems instead. */
export function asDeviceState(value: unknown): { state: Vmxnet3DeviceState; problems: [] } | { state: null; problems: string[] } {
  const problems = validateDeviceState(value);
  return problems.length === 0 ? { state: value as Vmxnet3DeviceState, problems: [] } : { state: null, problems };
}

/**
 * Every reason `value` is not a usable guest driver state (it moves with the VM's memory); empty
 * when `Vmxnet3Driver.restore` will accept it. Rings must have the sizes and buffer lengths the
 * driver-shared area configures, and no ring may have more than size-1 slots outstanding.
 */
export function validateDriverState(value: unknown): string[] {
  if (!isRecord(value)) return ['the driver state is not an object'];
  const s = value;
  if (s.format !== 'vmxnet3-driver') return [`format: ${JSON.stringify(s.format)} is not "vmxnet3-driver"`];
  if (s.version !== DRIVER_STATE_VERSION) return [`version: ${JSON.stringify(s.version)} is not ${DRIVER_STATE_VERSION}`];
  const problems: string[] = [];
  if (typeof s.probed !== 'boolean') problems.push('probed: not a boolean');
  if (typeof s.active !== 'boolean') problems.push('active: not a boolean');
  if (typeof s.mac !== 'string' || !isCanonicalMac(s.mac)) problems.push(`mac: ${JSON.stringify(s.mac)} is not a MAC address in canonical form`);
  if (s.link !== null && !isIntIn(s.link, 0, 0xffffffff)) problems.push(`link: ${String(s.link)} is neither null nor a register value`);
  if (!isIntIn(s.sharedAddress, 0, Number.MAX_SAFE_INTEGER)) problems.push(`sharedAddress: ${String(s.sharedAddress)} is not a guest-physical address`);
  if (!Array.isArray(s.txQueues)) problems.push('txQueues: not a list');
  if (!Array.isArray(s.rxQueues)) problems.push('rxQueues: not a list');
  if (problems.length > 0) return problems;
  const txQueues = s.txQueues as unknown[];
  const rxQueues = s.rxQueues as unknown[];

  if (s.probed === false) {
    if (s.active === true) problems.push('active: a driver that has not probed cannot have activated its device');
    if (s.shared !== null) problems.push('shared: a driver that has not probed has written no shared area');
    if (txQueues.length > 0 || rxQueues.length > 0) problems.push('txQueues: a driver that has not probed has no rings');
    return problems;
  }
  if (s.shared === null) return ['shared: a probed driver has written a shared area, got null'];
  const sharedProblems = validateSharedArea(s.shared);
  if (sharedProblems.length > 0) return sharedProblems.map((p) => `shared.${p}`);
  const shared = s.shared as DriverShared;

  if (txQueues.length !== shared.numTxQueues) problems.push(`txQueues: ${txQueues.length} queues for numTxQueues ${shared.numTxQueues}`);
  txQueues.forEach((q: unknown, i) => {
    const at = `txQueues[${i}]`;
    const conf = shared.txQueues[i];
    if (!isRecord(q)) return void problems.push(`${at}: not an object`);
    if (conf === undefined) return;
    driverRingOf(problems, `${at}.txRing`, q.txRing, conf.ringSize, null);
    sizedRingOf(problems, `${at}.compRing`, q.compRing, conf.compRingSize);
  });
  if (rxQueues.length !== shared.numRxQueues) problems.push(`rxQueues: ${rxQueues.length} queues for numRxQueues ${shared.numRxQueues}`);
  rxQueues.forEach((q: unknown, i) => {
    const at = `rxQueues[${i}]`;
    const conf = shared.rxQueues[i];
    if (!isRecord(q)) return void problems.push(`${at}: not an object`);
    if (conf === undefined) return;
    driverRingOf(problems, `${at}.ring1`, q.ring1, conf.ring1Size, conf.ring1BufferLength);
    driverRingOf(problems, `${at}.ring2`, q.ring2, conf.ring2Size, conf.ring2BufferLength);
    sizedRingOf(problems, `${at}.compRing`, q.compRing, conf.compRingSize);
  });
  return problems;
}

/** A ring of the size the shared area configures, with a valid position. */
function sizedRingOf(problems: string[], at: string, value: unknown, size: number): boolean {
  if (!isRecord(value)) {
    problems.push(`${at}: missing`);
    return false;
  }
  if (value.size !== size) {
    problems.push(`${at}.size: ${String(value.size)} is not the ${size} slots the shared area configures`);
    return false;
  }
  return positionOf(problems, at, value, size) !== null;
}

/** A driver command ring: its producer, the oldest slot not yet reclaimed, and at most size-1 slots between them. */
function driverRingOf(problems: string[], at: string, value: unknown, size: number, bufferLength: number | null): void {
  if (!sizedRingOf(problems, at, value, size)) return;
  const ring = value as Record<string, unknown> & RingPosition;
  if (bufferLength !== null && ring.bufferLength !== bufferLength) problems.push(`${at}.bufferLength: ${String(ring.bufferLength)} is not the ${bufferLength} bytes the shared area configures`);
  const reclaimed = positionOf(problems, `${at}.reclaimed`, ring.reclaimed, size);
  if (reclaimed === null) return;
  const outstanding = lag(reclaimed, ring, size);
  if (outstanding === null) {
    problems.push(`${at}: the producer at slot ${ring.next} (gen ${ring.gen}) contradicts the reclaim point at slot ${reclaimed.next} (gen ${reclaimed.gen})`);
  } else if (outstanding > size - 1) {
    problems.push(`${at}: ${outstanding} slots outstanding on a ring of ${size}, at most ${size - 1} may be`);
  }
}

type RingRecord = Record<string, unknown> & { size: number; next: number; gen: 0 | 1 };

function ringOf(problems: string[], at: string, value: unknown, max: number): RingRecord | null {
  if (!isRecord(value)) {
    problems.push(`${at}: missing`);
    return null;
  }
  const sizeProblem = typeof value.size === 'number' ? ringSizeProblem(value.size, max) : 'size is not a number';
  if (sizeProblem !== null) {
    problems.push(`${at}: ${sizeProblem}`);
    return null;
  }
  const pos = positionOf(problems, at, value, value.size as number);
  return pos === null ? null : (value as RingRecord);
}

function positionOf(problems: string[], at: string, value: unknown, size: number): RingPosition | null {
  if (!isRecord(value)) {
    problems.push(`${at}: missing`);
    return null;
  }
  const problem = positionProblem(value as unknown as RingPosition, size);
  if (problem !== null) {
    problems.push(`${at}: ${problem}`);
    return null;
  }
  return value as unknown as RingPosition;
}

/**
 * Positions that must follow each other around a ring, each at most size-1 slots ahead of the
 * first, with generation bits that agree with their order.
 */
function chain(problems: string[], at: string, size: number, points: ReadonlyArray<readonly [string, RingPosition]>): void {
  let total = 0;
  for (let i = 1; i < points.length; i++) {
    const [behindName, behind] = points[i - 1]!;
    const [aheadName, ahead] = points[i]!;
    const step = lag(behind, ahead, size);
    if (step === null) {
      problems.push(`${at}: the ${aheadName} at slot ${ahead.next} (gen ${ahead.gen}) contradicts the ${behindName} at slot ${behind.next} (gen ${behind.gen})`);
      return;
    }
    total += step;
  }
  if (total > size - 1) problems.push(`${at}: ${total} descriptors outstanding on a ring of ${size}, at most ${size - 1} may be`);
}

function words(value: unknown, count: number): boolean {
  return Array.isArray(value) && value.length === count && value.every((w) => isIntIn(w, 0, 0xffffffff));
}
