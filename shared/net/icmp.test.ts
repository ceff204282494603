import { describe, it, expect } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { decodeIcmp, encodeIcmp, ICMP_MAX_QUOTED_LENGTH, ICMP_UNREACHABLE_FRAGMENTATION_NEEDED } from './icmp.js';
import { boundsChecked, frameErrorOf } from './testing.js';

// The ICMP part of a ping that tshark dissected with a correct checksum: id 0x1234, seq 1, data 0..55.
const ECHO_DATA = new Uint8Array(56).map((_, i) => i);
const ECHO = hexToBytes('0800eeb712340001' + bytesToHex(ECHO_DATA));

describe('encodeIcmp', () => {
  it('builds an echo request with the checksum tshark accepts', () => {
    expect(bytesToHex(encodeIcmp({ kind: 'echo-request', identifier: 0x1234, sequence: 1, data: ECHO_DATA }))).toBe(bytesToHex(ECHO));
  });

  it('quotes at most 548 bytes of the offending packet and carries the next-hop MTU', () => {
    const message = encodeIcmp({ kind: 'destination-unreachable', code: ICMP_UNREACHABLE_FRAGMENTATION_NEEDED, nextHopMtu: 1400, original: new Uint8Array(1500).fill(0x45) });
    expect(message.length).toBe(8 + ICMP_MAX_QUOTED_LENGTH);
    expect(bytesToHex(message.subarray(0, 2))).toBe('0304');
    expect(bytesToHex(message.subarray(4, 8))).toBe('00000578');
  });
});

describe('decodeIcmp', () => {
  it('reads an echo request', () => {
    const icmp = decodeIcmp(ECHO);
    expect(icmp).toMatchObject({ kind: 'echo-request', type: 8, code: 0, checksum: 0xeeb7, identifier: 0x1234, sequence: 1 });
    if (icmp.kind === 'echo-request') expect(icmp.data).toEqual(ECHO_DATA);
  });

  it('round-trips unreachable, time exceeded and unknown types', () => {
    const original = hexToBytes('4500001c000000004011');
    const unreachable = decodeIcmp(encodeIcmp({ kind: 'destination-unreachable', code: 13, nextHopMtu: 0, original }));
    expect(unreachable).toMatchObject({ kind: 'destination-unreachable', type: 3, code: 13, nextHopMtu: 0, original });
    expect(decodeIcmp(encodeIcmp({ kind: 'time-exceeded', code: 0, original }))).toMatchObject({ kind: 'time-exceeded', type: 11, original });
    expect(decodeIcmp(encodeIcmp({ kind: 'other', type: 13, code: 0, rest: 0xdeadbeef, body: hexToBytes('01') }))).toMatchObject({ kind: 'other', type: 13, rest: 0xdeadbeef });
  });

  it('reports a corrupted body as a checksum error at the checksum field', () => {
    const bytes = ECHO.slice();
    bytes[30]! ^= 0x01;
    const error = frameErrorOf(() => decodeIcmp(bytes));
    expect(error).toMatchObject({ code: 'bad-checksum', layer: 'icmp', offset: 2 });
    expect(error.message).toMatch(/^ICMP checksum is 0xeeb7, expected 0x[0-9a-f]{4} \(offset 2\)$/);
    expect(decodeIcmp(bytes, 0, undefined, { verifyChecksum: false }).kind).toBe('echo-request');
  });

  it('rejects a message shorter than its header with truncated', () => {
    for (let n = 0; n < 8; n++) expect(frameErrorOf(() => decodeIcmp(boundsChecked(ECHO.slice(0, n)))).code).toBe('truncated');
  });
});
