import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/codec.js';
import { decodeFrame } from '../../../shared/net/frame.js';
import { RandomStream } from '../../../shared/random.js';
import { Rig } from '../../../shared/vmxnet3/testing.js';
import { combineReports } from './checker.js';
import type { FlowReport } from './checker.js';
import { GuestStack } from './stack.js';
import { GuestStateError } from './state.js';
import type { GuestStackState } from './state.js';
import { seqDiff } from './tcp.js';
import { GuestLab, labContext, twoVms, TWO_VMS } from './testing.js';
import type { TestEvent } from '../../runtime/testing.js';
import type { LabHost, LinkOptions, TwoVms } from './testing.js';

const S = 1_000_000_000;
const MS = 1_000_000;

/** Both directions of TCP (messages straddling segments), a ping and a UDP flow. */
function startFlows(t: TwoVms): void {
  t.a.stack.startFlow(t.a.ctx, { id: 'a-b-tcp', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 400, payloadBytes: 700 });
  t.b.stack.startFlow(t.b.ctx, { id: 'b-a-tcp', kind: 'tcp', from: 'vm-b', to: TWO_VMS.a6, ratePps: 200, payloadBytes: 3000 });
  t.a.stack.startFlow(t.a.ctx, { id: 'a-b-ping', kind: 'ping', from: 'vm-a', to: TWO_VMS.b6, ratePps: 50 });
  t.a.stack.startFlow(t.a.ctx, { id: 'a-b-udp', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 300 });
}

function stopFlows(t: TwoVms, a: { readonly stack: GuestStack; readonly host: LabHost }): void {
  for (const flow of ['a-b-tcp', 'a-b-ping', 'a-b-udp']) a.stack.stopFlow(a.host.ctx, flow);
  t.b.stack.stopFlow(t.b.ctx, 'b-a-tcp');
}

/**
 * A 2 ms link (so segments are in flight at any instant) that loses every TCP segment vm-a sends
 * with data between 500 and 540 ms: at 545 ms vm-a waits for acknowledgements it will not get.
 */
function lossyRun(seed = 3): { t: TwoVms; link: LinkOptions } {
  const clock: { lab: GuestLab | null } = { lab: null };
  const link: LinkOptions = {
    latencyNs: 2 * MS,
    tap: (frame, from) => {
      const now = clock.lab?.now ?? 0;
      const tcp = decodeFrame(frame).tcp;
      if (from === 'a' && tcp && tcp.payload.length > 0 && now >= 500 * MS && now < 540 * MS) return [];
      return [frame];
    },
  };
  const t = twoVms(link, seed);
  clock.lab = t.lab;
  return { t, link };
}

function summary(t: TwoVms, flow: string) {
  return combineReports(t.lab.lastReport(flow, 'sender') as unknown as FlowReport, t.lab.lastReport(flow, 'receiver') as unknown as FlowReport | null);
}

/** Throws unless `value` is made of what msgpack carries as is: null, booleans, strings, finite numbers, arrays, plain objects, bytes. */
function assertMsgpackData(value: unknown, where = 'state'): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || value instanceof Uint8Array) return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`${where}: ${value}`);
    return;
  }
  if (Array.isArray(value)) return value.forEach((v, i) => assertMsgpackData(v, `${where}[${i}]`));
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) assertMsgpackData(v, `${where}.${k}`);
    return;
  }
  throw new Error(`${where}: ${String(value)} is not plain data`);
}

/** msgpack gives bytes back as Node Buffers: the same bytes, as plain Uint8Arrays, for comparisons. */
function sameBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(sameBytes);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, sameBytes(v)]));
  return value;
}

/** A context on a lab of its own, for restores whose timers nobody runs. */
function elsewhere(): ReturnType<typeof labContext> {
  return labContext(new GuestLab(), 'elsewhere', () => undefined);
}

describe('guest stack state', () => {
  it('guest stack state is plain data that survives msgpack, and a restored stack exports it again', () => {
    const { t } = lossyRun();
    startFlows(t);
    t.lab.runUntil(545 * MS);
    const state = t.a.stack.exportState(t.lab.now);
    assertMsgpackData(state);
    expect(sameBytes(decode(encode(state)))).toEqual(state);
    expect(t.a.stack.exportState(t.lab.now)).toEqual(state);

    // Every part of the guest is in it, mid-flow.
    const client = state.connections.find((c) => c.flow === 'a-b-tcp')!;
    const server = state.connections.find((c) => c.role === 'server')!;
    expect(client.tcp.state).toBe('ESTABLISHED');
    expect(client.tcp.sendQueue.length).toBeGreaterThan(0);
    expect(server.sink!.flow).toBe('b-a-tcp');
    expect(state.timers.pending.map((p) => p.name).sort()).toEqual(['guest.flow', 'guest.flow', 'guest.flow', 'guest.report', 'guest.tcp']);
    expect(state.arp.entries).toMatchObject([{ ip: TWO_VMS.b4, state: 'reachable' }]);
    expect(state.nd.entries).toMatchObject([{ ip: TWO_VMS.b6, state: 'reachable' }]);
    expect(state.senders.map((s) => s.kind)).toEqual(['ping', 'tcp', 'udp']);
    expect(state.receiverFlows.map((f) => f.flow)).toEqual(['b-a-tcp']);

    const restored = GuestStack.restore(t.a.host.optionsOf('vm-a'), decode(encode(state)), elsewhere());
    expect(restored.exportState(0)).toEqual({ ...state, incarnation: state.incarnation + 1 });
    expect(restored.inspect()).toEqual({ ...t.a.stack.inspect(), arp: restored.inspect().arp, nd: restored.inspect().nd });
  });

  it('guest stack state keeps the out-of-order queue of a receiver missing a segment', () => {
    const { t } = lossyRun();
    startFlows(t);
    // vm-a's losses started at 500 ms; from 540 ms its segments arrive at vm-b again, past a hole.
    t.lab.runUntil(543 * MS);
    const state = t.b.stack.exportState(t.lab.now);
    const server = state.connections.find((c) => c.role === 'server')!;
    expect(server.tcp.outOfOrder.length).toBeGreaterThan(0);
    expect(sameBytes(decode(encode(state)))).toEqual(state);
    const restored = GuestStack.restore(t.b.host.optionsOf('vm-b'), decode(encode(state)), elsewhere());
    expect(restored.exportState(0)).toEqual({ ...state, incarnation: 1 });
  });

  it('guest stack state keeps the closed connections of flows that the table no longer lists', () => {
    const t = twoVms();
    for (let i = 0; i < 40; i++) t.a.stack.startFlow(t.a.ctx, { id: `short-${i}`, kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, count: 1 });
    t.lab.runUntil(3 * S);
    const state = t.a.stack.exportState(t.lab.now);
    expect(state.connections.filter((c) => c.pruned).length).toBe(8);
    const restored = GuestStack.restore(t.a.host.optionsOf('vm-a'), decode(encode(state)), elsewhere());
    expect(restored.exportState(0)).toEqual({ ...state, incarnation: 1 });
    // The other lab's clock is at 0: only the neighbours' confirmation times read differently.
    expect({ ...restored.inspect(), arp: [], nd: [] }).toEqual({ ...t.a.stack.inspect(), arp: [], nd: [] });
    expect(restored.inspect().flows.find((f) => f.flow === 'short-0')).toMatchObject({ sent: 1, tcpState: 'CLOSED', closeReason: 'closed' });
  });

  it('guest stack moved while it resolves a neighbour keeps the packets waiting and the retry due', () => {
    const t = twoVms();
    t.link.up = false;
    t.a.stack.startFlow(t.a.ctx, { id: 'waiting', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 1000, count: 10 });
    t.lab.runUntil(1.5 * S);
    const state = t.a.host.detach('vm-a').exportState(t.lab.now);
    expect(state.arp.entries).toMatchObject([{ ip: TWO_VMS.b4, state: 'incomplete', mac: null, probes: 2 }]);
    expect(state.arp.entries[0]!.queue).toHaveLength(10);
    expect(state.timers.pending.filter((p) => p.name === 'guest.arp')).toMatchObject([{ remainingNs: 0.5 * S }]);
    const bytes = encode(state);
    t.lab.runUntil(1.6 * S);
    t.a.host.attach('vm-a', (options) => GuestStack.restore(options, decode(bytes), t.a.host.ctx));
    t.link.up = true;
    // The third request goes out 0.5 s after the restore, as it was due 0.5 s after the export.
    t.lab.runUntil(2.2 * S);
    expect(t.lab.eventsOf('guest.arp.resolved', { vm: 'vm-a' }).map((e) => e.time)).toEqual([2.1 * S + 40_000]);
    t.b.host.end();
    expect(t.lab.lastReport('waiting', 'receiver')).toMatchObject({ delivered: 10, duplicated: 0, reordered: 0 });
    expect(t.lab.eventsOf('guest.arp.failed')).toEqual([]);
  });

  it.each(['another host', 'the same host'])(
    'guest stack moved to %s mid-flow, after 50 ms frozen, delivers every message once, in order, on the same connections',
    (where) => {
      const { t, link } = lossyRun();
      startFlows(t);
      t.lab.runUntil(545 * MS);
      const before = t.a.stack.inspect();
      const bytes = encode(t.a.host.detach('vm-a').exportState(t.lab.now));

      // Segments were lost and more are in flight: the retransmission timer travels with the VM.
      const state = decode(bytes) as GuestStackState;
      const client = state.connections.find((c) => c.flow === 'a-b-tcp')!;
      expect(seqDiff(client.tcp.sndMax, client.tcp.sndUna)).toBeGreaterThan(700);
      expect(state.timers.pending).toContainEqual(expect.objectContaining({ name: 'guest.tcp', data: { socket: client.id, kind: 'rto', token: client.tcp.timerToken } }));

      // Frozen: what arrives for vm-a meanwhile is lost.
      t.lab.runUntil(595 * MS);
      expect(t.a.host.droppedAway).toBeGreaterThan(0);
      const host = where === 'another host' ? t.lab.addHost('esx-02', [t.a.host.optionsOf('vm-a').vm], t.a.host.optionsOf('vm-a').segments) : t.a.host;
      const moved = host.attach('vm-a', (options) => GuestStack.restore(options, decode(bytes), host.ctx));
      if (host !== t.a.host) t.lab.connect(host.port('vm-a', 'nic0'), t.b.port(), link);
      const a = { stack: moved, host };

      // Nothing was reset: counters, connections, flow tables are where they were.
      const after = moved.inspect();
      expect({ ...after, arp: [], nd: [] }).toEqual({ ...before, arp: [], nd: [] });

      t.lab.runUntil(2.5 * S);
      const tcp = moved.inspect().tcp;
      expect(tcp.map((c) => [c.flow, c.role, c.state])).toEqual([
        ['a-b-tcp', 'client', 'ESTABLISHED'],
        ['b-a-tcp', 'server', 'ESTABLISHED'],
      ]);
      const resumedClient = tcp.find((c) => c.flow === 'a-b-tcp')!;
      expect(resumedClient.counters.timeouts + resumedClient.counters.fastRetransmits).toBeGreaterThan(0);
      expect(resumedClient.counters.segmentsSent).toBeGreaterThan(before.tcp.find((c) => c.flow === 'a-b-tcp')!.counters.segmentsSent);
      expect(t.lab.eventsOf('tcp.state', { vm: 'vm-a' }).filter((e) => e.time > 545 * MS)).toEqual([]);

      stopFlows(t, a);
      t.lab.runUntil(4 * S);
      host.end();
      t.b.host.end();

      for (const flow of ['a-b-tcp', 'b-a-tcp', 'a-b-ping', 'a-b-udp']) {
        const s = summary(t, flow);
        expect(s.sent, flow).toBeGreaterThan(flow === 'a-b-ping' ? 100 : 400);
        expect(s, flow).toMatchObject({ delivered: s.sent, lost: 0, duplicated: 0, reordered: 0 });
      }
      expect(summary(t, 'a-b-tcp')).toMatchObject({ closeReason: 'closed' });
      expect(summary(t, 'a-b-tcp').retransmits).toBeGreaterThan(0);
      expect(moved.inspect().counters.rxFrames).toBeGreaterThan(before.counters.rxFrames);

      // Periodic reports come once per flow and instant: at 1.05 s (the timer it had left, after the
      // freeze), then back on whole seconds; the old object's timers, which still fire, change nothing.
      const periodic = t.lab.eventsOf('flow.report', { vm: 'vm-a', final: false });
      expect([...new Set(periodic.map((e) => e.time))]).toEqual([1.05 * S, 2 * S, 3 * S, 4 * S]);
      const keys = periodic.map((e) => `${e.time} ${String(e.payload['flow'])} ${String(e.payload['side'])}`);
      expect(new Set(keys).size).toBe(keys.length);
    },
  );

  it('guest stack exported and restored with no freeze is invisible: the run is the same as without', () => {
    // Each node's events, in its own order. The lab runs every node off one queue, where timers
    // armed again at the restore come after other nodes' items due at the same instant; a node
    // only ever sees its own order.
    const byNode = (events: readonly TestEvent[]): Record<string, TestEvent[]> => {
      const out: Record<string, TestEvent[]> = {};
      for (const e of events) (out[e.node] ??= []).push(e);
      return out;
    };
    const run = (moveAt: readonly number[]): { events: Record<string, TestEvent[]>; a: unknown; b: unknown } => {
      const { t } = lossyRun(5);
      startFlows(t);
      const move = (): void => {
        const bytes = encode(t.a.host.detach('vm-a').exportState(t.lab.now));
        t.a.host.attach('vm-a', (options) => GuestStack.restore(options, decode(bytes), t.a.host.ctx));
      };
      const steps = [...moveAt.map((at) => ({ at, act: move })), { at: 2.5 * S, act: () => stopFlows(t, t.a) }].sort((x, y) => x.at - y.at);
      for (const step of steps) {
        t.lab.runUntil(step.at);
        step.act();
      }
      t.lab.runUntil(4 * S);
      t.a.host.end();
      t.b.host.end();
      return { events: byNode(t.lab.events), a: t.a.stack.inspect(), b: t.b.stack.inspect() };
    };
    const control = run([]);
    expect(control.events['vm-a']!.length).toBeGreaterThan(30);
    expect(run([1 * MS, 300 * MS, 520 * MS, 545 * MS, 1 * S, 2.5 * S + 1, 3.2 * S])).toEqual(control);
  });
});

describe('guest stack restore refusals', () => {
  function exported(): { state: GuestStackState; t: TwoVms } {
    const { t } = lossyRun();
    startFlows(t);
    t.lab.runUntil(545 * MS);
    return { state: t.a.stack.exportState(t.lab.now), t };
  }

  function refusal(t: TwoVms, state: unknown, vm: 'vm-a' | 'vm-b' = 'vm-a'): { code: string; field: string; message: string } {
    const host = vm === 'vm-a' ? t.a.host : t.b.host;
    try {
      GuestStack.restore(host.optionsOf(vm), state, elsewhere());
    } catch (error) {
      if (error instanceof GuestStateError) return { code: error.code, field: error.field, message: error.message };
      throw error;
    }
    return { code: 'no error', field: '', message: '' };
  }

  function mutated(state: GuestStackState, change: (s: Record<string, unknown>) => void): unknown {
    const copy = decode(encode(state)) as Record<string, unknown>;
    change(copy);
    return copy;
  }

  it('guest stack restore names a missing field', () => {
    const { state, t } = exported();
    expect(refusal(t, mutated(state, (s) => delete s['ipId']))).toEqual({
      code: 'malformed-state',
      field: 'ipId',
      message: 'Guest stack state is not usable: ipId: Invalid input: expected number, received undefined',
    });
    expect(refusal(t, mutated(state, (s) => delete (s['connections'] as Array<{ tcp: Record<string, unknown> }>)[1]!.tcp['rtoTimer']))).toMatchObject({ field: 'connections[1].tcp.rtoTimer' });
  });

  it('guest stack restore names a field of the wrong type', () => {
    const { state, t } = exported();
    expect(refusal(t, mutated(state, (s) => ((s['connections'] as Array<{ tcp: Record<string, unknown> }>)[0]!.tcp['sndUna'] = '12')))).toMatchObject({
      code: 'malformed-state',
      field: 'connections[0].tcp.sndUna',
    });
    expect(refusal(t, mutated(state, (s) => ((s['arp'] as { entries: Array<Record<string, unknown>> }).entries[0]!['mac'] = 'not a mac')))).toMatchObject({ field: 'arp.entries[0].mac' });
    expect(refusal(t, mutated(state, (s) => ((s['connections'] as Array<{ tcp: Record<string, unknown> }>)[0]!.tcp['sendQueue'] = [1, 2, 3])))).toMatchObject({
      field: 'connections[0].tcp.sendQueue',
      message: 'Guest stack state is not usable: connections[0].tcp.sendQueue: Invalid input: expected bytes, received array',
    });
  });

  it('guest stack restore refuses something that is not a guest stack state, or another VM\'s', () => {
    const { state, t } = exported();
    expect(refusal(t, new Rig().driver.exportState())).toMatchObject({ code: 'malformed-state', field: 'format' });
    expect(refusal(t, null)).toMatchObject({ code: 'malformed-state', field: '', message: 'Guest stack state is not usable: (state): Invalid input: expected object, received null' });
    expect(refusal(t, [state])).toMatchObject({ code: 'malformed-state', field: '' });
    expect(refusal(t, mutated(state, (s) => (s['version'] = 2)))).toMatchObject({ field: 'version' });
    expect(refusal(t, mutated(state, (s) => (s['extra'] = 1)))).toMatchObject({ field: '', message: expect.stringContaining('extra') });
    expect(refusal(t, state, 'vm-b')).toEqual({ code: 'malformed-state', field: 'vm', message: "Guest stack state is not usable: vm: the state is VM vm-a's, not VM vm-b's" });
  });

  it('guest stack restore refuses parts that contradict each other', () => {
    const { state, t } = exported();
    const client = state.connections.findIndex((c) => c.flow === 'a-b-tcp');
    expect(refusal(t, mutated(state, (s) => ((s['timers'] as { pending: unknown[] }).pending = [])))).toMatchObject({ code: 'malformed-state', field: 'reportTimer', message: expect.stringContaining('is not pending') });
    expect(refusal(t, mutated(state, (s) => ((s['connections'] as Array<{ tcp: Record<string, unknown> }>)[client]!.tcp['timerToken'] = 999)))).toMatchObject({ field: `connections[${client}].tcp.rtoTimer` });
    expect(refusal(t, mutated(state, (s) => ((s['senders'] as Array<Record<string, unknown>>)[1]!['connection'] = 77)))).toMatchObject({ field: `connections[${client}].flow` });
    expect(refusal(t, mutated(state, (s) => ((s['udpSockets'] as Array<Record<string, unknown>>)[0]!['flow'] = 'a-b-ping')))).toMatchObject({ field: 'udpSockets[0].flow' });
    expect(refusal(t, mutated(state, (s) => ((s['arp'] as { entries: Array<Record<string, unknown>> }).entries[0]!['vnic'] = 'nic7')))).toMatchObject({ field: 'arp.entries[0].vnic' });
    expect(refusal(t, mutated(state, (s) => ((s['senders'] as Array<{ spec: Record<string, unknown> }>)[0]!.spec['ratePps'] = -1)))).toMatchObject({ field: 'senders[0].spec.ratePps' });
  });

  it('guest stack restore throws nothing but GuestStateError for a damaged state', () => {
    const { state, t } = exported();
    const random = new RandomStream(11, 'guest-state-fuzz');
    const junk = [null, -1, 0.5, 'x', true, [], {}, new Uint8Array(3), 2 ** 40];
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const copy = decode(encode(state));
      // Walk to a random field and break it: delete it or give it a value of another kind.
      let node = copy as Record<string, unknown>;
      for (let depth = 0; depth < 8; depth++) {
        const keys = Object.keys(node);
        if (keys.length === 0) break;
        const key = keys[random.int(keys.length)]!;
        const child = node[key];
        if (depth > 0 && (random.chance(0.3) || typeof child !== 'object' || child === null || child instanceof Uint8Array)) {
          if (random.chance(0.3) && !Array.isArray(node)) delete node[key];
          else node[key] = junk[random.int(junk.length)];
          break;
        }
        if (typeof child !== 'object' || child === null || child instanceof Uint8Array) break;
        node = child as Record<string, unknown>;
      }
      const r = refusal(t, copy);
      if (r.code !== 'no error') {
        refused++;
        expect(r.code).toBe('malformed-state');
        expect(r.message).toMatch(/^Guest stack state is not usable: \S/);
      }
    }
    expect(refused).toBeGreaterThan(150);
  });
});
