import { describe, expect, it } from 'vitest';
import { encodeEthernet } from '../net/ethernet.js';
import { rxFilterKey } from './rx-filter-key.js';

describe('rxFilterKey', () => {
  it('rxFilterKey reads the destination MAC and the VLAN of a tagged frame', () => {
    const frame = encodeEthernet({ dst: '00:50:56:aa:bb:cc', src: '02:00:00:00:00:01', vlan: 200, etherType: 0x0800, payload: new Uint8Array(46) });
    expect(rxFilterKey(frame)).toEqual({ dst: '00:50:56:aa:bb:cc', vlan: 200 });
  });

  it('rxFilterKey gives no VLAN for an untagged frame and null for a truncated one', () => {
    const frame = encodeEthernet({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', etherType: 0x0806, payload: new Uint8Array(46) });
    expect(rxFilterKey(frame)).toEqual({ dst: 'ff:ff:ff:ff:ff:ff', vlan: null });
    expect(rxFilterKey(frame.subarray(0, 10))).toBeNull();
  });
});
