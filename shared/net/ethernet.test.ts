import { describe, it, expect } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { EncodeError } from './errors.js';
import { decodeEthernet, encodeEthernet, ETHERTYPE_IPV4, ETHERTYPE_LLDP } from './ethernet.js';
import { boundsChecked, frameErrorOf } from './testing.js';

describe('encodeEthernet', () => {
  it('writes destination, source, type and pads to 60 bytes', () => {
    const frame = encodeEthernet({ dst: 'ff:ff:ff:ff:ff:ff', src: '02:00:00:00:00:01', etherType: 0x0806, payload: hexToBytes('aabb') });
    expect(frame.length).toBe(60);
    expect(bytesToHex(frame.subarray(0, 16))).toBe('ffffffffffff0200000000010806aabb');
    expect(frame.subarray(16).every((b) => b === 0)).toBe(true);
  });

  it('leaves a frame unpadded when asked or when it is long enough', () => {
    expect(encodeEthernet({ dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01', etherType: 0x0800, payload: new Uint8Array(2), pad: false }).length).toBe(16);
    expect(encodeEthernet({ dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01', etherType: 0x0800, payload: new Uint8Array(100) }).length).toBe(114);
  });

  it('inserts an 802.1Q tag with priority, DEI and VLAN id', () => {
    const frame = encodeEthernet({
      dst: '02:00:00:00:00:02',
      src: '02:00:00:00:00:01',
      vlan: { vid: 0x123, pcp: 5, dei: true },
      etherType: ETHERTYPE_IPV4,
      payload: new Uint8Array(0),
      pad: false,
    });
    // TCI = pcp 101, dei 1, vid 0001 0010 0011 = 0xb123
    expect(bytesToHex(frame)).toBe('020000000002020000000001' + '8100b123' + '0800');
  });

  it('refuses a VLAN id or priority out of range', () => {
    const base = { dst: '02:00:00:00:00:02', src: '02:00:00:00:00:01', etherType: 0x0800, payload: new Uint8Array(0) };
    expect(() => encodeEthernet({ ...base, vlan: 4096 })).toThrow(EncodeError);
    expect(() => encodeEthernet({ ...base, vlan: { vid: 1, pcp: 8, dei: false } })).toThrow(/vlan.pcp/);
  });
});

describe('decodeEthernet', () => {
  it('reads an untagged header and points at the payload', () => {
    const frame = encodeEthernet({ dst: '01:80:c2:00:00:0e', src: '02:00:00:00:00:01', etherType: ETHERTYPE_LLDP, payload: hexToBytes('0207'), pad: false });
    const eth = decodeEthernet(frame);
    expect(eth).toMatchObject({ dst: '01:80:c2:00:00:0e', src: '02:00:00:00:00:01', etherType: 0x88cc, headerLength: 14, payloadOffset: 14 });
    expect(eth.vlan).toBeUndefined();
    expect([...eth.payload]).toEqual([2, 7]);
  });

  it('reads a tagged header and reports the inner EtherType', () => {
    const frame = hexToBytes('020000000002020000000001 8100 b123 0800 45');
    const eth = decodeEthernet(frame);
    expect(eth.vlan).toEqual({ vid: 0x123, pcp: 5, dei: true });
    expect(eth.etherType).toBe(0x0800);
    expect(eth.payloadOffset).toBe(18);
  });

  it('rejects every truncated header with truncated at the right layer', () => {
    const frame = hexToBytes('020000000002020000000001 8100 b123 0800');
    for (let n = 0; n < frame.length; n++) {
      const error = frameErrorOf(() => decodeEthernet(boundsChecked(frame.slice(0, n))));
      expect(error.code).toBe('truncated');
      expect(error.layer).toBe(n < 14 ? 'ethernet' : 'vlan');
    }
  });
});
