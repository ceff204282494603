/**
 * The switch's learned MAC table: per segment, which MAC was last seen where (a local vNIC, a
 * remote TEP, an uplink of a VLAN segment), with aging and a size limit per segment.
 *
 * Aging is lazy: an entry older than the aging time is treated as absent when looked up and
 * removed then, so the table needs no timers and behaves the same whenever it is consulted.
 */
import type { VTime } from '../../../shared/events.js';
import type { Ipv4Address } from '../../../shared/net/ip.js';
import type { MacAddress } from '../../../shared/net/mac.js';

/** Where a learned MAC lives. */
export type MacLocation =
  | { readonly kind: 'vnic'; readonly vnic: string }
  | { readonly kind: 'tep'; readonly tep: Ipv4Address }
  | { readonly kind: 'uplink'; readonly port: string };

/** A learned entry as inspectors see it. */
export interface LearnedMac {
  readonly mac: MacAddress;
  readonly location: MacLocation;
  readonly lastSeen: VTime;
}

/** What learning did with a source MAC. */
export type LearnOutcome = 'new' | 'moved' | 'refreshed' | 'table-full';

/** Default aging of learned MACs: 600 s. */
export const DEFAULT_MAC_AGING_NS = 600e9;
/** Default limit of learned MACs per segment. */
export const DEFAULT_MAC_LIMIT = 4096;

function sameLocation(a: MacLocation, b: MacLocation): boolean {
  if (a.kind === 'vnic' && b.kind === 'vnic') return a.vnic === b.vnic;
  if (a.kind === 'tep' && b.kind === 'tep') return a.tep === b.tep;
  if (a.kind === 'uplink' && b.kind === 'uplink') return a.port === b.port;
  return false;
}

/** A learning table keyed by (segment, MAC). */
export class MacLearningTable {
  private readonly segments = new Map<string, Map<MacAddress, { location: MacLocation; lastSeen: VTime }>>();

  constructor(
    private readonly agingNs: VTime = DEFAULT_MAC_AGING_NS,
    private readonly limit: number = DEFAULT_MAC_LIMIT,
  ) {}

  /**
   * Learns that `mac` was seen at `location` now. A full segment first forgets its expired
   * entries; if it is still full the MAC is not learned (existing entries are never evicted,
   * so a flood of spoofed sources cannot push out real ones).
   */
  learn(segment: string, mac: MacAddress, location: MacLocation, now: VTime): LearnOutcome {
    let table = this.segments.get(segment);
    if (!table) {
      table = new Map();
      this.segments.set(segment, table);
    }
    const entry = table.get(mac);
    if (entry && now - entry.lastSeen < this.agingNs) {
      const moved = !sameLocation(entry.location, location);
      entry.location = location;
      entry.lastSeen = now;
      return moved ? 'moved' : 'refreshed';
    }
    if (entry) table.delete(mac);
    if (table.size >= this.limit) this.expire(table, now);
    if (table.size >= this.limit) return 'table-full';
    table.set(mac, { location, lastSeen: now });
    return 'new';
  }

  /** Where `mac` was last seen on the segment, unless that was longer ago than the aging time. */
  lookup(segment: string, mac: MacAddress, now: VTime): MacLocation | undefined {
    const table = this.segments.get(segment);
    const entry = table?.get(mac);
    if (!table || !entry) return undefined;
    if (now - entry.lastSeen >= this.agingNs) {
      table.delete(mac);
      return undefined;
    }
    return entry.location;
  }

  /** Forgets a MAC on a segment (it moved here, or its vNIC left). */
  forget(segment: string, mac: MacAddress): void {
    this.segments.get(segment)?.delete(mac);
  }

  private expire(table: Map<MacAddress, { lastSeen: VTime }>, now: VTime): void {
    for (const [mac, entry] of [...table]) if (now - entry.lastSeen >= this.agingNs) table.delete(mac);
  }

  /** The unexpired entries per segment, segments and MACs sorted. */
  table(now: VTime): Record<string, LearnedMac[]> {
    const out: Record<string, LearnedMac[]> = {};
    for (const segment of [...this.segments.keys()].sort()) {
      const table = this.segments.get(segment)!;
      const rows = [...table]
        .filter(([, e]) => now - e.lastSeen < this.agingNs)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([mac, e]) => ({ mac, location: { ...e.location }, lastSeen: e.lastSeen }));
      if (rows.length > 0) out[segment] = rows;
    }
    return out;
  }
}
