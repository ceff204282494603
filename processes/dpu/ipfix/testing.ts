import type { Channel, NodeContext } from '../../runtime/types.js';
import type { FlowInterfaces, FlowKey } from './flow-cache.js';

/** A frame a fake context was asked to send. */
export interface SentFrame {
  readonly port: string;
  readonly bytes: Uint8Array;
  readonly channel: Channel;
}

/**
 * A hand-driven NodeContext for tests: time is a field, timers wait in a list until `advance`
 * fires them, frames sent and events emitted are recorded.
 */
export class FakeContext implements NodeContext {
  readonly nodeId = 'dpu-test';
  time = 0;
  readonly emitted: Array<{ kind: string; payload: Readonly<Record<string, unknown>> }> = [];
  readonly sent: SentFrame[] = [];
  timers: Array<{ id: number; at: number; name: string; data: unknown }> = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }
  random(): number {
    return 0.5;
  }
  setTimer(delayNs: number, name: string, data?: unknown): number {
    const id = this.nextId++;
    this.timers.push({ id, at: this.time + delayNs, name, data });
    return id;
  }
  cancelTimer(id: number): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  send(port: string, bytes: Uint8Array, channel: Channel = 'eth'): boolean {
    this.sent.push({ port, bytes, channel });
    return true;
  }
  linkUp(): boolean {
    return true;
  }
  emit(kind: string, payload: Readonly<Record<string, unknown>>): void {
    this.emitted.push({ kind, payload });
  }

  /** Moves time to `at`, firing every timer due by then, in time order, through `fire`. */
  advance(at: number, fire: (name: string, data: unknown) => void): void {
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error(`Timers keep firing at ${this.time} ns: a timer re-arms itself without moving on`);
      const due = this.timers.filter((t) => t.at <= at).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      fire(due.name, due.data);
    }
    this.time = at;
  }
}

/** A TCP flow key between two VMs of the default lab. */
export function tcpKey(srcPort = 49152, dstPort = 443): FlowKey {
  return { srcIp: '10.0.1.11', dstIp: '10.0.2.12', protocol: 6, srcPort, dstPort };
}

/** A UDP flow key over IPv6. */
export function udp6Key(srcPort = 5353, dstPort = 53): FlowKey {
  return { srcIp: 'fd00:1::11', dstIp: 'fd00:2::12', protocol: 17, srcPort, dstPort };
}

/** VF 1 in, uplink 3 out. */
export const VF_TO_UPLINK: FlowInterfaces = { ingress: 1, egress: 3 };
