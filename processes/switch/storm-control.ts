import type { StormControlSpec } from '../../shared/topology/types.js';
import type { NodeContext } from '../runtime/types.js';

const NS_PER_S = 1_000_000_000;

interface Bucket {
  /** Tokens, in billionths of a frame, so that refills stay integers (deterministic). */
  level: number;
  refilledAt: number;
  suppressing: boolean;
  /** Frames dropped in the current suppression. */
  dropped: number;
  /** Frames dropped on the port since boot. */
  droppedTotal: number;
}

/**
 * Storm control: a token bucket per ingress port for the frames a switch would flood
 * (broadcast, multicast, unknown unicast). Up to `burst` frames pass at once and `pps` a second
 * after that; the rest are dropped without an event each (a storm must not become a storm of
 * events), and `switch.storm` records when a port starts suppressing and when it stops, with
 * how many frames it dropped.
 */
export class StormControl {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly spec: StormControlSpec | null) {}

  /** Whether a frame to be flooded, received on `port`, may be. */
  admit(ctx: NodeContext, port: string): boolean {
    const spec = this.spec;
    if (spec === null) return true;
    const now = ctx.now();
    const full = spec.burst * NS_PER_S;
    let bucket = this.buckets.get(port);
    if (bucket === undefined) {
      bucket = { level: full, refilledAt: now, suppressing: false, dropped: 0, droppedTotal: 0 };
      this.buckets.set(port, bucket);
    }
    bucket.level = Math.min(full, bucket.level + (now - bucket.refilledAt) * spec.pps);
    bucket.refilledAt = now;
    if (bucket.level >= NS_PER_S) {
      bucket.level -= NS_PER_S;
      if (bucket.suppressing) {
        bucket.suppressing = false;
        ctx.emit('switch.storm', { port, state: 'cleared', dropped: bucket.dropped, pps: spec.pps, burst: spec.burst });
        bucket.dropped = 0;
      }
      return true;
    }
    if (!bucket.suppressing) {
      bucket.suppressing = true;
      ctx.emit('switch.storm', { port, state: 'suppressing', dropped: 0, pps: spec.pps, burst: spec.burst });
    }
    bucket.dropped++;
    bucket.droppedTotal++;
    return false;
  }

  /** Per port: whether it is suppressing and how many frames it dropped, for inspectors. */
  inspect(): unknown {
    if (this.spec === null) return null;
    return {
      ...this.spec,
      ports: Object.fromEntries([...this.buckets].sort(([a], [b]) => (a < b ? -1 : 1)).map(([port, b]) => [port, { suppressing: b.suppressing, dropped: b.droppedTotal }])),
    };
  }
}
