import { describe, it, expect } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { pseudoHeader } from './checksum.js';
import { boundsChecked, frameErrorOf } from './testing.js';
import { decodeUdp, encodeUdp } from './udp.js';

// The UDP part of a heartbeat tshark dissected with a correct checksum: 169.254.0.1:5999 -> 169.254.0.2:5999.
const PAYLOAD = hexToBytes('445048420101000000000007');
const DATAGRAM = hexToBytes('176f176f0014ef4d' + '445048420101000000000007');
const PSEUDO = pseudoHeader('169.254.0.1', '169.254.0.2');

describe('encodeUdp', () => {
  it('fills in length and the pseudo-header checksum', () => {
    const udp = encodeUdp({ srcPort: 5999, dstPort: 5999, payload: PAYLOAD, srcIp: '169.254.0.1', dstIp: '169.254.0.2' });
    expect(bytesToHex(udp)).toBe(bytesToHex(DATAGRAM));
  });

  it('sends a computed checksum of zero as 0xffff', () => {
    // Choose the first payload word so the sum is all ones, which makes the computed checksum 0.
    const probe = encodeUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array(2), srcIp: '10.0.0.1', dstIp: '10.0.0.2' });
    const word = (probe[6]! << 8) | probe[7]!;
    const udp = encodeUdp({ srcPort: 1, dstPort: 2, payload: new Uint8Array([word >> 8, word & 0xff]), srcIp: '10.0.0.1', dstIp: '10.0.0.2' });
    expect(bytesToHex(udp.subarray(6, 8))).toBe('ffff');
    expect(decodeUdp(udp, 0, undefined, pseudoHeader('10.0.0.1', '10.0.0.2')).checksum).toBe(0xffff);
  });

  it('omits the checksum over IPv4 only when asked, never over IPv6', () => {
    const v4 = encodeUdp({ srcPort: 1, dstPort: 2, payload: PAYLOAD, srcIp: '10.0.0.1', dstIp: '10.0.0.2', checksum: false });
    expect(bytesToHex(v4.subarray(6, 8))).toBe('0000');
    const v6 = encodeUdp({ srcPort: 1, dstPort: 2, payload: PAYLOAD, srcIp: 'fd00::1', dstIp: 'fd00::2', checksum: false });
    expect(bytesToHex(v6.subarray(6, 8))).not.toBe('0000');
    expect(decodeUdp(v6, 0, undefined, pseudoHeader('fd00::1', 'fd00::2')).srcPort).toBe(1);
  });
});

describe('decodeUdp', () => {
  it('reads ports, length and payload', () => {
    const udp = decodeUdp(DATAGRAM, 0, undefined, PSEUDO);
    expect(udp).toMatchObject({ srcPort: 5999, dstPort: 5999, length: 20, checksum: 0xef4d, payloadOffset: 8 });
    expect(udp.payload).toEqual(PAYLOAD);
  });

  it('reports a corrupted payload byte as bad-checksum with the expected value', () => {
    const bytes = DATAGRAM.slice();
    bytes[19] = 0x08;
    const error = frameErrorOf(() => decodeUdp(bytes, 0, undefined, PSEUDO));
    expect(error.message).toBe('UDP checksum is 0xef4d, expected 0xef4c (offset 6)');
    expect(error.code).toBe('bad-checksum');
  });

  it('accepts a zero checksum over IPv4 and rejects it over IPv6', () => {
    const bytes = DATAGRAM.slice();
    bytes[6] = 0;
    bytes[7] = 0;
    expect(decodeUdp(bytes, 0, undefined, PSEUDO).checksum).toBe(0);
    expect(frameErrorOf(() => decodeUdp(bytes, 0, undefined, pseudoHeader('fd00::1', 'fd00::2'))).code).toBe('bad-checksum');
  });

  it('rejects a length below 8 with bad-length and beyond the data with truncated', () => {
    const short = DATAGRAM.slice();
    short[5] = 7;
    expect(frameErrorOf(() => decodeUdp(short, 0, undefined, null))).toMatchObject({ code: 'bad-length', offset: 4 });
    for (let n = 0; n < DATAGRAM.length; n++) {
      expect(frameErrorOf(() => decodeUdp(boundsChecked(DATAGRAM.slice(0, n)), 0, undefined, null)).code).toBe('truncated');
    }
  });
});
