import { describe, expect, test } from 'vitest';
import { formatIp, inSubnet, lastAddress, networkAddress, parseIpWithPrefix, parseIpv4, parseIpv6 } from './ip.js';

describe('parseIpv4', () => {
  test('parses dotted quads and rejects the rest', () => {
    expect(parseIpv4('10.0.1.11')).toBe(0x0a00010bn);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffffn);
    for (const bad of ['10.0.1', '10.0.1.256', '10.0.01.1', '10.0.1.1.1', 'a.b.c.d', '']) expect(parseIpv4(bad)).toBeNull();
  });
});

describe('parseIpv6', () => {
  test('parses compressed, full and IPv4-suffixed forms', () => {
    expect(parseIpv6('fd00:1::11')).toBe((0xfd00n << 112n) | (1n << 96n) | 0x11n);
    expect(parseIpv6('::')).toBe(0n);
    expect(parseIpv6('::1')).toBe(1n);
    expect(parseIpv6('1:2:3:4:5:6:7:8')).toBe(parseIpv6('1:2:3:4:5:6:7:8'));
    expect(parseIpv6('::ffff:10.0.0.1')).toBe((0xffffn << 32n) | 0x0a000001n);
  });

  test('rejects malformed addresses', () => {
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '12345::', 'fd00:1::g', '1:2:3:4:5:6:7:8:9', '']) expect(parseIpv6(bad)).toBeNull();
  });
});

describe('formatIp', () => {
  test('prints canonical text (RFC 5952 for IPv6)', () => {
    expect(formatIp(0x0a00010bn, 4)).toBe('10.0.1.11');
    expect(formatIp(parseIpv6('FD00:0001:0000:0000:0000:0000:0000:0011') ?? 0n, 6)).toBe('fd00:1::11');
    expect(formatIp(parseIpv6('1:0:0:2:0:0:0:3') ?? 0n, 6)).toBe('1:0:0:2::3');
    expect(formatIp(parseIpv6('1:0:2:3:4:5:6:7') ?? 0n, 6)).toBe('1:0:2:3:4:5:6:7');
    expect(formatIp(0n, 6)).toBe('::');
  });
});

describe('subnets', () => {
  test('network, last address and membership', () => {
    const ip = parseIpWithPrefix('10.0.1.77/24', 4);
    expect(ip).toEqual({ family: 4, address: 0x0a00014dn, prefix: 24 });
    expect(formatIp(networkAddress(0x0a00014dn, 24, 4), 4)).toBe('10.0.1.0');
    expect(formatIp(lastAddress(0x0a00014dn, 24, 4), 4)).toBe('10.0.1.255');
    expect(inSubnet(0x0a00014dn, 0x0a000100n, 24, 4)).toBe(true);
    expect(inSubnet(0x0a00024dn, 0x0a000100n, 24, 4)).toBe(false);
    expect(parseIpWithPrefix('10.0.1.1/33', 4)).toBeNull();
    expect(parseIpWithPrefix('fd00::/64', 6)?.prefix).toBe(64);
  });
});
