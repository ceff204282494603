import { describe, expect, test } from 'vitest';
import { derivePortMac, deriveVnicMac } from './macs.js';

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

  test('keeps the values pinned so recorded runs replay with the same addresses', () => {
    expect(derivePortMac('dpu-01a', 'p0')).toBe('02:18:db:77:7c:e4');
    expect(derivePortMac('dpu-01a', 'p0', 1)).toBe('02:e5:14:59:e4:92');
    expect(derivePortMac('tor-a', 'swp1')).toBe('02:03:5b:20:f2:c2');
    expect(deriveVnicMac('web-01', 0)).toBe('00:50:56:b8:e8:ee');
    expect(deriveVnicMac('dpu-01a', 0, 1)).toBe('00:50:56:90:74:be');
  });
});
