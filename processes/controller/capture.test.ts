import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedEvent } from '../../shared/events.js';
import { concatBytes } from '../../shared/net/bytes.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { CaptureTargetError, PcapngCapture, type CaptureTarget } from './capture.js';
import { EventLogReader } from './log/reader.js';
import { exportVnicPcapng, exportWirePcapng } from './pcap-export.js';
import { runLab } from './session.js';

/** The enhanced packet blocks of a pcapng file: [interface, timestamp ns, comment present]. */
function packets(bytes: Uint8Array): Array<{ ifIndex: number; at: bigint; length: number }> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Array<{ ifIndex: number; at: bigint; length: number }> = [];
  for (let p = 0; p < bytes.length; p += view.getUint32(p + 4, true)) {
    if (view.getUint32(p, true) !== 6) continue;
    out.push({ ifIndex: view.getUint32(p + 8, true), at: (BigInt(view.getUint32(p + 12, true)) << 32n) | BigInt(view.getUint32(p + 16, true)), length: view.getUint32(p + 20, true) });
  }
  return out;
}

describe('PcapngCapture', () => {
  let dir: string;
  let db: string;
  let events: RecordedEvent[];
  let topology: ResolvedTopology;
  let wires: ReturnType<EventLogReader['wires']>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dpulab-capture-'));
    db = join(dir, 'run.db');
    await runLab({ db, mode: 'in-process', untilNs: 1_500_000_000 });
    const reader = EventLogReader.open(db);
    events = [...reader.events()];
    topology = JSON.parse(reader.run().topologyJson) as ResolvedTopology;
    wires = reader.wires();
    reader.close();
  }, 60_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The capture as a live run feeds it: every event (all kinds), in batches of `size`. */
  function streamed(target: CaptureTarget, size: number): Uint8Array {
    const capture = PcapngCapture.open(target, wires, topology, db);
    const parts = [capture.header()];
    for (let i = 0; i < events.length; i += size) parts.push(capture.append(events.slice(i, i + size)));
    parts.push(capture.finish());
    return concatBytes(...parts);
  }

  it('capture streamed in batches gives the same bytes as the export of the finished log', () => {
    const wire = exportWirePcapng(db, 'up-01a-a');
    const vnic = exportVnicPcapng(db, 'web-01.eth0');
    expect(wire.packets).toBeGreaterThan(100);
    expect(vnic.sent + vnic.received).toBeGreaterThan(100);
    for (const size of [1, 7, 5000]) {
      expect(Buffer.from(streamed({ wire: 'up-01a-a' }, size)).equals(Buffer.from(wire.bytes))).toBe(true);
      expect(Buffer.from(streamed({ vnic: 'web-01.eth0' }, size)).equals(Buffer.from(vnic.bytes))).toBe(true);
    }
  });

  it('capture of a vNIC is in time order though received frames are stamped at their arrival', () => {
    const stamps = packets(streamed({ vnic: 'web-01.eth0' }, 50)).map((p) => p.at);
    expect(stamps.length).toBeGreaterThan(100);
    expect(stamps.every((at, i) => i === 0 || at >= stamps[i - 1]!)).toBe(true);
  });

  it('capture left behind by its reader drops whole frames and says so on the next one', () => {
    const capture = PcapngCapture.open({ wire: 'up-01a-a' }, wires, topology, db);
    const header = capture.header();
    const half = Math.floor(events.length / 2);
    expect(capture.append(events.slice(0, half), { drop: true }).length).toBe(0);
    const rest = concatBytes(header, capture.append(events.slice(half)), capture.finish());
    const counts = capture.counts();
    expect(counts.dropped).toBeGreaterThan(0);
    expect(counts.packets + counts.dropped).toBe(exportWirePcapng(db, 'up-01a-a').packets);
    expect(packets(rest)).toHaveLength(counts.packets);
    expect(Buffer.from(rest).toString('latin1')).toContain(`${counts.dropped} frames left out before this one: the reader fell behind`);
  });

  it('capture of a wire or vNIC the run does not have is refused, naming it', () => {
    const refused = (target: CaptureTarget): CaptureTargetError => {
      try {
        PcapngCapture.open(target, wires, topology, 'topology default');
      } catch (error) {
        if (error instanceof CaptureTargetError) return error;
        throw error;
      }
      throw new Error('not refused');
    };
    expect(refused({ wire: 'up-09' })).toMatchObject({ field: 'wire', message: expect.stringMatching(/^No wire up-09 in topology default \(wires: .*up-01a-a/) });
    expect(refused({ vnic: 'web-09.eth0' })).toMatchObject({ field: 'vnic', message: expect.stringMatching(/^No vNIC web-09.eth0 in topology default \(vNICs: app-01.eth0/) });
  });
});
