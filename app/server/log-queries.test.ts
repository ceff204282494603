import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { removeTempDirs, tempDir, testEvent, testRunInfo } from '../../processes/controller/log/testing.js';
import { EventLogWriter } from '../../processes/controller/log/writer.js';
import { encode } from '../../shared/codec.js';
import type { RecordedEvent } from '../../shared/events.js';
import { buildArpRequest, buildTcpFrame, buildUdpFrame } from '../../shared/net/builders.js';
import { HEARTBEAT_UDP_PORT } from '../../processes/pcie/heartbeat.js';
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

  it('events query leaves out the kinds notKind names, however many kinds the log has', () => {
    // More kinds than the 50 the query once took: a list of them all would have been refused.
    const reader = logWith(200, (seq) => (seq >= 100 ? { ...testEvent(seq), kind: `many.kind${String(seq - 100)}` } : null));
    try {
      const page = queryEvents(reader, query({ notKind: ['lldp', 'link.up'], limit: '300' }));
      expect(page.events.length).toBeGreaterThan(100);
      expect(page.events.some((e) => e.kind.startsWith('lldp.') || e.kind === 'link.up')).toBe(false);
      expect(page.events.filter((e) => e.kind.startsWith('many.'))).toHaveLength(100);
      const last = queryEvents(reader, query({ notKind: ['many'], order: 'desc', limit: '5' }));
      expect(last.events.every((e) => !e.kind.startsWith('many.') && e.seq < 100)).toBe(true);
      expect(eventsQuerySchema.safeParse({ kind: Array.from({ length: 120 }, (_, i) => `k.k${String(i)}`) }).success).toBe(true);
    } finally {
      reader.close();
    }
  });

  it('events query filters frames by protocol and hides pcie housekeeping when asked', () => {
    const arp = buildArpRequest({ srcMac: '02:00:00:00:00:01', senderIp: '10.0.0.1', targetIp: '10.0.0.2' });
    const heartbeat = buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '169.254.0.1', dstIp: '169.254.0.2', srcPort: HEARTBEAT_UDP_PORT, dstPort: HEARTBEAT_UDP_PORT, payload: new Uint8Array(8) });
    const tcp = buildTcpFrame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.0.0.1', dstIp: '10.0.0.2', srcPort: 40000, dstPort: 5201, seq: 1, flags: { syn: true } });
    const tx = (seq: number, channel: string, carried: Uint8Array): RecordedEvent => ({
      seq,
      vtime: Math.floor(seq / 3) * 10,
      node: 'dpu-a',
      kind: 'frame.tx',
      cause: null,
      volatile: null,
      payload: encode({ wire: 'w0', dir: 'a>b', port: 'p0', channel, len: carried.length, txStart: 10, arrival: 510, fate: 'delivered', bytes: carried }),
    });
    const frames: Record<number, RecordedEvent> = {
      3: tx(3, 'eth', arp),
      5: tx(5, 'mgmt', heartbeat),
      7: tx(7, 'dma', encode({ op: 'tx', vnic: 'web-01.eth0', mode: 'uptv2', queue: 0, index: 1, gen: 1, frame: tcp })),
      9: tx(9, 'dma', encode({ op: 'txcomp', vnic: 'web-01.eth0', queue: 0, index: 1, gen: 1 })),
      11: tx(11, 'doorbell', encode({ vnic: 'web-01.eth0', register: 0x600, value: 2 })),
    };
    const reader = logWith(20, (seq) => frames[seq] ?? null);
    try {
      const protocols = queryEvents(reader, query({ kind: ['frame.tx'], limit: '20' })).events.map((e) => [e.seq, (e.payload as { protocol: string }).protocol, (e.payload as { housekeeping: boolean }).housekeeping]);
      expect(protocols).toEqual([
        [3, 'ARP', false],
        [5, 'heartbeat', true],
        [7, 'TCP', false],
        [9, 'DMA txcomp', true],
        [11, 'doorbell', true],
      ]);
      expect(queryEvents(reader, query({ protocol: ['tcp'], limit: '20' })).events.map((e) => e.seq)).toEqual([7]);
      expect(queryEvents(reader, query({ protocol: ['ARP', 'TCP'], order: 'desc', limit: '1' })).events.map((e) => e.seq)).toEqual([7]);
      const quiet = queryEvents(reader, query({ housekeeping: '0', limit: '20' })).events.map((e) => e.seq);
      expect(quiet).toHaveLength(17);
      expect(quiet).toEqual(expect.arrayContaining([3, 7]));
      expect(quiet.some((seq) => [5, 9, 11].includes(seq))).toBe(false);
    } finally {
      reader.close();
    }
  });
});
