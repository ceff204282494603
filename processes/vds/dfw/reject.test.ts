import { describe, expect, it } from 'vitest';
import { buildUdpFrame } from '../../../shared/net/builders.js';
import { decodeFrame } from '../../../shared/net/frame.js';
import { TestContext } from '../../runtime/testing.js';
import { DistributedFirewall } from './firewall.js';
import { CLIENT, ping, rule, tcp, udp, v6, WEB } from './testing.js';

/** A firewall that rejects everything towards or from WEB. */
function rejecting(): { fw: DistributedFirewall; ctx: TestContext } {
  const ctx = new TestContext('dpu-a');
  const fw = new DistributedFirewall({ node: 'dpu-a' });
  fw.attach(WEB);
  fw.setRules(ctx, [rule({ id: 'refuse', action: 'reject' })], 1);
  ctx.clear();
  return { fw, ctx };
}

describe('reject answers', () => {
  it('reject answers a SYN with RST,ACK: seq 0, ack = seq + 1, addressed back to the sender', () => {
    const { fw, ctx } = rejecting();
    const syn = tcp(CLIENT, WEB, [40000, 22], { syn: true }, 1_000_000);
    const verdict = fw.filter(ctx, WEB.vnic, 'in', syn);
    expect(verdict.action).toBe('reject');
    const reply = decodeFrame(verdict.reply!); // verifies the IPv4 and TCP checksums
    expect(reply.ethernet).toMatchObject({ src: WEB.mac, dst: CLIENT.mac });
    expect(reply.ipv4).toMatchObject({ src: WEB.ip, dst: CLIENT.ip });
    expect(reply.tcp).toMatchObject({ srcPort: 22, dstPort: 40000, seq: 0, ack: 1_000_001, window: 0 });
    expect(reply.tcp!.flags).toMatchObject({ rst: true, ack: true, syn: false, fin: false });
    expect(ctx.payloads('dfw.reject')).toMatchObject([{ vnic: WEB.vnic, rule: 'refuse', reply: 'tcp-rst', silentBecause: null, len: verdict.reply!.length }]);
  });

  it('reject answers a segment carrying ACK with a bare RST whose seq is the segment ack', () => {
    const { fw, ctx } = rejecting();
    const data = tcp(CLIENT, WEB, [40000, 22], { ack: true, psh: true }, 500, 0xfffffff0, new Uint8Array(30));
    const reply = decodeFrame(fw.filter(ctx, WEB.vnic, 'in', data).reply!);
    expect(reply.tcp).toMatchObject({ seq: 0xfffffff0, ack: 0 });
    expect(reply.tcp!.flags).toMatchObject({ rst: true, ack: false });
  });

  it('reject acknowledges payload and FIN of a segment without ACK, wrapping the sequence space', () => {
    const { fw, ctx } = rejecting();
    const segment = tcp(CLIENT, WEB, [40000, 22], { fin: true }, 0xfffffffe, 0, new Uint8Array(5));
    const reply = decodeFrame(fw.filter(ctx, WEB.vnic, 'in', segment).reply!);
    expect(reply.tcp).toMatchObject({ seq: 0, ack: 4 }); // 0xfffffffe + 5 + 1 wraps to 4
  });

  it('reject never answers a RST', () => {
    const { fw, ctx } = rejecting();
    const verdict = fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [40000, 22], { rst: true }, 1));
    expect(verdict).toMatchObject({ action: 'reject', reply: null });
    expect(ctx.payloads('dfw.reject')).toMatchObject([{ reply: 'none', silentBecause: 'rst' }]);
  });

  it('reject answers UDP over IPv4 with ICMP unreachable code 13 quoting the packet', () => {
    const { fw, ctx } = rejecting();
    const datagram = udp(WEB, CLIENT, [5353, 53], new Uint8Array(20).fill(7));
    const verdict = fw.filter(ctx, WEB.vnic, 'out', datagram);
    const reply = decodeFrame(verdict.reply!);
    expect(reply.ethernet).toMatchObject({ src: CLIENT.mac, dst: WEB.mac });
    expect(reply.ipv4).toMatchObject({ src: CLIENT.ip, dst: WEB.ip, protocol: 1 });
    expect(reply.icmp).toMatchObject({ type: 3, code: 13, kind: 'destination-unreachable' });
    const quoted = reply.icmp!.kind === 'destination-unreachable' ? reply.icmp!.original : new Uint8Array();
    expect([...quoted]).toEqual([...datagram.subarray(14, 14 + 20 + 8 + 20)]);
  });

  it('reject answers an ICMP echo request with ICMP unreachable too', () => {
    const { fw, ctx } = rejecting();
    const reply = decodeFrame(fw.filter(ctx, WEB.vnic, 'in', ping(CLIENT, WEB, 1, 1)).reply!);
    expect(reply.icmp).toMatchObject({ type: 3, code: 13 });
  });

  it('reject answers UDP over IPv6 with ICMPv6 unreachable code 1 quoting the packet, checksum valid', () => {
    const { fw, ctx } = rejecting();
    const peer = { mac: CLIENT.mac, ip: 'fd00:9::9' };
    const datagram = udp(peer, v6(WEB), [5353, 53]);
    const verdict = fw.filter(ctx, WEB.vnic, 'in', datagram);
    const reply = decodeFrame(verdict.reply!);
    expect(reply.ipv6).toMatchObject({ src: WEB.ipv6, dst: 'fd00:9::9', protocol: 58 });
    expect(reply.icmpv6).toMatchObject({ type: 1, code: 1, kind: 'destination-unreachable' });
    const original = reply.icmpv6!.kind === 'destination-unreachable' ? reply.icmpv6!.original : new Uint8Array();
    expect([...original]).toEqual([...datagram.subarray(14, 14 + 40 + 8 + 4)]);
    expect(ctx.payloads('dfw.reject')).toMatchObject([{ reply: 'icmpv6-unreachable' }]);
  });

  it('reject keeps the 802.1Q tag of the refused frame', () => {
    const { fw, ctx } = rejecting();
    const tagged = buildUdpFrame({ srcMac: CLIENT.mac, dstMac: WEB.mac, vlan: 42, srcIp: CLIENT.ip, dstIp: WEB.ip, srcPort: 1, dstPort: 2, payload: new Uint8Array(1) });
    expect(decodeFrame(fw.filter(ctx, WEB.vnic, 'in', tagged).reply!).vlan).toMatchObject({ vid: 42 });
  });

  it('reject stays silent for ICMP errors and broadcast destinations', () => {
    const { fw, ctx } = rejecting();
    const first = fw.filter(ctx, WEB.vnic, 'in', ping(CLIENT, WEB, 1, 1));
    const error = first.reply!; // an ICMP unreachable: rejecting it must not answer again
    expect(fw.filter(ctx, WEB.vnic, 'out', error)).toMatchObject({ action: 'reject', reply: null });
    const broadcast = buildUdpFrame({ srcMac: CLIENT.mac, dstMac: 'ff:ff:ff:ff:ff:ff', srcIp: CLIENT.ip, dstIp: '255.255.255.255', srcPort: 68, dstPort: 67, payload: new Uint8Array(1) });
    expect(fw.filter(ctx, WEB.vnic, 'in', broadcast).reply).toBeNull();
    expect(ctx.payloads('dfw.reject').map((p) => p.silentBecause)).toEqual([null, 'icmp-error', 'group-destination']);
    expect(fw.vnicCounters(WEB.vnic).rejected).toBe(3);
  });
});
