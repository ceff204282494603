import type { VTime } from '../../shared/events.js';
import type { NodeContext } from '../runtime/types.js';

interface MacEntry {
  port: string;
  /** Last time a frame from this MAC was seen; the entry ages out `agingNs` after it. */
  lastSeen: VTime;
}

/**
 * A learning bridge's MAC address table, keyed by (VLAN, MAC), with aging. Records `mac.learn`
 * when a MAC appears or moves to another port (what a RARP after vMotion or failover causes) and
 * `mac.age` when an entry ages out.
 */
export class MacTable {
  private readonly entries = new Map<string, MacEntry>();
  private sweepArmed = false;

  constructor(private readonly agingNs: VTime) {}

  /** Learns `mac` on `port`; returns true when this was new or a move. */
  learn(ctx: NodeContext, vlan: number, mac: string, port: string): boolean {
    const key = `${vlan}/${mac}`;
    const entry = this.entries.get(key);
    if (entry && entry.port === port) {
      entry.lastSeen = ctx.now();
      return false;
    }
    this.entries.set(key, { port, lastSeen: ctx.now() });
    ctx.emit('mac.learn', { vlan, mac, port, movedFrom: entry?.port ?? null });
    if (!this.sweepArmed) {
      this.sweepArmed = true;
      ctx.setTimer(this.agingNs, 'mac.sweep');
    }
    return true;
  }

  lookup(vlan: number, mac: string): string | undefined {
    return this.entries.get(`${vlan}/${mac}`)?.port;
  }

  /** Forgets everything learned on any port but `port` (a spanning tree topology change). */
  flushAllBut(port: string | null): void {
    for (const [key, entry] of [...this.entries]) if (entry.port !== port) this.entries.delete(key);
  }

  /** Forgets everything learned on a port (its link went down). */
  flushPort(port: string): void {
    for (const [key, entry] of [...this.entries]) if (entry.port === port) this.entries.delete(key);
  }

  /** Ages out stale entries; re-arms itself while entries remain. */
  sweep(ctx: NodeContext): void {
    this.sweepArmed = false;
    const now = ctx.now();
    let next = Infinity;
    for (const [key, entry] of [...this.entries].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const expires = entry.lastSeen + this.agingNs;
      if (expires <= now) {
        this.entries.delete(key);
        const [vlan, mac] = key.split('/') as [string, string];
        ctx.emit('mac.age', { vlan: Number(vlan), mac, port: entry.port });
      } else next = Math.min(next, expires);
    }
    if (Number.isFinite(next)) {
      this.sweepArmed = true;
      ctx.setTimer(next - now, 'mac.sweep');
    }
  }

  /** The table sorted by VLAN and MAC, for inspectors. */
  table(): Array<{ vlan: number; mac: string; port: string; lastSeen: VTime }> {
    return [...this.entries]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, e]) => {
        const [vlan, mac] = key.split('/') as [string, string];
        return { vlan: Number(vlan), mac, port: e.port, lastSeen: e.lastSeen };
      });
  }
}
