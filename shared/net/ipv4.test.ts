import { describe, it, expect } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { decodeIpv4, encodeIpv4, IP_PROTOCOL_UDP } from './ipv4.js';
import { boundsChecked, frameErrorOf } from './testing.js';

// The Wikipedia "Internet checksum" example header: 115-byte UDP packet, DF, TTL 64, 192.168.0.1 -> 192.168.0.199.
const HEADER = '45000073000040004011b861c0a80001c0a800c7';

describe('encodeIpv4', () => {
  it('reproduces a header with a published checksum', () => {
    const packet = encodeIpv4({ src: '192.168.0.1', dst: '192.168.0.199', protocol: IP_PROTOCOL_UDP, payload: new Uint8Array(115 - 20), ttl: 64, dontFragment: true });
    expect(bytesToHex(packet.subarray(0, 20))).toBe(HEADER);
  });

  it('writes options, DSCP, ECN and fragment fields', () => {
    const packet = encodeIpv4({
      src: '10.0.0.1',
      dst: '10.0.0.2',
      protocol: 6,
      payload: new Uint8Array(8),
      identification: 0xbeef,
      dscp: 46,
      ecn: 1,
      moreFragments: true,
      fragmentOffset: 1480,
      options: hexToBytes('01010100'),
    });
    const ip = decodeIpv4(packet);
    expect(ip).toMatchObject({ headerLength: 24, totalLength: 32, dscp: 46, ecn: 1, identification: 0xbeef, moreFragments: true, fragmentOffset: 1480, isFragment: true });
    expect(bytesToHex(ip.options)).toBe('01010100');
  });

  it('refuses options that are not whole words and fragment offsets not a multiple of 8', () => {
    expect(() => encodeIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payload: new Uint8Array(0), options: new Uint8Array(3) })).toThrow(/multiple of 4/);
    expect(() => encodeIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payload: new Uint8Array(0), fragmentOffset: 12 })).toThrow(/multiple of 8/);
    expect(() => encodeIpv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: 6, payload: new Uint8Array(65516) })).toThrow(/at most 65535/);
  });
});

describe('decodeIpv4', () => {
  const packet = (): Uint8Array => {
    const bytes = new Uint8Array(115 + 10); // ten bytes of link-layer padding after the packet
    bytes.set(hexToBytes(HEADER));
    return bytes;
  };

  it('reads the header and stops the payload at total length', () => {
    const ip = decodeIpv4(packet());
    expect(ip).toMatchObject({ src: '192.168.0.1', dst: '192.168.0.199', ttl: 64, protocol: 17, totalLength: 115, dontFragment: true, checksum: 0xb861, payloadOffset: 20, payloadEnd: 115, isFragment: false });
    expect(ip.payload.length).toBe(95);
  });

  it('reports a wrong checksum with both values and the field offset', () => {
    const bytes = packet();
    bytes[11] = 0x62;
    const error = frameErrorOf(() => decodeIpv4(bytes, 0));
    expect(error.code).toBe('bad-checksum');
    expect(error.offset).toBe(10);
    expect(error.message).toBe('IPv4 header checksum is 0xb862, expected 0xb861 (offset 10)');
  });

  it('detects every single-bit error in the header', () => {
    for (let bit = 0; bit < 160; bit++) {
      const bytes = packet();
      bytes[bit >>> 3]! ^= 0x80 >>> (bit & 7);
      const error = frameErrorOf(() => decodeIpv4(boundsChecked(bytes)));
      expect(['bad-checksum', 'bad-version', 'bad-length', 'truncated'], `bit ${bit}`).toContain(error.code);
    }
  });

  it('rejects a wrong version, a short IHL and a total length below the header', () => {
    const version = packet();
    version[0] = 0x65;
    expect(frameErrorOf(() => decodeIpv4(version))).toMatchObject({ code: 'bad-version', offset: 0 });
    const ihl = packet();
    ihl[0] = 0x44;
    expect(frameErrorOf(() => decodeIpv4(ihl)).code).toBe('bad-length');
    const total = packet();
    total[2] = 0;
    total[3] = 19;
    expect(frameErrorOf(() => decodeIpv4(total, 0, undefined, { verifyChecksum: false })).code).toBe('bad-length');
  });

  it('decodes at an offset and reports absolute offsets', () => {
    const bytes = new Uint8Array(14 + 115);
    bytes.set(hexToBytes(HEADER), 14);
    expect(decodeIpv4(bytes, 14).payloadOffset).toBe(34);
    bytes[14 + 10] = 0;
    expect(frameErrorOf(() => decodeIpv4(bytes, 14)).offset).toBe(24);
  });

  it('rejects every truncation with truncated', () => {
    const bytes = packet().slice(0, 115);
    for (let n = 0; n < bytes.length; n++) {
      expect(frameErrorOf(() => decodeIpv4(boundsChecked(bytes.slice(0, n)))).code).toBe('truncated');
    }
  });
});
