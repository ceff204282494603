import { describe, it, expect } from 'vitest';
import { bytesToHex, concatBytes, hexToBytes } from './bytes.js';
import { decodeIpv6, encodeIpv6, IPV6_FRAGMENT, IPV6_HOP_BY_HOP } from './ipv6.js';
import { boundsChecked, frameErrorOf } from './testing.js';

describe('encodeIpv6', () => {
  it('writes version, traffic class, flow label, length and addresses', () => {
    const packet = encodeIpv6({ src: '2001:db8::1', dst: 'ff02::1', nextHeader: 17, payload: hexToBytes('0102'), hopLimit: 255, trafficClass: 0xb8, flowLabel: 0x12345 });
    expect(bytesToHex(packet.subarray(0, 8))).toBe('6b812345' + '0002' + '11' + 'ff');
    expect(bytesToHex(packet.subarray(8, 40))).toBe('20010db8000000000000000000000001' + 'ff020000000000000000000000000001');
  });
});

describe('decodeIpv6', () => {
  it('round-trips the fixed header', () => {
    const packet = encodeIpv6({ src: 'fe80::1', dst: 'fe80::2', nextHeader: 58, payload: new Uint8Array(8), flowLabel: 7 });
    expect(decodeIpv6(packet)).toMatchObject({ src: 'fe80::1', dst: 'fe80::2', nextHeader: 58, protocol: 58, hopLimit: 64, flowLabel: 7, payloadLength: 8, payloadOffset: 40, payloadEnd: 48, isFragment: false, extensionHeaders: [] });
  });

  it('walks hop-by-hop and fragment headers to the upper layer', () => {
    const hopByHop = hexToBytes('2c00 0502 0000 0100'); // next: fragment; router alert option; PadN
    const fragment = hexToBytes('1100 0b91 deadbeef'); // next: UDP; offset 370 * 8 = 2960 bytes, M set
    const packet = encodeIpv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: IPV6_HOP_BY_HOP, payload: concatBytes(hopByHop, fragment, new Uint8Array(8)) });
    const ip = decodeIpv6(packet);
    expect(ip.extensionHeaders).toEqual([IPV6_HOP_BY_HOP, IPV6_FRAGMENT]);
    expect(ip.protocol).toBe(17);
    expect(ip.payloadOffset).toBe(56);
    expect(ip.fragment).toEqual({ offset: 0xb90, moreFragments: true, identification: 0xdeadbeef });
    expect(ip.isFragment).toBe(true);
  });

  it('rejects a wrong version and an extension header running past the payload', () => {
    const packet = encodeIpv6({ src: '::1', dst: '::1', nextHeader: 59, payload: new Uint8Array(0) });
    packet[0] = 0x40;
    expect(frameErrorOf(() => decodeIpv6(packet))).toMatchObject({ code: 'bad-version', layer: 'ipv6' });
    const long = encodeIpv6({ src: '::1', dst: '::1', nextHeader: IPV6_HOP_BY_HOP, payload: hexToBytes('3b01 0000 0000 0000') });
    expect(frameErrorOf(() => decodeIpv6(long))).toMatchObject({ code: 'truncated', offset: 40 });
  });

  it('rejects every truncation with truncated', () => {
    const packet = encodeIpv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: IPV6_HOP_BY_HOP, payload: hexToBytes('3b00 0000 0000 0000') });
    for (let n = 0; n < packet.length; n++) {
      expect(frameErrorOf(() => decodeIpv6(boundsChecked(packet.slice(0, n)))).code).toBe('truncated');
    }
  });
});
