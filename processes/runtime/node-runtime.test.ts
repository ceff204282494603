import { describe, expect, it } from 'vitest';
import { decode } from '../../shared/codec.js';
import type { NodeEvent } from '../../shared/events.js';
import { NodeRuntime } from './node-runtime.js';
import { chainTopology, RuntimeLab, scriptedCore } from './testing.js';
import type { NodeCore, NodeInput, QueuedMessage } from './types.js';

function runtimeFor(core: NodeCore, options: { latencyNs?: number; bandwidthBps?: number; loss?: number; seed?: number } = {}): NodeRuntime {
  const topology = chainTopology(['a', 'b'], [{ a: 'a', b: 'b', latencyNs: options.latencyNs ?? 1_000, bandwidthBps: options.bandwidthBps ?? 8e9, loss: options.loss ?? 0 }]);
  return new NodeRuntime({ topology, nodeId: 'a', seed: options.seed ?? 1, incarnation: 0, nodeSeqBase: 0, core });
}

function input(arrival: number, srcSeq: number, i: NodeInput): QueuedMessage {
  return { type: 'input', arrival, src: 'controller', srcSeq, cause: null, input: i };
}

function payloads(events: NodeEvent[], kind: string): Array<Record<string, unknown>> {
  return events.filter((e) => e.kind === kind).map((e) => decode(e.payload) as Record<string, unknown>);
}

describe('NodeRuntime', () => {
  it('NodeRuntime serialises frames at the wire bandwidth and delivers them after its latency', () => {
    // 8 Gb/s is one byte per ns; an Ethernet frame also pays 20 bytes of preamble and gap.
    const rt = runtimeFor(
      scriptedCore({
        boot: (ctx) => {
          ctx.send('to-b', new Uint8Array(100));
          ctx.send('to-b', new Uint8Array(100));
        },
      }),
    );
    rt.deliver(input(500, 0, { type: 'boot' }));
    const { out, events } = rt.runWindow(501);
    expect(out.map((f) => f.arrival)).toEqual([500 + 120 + 1_000, 500 + 240 + 1_000]);
    expect(out.map((f) => f.toNode)).toEqual(['b', 'b']);
    expect(payloads(events, 'frame.tx').map((p) => p.txStart)).toEqual([500, 620]);
  });

  it('NodeRuntime handles messages in (arrival, src, srcSeq) order whatever the delivery order', () => {
    const seen: string[] = [];
    const rt = runtimeFor(scriptedCore({ frame: (_ctx, _port, bytes) => seen.push(String.fromCharCode(...bytes)) }));
    const frame = (arrival: number, src: string, srcSeq: number, text: string): QueuedMessage => ({
      type: 'frame',
      arrival,
      src,
      srcSeq,
      cause: null,
      port: 'to-b',
      channel: 'eth',
      bytes: new Uint8Array([...text].map((c) => c.charCodeAt(0))),
    });
    rt.deliver(frame(20, 'b', 0, 'D'));
    rt.deliver(frame(10, 'z', 0, 'C'));
    rt.deliver(frame(10, 'b', 1, 'B'));
    rt.deliver(frame(10, 'b', 0, 'A'));
    rt.runWindow(15);
    expect(seen).toEqual(['A', 'B', 'C']);
    rt.runWindow(100);
    expect(seen).toEqual(['A', 'B', 'C', 'D']);
  });

  it('NodeRuntime never handles a message at or after the horizon', () => {
    const fired: number[] = [];
    const rt = runtimeFor(
      scriptedCore({
        boot: (ctx) => {
          ctx.setTimer(100, 't');
          ctx.setTimer(200, 't');
        },
        timer: (ctx) => fired.push(ctx.now()),
      }),
    );
    rt.deliver(input(0, 0, { type: 'boot' }));
    rt.runWindow(200);
    expect(fired).toEqual([100]);
    expect(rt.nextTime()).toBe(200);
  });

  it('NodeRuntime never fires a cancelled timer', () => {
    const fired: string[] = [];
    const rt = runtimeFor(
      scriptedCore({
        boot: (ctx) => {
          const id = ctx.setTimer(100, 'cancelled');
          ctx.setTimer(50, 'kept');
          ctx.cancelTimer(id);
        },
        timer: (_ctx, name) => fired.push(name),
      }),
    );
    rt.deliver(input(0, 0, { type: 'boot' }));
    rt.runWindow(1_000);
    expect(fired).toEqual(['kept']);
  });

  it('NodeRuntime drops frames on a down link, says why, and tells the core', () => {
    const links: boolean[] = [];
    const rt = runtimeFor(
      scriptedCore({
        link: (ctx, _port, up) => {
          links.push(up);
          ctx.send('to-b', new Uint8Array(64));
        },
      }),
    );
    rt.deliver(input(10, 0, { type: 'link', port: 'to-b', up: false }));
    const { out, events } = rt.runWindow(20);
    expect(links).toEqual([false]);
    expect(out).toHaveLength(0);
    expect(payloads(events, 'link.state')).toEqual([{ port: 'to-b', wire: 'w0', up: false }]);
    expect(payloads(events, 'frame.drop')).toEqual([{ port: 'to-b', reason: 'link-down', len: 64 }]);
  });

  it('NodeRuntime draws impairments from the wire stream, leaving the node stream untouched', () => {
    const fates = (seed: number): { fates: unknown[]; draws: number[] } => {
      const draws: number[] = [];
      const rt = runtimeFor(
        scriptedCore({
          boot: (ctx) => {
            for (let i = 0; i < 64; i++) ctx.send('to-b', new Uint8Array(60));
            draws.push(ctx.random(), ctx.random());
          },
        }),
        { loss: 0.5, seed },
      );
      rt.deliver(input(0, 0, { type: 'boot' }));
      return { fates: payloads(rt.runWindow(1).events, 'frame.tx').map((p) => p.fate), draws };
    };
    const first = fates(1);
    expect(first).toEqual(fates(1));
    expect(first.fates.filter((f) => f === 'lost').length).toBeGreaterThan(10);
    expect(first.fates.filter((f) => f === 'delivered').length).toBeGreaterThan(10);
    expect(fates(2).fates).not.toEqual(first.fates);
    // The node's own stream is the same whatever the wire drew.
    const lossless = runtimeFor(scriptedCore({ boot: (ctx) => first.draws.push(ctx.random(), ctx.random()) }), { seed: 1 });
    lossless.deliver(input(0, 0, { type: 'boot' }));
    lossless.runWindow(1);
    expect(first.draws.slice(2)).toEqual(first.draws.slice(0, 2));
  });

  it('NodeRuntime applies an impairment burst for its duration only, then the wire is as the topology says', () => {
    const rt = runtimeFor(
      scriptedCore({
        timer: (ctx) => {
          for (let i = 0; i < 40; i++) ctx.send('to-b', new Uint8Array(60));
        },
        boot: (ctx) => {
          ctx.setTimer(100, 'during');
          ctx.setTimer(2_000, 'after');
        },
      }),
    );
    rt.deliver(input(0, 0, { type: 'boot' }));
    rt.deliver(input(50, 1, { type: 'impair', port: 'to-b', impairments: { loss: 0.5, corrupt: 0, duplicate: 0.5, jitterNs: 300 }, durationNs: 1_000 }));
    const tx = payloads(rt.runWindow(10_000).events, 'frame.tx');
    const during = tx.slice(0, 40);
    const after = tx.slice(40);
    expect(during.filter((p) => p.fate === 'lost').length).toBeGreaterThan(5);
    expect(during.filter((p) => p.fate === 'duplicated').length).toBeGreaterThan(2);
    // Jitter reorders: some frame arrives before the one sent ahead of it.
    const arrivals = during.filter((p) => p.fate !== 'lost').map((p) => p.arrival as number);
    expect(arrivals.some((a, i) => i > 0 && a < arrivals[i - 1]!)).toBe(true);
    expect(after.every((p) => p.fate === 'delivered')).toBe(true);
  });

  it('NodeRuntime corrupts a copy of a frame: the sender\'s bytes, a Buffer or not, stay as it wrote them', () => {
    const sent: Uint8Array[] = [];
    const rt = runtimeFor(
      scriptedCore({
        boot: (ctx) => ctx.setTimer(100, 'send'),
        timer: (ctx) => {
          for (let i = 0; i < 20; i++) {
            const frame = Buffer.alloc(60, i);
            sent.push(frame);
            ctx.send('to-b', frame);
          }
        },
      }),
    );
    rt.deliver(input(0, 0, { type: 'boot' }));
    rt.deliver(input(50, 1, { type: 'impair', port: 'to-b', impairments: { loss: 0, corrupt: 1, duplicate: 0, jitterNs: 0 }, durationNs: 1_000 }));
    const result = rt.runWindow(100_000);
    expect(result.out.filter((f) => f.corrupted === true)).toHaveLength(20);
    sent.forEach((frame, i) => expect([...frame]).toEqual(new Array(60).fill(i)));
    // What the log records and what the receiver gets is the damaged copy.
    const recorded = payloads(result.events, 'frame.tx').map((p) => p.bytes as Uint8Array);
    expect(recorded.every((bytes, i) => bytes.some((b) => b !== i))).toBe(true);
  });

  /** Forty back-to-back frames from a to b on a wire of `kind`, under an impairment burst; the window's result. */
  function burstOn(kind: 'ethernet' | 'pcie', impairments: { loss: number; corrupt: number; duplicate: number; jitterNs: number }) {
    const chain = chainTopology(['a', 'b'], [{ a: 'a', b: 'b', latencyNs: 1_000, bandwidthBps: 8e9 }]);
    const topology = { ...chain, wires: chain.wires.map((w) => ({ ...w, kind })) };
    const core = scriptedCore({
      boot: (ctx) => ctx.setTimer(100, 'send'),
      timer: (ctx) => {
        for (let i = 0; i < 40; i++) ctx.send('to-b', new Uint8Array(60));
      },
    });
    const rt = new NodeRuntime({ topology, nodeId: 'a', seed: 1, incarnation: 0, nodeSeqBase: 0, core });
    rt.deliver(input(0, 0, { type: 'boot' }));
    rt.deliver(input(50, 1, { type: 'impair', port: 'to-b', impairments, durationNs: 1_000 }));
    const result = rt.runWindow(100_000);
    return { out: result.out, tx: payloads(result.events, 'frame.tx') };
  }

  it('NodeRuntime keeps a PCIe link whole under impairments: lost or damaged frames are replayed later, duplicates discarded', () => {
    const { out, tx } = burstOn('pcie', { loss: 0.3, corrupt: 0.3, duplicate: 0.3, jitterNs: 0 });
    expect(tx.map((p) => p.fate)).toEqual(new Array(40).fill('delivered'));
    expect(out).toHaveLength(40);
    expect(out.every((f) => f.corrupted !== true)).toBe(true);
    // Some were replayed: they arrive later than back-to-back sending alone would make them.
    const arrivals = tx.map((p) => p.arrival as number);
    expect(arrivals.some((a, i) => i > 0 && a - arrivals[i - 1]! > 1_000)).toBe(true);
  });

  it('NodeRuntime keeps a PCIe link in order under jitter: frames are delayed, never reordered', () => {
    const arrivalsOn = (kind: 'ethernet' | 'pcie'): number[] => burstOn(kind, { loss: 0, corrupt: 0, duplicate: 0, jitterNs: 300 }).tx.map((p) => p.arrival as number);
    const reordered = (arrivals: number[]) => arrivals.some((a, i) => i > 0 && a < arrivals[i - 1]!);
    expect(reordered(arrivalsOn('ethernet'))).toBe(true);
    const inOrder = arrivalsOn('pcie');
    expect(reordered(inOrder)).toBe(false);
    // Still jittered: some frame arrives more than its own 60 ns on the link after the one before it.
    expect(inOrder.some((a, i) => i > 0 && a - inOrder[i - 1]! > 60)).toBe(true);
  });

  it('NodeRuntime records a failing core as node.error and goes on with the next message', () => {
    let handled = 0;
    const rt = runtimeFor(
      scriptedCore({
        boot: (ctx) => {
          ctx.setTimer(10, 'boom');
          ctx.setTimer(20, 'fine');
        },
        timer: (_ctx, name) => {
          handled++;
          if (name === 'boom') throw new Error('Core bug');
        },
      }),
    );
    rt.deliver(input(0, 0, { type: 'boot' }));
    const { events } = rt.runWindow(100);
    expect(handled).toBe(2);
    expect(payloads(events, 'node.error')).toEqual([{ message: 'Core bug', while: 'timer' }]);
  });

  it('NodeRuntime hands a core only actions whose arguments parse, and names the field of one that does not', () => {
    const taken: unknown[] = [];
    const rt = runtimeFor(scriptedCore({ action: (_ctx, action) => taken.push(action) }));
    rt.deliver(input(0, 0, { type: 'boot' }));
    rt.deliver(input(10, 1, { type: 'action', action: 'vm.reserve', args: { vm: 'web-01', memoryReservationMiB: 'all' } }));
    rt.deliver(input(20, 2, { type: 'action', action: 'teleport', args: {} }));
    rt.deliver(input(30, 3, { type: 'action', action: 'vm.reserve', args: { vm: 'web-01', memoryReservationMiB: 2048 } }));
    const { events } = rt.runWindow(100);
    expect(payloads(events, 'node.error')).toEqual([
      { message: 'Action vm.reserve: args.memoryReservationMiB: expected an integer, got "all"', while: 'action' },
      { message: 'Unknown action teleport', while: 'action' },
    ]);
    expect(taken).toEqual([{ action: 'vm.reserve', args: { vm: 'web-01', memoryReservationMiB: 2048 } }]);
  });

  it('NodeRuntime ignores everything after the end of the run', () => {
    const fired: number[] = [];
    const rt = runtimeFor(scriptedCore({ boot: (ctx) => ctx.setTimer(100, 'late'), timer: (ctx) => fired.push(ctx.now()) }));
    rt.deliver(input(0, 0, { type: 'boot' }));
    rt.deliver(input(100, 1, { type: 'end' }));
    rt.runWindow(1_000);
    expect(fired).toEqual([]);
    expect(rt.nextTime()).toBe(Infinity);
  });

  it('NodeRuntime accepts a message only if it does not arrive before what it already handled', () => {
    const rt = runtimeFor(scriptedCore({}));
    expect(rt.accepts(0)).toBe(true);
    rt.deliver(input(500, 0, { type: 'boot' }));
    rt.runWindow(1_000);
    expect(rt.accepts(499)).toBe(false);
    expect(rt.accepts(500)).toBe(true);
    expect(rt.accepts(2_000)).toBe(true);
  });

  it('NodeRuntime drops a frame the wire corrupted as its frame check sequence would, counting it malformed', () => {
    const received: Uint8Array[] = [];
    const rt = runtimeFor(scriptedCore({ frame: (_ctx, _port, bytes) => void received.push(bytes) }));
    rt.deliver({ type: 'frame', arrival: 10, src: 'b', srcSeq: 0, cause: null, port: 'to-b', channel: 'eth', bytes: new Uint8Array(60), corrupted: true });
    rt.deliver({ type: 'frame', arrival: 20, src: 'b', srcSeq: 1, cause: null, port: 'to-b', channel: 'eth', bytes: new Uint8Array(60) });
    const { events } = rt.runWindow(100);
    expect(received).toHaveLength(1);
    expect(payloads(events, 'frame.malformed')).toEqual([{ port: 'to-b', code: 'bad-fcs', offset: 0, message: 'Frame check sequence does not match: the frame was corrupted on the wire' }]);
  });
});

describe('RuntimeLab', () => {
  it('RuntimeLab carries frames between two real runtimes after the wire latency, and fires their timers on one clock', () => {
    const topology = chainTopology(['a', 'b'], [{ a: 'a', b: 'b', latencyNs: 1_000 }]);
    const lab = new RuntimeLab(topology, {
      a: scriptedCore({ boot: (ctx) => ctx.setTimer(5_000, 'ping'), timer: (ctx) => ctx.send('to-b', new Uint8Array(40)) }),
      b: scriptedCore({ frame: (ctx, port, bytes) => ctx.send(port, bytes.slice(0, 20)) }),
    });
    lab.boot();
    lab.run(1_000_000);
    // 40 bytes + 20 of Ethernet overhead at 8 Gb/s take 60 ns to serialise, then 1 µs on the wire.
    expect(lab.payloads('frame.tx').map((p) => [p.port, p.txStart, p.arrival])).toEqual([
      ['to-b', 5_000, 6_060],
      ['to-a', 6_060, 7_100],
    ]);
    expect(lab.now).toBe(1_000_000);
  });

  it('RuntimeLab loses what a wire with loss 1 loses: the peer never hears of it', () => {
    const heard: number[] = [];
    const topology = chainTopology(['a', 'b'], [{ a: 'a', b: 'b', latencyNs: 1_000, loss: 1 }]);
    const lab = new RuntimeLab(topology, { a: scriptedCore({ boot: (ctx) => ctx.send('to-b', new Uint8Array(60)) }), b: scriptedCore({ frame: (ctx) => heard.push(ctx.now()) }) });
    lab.boot();
    lab.run(1_000_000);
    expect(lab.payloads('frame.tx').map((p) => p.fate)).toEqual(['lost']);
    expect(heard).toEqual([]);
  });
});
