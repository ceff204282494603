/**
 * For tests: synthetic event streams that exercise every kind the cluster-state fold reads, from a seed.
 */
import type { ClusterEvent } from './cluster-state.js';

/** A small seeded generator (mulberry32): the same seed gives the same stream. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NODES = ['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b', 'esx-01', 'esx-02', 'tor-a', 'tor-b'];
const WIRES = ['up-01a-a', 'up-01a-b', 'up-02a-a', 'up-02a-b', 'isl-ab'];
const FLOWS = ['f1', 'f2', 'f3'];

/** An event builder: `at(seq)` gives event number `seq` of a reproducible, plausible stream. */
export function syntheticEvents(seed: number): (seq: number, vtime: number) => ClusterEvent {
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const counters = new Map<string, number>();
  return (seq, vtime) => {
    const r = random();
    const node = pick(NODES);
    const event = (kind: string, payload: Record<string, unknown>, on = node): ClusterEvent => ({ seq, vtime, node: on, kind, cause: seq > 0 ? seq - 1 : null, payload });
    if (r < 0.6) return event('frame.tx', { wire: pick(WIRES), dir: 'a>b', len: 60 + Math.floor(random() * 1400) });
    if (r < 0.63) return event(random() < 0.5 ? 'node.exit' : 'node.start', { node: pick(NODES), incarnation: Math.floor(random() * 3), code: null, signal: 'SIGKILL', planned: true, reason: null }, 'controller');
    if (r < 0.66) return event('dpu.state', { dpu: pick(NODES.slice(0, 4)), state: pick(['MANAGED', 'UNAVAILABLE']), role: pick(['active', 'standby']), reason: 'test' }, pick(['esx-01', 'esx-02']));
    if (r < 0.68) return event('dpu.heartbeat.miss', { dpu: pick(NODES.slice(0, 4)), seq: seq, misses: 1 + Math.floor(random() * 3) }, pick(['esx-01', 'esx-02']));
    if (r < 0.7) return event('vnic.mode', { vnic: pick(['web-01.eth0', 'app-01.eth0', 'db-01.eth0']), vm: 'web-01', requested: 'uptv2', active: pick(['uptv2', 'mux', 'emulated']), reason: null }, 'esx-01');
    if (r < 0.72) return event('link.state', { port: pick(['p0', 'p1', 'swp1']), wire: pick(WIRES), up: random() < 0.5 });
    if (r < 0.75) return event(random() < 0.7 ? 'lldp.neighbor' : 'lldp.expired', { port: pick(['p0', 'p1', 'swp1', 'swp8']), chassisId: '02:00:00:00:00:01', portId: 'swp1', systemName: pick(NODES) });
    if (r < 0.8) return event(random() < 0.8 ? 'mac.learn' : 'mac.age', { vlan: 1, mac: `02:00:00:00:00:${Math.floor(random() * 40).toString(16).padStart(2, '0')}`, port: pick(['swp1', 'swp2', 'swp3']), movedFrom: null }, pick(['tor-a', 'tor-b']));
    if (r < 0.82) {
      const id = `r${Math.floor(random() * 5)}`;
      if (random() < 0.3) return event('input.dfw.rule.add', { action: 'dfw.rule.add', rule: { id, priority: 100, action: 'drop' } }, 'controller');
      return event('dfw.rules', { generation: seq, count: 2, change: pick(['add', 'remove', 'set']), rule: id });
    }
    if (r < 0.86) return event(pick(['dfw.rule.hit', 'dfw.conn.new', 'dfw.conn.expired', 'dfw.reject']), { vnic: 'web-01.eth0', rule: pick(['r1', 'r2', 'default']) });
    if (r < 0.88) return event('vf.state', { vf: Math.floor(random() * 4), vnic: 'web-01.eth0', from: 'RUNNING', to: pick(['RUNNING', 'STOP', 'STOP_COPY', 'RESUMING']), via: 'arc' });
    if (r < 0.96) {
      const flow = pick(FLOWS);
      const kind = random();
      if (kind < 0.05) return event('flow.start', { flow, kind: 'tcp', vm: 'web-01', from: 'web-01', to: '10.0.1.12', port: 5201, ratePps: 100 }, 'esx-01');
      if (kind < 0.08) return event('flow.stop', { flow }, 'esx-01');
      const key = `${flow}`;
      const count = (counters.get(key) ?? 0) + Math.floor(random() * 100);
      counters.set(key, count);
      return event('flow.report', { flow, kind: 'tcp', side: random() < 0.5 ? 'sender' : 'receiver', sent: count, delivered: count, lost: 0, rttNs: null, final: false }, 'esx-01');
    }
    if (r < 0.97) return event('cost.report', { nodeKind: 'dpu', coreType: 'arm', coresAvailable: 8, coresUsed: random(), totalCpuNs: seq, byMode: { uptv2: { cores: random() } }, byStep: { switch: { cpuNs: seq, frames: 1 } } });
    if (r < 0.98) return event('input.note', { action: 'note', text: `note ${seq}` }, 'controller');
    if (r < 0.995) {
      // Roles, failovers and the devices serving vNICs, in no particular story.
      const dpu = pick(NODES.slice(0, 4));
      const other = pick(NODES.slice(0, 4));
      const host = pick(['esx-01', 'esx-02']);
      const vnic = pick(['web-01.eth0', 'app-01.eth0', 'db-01.eth0']);
      switch (Math.floor(random() * 8)) {
        case 0:
          return event('dpu.role', { dpu, role: pick(['active', 'standby']), reason: pick(['crash', 'rejoined']) }, host);
        case 1:
          return event('dpu.failed', { dpu, reason: 'crash', detectNs: 300_000_000, to: other }, host);
        case 2:
          return event('dpu.failover.done', { kind: 'failover', from: dpu, to: other, reason: 'crash', detectNs: 1, totalNs: 2, vnics: [{ vnic, mode: 'uptv2' }] }, host);
        case 3:
          return event('ha.role', { dpu, from: 'standby', to: pick(['active', 'standby', 'pending']), reason: 'host' }, dpu);
        case 4:
          return event('vnic.handoff', { vnic, vm: 'web-01', direction: pick(['vf-to-emulated', 'emulated-to-vf']), host, dpu, vf: Math.floor(random() * 4), cause: 'mode' }, host);
        case 5:
          return event('vnic.failover', { vnic, vm: 'web-01', from: dpu, to: other, lostTx: 0, mode: 'emulated' }, host);
        case 6:
          return event('dpu.failover.impossible', { dpu, reason: 'standby-not-managed', cause: 'crash', vnicsDisconnected: true, vnics: [vnic] }, host);
        default:
          return event('dpu.vnics.reconnected', { dpu, reason: pick(['dpu-restored', 'uplinks-up']), vnics: [vnic] }, host);
      }
    }
    return event('ipfix.export', { sequence: seq, records: 1 });
  };
}
