import { describe, it, expect } from 'vitest';
import { bytesToHex } from './bytes.js';
import { EncodeError } from './errors.js';
import { LINKTYPE_ETHERNET, PcapngWriter } from './pcapng.js';

interface Block {
  readonly type: number;
  readonly body: DataView;
  readonly bytes: Uint8Array;
}

/** A strict little-endian block walker: every block's two length fields must agree and be a multiple of 4. */
function blocks(file: Uint8Array): Block[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: Block[] = [];
  let at = 0;
  while (at < file.length) {
    const type = view.getUint32(at, true);
    const length = view.getUint32(at + 4, true);
    expect(length % 4).toBe(0);
    expect(at + length).toBeLessThanOrEqual(file.length);
    expect(view.getUint32(at + length - 4, true)).toBe(length);
    out.push({ type, body: new DataView(file.buffer, file.byteOffset + at + 8, length - 12), bytes: file.subarray(at, at + length) });
    at += length;
  }
  expect(at).toBe(file.length);
  return out;
}

/** Options after `start` in a block body, as code -> raw values. */
function options(body: DataView, start: number): Map<number, Uint8Array[]> {
  const found = new Map<number, Uint8Array[]>();
  let at = start;
  for (;;) {
    const code = body.getUint16(at, true);
    const length = body.getUint16(at + 2, true);
    if (code === 0) {
      expect(length).toBe(0);
      expect(at + 4).toBe(body.byteLength);
      return found;
    }
    const value = new Uint8Array(body.buffer, body.byteOffset + at + 4, length);
    found.set(code, [...(found.get(code) ?? []), value]);
    at += 4 + ((length + 3) & ~3);
  }
}

const text = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

describe('PcapngWriter', () => {
  it('starts with a section header block of the standard layout', () => {
    const file = new PcapngWriter().toBytes();
    // type, length 28, byte-order magic, version 1.0, section length -1, length again
    expect(bytesToHex(file)).toBe('0a0d0d0a' + '1c000000' + '4d3c2b1a' + '0100' + '0000' + 'ffffffffffffffff' + '1c000000');
  });

  it('describes each interface as Ethernet with its name and nanosecond resolution', () => {
    const writer = new PcapngWriter({ application: 'dpulab' });
    expect(writer.addInterface('host1:vmnic0')).toBe(0);
    expect(writer.addInterface('tor1:p1', { description: 'inbound', snapLength: 9000 })).toBe(1);
    const [shb, first, second] = blocks(writer.toBytes());
    expect(text(options(shb!.body, 16).get(4)?.[0])).toBe('dpulab');
    expect(first!.type).toBe(1);
    expect(first!.body.getUint16(0, true)).toBe(LINKTYPE_ETHERNET);
    expect(first!.body.getUint32(4, true)).toBe(0);
    const opts = options(first!.body, 8);
    expect(text(opts.get(2)?.[0])).toBe('host1:vmnic0');
    expect([...opts.get(9)![0]!]).toEqual([9]);
    expect(second!.body.getUint32(4, true)).toBe(9000);
    expect(text(options(second!.body, 8).get(3)?.[0])).toBe('inbound');
  });

  it('writes enhanced packet blocks with 64-bit nanosecond timestamps and padded data', () => {
    const writer = new PcapngWriter();
    const ifIndex = writer.addInterface('wire');
    const timestamp = 5 * 0x100000000 + 123_456_789; // needs the high word
    const frame = new Uint8Array(61).map((_, i) => i + 1); // not a multiple of 4
    writer.addPacket(ifIndex, timestamp, frame);
    const epb = blocks(writer.toBytes())[2]!;
    expect(epb.type).toBe(6);
    expect(epb.bytes.length).toBe(12 + 20 + 64);
    expect(epb.body.getUint32(0, true)).toBe(0);
    expect(epb.body.getUint32(4, true)).toBe(5);
    expect(epb.body.getUint32(8, true)).toBe(123_456_789);
    expect(epb.body.getUint32(12, true)).toBe(61);
    expect(epb.body.getUint32(16, true)).toBe(61);
    expect(new Uint8Array(epb.body.buffer, epb.body.byteOffset + 20, 61)).toEqual(frame);
    expect([...new Uint8Array(epb.body.buffer, epb.body.byteOffset + 81, 3)]).toEqual([0, 0, 0]);
  });

  it('accepts bigint timestamps and writes comment, direction and original length options', () => {
    const writer = new PcapngWriter();
    writer.addInterface('wire');
    writer.addPacket(0, 0xfedcba9876543210n, new Uint8Array(4), { comment: 'dropped: bad-checksum', direction: 'inbound', originalLength: 1514 });
    const epb = blocks(writer.toBytes())[2]!;
    expect(epb.body.getUint32(4, true)).toBe(0xfedcba98);
    expect(epb.body.getUint32(8, true)).toBe(0x76543210);
    expect(epb.body.getUint32(16, true)).toBe(1514);
    const opts = options(epb.body, 24);
    expect(text(opts.get(1)?.[0])).toBe('dropped: bad-checksum');
    expect(new DataView(opts.get(2)![0]!.slice().buffer).getUint32(0, true)).toBe(1);
  });

  it('refuses unknown interfaces and impossible timestamps', () => {
    const writer = new PcapngWriter();
    expect(() => writer.addPacket(0, 0, new Uint8Array(1))).toThrow(EncodeError);
    writer.addInterface('wire');
    expect(() => writer.addPacket(1, 0, new Uint8Array(1))).toThrow(/ifIndex/);
    expect(() => writer.addPacket(0, -1, new Uint8Array(1))).toThrow(/timestampNs/);
    expect(() => writer.addPacket(0, 1.5, new Uint8Array(1))).toThrow(/timestampNs/);
    expect(() => writer.addPacket(0, 1n << 64n, new Uint8Array(1))).toThrow(/timestampNs/);
  });

  it('drains in chunks that concatenate to the same file', () => {
    const whole = new PcapngWriter();
    const chunked = new PcapngWriter();
    const parts: Uint8Array[] = [];
    for (const writer of [whole, chunked]) writer.addInterface('a');
    parts.push(chunked.drain());
    for (let i = 0; i < 5; i++) {
      for (const writer of [whole, chunked]) writer.addPacket(0, i * 1000, new Uint8Array(i + 1).fill(i));
      if (i % 2 === 0) parts.push(chunked.drain());
    }
    parts.push(chunked.drain());
    expect(chunked.drain().length).toBe(0);
    const joined = parts.reduce((acc, part) => new Uint8Array([...acc, ...part]), new Uint8Array(0));
    expect(bytesToHex(joined)).toBe(bytesToHex(whole.toBytes()));
    expect(whole.toBytes()).toEqual(whole.toBytes());
    expect(blocks(joined).map((b) => b.type)).toEqual([0x0a0d0d0a, 1, 6, 6, 6, 6, 6]);
    expect(whole.packetCount).toBe(5);
    expect(whole.interfaceCount).toBe(1);
  });
});
