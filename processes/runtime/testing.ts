import type { ResolvedNode, ResolvedTopology, ResolvedWire } from '../../shared/topology/types.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import type { VTime } from '../../shared/events.js';
import type { Channel, NodeContext, NodeCore } from './types.js';

/**
 * Small hand-built topologies and scriptable cores for runtime tests: switches joined in a chain
 * (or any list of wires), each core driven by callbacks.
 */
export function chainTopology(nodes: readonly string[], wires: ReadonlyArray<{ a: string; b: string; latencyNs: number; bandwidthBps?: number; loss?: number }>): ResolvedTopology {
  const ports = new Map<string, string[]>();
  const resolvedWires: ResolvedWire[] = wires.map((w, i) => {
    const aPort = `to-${w.b}`;
    const bPort = `to-${w.a}`;
    ports.set(w.a, [...(ports.get(w.a) ?? []), aPort]);
    ports.set(w.b, [...(ports.get(w.b) ?? []), bPort]);
    return {
      id: `w${i}`,
      kind: 'ethernet',
      a: { node: w.a, port: aPort },
      b: { node: w.b, port: bPort },
      latencyNs: w.latencyNs,
      bandwidthBps: w.bandwidthBps ?? 8e9,
      impairments: { loss: w.loss ?? 0, corrupt: 0, duplicate: 0, jitterNs: 0 },
    };
  });
  const resolvedNodes: ResolvedNode[] = [...nodes].sort().map((id) => ({
    id,
    kind: 'switch',
    ports: (ports.get(id) ?? []).map((name, i) => ({ name, mac: `02:00:00:00:${nodes.indexOf(id).toString(16).padStart(2, '0')}:${i.toString(16).padStart(2, '0')}` })),
    spec: { id, ports: ports.get(id) ?? [], macAgingNs: 300e9 },
  }));
  return { name: 'test', nodes: resolvedNodes, wires: resolvedWires, segments: [] };
}

/** A core whose handlers are the given callbacks; unspecified ones do nothing. */
export function scriptedCore(handlers: Partial<{
  boot: (ctx: NodeContext) => void;
  frame: (ctx: NodeContext, port: string, bytes: Uint8Array, channel: Channel) => void;
  timer: (ctx: NodeContext, name: string, data: unknown) => void;
  link: (ctx: NodeContext, port: string, up: boolean) => void;
  action: (ctx: NodeContext, action: NodeAction) => void;
  end: (ctx: NodeContext) => void;
}>): NodeCore {
  return {
    onBoot: (ctx) => handlers.boot?.(ctx),
    onFrame: (ctx, port, bytes, channel) => handlers.frame?.(ctx, port, bytes, channel),
    onTimer: (ctx, name, data) => handlers.timer?.(ctx, name, data),
    onLink: (ctx, port, up) => handlers.link?.(ctx, port, up),
    onAction: (ctx, action) => handlers.action?.(ctx, action),
    onEnd: (ctx) => handlers.end?.(ctx),
    inspect: () => null,
  };
}

/** A frame a test context was asked to send. */
export interface SentFrame {
  readonly port: string;
  readonly bytes: Uint8Array;
  readonly channel: Channel;
}

/** A timer a test context holds until the test fires it. */
export interface TestTimer {
  readonly id: number;
  readonly at: VTime;
  readonly name: string;
  readonly data: unknown;
}

/**
 * A hand-driven NodeContext for a core's unit tests: time is a field, timers wait in a list until
 * `advance` fires them, ports can be taken down, frames sent and events emitted are recorded.
 * `random` returns one fixed value, so a test knows what a core drew.
 */
export class TestContext implements NodeContext {
  time: VTime = 0;
  readonly emitted: Array<{ kind: string; payload: Readonly<Record<string, unknown>> }> = [];
  sent: SentFrame[] = [];
  timers: TestTimer[] = [];
  /** Ports whose link is down: `send` on them fails and `linkUp` says false. */
  readonly down = new Set<string>();
  private nextId = 1;

  constructor(
    readonly nodeId: string,
    private readonly randomValue = 0.5,
  ) {}

  now(): VTime {
    return this.time;
  }
  random(): number {
    return this.randomValue;
  }
  setTimer(delayNs: VTime, name: string, data?: unknown): number {
    const id = this.nextId++;
    this.timers.push({ id, at: this.time + delayNs, name, data });
    return id;
  }
  cancelTimer(id: number): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  send(port: string, bytes: Uint8Array, channel: Channel = 'eth'): boolean {
    if (this.down.has(port)) return false;
    this.sent.push({ port, bytes, channel });
    return true;
  }
  linkUp(port: string): boolean {
    return !this.down.has(port);
  }
  emit(kind: string, payload: Readonly<Record<string, unknown>>): void {
    this.emitted.push({ kind, payload });
  }

  /** Payloads of the events of one kind, in order. */
  payloads(kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.emitted.filter((e) => e.kind === kind).map((e) => e.payload);
  }

  /** Frames sent since the last call, then forgets them. */
  takeSent(): SentFrame[] {
    const sent = this.sent;
    this.sent = [];
    return sent;
  }

  /** Moves time to `at`, firing every timer due by then, in time order (the first set on a tie), through `fire`. */
  advance(at: VTime, fire: (name: string, data: unknown) => void): void {
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error(`Timers keep firing at ${this.time} ns: a timer re-arms itself without moving on`);
      const due = this.timers.filter((t) => t.at <= at).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      fire(due.name, due.data);
    }
    this.time = at;
  }
}
