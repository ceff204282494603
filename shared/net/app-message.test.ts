import { describe, expect, it } from 'vitest';
import { AppMessageStream, decodeAppHeader, encodeAppMessage } from './app-message.js';

describe('app message', () => {
  it('carries flow id, sequence and length in its header', () => {
    const message = encodeAppMessage('web-db', 70000, 100);
    expect(message.length).toBe(100);
    expect(decodeAppHeader(message)).toEqual({ flow: 'web-db', seq: 70000, length: 100 });
  });

  it('is never shorter than its header', () => {
    expect(encodeAppMessage('web-db', 1, 4).length).toBe(23);
  });

  it('is not recognised when the magic or the id is damaged', () => {
    const message = encodeAppMessage('web-db', 1, 64);
    const badMagic = message.slice();
    badMagic[0] = 0;
    const badId = message.slice();
    badId[18] = 0x41;
    expect(decodeAppHeader(badMagic)).toBeNull();
    expect(decodeAppHeader(badId)).toBeNull();
    expect(decodeAppHeader(message.subarray(0, 20))).toBeNull();
  });
});

describe('AppMessageStream', () => {
  it('finds every message however the stream is cut', () => {
    const stream = new Uint8Array(50 * 300);
    for (let i = 0; i < 50; i++) stream.set(encodeAppMessage('f', i, 300), i * 300);
    for (const piece of [1, 7, 17, 18, 299, 300, 301, 1400]) {
      const parser = new AppMessageStream();
      const seqs: number[] = [];
      for (let at = 0; at < stream.length; at += piece) seqs.push(...parser.push(stream.subarray(at, at + piece)).map((h) => h.seq));
      expect(seqs, `pieces of ${piece}`).toEqual([...Array(50).keys()]);
    }
  });

  it('breaks for good on bytes that are not a message', () => {
    const parser = new AppMessageStream();
    expect(parser.push(new Uint8Array(40).fill(7))).toEqual([]);
    expect(parser.broken).toBe(true);
    expect(parser.push(encodeAppMessage('f', 0, 30))).toEqual([]);
  });
});
