import { describe, it, expect } from 'vitest';
import { bytesEqual, bytesToHex, checkRange, concatBytes, hexToBytes, need, readU16, readU32, utf8Decode, utf8Encode, writeU16, writeU32 } from './bytes.js';
import { EncodeError } from './errors.js';
import { frameErrorOf } from './testing.js';

describe('byte helpers', () => {
  it('read and write big-endian integers including the top bit', () => {
    const bytes = new Uint8Array(6);
    writeU16(bytes, 0, 0xbeef);
    writeU32(bytes, 2, 0xdeadbeef);
    expect(bytesToHex(bytes)).toBe('beefdeadbeef');
    expect(readU16(bytes, 0)).toBe(0xbeef);
    expect(readU32(bytes, 2)).toBe(0xdeadbeef);
  });

  it('convert hex with separators and reject bad hex', () => {
    expect(bytesToHex(hexToBytes('45 00:00-3c'))).toBe('4500003c');
    expect(bytesToHex(hexToBytes('0a0b'), ':')).toBe('0a:0b');
    expect(() => hexToBytes('abc')).toThrow(EncodeError);
    expect(() => hexToBytes('zz')).toThrow(EncodeError);
  });

  it('concatenate and compare', () => {
    expect(bytesEqual(concatBytes(hexToBytes('01'), hexToBytes(''), hexToBytes('0203')), hexToBytes('010203'))).toBe(true);
    expect(bytesEqual(hexToBytes('01'), hexToBytes('02'))).toBe(false);
  });

  it('need reports how much was missing', () => {
    const error = frameErrorOf(() => need(10, 20, 14, 'ipv4', 'IPv4 header'));
    expect(error).toMatchObject({ code: 'truncated', layer: 'ipv4', offset: 10 });
    expect(error.message).toBe('IPv4 header needs 20 bytes, 4 available (offset 10)');
  });

  it('checkRange names the field', () => {
    expect(() => checkRange('vlan.vid', 4096, 0, 4095)).toThrow('Field vlan.vid is 4096, expected an integer from 0 to 4095');
    expect(checkRange('x', 5, 0, 5)).toBe(5);
  });

  it('decodes invalid UTF-8 leniently', () => {
    expect(utf8Decode(utf8Encode('vmnic0 ✓'))).toBe('vmnic0 ✓');
    expect(utf8Decode(new Uint8Array([0x61, 0xff]))).toBe('a\ufffd');
  });
});
