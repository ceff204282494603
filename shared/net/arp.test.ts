import { describe, it, expect } from 'vitest';
import { ARP_REPLY, ARP_REQUEST, decodeArp, encodeArp } from './arp.js';
import { bytesToHex, hexToBytes } from './bytes.js';
import { boundsChecked, frameErrorOf } from './testing.js';

// An ARP request laid out field by field from RFC 826: Ethernet (1), IPv4 (0x0800), lengths 6
// and 4, operation 1, sender 00:1b:21:3a:4b:5c / 192.168.1.10, target unknown / 192.168.1.1.
const REQUEST = hexToBytes('0001 0800 06 04 0001 001b213a4b5c c0a8010a 000000000000 c0a80101');

describe('encodeArp', () => {
  it('produces the RFC 826 layout of a request', () => {
    const bytes = encodeArp({ operation: ARP_REQUEST, senderMac: '00:1b:21:3a:4b:5c', senderIp: '192.168.1.10', targetMac: '00:00:00:00:00:00', targetIp: '192.168.1.1' });
    expect(bytesToHex(bytes)).toBe(bytesToHex(REQUEST));
  });

  it('refuses operations other than request and reply', () => {
    expect(() => encodeArp({ operation: 3, senderMac: '00:1b:21:3a:4b:5c', senderIp: '1.1.1.1', targetMac: '00:00:00:00:00:00', targetIp: '1.1.1.2' })).toThrow(/operation/);
  });
});

describe('decodeArp', () => {
  it('reads a request', () => {
    expect(decodeArp(REQUEST)).toEqual({ operation: ARP_REQUEST, senderMac: '00:1b:21:3a:4b:5c', senderIp: '192.168.1.10', targetMac: '00:00:00:00:00:00', targetIp: '192.168.1.1' });
  });

  it('round-trips a reply and ignores trailing padding', () => {
    const reply = { operation: ARP_REPLY, senderMac: '02:00:00:00:00:02', senderIp: '10.0.0.2', targetMac: '02:00:00:00:00:01', targetIp: '10.0.0.1' };
    const padded = new Uint8Array(46);
    padded.set(encodeArp(reply));
    expect(decodeArp(padded)).toEqual(reply);
  });

  it('rejects non-Ethernet/IPv4 ARP as unsupported and wrong address lengths as bad-length', () => {
    const token = REQUEST.slice();
    token[1] = 6; // IEEE 802 hardware type
    expect(frameErrorOf(() => decodeArp(token)).code).toBe('unsupported');
    const lengths = REQUEST.slice();
    lengths[4] = 8;
    const error = frameErrorOf(() => decodeArp(lengths));
    expect(error.code).toBe('bad-length');
    expect(error.offset).toBe(4);
    const operation = REQUEST.slice();
    operation[7] = 9;
    expect(frameErrorOf(() => decodeArp(operation)).code).toBe('unsupported');
  });

  it('rejects every truncation with truncated', () => {
    for (let n = 0; n < REQUEST.length; n++) {
      expect(frameErrorOf(() => decodeArp(boundsChecked(REQUEST.slice(0, n)))).code).toBe('truncated');
    }
  });
});
