import { describe, it, expect } from 'vitest';
import { AddressError } from './errors.js';
import {
  formatMac,
  ipv6MulticastMacFromBytes,
  isBroadcastMac,
  isLocallyAdministeredMac,
  isMulticastMac,
  isUnicastMac,
  macFromString,
  normalizeMac,
  parseMac,
} from './mac.js';

describe('parseMac', () => {
  it('parses colon and dash forms into six bytes', () => {
    expect([...parseMac('00:1b:21:3a:4b:5c')]).toEqual([0x00, 0x1b, 0x21, 0x3a, 0x4b, 0x5c]);
    expect([...parseMac('AA-BB-CC-DD-EE-FF')]).toEqual([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
  });

  it('rejects malformed text with bad-mac', () => {
    for (const text of ['', '00:1b:21:3a:4b', '00:1b:21:3a:4b:5c:6d', '0:1b:21:3a:4b:5c', '00:1b-21:3a:4b:5c', 'zz:1b:21:3a:4b:5c', '001b213a4b5c']) {
      expect(() => parseMac(text), text).toThrow(AddressError);
      try {
        parseMac(text);
      } catch (error) {
        expect((error as AddressError).code).toBe('bad-mac');
      }
    }
  });
});

describe('formatMac', () => {
  it('formats lowercase with colons at an offset', () => {
    expect(formatMac(new Uint8Array([9, 0xab, 0x0c, 0xd0, 1, 2, 3, 0xff]), 2)).toBe('0c:d0:01:02:03:ff');
  });

  it('normalizes any accepted spelling', () => {
    expect(normalizeMac('AA-0B-CC-DD-EE-0F')).toBe('aa:0b:cc:dd:ee:0f');
  });
});

describe('MAC address class tests', () => {
  it('tells broadcast, multicast, unicast and locally administered apart', () => {
    expect(isBroadcastMac('ff:ff:ff:ff:ff:ff')).toBe(true);
    expect(isBroadcastMac('ff:ff:ff:ff:ff:fe')).toBe(false);
    expect(isMulticastMac('ff:ff:ff:ff:ff:ff')).toBe(true);
    expect(isMulticastMac('01:80:c2:00:00:0e')).toBe(true);
    expect(isMulticastMac('33:33:ff:00:00:01')).toBe(true);
    expect(isMulticastMac('00:1b:21:3a:4b:5c')).toBe(false);
    expect(isUnicastMac('02:00:00:00:00:01')).toBe(true);
    expect(isLocallyAdministeredMac('02:00:00:00:00:01')).toBe(true);
    expect(isLocallyAdministeredMac('00:1b:21:3a:4b:5c')).toBe(false);
    expect(isMulticastMac(new Uint8Array([1, 0, 0x5e, 0, 0, 1]))).toBe(true);
  });
});

describe('macFromString', () => {
  it('derives a stable locally administered unicast address', () => {
    const mac = macFromString('host1/vmnic0');
    expect(mac).toBe(macFromString('host1/vmnic0'));
    expect(mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(isLocallyAdministeredMac(mac)).toBe(true);
    expect(isUnicastMac(mac)).toBe(true);
  });

  it('keeps the value pinned so recorded runs replay with the same addresses', () => {
    expect(macFromString('host1/vmnic0')).toBe('a6:cd:5d:b0:aa:28');
    expect(macFromString('tor1/p1')).toBe('ce:b4:ca:03:ac:7a');
  });

  it('gives different seeds different addresses', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(macFromString(`host${i}/vmnic${i % 4}`));
    expect(seen.size).toBe(5000);
    for (const mac of seen) {
      expect(isLocallyAdministeredMac(mac)).toBe(true);
      expect(isUnicastMac(mac)).toBe(true);
    }
  });
});

describe('ipv6MulticastMacFromBytes', () => {
  it('maps a group to 33:33 plus its last four bytes', () => {
    const group = new Uint8Array(16);
    group.set([0xff, 0x02], 0);
    group.set([0x01, 0xff, 0x3a, 0x4b, 0x5c], 11);
    expect(ipv6MulticastMacFromBytes(group)).toBe('33:33:ff:3a:4b:5c');
  });
});
