/**
 * For tests: node contexts over one shared virtual clock with real timers, and `SyncLab`, a sync
 * sender and receiver joined by a fake management link that can lose, duplicate and reorder
 * messages (seeded), carrying real frames through the wire format by default.
 */
import type { VTime } from '../../../shared/events.js';
import { seededRandom } from '../../../shared/net/testing.js';
import type { Channel, NodeContext } from '../../runtime/types.js';
import type { MgmtEndpoint } from '../../pcie/mgmt-network.js';
import { buildSyncFrame } from './sync-messages.js';
import type { SyncMessage } from './sync-messages.js';
import type { SyncRecord } from './sync-records.js';
import { SyncReceiver, SyncSender } from './state-sync.js';
import type { SyncReceiverOptions, SyncSenderOptions } from './state-sync.js';
import { SyncReplica } from './replica.js';

/** An event a lab context recorded. */
export interface LabEvent {
  readonly node: string;
  readonly time: VTime;
  readonly kind: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** A pending timer of a lab context. */
export interface LabTimer {
  readonly id: number;
  readonly at: VTime;
  readonly name: string;
  readonly data: unknown;
}

/** A NodeContext over a shared clock: timers are kept for the test to fire, emits and sends recorded. */
export class LabContext implements NodeContext {
  timers: LabTimer[] = [];
  readonly sent: Array<{ port: string; bytes: Uint8Array; channel: Channel | undefined }> = [];
  private nextTimer = 1;

  constructor(
    readonly nodeId: string,
    readonly clock: { now: VTime },
    readonly events: LabEvent[] = [],
  ) {}

  now(): VTime {
    return this.clock.now;
  }

  random(): number {
    return 0.5;
  }

  setTimer(delayNs: VTime, name: string, data?: unknown): number {
    const id = this.nextTimer++;
    this.timers.push({ id, at: this.clock.now + delayNs, name, data });
    return id;
  }

  cancelTimer(id: number): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }

  send(port: string, bytes: Uint8Array, channel?: Channel): boolean {
    this.sent.push({ port, bytes: new Uint8Array(bytes), channel });
    return true;
  }

  linkUp(): boolean {
    return true;
  }

  emit(kind: string, payload: Readonly<Record<string, unknown>>): void {
    this.events.push({ node: this.nodeId, time: this.clock.now, kind, payload });
  }

  /** The earliest timer due by `time` (the first set on a tie), removed; undefined when none. */
  takeDue(time: VTime): LabTimer | undefined {
    const due = this.timers.filter((t) => t.at <= time).sort((a, b) => a.at - b.at || a.id - b.id)[0];
    if (due !== undefined) this.timers = this.timers.filter((t) => t !== due);
    return due;
  }

  /** When the next timer is due, or null. */
  nextDue(): VTime | null {
    return this.timers.reduce<VTime | null>((min, t) => (min === null || t.at < min ? t.at : min), null);
  }
}

/** How the lab's link misbehaves; every probability applies to each message in each direction. */
export interface LinkImpairments {
  loss?: number;
  duplicate?: number;
  /** Extra delay drawn uniformly in [0, jitterNs]: with more than the gap between sends, messages overtake each other. */
  jitterNs?: VTime;
  /** One-way latency (default 2 µs). */
  latencyNs?: VTime;
}

/** Options of a lab. */
export interface SyncLabOptions {
  link?: LinkImpairments;
  seed?: number;
  /** Carry real frames (encode, UDP, decode) rather than message objects (default true). */
  wire?: boolean;
  sender?: Partial<Omit<SyncSenderOptions, 'transmit'>>;
  receiver?: Partial<Omit<SyncReceiverOptions, 'transmit'>>;
  /** What the sender answers a bulk request with (default: nothing but the reset). */
  snapshot?: () => SyncRecord[];
}

interface InFlight {
  to: 'active' | 'standby';
  arrival: VTime;
  order: number;
  message: SyncMessage;
  bytes: Uint8Array | null;
}

const ACTIVE: MgmtEndpoint = { node: 'dpu-a', mac: '02:00:00:00:00:0a', ip: '169.254.0.10' };
const STANDBY: MgmtEndpoint = { node: 'dpu-b', mac: '02:00:00:00:00:0b', ip: '169.254.0.11' };

/** A sender (on `dpu-a`) and a receiver with its replica (on `dpu-b`) joined by an impaired link. */
export class SyncLab {
  readonly clock = { now: 0 };
  readonly events: LabEvent[] = [];
  readonly activeCtx = new LabContext('dpu-a', this.clock, this.events);
  readonly standbyCtx = new LabContext('dpu-b', this.clock, this.events);
  sender: SyncSender;
  receiver: SyncReceiver;
  replica = new SyncReplica();
  /** Every record the receiver returned, in order, since it was (re)built. */
  applied: SyncRecord[] = [];
  /** Messages the link carried, by type and direction. */
  readonly carried: Record<string, number> = {};
  snapshot: () => SyncRecord[];
  impairments: LinkImpairments;
  private readonly random: () => number;
  private readonly wire: boolean;
  private inFlight: InFlight[] = [];
  private order = 0;
  private readonly options: SyncLabOptions;

  constructor(options: SyncLabOptions = {}) {
    this.options = options;
    this.random = seededRandom(options.seed ?? 7);
    this.wire = options.wire ?? true;
    this.impairments = options.link ?? {};
    this.snapshot = options.snapshot ?? (() => []);
    this.sender = this.newSender();
    this.receiver = this.newReceiver();
  }

  /** Messages on the link now. */
  get pending(): number {
    return this.inFlight.length;
  }

  /** The sender queues `records` and flushes them. */
  send(records: readonly SyncRecord[]): void {
    this.sender.queue(records);
    this.sender.flush(this.activeCtx);
  }

  /** Runs deliveries and timers in time order until `until` (default: until nothing is left, at most 1 h of virtual time). */
  run(until: VTime = this.clock.now + 3_600_000_000_000): void {
    for (;;) {
      const delivery = this.inFlight[0]?.arrival ?? null;
      const timers = [this.activeCtx.nextDue(), this.standbyCtx.nextDue()].filter((t): t is VTime => t !== null);
      const timer = timers.length === 0 ? null : Math.min(...timers);
      const next = [delivery, timer].filter((t): t is VTime => t !== null);
      if (next.length === 0) return;
      const at = Math.min(...next);
      if (at > until) {
        this.clock.now = until;
        return;
      }
      this.clock.now = Math.max(this.clock.now, at);
      if (delivery !== null && delivery === at) this.deliver(this.inFlight.shift()!);
      else this.fire(at);
    }
  }

  /** Runs for `ns` of virtual time. */
  advance(ns: VTime): void {
    this.run(this.clock.now + ns);
  }

  /** The standby restarts: a new receiver and an empty replica (its timers are gone with it). */
  restartReceiver(): void {
    this.standbyCtx.timers = [];
    this.receiver = this.newReceiver();
    this.replica = new SyncReplica();
    this.applied = [];
  }

  /** The active restarts: a new sender (its session comes from the clock unless given). */
  restartSender(session?: number): void {
    this.activeCtx.timers = [];
    this.sender = this.newSender(session);
  }

  /** Payloads of the recorded events of one kind. */
  payloads(kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.events.filter((e) => e.kind === kind).map((e) => e.payload);
  }

  private newSender(session?: number): SyncSender {
    return new SyncSender({ ...this.options.sender, ...(session !== undefined ? { session } : {}), transmit: (_ctx, message) => this.put('standby', message) });
  }

  private newReceiver(): SyncReceiver {
    return new SyncReceiver({ ...this.options.receiver, transmit: (_ctx, message) => this.put('active', message) });
  }

  private put(to: 'active' | 'standby', message: SyncMessage): void {
    const key = `${message.type}->${to}`;
    this.carried[key] = (this.carried[key] ?? 0) + 1;
    const { loss = 0, duplicate = 0, jitterNs = 0, latencyNs = 2_000 } = this.impairments;
    if (this.random() < loss) return;
    const copies = this.random() < duplicate ? 2 : 1;
    const bytes = this.wire ? (to === 'standby' ? buildSyncFrame(ACTIVE, STANDBY, message) : buildSyncFrame(STANDBY, ACTIVE, message)) : null;
    for (let i = 0; i < copies; i++) {
      const arrival = this.clock.now + latencyNs + Math.floor(this.random() * (jitterNs + 1));
      this.inFlight.push({ to, arrival, order: this.order++, message, bytes });
    }
    this.inFlight.sort((a, b) => a.arrival - b.arrival || a.order - b.order);
  }

  private deliver(item: InFlight): void {
    if (item.to === 'standby') {
      const records = item.bytes !== null ? this.receiver.onFrame(this.standbyCtx, item.bytes) : this.receiver.onMessage(this.standbyCtx, item.message);
      if (records === null) throw new Error('The lab carried a frame the receiver did not take for state sync');
      this.applied.push(...records);
      this.replica.apply(records, this.clock.now);
      return;
    }
    const outcome = item.bytes !== null ? this.sender.onFrame(this.activeCtx, item.bytes) : this.sender.onMessage(this.activeCtx, item.message);
    if (outcome === null) throw new Error('The lab carried a frame the sender did not take for state sync');
    if (outcome.bulkRequested) this.sender.bulk(this.activeCtx, this.snapshot());
  }

  private fire(at: VTime): void {
    const active = this.activeCtx.takeDue(at);
    if (active !== undefined) {
      this.sender.onTimer(this.activeCtx, active.name);
      return;
    }
    const standby = this.standbyCtx.takeDue(at);
    if (standby !== undefined) this.receiver.onTimer(this.standbyCtx, standby.name);
  }
}

/** A `mac` record numbered `i` (a distinct MAC per number), handy as a unit of replicated state. */
export function numberedRecord(i: number): SyncRecord {
  const hex = (i & 0xffffff).toString(16).padStart(6, '0');
  return { kind: 'mac', segment: 'seg-a', mac: `02:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`, location: { kind: 'tep', tep: '172.16.0.11' } };
}

/** The number of a `numberedRecord`, or null for any other record. */
export function numberOf(record: SyncRecord): number | null {
  if (record.kind !== 'mac') return null;
  return Number.parseInt(record.mac.slice(9).replaceAll(':', ''), 16);
}

/** The lab's two management endpoints (active first), for frame-level tests. */
export const LAB_ENDPOINTS: readonly [MgmtEndpoint, MgmtEndpoint] = [ACTIVE, STANDBY];
