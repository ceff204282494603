/**
 * The hand-off checker: does the device carry on exactly where the guest believes it is?
 *
 * The device may legitimately be ahead of the driver: it consumed descriptors the driver has not
 * seen completed, and wrote completions the driver has not processed yet. So positions are not
 * compared for equality but for a consistent order around each ring:
 *
 *   driver reclaimed <= device completed <= device consumer <= device producer == driver producer
 *
 * with generation bits that agree with that order, and with exactly one completion entry written
 * for every descriptor the device completed (TX) or buffer it filled (RX) that the driver has not
 * processed. Anything else (a flipped generation bit, an index that moved, a lost doorbell, a
 * different MAC, MTU, queue count, filter or feature) is a mismatch, described in words.
 */
import { vlanFilterIds } from './shared-area.js';
import { decodeLink, macFromRegisters } from './registers.js';
import { ECR } from './registers.js';
import { formatPosition, lag, samePosition } from './ring.js';
import type { RingPosition, RxRingId, Vmxnet3DeviceState, Vmxnet3DriverView } from './state.js';
import { rssDifferences } from './rss.js';

/** Every mismatch between what the guest driver believes and the device state; empty when they agree. */
export function compareViews(driver: Vmxnet3DriverView, device: Vmxnet3DeviceState): string[] {
  const out: string[] = [];
  if (!driver.probed || driver.shared === null) {
    if (device.status === 'active') out.push('The device is active but the guest driver never probed it');
    return out;
  }
  const shared = driver.shared;
  const deviceMac = macFromRegisters(device.registers.macl, device.registers.mach);
  if (driver.mac !== deviceMac) out.push(`MAC: the guest programmed ${driver.mac}, the device answers to ${deviceMac}`);
  const deviceActive = device.status === 'active';
  if (driver.active !== deviceActive) out.push(`Activation: the guest believes its device is ${driver.active ? 'active' : 'not active'}, the device is ${device.status}`);
  if (driver.link !== null && driver.link !== device.link && (device.registers.ecr & ECR.LINK) === 0) {
    out.push(`Link: the guest read ${linkText(driver.link)}, the device reports ${linkText(device.link)} and signalled no link event`);
  }
  if (!driver.active || !deviceActive) return out;

  const config = device.config;
  if (config === null) return [...out, 'The device is active without an applied configuration'];
  if (shared.mtu !== config.mtu) out.push(`MTU: the guest configured ${shared.mtu}, the device applies ${config.mtu}`);
  if (shared.features !== config.features) out.push(`Features: the guest enabled 0x${shared.features.toString(16)}, the device applies 0x${config.features.toString(16)}`);
  if (shared.rxFilter.rxMode !== config.rxMode) out.push(`RX mode: the guest set 0x${shared.rxFilter.rxMode.toString(16)}, the device applies 0x${config.rxMode.toString(16)}`);
  const groups = (list: readonly string[]): string => [...new Set(list)].sort().join(', ');
  if (groups(shared.rxFilter.multicast) !== groups(config.multicast)) {
    out.push(`Multicast table: the guest joined [${groups(shared.rxFilter.multicast)}], the device admits [${groups(config.multicast)}]`);
  }
  const guestVlans = vlanFilterIds(shared.rxFilter.vlanFilter).join(', ');
  const deviceVlans = vlanFilterIds(config.vlanFilter).join(', ');
  if (guestVlans !== deviceVlans) out.push(`VLAN filter: the guest admits VLANs [${guestVlans}], the device admits [${deviceVlans}]`);
  out.push(...rssDifferences(shared.rss, config.rss));
  if (driver.txQueues.length !== device.txQueues.length) out.push(`TX queues: the guest has ${driver.txQueues.length}, the device ${device.txQueues.length}`);
  if (driver.rxQueues.length !== device.rxQueues.length) out.push(`RX queues: the guest has ${driver.rxQueues.length}, the device ${device.rxQueues.length}`);

  driver.txQueues.forEach((dq, i) => {
    const q = device.txQueues[i];
    if (q === undefined) return;
    const at = `TX queue ${i}`;
    const size = dq.txRing.size;
    if (size !== q.txRing.size || dq.compRing.size !== q.compRing.size) {
      out.push(`${at}: the guest's rings have ${size} and ${dq.compRing.size} slots, the device's ${q.txRing.size} and ${q.compRing.size}`);
      return;
    }
    if (!samePosition(dq.txRing, q.txRing.produced)) {
      out.push(`${at}: the guest produced up to ${formatPosition(dq.txRing)}, the device was told ${formatPosition(q.txRing.produced)}`);
    }
    const unprocessed = order(out, at, size, [
      ['the guest is waiting for completions from', dq.txRing.reclaimed],
      ['the device completed up to', q.completed],
      ['the device consumed up to', q.txRing],
      ['the guest produced up to', dq.txRing],
    ]);
    completions(out, at, dq.compRing, q.compRing, unprocessed, 'descriptors completed');
  });

  driver.rxQueues.forEach((dq, i) => {
    const q = device.rxQueues[i];
    if (q === undefined) return;
    const at = `RX queue ${i}`;
    let unprocessed = 0;
    let sizesAgree = dq.compRing.size === q.compRing.size;
    for (const ring of [1, 2] as const satisfies readonly RxRingId[]) {
      const d = ring === 1 ? dq.ring1 : dq.ring2;
      const r = ring === 1 ? q.ring1 : q.ring2;
      const where = `${at} ring ${ring}`;
      if (d.size !== r.size || d.bufferLength !== r.bufferLength) {
        out.push(`${where}: the guest has ${d.size} buffers of ${d.bufferLength} bytes, the device ${r.size} of ${r.bufferLength}`);
        sizesAgree = false;
        continue;
      }
      if (!samePosition(d, r.produced)) out.push(`${where}: the guest posted buffers up to ${formatPosition(d)}, the device was told ${formatPosition(r.produced)}`);
      const used = order(out, where, d.size, [
        ['the guest is waiting for buffers from', d.reclaimed],
        ['the device filled buffers up to', r],
        ['the guest posted up to', d],
      ]);
      unprocessed += used ?? 0;
    }
    if (!sizesAgree) {
      if (dq.compRing.size !== q.compRing.size) out.push(`${at}: the guest's completion ring has ${dq.compRing.size} slots, the device's ${q.compRing.size}`);
      return;
    }
    completions(out, at, dq.compRing, q.compRing, unprocessed, 'buffers filled');
  });
  return out;
}

/**
 * Checks that positions follow each other around a ring with agreeing generation bits and at most
 * size-1 descriptors between the first and the last. Returns the distance from the first to the
 * second (the work the device did that the guest has not processed), or null after a mismatch.
 */
function order(out: string[], at: string, size: number, points: ReadonlyArray<readonly [string, RingPosition]>): number | null {
  const steps: number[] = [];
  for (let i = 1; i < points.length; i++) {
    const [behindText, behind] = points[i - 1]!;
    const [aheadText, ahead] = points[i]!;
    const step = lag(behind, ahead, size);
    if (step === null) {
      out.push(`${at}: ${aheadText} ${formatPosition(ahead)}, which contradicts ${behindText} ${formatPosition(behind)}`);
      return null;
    }
    steps.push(step);
  }
  const total = steps.reduce((a, b) => a + b, 0);
  if (total > size - 1) {
    out.push(`${at}: ${total} descriptors between ${points[0]![0]} ${formatPosition(points[0]![1])} and ${points[points.length - 1]![0]} ${formatPosition(points[points.length - 1]![1])}, more than the ring holds`);
    return null;
  }
  return steps[0] ?? 0;
}

function completions(out: string[], at: string, guest: RingPosition & { size: number }, device: RingPosition, unprocessed: number | null, what: string): void {
  const written = lag(guest, device, guest.size);
  if (written === null) {
    out.push(`${at}: the device writes completions at ${formatPosition(device)}, which contradicts the guest expecting the next one at ${formatPosition(guest)}`);
    return;
  }
  if (unprocessed !== null && written !== unprocessed) {
    out.push(`${at}: ${written} completions wait for the guest (from ${formatPosition(guest)} to ${formatPosition(device)}) but ${unprocessed} ${what} are not processed by it`);
  }
}

function linkText(value: number): string {
  const { up, speedMbps } = decodeLink(value);
  return up ? `up at ${speedMbps} Mb/s` : 'down';
}
