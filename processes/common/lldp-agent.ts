import type { VTime } from '../../shared/events.js';
import { buildLldpFrame, decodeLldpFrame, type LldpCapability } from '../../shared/net/lldp.js';
import type { PortSpec } from '../../shared/topology/types.js';
import type { NodeContext } from '../runtime/types.js';

/** IEEE 802.1AB defaults: transmit every 30 s, advertise a TTL of 4 intervals (120 s). */
export const LLDP_TX_INTERVAL_NS: VTime = 30_000_000_000;
export const LLDP_TTL_SECONDS = 120;
/** The first advertisement leaves within this delay of boot, at a seeded offset per port. */
const LLDP_FIRST_TX_SPREAD_NS: VTime = 50_000_000;

/** What a port has learned about the box at the other end of its cable. */
export interface LldpNeighbor {
  readonly chassisId: string;
  readonly portId: string;
  readonly systemName: string;
  readonly portDescription: string;
  readonly capabilities: readonly string[];
  /** When the advertisement stops being valid. */
  readonly expiresAt: VTime;
}

export interface LldpIdentity {
  readonly systemName: string;
  readonly systemDescription: string;
  readonly capabilities: readonly LldpCapability[];
  /** MAC that identifies the chassis (the node's first port). */
  readonly chassisMac: string;
}

/**
 * An LLDP agent: advertises the node on every Ethernet port and learns the neighbour on each.
 * Used by DPUs (on their uplinks) and switches (on every port), so each knows who is at the other
 * end of its cables. Records `lldp.neighbor` when a neighbour appears or changes and
 * `lldp.expired` when its advertisement times out.
 */
export class LldpAgent {
  private readonly neighbors = new Map<string, LldpNeighbor>();

  constructor(
    private readonly identity: LldpIdentity,
    private readonly ports: readonly PortSpec[],
  ) {}

  /** Schedules the first advertisement on each port, spread by the node's random stream. */
  start(ctx: NodeContext): void {
    for (const port of this.ports) {
      ctx.setTimer(Math.floor(ctx.random() * LLDP_FIRST_TX_SPREAD_NS), 'lldp.tx', port.name);
    }
  }

  /** Handles the agent's timers; returns false for a timer that is not the agent's. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (name === 'lldp.tx') {
      this.advertise(ctx, data as string);
      ctx.setTimer(LLDP_TX_INTERVAL_NS, 'lldp.tx', data);
      return true;
    }
    if (name === 'lldp.expire') {
      const { port, expiresAt } = data as { port: string; expiresAt: VTime };
      const neighbor = this.neighbors.get(port);
      if (neighbor && neighbor.expiresAt === expiresAt) {
        this.neighbors.delete(port);
        ctx.emit('lldp.expired', { port, chassisId: neighbor.chassisId, systemName: neighbor.systemName, reason: 'ttl' });
      }
      return true;
    }
    return false;
  }

  /** A link came up: advertise at once rather than waiting for the next interval. */
  onLinkUp(ctx: NodeContext, port: string): void {
    if (this.ports.some((p) => p.name === port)) this.advertise(ctx, port);
  }

  /** A link went down: what was learned on it is gone. */
  onLinkDown(ctx: NodeContext, port: string): void {
    const neighbor = this.neighbors.get(port);
    if (!neighbor) return;
    this.neighbors.delete(port);
    ctx.emit('lldp.expired', { port, chassisId: neighbor.chassisId, systemName: neighbor.systemName, reason: 'link-down' });
  }

  /** Handles a received LLDPDU (the caller has checked the EtherType). Throws FrameError if malformed. */
  receive(ctx: NodeContext, port: string, bytes: Uint8Array): void {
    const lldp = decodeLldpFrame(bytes);
    const neighbor: LldpNeighbor = {
      chassisId: lldp.chassisId.value,
      portId: lldp.portId.value,
      systemName: lldp.systemName ?? '',
      portDescription: lldp.portDescription ?? '',
      capabilities: lldp.capabilities?.enabled ?? [],
      expiresAt: ctx.now() + lldp.ttlSeconds * 1_000_000_000,
    };
    const previous = this.neighbors.get(port);
    this.neighbors.set(port, neighbor);
    if (!previous || previous.chassisId !== neighbor.chassisId || previous.portId !== neighbor.portId || previous.systemName !== neighbor.systemName) {
      ctx.emit('lldp.neighbor', {
        port,
        chassisId: neighbor.chassisId,
        portId: neighbor.portId,
        systemName: neighbor.systemName,
        portDescription: neighbor.portDescription,
        capabilities: [...neighbor.capabilities],
        ttlSeconds: lldp.ttlSeconds,
      });
    }
    if (lldp.ttlSeconds > 0) ctx.setTimer(lldp.ttlSeconds * 1_000_000_000, 'lldp.expire', { port, expiresAt: neighbor.expiresAt });
  }

  /** The neighbour table, sorted by port, for inspectors. */
  table(): Array<{ port: string } & LldpNeighbor> {
    return [...this.neighbors].sort(([a], [b]) => (a < b ? -1 : 1)).map(([port, n]) => ({ port, ...n }));
  }

  private advertise(ctx: NodeContext, port: string): void {
    const spec = this.ports.find((p) => p.name === port);
    if (!spec || !ctx.linkUp(port)) return;
    ctx.send(
      port,
      buildLldpFrame({
        srcMac: spec.mac,
        chassisMac: this.identity.chassisMac,
        portId: port,
        ttlSec: LLDP_TTL_SECONDS,
        systemName: this.identity.systemName,
        systemDescription: this.identity.systemDescription,
        portDescription: `${this.identity.systemName} ${port}`,
        capabilities: this.identity.capabilities,
      }),
    );
  }
}
