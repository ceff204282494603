import type { ResolvedNode, ResolvedTopology, ResolvedWire } from '../../shared/topology/types.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import type { VTime } from '../../shared/events.js';
import { RandomStream } from '../../shared/random.js';
import { decode } from '../../shared/codec.js';
import { NodeRuntime } from './node-runtime.js';
import type { Channel, NodeContext, NodeCore, NodeInput } from './types.js';

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

/** A timer a test context holds until the test, or its lab, fires it. */
export interface TestTimer {
  readonly id: number;
  readonly at: VTime;
  /** Order of setting across one lab (or one context), which breaks ties between timers due at once. */
  readonly seq: number;
  readonly name: string;
  readonly data: unknown;
}

/** An event a test context recorded: who emitted it, when, what. */
export interface TestEvent {
  readonly node: string;
  readonly time: VTime;
  readonly kind: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** How a test context behaves; every field has a default. */
export interface TestContextOptions {
  /** What `random` returns: one fixed value (default 0.5, so a test knows what a core drew) or a stream. */
  readonly random?: number | (() => number);
  /** The clock to read, shared by several contexts (default: a clock of its own, at 0). */
  readonly clock?: { now: VTime };
  /** A list every emitted event is also appended to, shared by several contexts. */
  readonly events?: TestEvent[];
  /** Where a send goes after it is recorded; its answer is `send`'s (default: taken, true). */
  readonly onSend?: (port: string, bytes: Uint8Array, channel: Channel) => boolean;
  /** Hands out timer order numbers (a lab gives one counter to all its contexts). */
  readonly nextSeq?: () => number;
}

/**
 * The NodeContext for a core's unit tests: time is a clock the test (or a {@link TestLab}) moves,
 * timers wait in a list until they are fired, ports can be taken down, frames sent and events
 * emitted are recorded. It checks what the real runtime would refuse: a timer delay that is not a
 * whole non-negative number of ns, an event payload that is not plain data.
 */
export class TestContext implements NodeContext {
  readonly clock: { now: VTime };
  /** Events this context emitted, in order. */
  readonly events: TestEvent[] = [];
  sent: SentFrame[] = [];
  timers: TestTimer[] = [];
  /** Ports whose link is down: `send` on them fails and `linkUp` says false. */
  readonly down = new Set<string>();
  private nextId = 1;
  private readonly draw: () => number;
  private readonly shared: TestEvent[] | undefined;
  private readonly onSend: ((port: string, bytes: Uint8Array, channel: Channel) => boolean) | undefined;
  private readonly nextSeq: () => number;

  constructor(
    readonly nodeId: string,
    options: TestContextOptions = {},
  ) {
    const random = options.random ?? 0.5;
    this.draw = typeof random === 'number' ? () => random : random;
    this.clock = options.clock ?? { now: 0 };
    this.shared = options.events;
    this.onSend = options.onSend;
    let seq = 0;
    this.nextSeq = options.nextSeq ?? (() => seq++);
  }

  /** The clock's time; setting it moves the (shared) clock without firing anything. */
  get time(): VTime {
    return this.clock.now;
  }
  set time(at: VTime) {
    this.clock.now = at;
  }

  now(): VTime {
    return this.clock.now;
  }
  random(): number {
    return this.draw();
  }
  setTimer(delayNs: VTime, name: string, data?: unknown): number {
    if (!(delayNs >= 0) || !Number.isInteger(delayNs)) throw new Error(`Timer ${name} needs a whole, non-negative delay, got ${delayNs}`);
    const id = this.nextId++;
    this.timers.push({ id, at: this.clock.now + delayNs, seq: this.nextSeq(), name, data });
    return id;
  }
  cancelTimer(id: number): void {
    this.timers = this.timers.filter((t) => t.id !== id);
  }
  send(port: string, bytes: Uint8Array, channel: Channel = 'eth'): boolean {
    if (this.down.has(port)) return false;
    this.sent.push({ port, bytes, channel });
    return this.onSend?.(port, bytes, channel) ?? true;
  }
  linkUp(port: string): boolean {
    return !this.down.has(port);
  }
  emit(kind: string, payload: Readonly<Record<string, unknown>>): void {
    assertPlainData(payload, kind);
    const event = { node: this.nodeId, time: this.clock.now, kind, payload };
    this.events.push(event);
    this.shared?.push(event);
  }

  /** Sets a port's link state as the runtime would see it. */
  setLink(port: string, up: boolean): void {
    if (up) this.down.delete(port);
    else this.down.add(port);
  }

  /** Events of one kind, in order. */
  eventsOf(kind: string): TestEvent[] {
    return this.events.filter((e) => e.kind === kind);
  }

  /** Payloads of the events of one kind, in order. */
  payloads(kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.eventsOf(kind).map((e) => e.payload);
  }

  /** Forgets the events recorded so far. */
  clear(): void {
    this.events.length = 0;
  }

  /** Frames sent since the last call, then forgets them. */
  takeSent(): SentFrame[] {
    const sent = this.sent;
    this.sent = [];
    return sent;
  }

  /** The earliest timer due by `at` (the first set on a tie), if any. */
  peekDue(at: VTime = Infinity): TestTimer | undefined {
    let first: TestTimer | undefined;
    for (const t of this.timers) if (t.at <= at && (first === undefined || t.at < first.at || (t.at === first.at && t.seq < first.seq))) first = t;
    return first;
  }

  /** Removes and returns the earliest timer due by `at` (the first set on a tie), if any. */
  takeDue(at: VTime = Infinity): TestTimer | undefined {
    const due = this.peekDue(at);
    if (due !== undefined) this.timers = this.timers.filter((t) => t !== due);
    return due;
  }

  /** When the next timer is due, or null. */
  nextDue(): VTime | null {
    return this.peekDue()?.at ?? null;
  }

  /** Moves time to `at`, firing every timer due by then, in time order (the first set on a tie), through `fire`. */
  advance(at: VTime, fire: (name: string, data: unknown) => void): void {
    for (let fired = 0; ; fired++) {
      if (fired > 100_000) throw new Error(`Timers keep firing at ${this.time} ns: a timer re-arms itself without moving on`);
      const due = this.takeDue(at);
      if (!due) break;
      this.time = due.at;
      fire(due.name, due.data);
    }
    this.time = at;
  }
}

interface Scheduled {
  readonly at: VTime;
  readonly seq: number;
  readonly tag: unknown;
  readonly run: () => void;
}

interface Member {
  readonly ctx: TestContext;
  readonly onTimer: (name: string, data: unknown) => void;
}

/**
 * A small lab of hand-wired cores on one clock: contexts whose timers it fires through their
 * handlers, and work the test schedules (a frame arriving over a fake wire). `run` does both in
 * (time, order of scheduling) order, as a node handles its messages in arrival order. Where a
 * test needs the real wires (bandwidth, impairments, link state), use {@link RuntimeLab}.
 */
export class TestLab {
  readonly clock = { now: 0 };
  /** Every event any of its contexts emitted, in order. */
  readonly events: TestEvent[] = [];
  private queue: Scheduled[] = [];
  private readonly members: Member[] = [];
  private seq = 0;

  constructor(readonly seed = 1) {}

  /** Virtual time now. */
  get now(): VTime {
    return this.clock.now;
  }

  /**
   * A context on the lab's clock for `nodeId`; its timers fire through `onTimer` when the lab
   * runs. Its random stream is seeded by the lab's seed and the node id unless `options` fix it.
   */
  context(nodeId: string, onTimer: (name: string, data: unknown) => void, options: Pick<TestContextOptions, 'random' | 'onSend'> = {}): TestContext {
    const random = new RandomStream(this.seed, 'node', nodeId);
    const ctx = new TestContext(nodeId, { random: () => random.next(), ...options, clock: this.clock, events: this.events, nextSeq: () => this.seq++ });
    this.members.push({ ctx, onTimer });
    return ctx;
  }

  /** Runs `run` at `at` (not before now); `tag` names it for `cancel` and `pending`. */
  at(at: VTime, run: () => void, tag?: unknown): void {
    const item = { at: Math.max(at, this.clock.now), seq: this.seq++, tag, run };
    // Binary search for the insertion point keeps the queue sorted by (at, seq).
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = this.queue[mid]!;
      if (m.at < item.at || (m.at === item.at && m.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, item);
  }

  /** Runs `run` after `delayNs`. */
  after(delayNs: VTime, run: () => void, tag?: unknown): void {
    this.at(this.clock.now + delayNs, run, tag);
  }

  /** Drops the scheduled work whose tag `match` accepts; returns how many. */
  cancel(match: (tag: unknown) => boolean): number {
    const before = this.queue.length;
    this.queue = this.queue.filter((item) => !match(item.tag));
    return before - this.queue.length;
  }

  /** Scheduled work still to run (whose tag `match` accepts), timers left out. */
  pending(match: (tag: unknown) => boolean = () => true): number {
    return this.queue.filter((item) => match(item.tag)).length;
  }

  /** Runs the next thing due by `until` (a scheduled item or a timer); false when there is none. */
  step(until: VTime = Infinity): boolean {
    let timer: { member: Member; timer: TestTimer } | undefined;
    for (const member of this.members) {
      const due = member.ctx.peekDue(until);
      if (due !== undefined && (timer === undefined || due.at < timer.timer.at || (due.at === timer.timer.at && due.seq < timer.timer.seq))) timer = { member, timer: due };
    }
    const item = this.queue[0];
    const itemFirst = item !== undefined && item.at <= until && (timer === undefined || item.at < timer.timer.at || (item.at === timer.timer.at && item.seq < timer.timer.seq));
    if (itemFirst) {
      this.queue.shift();
      this.clock.now = Math.max(this.clock.now, item.at);
      item.run();
      return true;
    }
    if (timer === undefined) return false;
    timer.member.ctx.takeDue(timer.timer.at);
    this.clock.now = Math.max(this.clock.now, timer.timer.at);
    timer.member.onTimer(timer.timer.name, timer.timer.data);
    return true;
  }

  /**
   * Runs everything due up to `until`, then sets the clock there; without `until`, runs until
   * nothing is left (at most `limit` steps: a lab that never settles is a bug the test should see).
   */
  run(until?: VTime, limit = 10_000_000): void {
    for (let n = 0; this.step(until ?? Infinity); n++) if (n >= limit) throw new Error(`The lab is still busy at ${this.clock.now} ns after ${limit} steps`);
    if (until !== undefined) this.clock.now = Math.max(this.clock.now, until);
  }

  /** Runs for `ns` of virtual time. */
  advance(ns: VTime): void {
    this.run(this.clock.now + ns);
  }

  /** Events of one kind, optionally only those whose payload has the given fields. */
  eventsOf(kind: string, match: Readonly<Record<string, unknown>> = {}): TestEvent[] {
    return this.events.filter((e) => e.kind === kind && Object.entries(match).every(([k, v]) => e.payload[k] === v));
  }

  /** Payloads of the events of one kind, in order. */
  payloads(kind: string): Array<Readonly<Record<string, unknown>>> {
    return this.eventsOf(kind).map((e) => e.payload);
  }
}

/**
 * Throws when `value` is not plain data a node may emit: no undefined, no functions, no class
 * instances other than byte arrays (which the event codec carries as binary).
 */
export function assertPlainData(value: unknown, where: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || value instanceof Uint8Array) return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${where}: ${value} is not a finite number`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertPlainData(v, `${where}[${i}]`));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) assertPlainData(v, `${where}.${k}`);
    return;
  }
  throw new Error(`${where}: ${String(value)} is not plain data`);
}

/**
 * A few real `NodeRuntime`s in one process on one clock, for a test whose cores need what only
 * the runtime gives: timers, frames between cores over wires with latency, bandwidth,
 * impairments and link state. It runs one node instant at a time, the earliest first (a node
 * handles what arrives at one instant before any frame it sends can land, since every wire has a
 * latency), and hands each frame to its receiver at once, as the in-process cluster does.
 *
 * @example
 * const lab = new RuntimeLab(chainTopology(['a', 'b'], [{ a: 'a', b: 'b', latencyNs: 1_000 }]), { a: coreA, b: coreB });
 * lab.boot();
 * lab.run(1_000_000);
 * expect(lab.payloads('flow.report')).toHaveLength(1);
 */
export class RuntimeLab {
  /** Every event the nodes emitted, in the order the runtimes handled their instants. */
  readonly events: TestEvent[] = [];
  /** Virtual time the lab has run to. */
  now: VTime = 0;
  private readonly runtimes = new Map<string, NodeRuntime>();
  private inputSeq = 0;

  constructor(
    readonly topology: ResolvedTopology,
    cores: Readonly<Record<string, NodeCore>>,
    readonly seed = 1,
  ) {
    for (const [nodeId, core] of Object.entries(cores).sort(([a], [b]) => a.localeCompare(b))) {
      this.runtimes.set(nodeId, new NodeRuntime({ topology, nodeId, seed, incarnation: 0, nodeSeqBase: 0, core }));
    }
  }

  /** Queues an input for one node at `at` (default now), as the controller would. */
  input(nodeId: string, input: NodeInput, at: VTime = this.now): void {
    this.runtime(nodeId).deliver({ type: 'input', arrival: at, src: 'controller', srcSeq: this.inputSeq++, cause: null, input });
  }

  /** Boots every node at `at` (default now). */
  boot(at: VTime = this.now): void {
    for (const nodeId of this.runtimes.keys()) this.input(nodeId, { type: 'boot' }, at);
  }

  /** Runs every instant up to and including `until`, then sets the clock there. */
  run(until: VTime): void {
    for (;;) {
      let next: NodeRuntime | undefined;
      for (const rt of this.runtimes.values()) if (rt.nextTime() <= until && (next === undefined || rt.nextTime() < next.nextTime())) next = rt;
      if (next === undefined) break;
      const at = next.nextTime();
      this.now = at;
      const { events, out } = next.runWindow(at + 1);
      for (const e of events) this.events.push({ node: e.node, time: e.vtime, kind: e.kind, payload: decode(e.payload) as Readonly<Record<string, unknown>> });
      for (const frame of out) {
        const peer = this.runtimes.get(frame.toNode);
        if (peer === undefined) continue;
        peer.deliver({ type: 'frame', arrival: frame.arrival, src: next.nodeId, srcSeq: frame.srcSeq, cause: frame.cause, port: frame.toPort, channel: frame.channel, bytes: frame.bytes, ...(frame.corrupted ? { corrupted: true } : {}) });
      }
    }
    this.now = Math.max(this.now, until);
  }

  /** Events of one kind (from one node when given), in order. */
  eventsOf(kind: string, node?: string): TestEvent[] {
    return this.events.filter((e) => e.kind === kind && (node === undefined || e.node === node));
  }

  /** Payloads of the events of one kind (from one node when given), in order. */
  payloads(kind: string, node?: string): Array<Readonly<Record<string, unknown>>> {
    return this.eventsOf(kind, node).map((e) => e.payload);
  }

  private runtime(nodeId: string): NodeRuntime {
    const rt = this.runtimes.get(nodeId);
    if (rt === undefined) throw new Error(`No node ${nodeId} in the lab`);
    return rt;
  }
}
