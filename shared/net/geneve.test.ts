import { describe, it, expect } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { EncodeError } from './errors.js';
import { decodeGeneve, encodeGeneve } from './geneve.js';
import { boundsChecked, frameErrorOf } from './testing.js';

describe('encodeGeneve', () => {
  it('lays out the base header and a TLV option per RFC 8926', () => {
    const bytes = encodeGeneve({ vni: 0x123456, options: [{ optionClass: 0x0102, type: 0x80, data: hexToBytes('deadbeef') }], payload: hexToBytes('aa') });
    // Ver 0, opt len 2 words | O=0, C=1 (a critical option) | 0x6558 | VNI | reserved
    // option: class 0x0102, type 0x80, length 1 word, data
    expect(bytesToHex(bytes)).toBe('02' + '40' + '6558' + '123456' + '00' + '0102' + '80' + '01' + 'deadbeef' + 'aa');
  });

  it('sets O when asked and leaves C clear without critical options', () => {
    const bytes = encodeGeneve({ vni: 1, oam: true, payload: new Uint8Array(0) });
    expect(bytesToHex(bytes)).toBe('0080655800000100');
  });

  it('refuses option data that is not whole words, too long, or a VNI over 24 bits', () => {
    expect(() => encodeGeneve({ vni: 1, options: [{ optionClass: 1, type: 1, data: new Uint8Array(3) }], payload: new Uint8Array(0) })).toThrow(EncodeError);
    expect(() => encodeGeneve({ vni: 1, options: [{ optionClass: 1, type: 1, data: new Uint8Array(128) }], payload: new Uint8Array(0) })).toThrow(/at most 124/);
    expect(() => encodeGeneve({ vni: 0x1000000, payload: new Uint8Array(0) })).toThrow(/vni/);
  });
});

describe('decodeGeneve', () => {
  it('round-trips header fields and options', () => {
    const options = [
      { optionClass: 0x0104, type: 0x01, data: hexToBytes('0000002a') },
      { optionClass: 0xffff, type: 0x7f, data: new Uint8Array(0) },
    ];
    const bytes = encodeGeneve({ vni: 0xabcdef, options, protocolType: 0x0800, payload: hexToBytes('4500') });
    const geneve = decodeGeneve(bytes);
    expect(geneve).toMatchObject({ version: 0, optionsLength: 12, oam: false, critical: false, protocolType: 0x0800, vni: 0xabcdef, headerLength: 20, payloadOffset: 20, options });
    expect(bytesToHex(geneve.payload)).toBe('4500');
  });

  it('rejects version 1 with bad-version', () => {
    const bytes = encodeGeneve({ vni: 1, payload: new Uint8Array(0) });
    bytes[0] = 0x40;
    expect(frameErrorOf(() => decodeGeneve(bytes))).toMatchObject({ code: 'bad-version', layer: 'geneve', offset: 0 });
  });

  it('rejects an option that runs past the option area with bad-length', () => {
    const bytes = encodeGeneve({ vni: 1, options: [{ optionClass: 1, type: 1, data: new Uint8Array(4) }], payload: new Uint8Array(8) });
    bytes[11] = 2; // the option now claims 8 data bytes, but the area holds 4
    expect(frameErrorOf(() => decodeGeneve(bytes))).toMatchObject({ code: 'bad-length', offset: 11 });
  });

  it('rejects every truncation of the header with truncated', () => {
    const bytes = encodeGeneve({ vni: 1, options: [{ optionClass: 1, type: 1, data: new Uint8Array(8) }], payload: new Uint8Array(0) });
    for (let n = 0; n < bytes.length; n++) {
      expect(frameErrorOf(() => decodeGeneve(boundsChecked(bytes.slice(0, n)))).code).toBe('truncated');
    }
  });
});
