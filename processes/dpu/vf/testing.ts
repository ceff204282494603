import { Vmxnet3Driver } from '../../../shared/vmxnet3/driver.js';
import type { QueueCounts, RingSizes } from '../../../shared/vmxnet3/driver.js';
import { BAR1, CMD } from '../../../shared/vmxnet3/registers.js';
import type { NodeContext } from '../../runtime/types.js';
import type { VirtualFunction } from './virtual-function.js';

/** An event a fake context recorded. */
export interface RecordedEvent {
  kind: string;
  payload: Readonly<Record<string, unknown>>;
}

/**
 * For tests: a NodeContext that records what is emitted and does nothing else (virtual time stands
 * still at `time`, timers are listed, sends succeed).
 */
export function fakeContext(nodeId = 'dpu-test'): { ctx: NodeContext; events: RecordedEvent[]; timers: Array<{ delayNs: number; name: string }>; time: { now: number } } {
  const events: RecordedEvent[] = [];
  const timers: Array<{ delayNs: number; name: string }> = [];
  const time = { now: 0 };
  let draws = 0;
  const ctx: NodeContext = {
    nodeId,
    now: () => time.now,
    random: () => ((draws++ * 0.6180339887) % 1),
    setTimer: (delayNs, name) => timers.push({ delayNs, name }) - 1,
    cancelTimer: () => undefined,
    send: () => true,
    linkUp: () => true,
    emit: (kind, payload) => void events.push({ kind, payload }),
  };
  return { ctx, events, timers, time };
}

/** The payloads of the recorded events of one kind. */
export function payloadsOf(events: readonly RecordedEvent[], kind: string): Array<Readonly<Record<string, unknown>>> {
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
