import { describe, it, expect } from 'vitest';
import {
  buildArpRequest,
  buildGeneveFrame,
  buildIcmpEchoFrame,
  buildIcmpUnreachableFrame,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  buildTcpFrame,
  buildUdpFrame,
} from './builders.js';
import { hexToBytes } from './bytes.js';
import { FrameError } from './errors.js';
import type { FrameErrorCode } from './errors.js';
import { encodeEthernet, ETHERTYPE_IPV4, ETHERTYPE_IPV6 } from './ethernet.js';
import { decodeFrame, innermostFrame, peekEtherType, summarizeFrame, tryDecodeFrame } from './frame.js';
import type { LayerName } from './frame.js';
import { encodeIcmpv6 } from './icmpv6.js';
import { encodeIpv4 } from './ipv4.js';
import { encodeIpv6 } from './ipv6.js';
import { buildLldpFrame } from './lldp.js';
import { boundsChecked, frameErrorOf, randomBytes, seededRandom } from './testing.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const v4 = { srcMac: A, dstMac: B, srcIp: '10.0.0.1', dstIp: '10.0.0.2' };
const v6 = { srcMac: A, dstMac: B, srcIp: 'fd00::1', dstIp: 'fd00::2' };
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

const tcpSyn = buildTcpFrame({ ...v4, srcPort: 40000, dstPort: 80, seq: 1, flags: { syn: true }, options: [{ kind: 'mss', mss: 1460 }], pad: false });
const udp6 = buildUdpFrame({ ...v6, vlan: 7, srcPort: 5353, dstPort: 5353, payload: text('hello'), pad: false });

/** One unpadded frame of every kind the decoder understands, with the layers it must report. */
const SAMPLES: readonly (readonly [string, Uint8Array, readonly LayerName[]])[] = [
  ['ARP request', buildArpRequest({ srcMac: A, senderIp: '10.0.0.1', targetIp: '10.0.0.2', vlan: 10, pad: false }), ['ethernet', 'vlan', 'arp']],
  ['LLDP', buildLldpFrame({ srcMac: A, chassisMac: A, portId: 'eth0', ttlSec: 120, systemName: 'h1', capabilities: ['station'], mgmtIpv4: '10.0.0.1', pad: false }), ['ethernet', 'lldp']],
  ['ICMP echo', buildIcmpEchoFrame({ ...v4, identifier: 1, sequence: 2, data: text('ping'), pad: false }), ['ethernet', 'ipv4', 'icmp']],
  ['ICMP unreachable', buildIcmpUnreachableFrame({ ...v4, code: 13, original: tcpSyn.subarray(14), pad: false }), ['ethernet', 'ipv4', 'icmp']],
  ['ICMPv6 echo', buildIcmpEchoFrame({ ...v6, identifier: 1, sequence: 2, pad: false }), ['ethernet', 'ipv6', 'icmpv6']],
  ['UDP over IPv4', buildUdpFrame({ ...v4, srcPort: 1000, dstPort: 2000, payload: text('x'), pad: false }), ['ethernet', 'ipv4', 'udp']],
  ['UDP over IPv6 with VLAN', udp6, ['ethernet', 'vlan', 'ipv6', 'udp']],
  ['TCP SYN', tcpSyn, ['ethernet', 'ipv4', 'tcp']],
  ['TCP over IPv6 with data', buildTcpFrame({ ...v6, srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: { ack: true, psh: true }, payload: text('data'), pad: false }), ['ethernet', 'ipv6', 'tcp']],
  ['neighbour solicitation', buildNeighborSolicitation({ srcMac: A, srcIp: 'fe80::a', targetIp: 'fe80::b', pad: false }), ['ethernet', 'ipv6', 'icmpv6']],
  ['neighbour advertisement', buildNeighborAdvertisement({ srcMac: B, dstMac: A, srcIp: 'fe80::b', dstIp: 'fe80::a', pad: false }), ['ethernet', 'ipv6', 'icmpv6']],
  ['GENEVE over IPv4', buildGeneveFrame({ ...v4, inner: tcpSyn, vni: 5001, options: [{ optionClass: 0x0104, type: 1, data: new Uint8Array(4) }], pad: false }), ['ethernet', 'ipv4', 'udp', 'geneve']],
  ['GENEVE over IPv6', buildGeneveFrame({ ...v6, vlan: 100, inner: udp6, vni: 0xabcdef, pad: false }), ['ethernet', 'vlan', 'ipv6', 'udp', 'geneve']],
];

const CODES: readonly FrameErrorCode[] = ['truncated', 'bad-checksum', 'unknown-ethertype', 'bad-version', 'bad-length', 'malformed', 'unsupported'];

/** Decodes through a bounds-checked view; returns the FrameError or null, and lets any other exception fail the test. */
function decodeOrError(bytes: Uint8Array, verifyChecksums = true): FrameError | null {
  try {
    decodeFrame(boundsChecked(bytes), { verifyChecksums });
    return null;
  } catch (error) {
    if (error instanceof FrameError) return error;
    throw error;
  }
}

/** Checks the promises every FrameError makes: a known code, an in-range offset, a well-formed message. */
function expectWellFormedError(error: FrameError, length: number): void {
  expect(CODES).toContain(error.code);
  expect(error.offset).toBeGreaterThanOrEqual(0);
  expect(error.offset).toBeLessThanOrEqual(length);
  expect(error.message).toMatch(/^[A-Z0-9]/);
  expect(error.message.endsWith(`(offset ${error.offset})`)).toBe(true);
  expect(error.message).not.toMatch(/\.\s*\(offset/);
}

describe('decodeFrame', () => {
  it.each(SAMPLES)('describes every layer of a %s frame', (_name, frame, layers) => {
    const decoded = decodeFrame(frame);
    expect(decoded.layers).toEqual(layers);
    expect(decoded.offset).toBe(0);
    expect(decoded.length).toBe(frame.length);
    for (const layer of layers) expect(decoded[layer], layer).toBeDefined();
  });

  it('decodes the Ethernet frame inside GENEVE with absolute offsets', () => {
    const frame = SAMPLES.find(([name]) => name === 'GENEVE over IPv4')![1];
    const decoded = decodeFrame(frame);
    expect(decoded.geneve).toMatchObject({ vni: 5001, protocolType: 0x6558, optionsLength: 8 });
    const inner = decoded.geneve!.inner!;
    expect(inner.offset).toBe(14 + 20 + 8 + 16);
    expect(inner.layers).toEqual(['ethernet', 'ipv4', 'tcp']);
    expect(inner.tcp).toMatchObject({ srcPort: 40000, dstPort: 80, flags: { syn: true }, options: [{ kind: 'mss', mss: 1460 }] });
    expect(inner.ipv4!.payloadOffset).toBe(inner.offset + 14 + 20);
    expect(innermostFrame(decoded)).toBe(inner);
    expect(decoded.payload.length).toBe(0);
  });

  it('reports an error in the inner frame at its absolute offset', () => {
    const frame = buildGeneveFrame({ ...v4, inner: tcpSyn, vni: 1, udpChecksum: false, pad: false });
    const innerTcpChecksum = 14 + 20 + 8 + 8 + 14 + 20 + 16;
    frame[innerTcpChecksum]! ^= 0xff;
    expect(frameErrorOf(() => decodeFrame(frame))).toMatchObject({ code: 'bad-checksum', layer: 'tcp', offset: innerTcpChecksum });
  });

  it('notices a corrupted inner frame through the outer UDP checksum', () => {
    const frame = buildGeneveFrame({ ...v4, inner: tcpSyn, vni: 1, pad: false });
    frame[frame.length - 1]! ^= 0x01;
    expect(frameErrorOf(() => decodeFrame(frame))).toMatchObject({ code: 'bad-checksum', layer: 'udp', offset: 14 + 20 + 6 });
  });

  it('uses IP lengths so Ethernet padding never reaches the payload', () => {
    const frame = buildUdpFrame({ ...v4, srcPort: 1, dstPort: 2, payload: text('hi') });
    expect(frame.length).toBe(60);
    const decoded = decodeFrame(frame);
    expect(new TextDecoder().decode(decoded.payload)).toBe('hi');
    expect(decoded.udp!.payload.length).toBe(2);
  });

  it('reports an unknown EtherType as unknown-ethertype at the type field', () => {
    const frame = encodeEthernet({ dst: B, src: A, etherType: 0x88b5, payload: new Uint8Array(46) });
    const error = frameErrorOf(() => decodeFrame(frame));
    expect(error).toMatchObject({ code: 'unknown-ethertype', layer: 'ethernet', offset: 12 });
    expect(error.message).toBe('Ethernet type 0x88b5 is not IPv4, IPv6, ARP or LLDP (offset 12)');
    const tagged = encodeEthernet({ dst: B, src: A, vlan: 5, etherType: 0x8100, payload: new Uint8Array(46) });
    expect(frameErrorOf(() => decodeFrame(tagged))).toMatchObject({ code: 'unknown-ethertype', layer: 'vlan', offset: 16 });
    const dot3 = encodeEthernet({ dst: B, src: A, etherType: 46, payload: new Uint8Array(46) });
    expect(frameErrorOf(() => decodeFrame(dot3)).message).toMatch(/^Ethernet type field is 46, an 802.3 length/);
  });

  it('leaves fragments and unknown IP protocols undecoded above IP', () => {
    const fragment = encodeEthernet({ dst: B, src: A, etherType: ETHERTYPE_IPV4, payload: encodeIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 17, payload: new Uint8Array(16), moreFragments: true }) });
    const decoded = decodeFrame(fragment);
    expect(decoded.layers).toEqual(['ethernet', 'ipv4']);
    expect(decoded.payload.length).toBe(16);
    const gre = encodeEthernet({ dst: B, src: A, etherType: ETHERTYPE_IPV4, payload: encodeIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 47, payload: new Uint8Array(4) }) });
    expect(decodeFrame(gre).layers).toEqual(['ethernet', 'ipv4']);
  });

  it('decodes a router advertisement', () => {
    const ra = encodeIcmpv6({ kind: 'router-advertisement', curHopLimit: 64, managed: true, otherConfig: false, routerLifetime: 600, reachableTime: 0, retransTimer: 0, options: [{ kind: 'mtu', mtu: 1500 }] }, 'fe80::1', 'ff02::1');
    const frame = encodeEthernet({ dst: '33:33:00:00:00:01', src: A, etherType: ETHERTYPE_IPV6, payload: encodeIpv6({ src: 'fe80::1', dst: 'ff02::1', nextHeader: 58, hopLimit: 255, payload: ra }) });
    expect(decodeFrame(frame).icmpv6).toMatchObject({ kind: 'router-advertisement', managed: true, routerLifetime: 600, options: [{ kind: 'mtu', mtu: 1500 }] });
  });

  it('skips checksum verification when asked', () => {
    const frame = SAMPLES.find(([name]) => name === 'UDP over IPv4')![1].slice();
    frame[frame.length - 1]! ^= 0xff;
    expect(frameErrorOf(() => decodeFrame(frame)).code).toBe('bad-checksum');
    expect(decodeFrame(frame, { verifyChecksums: false }).udp).toBeDefined();
  });

  it('refuses tunnels nested deeper than the limit', () => {
    let frame = tcpSyn;
    for (let depth = 0; depth < 3; depth++) frame = buildGeneveFrame({ ...v4, inner: frame, vni: depth });
    expect(innermostFrame(decodeFrame(frame)).tcp).toBeDefined();
    expect(frameErrorOf(() => decodeFrame(frame, { maxTunnelDepth: 2 }))).toMatchObject({ code: 'unsupported', layer: 'geneve' });
  });

  it('rejects every truncation point of every frame with truncated', () => {
    for (const [name, frame] of SAMPLES) {
      const lldp = name === 'LLDP';
      for (let n = 0; n < frame.length; n++) {
        const error = decodeOrError(frame.slice(0, n));
        if (error === null) {
          // Only an LLDPDU may end early: at a whole-TLV boundary after TTL, since End is optional.
          expect(lldp, `${name} truncated to ${n} bytes decoded`).toBe(true);
          continue;
        }
        expect(error.code, `${name} truncated to ${n} bytes`).toBe('truncated');
        expectWellFormedError(error, n);
      }
    }
  });

  it('throws nothing but FrameError for random garbage and never reads out of bounds', () => {
    const random = seededRandom(0x5eed);
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const bytes = randomBytes(random, Math.floor(random() * 120));
      // Steer half of the inputs past the Ethernet type check so deeper layers see garbage too.
      if (bytes.length >= 15 && i % 2 === 0) {
        const types = [0x0800, 0x86dd, 0x0806, 0x88cc, 0x8100];
        const type = types[i % types.length]!;
        bytes[12] = type >> 8;
        bytes[13] = type & 0xff;
        if (type === 0x0800) bytes[14] = 0x45;
        if (type === 0x86dd) bytes[14] = 0x60;
      }
      const error = decodeOrError(bytes, i % 4 !== 0);
      if (error) {
        expectWellFormedError(error, bytes.length);
        seen.add(error.code);
      }
    }
    expect([...seen].sort()).toEqual(expect.arrayContaining(['malformed', 'truncated', 'unknown-ethertype', 'unsupported']));
  });

  it('throws nothing but FrameError for mutated frames and never reads out of bounds', () => {
    const random = seededRandom(42);
    const seen = new Set<string>();
    for (const [, frame] of SAMPLES) {
      for (let i = 0; i < 1500; i++) {
        const bytes = frame.slice(0, random() < 0.2 ? Math.floor(random() * frame.length) : frame.length);
        const flips = 1 + Math.floor(random() * 4);
        for (let f = 0; f < flips && bytes.length > 0; f++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        const error = decodeOrError(bytes, i % 3 !== 0);
        if (error) {
          expectWellFormedError(error, bytes.length);
          seen.add(error.code);
        }
      }
    }
    expect([...seen].sort()).toEqual(['bad-checksum', 'bad-length', 'bad-version', 'malformed', 'truncated', 'unknown-ethertype', 'unsupported']);
  });
});

describe('tryDecodeFrame', () => {
  it('returns the frame or the FrameError instead of throwing', () => {
    const ok = tryDecodeFrame(tcpSyn);
    expect(ok.ok && ok.frame.tcp?.dstPort).toBe(80);
    const bad = tryDecodeFrame(hexToBytes('0102'));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.code).toBe('truncated');
  });
});

describe('summarizeFrame', () => {
  it('gives a one-line description of each layer', () => {
    expect(summarizeFrame(decodeFrame(tcpSyn))).toBe('02:00:00:00:00:0a > 02:00:00:00:00:0b IPv4 10.0.0.1:40000 > 10.0.0.2:80 TCP [SYN] seq 1 ack 0 win 65535 len 0');
    expect(summarizeFrame(decodeFrame(udp6))).toBe('02:00:00:00:00:0a > 02:00:00:00:00:0b vlan 7 IPv6 [fd00::1]:5353 > [fd00::2]:5353 UDP len 5');
    expect(summarizeFrame(decodeFrame(SAMPLES[0]![1]))).toBe('02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff vlan 10 ARP who-has 10.0.0.2 tell 10.0.0.1');
    const geneve = summarizeFrame(decodeFrame(SAMPLES.find(([name]) => name === 'GENEVE over IPv4')![1]));
    expect(geneve).toMatch(/ UDP len \d+ GENEVE vni 5001 \[02:00:00:00:00:0a > 02:00:00:00:00:0b IPv4 10.0.0.1:40000 > 10.0.0.2:80 TCP \[SYN\]/);
  });
});

describe('peekEtherType', () => {
  it('reads the type behind an optional VLAN tag without validating', () => {
    expect(peekEtherType(tcpSyn)).toBe(0x0800);
    expect(peekEtherType(udp6)).toBe(0x86dd);
    expect(peekEtherType(new Uint8Array(13))).toBe(-1);
  });
});
