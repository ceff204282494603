import { describe, expect, it } from 'vitest';
import { buildGeneveFrame, buildUdpIpv4Frame, encodeEthernet, ETHERTYPE_LLDP } from '../net/index.js';
import { dropsLogged } from './drops.js';
import { LAB, LogBuilder, msNs, violationsOf } from './testing.js';

const WEB01 = '00:50:56:b8:e8:ee';
const WEB02 = '00:50:56:bf:14:c9';

function portMac(node: string, port: string): string {
  return LAB.nodes.find((n) => n.id === node)!.ports.find((p) => p.name === port)!.mac;
}

/** A frame put on `wire` in direction `dir` at the builder's time, arriving 1 µs later. */
function tx(log: LogBuilder, node: string, wire: string, dir: 'a>b' | 'b>a', bytes: Uint8Array, fate = 'delivered') {
  const at = log.time;
  return log.emit(node, 'frame.tx', { wire, dir, port: 'p0', channel: 'eth', len: bytes.length, txStart: at, arrival: at + 1000, fate, bytes });
}

/** A guest frame from web-01 to web-02 on the underlay (as a DPU with a VLAN segment would send it). */
const guestFrame = buildUdpIpv4Frame({ srcMac: WEB01, dstMac: WEB02, srcIp: '10.0.1.11', dstIp: '10.0.1.12', srcPort: 1000, dstPort: 5202, payload: new Uint8Array(20) });

/** Tunnel endpoint MACs, as the DPUs show them in what they send. */
const TEP_01A = '02:aa:00:00:01:0a';
const TEP_02A = '02:aa:00:00:02:0a';

/** web-01's frame tunnelled from dpu-01a's TEP to dpu-02a's. */
const tunnelled = buildGeneveFrame({ srcMac: TEP_01A, dstMac: TEP_02A, srcIp: '172.16.0.10', dstIp: '172.16.0.12', vni: 5001, inner: guestFrame });
/** web-02's answer, from dpu-02a's TEP: it shows dpu-02a's TEP MAC. */
const answer = buildGeneveFrame({ srcMac: TEP_02A, dstMac: TEP_01A, srcIp: '172.16.0.12', dstIp: '172.16.0.10', vni: 5001, inner: guestFrame });

describe('drops-logged', () => {
  it('drops-logged passes a frame a switch forwards, one it filters, and one it logs as dropped', () => {
    const log = new LogBuilder().boot();
    log.at(1);
    const a = tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame);
    log.at(1.001).emit('tor-a', 'frame.tx', { wire: 'up-02a-a', dir: 'b>a', channel: 'eth', fate: 'delivered', arrival: msNs(2) }, a.seq);
    // web-02's MAC learned on swp1, the port the next frame comes in on: filtered, not a drop.
    log.at(2).emit('tor-a', 'mac.learn', { vlan: 1, mac: WEB02, port: 'swp1', movedFrom: null });
    tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame);
    log.at(3);
    const c = tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame);
    log.at(3.001).emit('tor-a', 'switch.drop', { port: 'swp1', reason: 'vlan-not-allowed', vlan: 1, len: 60 }, c.seq);
    log.at(4);
    expect(violationsOf(dropsLogged, log.events, msNs(5))).toEqual([]);
  });

  it('drops-logged fails when a switch lets a frame vanish without a record', () => {
    const log = new LogBuilder().boot();
    log.at(1);
    const lost = tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame);
    log.at(2).emit('tor-a', 'mac.learn', { vlan: 1, mac: WEB01, port: 'swp1', movedFrom: null }, lost.seq);
    const found = violationsOf(dropsLogged, log.events, msNs(5));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.seq).toBe(lost.seq);
    expect(found[0]!.message).toContain(`tor-a dropped a frame without a record: a frame to ${WEB02} (ethertype 0x800, vlan 1) sent by dpu-01a on up-01a-a`);
  });

  it('drops-logged takes a port suppressing floods or discarding for its spanning tree as logging its drops, and only while it does', () => {
    const silent = (log: LogBuilder, at: number) => {
      log.at(at);
      return tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame);
    };
    for (const [kind, on, off] of [
      ['switch.storm', { port: 'swp1', state: 'suppressing', dropped: 0, pps: 1000, burst: 100 }, { port: 'swp1', state: 'cleared', dropped: 7, pps: 1000, burst: 100 }],
      ['stp.port', { port: 'swp1', wire: 'up-01a-a', role: 'alternate', state: 'discarding', root: 'r', rootCost: 4 }, { port: 'swp1', wire: 'up-01a-a', role: 'root', state: 'forwarding', root: 'r', rootCost: 4 }],
    ] as const) {
      const log = new LogBuilder().boot();
      log.at(1).emit('tor-a', kind, on);
      silent(log, 1.5);
      log.at(2).emit('tor-a', kind, off);
      const after = silent(log, 3);
      const found = violationsOf(dropsLogged, log.events, msNs(5));
      expect(found.map((v) => v.event.seq)).toEqual([after.seq]);
    }
  });

  it('drops-logged does not judge LLDP, corrupted frames, frames lost on the wire or to a dead receiver, nor frames still in flight', () => {
    const log = new LogBuilder().boot();
    log.at(1);
    tx(log, 'dpu-01a', 'up-01a-a', 'a>b', encodeEthernet({ dst: '01:80:c2:00:00:0e', src: portMac('dpu-01a', 'p0'), etherType: ETHERTYPE_LLDP, payload: new Uint8Array(40) }));
    tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame, 'corrupted');
    tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame, 'lost');
    tx(log, 'dpu-01a', 'up-01a-a', 'a>b', guestFrame);
    log.at(1.0005).kill('tor-a');
    log.at(3);
    tx(log, 'dpu-01b', 'up-01b-b', 'a>b', guestFrame);
    expect(violationsOf(dropsLogged, log.events, msNs(3.0005))).toEqual([]);

    // A frame corrupted on one wire and forwarded by a switch that cannot tell: not judged downstream either.
    const damaged = new LogBuilder().boot();
    tx(damaged.at(0.5), 'dpu-02a', 'up-02a-a', 'a>b', answer, 'lost');
    const first = tx(damaged.at(1), 'dpu-01a', 'up-01a-a', 'a>b', guestFrame, 'corrupted');
    damaged.at(1.001).emit('tor-a', 'frame.tx', { wire: 'up-02a-a', dir: 'b>a', port: 'swp3', channel: 'eth', len: tunnelled.length, arrival: msNs(1.002), fate: 'delivered', bytes: tunnelled }, first.seq);
    damaged.at(2);
    expect(violationsOf(dropsLogged, damaged.events, msNs(5))).toEqual([]);
  });

  it('drops-logged fails when a DPU discards overlay traffic addressed to it silently, and passes when it logs the drop', () => {
    // Before dpu-02a has shown its TEP MAC, a frame to it is not judged.
    const unknown = new LogBuilder().boot();
    tx(unknown.at(1), 'tor-a', 'up-02a-a', 'b>a', tunnelled);
    expect(violationsOf(dropsLogged, unknown.at(2).events, msNs(5))).toEqual([]);

    const silent = new LogBuilder().boot();
    tx(silent.at(0.5), 'dpu-02a', 'up-02a-a', 'a>b', answer, 'lost');
    silent.at(1);
    const frame = tx(silent, 'tor-a', 'up-02a-a', 'b>a', tunnelled);
    silent.at(2);
    expect(violationsOf(dropsLogged, silent.events, msNs(5)).map((v) => v.message)).toEqual([expect.stringContaining(`dpu-02a dropped a frame without a record: a GENEVE frame for ${WEB02} sent by tor-a on up-02a-a (frame.tx seq ${frame.seq})`)]);

    const logged = new LogBuilder().boot();
    tx(logged.at(0.5), 'dpu-02a', 'up-02a-a', 'a>b', answer, 'lost');
    logged.at(1);
    const f = tx(logged, 'tor-a', 'up-02a-a', 'b>a', tunnelled);
    logged.at(1.001).emit('dpu-02a', 'frame.drop', { port: 'p0', reason: 'standby', len: tunnelled.length }, f.seq);
    // An overlay frame to another DPU's TEP (flooded by a switch that has not learned it) is not this DPU's to account for.
    tx(logged, 'tor-a', 'up-02b-a', 'b>a', tunnelled);
    logged.at(2);
    expect(violationsOf(dropsLogged, logged.events, msNs(5))).toEqual([]);
  });
});
