import { describe, expect, it } from 'vitest';
import { applyEvent, emptyLabState, foldEvents, LOAD_BUCKET_NS, wireFramesPerSecond, type UiEvent } from './lab-state.js';

let seq = 0;
function ev(vtime: number, node: string, kind: string, payload: unknown): UiEvent {
  return { seq: seq++, vtime, node, kind, cause: null, payload };
}

describe('lab state', () => {
  it('lab state marks a killed DPU down with how it ended, and up again when it restarts', () => {
    const state = foldEvents([
      ev(0, 'controller', 'node.start', { node: 'dpu-02a', kind: 'dpu', incarnation: 0 }),
      ev(0, 'esx-02', 'dpu.state', { dpu: 'dpu-02a', state: 'MANAGED', role: 'active', reason: 'boot' }),
      ev(5, 'controller', 'node.exit', { node: 'dpu-02a', incarnation: 0, code: null, signal: 'SIGKILL', planned: true, reason: null }),
    ]);
    expect(state.nodes['dpu-02a']).toMatchObject({ up: false, exitedAt: 5, exit: { signal: 'SIGKILL' } });
    applyEvent(state, ev(9, 'esx-02', 'dpu.heartbeat.miss', { dpu: 'dpu-02a', seq: 3, misses: 3 }));
    applyEvent(state, ev(9, 'esx-02', 'dpu.state', { dpu: 'dpu-02a', state: 'UNAVAILABLE', role: 'active', reason: 'heartbeat-lost' }));
    expect(state.dpus['dpu-02a']).toMatchObject({ host: 'esx-02', state: 'UNAVAILABLE', reason: 'heartbeat-lost' });
    applyEvent(state, ev(20, 'controller', 'node.start', { node: 'dpu-02a', kind: 'dpu', incarnation: 1 }));
    expect(state.nodes['dpu-02a']).toMatchObject({ up: true, incarnation: 1, startedAt: 20, exit: { signal: 'SIGKILL' } });
  });

  it('lab state takes a port down where its node saw the link go down, and up again', () => {
    const state = foldEvents([ev(1, 'dpu-01a', 'link.state', { port: 'p0', wire: 'up-01a-a', up: false })]);
    expect(state.ports['dpu-01a:p0']).toEqual({ node: 'dpu-01a', port: 'p0', wire: 'up-01a-a', up: false, since: 1 });
    applyEvent(state, ev(2, 'dpu-01a', 'link.state', { port: 'p0', wire: 'up-01a-a', up: true }));
    expect(state.ports['dpu-01a:p0']!.up).toBe(true);
  });

  it('lab state learns, moves and ages MAC entries per switch, and keeps LLDP neighbours until they expire', () => {
    const state = foldEvents([
      ev(1, 'tor-a', 'mac.learn', { vlan: 1, mac: '02:00:00:00:00:01', port: 'swp1', movedFrom: null }),
      ev(2, 'tor-a', 'mac.learn', { vlan: 1, mac: '02:00:00:00:00:01', port: 'swp3', movedFrom: 'swp1' }),
      ev(2, 'tor-b', 'mac.learn', { vlan: 1, mac: '02:00:00:00:00:02', port: 'swp2', movedFrom: null }),
      ev(3, 'tor-a', 'lldp.neighbor', { port: 'swp1', chassisId: 'c1', portId: 'p0', systemName: 'dpu-01a' }),
    ]);
    expect(Object.values(state.macs['tor-a']!)).toEqual([{ vlan: 1, mac: '02:00:00:00:00:01', port: 'swp3', movedFrom: 'swp1', since: 2 }]);
    applyEvent(state, ev(4, 'tor-b', 'mac.age', { vlan: 1, mac: '02:00:00:00:00:02', port: 'swp2' }));
    expect(state.macs['tor-b']).toEqual({});
    expect(state.lldp['tor-a']!['swp1']!.systemName).toBe('dpu-01a');
    applyEvent(state, ev(5, 'tor-a', 'lldp.expired', { port: 'swp1', chassisId: 'c1', systemName: 'dpu-01a' }));
    expect(state.lldp['tor-a']).toEqual({});
  });

  it('lab state keeps the rules each firewall installed, their definitions and hits, and live connections', () => {
    const state = foldEvents([
      ev(1, 'controller', 'input.dfw.rule.add', { action: 'dfw.rule.add', rule: { id: 'no-ping', action: 'drop' } }),
      ev(1, 'dpu-01a', 'dfw.rules', { generation: 1, count: 2, change: 'add', rule: 'no-ping' }),
      ev(2, 'dpu-01a', 'dfw.rule.hit', { rule: 'no-ping' }),
      ev(3, 'dpu-01a', 'dfw.rule.hit', { rule: 'no-ping' }),
      ev(3, 'dpu-01a', 'dfw.conn.new', { conn: 'c' }),
      ev(3, 'dpu-01a', 'dfw.reject', { rule: 'no-ping' }),
    ]);
    expect(state.rules['no-ping']).toEqual({ id: 'no-ping', action: 'drop' });
    expect(state.dfw['dpu-01a']).toEqual({ generation: 1, rules: ['no-ping'], count: 2, hits: { 'no-ping': 2 }, connections: 1, rejects: 1 });
    applyEvent(state, ev(4, 'dpu-01a', 'dfw.rules', { generation: 2, count: 1, change: 'remove', rule: 'no-ping' }));
    applyEvent(state, ev(4, 'dpu-01a', 'dfw.conn.expired', { conn: 'c' }));
    expect(state.dfw['dpu-01a']).toMatchObject({ generation: 2, rules: [], count: 1, connections: 0 });
    expect(state.inputs).toBe(1);
  });

  it('lab state keeps each flow side\'s latest report and its counter samples; a flow id started again starts afresh', () => {
    const start = { flow: 'f', kind: 'udp', vm: 'app-01', from: 'app-01', to: '10.0.2.21', port: 5202, ratePps: 100 };
    const state = foldEvents([
      ev(0, 'esx-01', 'flow.start', start),
      ev(100, 'esx-01', 'flow.report', { flow: 'f', kind: 'udp', side: 'sender', sent: 10, delivered: null }),
      ev(100, 'esx-01', 'flow.report', { flow: 'f', kind: 'udp', side: 'receiver', sent: null, delivered: 9, lost: 1 }),
      ev(200, 'esx-01', 'flow.stop', { flow: 'f' }),
    ]);
    const flow = state.flows['f']!;
    expect(flow).toMatchObject({ kind: 'udp', node: 'esx-01', startedAt: 0, stoppedAt: 200, receiver: { delivered: 9, lost: 1 } });
    expect(flow.samples).toEqual([
      { vtime: 100, side: 'sender', count: 10 },
      { vtime: 100, side: 'receiver', count: 9 },
    ]);
    applyEvent(state, ev(300, 'esx-01', 'flow.start', start));
    expect(state.flows['f']).toMatchObject({ startedAt: 300, stoppedAt: null, sender: null, samples: [] });
  });

  it('lab state measures a wire\'s load over the last 100 ms of virtual time', () => {
    const state = emptyLabState();
    for (let i = 0; i < 50; i++) applyEvent(state, ev(i * 2_000_000, 'dpu-01a', 'frame.tx', { wire: 'w', len: 60 }));
    // 50 frames in the 100 ms before 98 ms: 500 per second.
    expect(wireFramesPerSecond(state.wires['w'], 98_000_000)).toBe(500);
    // A second later nothing is recent.
    expect(wireFramesPerSecond(state.wires['w'], 98_000_000 + 1e9)).toBe(0);
    applyEvent(state, ev(300 * LOAD_BUCKET_NS, 'dpu-01a', 'frame.tx', { wire: 'w', len: 60 }));
    expect(state.wires['w']).toEqual({ total: 51, buckets: [[300, 1]] });
  });

  it('lab state folds payloads of unexpected shapes without throwing', () => {
    const state = foldEvents([
      ev(0, 'x', 'node.start', null),
      ev(0, 'x', 'flow.report', [1, 2]),
      ev(0, 'x', 'cost.report', { byMode: 'nope', byStep: null }),
      ev(0, 'x', 'dfw.rules', 'garbage'),
      ev(0, 'x', 'something.new', { a: 1 }),
    ]);
    expect(state.events).toBe(5);
    expect(state.kinds['something.new']).toBe(1);
  });
});
