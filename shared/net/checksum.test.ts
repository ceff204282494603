import { describe, it, expect } from 'vitest';
import { hexToBytes } from './bytes.js';
import {
  checksumMismatch,
  finishChecksum,
  internetChecksum,
  ipv4PseudoHeaderSum,
  ipv6PseudoHeaderSum,
  onesComplementSum,
  pseudoHeader,
  pseudoHeaderSum,
} from './checksum.js';
import { parseIpv4, parseIpv6 } from './ip.js';

describe('internetChecksum', () => {
  it('matches the RFC 1071 worked example', () => {
    // RFC 1071 section 3: these bytes sum to 0xddf2, so the checksum is its complement.
    const bytes = hexToBytes('00 01 f2 03 f4 f5 f6 f7');
    expect(finishChecksum(onesComplementSum(bytes)) ^ 0xffff).toBe(0xddf2);
    expect(internetChecksum(bytes)).toBe(0x220d);
  });

  it('pads an odd trailing byte with zero', () => {
    expect(internetChecksum(hexToBytes('01'))).toBe(internetChecksum(hexToBytes('0100')));
    expect(internetChecksum(hexToBytes('ab cd ef'))).toBe(internetChecksum(hexToBytes('ab cd ef 00')));
  });

  it('gives the published checksum of a well-known IPv4 header', () => {
    // The IPv4 header used as the worked example on the Wikipedia "Internet checksum" page.
    const header = hexToBytes('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7');
    expect(internetChecksum(header)).toBe(0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    expect(internetChecksum(header)).toBe(0);
  });

  it('checksumMismatch reports the value the field should hold', () => {
    const header = hexToBytes('4500 0073 0000 4000 4011 1234 c0a8 0001 c0a8 00c7');
    expect(checksumMismatch(header, 0, 20, 10)).toBe(0xb861);
    header[10] = 0xb8;
    header[11] = 0x61;
    expect(checksumMismatch(header, 0, 20, 10)).toBeNull();
  });

  it('handles sums far beyond 32 bits', () => {
    const bytes = new Uint8Array(200_000).fill(0xff);
    expect(internetChecksum(bytes)).toBe(0);
    bytes.fill(0x01);
    // 100000 words of 0x0101 sum to 25700000 = 0x18826a0; folded 0x188 + 0x26a0 = 0x2828; complement 0xd7d7.
    expect(internetChecksum(bytes)).toBe(0xd7d7);
  });
});

describe('pseudo-header sums', () => {
  it('add addresses, protocol and length for IPv4', () => {
    const sum = ipv4PseudoHeaderSum(parseIpv4('10.0.0.1'), parseIpv4('10.0.0.2'), 17, 20);
    expect(sum).toBe(0x0a00 + 0x0001 + 0x0a00 + 0x0002 + 17 + 20);
  });

  it('add a 32-bit length for IPv6', () => {
    const zero = new Uint8Array(16);
    expect(ipv6PseudoHeaderSum(zero, zero, 58, 0x12345)).toBe(0x1 + 0x2345 + 58);
    const sum = ipv6PseudoHeaderSum(parseIpv6('fe80::1'), parseIpv6('ff02::1'), 58, 32);
    expect(sum).toBe(0xfe80 + 1 + 0xff02 + 1 + 58 + 32);
  });

  it('pseudoHeader picks the family from the addresses and refuses a mix', () => {
    const v6 = pseudoHeader('fe80::1', 'ff02::1');
    expect(pseudoHeaderSum(v6, 58, 32)).toBe(ipv6PseudoHeaderSum(parseIpv6('fe80::1'), parseIpv6('ff02::1'), 58, 32));
    expect(() => pseudoHeader('10.0.0.1', '::1')).toThrow(/different IP families/);
  });
});
