/**
 * NIC teaming with explicit failover order: the first uplink in the order whose link is up
 * carries all traffic; the others stand by. When the preferred uplink comes back, traffic fails
 * back to it (ESXi's default).
 */

/** A change of the active uplink: `from` or `to` is null when no uplink was or is up. */
export interface TeamChange {
  readonly from: string | null;
  readonly to: string | null;
  readonly reason: 'link-down' | 'link-up';
}

/** The link state of a team of uplinks and which one is active. */
export class Teaming {
  private readonly up = new Map<string, boolean>();
  private current: string | null;

  /** `order` is the explicit failover order; links start up, as wires do at boot. */
  constructor(readonly order: readonly string[]) {
    for (const port of order) this.up.set(port, true);
    this.current = this.pick();
  }

  private pick(): string | null {
    return this.order.find((p) => this.up.get(p) === true) ?? null;
  }

  /** The uplink carrying traffic now, or null when none is up. */
  get active(): string | null {
    return this.current;
  }

  /** Whether the port belongs to the team. */
  has(port: string): boolean {
    return this.up.has(port);
  }

  /** Whether a team port's link is up. */
  isUp(port: string): boolean {
    return this.up.get(port) === true;
  }

  /** Records a link change; returns the change of active uplink it causes, or null. */
  setLink(port: string, up: boolean): TeamChange | null {
    if (!this.up.has(port)) return null;
    this.up.set(port, up);
    const next = this.pick();
    if (next === this.current) return null;
    const change = { from: this.current, to: next, reason: up ? ('link-up' as const) : ('link-down' as const) };
    this.current = next;
    return change;
  }

  /** Link state per uplink, in failover order, for inspectors. */
  state(): Array<{ port: string; up: boolean; active: boolean }> {
    return this.order.map((port) => ({ port, up: this.up.get(port) === true, active: port === this.current }));
  }
}
