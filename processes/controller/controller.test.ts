import { describe, expect, it, vi } from 'vitest';
import { decode } from '../../shared/codec.js';
import type { RecordedEvent } from '../../shared/events.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { loadDefaultLab } from '../../shared/topology/load.js';
import { NodeRuntime } from '../runtime/node-runtime.js';
import { chainTopology, scriptedCore } from '../runtime/testing.js';
import type { NodeContext, NodeCore } from '../runtime/types.js';
import { planInput } from './actions.js';
import { Controller, type ControllerOptions, type TimedInput } from './controller.js';
import { InProcessCluster } from './in-process.js';

/** Records an event of a kind only these test cores know: the catalogue is for dpulab's own cores. */
function emitTestEvent(ctx: NodeContext, kind: string, payload: Readonly<Record<string, unknown>>): void {
  (ctx.emit.bind(ctx) as unknown as (kind: string, payload: Readonly<Record<string, unknown>>) => void)(kind, payload);
}

/**
 * A chatty core: on boot and on every frame it waits a random while, then forwards a counter to a
 * random port; every reception is recorded. Random delays and ports make windows of every shape.
 */
function gossipCore(): NodeCore {
  return scriptedCore({
    boot: (ctx) => ctx.setTimer(Math.floor(ctx.random() * 5_000), 'fwd', 0),
    frame: (ctx, port, bytes) => {
      const hop = bytes[0]!;
      emitTestEvent(ctx, 'gossip.rx', { port, hop });
      if (hop < 40) ctx.setTimer(Math.floor(ctx.random() * 3_000), 'fwd', hop + 1);
    },
    timer: (ctx, _name, hop) => {
      const ports = ['to-a', 'to-b', 'to-c', 'to-d'].filter((p) => ctx.linkUp(p));
      const port = ports[Math.floor(ctx.random() * ports.length)]!;
      ctx.send(port, new Uint8Array([hop as number, 0, 0, 0]));
    },
  });
}

const GOSSIP = chainTopology(
  ['a', 'b', 'c', 'd'],
  [
    { a: 'a', b: 'b', latencyNs: 700 },
    { a: 'b', b: 'c', latencyNs: 1_300 },
    { a: 'c', b: 'd', latencyNs: 2_100 },
    { a: 'a', b: 'd', latencyNs: 5_000 },
  ],
);

async function runWindows(topology: ResolvedTopology, seed: number, endNs: number, core: () => NodeCore, inputs: TimedInput[] = []): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  const cluster = new InProcessCluster(topology, seed, () => core());
  const controller = new Controller({
    topology,
    cluster,
    sink: { append: (batch) => void events.push(...batch) },
    endNs,
    inputs,
    plan: (record) => planInput(topology, record),
  });
  await controller.run();
  return events;
}

/**
 * The reference: a plain sequential simulation that handles one instant of one node at a time and
 * hands frames over at once. Slow, obviously right, and what windows must reproduce exactly.
 */
function runSequential(topology: ResolvedTopology, seed: number, endNs: number, core: () => NodeCore): Map<string, string[]> {
  const runtimes = new Map(topology.nodes.map((n) => [n.id, new NodeRuntime({ topology, nodeId: n.id, seed, incarnation: 0, nodeSeqBase: 0, core: core() })]));
  let seq = 0;
  for (const rt of runtimes.values()) rt.deliver({ type: 'input', arrival: 0, src: 'controller', srcSeq: seq++, cause: null, input: { type: 'boot' } });
  for (const rt of runtimes.values()) rt.deliver({ type: 'input', arrival: endNs, src: 'controller', srcSeq: seq++, cause: null, input: { type: 'end' } });
  const perNode = new Map<string, string[]>([...runtimes.keys()].map((id) => [id, []]));
  for (;;) {
    let best: NodeRuntime | null = null;
    for (const rt of runtimes.values()) if (!best || rt.nextTime() < best.nextTime()) best = rt;
    if (!best || !Number.isFinite(best.nextTime())) break;
    const { events, out } = best.runWindow(best.nextTime() + 1);
    for (const e of events) perNode.get(e.node)!.push(`${e.vtime} ${e.kind} ${JSON.stringify(decode(e.payload), (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))}`);
    for (const f of out) {
      runtimes.get(f.toNode)!.deliver({ type: 'frame', arrival: f.arrival, src: best.nodeId, srcSeq: f.srcSeq, cause: f.cause, port: f.toPort, channel: f.channel, bytes: f.bytes });
    }
  }
  return perNode;
}

function byNode(events: RecordedEvent[]): Map<string, string[]> {
  const perNode = new Map<string, string[]>();
  for (const e of events) {
    if (e.node === 'controller') continue;
    const list = perNode.get(e.node) ?? [];
    list.push(`${e.vtime} ${e.kind} ${JSON.stringify(decode(e.payload), (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v))}`);
    perNode.set(e.node, list);
  }
  return perNode;
}

describe('Controller', () => {
  it('Controller windows give every node exactly the history of a sequential simulation', async () => {
    for (const seed of [1, 2, 3]) {
      const windowed = byNode(await runWindows(GOSSIP, seed, 200_000, gossipCore));
      const sequential = runSequential(GOSSIP, seed, 200_000, gossipCore);
      expect(windowed.get('a')!.length).toBeGreaterThan(20);
      for (const id of ['a', 'b', 'c', 'd']) expect(windowed.get(id), `node ${id}, seed ${seed}`).toEqual(sequential.get(id));
    }
  });

  it('Controller orders events by virtual time with dense seqs and causes that point backwards', async () => {
    const events = await runWindows(GOSSIP, 5, 100_000, gossipCore);
    events.forEach((e, i) => {
      expect(e.seq).toBe(i);
      if (i > 0) expect(e.vtime).toBeGreaterThanOrEqual(events[i - 1]!.vtime);
      if (e.cause !== null) expect(e.cause).toBeLessThan(e.seq);
    });
    // Every reception is caused by the frame.tx that sent it.
    const rx = events.filter((e) => e.kind === 'gossip.rx');
    expect(rx.length).toBeGreaterThan(0);
    for (const e of rx) expect(events[e.cause!]!.kind).toBe('frame.tx');
  });

  it('Controller gives the default lab the same log for the same seed and another for another seed', async () => {
    const lab = loadDefaultLab();
    const run = async (seed: number): Promise<string> => {
      const events: RecordedEvent[] = [];
      const cluster = new InProcessCluster(lab, seed);
      await new Controller({ topology: lab, cluster, sink: { append: (b) => void events.push(...b) }, endNs: 1e9, inputs: [], plan: (r) => planInput(lab, r) }).run();
      return JSON.stringify(events.map((e) => [e.seq, e.vtime, e.node, e.kind, e.cause, [...e.payload]]));
    };
    const seven = await run(7);
    expect(await run(7)).toBe(seven);
    expect(await run(8)).not.toBe(seven);
  });

  it('Controller applies inputs at their virtual time: a link down stops the gossip across it', async () => {
    const inputs: TimedInput[] = [
      { atNs: 50_000, record: { action: 'link', wire: 'w0', state: 'down' } },
      { atNs: 50_000, record: { action: 'link', wire: 'w3', state: 'down' } },
    ];
    const events = await runWindows(GOSSIP, 1, 150_000, gossipCore, inputs);
    const linkEvents = events.filter((e) => e.kind === 'link.state');
    expect(linkEvents.map((e) => e.vtime)).toEqual([50_000, 50_000, 50_000, 50_000]);
    // Node a has no link left after 50 us: nothing reaches it from then on (frames in flight are dropped).
    const late = events.filter((e) => e.node === 'a' && e.kind === 'gossip.rx' && e.vtime > 50_000);
    expect(late).toEqual([]);
    expect(events.filter((e) => e.node === 'a' && e.kind === 'gossip.rx').length).toBeGreaterThan(0);
  });
});

describe('Controller pacing', () => {
  function pacedRun(wall: { ms: number }, speed: number) {
    const events: RecordedEvent[] = [];
    const controller = new Controller({
      topology: GOSSIP,
      cluster: new InProcessCluster(GOSSIP, 1, () => gossipCore()),
      sink: { append: (batch) => void events.push(...batch) },
      endNs: 10_000_000,
      inputs: [],
      plan: (record) => planInput(GOSSIP, record),
      pace: { speed },
      wallClock: () => wall.ms,
    });
    return { controller, events, done: controller.run() };
  }

  it('Controller in real-time mode advances virtual time only as the wall clock moves, times the speed', async () => {
    const wall = { ms: 0 };
    const { controller, events, done } = pacedRun(wall, 0.001);
    await new Promise((r) => setTimeout(r, 60));
    expect(controller.now()).toBe(0);
    // 2 wall milliseconds at a thousandth of real speed are 2 virtual microseconds.
    wall.ms = 2;
    await vi.waitFor(() => expect(controller.now()).toBeGreaterThanOrEqual(1_000), { timeout: 2_000 });
    expect(controller.now()).toBeLessThanOrEqual(2_000);
    expect(events.every((e) => e.vtime <= 2_000)).toBe(true);
    controller.setSpeed(0);
    await done;
    expect(controller.now()).toBe(10_000_000);
  });

  it('Controller pause holds the run and step handles one instant at a time', async () => {
    const wall = { ms: 0 };
    const { controller, events, done } = pacedRun(wall, 1);
    controller.pause();
    wall.ms = 1_000_000;
    await new Promise((r) => setTimeout(r, 60));
    const atPause = events.length;
    const before = controller.now();
    controller.step();
    await vi.waitFor(() => expect(events.length).toBeGreaterThan(atPause), { timeout: 2_000 });
    await new Promise((r) => setTimeout(r, 60));
    const stepped = events.slice(atPause);
    // One instant: every event of the step shares one virtual time.
    expect(new Set(stepped.map((e) => e.vtime)).size).toBe(1);
    expect(stepped[0]!.vtime).toBeGreaterThanOrEqual(before);
    const afterStep = events.length;
    await new Promise((r) => setTimeout(r, 60));
    expect(events.length).toBe(afterStep);
    controller.setSpeed(0);
    controller.resume();
    await done;
    expect(controller.now()).toBe(10_000_000);
  });
});

describe('Controller scheduling', () => {
  it('Controller applies an input scheduled while the run waits for the wall clock at its own time', async () => {
    // Each node's only event is a timer at 50 us: a window planned before the input would run
    // past 12.345 us and handle the input in the node's past.
    const sleepy = (): NodeCore => scriptedCore({ boot: (ctx) => ctx.setTimer(50_000, 'tick'), timer: (ctx) => emitTestEvent(ctx, 'tick', {}) });
    const wall = { ms: 0 };
    const events: RecordedEvent[] = [];
    const controller = new Controller({
      topology: GOSSIP,
      cluster: new InProcessCluster(GOSSIP, 1, sleepy),
      sink: { append: (batch) => void events.push(...batch) },
      endNs: 1_000_000,
      inputs: [],
      plan: (record) => planInput(GOSSIP, record),
      pace: { speed: 0.001 },
      wallClock: () => wall.ms,
    });
    const done = controller.run();
    // Let the run start (and anchor its pacing at wall time 0) before the clock moves.
    await new Promise((r) => setTimeout(r, 30));
    wall.ms = 10;
    await vi.waitFor(() => expect(controller.now()).toBe(10_000), { timeout: 2_000 });
    controller.schedule({ atNs: 12_345, record: { action: 'link', wire: 'w0', state: 'down' } });
    expect(() => controller.schedule({ atNs: 5_000, record: { action: 'note', text: 'too late' } })).toThrow(/already at 10000 ns/);
    controller.setSpeed(0);
    await done;
    const timeline = events.filter((e) => ['input.link', 'link.state', 'tick'].includes(e.kind) && e.node !== 'c' && e.node !== 'd');
    expect(timeline.map((e) => [e.kind, e.vtime])).toEqual([
      ['input.link', 12_345],
      ['link.state', 12_345],
      ['link.state', 12_345],
      ['tick', 50_000],
      ['tick', 50_000],
    ]);
    for (let i = 1; i < events.length; i++) expect(events[i]!.vtime).toBeGreaterThanOrEqual(events[i - 1]!.vtime);
  });
});

describe('Controller restarts', () => {
  it('Controller numbers a node restarted at the instant of its kill after all its earlier events, so causes stay exact', async () => {
    // b sends a to-a frame every microsecond; a records each (as a node.error, the simplest kind
    // of the catalogue). b is killed and started again at one instant while its last frames are
    // still on the wire: a's records of them must name the frames' own frame.tx as cause, not an
    // event of b's next life.
    const PAIR = chainTopology(['a', 'b'], [{ a: 'a', b: 'b', latencyNs: 10_000 }]);
    const core = (id: string): NodeCore =>
      id === 'b'
        ? scriptedCore({ boot: (ctx) => ctx.setTimer(1_000, 'tx'), timer: (ctx) => (ctx.send('to-a', new Uint8Array(60)), ctx.setTimer(1_000, 'tx')) })
        : scriptedCore({ frame: (ctx) => ctx.emit('node.error', { message: 'got a frame', while: 'frame' }) });
    const events: RecordedEvent[] = [];
    const controller = new Controller({
      topology: PAIR,
      cluster: new InProcessCluster(PAIR, 1, (node) => core(node.id)),
      sink: { append: (batch) => void events.push(...batch) },
      endNs: 60_000,
      inputs: [
        { atNs: 25_500, record: { action: 'kill', node: 'b' } },
        { atNs: 25_500, record: { action: 'restart', node: 'b' } },
      ],
      plan: (record) => planInput(PAIR, record),
    });
    await controller.run();
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    const got = events.filter((e) => e.kind === 'node.error' && e.node === 'a');
    expect(got.length).toBeGreaterThan(20);
    for (const e of got) {
      const cause = bySeq.get(e.cause!)!;
      expect({ kind: cause.kind, node: cause.node }).toEqual({ kind: 'frame.tx', node: 'b' });
      expect((decode(cause.payload) as { arrival: number }).arrival).toBe(e.vtime);
    }
  });
});

describe('Controller stops', () => {
  function view(events: RecordedEvent[]): string[] {
    return events.map((e) => `${e.seq} ${e.vtime} ${e.node} ${e.kind} ${Buffer.from(e.payload).toString('hex')}`);
  }

  /**
   * A 10 ms run of the gossip lab with `seed` and `options`, and every event it recorded. With
   * `interruptAfter`, it is interrupted from inside a window's commit once that many events are
   * in, as a signal arriving mid-window would.
   */
  async function gossipRun(seed: number, options: Partial<ControllerOptions> & { interruptAfter?: number } = {}) {
    const { interruptAfter, ...rest } = options;
    const events: RecordedEvent[] = [];
    const controller: Controller = new Controller({
      topology: GOSSIP,
      cluster: new InProcessCluster(GOSSIP, seed, () => gossipCore()),
      sink: {
        append: (batch) => {
          events.push(...batch);
          if (interruptAfter !== undefined && events.length > interruptAfter) controller.interrupt();
        },
      },
      endNs: 10_000_000,
      inputs: [],
      plan: (record) => planInput(GOSSIP, record),
      ...rest,
    });
    return { result: await controller.run(), events };
  }

  it('Controller stops an interrupted run between windows, records run.stop, and a replay stops at the same event', async () => {
    const { result, events } = await gossipRun(3, { interruptAfter: 200 });
    expect(result.status).toBe('interrupted');
    const stops = events.filter((e) => e.kind === 'run.stop');
    expect(stops).toHaveLength(1);
    expect(decode(stops[0]!.payload)).toEqual({ reason: 'interrupted', detail: null });
    // After the stop come only the nodes' planned exits.
    expect(events.slice(stops[0]!.seq + 1).map((e) => e.kind)).toEqual(['node.exit', 'node.exit', 'node.exit', 'node.exit']);

    const replay = await gossipRun(3, { stopAt: { vtime: stops[0]!.vtime, reason: 'interrupted', detail: null } });
    expect(replay.result.status).toBe('interrupted');
    expect(view(replay.events)).toEqual(view(events));
  });

  it('Controller replay stops where a paced run was interrupted, though its windows are larger', async () => {
    // Paced: every wall-clock reading moves 1 ms, a thousandth of real speed: windows of 1 us.
    const wall = { ms: 0 };
    const { result, events } = await gossipRun(4, { interruptAfter: 150, pace: { speed: 0.001 }, wallClock: () => (wall.ms += 1) });
    expect(result.status).toBe('interrupted');
    const stop = events.find((e) => e.kind === 'run.stop')!;
    const replay = await gossipRun(4, { stopAt: { vtime: stop.vtime, reason: 'interrupted', detail: null } });
    expect(view(replay.events)).toEqual(view(events));
  });

  it('Controller stops a run that goes over its event budget, with status failed and the reason', async () => {
    const { result, events } = await gossipRun(1, { eventBudgetPerMs: 50 });
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(/^Event budget exceeded: more than 50 events in the virtual millisecond at 0 ms/);
    // Stopped no later than the end of the millisecond that went over, of a 10 ms run.
    expect(result.virtualTimeNs).toBeLessThanOrEqual(1_000_000);
    const stop = events.find((e) => e.kind === 'run.stop')!;
    expect(decode(stop.payload)).toMatchObject({ reason: 'event-budget' });
  });
});
