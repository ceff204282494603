import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode } from '../../../shared/codec.js';
import type { RecordedEvent } from '../../../shared/events.js';
import { InvalidEventError } from './errors.js';
import { canonicalEventBytes, EMPTY_FINGERPRINT, Fingerprint } from './fingerprint.js';
import { testEvent, testEvents } from './testing.js';

function fingerprintOf(events: readonly RecordedEvent[]): string {
  const fp = new Fingerprint();
  for (const e of events) fp.update(e);
  return fp.digestHex();
}

describe('canonicalEventBytes', () => {
  it('canonicalEventBytes lays fields out big-endian with length prefixes', () => {
    const bytes = canonicalEventBytes({
      seq: 1,
      vtime: 0x1_0000_0102,
      node: 'ab',
      kind: 'k',
      cause: null,
      payload: new Uint8Array([0xc0]),
      volatile: new Uint8Array([1, 2, 3]),
    });
    expect(Buffer.from(bytes).toString('hex')).toBe(
      [
        '0000000000000001',
        '0000000100000102',
        '0002' + '6162',
        '0001' + '6b',
        'ffffffffffffffff',
        '00000001' + 'c0',
      ].join(''),
    );
  });

  it('canonicalEventBytes encodes a cause as an unsigned seq and node names as UTF-8', () => {
    const bytes = Buffer.from(
      canonicalEventBytes({ seq: 7, vtime: 0, node: 'é', kind: 'x', cause: 6, payload: new Uint8Array(), volatile: null }),
    );
    expect(bytes.subarray(16, 20).toString('hex')).toBe('0002c3a9');
    expect(bytes.subarray(23, 31).toString('hex')).toBe('0000000000000006');
    expect(bytes.subarray(31).toString('hex')).toBe('00000000');
  });

  it('canonicalEventBytes rejects values the encoding cannot hold', () => {
    const base = testEvent(1);
    expect(() => canonicalEventBytes({ ...base, vtime: -1 })).toThrow(InvalidEventError);
    expect(() => canonicalEventBytes({ ...base, seq: 1.5 })).toThrow(InvalidEventError);
    expect(() => canonicalEventBytes({ ...base, node: 'n'.repeat(70_000) })).toThrow(/longer than 65535/);
    expect(() => canonicalEventBytes({ ...base, cause: -2 })).toThrow(InvalidEventError);
  });
});

describe('Fingerprint', () => {
  it('Fingerprint of no events is SHA-256 of nothing', () => {
    expect(new Fingerprint().digestHex()).toBe(createHash('sha256').digest('hex'));
    expect(EMPTY_FINGERPRINT).toBe(new Fingerprint().digestHex());
  });

  it('Fingerprint equals SHA-256 of the concatenated canonical bytes', () => {
    const events = testEvents(0, 50);
    const hash = createHash('sha256');
    for (const e of events) hash.update(canonicalEventBytes(e));
    expect(fingerprintOf(events)).toBe(hash.digest('hex'));
  });

  it('Fingerprint digestHex does not end the stream', () => {
    const fp = new Fingerprint();
    fp.update(testEvent(0));
    const first = fp.digestHex();
    expect(fp.digestHex()).toBe(first);
    fp.update(testEvent(1));
    expect(fp.digestHex()).toBe(fingerprintOf(testEvents(0, 2)));
    expect(fp.events).toBe(2);
  });

  it('Fingerprint clone continues independently', () => {
    const fp = new Fingerprint();
    fp.update(testEvent(0));
    const copy = fp.clone();
    copy.update(testEvent(1));
    expect(fp.digestHex()).toBe(fingerprintOf([testEvent(0)]));
    expect(copy.digestHex()).toBe(fingerprintOf(testEvents(0, 2)));
  });

  it('Fingerprint ignores volatile', () => {
    const events = testEvents(0, 20, true);
    const other = events.map((e) => ({ ...e, volatile: e.seq % 2 === 0 ? null : encode({ pid: 1, host: 'elsewhere' }) }));
    expect(fingerprintOf(other)).toBe(fingerprintOf(events));
  });

  it('Fingerprint changes when any fingerprinted field changes', () => {
    const events = testEvents(0, 20);
    const reference = fingerprintOf(events);
    const changes: Array<(e: RecordedEvent) => RecordedEvent> = [
      (e) => ({ ...e, seq: e.seq + 1 }),
      (e) => ({ ...e, vtime: e.vtime + 1 }),
      (e) => ({ ...e, node: `${e.node}x` }),
      (e) => ({ ...e, kind: `${e.kind}x` }),
      (e) => ({ ...e, cause: null }),
      (e) => ({ ...e, cause: 3 }),
      (e) => ({ ...e, payload: encode({ n: -1 }) }),
      (e) => ({ ...e, payload: new Uint8Array([...e.payload, 0]) }),
    ];
    for (const change of changes) {
      const altered = events.map((e) => (e.seq === 10 ? change(e) : e));
      expect(fingerprintOf(altered)).not.toBe(reference);
    }
  });

  it('Fingerprint separates fields so that shifting bytes between them changes it', () => {
    const a = { ...testEvent(5), node: 'ab', kind: 'c' };
    const b = { ...testEvent(5), node: 'a', kind: 'bc' };
    expect(fingerprintOf([a])).not.toBe(fingerprintOf([b]));
  });
});
