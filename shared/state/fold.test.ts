import { describe, expect, it } from 'vitest';
import { emptyClusterState, LOAD_BUCKET_NS, type ClusterEvent } from './cluster-state.js';
import { applyEvent, foldEvents } from './fold.js';
import { lastMigration, migrationUnderWay, vmHostOf, wireFramesPerSecond } from './queries.js';
import { Timeline } from './timeline.js';

let seq = 0;
function ev(vtime: number, node: string, kind: string, payload: unknown): ClusterEvent {
  return { seq: seq++, vtime, node, kind, cause: null, payload };
}

describe('cluster state fold', () => {
  it('fold marks a killed DPU down with how it ended, and up again when it restarts', () => {
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

  it('fold takes a port down where its node saw the link go down, and up again', () => {
    const state = foldEvents([ev(1, 'dpu-01a', 'link.state', { port: 'p0', wire: 'up-01a-a', up: false })]);
    expect(state.ports['dpu-01a:p0']).toEqual({ node: 'dpu-01a', port: 'p0', wire: 'up-01a-a', up: false, since: 1 });
    applyEvent(state, ev(2, 'dpu-01a', 'link.state', { port: 'p0', wire: 'up-01a-a', up: true }));
    expect(state.ports['dpu-01a:p0']!.up).toBe(true);
  });

  it('fold marks a switch port its spanning tree blocks, and clears it when the port forwards', () => {
    const state = foldEvents([ev(1, 'tor-b', 'stp.port', { port: 'swp7', wire: 'isl-ab2', role: 'alternate', state: 'discarding', root: '1000020000000001', rootCost: 200 })]);
    expect(state.ports['tor-b:swp7']).toMatchObject({ wire: 'isl-ab2', up: true, blocked: true });
    // A link change keeps what the tree said; the tree's next word changes it.
    applyEvent(state, ev(2, 'tor-b', 'link.state', { port: 'swp7', wire: 'isl-ab2', up: true }));
    expect(state.ports['tor-b:swp7']!.blocked).toBe(true);
    applyEvent(state, ev(3, 'tor-b', 'stp.port', { port: 'swp7', wire: 'isl-ab2', role: 'root', state: 'forwarding', root: '1000020000000001', rootCost: 800 }));
    expect(state.ports['tor-b:swp7']!.blocked).toBe(false);
  });

  it('fold learns, moves and ages MAC entries per switch, and keeps LLDP neighbours until they expire', () => {
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

  it('fold keeps the rules each firewall installed, their definitions and hits, and live connections', () => {
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

  it('fold keeps each flow side\'s latest report and its counter samples; a flow id started again starts afresh', () => {
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

  it('fold measures a wire\'s load over the last 100 ms of virtual time', () => {
    const state = emptyClusterState();
    for (let i = 0; i < 50; i++) applyEvent(state, ev(i * 2_000_000, 'dpu-01a', 'frame.tx', { wire: 'w', len: 60 }));
    // 50 frames in the 100 ms before 98 ms: 500 per second.
    expect(wireFramesPerSecond(state.wires['w'], 98_000_000)).toBe(500);
    // A second later nothing is recent.
    expect(wireFramesPerSecond(state.wires['w'], 98_000_000 + 1e9)).toBe(0);
    applyEvent(state, ev(300 * LOAD_BUCKET_NS, 'dpu-01a', 'frame.tx', { wire: 'w', len: 60 }));
    expect(state.wires['w']).toEqual({ total: 51, buckets: [[300, 1]] });
  });

  it('fold folds payloads of unexpected shapes without throwing', () => {
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
  /** The events of one vMotion of web-01, esx-01 to esx-02, in the order a run records them. */
  function webMotion(result = 'success'): ClusterEvent[] {
    const mid = 'web-01/esx-01/1';
    const events = [
      ev(10, 'esx-01', 'vmotion.start', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', memoryMiB: 2048 }),
      ev(11, 'esx-01', 'vmotion.precheck', { mid, vm: 'web-01', to: 'esx-02', ok: true, checks: [] }),
      ev(12, 'esx-01', 'vnic.handoff', { vnic: 'web-01.eth0', vm: 'web-01', direction: 'vf-to-emulated', host: 'esx-01', dpu: 'dpu-01a', vf: null, cause: 'vmotion' }),
      ev(20, 'esx-01', 'vmotion.precopy.round', { mid, vm: 'web-01', round: 0, pagesSent: 524288, pagesDirtied: 686, bytes: 2147483648, durationNs: 8 }),
      ev(21, 'esx-01', 'vmotion.precopy.round', { mid, vm: 'web-01', round: 1, pagesSent: 686, pagesDirtied: 3, bytes: 2809856, durationNs: 1 }),
      ev(22, 'esx-01', 'vmotion.stun', { mid, vm: 'web-01', host: 'esx-01', remainingPages: 3, rounds: 2 }),
      ev(22, 'esx-01', 'vmotion.transfer', { mid, vm: 'web-01', to: 'esx-02', parts: 3, bytes: 3000, vnics: [] }),
      ev(23, 'dpu-01a', 'dfw.export', { node: 'dpu-01a', vnic: 'web-01.eth0', vm: 'web-01', version: 1, rules: [], connections: [] }),
      ev(24, 'dpu-02b', 'dfw.import', { node: 'dpu-02b', vnic: 'web-01.eth0', vm: 'web-01', ok: true, version: 1, rules: [], connections: [] }),
    ];
    if (result === 'aborted') return [...events, ev(25, 'esx-01', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result, reason: 'malformed-state: test', rounds: 2, switchoverNs: null, downtimeNs: null })];
    return [
      ...events,
      ev(25, 'esx-02', 'vmotion.resume', { mid, vm: 'web-01', host: 'esx-02', from: 'esx-01', switchoverNs: 3 }),
      ev(25, 'esx-02', 'net.rarp', { mid, vm: 'web-01', vnic: 'web-01.eth0', mac: '00:50:56:b8:e8:ee', host: 'esx-02', dpu: 'dpu-02b', round: 1 }),
      ev(26, 'esx-02', 'vnic.handoff', { vnic: 'web-01.eth0', vm: 'web-01', direction: 'emulated-to-vf', host: 'esx-02', dpu: 'dpu-02b', vf: 1, cause: 'mode' }),
      ev(27, 'esx-01', 'vmotion.source.released', { mid, vm: 'web-01', to: 'esx-02' }),
      ev(28, 'esx-02', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result, reason: null, rounds: 2, switchoverNs: 3, downtimeNs: 5 }),
      ev(30, 'esx-02', 'net.rarp', { mid, vm: 'web-01', vnic: 'web-01.eth0', mac: '00:50:56:b8:e8:ee', host: 'esx-02', dpu: 'dpu-02b', round: 2 }),
    ];
  }

  it('fold moves a VM to its destination at vmotion.resume, following the migration phase by phase', () => {
    const events = webMotion();
    const state = emptyClusterState();
    const phases: string[] = [];
    const hosts: string[] = [];
    for (const e of events) {
      applyEvent(state, e);
      phases.push(migrationUnderWay(state, 'web-01')?.phase ?? '-');
      hosts.push(vmHostOf(state, 'web-01', 'esx-01'));
    }
    expect(phases).toEqual(['start', 'precheck', 'handoff', 'precopy', 'precopy', 'stun', 'transfer', 'dfw-export', 'dfw-import', 'resume', 'rarp', 'passthrough', 'released', '-', '-']);
    expect(hosts).toEqual([...Array<string>(9).fill('esx-01'), ...Array<string>(6).fill('esx-02')]);
    // The RARPs that follow the end do not reopen the migration.
    const done = lastMigration(state, 'web-01')!;
    expect(done).toMatchObject({ phase: 'done', result: 'success', switchoverNs: 3, downtimeNs: 5, endedAt: 28 });
    expect(done.rounds.map((r) => [r.round, r.pagesSent, r.pagesDirtied])).toEqual([
      [0, 524288, 686],
      [1, 686, 3],
    ]);
    expect(state.vms['web-01']).toEqual({ host: 'esx-02', since: 25, migration: null });
    // A VM no vMotion touched runs on its topology host.
    expect(vmHostOf(state, 'app-01', 'esx-01')).toBe('esx-01');
  });

  it('fold leaves a VM on its source when its vMotion aborts', () => {
    const state = foldEvents(webMotion('aborted'));
    expect(vmHostOf(state, 'web-01', 'esx-01')).toBe('esx-01');
    expect(migrationUnderWay(state, 'web-01')).toBeNull();
    expect(lastMigration(state, 'web-01')).toMatchObject({ result: 'aborted', reason: 'malformed-state: test', phase: 'done' });
  });

  it('fold from a timeline puts a migrated VM back on its source when seeking before the resume', () => {
    seq = 0;
    const events = webMotion();
    const timeline = new Timeline(3);
    for (const e of events) timeline.append(e);
    const range = (from: number, to: number): ClusterEvent[] => events.slice(from, to);
    const resume = events.find((e) => e.kind === 'vmotion.resume')!.seq;
    expect(vmHostOf(timeline.stateAt(events.length - 1, range), 'web-01', 'esx-01')).toBe('esx-02');
    expect(vmHostOf(timeline.stateAt(resume - 1, range), 'web-01', 'esx-01')).toBe('esx-01');
    expect(migrationUnderWay(timeline.stateAt(resume - 1, range), 'web-01')?.phase).toBe('dfw-import');
    expect(vmHostOf(timeline.stateAt(resume, range), 'web-01', 'esx-01')).toBe('esx-02');
  });
});
