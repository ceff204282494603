/**
 * For tests: `SyncLab`, a sync sender and receiver on one test lab's clock, joined by a fake
 * management link that can lose, duplicate and reorder messages (seeded), carrying real frames
 * through the wire format by default.
 */
import type { VTime } from '../../../shared/events.js';
import { seededRandom } from '../../../shared/net/testing.js';
import { TestLab } from '../../runtime/testing.js';
import type { MgmtEndpoint } from '../../pcie/mgmt-network.js';
import { buildSyncFrame } from './sync-messages.js';
import type { SyncMessage } from './sync-messages.js';
import type { SyncRecord } from './sync-records.js';
import { SyncReceiver, SyncSender } from './state-sync.js';
import type { SyncReceiverOptions, SyncSenderOptions } from './state-sync.js';
import { SyncReplica } from './replica.js';

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
  message: SyncMessage;
  bytes: Uint8Array | null;
}

const ACTIVE: MgmtEndpoint = { node: 'dpu-a', mac: '02:00:00:00:00:0a', ip: '169.254.0.10' };
const STANDBY: MgmtEndpoint = { node: 'dpu-b', mac: '02:00:00:00:00:0b', ip: '169.254.0.11' };

/** A sender (on `dpu-a`) and a receiver with its replica (on `dpu-b`) joined by an impaired link. */
export class SyncLab {
  readonly lab = new TestLab();
  readonly clock = this.lab.clock;
  readonly events = this.lab.events;
  readonly activeCtx = this.lab.context('dpu-a', (name) => this.sender.onTimer(this.activeCtx, name), { random: 0.5 });
  readonly standbyCtx = this.lab.context('dpu-b', (name) => this.receiver.onTimer(this.standbyCtx, name), { random: 0.5 });
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
    return this.lab.pending();
  }

  /** The sender queues `records` and flushes them. */
  send(records: readonly SyncRecord[]): void {
    this.sender.queue(records);
    this.sender.flush(this.activeCtx);
  }

  /** Runs deliveries and timers in time order until `until` (default: until nothing is left). */
  run(until?: VTime): void {
    this.lab.run(until);
  }

  /** Runs for `ns` of virtual time. */
  advance(ns: VTime): void {
    this.lab.advance(ns);
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
    return this.lab.payloads(kind);
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
      const item = { to, message, bytes };
      this.lab.after(latencyNs + Math.floor(this.random() * (jitterNs + 1)), () => this.deliver(item));
    }
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
