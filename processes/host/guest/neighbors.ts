/**
 * The guest's neighbour cache: which MAC an on-link IP address (a peer or the gateway) has, for
 * ARP (IPv4) and neighbour discovery (IPv6) alike. The protocols differ only in the packets they
 * send; the cache logic is the same, so one class serves both with a `solicit` callback.
 *
 * States, as a host OS keeps them:
 * - `incomplete`: a solicitation is out, packets wait in a bounded queue; after `maxProbes`
 *   unanswered tries the entry is removed and the waiting packets are dropped.
 * - `reachable`: confirmed by a reply within `reachableNs`.
 * - `probe`: used past `reachableNs`; the MAC is still used while unicast solicitations check it,
 *   and the entry is removed if they stay unanswered.
 */
import type { VTime } from '../../../shared/events.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import type { NodeContext } from '../../runtime/types.js';
import type { NeighborCacheState, NeighborState } from './state.js';

export type { NeighborState } from './state.js';

/** Timings and limits of a neighbour cache. */
export interface NeighborSettings {
  /** How long a reply keeps an entry reachable. */
  readonly reachableNs: VTime;
  /** Wait between solicitations. */
  readonly retransmitNs: VTime;
  /** Solicitations before giving up. */
  readonly maxProbes: number;
  /** Packets held per unresolved neighbour; the oldest is dropped beyond it. */
  readonly queueLimit: number;
}

/** Defaults close to a Linux guest's (reachable 30 s, 1 s between 3 probes). */
export const DEFAULT_NEIGHBOR_SETTINGS: NeighborSettings = {
  reachableNs: 30_000_000_000,
  retransmitNs: 1_000_000_000,
  maxProbes: 3,
  queueLimit: 32,
};


/** A packet waiting for its next hop's MAC. */
export interface PendingPacket {
  readonly srcIp: string;
  readonly dstIp: string;
  readonly protocol: number;
  /** The encoded upper-layer packet (its checksum only depends on the addresses). */
  readonly l4: Uint8Array;
}

interface Entry {
  readonly vnic: string;
  readonly ip: string;
  mac: MacAddress | null;
  state: NeighborState;
  confirmedAt: VTime;
  probes: number;
  timer: number | null;
  /** Guards against a timer that fires after it was replaced. */
  generation: number;
  queue: PendingPacket[];
}

/** What the cache needs from the stack. */
export interface NeighborHooks {
  /** Sends an ARP request / neighbour solicitation for `ip`: broadcast (multicast) when `unicastTo` is null. */
  solicit(ctx: NodeContext, vnic: string, ip: string, unicastTo: MacAddress | null): void;
  /** Sends packets that were waiting, now that the MAC is known. */
  flush(ctx: NodeContext, vnic: string, mac: MacAddress, packets: readonly PendingPacket[]): void;
  /** Counts packets dropped for `reason`. */
  drop(reason: 'neighbor-unresolved' | 'neighbor-queue-full', count: number): void;
  /** Arms timer `name` with `payload` in its data; returns its id. */
  setTimer(ctx: NodeContext, delayNs: VTime, name: string, payload: Readonly<Record<string, unknown>>): number;
  /** Cancels a timer `setTimer` armed. */
  cancelTimer(ctx: NodeContext, id: number): void;
}

/** One row of the cache, for inspectors. */
export interface NeighborView {
  readonly vnic: string;
  readonly ip: string;
  readonly mac: MacAddress | null;
  readonly state: NeighborState;
  readonly confirmedAt: VTime;
  readonly queued: number;
}

/**
 * A neighbour cache for one address family. Timers are `guest.arp` or `guest.nd` (by family)
 * with `{ vnic, ip, generation }` in their data.
 */
export class NeighborCache {
  private readonly entries = new Map<string, Entry>();
  /** Timer name this cache uses. */
  readonly timerName: string;
  private readonly eventPrefix: 'guest.arp' | 'guest.nd';

  constructor(
    private readonly vm: string,
    readonly family: 4 | 6,
    private readonly settings: NeighborSettings,
    private readonly hooks: NeighborHooks,
  ) {
    this.timerName = family === 4 ? 'guest.arp' : 'guest.nd';
    this.eventPrefix = family === 4 ? 'guest.arp' : 'guest.nd';
  }

  /**
   * Sends `packet` to `ip` on `vnic`: at once through `send` when the MAC is known, otherwise
   * after resolution (queued, a solicitation goes out).
   */
  resolve(ctx: NodeContext, vnic: string, ip: string, packet: PendingPacket, send: (mac: MacAddress) => void): void {
    const entry = this.entries.get(key(vnic, ip));
    if (entry && entry.mac !== null) {
      if (entry.state === 'reachable' && ctx.now() - entry.confirmedAt > this.settings.reachableNs) {
        entry.state = 'probe';
        entry.probes = 0;
        this.probe(ctx, entry);
      }
      send(entry.mac);
      return;
    }
    if (entry) {
      this.enqueue(entry, packet);
      return;
    }
    const fresh: Entry = { vnic, ip, mac: null, state: 'incomplete', confirmedAt: 0, probes: 0, timer: null, generation: 0, queue: [] };
    this.entries.set(key(vnic, ip), fresh);
    this.enqueue(fresh, packet);
    this.probe(ctx, fresh);
  }

  /**
   * Records what a received ARP or NDP message says about `ip`. `solicited` is true for a reply
   * to us (it confirms reachability); `create` allows a new entry (a request aimed at us),
   * otherwise only an existing entry is updated (gratuitous announcements).
   */
  learn(ctx: NodeContext, vnic: string, ip: string, mac: MacAddress, options: { readonly create: boolean }): void {
    let entry = this.entries.get(key(vnic, ip));
    if (!entry) {
      if (!options.create) return;
      entry = { vnic, ip, mac: null, state: 'incomplete', confirmedAt: 0, probes: 0, timer: null, generation: 0, queue: [] };
      this.entries.set(key(vnic, ip), entry);
    }
    const changed = entry.mac !== mac;
    const wasIncomplete = entry.state === 'incomplete';
    entry.mac = mac;
    entry.state = 'reachable';
    entry.confirmedAt = ctx.now();
    entry.probes = 0;
    if (entry.timer !== null) this.hooks.cancelTimer(ctx, entry.timer);
    entry.timer = null;
    entry.generation++;
    if (changed) ctx.emit(`${this.eventPrefix}.resolved`, { vm: this.vm, vnic, ip, mac, after: wasIncomplete ? 'request' : 'update' });
    if (entry.queue.length > 0) {
      const queued = entry.queue;
      entry.queue = [];
      this.hooks.flush(ctx, vnic, mac, queued);
    }
  }

  /** Handles this cache's timer; false if the data is not one of its entries. */
  onTimer(ctx: NodeContext, data: unknown): boolean {
    const d = data as { vnic?: unknown; ip?: unknown; generation?: unknown };
    if (typeof d.vnic !== 'string' || typeof d.ip !== 'string') return false;
    const entry = this.entries.get(key(d.vnic, d.ip));
    if (!entry || entry.generation !== d.generation) return true;
    entry.timer = null;
    if (entry.state === 'reachable') return true;
    if (entry.probes < this.settings.maxProbes) {
      this.probe(ctx, entry);
      return true;
    }
    this.entries.delete(key(entry.vnic, entry.ip));
    if (entry.state === 'incomplete') {
      const dropped = entry.queue.length;
      if (dropped > 0) this.hooks.drop('neighbor-unresolved', dropped);
      ctx.emit(`${this.eventPrefix}.failed`, { vm: this.vm, vnic: entry.vnic, ip: entry.ip, probes: entry.probes, dropped });
    }
    return true;
  }

  /** The cache, sorted by interface then address. */
  view(): NeighborView[] {
    return [...this.entries.values()]
      .sort((a, b) => compare(a.vnic, b.vnic) || compare(a.ip, b.ip))
      .map((e) => ({ vnic: e.vnic, ip: e.ip, mac: e.mac, state: e.state, confirmedAt: e.confirmedAt, queued: e.queue.length }));
  }

  /** Every entry as plain data, in view order, with times as ages before `now` (for moving the VM). */
  exportState(now: VTime): NeighborCacheState {
    const entries = [...this.entries.values()].sort((a, b) => compare(a.vnic, b.vnic) || compare(a.ip, b.ip));
    return {
      entries: entries.map((e) => ({
        vnic: e.vnic,
        ip: e.ip,
        mac: e.mac,
        state: e.state,
        confirmedAgoNs: now - e.confirmedAt,
        probes: e.probes,
        timer: e.timer,
        generation: e.generation,
        queue: e.queue.map((p) => ({ srcIp: p.srcIp, dstIp: p.dstIp, protocol: p.protocol, l4: p.l4.slice() })),
      })),
    };
  }

  /** Takes over the entries of an exported (and validated) state; sends nothing. */
  importState(state: NeighborCacheState, now: VTime): void {
    this.entries.clear();
    for (const e of state.entries) {
      this.entries.set(key(e.vnic, e.ip), {
        vnic: e.vnic,
        ip: e.ip,
        mac: e.mac,
        state: e.state,
        confirmedAt: now - e.confirmedAgoNs,
        probes: e.probes,
        timer: e.timer,
        generation: e.generation,
        queue: e.queue.map((p) => ({ srcIp: p.srcIp, dstIp: p.dstIp, protocol: p.protocol, l4: new Uint8Array(p.l4) })),
      });
    }
  }

  /** The MAC known for `ip` on `vnic`, if any (for tests and inspectors). */
  peek(vnic: string, ip: string): MacAddress | null {
    return this.entries.get(key(vnic, ip))?.mac ?? null;
  }

  private enqueue(entry: Entry, packet: PendingPacket): void {
    entry.queue.push(packet);
    if (entry.queue.length > this.settings.queueLimit) {
      entry.queue.shift();
      this.hooks.drop('neighbor-queue-full', 1);
    }
  }

  private probe(ctx: NodeContext, entry: Entry): void {
    entry.probes++;
    entry.generation++;
    this.hooks.solicit(ctx, entry.vnic, entry.ip, entry.state === 'probe' ? entry.mac : null);
    entry.timer = this.hooks.setTimer(ctx, this.settings.retransmitNs, this.timerName, { vnic: entry.vnic, ip: entry.ip, generation: entry.generation });
  }
}

function key(vnic: string, ip: string): string {
  return `${vnic}|${ip}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
