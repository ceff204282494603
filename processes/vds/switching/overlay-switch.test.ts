import { describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/codec.js';
import { ARP_REPLY, ARP_REQUEST } from '../../../shared/net/arp.js';
import { utf8Encode } from '../../../shared/net/bytes.js';
import {
  buildArpReply,
  buildArpRequest,
  buildGeneveFrame,
  buildIcmpEchoFrame,
  buildNeighborSolicitation,
  buildUdpFrame,
} from '../../../shared/net/builders.js';
import { decodeEthernet } from '../../../shared/net/ethernet.js';
import { flowSourcePort } from '../../../shared/net/flow.js';
import { decodeGeneve } from '../../../shared/net/geneve.js';
import { decodeIpv4 } from '../../../shared/net/ipv4.js';
import { decodeUdp } from '../../../shared/net/udp.js';
import { decodeFrame } from '../../../shared/net/frame.js';
import type { DecodedFrame } from '../../../shared/net/frame.js';
import { BROADCAST_MAC } from '../../../shared/net/mac.js';
import { loadDefaultLab } from '../../../shared/topology/load.js';
import type { ResolvedTopology } from '../../../shared/topology/types.js';
import type { SwitchAction } from './actions.js';
import { ControlPlane } from './control-plane.js';
import type { ControlPlaneEntry } from './control-plane.js';
import { STANDBY_FOR_TEP } from './overlay-switch.js';
import { ETHERTYPE_RARP } from './rarp.js';
import { hostVnics, switchFor, switchingLab, underlayOf } from './testing.js';
import type { FakeUnderlay } from './testing.js';
import { ROUTER_MAC, tepMac } from './tep.js';

const lab = loadDefaultLab();
const cp = new ControlPlane(lab);
const three = switchingLab();
const cp3 = new ControlPlane(three);

function vm(vnic: string, table: ControlPlane = cp): ControlPlaneEntry {
  const entry = table.vnic(vnic);
  if (!entry) throw new Error(`No vNIC ${vnic}`);
  return entry;
}

/** A UDP datagram from one VM to an address, sent to `dstMac` (the peer's MAC by default). */
function udp(from: ControlPlaneEntry, to: { mac: string; ipv4: string }, options: { dstMac?: string; ttl?: number; size?: number } = {}): Uint8Array {
  return buildUdpFrame({
    srcMac: from.mac,
    dstMac: options.dstMac ?? to.mac,
    srcIp: from.ipv4,
    dstIp: to.ipv4,
    ttl: options.ttl ?? 64,
    srcPort: 40000,
    dstPort: 5000,
    payload: options.size === undefined ? utf8Encode(`hello from ${from.vm}`) : new Uint8Array(options.size),
  });
}

function only<T>(list: readonly T[]): T {
  expect(list).toHaveLength(1);
  return list[0]!;
}

function kinds(actions: readonly SwitchAction[]): string[] {
  return actions.map((a) => (a.kind === 'to-vnic' ? `to-vnic ${a.vnic}` : a.kind === 'to-uplink' ? `to-uplink ${a.port}` : `drop ${a.reason}`));
}

function genevesOn(underlay: FakeUnderlay, from: string): DecodedFrame[] {
  return underlay.wire
    .filter((w) => w.from === from)
    .map((w) => decodeFrame(w.frame))
    .filter((f) => f.geneve !== undefined);
}

/** The outer destination, VNI and inner Ethernet header of a GENEVE frame, whatever the inner EtherType. */
function openTunnel(frame: Uint8Array): { dst: string; vni: number; inner: ReturnType<typeof decodeEthernet> } {
  const eth = decodeEthernet(frame);
  const ip = decodeIpv4(frame, eth.payloadOffset);
  const datagram = decodeUdp(frame, ip.payloadOffset, ip.payloadEnd, null);
  const geneve = decodeGeneve(frame, datagram.payloadOffset, ip.payloadEnd);
  return { dst: ip.dst, vni: geneve.vni, inner: decodeEthernet(geneve.payload) };
}

function twoDpus(topology: ResolvedTopology = lab): FakeUnderlay {
  return underlayOf(topology, ['dpu-01a', 'dpu-02a']);
}

describe('OverlaySwitch from a vNIC', () => {
  it('OverlaySwitch answers an ARP request for a VM address locally (ARP suppression)', () => {
    const underlay = twoDpus();
    const web01 = vm('web-01.eth0');
    const web02 = vm('web-02.eth0');
    const actions = underlay.send('dpu-01a', 'web-01.eth0', buildArpRequest({ srcMac: web01.mac, senderIp: web01.ipv4, targetIp: web02.ipv4 }));
    const reply = only(actions);
    expect(reply).toMatchObject({ kind: 'to-vnic', vnic: 'web-01.eth0', steps: ['arp-suppress'] });
    const arp = decodeFrame(reply.kind === 'to-vnic' ? reply.frame : new Uint8Array()).arp!;
    expect(arp).toEqual({ operation: ARP_REPLY, senderMac: web02.mac, senderIp: web02.ipv4, targetMac: web01.mac, targetIp: web01.ipv4 });
    expect(underlay.wire).toEqual([]);
    expect(underlay.node('dpu-01a').sw.counters().arpSuppressed).toBe(1);
  });

  it('OverlaySwitch answers ARP for the segment gateway with the router MAC', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const web01 = vm('web-01.eth0');
    const reply = only(sw.fromVnic(ctx, 'web-01.eth0', buildArpRequest({ srcMac: web01.mac, senderIp: web01.ipv4, targetIp: '10.0.1.1' })));
    expect(reply.kind).toBe('to-vnic');
    expect(decodeFrame(reply.kind === 'to-vnic' ? reply.frame : new Uint8Array()).arp).toMatchObject({ operation: ARP_REPLY, senderMac: ROUTER_MAC, senderIp: '10.0.1.1' });
  });

  it('OverlaySwitch does not answer an ARP probe, it floods it', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const web01 = vm('web-01.eth0');
    const actions = sw.fromVnic(ctx, 'web-01.eth0', buildArpRequest({ srcMac: web01.mac, senderIp: '0.0.0.0', targetIp: vm('web-02.eth0').ipv4 }));
    expect(kinds(actions)).toEqual(['to-uplink p0']); // the underlay ARP for the other TEP
    expect(sw.counters().arpSuppressed).toBe(0);
  });

  it('OverlaySwitch answers a neighbour solicitation for a VM or the gateway locally', () => {
    const { sw, ctx } = switchFor(three, 'dpu-a');
    const a1 = vm('web-a1.eth0', cp3);
    const a2 = vm('web-a2.eth0', cp3);
    const peer = only(sw.fromVnic(ctx, 'web-a1.eth0', buildNeighborSolicitation({ srcMac: a1.mac, srcIp: a1.ipv6!, targetIp: a2.ipv6! })));
    const na = decodeFrame(peer.kind === 'to-vnic' ? peer.frame : new Uint8Array());
    expect(na.icmpv6).toMatchObject({ kind: 'neighbor-advertisement', target: a2.ipv6, router: false, options: [{ kind: 'target-link-layer-address', mac: a2.mac }] });
    expect(na.ethernet.dst).toBe(a1.mac);
    const gateway = only(sw.fromVnic(ctx, 'web-a1.eth0', buildNeighborSolicitation({ srcMac: a1.mac, srcIp: a1.ipv6!, targetIp: 'fd00:1::1' })));
    const gna = decodeFrame(gateway.kind === 'to-vnic' ? gateway.frame : new Uint8Array());
    expect(gna.icmpv6).toMatchObject({ kind: 'neighbor-advertisement', target: 'fd00:1::1', router: true, options: [{ kind: 'target-link-layer-address', mac: ROUTER_MAC }] });
    expect(sw.counters()).toMatchObject({ ndSuppressed: 1, routerReplies: 1 });
  });

  it('OverlaySwitch carries a VM frame across TEPs intact after resolving the underlay next hop', () => {
    const underlay = twoDpus();
    const a = underlay.node('dpu-01a');
    const frame = udp(vm('web-01.eth0'), vm('web-02.eth0'));
    const first = underlay.send('dpu-01a', 'web-01.eth0', frame);
    // Nothing can go yet: the switch asks the underlay for the remote TEP's MAC first.
    const ask = only(first);
    expect(ask.kind === 'to-uplink' && decodeFrame(ask.frame).arp).toMatchObject({ operation: ARP_REQUEST, senderIp: '172.16.0.10', targetIp: '172.16.0.12' });
    const delivered = only(underlay.delivered);
    expect(delivered).toMatchObject({ node: 'dpu-02a', vnic: 'web-02.eth0' });
    expect(delivered.frame).toEqual(frame);
    expect(delivered.action.steps).toEqual(['decap', 'switch']);
    expect(a.ctx.eventsOf('tep.arp.resolved').map((e) => e.payload)).toEqual([{ tep: '172.16.0.12', mac: tepMac('dpu-02a'), port: 'p0' }]);

    // Resolved: the next frame goes straight out, and the resolution is not reported again.
    const second = underlay.send('dpu-01a', 'web-01.eth0', frame);
    expect(kinds(second)).toEqual(['to-uplink p0']);
    expect(second[0]!.steps).toEqual(['switch', 'encap']);
    expect(underlay.delivered).toHaveLength(2);
    expect(a.ctx.eventsOf('tep.arp.resolved')).toHaveLength(1);
    expect(a.sw.counters()).toMatchObject({ encap: 2 });
    expect(underlay.node('dpu-02a').sw.counters()).toMatchObject({ decap: 2 });
  });

  it('OverlaySwitch encapsulates in GENEVE with the segment VNI between the two TEPs', () => {
    const underlay = twoDpus();
    const frame = udp(vm('web-01.eth0'), vm('web-02.eth0'));
    underlay.send('dpu-01a', 'web-01.eth0', frame);
    const outer = only(genevesOn(underlay, 'dpu-01a'));
    expect(outer.ethernet).toMatchObject({ src: tepMac('dpu-01a'), dst: tepMac('dpu-02a') });
    expect(outer.ipv4).toMatchObject({ src: '172.16.0.10', dst: '172.16.0.12', dontFragment: true });
    expect(outer.udp).toMatchObject({ dstPort: 6081, srcPort: flowSourcePort(frame) });
    expect(outer.geneve?.vni).toBe(5001);
    const inner = outer.geneve!.inner!;
    expect(inner.ipv4).toMatchObject({ src: '10.0.1.11', dst: '10.0.1.12', ttl: 64 });
    expect(outer.geneve!.payload).toEqual(frame);
  });

  it('OverlaySwitch hairpins a frame between two vNICs of the same host', () => {
    const underlay = twoDpus();
    const frame = udp(vm('app-01.eth0'), vm('db-01.eth0'));
    const action = only(underlay.send('dpu-01a', 'app-01.eth0', frame));
    expect(action).toMatchObject({ kind: 'to-vnic', vnic: 'db-01.eth0', steps: ['switch', 'hairpin'], origin: { kind: 'vnic', vnic: 'app-01.eth0' } });
    expect(action.kind === 'to-vnic' && action.frame).toEqual(frame);
    expect(underlay.wire).toEqual([]);
    expect(underlay.node('dpu-01a').sw.counters()).toMatchObject({ hairpin: 1, encap: 0 });
  });

  it('OverlaySwitch routes between web and app on the same host, TTL decremented and MACs rewritten', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const web01 = vm('web-01.eth0');
    const app01 = vm('app-01.eth0');
    const action = only(sw.fromVnic(ctx, 'web-01.eth0', udp(web01, app01, { dstMac: ROUTER_MAC })));
    expect(action).toMatchObject({ kind: 'to-vnic', vnic: 'app-01.eth0', steps: ['route', 'switch', 'hairpin'] });
    // decodeFrame verifies the IPv4 header checksum, so the rewrite kept it right.
    const routed = decodeFrame(action.kind === 'to-vnic' ? action.frame : new Uint8Array());
    expect(routed.ethernet).toMatchObject({ src: ROUTER_MAC, dst: app01.mac });
    expect(routed.ipv4).toMatchObject({ src: web01.ipv4, dst: app01.ipv4, ttl: 63 });
    expect(routed.udp?.dstPort).toBe(5000);
    expect(sw.counters().routed).toBe(1);
  });

  it('OverlaySwitch routes to a VM behind another TEP in the destination segment VNI', () => {
    const underlay = twoDpus();
    const web01 = vm('web-01.eth0');
    const app02 = vm('app-02.eth0');
    underlay.send('dpu-01a', 'web-01.eth0', udp(web01, app02, { dstMac: ROUTER_MAC }));
    expect(only(genevesOn(underlay, 'dpu-01a')).geneve?.vni).toBe(5002);
    const delivered = only(underlay.delivered);
    expect(delivered.vnic).toBe('app-02.eth0');
    const routed = decodeFrame(delivered.frame);
    expect(routed.ethernet).toMatchObject({ src: ROUTER_MAC, dst: app02.mac });
    expect(routed.ipv4?.ttl).toBe(63);
  });

  it('OverlaySwitch drops a routed packet whose TTL runs out and tells the sender', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const web01 = vm('web-01.eth0');
    const actions = sw.fromVnic(ctx, 'web-01.eth0', udp(web01, vm('app-01.eth0'), { dstMac: ROUTER_MAC, ttl: 1 }));
    expect(kinds(actions)).toEqual(['drop ttl-exceeded', 'to-vnic web-01.eth0']);
    const icmp = decodeFrame(actions[1]!.kind === 'to-vnic' ? actions[1]!.frame : new Uint8Array());
    expect(icmp.ipv4).toMatchObject({ src: '10.0.1.1', dst: web01.ipv4 });
    expect(icmp.icmp).toMatchObject({ kind: 'time-exceeded', code: 0 });
    expect(sw.counters().vnics['web-01.eth0']?.drops).toEqual({ 'ttl-exceeded': 1 });
  });

  it('OverlaySwitch answers a ping to the gateway from the distributed router', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const web01 = vm('web-01.eth0');
    const ping = buildIcmpEchoFrame({ srcMac: web01.mac, dstMac: ROUTER_MAC, srcIp: web01.ipv4, dstIp: '10.0.1.1', identifier: 7, sequence: 1 });
    const reply = only(sw.fromVnic(ctx, 'web-01.eth0', ping));
    const decoded = decodeFrame(reply.kind === 'to-vnic' ? reply.frame : new Uint8Array());
    expect(decoded.icmp).toMatchObject({ kind: 'echo-reply', identifier: 7, sequence: 1 });
    expect(decoded.ipv4).toMatchObject({ src: '10.0.1.1', dst: web01.ipv4 });
  });

  it('OverlaySwitch drops a routed packet for an address no vNIC has', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const action = only(sw.fromVnic(ctx, 'web-01.eth0', udp(vm('web-01.eth0'), { mac: ROUTER_MAC, ipv4: '10.0.2.99' })));
    expect(action).toMatchObject({ kind: 'drop', reason: 'no-route', vnic: 'web-01.eth0' });
  });

  it('OverlaySwitch replicates a broadcast head-end to every TEP of the segment and floods it locally', () => {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b', 'kvm-c']);
    const a1 = vm('web-a1.eth0', cp3);
    const broadcast = udp(a1, { mac: BROADCAST_MAC, ipv4: '10.0.1.255' });
    const actions = underlay.send('dpu-a', 'web-a1.eth0', broadcast);
    // One local copy, then one ARP per remote TEP to resolve (the GENEVE copies wait for them).
    expect(kinds(actions)).toEqual(['to-vnic web-a2.eth0', 'to-uplink p0', 'to-uplink p0']);
    const outers = genevesOn(underlay, 'dpu-a');
    expect(outers.map((o) => [o.ipv4?.dst, o.geneve?.vni])).toEqual([
      ['172.16.0.11', 5001],
      ['172.16.1.12', 5001],
    ]);
    expect(underlay.delivered.map((d) => `${d.node} ${d.vnic}`)).toEqual(['dpu-a web-a2.eth0', 'dpu-b web-b1.eth0', 'kvm-c web-c1.eth0']);
    for (const d of underlay.delivered) expect(d.frame).toEqual(broadcast);
    expect(underlay.node('dpu-a').sw.counters().replicated).toBe(2);
  });

  it('OverlaySwitch floods a unicast to an unknown MAC like a broadcast', () => {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b', 'kvm-c']);
    const a1 = vm('web-a1.eth0', cp3);
    underlay.send('dpu-a', 'web-a1.eth0', udp(a1, { mac: '00:50:56:aa:bb:cc', ipv4: '10.0.1.99' }));
    // Everyone else on the segment sees it, nobody delivers it to a vNIC that does not own the MAC.
    expect(genevesOn(underlay, 'dpu-a')).toHaveLength(2);
    expect(underlay.delivered.map((d) => `${d.node} ${d.vnic}`)).toEqual(['dpu-a web-a2.eth0']);
    expect(underlay.drops.map((d) => `${d.node} ${d.action.kind === 'drop' ? d.action.reason : ''}`)).toContain('dpu-b no-route');
  });

  it('OverlaySwitch tags a VLAN segment frame on the uplink and the far side untags it', () => {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b']);
    const frame = udp(vm('old-a.eth0', cp3), vm('old-b.eth0', cp3));
    const action = only(underlay.send('dpu-a', 'old-a.eth0', frame));
    expect(action).toMatchObject({ kind: 'to-uplink', port: 'p0', steps: ['switch'] });
    expect(decodeFrame(action.kind === 'to-uplink' ? action.frame : new Uint8Array()).vlan?.vid).toBe(100);
    const delivered = only(underlay.delivered);
    expect(delivered).toMatchObject({ node: 'dpu-b', vnic: 'old-b.eth0' });
    expect(delivered.frame).toEqual(frame);
  });

  it('OverlaySwitch drops an encapsulated frame larger than the underlay MTU', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a', { underlayMtu: 1500 });
    const action = only(sw.fromVnic(ctx, 'web-01.eth0', udp(vm('web-01.eth0'), vm('web-02.eth0'), { size: 1472 })));
    expect(action).toMatchObject({ kind: 'drop', reason: 'mtu', vnic: 'web-01.eth0' });
  });

  it('OverlaySwitch holds at most the pending limit of frames while the next hop resolves', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a', { arpPendingLimit: 2 });
    const frame = udp(vm('web-01.eth0'), vm('web-02.eth0'));
    const results = [1, 2, 3].map(() => kinds(sw.fromVnic(ctx, 'web-01.eth0', frame)));
    expect(results).toEqual([['to-uplink p0'], [], ['drop arp-pending-overflow']]);
    expect(sw.inspect().arpPending).toEqual([{ tep: '172.16.0.12', frames: 2, attempts: 1 }]);
  });

  it('OverlaySwitch retries the underlay ARP, then drops the waiting frames', () => {
    const underlay = underlayOf(lab, ['dpu-01a']);
    const a = underlay.node('dpu-01a');
    underlay.send('dpu-01a', 'web-01.eth0', udp(vm('web-01.eth0'), vm('web-02.eth0')));
    underlay.advance(5e9);
    const asks = underlay.wire.filter((w) => decodeFrame(w.frame).arp?.targetIp === '172.16.0.12');
    expect(asks).toHaveLength(3);
    expect(underlay.drops.map((d) => d.action)).toEqual([expect.objectContaining({ kind: 'drop', reason: 'arp-timeout', vnic: 'web-01.eth0' })]);
    expect(a.ctx.eventsOf('tep.arp.failed').map((e) => e.payload)).toEqual([{ tep: '172.16.0.12', dropped: 1 }]);
  });

  it('OverlaySwitch refreshes an underlay ARP entry in use before it ages out', () => {
    const underlay = twoDpus();
    const a = underlay.node('dpu-01a');
    const frame = udp(vm('web-01.eth0'), vm('web-02.eth0'));
    underlay.send('dpu-01a', 'web-01.eth0', frame);
    underlay.advance(240e9); // past three quarters of the 300 s lifetime
    const refresh = underlay.send('dpu-01a', 'web-01.eth0', frame);
    expect(kinds(refresh)).toEqual(['to-uplink p0', 'to-uplink p0']);
    expect(decodeFrame(refresh[1]!.kind === 'to-uplink' ? refresh[1]!.frame : new Uint8Array()).arp?.targetIp).toBe('172.16.0.12');
    underlay.advance(200e9); // 440 s after the first resolution, 200 s after the refresh
    expect(kinds(underlay.send('dpu-01a', 'web-01.eth0', frame))).toEqual(['to-uplink p0']);
    expect(a.sw.inspect().underlayArp).toEqual([{ tep: '172.16.0.12', mac: tepMac('dpu-02a'), port: 'p0', confirmedAt: 240e9 }]);
    expect(a.ctx.eventsOf('tep.arp.resolved')).toHaveLength(1);
  });

  it('OverlaySwitch resolves a TEP again once its unused underlay ARP entry aged out', () => {
    const underlay = twoDpus();
    const a = underlay.node('dpu-01a');
    const frame = udp(vm('web-01.eth0'), vm('web-02.eth0'));
    underlay.send('dpu-01a', 'web-01.eth0', frame);
    underlay.advance(300e9);
    const again = underlay.send('dpu-01a', 'web-01.eth0', frame);
    expect(again.map((x) => (x.kind === 'to-uplink' ? decodeFrame(x.frame).arp?.targetIp : null))).toEqual(['172.16.0.12']);
    expect(a.ctx.eventsOf('tep.arp.resolved').map((e) => e.time)).toEqual([0, 300e9]);
    expect(underlay.delivered).toHaveLength(2);
  });

  it('OverlaySwitch routes IPv6 between segments with the hop limit decremented', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const web01 = vm('web-01.eth0');
    const app01 = vm('app-01.eth0');
    const packet = buildUdpFrame({ srcMac: web01.mac, dstMac: ROUTER_MAC, srcIp: web01.ipv6!, dstIp: app01.ipv6!, ttl: 10, srcPort: 1, dstPort: 2, payload: utf8Encode('v6') });
    const action = only(sw.fromVnic(ctx, 'web-01.eth0', packet));
    expect(action).toMatchObject({ kind: 'to-vnic', vnic: 'app-01.eth0' });
    const routed = decodeFrame(action.kind === 'to-vnic' ? action.frame : new Uint8Array());
    expect(routed.ethernet).toMatchObject({ src: ROUTER_MAC, dst: app01.mac });
    expect(routed.ipv6).toMatchObject({ src: web01.ipv6, dst: app01.ipv6, hopLimit: 9 });
  });

  it('OverlaySwitch forgets a learned MAC after the aging time and stops learning at the limit', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a', { macLimit: 2 });
    const web01 = vm('web-01.eth0');
    const from = (mac: string): Uint8Array => udp({ ...web01, mac }, vm('db-01.eth0'), { dstMac: web01.mac });
    sw.fromVnic(ctx, 'web-01.eth0', from('00:50:56:00:00:01'));
    sw.fromVnic(ctx, 'web-01.eth0', from('00:50:56:00:00:02'));
    sw.fromVnic(ctx, 'web-01.eth0', from('00:50:56:00:00:03'));
    expect(sw.inspect().macTables.web?.map((e) => e.mac)).toEqual(['00:50:56:00:00:01', '00:50:56:00:00:02']);
    expect(sw.counters().macLimitHits).toBe(1);
    ctx.time = 600e9;
    expect(sw.inspect(ctx.time).macTables.web).toBeUndefined();
    sw.fromVnic(ctx, 'web-01.eth0', from('00:50:56:00:00:03'));
    expect(sw.inspect().macTables.web?.map((e) => e.mac)).toEqual(['00:50:56:00:00:03']);
  });

  it('OverlaySwitch delivers to a MAC it learned behind a local vNIC', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const app01 = vm('app-01.eth0');
    const secondary = '00:50:56:00:00:99';
    sw.fromVnic(ctx, 'app-01.eth0', udp({ ...app01, mac: secondary }, vm('db-01.eth0')));
    const action = only(sw.fromVnic(ctx, 'db-01.eth0', udp(vm('db-01.eth0'), { mac: secondary, ipv4: app01.ipv4 })));
    expect(action).toMatchObject({ kind: 'to-vnic', vnic: 'app-01.eth0' });
  });

  it('OverlaySwitch counts and drops frames from a vNIC it does not serve', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    expect(only(sw.fromVnic(ctx, 'web-02.eth0', udp(vm('web-02.eth0'), vm('web-01.eth0'))))).toMatchObject({ kind: 'drop', reason: 'unknown-vnic' });
  });
});

describe('OverlaySwitch from an uplink', () => {
  it('OverlaySwitch answers an ARP request for its TEP on the uplink it came in on', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-02a');
    const ask = buildArpRequest({ srcMac: tepMac('dpu-01a'), senderIp: '172.16.0.10', targetIp: '172.16.0.12' });
    const reply = only(sw.fromUplink(ctx, 'p0', ask));
    expect(reply.kind === 'to-uplink' && reply.port).toBe('p0');
    expect(decodeFrame(reply.kind === 'to-uplink' ? reply.frame : new Uint8Array()).arp).toEqual({
      operation: ARP_REPLY,
      senderMac: tepMac('dpu-02a'),
      senderIp: '172.16.0.12',
      targetMac: tepMac('dpu-01a'),
      targetIp: '172.16.0.10',
    });
  });

  it('OverlaySwitch ignores underlay ARP for other TEPs and broadcasts on its standby uplink', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-02a');
    const other = buildArpRequest({ srcMac: tepMac('dpu-01a'), senderIp: '172.16.0.10', targetIp: '172.16.0.13' });
    expect(only(sw.fromUplink(ctx, 'p0', other))).toMatchObject({ kind: 'drop', reason: 'not-for-us', port: 'p0' });
    const ours = buildArpRequest({ srcMac: tepMac('dpu-01a'), senderIp: '172.16.0.10', targetIp: '172.16.0.12' });
    expect(only(sw.fromUplink(ctx, 'p1', ours))).toMatchObject({ kind: 'drop', reason: 'standby-uplink', port: 'p1' });
    expect(only(sw.fromUplink(ctx, 'p1', ours))).not.toHaveProperty('detail');
  });

  it('OverlaySwitch marks a frame for its own tunnel endpoint that reaches the standby uplink, a loss the DPU logs', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const inner = udp(vm('web-02.eth0'), vm('web-01.eth0'));
    const frame = buildGeneveFrame({ srcMac: tepMac('dpu-02a'), dstMac: tepMac('dpu-01a'), srcIp: '172.16.0.12', dstIp: '172.16.0.10', vni: 5001, inner });
    expect(only(sw.fromUplink(ctx, 'p1', frame))).toMatchObject({ kind: 'drop', reason: 'standby-uplink', port: 'p1', detail: STANDBY_FOR_TEP });
  });

  it('OverlaySwitch drops a GENEVE frame with an unknown VNI', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const inner = udp(vm('web-02.eth0'), vm('web-01.eth0'));
    const frame = buildGeneveFrame({ srcMac: tepMac('dpu-02a'), dstMac: tepMac('dpu-01a'), srcIp: '172.16.0.12', dstIp: '172.16.0.10', vni: 9999, inner });
    expect(only(sw.fromUplink(ctx, 'p0', frame))).toMatchObject({ kind: 'drop', reason: 'unknown-segment', port: 'p0', detail: 'vni 9999' });
    expect(sw.counters().uplinks.p0?.drops).toEqual({ 'unknown-segment': 1 });
    expect(sw.counters().decap).toBe(0);
  });

  it('OverlaySwitch drops GENEVE frames for another TEP and malformed frames with a reason', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const inner = udp(vm('web-02.eth0'), vm('web-01.eth0'));
    const elsewhere = buildGeneveFrame({ srcMac: tepMac('dpu-02a'), dstMac: tepMac('dpu-01b'), srcIp: '172.16.0.12', dstIp: '172.16.0.11', vni: 5001, inner });
    expect(only(sw.fromUplink(ctx, 'p0', elsewhere))).toMatchObject({ kind: 'drop', reason: 'not-for-us' });
    expect(only(sw.fromUplink(ctx, 'p0', new Uint8Array(10)))).toMatchObject({ kind: 'drop', reason: 'malformed', detail: 'truncated' });
  });

  it('OverlaySwitch learns a remote MAC behind the TEP that sent it', () => {
    const underlay = twoDpus();
    underlay.send('dpu-02a', 'web-02.eth0', udp(vm('web-02.eth0'), vm('web-01.eth0')));
    const table = underlay.node('dpu-01a').sw.inspect().macTables.web;
    expect(table).toEqual([{ mac: vm('web-02.eth0').mac, location: { kind: 'tep', tep: '172.16.0.12' }, lastSeen: 0 }]);
  });

  it('OverlaySwitch takes an ARP reply it did not ask for only when it was addressed to its TEP', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    const unsolicited = buildArpReply({ srcMac: tepMac('dpu-02a'), senderIp: '172.16.0.12', dstMac: tepMac('dpu-01b'), targetIp: '172.16.0.11' });
    expect(only(sw.fromUplink(ctx, 'p0', unsolicited))).toMatchObject({ kind: 'drop', reason: 'not-for-us' });
    expect(sw.inspect().underlayArp).toEqual([]);
  });
});

describe('OverlaySwitch teaming', () => {
  it('OverlaySwitch fails over to the next uplink on link down and sends a gratuitous ARP there', () => {
    const underlay = twoDpus();
    const a = underlay.node('dpu-01a');
    const actions = underlay.link('dpu-01a', 'p0', false);
    expect(a.ctx.eventsOf('team.failover').map((e) => e.payload)).toEqual([{ from: 'p0', to: 'p1', reason: 'link-down' }]);
    const garp = only(actions);
    expect(garp.kind === 'to-uplink' && garp.port).toBe('p1');
    const decoded = decodeFrame(garp.kind === 'to-uplink' ? garp.frame : new Uint8Array());
    expect(decoded.ethernet).toMatchObject({ src: tepMac('dpu-01a'), dst: BROADCAST_MAC });
    expect(decoded.arp).toMatchObject({ operation: ARP_REQUEST, senderIp: '172.16.0.10', targetIp: '172.16.0.10', senderMac: tepMac('dpu-01a') });

    // Remote traffic now leaves on p1 and still arrives.
    const frame = udp(vm('web-01.eth0'), vm('web-02.eth0'));
    underlay.send('dpu-01a', 'web-01.eth0', frame);
    expect(underlay.wire.filter((w) => w.from === 'dpu-01a').map((w) => w.port)).toEqual(['p1', 'p1', 'p1']);
    expect(only(underlay.delivered).frame).toEqual(frame);
    expect(a.sw.activeUplink).toBe('p1');
  });

  it('OverlaySwitch drops remote traffic with no-uplink when every uplink is down, and fails back', () => {
    const underlay = twoDpus();
    const a = underlay.node('dpu-01a');
    underlay.link('dpu-01a', 'p0', false);
    underlay.link('dpu-01a', 'p1', false);
    expect(a.sw.activeUplink).toBeNull();
    const action = only(underlay.send('dpu-01a', 'web-01.eth0', udp(vm('web-01.eth0'), vm('web-02.eth0'))));
    expect(action).toMatchObject({ kind: 'drop', reason: 'no-uplink', vnic: 'web-01.eth0' });
    // Local traffic does not need an uplink.
    expect(kinds(underlay.send('dpu-01a', 'app-01.eth0', udp(vm('app-01.eth0'), vm('db-01.eth0'))))).toEqual(['to-vnic db-01.eth0']);
    underlay.link('dpu-01a', 'p0', true);
    expect(a.ctx.eventsOf('team.failover').map((e) => e.payload)).toEqual([
      { from: 'p0', to: 'p1', reason: 'link-down' },
      { from: 'p1', to: null, reason: 'link-down' },
      { from: null, to: 'p0', reason: 'link-up' },
    ]);
  });

  it('OverlaySwitch announces a TEP on boot with a gratuitous ARP on the active uplink', () => {
    const { sw, ctx } = switchFor(lab, 'dpu-01a');
    ctx.setLink('p0', false);
    const action = only(sw.boot(ctx));
    expect(action.kind === 'to-uplink' && action.port).toBe('p1');
    expect(ctx.eventsOf('team.failover')).toEqual([]);
  });
});

describe('OverlaySwitch announcements and moves', () => {
  it('OverlaySwitch announces a VM MAC with a RARP encapsulated to every TEP of the segment', () => {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b', 'kvm-c']);
    const a = underlay.node('dpu-a');
    const a1 = vm('web-a1.eth0', cp3);
    underlay.pump('dpu-a', a.sw.announce(a.ctx, a1.mac, 'web'));
    // decodeFrame stops at the RARP EtherType inside, so the tunnel is opened layer by layer.
    const rarps = underlay.wire.filter((w) => w.from === 'dpu-a' && decodeEthernet(w.frame).etherType === 0x0800).map((w) => openTunnel(w.frame));
    expect(rarps.map((r) => [r.dst, r.vni, r.inner.etherType, r.inner.src, r.inner.dst])).toEqual([
      ['172.16.0.11', 5001, ETHERTYPE_RARP, a1.mac, BROADCAST_MAC],
      ['172.16.1.12', 5001, ETHERTYPE_RARP, a1.mac, BROADCAST_MAC],
    ]);
    expect(underlay.node('dpu-b').sw.inspect().macTables.web).toEqual([{ mac: a1.mac, location: { kind: 'tep', tep: '172.16.0.10' }, lastSeen: 0 }]);
  });

  it('OverlaySwitch follows a control-plane update after a vMotion', () => {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b']);
    const a = underlay.node('dpu-a');
    const b = underlay.node('dpu-b');
    const b1 = vm('web-b1.eth0', cp3);
    // web-b1 moves from esx-b to esx-a: dpu-a starts serving it, both control planes learn it.
    b.sw.removeVnic('web-b1.eth0');
    a.sw.addVnic({ ...hostVnics(three, 'esx-b').find((v) => v.id === 'web-b1.eth0')!, vm: 'web-b1' });
    for (const sw of [a.sw, b.sw]) sw.controlPlane.update('web-b1.eth0', { host: 'esx-a', tep: '172.16.0.10' });
    const action = only(underlay.send('dpu-a', 'web-a1.eth0', udp(vm('web-a1.eth0', cp3), b1)));
    expect(action).toMatchObject({ kind: 'to-vnic', vnic: 'web-b1.eth0' });
    expect(underlay.wire).toEqual([]);
  });
});

describe('OverlaySwitch determinism', () => {
  function transcript(): unknown {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b', 'kvm-c']);
    const a1 = vm('web-a1.eth0', cp3);
    const out: unknown[] = [];
    const record = (actions: readonly SwitchAction[]): void => {
      out.push(actions.map((x) => ({ ...x, ...('frame' in x ? { frame: Buffer.from(x.frame).toString('hex') } : {}) })));
    };
    record(underlay.send('dpu-a', 'web-a1.eth0', udp(a1, { mac: BROADCAST_MAC, ipv4: '10.0.1.255' })));
    record(underlay.send('dpu-a', 'web-a1.eth0', udp(a1, vm('web-c1.eth0', cp3))));
    record(underlay.send('dpu-a', 'web-a1.eth0', udp(a1, vm('app-b1.eth0', cp3), { dstMac: ROUTER_MAC })));
    record(underlay.link('dpu-a', 'p0', false));
    underlay.advance(2e9);
    record(underlay.send('kvm-c', 'web-c1.eth0', udp(vm('web-c1.eth0', cp3), a1)));
    out.push(underlay.wire.map((w) => `${w.from} ${w.port} ${Buffer.from(w.frame).toString('hex')}`));
    out.push(underlay.delivered.map((d) => `${d.node} ${d.vnic} ${Buffer.from(d.frame).toString('hex')}`));
    for (const node of ['dpu-a', 'dpu-b', 'kvm-c']) out.push(underlay.node(node).ctx.events, underlay.node(node).sw.inspect());
    return out;
  }

  it('OverlaySwitch gives the same actions, frames and events for the same inputs', () => {
    const first = transcript();
    expect(transcript()).toEqual(first);
    expect(JSON.stringify(first)).toContain('team.failover');
  });

  it('OverlaySwitch events and inspection survive the event codec unchanged', () => {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b']);
    underlay.send('dpu-a', 'web-a1.eth0', udp(vm('web-a1.eth0', cp3), vm('web-b1.eth0', cp3)));
    underlay.link('dpu-a', 'p0', false);
    const a = underlay.node('dpu-a');
    for (const value of [...a.ctx.events.map((e) => e.payload), a.sw.inspect()]) expect(decode(encode(value))).toEqual(value);
  });

  it('OverlaySwitch keeps frames on an owner VNI for the owner, tunnels the owner\'s frames, and refuses a segment\'s VNI as the owner\'s', () => {
    const underlay = underlayOf(three, ['dpu-a', 'dpu-b'], { ownerVnis: [4242] });
    const a = underlay.node('dpu-a');
    const b = underlay.node('dpu-b');
    const inner = udp(vm('web-a1.eth0', cp3), vm('web-b1.eth0', cp3));
    const first = a.sw.tunnel(a.ctx, '172.16.0.11', 4242, inner);
    // No MAC for dpu-b's TEP yet: an ARP request first, the frame once it is answered.
    expect(first.map((x) => (x.kind === 'to-uplink' ? decodeFrame(x.frame).arp?.targetIp : x.kind))).toEqual(['172.16.0.11']);
    underlay.pump('dpu-a', first);
    const sent = underlay.wire.filter((w) => w.from === 'dpu-a').map((w) => decodeFrame(w.frame));
    expect(sent.at(-1)?.geneve?.vni).toBe(4242);
    const [taken] = b.sw.takeTunnelled();
    expect(taken).toMatchObject({ vni: 4242, tep: '172.16.0.10', port: 'p0', steps: ['decap'] });
    expect(taken!.frame).toEqual(inner);
    expect(b.sw.takeTunnelled()).toEqual([]);
    expect(underlay.delivered).toEqual([]);
    expect(a.sw.tunnel(a.ctx, '10.9.9.9', 4242, inner)).toMatchObject([{ kind: 'drop', reason: 'no-route' }]);
    expect(() => switchFor(three, 'dpu-a', { ownerVnis: [5001] })).toThrow(expect.objectContaining({ code: 'vni-taken' }));
  });
});

