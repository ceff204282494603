import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportVnicPcapng, exportWirePcapng } from '../../processes/controller/pcap-export.js';
import { runLab } from '../../processes/controller/session.js';
import { concatBytes } from '../../shared/net/bytes.js';
import type { CaptureQuery } from '../common/protocol.js';
import type { CaptureSink } from './capture-stream.js';
import { ApiError } from './errors.js';
import { ReplaySession } from './replay-session.js';

/** A sink that keeps what it is given; `ended` resolves with it all. */
function memorySink(backlog = 0): CaptureSink & { ended: Promise<Uint8Array>; parts: Uint8Array[] } {
  const parts: Uint8Array[] = [];
  let finish: (bytes: Uint8Array) => void = () => undefined;
  const ended = new Promise<Uint8Array>((resolve) => (finish = resolve));
  return {
    ended,
    parts,
    write: (bytes) => parts.push(bytes),
    backlog: () => backlog,
    drained: async () => undefined,
    end: () => finish(concatBytes(...parts)),
  };
}

describe('capture over a recording', () => {
  let dir: string;
  let db: string;
  let session: ReplaySession;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dpulab-capture-replay-'));
    db = join(dir, 'run.db');
    await runLab({ db, mode: 'in-process', untilNs: 1_500_000_000 });
    session = new ReplaySession(db);
  }, 60_000);

  afterAll(async () => {
    await session.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('capture over a recording streams the whole recording, the same bytes as dpulab pcap, even to a reader that falls behind', async () => {
    const wire = memorySink(1 << 30);
    session.capture({ wire: 'up-01a-a' }, wire);
    const vnic = memorySink();
    session.capture({ vnic: 'web-01.eth0' }, vnic);
    expect(Buffer.from(await wire.ended).equals(Buffer.from(exportWirePcapng(db, 'up-01a-a').bytes))).toBe(true);
    expect(Buffer.from(await vnic.ended).equals(Buffer.from(exportVnicPcapng(db, 'web-01.eth0').bytes))).toBe(true);
  });

  it('capture over a recording refuses an unknown wire or vNIC with a 400 naming the field, writing nothing', () => {
    for (const [query, field] of [[{ wire: 'up-09' }, 'wire'], [{ vnic: 'web-09.eth0' }, 'vnic']] as Array<[CaptureQuery, string]>) {
      const sink = memorySink();
      let refused: unknown = null;
      try {
        session.capture(query, sink);
      } catch (error) {
        refused = error;
      }
      expect(refused).toBeInstanceOf(ApiError);
      expect(refused).toMatchObject({ status: 400, field });
      expect(sink.parts).toEqual([]);
    }
  });
});
