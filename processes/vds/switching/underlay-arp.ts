/**
 * The underlay neighbour table of a TEP: remote TEP address → MAC, learned by real ARP through
 * the physical switches, and the small per-next-hop queues of encapsulated frames that wait for
 * an ARP reply.
 *
 * Entries age out; a while before they do, the switch refreshes the ones still in use by asking
 * again, so a busy tunnel never stalls on an expired entry.
 */
import type { VTime } from '../../../shared/events.js';
import type { Ipv4Address } from '../../../shared/net/ip.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import type { FrameOrigin, SwitchStep } from './actions.js';
import { compareIpv4 } from './control-plane.js';

/** Default lifetime of a resolved entry: 300 s. */
export const DEFAULT_ARP_AGING_NS = 300e9;
/** Default number of frames one unresolved next hop may hold. */
export const DEFAULT_ARP_PENDING_LIMIT = 64;
/** Time between ARP requests for an unresolved next hop: 1 s. */
export const DEFAULT_ARP_RETRY_NS = 1e9;
/** Requests sent for one resolution before its queued frames are dropped. */
export const DEFAULT_ARP_ATTEMPTS = 3;

/** A resolved underlay neighbour. */
export interface UnderlayNeighbor {
  readonly tep: Ipv4Address;
  readonly mac: MacAddress;
  /** The uplink its last ARP arrived on. */
  readonly port: string;
  /** When it was last confirmed by an ARP packet from it. */
  readonly confirmedAt: VTime;
}

/** An encapsulated frame waiting for its next hop's MAC (bytes 0 to 5 are filled in then). */
export interface QueuedFrame {
  readonly frame: Uint8Array;
  readonly steps: readonly SwitchStep[];
  readonly origin: FrameOrigin;
}

interface Entry {
  mac: MacAddress;
  port: string;
  confirmedAt: VTime;
  /** When a refresh request was last sent, or null. */
  refreshSentAt: VTime | null;
}

interface Pending {
  readonly frames: QueuedFrame[];
  attempts: number;
  timer: number | null;
}

/** What learning an ARP packet did to the table. */
export type NeighborUpdate = 'resolved' | 'changed' | 'confirmed' | 'ignored';

/** Options of the underlay ARP table; every field has a default. */
export interface UnderlayArpOptions {
  readonly agingNs?: VTime;
  readonly pendingLimit?: number;
  readonly retryNs?: VTime;
  readonly attempts?: number;
}

/** The ARP cache and pending queues of one TEP. */
export class UnderlayArp {
  readonly agingNs: VTime;
  readonly pendingLimit: number;
  readonly retryNs: VTime;
  readonly attempts: number;
  private readonly entries = new Map<Ipv4Address, Entry>();
  private readonly pending = new Map<Ipv4Address, Pending>();

  constructor(options: UnderlayArpOptions = {}) {
    this.agingNs = options.agingNs ?? DEFAULT_ARP_AGING_NS;
    this.pendingLimit = options.pendingLimit ?? DEFAULT_ARP_PENDING_LIMIT;
    this.retryNs = options.retryNs ?? DEFAULT_ARP_RETRY_NS;
    this.attempts = options.attempts ?? DEFAULT_ARP_ATTEMPTS;
  }

  /** The MAC of a TEP, unless unknown or expired (an expired entry is removed). */
  lookup(tep: Ipv4Address, now: VTime): MacAddress | undefined {
    const entry = this.entries.get(tep);
    if (!entry) return undefined;
    if (now - entry.confirmedAt >= this.agingNs) {
      this.entries.delete(tep);
      return undefined;
    }
    return entry.mac;
  }

  /**
   * True when a used entry is in the last quarter of its life and no refresh was asked for in
   * the last retry interval: the caller should send an ARP request for it now.
   */
  claimRefresh(tep: Ipv4Address, now: VTime): boolean {
    const entry = this.entries.get(tep);
    if (!entry || now - entry.confirmedAt < (this.agingNs * 3) / 4) return false;
    if (entry.refreshSentAt !== null && now - entry.refreshSentAt < this.retryNs) return false;
    entry.refreshSentAt = now;
    return true;
  }

  /**
   * Takes in the sender of an ARP packet. `create` says whether an unknown sender may be added
   * (RFC 826: only when the packet was for us); a known sender is always updated.
   */
  learn(tep: Ipv4Address, mac: MacAddress, port: string, now: VTime, create: boolean): NeighborUpdate {
    const entry = this.entries.get(tep);
    const live = entry !== undefined && now - entry.confirmedAt < this.agingNs;
    if (!live && !create && !this.pending.has(tep)) return 'ignored';
    this.entries.set(tep, { mac, port, confirmedAt: now, refreshSentAt: null });
    if (!live) return 'resolved';
    return entry.mac === mac ? 'confirmed' : 'changed';
  }

  /** Whether frames are waiting for this TEP. */
  isPending(tep: Ipv4Address): boolean {
    return this.pending.has(tep);
  }

  /**
   * Queues a frame for an unresolved TEP. Returns 'first' when this started a resolution (send
   * a request), 'queued' when one was already under way, 'full' when the queue is at its limit.
   */
  enqueue(tep: Ipv4Address, frame: QueuedFrame): 'first' | 'queued' | 'full' {
    const waiting = this.pending.get(tep);
    if (!waiting) {
      this.pending.set(tep, { frames: [frame], attempts: 1, timer: null });
      return 'first';
    }
    if (waiting.frames.length >= this.pendingLimit) return 'full';
    waiting.frames.push(frame);
    return 'queued';
  }

  /** Records the retry timer of a pending resolution. */
  setTimer(tep: Ipv4Address, timer: number): void {
    const waiting = this.pending.get(tep);
    if (waiting) waiting.timer = timer;
  }

  /** Removes and returns the frames waiting for a TEP, with the retry timer to cancel. */
  release(tep: Ipv4Address): { frames: QueuedFrame[]; timer: number | null } {
    const waiting = this.pending.get(tep);
    this.pending.delete(tep);
    return { frames: waiting?.frames ?? [], timer: waiting?.timer ?? null };
  }

  /**
   * A retry is due: returns 'retry' (and counts the attempt) while attempts remain, 'give-up'
   * when they are spent, 'none' when the TEP is no longer pending.
   */
  retry(tep: Ipv4Address): 'retry' | 'give-up' | 'none' {
    const waiting = this.pending.get(tep);
    if (!waiting) return 'none';
    if (waiting.attempts >= this.attempts) return 'give-up';
    waiting.attempts++;
    return 'retry';
  }

  /** The TEPs with frames waiting, sorted by address. */
  pendingTeps(): Ipv4Address[] {
    return [...this.pending.keys()].sort(compareIpv4);
  }

  /** The live entries and the pending resolutions, sorted by address, for inspectors. */
  table(now: VTime): { neighbors: UnderlayNeighbor[]; pending: Array<{ tep: Ipv4Address; frames: number; attempts: number }> } {
    const neighbors = [...this.entries]
      .filter(([, e]) => now - e.confirmedAt < this.agingNs)
      .sort(([a], [b]) => compareIpv4(a, b))
      .map(([tep, e]) => ({ tep, mac: e.mac, port: e.port, confirmedAt: e.confirmedAt }));
    const pending = this.pendingTeps().map((tep) => {
      const p = this.pending.get(tep)!;
      return { tep, frames: p.frames.length, attempts: p.attempts };
    });
    return { neighbors, pending };
  }
}
