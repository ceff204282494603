import type { MirrorSession } from '../../shared/topology/types.js';

/**
 * The port mirroring (SPAN) sessions of a switch: which destination ports get a copy of what a
 * port receives and of what it sends. Copies are the frames exactly as received (before any VLAN
 * filtering) or exactly as sent (after egress tagging). A destination port only carries copies:
 * the switch never floods or forwards to it, and drops what it receives.
 */
export class PortMirror {
  /** Ports that are the destination of a session. */
  readonly destinations: ReadonlySet<string>;
  private readonly rx = new Map<string, string[]>();
  private readonly tx = new Map<string, string[]>();

  constructor(readonly sessions: readonly MirrorSession[]) {
    this.destinations = new Set(sessions.map((s) => s.destination));
    for (const session of sessions) {
      for (const source of new Set(session.sources)) {
        if (session.direction !== 'tx') this.rx.set(source, [...(this.rx.get(source) ?? []), session.destination]);
        if (session.direction !== 'rx') this.tx.set(source, [...(this.tx.get(source) ?? []), session.destination]);
      }
    }
  }

  /** Destination ports for a copy of a frame received on `port`, in session order. */
  rxCopies(port: string): readonly string[] {
    return this.rx.get(port) ?? [];
  }

  /** Destination ports for a copy of a frame sent out of `port`, in session order. */
  txCopies(port: string): readonly string[] {
    return this.tx.get(port) ?? [];
  }

  /** Whether `port` is a mirror destination. */
  isDestination(port: string): boolean {
    return this.destinations.has(port);
  }
}
