import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { removeTempDirs, tempDir, testEvent, testRunInfo } from '../../processes/controller/log/testing.js';
import { EventLogWriter } from '../../processes/controller/log/writer.js';
import { encode } from '../../shared/codec.js';
import type { RecordedEvent } from '../../shared/events.js';
import { buildArpRequest } from '../../shared/net/builders.js';
import { ApiError } from './errors.js';
import { expandKindPatterns, frameAt, queryEvents } from './log-queries.js';
import { eventsQuerySchema } from '../common/protocol.js';

/** A log of `count` test events, with the events `extra(seq)` returns in place of some. */
function logWith(count: number, extra: (seq: number) => RecordedEvent | null = () => null): EventLogReader {
  const path = join(tempDir(), 'run.db');
  const writer = EventLogWriter.open(path, { dpulabVersion: 'test' });
  writer.beginRun(testRunInfo({ eventKinds: { 'lldp.tx': '', 'lldp.rx': '', 'link.up': '', 'lldpx.other': '', 'frame.tx': '' } }));
  writer.append(Array.from({ length: count }, (_, seq) => extra(seq) ?? testEvent(seq)));
  writer.finishRun({ status: 'completed', endVtime: 1000, exitReason: null });
  writer.close();
  return EventLogReader.open(path);
}

const query = (q: Record<string, unknown>) => eventsQuerySchema.parse(q);

describe('log queries', () => {
  afterEach(() => removeTempDirs());

  it('events query takes a plain kind as itself and everything under it, not a longer word', () => {
    expect(expandKindPatterns(['lldp', 'dfw.*'])).toEqual(['lldp', 'lldp.*', 'dfw.*']);
    const reader = logWith(40);
    try {
      const kinds = new Set(queryEvents(reader, query({ kind: ['lldp'], limit: '100' })).events.map((e) => e.kind));
      expect([...kinds].sort()).toEqual(['lldp.rx', 'lldp.tx']);
    } finally {
      reader.close();
    }
  });

  it('events query desc gives the last matches before the bound, oldest first, and says whether more match', () => {
    const reader = logWith(1000);
    try {
      const page = queryEvents(reader, query({ order: 'desc', to: '900', kind: ['link.up'], limit: '5' }));
      // link.up is every 4th event (seq % 4 === 2): the last five before 900.
      expect(page.events.map((e) => e.seq)).toEqual([882, 886, 890, 894, 898]);
      expect(page.more).toBe(true);
      const all = queryEvents(reader, query({ order: 'desc', to: '10', kind: ['link.up'], limit: '5' }));
      expect(all.events.map((e) => e.seq)).toEqual([2, 6]);
      expect(all.more).toBe(false);
      expect(all.total).toBe(1000);
    } finally {
      reader.close();
    }
  });

  it('events query asc pages forward from a seq and by node and time', () => {
    const reader = logWith(100);
    try {
      const page = queryEvents(reader, query({ from: '10', node: ['tor'], fromNs: '50', limit: '3' }));
      expect(page.events.every((e) => e.node === 'tor' && e.seq >= 15 && e.vtime >= 50)).toBe(true);
      expect(page.events).toHaveLength(3);
      expect(page.more).toBe(true);
    } finally {
      reader.close();
    }
  });

  it('frame query decodes a frame.tx layer by layer and refuses any other event', () => {
    const bytes = buildArpRequest({ srcMac: '02:00:00:00:00:01', senderIp: '10.0.0.1', targetIp: '10.0.0.2' });
    const dma = encode({ op: 'rx', vnic: 'web-01.eth0', mode: 'uptv2', queue: 0, index: 7, gen: 1, frame: bytes });
    const tx = (seq: number, channel: string, carried: Uint8Array): RecordedEvent => ({
      seq,
      vtime: 10,
      node: 'dpu-a',
      kind: 'frame.tx',
      cause: null,
      volatile: null,
      payload: encode({ wire: 'w0', dir: 'a>b', port: 'p0', channel, len: carried.length, txStart: 10, arrival: 510, fate: 'delivered', bytes: carried }),
    });
    const frame = (seq: number): RecordedEvent | null => (seq === 3 ? tx(seq, 'eth', bytes) : seq === 5 ? tx(seq, 'dma', dma) : null);
    const reader = logWith(10, frame);
    try {
      const decoded = frameAt(reader, 3);
      expect(decoded.summary).toBe('02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.0.2 tell 10.0.0.1');
      expect((decoded.decoded as { layers: string[] }).layers).toEqual(['ethernet', 'arp']);
      expect(decoded.bytes.startsWith('ffffffffffff020000000001')).toBe(true);
      expect(decoded).toMatchObject({ wire: 'w0', fate: 'delivered', arrival: 510, error: null, message: null });
      // A dma message on a pcie wire: the message decoded, and the vNIC frame it carries.
      const carried = frameAt(reader, 5);
      expect(carried.message).toMatchObject({ op: 'rx', vnic: 'web-01.eth0', index: 7, gen: 1 });
      expect(carried.frame).toBe(decoded.bytes);
      expect(carried.summary).toBe(decoded.summary);
      expect(() => frameAt(reader, 4)).toThrow(ApiError);
      expect(() => frameAt(reader, 4)).toThrow(/is lldp\.tx, not frame\.tx/);
      expect(() => frameAt(reader, 99)).toThrow(/No event 99/);
    } finally {
      reader.close();
    }
  });
});
