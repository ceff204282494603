import { describe, expect, it } from 'vitest';
import { buildArpReply, buildGeneveFrame, buildIcmpEchoFrame, buildIcmpUnreachableFrame, buildUdpFrame } from '../../shared/net/builders.js';
import { decodeFrame } from '../../shared/net/frame.js';
import { randomBytes, seededRandom } from '../../shared/net/testing.js';
import { loadTopology, DEFAULT_LAB_YAML } from '../../shared/topology/load.js';
import type { SwitchAction } from './switching/actions.js';
import { routedCopy } from './switching/router.js';
import { dpuTepIp, ROUTER_MAC, tepMac } from './switching/tep.js';
import type { TestContext } from '../runtime/testing.js';
import { switchFor, switchingLab } from './switching/testing.js';
import type { OverlaySwitch } from './switching/overlay-switch.js';
import {
  buildTraceflowPacket,
  decodeTraceMark,
  encodeTraceMark,
  planTraceflow,
  SwitchTraceWatcher,
  traceNumber,
  traceOf,
  TraceflowError,
  TRACEFLOW_EVENT,
  type TraceflowObservation,
  type TraceflowPacketFields,
  type SwitchTraceCall,
} from './traceflow.js';

const WEB_01 = { srcMac: '00:50:56:00:00:01', srcIp: '10.0.1.11' };
const WEB_02 = { dstMac: '00:50:56:00:00:02', dstIp: '10.0.1.12' };

function packet(protocol: TraceflowPacketFields['protocol'], id = 't1'): Uint8Array {
  return buildTraceflowPacket({ id, protocol, ...WEB_01, ...WEB_02, dstPort: protocol === 'icmp' ? 0 : 5201 });
}

function observations(ctx: TestContext): TraceflowObservation[] {
  return ctx.eventsOf(TRACEFLOW_EVENT).map((e) => e.payload as unknown as TraceflowObservation);
}

describe('traceflow mark', () => {
  it('traceflow mark names its trace and carries the hash of the id as its number', () => {
    const mark = encodeTraceMark('web-to-db');
    expect(new TextDecoder().decode(mark.subarray(0, 8))).toBe('DPLTRACE');
    expect(decodeTraceMark(mark)).toEqual({ id: 'web-to-db', number: traceNumber('web-to-db') });
  });

  it('traceflow mark whose number does not match its id is not a mark', () => {
    const mark = encodeTraceMark('t1');
    mark[9]! ^= 0xff;
    expect(decodeTraceMark(mark)).toBeNull();
  });

  it('traceflow mark refuses an empty or over-long id', () => {
    expect(() => encodeTraceMark('')).toThrow(TraceflowError);
    expect(() => encodeTraceMark('x'.repeat(65))).toThrow(expect.objectContaining({ code: 'bad-id' }));
  });
});

describe('traceflow packet', () => {
  it('traceflow packet is a valid ICMP echo request, UDP datagram or TCP SYN, checksums and all', () => {
    const icmp = decodeFrame(packet('icmp'));
    expect(icmp.icmp?.kind).toBe('echo-request');
    const udp = decodeFrame(packet('udp'));
    expect([udp.udp?.dstPort, udp.udp!.srcPort >= 49152]).toEqual([5201, true]);
    const tcp = decodeFrame(packet('tcp'));
    expect(tcp.tcp?.flags.syn).toBe(true);
    expect(tcp.tcp?.flags.ack).toBe(false);
    expect(tcp.ipv4?.ttl).toBe(64);
  });

  it('traceflow packet for the same trace is the same bytes every time', () => {
    expect(packet('tcp')).toEqual(packet('tcp'));
    expect(packet('tcp', 't2')).not.toEqual(packet('tcp'));
  });

  it.each(['icmp', 'udp', 'tcp'] as const)('traceOf finds the trace of a %s packet with its addresses', (protocol) => {
    expect(traceOf(packet(protocol))).toEqual({
      id: 't1',
      number: traceNumber('t1'),
      vlan: null,
      tunnel: null,
      srcMac: WEB_01.srcMac,
      dstMac: WEB_02.dstMac,
      srcIp: WEB_01.srcIp,
      dstIp: WEB_02.dstIp,
      ttl: 64,
      protocol,
    });
  });

  it('traceOf finds an IPv6 trace', () => {
    const frame = buildTraceflowPacket({ id: 'v6', protocol: 'icmp', srcMac: WEB_01.srcMac, dstMac: WEB_02.dstMac, srcIp: 'fd00:1::11', dstIp: 'fd00:1::12', dstPort: 0 });
    expect(traceOf(frame)).toMatchObject({ id: 'v6', srcIp: 'fd00:1::11', ttl: 64, protocol: 'icmp' });
  });

  it('the mark survives the distributed router: TTL down, MACs rewritten, trace intact', () => {
    const routed = routedCopy(packet('udp'), 14, 4, 20, '00:50:56:00:00:99');
    expect(decodeFrame(routed).ipv4?.ttl).toBe(63);
    expect(traceOf(routed)).toMatchObject({ id: 't1', ttl: 63, srcMac: ROUTER_MAC, dstMac: '00:50:56:00:00:99' });
  });

  it('the mark survives GENEVE encapsulation and names the tunnel it travels in', () => {
    const outer = buildGeneveFrame({ srcMac: '02:00:00:00:00:0a', dstMac: '02:00:00:00:00:0b', srcIp: '172.16.0.10', dstIp: '172.16.0.12', vni: 5001, inner: packet('tcp'), vlan: 30 });
    expect(traceOf(outer)).toMatchObject({ id: 't1', vlan: 30, tunnel: { vni: 5001, srcTep: '172.16.0.10', dstTep: '172.16.0.12' }, srcIp: WEB_01.srcIp, protocol: 'tcp' });
  });

  it('traceOf is null for ordinary frames, echo replies and ICMP errors quoting a traced packet', () => {
    const ip = { ...WEB_01, ...WEB_02 };
    expect(traceOf(buildUdpFrame({ ...ip, srcPort: 1000, dstPort: 2000, payload: new TextEncoder().encode('hello DPLTRACE') }))).toBeNull();
    expect(traceOf(buildIcmpEchoFrame({ ...ip, identifier: 1, sequence: 1, data: encodeTraceMark('t1'), reply: true }))).toBeNull();
    const traced = packet('udp');
    expect(traceOf(buildIcmpUnreachableFrame({ ...ip, code: 13, original: traced.subarray(14) }))).toBeNull();
    expect(traceOf(buildArpReply({ srcMac: WEB_01.srcMac, senderIp: WEB_01.srcIp, dstMac: WEB_02.dstMac, targetIp: WEB_02.dstIp }))).toBeNull();
  });

  it('traceOf never throws on garbage: random bytes, cut traced frames, magic in random places', () => {
    const random = seededRandom(7);
    const traced = packet('tcp');
    for (let len = 0; len < traced.length; len++) expect(traceOf(traced.subarray(0, len))).toBeNull();
    for (let i = 0; i < 2000; i++) {
      const junk = randomBytes(random, Math.floor(random() * 200));
      if (junk.length > 20 && random() < 0.5) junk.set(encodeTraceMark('t1'), Math.floor(random() * (junk.length - 16)));
      expect(() => traceOf(junk)).not.toThrow();
    }
    const flipped = traced.slice();
    flipped[14] = 0x99; // IP version 9
    expect(traceOf(flipped)).toBeNull();
  });
});

describe('traceflow plan', () => {
  const lab = loadTopology(DEFAULT_LAB_YAML, 'default-lab.yaml');
  const vnic = (vm: string) => {
    for (const n of lab.nodes) if (n.kind === 'host') for (const v of n.spec.vms) if (v.id === vm) return v.vnics[0]!;
    throw new Error(vm);
  };

  it('traceflow plan sends to the destination VM on the same segment and to the router across segments', () => {
    const same = planTraceflow(lab, { id: 't', vnic: 'web-01.eth0', to: '10.0.1.12', protocol: 'icmp', port: null });
    expect(same).toMatchObject({ ok: true, vm: 'web-01', fields: { srcMac: vnic('web-01').mac, dstMac: vnic('web-02').mac, srcIp: '10.0.1.11', dstIp: '10.0.1.12' } });
    const routed = planTraceflow(lab, { id: 't', vnic: 'web-02.eth0', to: '10.0.2.21', protocol: 'tcp', port: null });
    expect(routed).toMatchObject({ ok: true, fields: { dstMac: ROUTER_MAC, dstPort: 5201 } });
    const gateway = planTraceflow(lab, { id: 't', vnic: 'web-01.eth0', to: '10.0.1.1', protocol: 'icmp', port: null });
    expect(gateway).toMatchObject({ ok: true, fields: { dstMac: ROUTER_MAC } });
    const v6 = planTraceflow(lab, { id: 't', vnic: 'web-01.eth0', to: 'fd00:1:0::12', protocol: 'udp', port: 53 });
    expect(v6).toMatchObject({ ok: true, fields: { srcIp: 'fd00:1::11', dstIp: 'fd00:1::12', dstMac: vnic('web-02').mac, dstPort: 53 } });
  });

  it('traceflow plan says why the guest cannot send to an address no vNIC has', () => {
    expect(planTraceflow(lab, { id: 't', vnic: 'web-01.eth0', to: '10.0.1.99', protocol: 'icmp', port: null })).toMatchObject({ ok: false, reason: 'no-neighbor' });
    expect(() => planTraceflow(lab, { id: 't', vnic: 'nope.eth0', to: '10.0.1.12', protocol: 'icmp', port: null })).toThrow(expect.objectContaining({ code: 'unknown-vnic' }));
    expect(() => planTraceflow(lab, { id: 't', vnic: 'web-01.eth0', to: 'web-02', protocol: 'icmp', port: null })).toThrow(expect.objectContaining({ code: 'bad-destination' }));
  });
});

describe('switch trace watcher', () => {
  const lab = switchingLab();
  const spec = (vm: string) => {
    for (const n of lab.nodes) if (n.kind === 'host') for (const v of n.spec.vms) if (v.id === vm) return v.vnics[0]!;
    throw new Error(vm);
  };

  /** One switch call through a watcher, as a datapath performs it; returns the actions. */
  function drive(watcher: SwitchTraceWatcher, ctx: TestContext, call: SwitchTraceCall, actions: SwitchAction[]): SwitchAction[] {
    for (const action of actions) watcher.see(ctx, call, action);
    watcher.end(ctx, call);
    return actions;
  }

  function fromVnic(sw: OverlaySwitch, ctx: TestContext, watcher: SwitchTraceWatcher, vm: string, frame: Uint8Array): SwitchAction[] {
    return drive(watcher, ctx, watcher.begin('vnic', frame), sw.fromVnic(ctx, spec(vm).id, frame));
  }

  function traced(from: string, to: string, dstMac: string, id = 't1'): Uint8Array {
    const a = spec(from);
    const b = spec(to);
    return buildTraceflowPacket({ id, protocol: 'icmp', srcMac: a.mac, srcIp: a.ipv4.split('/')[0]!, dstMac, dstIp: b.ipv4.split('/')[0]!, dstPort: 0 });
  }

  it('switch trace watcher records a hairpin between two vNICs of one host', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-a');
    const watcher = new SwitchTraceWatcher(() => sw.inspect().arpPending);
    fromVnic(sw, ctx, watcher, 'web-a1', traced('web-a1', 'web-a2', spec('web-a2').mac));
    expect(observations(ctx).map((o) => [o.point, o.detail])).toEqual([['hairpin', { from: spec('web-a1').id, to: spec('web-a2').id }]]);
  });

  it('switch trace watcher follows a frame that waits for underlay ARP until it is encapsulated', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-a');
    const watcher = new SwitchTraceWatcher(() => sw.inspect().arpPending);
    const out = fromVnic(sw, ctx, watcher, 'web-a1', traced('web-a1', 'web-b1', spec('web-b1').mac));
    expect(out.map((a) => a.kind)).toEqual(['to-uplink']); // the ARP request only
    expect(observations(ctx)).toEqual([]);
    expect(watcher.inspect()).toEqual([{ trace: 't1', tep: dpuTepIp(lab, 'dpu-b') }]);
    const reply = buildArpReply({ srcMac: tepMac('dpu-b'), senderIp: dpuTepIp(lab, 'dpu-b'), dstMac: tepMac('dpu-a'), targetIp: dpuTepIp(lab, 'dpu-a') });
    drive(watcher, ctx, watcher.begin('uplink', reply), sw.fromUplink(ctx, 'p0', reply));
    expect(observations(ctx).map((o) => [o.point, o.detail])).toEqual([['encapsulated', { vni: 5001, localTep: dpuTepIp(lab, 'dpu-a'), remoteTep: dpuTepIp(lab, 'dpu-b'), port: 'p0' }]]);
    expect(watcher.inspect()).toEqual([]);
  });

  it('switch trace watcher reports a frame lost to an underlay ARP timeout as dropped', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-a');
    const watcher = new SwitchTraceWatcher(() => sw.inspect().arpPending);
    fromVnic(sw, ctx, watcher, 'web-a1', traced('web-a1', 'web-b1', spec('web-b1').mac));
    for (let timer = ctx.takeDue(); timer; timer = ctx.takeDue()) {
      ctx.time = timer.at;
      drive(watcher, ctx, watcher.begin('none', null), sw.onTimer(ctx, timer.name, timer.data));
    }
    expect(observations(ctx).map((o) => [o.point, o.detail.reason, o.detail.info])).toEqual([['dropped', 'arp-timeout', dpuTepIp(lab, 'dpu-b')]]);
  });

  it('switch trace watcher records routing, then decapsulation at the far end', () => {
    const a = switchFor(lab, 'dpu-a');
    const b = switchFor(lab, 'dpu-b');
    const watchA = new SwitchTraceWatcher(() => a.sw.inspect().arpPending);
    const watchB = new SwitchTraceWatcher(() => b.sw.inspect().arpPending);
    // dpu-a already knows dpu-b's TEP MAC.
    const reply = buildArpReply({ srcMac: tepMac('dpu-b'), senderIp: dpuTepIp(lab, 'dpu-b'), dstMac: tepMac('dpu-a'), targetIp: dpuTepIp(lab, 'dpu-a') });
    a.sw.fromUplink(a.ctx, 'p0', reply);
    const out = fromVnic(a.sw, a.ctx, watchA, 'web-a1', traced('web-a1', 'app-b1', ROUTER_MAC));
    expect(observations(a.ctx).map((o) => o.point)).toEqual(['routed', 'encapsulated']);
    expect(observations(a.ctx)[0]!.detail).toEqual({ dstIp: '10.0.2.31', dstMac: spec('app-b1').mac, ttl: 63 });
    const geneve = out.find((x) => x.kind === 'to-uplink')!;
    if (geneve.kind !== 'to-uplink') throw new Error('no frame');
    drive(watchB, b.ctx, watchB.begin('uplink', geneve.frame), b.sw.fromUplink(b.ctx, 'p0', geneve.frame));
    expect(observations(b.ctx).map((o) => [o.point, o.detail])).toEqual([
      ['decapsulated', { vni: 5002, remoteTep: dpuTepIp(lab, 'dpu-a'), localTep: dpuTepIp(lab, 'dpu-b'), port: 'p0', vnic: spec('app-b1').id }],
    ]);
  });

  it('switch trace watcher records a VLAN segment frame forwarded tagged on the uplink and untagged to the vNIC', () => {
    const a = switchFor(lab, 'dpu-a');
    const b = switchFor(lab, 'dpu-b');
    const watchA = new SwitchTraceWatcher(() => a.sw.inspect().arpPending);
    const watchB = new SwitchTraceWatcher(() => b.sw.inspect().arpPending);
    const out = fromVnic(a.sw, a.ctx, watchA, 'old-a', traced('old-a', 'old-b', spec('old-b').mac));
    expect(observations(a.ctx).map((o) => [o.point, o.detail])).toEqual([['forwarded', { port: 'p0', vlan: 100, vnic: null }]]);
    const tagged = out[0]!;
    if (tagged.kind !== 'to-uplink') throw new Error('not sent');
    drive(watchB, b.ctx, watchB.begin('uplink', tagged.frame), b.sw.fromUplink(b.ctx, 'p0', tagged.frame));
    expect(observations(b.ctx).map((o) => [o.point, o.detail])).toEqual([['forwarded', { port: 'p0', vlan: 100, vnic: spec('old-b').id }]]);
  });

  it('switch trace watcher reports a switch drop with its reason, and nothing for ordinary frames', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-a');
    const watcher = new SwitchTraceWatcher(() => sw.inspect().arpPending);
    const a = spec('web-a1');
    const lost = buildTraceflowPacket({ id: 'lost', protocol: 'udp', srcMac: a.mac, srcIp: '10.0.1.21', dstMac: ROUTER_MAC, dstIp: '10.9.9.9', dstPort: 53 });
    fromVnic(sw, ctx, watcher, 'web-a1', lost);
    const ordinary = buildUdpFrame({ srcMac: a.mac, srcIp: '10.0.1.21', dstMac: ROUTER_MAC, dstIp: '10.9.9.9', srcPort: 1, dstPort: 53, payload: new Uint8Array(8) });
    fromVnic(sw, ctx, watcher, 'web-a1', ordinary);
    expect(observations(ctx).map((o) => [o.trace, o.point, o.detail.where, o.detail.reason])).toEqual([['lost', 'dropped', 'switch', 'no-route']]);
  });

  it('switch trace watcher records an echo request to a gateway as answered by the router', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-a');
    const watcher = new SwitchTraceWatcher(() => sw.inspect().arpPending);
    const a = spec('web-a1');
    fromVnic(sw, ctx, watcher, 'web-a1', buildTraceflowPacket({ id: 'gw', protocol: 'icmp', srcMac: a.mac, srcIp: '10.0.1.21', dstMac: ROUTER_MAC, dstIp: '10.0.1.1', dstPort: 0 }));
    expect(observations(ctx).map((o) => [o.point, o.detail.router])).toEqual([['delivered', true]]);
  });
});
