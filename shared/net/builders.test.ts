import { describe, it, expect } from 'vitest';
import {
  buildArpReply,
  buildArpRequest,
  buildGeneveFrame,
  buildGratuitousArp,
  buildIcmpEchoFrame,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildTcpFrame,
  buildTcpIpv4Frame,
  buildUdpFrame,
  buildUdpIpv4Frame,
} from './builders.js';
import { bytesToHex, hexToBytes } from './bytes.js';
import { EncodeError } from './errors.js';
import { FLOW_PORT_MAX, FLOW_PORT_MIN } from './flow.js';
import { decodeFrame } from './frame.js';
import { ndpLinkLayerAddress } from './icmpv6.js';
import type { TcpOption } from './tcp.js';

// Frames tshark 4.0 dissected without malformed-packet or checksum warnings (checksum validation on).
const GOLDEN = {
  arpRequest: 'ffffffffffffa6cd5db0aa288100000a08060001080006040001a6cd5db0aa280a0000010000000000000a0000020000000000000000000000000000',
  ping: 'ceb4ca03ac7aa6cd5db0aa2808004500005400000000400166a70a0000010a0000020800eeb712340001000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637',
  ping6: 'ceb4ca03ac7aa6cd5db0aa2886dd60000000000b3a4020010db800000000000000000000000120010db80000000000000000000000028000203300070009010203',
  heartbeat: 'ceb4ca03ac7aa6cd5db0aa2808004500002800000000011165c6a9fe0001a9fe0002176f176f0014ef4d445048420101000000000007000000000000',
  syn: 'f245d5799901ae2a3aad5ef908004500003c000140004006b74cc0a8010ac0a80114c7380050000003e800000000a002faf0f8340000020405b40402080a000000010000000003030701',
  neighborSolicitation: '3333ff000002a6cd5db0aa2886dd6000000000203afffe800000000000000000000000000001ff0200000000000000000001ff0000028700cdf100000000fe8000000000000000000000000000020101a6cd5db0aa28',
  neighborAdvertisement: 'a6cd5db0aa28ceb4ca03ac7a86dd6000000000203afffe800000000000000000000000000002fe800000000000000000000000000001880054e8e0000000fe8000000000000000000000000000020201ceb4ca03ac7a',
  geneveSyn:
    'ceb4ca03ac7aa6cd5db0aa2808004500007600004000401126750a0000010a000002ec2d17c10062c7a80200655800138900010401010000002af245d5799901ae2a3aad5ef908004500003c000040004006b74dc0a8010ac0a80114cb201f90000003e800000000a002faf0d50c0000020405b40402080a000000010000000003030701',
  gratuitousArp: 'ffffffffffffae2a3aad5ef908060001080006040001ae2a3aad5ef90a0000090000000000000a000009000000000000000000000000000000000000',
};

const HOST = 'a6:cd:5d:b0:aa:28';
const TOR = 'ce:b4:ca:03:ac:7a';
const VM1 = 'ae:2a:3a:ad:5e:f9';
const VM2 = 'f2:45:d5:79:99:01';
const SYN_OPTIONS: TcpOption[] = [{ kind: 'mss', mss: 1460 }, { kind: 'sack-permitted' }, { kind: 'timestamps', value: 1, echo: 0 }, { kind: 'window-scale', shift: 7 }];

describe('builders', () => {
  it('build an ARP request byte for byte', () => {
    expect(bytesToHex(buildArpRequest({ srcMac: HOST, senderIp: '10.0.0.1', targetIp: '10.0.0.2', vlan: 10 }))).toBe(GOLDEN.arpRequest);
  });

  it('build a gratuitous ARP byte for byte', () => {
    expect(bytesToHex(buildGratuitousArp({ srcMac: VM1, ip: '10.0.0.9' }))).toBe(GOLDEN.gratuitousArp);
  });

  it('build an ARP reply addressed to the asker', () => {
    const reply = decodeFrame(buildArpReply({ srcMac: TOR, senderIp: '10.0.0.2', dstMac: HOST, targetIp: '10.0.0.1' }));
    expect(reply.ethernet.dst).toBe(HOST);
    expect(reply.arp).toEqual({ operation: 2, senderMac: TOR, senderIp: '10.0.0.2', targetMac: HOST, targetIp: '10.0.0.1' });
  });

  it('build ICMP and ICMPv6 echo requests byte for byte', () => {
    const data = new Uint8Array(56).map((_, i) => i);
    expect(bytesToHex(buildIcmpEchoFrame({ srcMac: HOST, dstMac: TOR, srcIp: '10.0.0.1', dstIp: '10.0.0.2', identifier: 0x1234, sequence: 1, data }))).toBe(GOLDEN.ping);
    expect(bytesToHex(buildIcmpEchoFrame({ srcMac: HOST, dstMac: TOR, srcIp: '2001:db8::1', dstIp: '2001:db8::2', identifier: 7, sequence: 9, data: hexToBytes('010203') }))).toBe(GOLDEN.ping6);
  });

  it('build a UDP heartbeat byte for byte', () => {
    const frame = buildUdpIpv4Frame({ srcMac: HOST, dstMac: TOR, srcIp: '169.254.0.1', dstIp: '169.254.0.2', srcPort: 5999, dstPort: 5999, payload: hexToBytes('445048420101000000000007'), ttl: 1 });
    expect(bytesToHex(frame)).toBe(GOLDEN.heartbeat);
  });

  it('build a TCP SYN byte for byte', () => {
    const frame = buildTcpIpv4Frame({ srcMac: VM1, dstMac: VM2, srcIp: '192.168.1.10', dstIp: '192.168.1.20', srcPort: 51000, dstPort: 80, seq: 1000, flags: { syn: true }, window: 64240, options: SYN_OPTIONS, id: 1, dontFragment: true });
    expect(bytesToHex(frame)).toBe(GOLDEN.syn);
  });

  it('build neighbour solicitation and advertisement byte for byte', () => {
    expect(bytesToHex(buildNeighborSolicitation({ srcMac: HOST, srcIp: 'fe80::1', targetIp: 'fe80::2' }))).toBe(GOLDEN.neighborSolicitation);
    expect(bytesToHex(buildNeighborAdvertisement({ srcMac: TOR, dstMac: HOST, srcIp: 'fe80::2', dstIp: 'fe80::1', router: true }))).toBe(GOLDEN.neighborAdvertisement);
  });

  it('build a duplicate address detection probe without a link-layer option', () => {
    const probe = decodeFrame(buildNeighborSolicitation({ srcMac: HOST, srcIp: '::', targetIp: 'fe80::1' }));
    expect(probe.ipv6).toMatchObject({ src: '::', dst: 'ff02::1:ff00:1', hopLimit: 255 });
    expect(probe.ethernet.dst).toBe('33:33:ff:00:00:01');
    expect(probe.icmpv6 && ndpLinkLayerAddress(probe.icmpv6)).toBeUndefined();
  });

  it('build a GENEVE-wrapped SYN byte for byte, with the flow-hashed source port', () => {
    const inner = buildTcpFrame({ srcMac: VM1, dstMac: VM2, srcIp: '192.168.1.10', dstIp: '192.168.1.20', srcPort: 52000, dstPort: 8080, seq: 1000, flags: { syn: true }, window: 64240, options: SYN_OPTIONS, dontFragment: true });
    const frame = buildGeneveFrame({ srcMac: HOST, dstMac: TOR, srcIp: '10.0.0.1', dstIp: '10.0.0.2', inner, vni: 5001, options: [{ optionClass: 0x0104, type: 0x01, data: hexToBytes('0000002a') }] });
    expect(bytesToHex(frame)).toBe(GOLDEN.geneveSyn);
  });

  it('refuse mixed or wrong IP families', () => {
    const fields = { srcMac: HOST, dstMac: TOR, srcPort: 1, dstPort: 2, payload: new Uint8Array(0) };
    expect(() => buildUdpIpv4Frame({ ...fields, srcIp: 'fd00::1', dstIp: 'fd00::2' })).toThrow(EncodeError);
    expect(() => buildUdpFrame({ ...fields, srcIp: '10.0.0.1', dstIp: 'fd00::2' })).toThrow(/different IP families/);
  });
});

describe('buildGeneveFrame', () => {
  const inner = (srcPort: number): Uint8Array =>
    buildUdpFrame({ srcMac: VM1, dstMac: VM2, srcIp: '192.168.1.10', dstIp: '192.168.1.20', srcPort, dstPort: 53, payload: hexToBytes('00') });
  const outer = { srcMac: HOST, dstMac: TOR, srcIp: '10.0.0.1', dstIp: '10.0.0.2', vni: 7 };
  const sourcePort = (frame: Uint8Array): number => decodeFrame(frame).udp!.srcPort;

  it('keeps one flow on one source port and spreads flows over the ephemeral range', () => {
    expect(sourcePort(buildGeneveFrame({ ...outer, inner: inner(1000) }))).toBe(sourcePort(buildGeneveFrame({ ...outer, inner: inner(1000) })));
    const ports = new Set<number>();
    for (let p = 1000; p < 1200; p++) {
      const port = sourcePort(buildGeneveFrame({ ...outer, inner: inner(p) }));
      expect(port).toBeGreaterThanOrEqual(FLOW_PORT_MIN);
      expect(port).toBeLessThanOrEqual(FLOW_PORT_MAX);
      ports.add(port);
    }
    expect(ports.size).toBeGreaterThan(190);
  });

  it('uses an explicit source port, sets DF and can omit the UDP checksum', () => {
    const frame = decodeFrame(buildGeneveFrame({ ...outer, inner: inner(1), srcPort: 12345, udpChecksum: false }));
    expect(frame.udp).toMatchObject({ srcPort: 12345, dstPort: 6081, checksum: 0 });
    expect(frame.ipv4!.dontFragment).toBe(true);
    expect(frame.geneve).toMatchObject({ vni: 7, critical: false, oam: false });
  });
});
