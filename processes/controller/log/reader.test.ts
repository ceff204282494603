import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { decode, encode } from '../../../shared/codec.js';
import type { RecordedEvent } from '../../../shared/events.js';
import { EventLogError, type EventLogErrorCode } from './errors.js';
import { EventLogReader, type EventFilter, type FingerprintVerification } from './reader.js';
import { RandomStream } from '../../../shared/random.js';
import { removeTempDirs, tempDir, TEST_TOPOLOGY, testEvent, testEvents, testRunInfo, writeTestLog } from './testing.js';
import { EventLogWriter } from './writer.js';

afterEach(removeTempDirs);

function withReader<T>(path: string, use: (reader: EventLogReader) => T): T {
  const reader = EventLogReader.open(path);
  try {
    return use(reader);
  } finally {
    reader.close();
  }
}

/** Runs a statement on the log with a writable connection, as someone tampering with it would. */
function tamper(path: string, sql: string, ...params: unknown[]): void {
  const db = new Database(path);
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

/** Opens a log and reads everything in it; returns the error it threw, if any. */
/** Reproducible garbage: the same bytes on every run, so a failure can be replayed. */
function seededBytes(length: number, seed: number): Buffer {
  const random = new RandomStream(seed, 'garbage');
  return Buffer.from(Array.from({ length }, () => random.int(256)));
}

/**
 * Reads all of a log as the UI and replay do, then verifies it: what was thrown, or the
 * verification. Payloads are decoded unless `decodePayloads` is false (damage inside a blob is
 * then left to the fingerprint to find).
 */
function readEverything(path: string, decodePayloads = true): { failure: unknown; verification: FingerprintVerification | null } {
  let verification: FingerprintVerification | null = null;
  try {
    withReader(path, (reader) => {
      reader.run();
      reader.count();
      reader.nodes();
      reader.wires();
      reader.checkpoints();
      for (const e of reader.events()) if (decodePayloads) decode(e.payload);
      verification = reader.verifyFingerprint();
    });
    return { failure: null, verification };
  } catch (err) {
    return { failure: err, verification: null };
  }
}

function expectLogError(err: unknown, codes: readonly EventLogErrorCode[], path: string): void {
  expect(err).toBeInstanceOf(EventLogError);
  const error = err as EventLogError;
  expect(codes).toContain(error.code);
  expect(error.path).toBe(path);
  expect(error.message).toContain(path);
  expect(error.message).toMatch(/^[A-Z]/);
  expect(error.message).not.toMatch(/\.$/);
}

function openError(path: string): unknown {
  try {
    EventLogReader.open(path).close();
    return undefined;
  } catch (err) {
    return err;
  }
}

function seqs(events: Iterable<RecordedEvent>): number[] {
  return [...events].map((e) => e.seq);
}

describe('EventLogReader', () => {
  it('EventLogReader returns events with their payload and volatile parts', () => {
    const path = join(tempDir(), 'run.db');
    const events = testEvents(0, 500);
    events[7] = { ...testEvent(7), volatile: null };
    writeTestLog(path, 500, {}, events);
    withReader(path, (reader) => {
      const read = [...reader.events()];
      expect(read).toHaveLength(500);
      for (const [i, e] of read.entries()) {
        const original = events[i];
        expect(e).toEqual({ ...original, payload: Buffer.from(original?.payload ?? []), volatile: original?.volatile ? Buffer.from(original.volatile) : null });
      }
      expect(decode(read[42]?.payload ?? new Uint8Array())).toEqual({ n: 42, text: 'event 42', list: [42, 84] });
      expect(decode(read[42]?.volatile ?? new Uint8Array())).toEqual({ pid: 1042, wall: 't42' });
      expect(read[7]?.volatile).toBeNull();
      expect(read[0]?.cause).toBeNull();
      expect(reader.count()).toBe(500);
      expect(decode(reader.eventAt(499)?.payload ?? new Uint8Array())).toEqual({ n: 499, text: 'event 499', list: [499, 998] });
      expect(reader.eventAt(500)).toBeUndefined();
    });
  });

  it('EventLogReader returns the run, nodes, wires and event kinds', () => {
    const path = join(tempDir(), 'run.db');
    const writer = EventLogWriter.open(path, { dpulabVersion: '9.9.9' });
    writer.beginRun(testRunInfo({ mode: 'multi-process', zeromqVersion: '6.8.0' }));
    writer.recordWires(TEST_TOPOLOGY.wires);
    writer.recordNode({ id: 'tor', kind: 'switch', incarnation: 0, pid: 123, machine: 'lab1', startedWall: '2025-01-01T00:00:01.000Z' });
    writer.recordNode({ id: 'tor', kind: 'switch', incarnation: 1, pid: 124, machine: 'lab1', startedWall: '2025-01-01T00:00:02.000Z' });
    writer.updateNodeExit({ id: 'tor', incarnation: 0, exitCode: null, exitSignal: 'SIGKILL', exitedWall: '2025-01-01T00:00:01.500Z' });
    writer.append(testEvents(0, 3));
    writer.finishRun({ status: 'failed', endVtime: 77, exitReason: 'node tor crashed', endedWall: '2025-01-01T00:00:03.000Z' });
    writer.close();

    withReader(path, (reader) => {
      const run = reader.run();
      expect(run).toMatchObject({
        id: 'run-1',
        seed: 42,
        mode: 'multi-process',
        topologyName: 'pair',
        topologyFile: 'pair.yaml',
        topologyText: 'name: pair\n',
        scenarioName: 'idle',
        scenarioText: 'steps: []\n',
        untilNs: 1_000_000,
        endVtime: 77,
        events: 3,
        status: 'failed',
        exitReason: 'node tor crashed',
        startedWall: '2025-01-01T00:00:00.000Z',
        endedWall: '2025-01-01T00:00:03.000Z',
      });
      expect(JSON.parse(run.topologyJson)).toEqual(TEST_TOPOLOGY);
      expect(JSON.parse(run.scenarioJson ?? 'null')).toEqual({ steps: [] });
      expect(run.versions).toEqual({ dpulab: '9.9.9', node: process.versions.node, sqlite: expect.any(String), zeromq: '6.8.0' });
      expect(run.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      expect(reader.nodes()).toEqual([
        {
          id: 'tor',
          kind: 'switch',
          incarnation: 0,
          pid: 123,
          machine: 'lab1',
          startedWall: '2025-01-01T00:00:01.000Z',
          exitedWall: '2025-01-01T00:00:01.500Z',
          exitCode: null,
          exitSignal: 'SIGKILL',
        },
        {
          id: 'tor',
          kind: 'switch',
          incarnation: 1,
          pid: 124,
          machine: 'lab1',
          startedWall: '2025-01-01T00:00:02.000Z',
          exitedWall: null,
          exitCode: null,
          exitSignal: null,
        },
      ]);
      expect(reader.wires()).toEqual([
        {
          id: 'w0',
          kind: 'ethernet',
          aNode: 'dpu-a',
          aPort: 'p0',
          bNode: 'tor',
          bPort: 'swp1',
          latencyNs: 500,
          bandwidthBps: 25_000_000_000,
          impairments: JSON.stringify(TEST_TOPOLOGY.wires[0]?.impairments),
        },
      ]);
      expect(reader.eventKinds().map((k) => k.kind)).toEqual(['link.up', 'lldp.rx', 'lldp.tx']);
      expect(reader.meta()).toEqual({ format: 'dpulab-event-log', schema_version: '1', dpulab_version: '9.9.9' });
    });
  });

  it('EventLogReader filters events by kind, prefix, node, time, seq and limit', () => {
    const path = join(tempDir(), 'run.db');
    const events = testEvents(0, 300);
    writeTestLog(path, 300, {}, events);
    const expectFilter = (filter: EventFilter, keep: (e: RecordedEvent) => boolean, limit = Infinity): void => {
      const expected = events.filter(keep).slice(0, limit).map((e) => e.seq);
      withReader(path, (reader) => expect(seqs(reader.events(filter))).toEqual(expected));
    };
    expectFilter({ kinds: ['lldp.tx'] }, (e) => e.kind === 'lldp.tx');
    expectFilter({ kinds: ['lldp.*'] }, (e) => e.kind.startsWith('lldp.'));
    expectFilter({ kinds: ['lldp.*', 'link.up'] }, (e) => e.kind !== 'lldpx.other');
    expectFilter({ kinds: ['lldp'] }, () => false);
    expectFilter({ kinds: [] }, () => false);
    expectFilter({ nodes: ['tor', 'dpu-a'] }, (e) => e.node === 'tor' || e.node === 'dpu-a');
    expectFilter({ fromNs: 100, toNs: 200 }, (e) => e.vtime >= 100 && e.vtime < 200);
    expectFilter({ fromNs: 101 }, (e) => e.vtime >= 101);
    expectFilter({ toNs: 0 }, () => false);
    expectFilter({ fromNs: 5000 }, () => false);
    expectFilter({ fromSeq: 250 }, (e) => e.seq >= 250);
    expectFilter({ fromSeq: 10, toSeq: 20 }, (e) => e.seq >= 10 && e.seq < 20);
    expectFilter({ limit: 5 }, () => true, 5);
    expectFilter({ kinds: ['lldp.*', 'lldp.tx'], nodes: ['tor', 'host-1'], limit: 7 }, (e) => e.kind.startsWith('lldp.') && e.node !== 'dpu-a', 7);
    expectFilter({ nodes: ['tor', 'host-1', 'tor'], fromNs: 500, toNs: 600 }, (e) => e.node !== 'dpu-a' && e.vtime >= 500 && e.vtime < 600);
    expectFilter(
      { kinds: ['link.up'], nodes: ['host-1'], fromNs: 50, fromSeq: 30, limit: 3 },
      (e) => e.kind === 'link.up' && e.node === 'host-1' && e.vtime >= 50 && e.seq >= 30,
      3,
    );
  });

  it('EventLogReader filters a log whose writer died before building its indexes as it filters a finished one', () => {
    const path = join(tempDir(), 'run.db');
    const events = testEvents(0, 300);
    // The writer defers its indexes to the end of the run and is never closed: as if the
    // controller had been killed mid-run.
    const writer = EventLogWriter.open(path, { dpulabVersion: '0.1.0-test', deferIndexes: true });
    try {
      writer.beginRun(testRunInfo());
      writer.append(events);
      writer.flush();
      const indexes = new Database(path, { readonly: true });
      expect(indexes.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_%'").get()).toEqual({ n: 0 });
      indexes.close();
      const expectFilter = (filter: EventFilter, keep: (e: RecordedEvent) => boolean): void => {
        withReader(path, (reader) => expect(seqs(reader.events(filter))).toEqual(events.filter(keep).map((e) => e.seq)));
      };
      expectFilter({ kinds: ['lldp.*', 'link.up'] }, (e) => e.kind !== 'lldpx.other');
      expectFilter({ nodes: ['tor', 'dpu-a'] }, (e) => e.node === 'tor' || e.node === 'dpu-a');
      expectFilter({ fromNs: 100, toNs: 200 }, (e) => e.vtime >= 100 && e.vtime < 200);
      expectFilter({ fromNs: 101 }, (e) => e.vtime >= 101);
      expectFilter({ fromNs: 5000 }, () => false);
      expectFilter({ kinds: ['link.up'], nodes: ['host-1'], fromNs: 50 }, (e) => e.kind === 'link.up' && e.node === 'host-1' && e.vtime >= 50);
    } finally {
      writer.close();
    }
    const after = new Database(path, { readonly: true });
    expect(after.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_%' ORDER BY name").all()).toEqual([
      { name: 'events_kind' },
      { name: 'events_node' },
      { name: 'events_vtime' },
    ]);
    after.close();
  });

  it('EventLogReader treats GLOB characters in a kind prefix literally', () => {
    const path = join(tempDir(), 'run.db');
    const events = [
      { ...testEvent(0), kind: 'a[b].x' },
      { ...testEvent(1), kind: 'ab.x' },
      { ...testEvent(2), kind: 'a?.x' },
    ];
    writeTestLog(path, 3, {}, events);
    withReader(path, (reader) => {
      expect(seqs(reader.events({ kinds: ['a[b].*'] }))).toEqual([0]);
      expect(seqs(reader.events({ kinds: ['a?.*'] }))).toEqual([2]);
    });
  });

  it('EventLogReader rejects a malformed filter', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 3);
    withReader(path, (reader) => {
      expect(() => reader.events({ limit: -1 })).toThrow(RangeError);
      expect(() => reader.events({ fromNs: 1.5 })).toThrow(/fromNs/);
    });
  });

  it('EventLogReader keeps working after a consumer stops iterating early', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 100);
    withReader(path, (reader) => {
      const first = reader.events();
      const second = reader.events();
      expect(first.next().value?.seq).toBe(0);
      expect(second.next().value?.seq).toBe(0);
      for (const e of first) if (e.seq === 10) break;
      const merged = reader.events({ kinds: ['lldp.*', 'link.up'] });
      expect(seqs([merged.next().value, merged.next().value].filter((e) => e !== undefined))).toEqual([0, 1]);
      merged.return?.();
      expect(seqs(reader.events({ limit: 2 }))).toEqual([0, 1]);
      expect(seqs(second)).toHaveLength(99);
    });
  });

  it('EventLogReader follows a run while the writer is still writing', () => {
    const path = join(tempDir(), 'run.db');
    const writer = EventLogWriter.open(path, { dpulabVersion: '0.1.0-test' });
    writer.beginRun(testRunInfo());
    writer.append(testEvents(0, 10));
    writer.flush();
    const reader = EventLogReader.open(path);
    try {
      expect(reader.count()).toBe(10);
      expect(reader.run().status).toBe('running');
      writer.append(testEvents(10, 25));
      expect(reader.count()).toBe(10);
      writer.flush();
      expect(reader.count()).toBe(25);
      writer.finishRun({ status: 'completed', endVtime: 80, exitReason: null });
      expect(reader.verifyFingerprint().ok).toBe(true);
    } finally {
      reader.close();
      writer.close();
    }
  });
});

describe('EventLogReader.verifyFingerprint', () => {
  it('verifyFingerprint accepts an untouched log', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 1000, { checkpointInterval: 100 });
    withReader(path, (reader) => {
      const result = reader.verifyFingerprint();
      expect(result).toEqual({
        ok: true,
        recomputed: reader.run().fingerprint,
        stored: reader.run().fingerprint,
        events: 1000,
        checkpointsChecked: 10,
        checkpointsOk: true,
        verifiedThrough: 1000,
        problems: [],
      });
    });
  });

  it('verifyFingerprint accepts an empty run', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 0);
    withReader(path, (reader) => {
      expect(reader.checkpoints()).toEqual([{ seq: 0, vtime: 0, fingerprint: reader.run().fingerprint }]);
      expect(reader.verifyFingerprint()).toMatchObject({ ok: true, events: 0, checkpointsChecked: 1 });
    });
  });

  /** One alteration of a written log, and what verifyFingerprint must say of it. */
  interface Tampering {
    readonly what: string;
    readonly events: number;
    readonly sql: string;
    readonly value?: Uint8Array;
    readonly firstBad: Readonly<Record<string, unknown>>;
    readonly problem?: RegExp;
  }
  const tamperings: readonly Tampering[] = [
    {
      what: 'an altered payload, naming the first checkpoint range that holds it',
      events: 1000,
      sql: 'UPDATE events SET payload = ? WHERE seq = 250',
      value: encode({ n: 250, text: 'forged', list: [] }),
      firstBad: { fromSeq: 200, toSeq: 300 },
      problem: /Events \[200, 300\) do not match their checkpoint/,
    },
    ...['vtime = vtime + 1', "node = 'intruder'", "kind = 'forged'", 'cause = NULL'].map((change) => ({
      what: `a change of ${change}`,
      events: 300,
      sql: `UPDATE events SET ${change} WHERE seq = 150`,
      firstBad: { fromSeq: 100, toSeq: 200 },
    })),
    {
      what: 'a removed event',
      events: 300,
      sql: 'DELETE FROM events WHERE seq = 120',
      firstBad: { fromSeq: 100, toSeq: 200 },
      problem: /not dense: seq 121 where 120 was expected/,
    },
    { what: 'events missing at the end', events: 250, sql: 'DELETE FROM events WHERE seq >= 240', firstBad: { fromSeq: 200, toSeq: 250, recomputed: null } },
    {
      what: 'an event the encoding cannot hold, instead of throwing',
      events: 300,
      sql: 'UPDATE events SET vtime = -5 WHERE seq = 220',
      firstBad: { fromSeq: 200, toSeq: 300, recomputed: null },
    },
  ];

  it.each(tamperings)('verifyFingerprint detects $what', ({ events, sql, value, firstBad, problem }) => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, events, { checkpointInterval: 100 });
    if (value === undefined) tamper(path, sql);
    else tamper(path, sql, value);
    withReader(path, (reader) => {
      const result = reader.verifyFingerprint();
      expect(result.ok).toBe(false);
      expect(result.recomputed).not.toBe(result.stored);
      expect(result.firstBadCheckpoint).toMatchObject(firstBad);
      if (problem) expect(result.problems.join('\n')).toMatch(problem);
    });
  });

  it('verifyFingerprint ignores a change to the volatile part', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 300, { checkpointInterval: 100 });
    tamper(path, 'UPDATE events SET volatile = ? WHERE seq = 150', encode({ pid: 1, host: 'elsewhere' }));
    tamper(path, 'UPDATE events SET volatile = NULL WHERE seq = 151');
    withReader(path, (reader) => expect(reader.verifyFingerprint().ok).toBe(true));
  });

  it('verifyFingerprint detects an added event and a forged run fingerprint', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 250, { checkpointInterval: 100 });
    tamper(path, "INSERT INTO events VALUES (250, 9999, 'tor', 'link.up', NULL, x'c0', NULL)");
    withReader(path, (reader) => {
      const result = reader.verifyFingerprint();
      expect(result.ok).toBe(false);
      expect(result.firstBadCheckpoint).toBeUndefined();
      expect(result.problems.join('\n')).toMatch(/says it has 250 events, the log holds 251/);
    });
    tamper(path, 'DELETE FROM events WHERE seq = 250');
    tamper(path, "UPDATE runs SET fingerprint = '00'");
    withReader(path, (reader) => {
      expect(reader.verifyFingerprint().problems).toEqual(['The recomputed fingerprint differs from the run fingerprint']);
    });
  });

  it('verifyFingerprint checks the checkpoints of a run that never finished', () => {
    const path = join(tempDir(), 'run.db');
    const writer = EventLogWriter.open(path, { dpulabVersion: '0.1.0-test', checkpointInterval: 10 });
    writer.beginRun(testRunInfo());
    writer.append(testEvents(0, 35));
    writer.close();
    withReader(path, (reader) => {
      const result = reader.verifyFingerprint();
      expect(result).toMatchObject({ ok: false, stored: null, events: 35, checkpointsChecked: 3 });
      expect(result.firstBadCheckpoint).toBeUndefined();
      expect(result.problems).toEqual(['The run has no fingerprint: it never finished (status crashed)']);
    });
  });
});

describe('EventLogReader.open', () => {
  it('EventLogReader.open names a missing path', () => {
    const path = join(tempDir(), 'missing.db');
    const err = openError(path);
    expectLogError(err, ['not-found'], path);
    expect((err as Error).message).toBe(`Event log not found: ${path}`);
  });

  it('EventLogReader.open rejects a file of random bytes as not-sqlite', () => {
    const dir = tempDir();
    const path = join(dir, 'random.db');
    writeFileSync(path, seededBytes(64 * 1024, 1));
    const err = openError(path);
    expectLogError(err, ['not-sqlite'], path);
    expect((err as Error).message).toBe(`Not a SQLite database: ${path}`);
    const tiny = join(dir, 'tiny.db');
    writeFileSync(tiny, 'SQLite');
    expectLogError(openError(tiny), ['not-sqlite'], tiny);
    expectLogError(openError(dir), ['not-sqlite'], dir);
  });

  it('EventLogReader.open rejects random bytes behind a SQLite magic as not-sqlite or corrupt', () => {
    const path = join(tempDir(), 'fake.db');
    writeFileSync(path, Buffer.concat([Buffer.from('SQLite format 3\0'), seededBytes(8192, 2)]));
    expectLogError(readEverything(path).failure, ['not-sqlite', 'corrupt'], path);
  });

  it('EventLogReader.open rejects a SQLite database without our meta as not-dpulab', () => {
    const dir = tempDir();
    const path = join(dir, 'other.db');
    const db = new Database(path);
    db.exec('CREATE TABLE things (x)');
    db.close();
    const err = openError(path);
    expectLogError(err, ['not-dpulab'], path);
    expect((err as Error).message).toBe(`Not a dpulab event log: ${path} (no meta table)`);

    tamper(path, 'CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)');
    tamper(path, "INSERT INTO meta VALUES ('format', 'something-else')");
    expect((openError(path) as Error).message).toBe(`Not a dpulab event log: ${path} (format is something-else)`);

    const empty = join(dir, 'empty.db');
    writeFileSync(empty, '');
    expectLogError(openError(empty), ['not-dpulab'], empty);
  });

  it('EventLogReader.open rejects an unknown schema version', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 3);
    tamper(path, "UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    const err = openError(path);
    expectLogError(err, ['unsupported-version'], path);
    expect((err as Error).message).toMatch(/^Unsupported event log schema version 2: .* \(this dpulab reads version 1\)$/);
  });

  it('EventLogReader.open rejects a log without a table or without its run as incomplete', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 3);
    tamper(path, 'DROP TABLE snapshots');
    expect((openError(path) as Error).message).toBe(`Event log is incomplete: ${path} (missing tables: snapshots)`);

    const fresh = join(tempDir(), 'fresh.db');
    EventLogWriter.open(fresh, { dpulabVersion: '0.1.0-test' }).close();
    const err = openError(fresh);
    expectLogError(err, ['incomplete'], fresh);
    expect((err as Error).message).toBe(`Event log is incomplete: ${fresh} (no run recorded)`);
  });

  it('EventLogReader.open rejects a log cut in half with an EventLogError', () => {
    const dir = tempDir();
    const path = join(dir, 'run.db');
    writeTestLog(path, 20_000);
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = readFileSync(path);
    const half = join(dir, 'half.db');
    writeFileSync(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const err = readEverything(half).failure;
    expectLogError(err, ['not-sqlite', 'corrupt', 'incomplete'], half);
    expect((err as Error).message).toMatch(/^Event log is truncated: .* \(\d+ bytes, its header says \d+\)$/);
  });

  it('EventLogReader gives an EventLogError for a truncated log whose header size is not trusted', () => {
    const dir = tempDir();
    const path = join(dir, 'run.db');
    writeTestLog(path, 20_000);
    const bytes = Buffer.from(readFileSync(path));
    // Make "version-valid-for" differ from the change counter: SQLite then sizes the file itself.
    bytes.writeUInt32BE(bytes.readUInt32BE(24) + 1, 92);
    const half = join(dir, 'half.db');
    writeFileSync(half, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expectLogError(readEverything(half).failure, ['corrupt', 'incomplete'], half);
  });

  it('EventLogReader never lets damaged pages pass unnoticed', () => {
    // Damage lands anywhere: in page structure SQLite notices (a corrupt error), or only inside
    // event blobs SQLite cannot check (then the fingerprint no longer matches). Seeded, so a
    // failure reproduces.
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const dir = tempDir();
      const path = join(dir, 'run.db');
      writeTestLog(path, 20_000);
      const size = readFileSync(path).length;
      const random = new RandomStream(seed, 'damage');
      const damage = Buffer.from(Array.from({ length: Math.floor(size / 2) }, () => random.int(256)));
      const fd = openSync(path, 'r+');
      try {
        writeSync(fd, damage, 0, damage.length, Math.floor(size / 4));
      } finally {
        closeSync(fd);
      }
      const { failure, verification } = readEverything(path, false);
      if (failure !== null) expectLogError(failure, ['corrupt', 'incomplete'], path);
      else expect(verification?.ok, `seed ${seed}`).toBe(false);
    }
  }, 30_000);

  it('EventLogReader.check reports a healthy log as ok', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 100);
    withReader(path, (reader) => expect(reader.check()).toEqual({ ok: true, problems: [] }));
  });
});
