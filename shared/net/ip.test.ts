import { describe, it, expect } from 'vitest';
import { AddressError } from './errors.js';
import {
  cidrContains,
  formatCidr,
  formatIpv6,
  ipFamily,
  ipv4ToUint32,
  ipv6LinkLocalFromMac,
  ipv6MulticastMac,
  isIpv4,
  isIpv6,
  normalizeIp,
  parseCidr,
  parseIpv4,
  parseIpv6,
  prefixMatch,
  solicitedNodeMulticast,
  uint32ToIpv4,
} from './ip.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof AddressError) return error.code;
    throw error;
  }
  return undefined;
}

describe('parseIpv4', () => {
  it('parses a dotted quad', () => {
    expect([...parseIpv4('192.168.0.199')]).toEqual([192, 168, 0, 199]);
    expect(ipv4ToUint32('10.0.0.1')).toBe(0x0a000001);
    expect(ipv4ToUint32('255.255.255.255')).toBe(0xffffffff);
    expect(uint32ToIpv4(0xc0a80001)).toBe('192.168.0.1');
  });

  it('rejects out-of-range octets, leading zeros and wrong shapes', () => {
    for (const text of ['256.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.-4', '', '1..2.3', 'a.b.c.d', ' 1.2.3.4']) {
      expect(codeOf(() => parseIpv4(text)), text).toBe('bad-ipv4');
    }
  });
});

describe('formatIpv6', () => {
  it('writes RFC 5952 canonical text', () => {
    const cases: [string, string][] = [
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal runs
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // longest run wins
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['fe80:0:0:0:0:0:0:0', 'fe80::'],
      ['2001:DB8::ABCD', '2001:db8::abcd'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['::ffff:c000:0201', '::ffff:192.0.2.1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [input, canonical] of cases) expect(formatIpv6(parseIpv6(input)), input).toBe(canonical);
  });
});

describe('parseIpv6', () => {
  it('parses compressed text into 16 bytes', () => {
    const bytes = parseIpv6('2001:db8::ff00:42:8329');
    expect([...bytes]).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0x00, 0x00, 0x42, 0x83, 0x29]);
    expect([...parseIpv6('::')]).toEqual(new Array<number>(16).fill(0));
    expect([...parseIpv6('::1')]).toEqual([...new Array<number>(15).fill(0), 1]);
  });

  it('rejects malformed text with bad-ipv6', () => {
    for (const text of ['', ':', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '::1.2.3', 'fe80::1%eth0', '1:2:3:4:5:6:7::8', ':1:2:3:4:5:6:7', '1.2.3.4::']) {
      expect(codeOf(() => parseIpv6(text)), text).toBe('bad-ipv6');
    }
  });
});

describe('ipFamily', () => {
  it('classifies text and rejects what is neither', () => {
    expect(ipFamily('10.0.0.1')).toBe(4);
    expect(ipFamily('::1')).toBe(6);
    expect(isIpv4('::1')).toBe(false);
    expect(isIpv6('10.0.0.1')).toBe(false);
    expect(normalizeIp('2001:DB8:0::1')).toBe('2001:db8::1');
    expect(codeOf(() => ipFamily('host1'))).toBe('bad-ipv4');
  });
});

describe('parseCidr', () => {
  it('keeps the written address and clears host bits in the network', () => {
    const cidr = parseCidr('10.1.2.3/20');
    expect(cidr).toMatchObject({ family: 4, address: '10.1.2.3', network: '10.1.0.0', prefixLength: 20 });
    expect(formatCidr(cidr)).toBe('10.1.0.0/20');
    expect(parseCidr('2001:db8:abcd:12ff::1/52').network).toBe('2001:db8:abcd:1000::');
    expect(parseCidr('192.0.2.7').prefixLength).toBe(32);
  });

  it('rejects bad prefixes with bad-cidr', () => {
    for (const text of ['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/08', '::/129', 'x/8', '10.0.0.0/-1']) {
      expect(codeOf(() => parseCidr(text)), text).toBe('bad-cidr');
    }
  });
});

describe('cidrContains', () => {
  it('matches on non-byte-aligned prefixes and never across families', () => {
    expect(cidrContains('10.1.0.0/20', '10.1.15.255')).toBe(true);
    expect(cidrContains('10.1.0.0/20', '10.1.16.0')).toBe(false);
    expect(cidrContains('0.0.0.0/0', '203.0.113.9')).toBe(true);
    expect(cidrContains('2001:db8::/33', '2001:db8:7fff::1')).toBe(true);
    expect(cidrContains('2001:db8::/33', '2001:db8:8000::1')).toBe(false);
    expect(cidrContains('::/0', '10.0.0.1')).toBe(false);
  });

  it('prefixMatch compares exactly the first n bits', () => {
    const a = new Uint8Array([0b10110000]);
    const b = new Uint8Array([0b10111111]);
    expect(prefixMatch(a, b, 4)).toBe(true);
    expect(prefixMatch(a, b, 5)).toBe(false);
    expect(prefixMatch(a, b, 9)).toBe(false);
  });
});

describe('IPv6 neighbour discovery addresses', () => {
  it('derives solicited-node groups, their MACs and EUI-64 link-local addresses', () => {
    expect(solicitedNodeMulticast('2001:db8::21b:21ff:fe3a:4b5c')).toBe('ff02::1:ff3a:4b5c');
    expect(ipv6MulticastMac('ff02::1:ff3a:4b5c')).toBe('33:33:ff:3a:4b:5c');
    expect(ipv6LinkLocalFromMac('00:1b:21:3a:4b:5c')).toBe('fe80::21b:21ff:fe3a:4b5c');
  });
});
