import { describe, it, expect } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { pseudoHeader } from './checksum.js';
import { decodeIcmpv6, encodeIcmpv6, ndpLinkLayerAddress } from './icmpv6.js';
import type { Icmpv6Message } from './icmpv6.js';
import { boundsChecked, frameErrorOf } from './testing.js';

// ICMPv6 parts of a neighbour solicitation and advertisement tshark dissected with good checksums.
const NS = hexToBytes('8700cdf100000000 fe800000000000000000000000000002 0101a6cd5db0aa28');
const NA = hexToBytes('880054e8e0000000 fe800000000000000000000000000002 0201ceb4ca03ac7a');

describe('encodeIcmpv6', () => {
  it('builds a neighbour solicitation with a source link-layer option', () => {
    const ns = encodeIcmpv6({ kind: 'neighbor-solicitation', target: 'fe80::2', options: [{ kind: 'source-link-layer-address', mac: 'a6:cd:5d:b0:aa:28' }] }, 'fe80::1', 'ff02::1:ff00:2');
    expect(bytesToHex(ns)).toBe(bytesToHex(NS));
  });

  it('builds a neighbour advertisement with R, S and O flags', () => {
    const na = encodeIcmpv6(
      { kind: 'neighbor-advertisement', router: true, solicited: true, override: true, target: 'fe80::2', options: [{ kind: 'target-link-layer-address', mac: 'ce:b4:ca:03:ac:7a' }] },
      'fe80::2',
      'fe80::1',
    );
    expect(bytesToHex(na)).toBe(bytesToHex(NA));
  });
});

describe('decodeIcmpv6', () => {
  it('reads a solicitation and its link-layer address', () => {
    const ns = decodeIcmpv6(NS, 0, undefined, pseudoHeader('fe80::1', 'ff02::1:ff00:2'));
    expect(ns).toMatchObject({ kind: 'neighbor-solicitation', type: 135, target: 'fe80::2' });
    expect(ndpLinkLayerAddress(ns)).toBe('a6:cd:5d:b0:aa:28');
  });

  it('reads an advertisement and its flags', () => {
    const na = decodeIcmpv6(NA, 0, undefined, pseudoHeader('fe80::2', 'fe80::1'));
    expect(na).toMatchObject({ kind: 'neighbor-advertisement', router: true, solicited: true, override: true, target: 'fe80::2' });
    expect(ndpLinkLayerAddress(na)).toBe('ce:b4:ca:03:ac:7a');
  });

  it('round-trips a router advertisement with prefix, MTU and unknown options', () => {
    const message: Icmpv6Message = {
      kind: 'router-advertisement',
      curHopLimit: 64,
      managed: false,
      otherConfig: true,
      routerLifetime: 1800,
      reachableTime: 30000,
      retransTimer: 1000,
      options: [
        { kind: 'source-link-layer-address', mac: '02:00:00:00:00:01' },
        { kind: 'mtu', mtu: 9000 },
        { kind: 'prefix-information', prefixLength: 64, onLink: true, autonomous: true, validLifetime: 86400, preferredLifetime: 14400, prefix: '2001:db8:1::' },
        { kind: 'other', type: 25, data: new Uint8Array(6).fill(7) },
      ],
    };
    const bytes = encodeIcmpv6(message, 'fe80::1', 'ff02::1');
    expect(decodeIcmpv6(bytes, 0, undefined, pseudoHeader('fe80::1', 'ff02::1'))).toMatchObject(message);
  });

  it('round-trips echo and error messages', () => {
    const echo = encodeIcmpv6({ kind: 'echo-reply', identifier: 7, sequence: 9, data: hexToBytes('010203') }, '2001:db8::2', '2001:db8::1');
    expect(decodeIcmpv6(echo, 0, undefined, pseudoHeader('2001:db8::2', '2001:db8::1'))).toMatchObject({ kind: 'echo-reply', type: 129, identifier: 7, sequence: 9 });
    const tooBig = encodeIcmpv6({ kind: 'packet-too-big', code: 0, parameter: 1280, original: new Uint8Array(2000) }, '2001:db8::2', '2001:db8::1');
    expect(tooBig.length).toBe(1240); // with its 40-byte IPv6 header, exactly the 1280-byte minimum MTU
    expect(decodeIcmpv6(tooBig, 0, undefined, null)).toMatchObject({ kind: 'packet-too-big', type: 2, parameter: 1280 });
  });

  it('detects a checksum computed over other addresses', () => {
    const error = frameErrorOf(() => decodeIcmpv6(NS, 0, undefined, pseudoHeader('fe80::9', 'ff02::1:ff00:2')));
    expect(error).toMatchObject({ code: 'bad-checksum', layer: 'icmpv6', offset: 2 });
    expect(error.message).toMatch(/^ICMPv6 checksum is 0xcdf1, expected 0x[0-9a-f]{4} \(offset 2\)$/);
  });

  it('rejects a zero-length option and a non-zero code on neighbour discovery', () => {
    const zero = NS.slice();
    zero[25] = 0;
    expect(frameErrorOf(() => decodeIcmpv6(zero, 0, undefined, null))).toMatchObject({ code: 'bad-length', offset: 25 });
    const code = NS.slice();
    code[1] = 1;
    expect(frameErrorOf(() => decodeIcmpv6(code, 0, undefined, null))).toMatchObject({ code: 'malformed', offset: 1 });
  });

  it('rejects every truncation with truncated except at the option boundary', () => {
    for (let n = 0; n < NS.length; n++) {
      if (n === 24) {
        // The message ends where its options would start: a valid solicitation without options.
        expect(decodeIcmpv6(boundsChecked(NS.slice(0, n)), 0, undefined, null)).toMatchObject({ kind: 'neighbor-solicitation', options: [] });
        continue;
      }
      expect(frameErrorOf(() => decodeIcmpv6(boundsChecked(NS.slice(0, n)), 0, undefined, null)).code, `length ${n}`).toBe('truncated');
    }
  });
});
