import { Vmxnet3Driver } from '../../../shared/vmxnet3/driver.js';
import type { QueueCounts, RingSizes } from '../../../shared/vmxnet3/driver.js';
import { BAR1, CMD } from '../../../shared/vmxnet3/registers.js';
import { TestContext } from '../../runtime/testing.js';
import type { TestEvent } from '../../runtime/testing.js';
import type { VirtualFunction } from './virtual-function.js';

/**
 * For tests: a test context whose random draws step through [0, 1) by the golden ratio (so a
 * core's draws differ from each other), and the list of the events it records.
 */
export function vfTestContext(nodeId = 'dpu-test'): { ctx: TestContext; events: TestEvent[] } {
  let draws = 0;
  const ctx = new TestContext(nodeId, { random: () => (draws++ * 0.6180339887) % 1 });
  return { ctx, events: ctx.events };
}

/** What an event says, without who said it and when: for comparing whole events. */
export function said(event: TestEvent | undefined): { kind: string; payload: Readonly<Record<string, unknown>> } | undefined {
  return event === undefined ? undefined : { kind: event.kind, payload: event.payload };
}

/** The payloads of the recorded events of one kind. */
export function payloadsOf(events: readonly TestEvent[], kind: string): Array<Readonly<Record<string, unknown>>> {
  return events.filter((e) => e.kind === kind).map((e) => e.payload);
}

/**
 * Brings a bound function up the way its guest driver would through UPT: probe, the device reads
 * the shared area, the activation writes, every vector unmasked, the link read.
 */
export function bringUp(vf: VirtualFunction, options: { queues?: QueueCounts; ringSizes?: RingSizes; mtu?: number } = {}): Vmxnet3Driver {
  const driver = new Vmxnet3Driver();
  if (vf.mac === null) throw new Error(`VF ${vf.index} is not bound`);
  driver.probe(vf.mac, options.mtu ?? 1500, options.queues ?? { tx: 1, rx: 1 }, options.ringSizes ?? { tx: 32, rx1: 32, rx2: 32 });
  vf.syncSharedArea(driver.shared());
  for (const w of driver.activationWrites()) vf.writeRegister(w.bar, w.offset, w.value);
  driver.onActivated(vf.device.readRegister(1, BAR1.CMD));
  for (const w of driver.unmaskWrites()) vf.writeRegister(w.bar, w.offset, w.value);
  driver.onLink(vf.device.readCommandResult(CMD.GET_LINK));
  return driver;
}
