import { describe, expect, test } from 'vitest';
import { derivePortMac, deriveVnicMac, fnv1a32, isGroupMac, normalizeMac } from './mac.js';

describe('fnv1a32', () => {
  test('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });
});

describe('derived MACs', () => {
  test('port MACs are locally administered unicast and stable', () => {
    const mac = derivePortMac('dpu-01a', 'p0');
    expect(mac).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(derivePortMac('dpu-01a', 'p0')).toBe(mac);
    expect(derivePortMac('dpu-01a', 'p1')).not.toBe(mac);
    expect(derivePortMac('dpu-01a', 'p0', 1)).not.toBe(mac);
  });

  test('VNIC MACs fall in the vCenter-generated block', () => {
    for (let i = 0; i < 50; i++) expect(deriveVnicMac(`vm-${i}`, 0)).toMatch(/^00:50:56:[89ab][0-9a-f](:[0-9a-f]{2}){2}$/);
  });
});

describe('normalizeMac', () => {
  test('accepts colon or dash forms in any case and rejects the rest', () => {
    expect(normalizeMac('00-50-56-AA-bb-0C')).toBe('00:50:56:aa:bb:0c');
    expect(normalizeMac('00:50:56:aa:bb')).toBeNull();
    expect(normalizeMac('00:50-56:aa:bb:cc')).toBeNull();
    expect(isGroupMac('01:00:5e:00:00:01')).toBe(true);
    expect(isGroupMac('00:50:56:00:00:01')).toBe(false);
  });
});
