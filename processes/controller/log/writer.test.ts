import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encode } from '../../../shared/codec.js';
import { EventLogWriteError, InvalidEventError } from './errors.js';
import { Fingerprint } from './fingerprint.js';
import { EventLogLock, lockPathOf } from './lock.js';
import { EventLogReader } from './reader.js';
import { LOG_FORMAT, REQUIRED_TABLES } from './schema.js';
import { removeTempDirs, tempDir, testEvent, testEvents, testRunInfo, writeTestLog } from './testing.js';
import { EventLogWriter } from './writer.js';

afterEach(removeTempDirs);

function openWriter(path: string, options: { batchSize?: number; checkpointInterval?: number; overwrite?: boolean } = {}): EventLogWriter {
  return EventLogWriter.open(path, { dpulabVersion: '0.1.0-test', ...options });
}

function query<T>(path: string, sql: string): T[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe('EventLogWriter', () => {
  it('EventLogWriter creates every table and the meta rows', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 10);
    const tables = query<{ name: string }>(path, "SELECT name FROM sqlite_master WHERE type = 'table'").map((r) => r.name);
    expect(tables.sort()).toEqual([...REQUIRED_TABLES].sort());
    const meta = Object.fromEntries(query<{ key: string; value: string }>(path, 'SELECT key, value FROM meta').map((r) => [r.key, r.value]));
    expect(meta).toEqual({ format: LOG_FORMAT, schema_version: '1', dpulab_version: '0.1.0-test' });
  });

  it('EventLogWriter writes in WAL mode and leaves a self-contained file when closed', () => {
    const path = join(tempDir(), 'run.db');
    const writer = openWriter(path);
    writer.beginRun(testRunInfo());
    expect(query<{ journal_mode: string }>(path, 'PRAGMA journal_mode')[0]?.journal_mode).toBe('wal');
    writer.append(testEvents(0, 5));
    writer.finishRun({ status: 'completed', endVtime: 100, exitReason: null });
    writer.close();
    writer.close();
    expect(query<{ journal_mode: string }>(path, 'PRAGMA journal_mode')[0]?.journal_mode).toBe('delete');
    expect(query<{ n: number }>(path, 'SELECT count(*) AS n FROM events')[0]?.n).toBe(5);
  });

  it('EventLogWriter stores integers as INTEGER and blobs as BLOB', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 3);
    const types = query<Record<string, string>>(
      path,
      'SELECT typeof(seq) s, typeof(vtime) v, typeof(cause) c, typeof(payload) p, typeof(volatile) vo FROM events WHERE seq = 2',
    );
    expect(types).toEqual([{ s: 'integer', v: 'integer', c: 'integer', p: 'blob', vo: 'blob' }]);
  });

  it('EventLogWriter refuses to overwrite an existing event log unless told to', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 10);
    expect(() => openWriter(path)).toThrow(expect.objectContaining({ code: 'exists' }));
    expect(query<{ n: number }>(path, 'SELECT count(*) AS n FROM events')[0]?.n).toBe(10);
    writeTestLog(path, 4, { overwrite: true });
    expect(query<{ n: number }>(path, 'SELECT count(*) AS n FROM events')[0]?.n).toBe(4);
  });

  it('EventLogWriter never touches a file that is not an event log', () => {
    const dir = tempDir();
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'important notes\n');
    expect(() => openWriter(text, { overwrite: true })).toThrow(expect.objectContaining({ code: 'foreign-file' }));
    expect(readFileSync(text, 'utf8')).toBe('important notes\n');

    const other = join(dir, 'other.db');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(() => openWriter(other, { overwrite: true })).toThrow(expect.objectContaining({ code: 'foreign-file' }));
    expect(query<{ name: string }>(other, "SELECT name FROM sqlite_master WHERE type = 'table'")).toEqual([{ name: 't' }]);

    expect(() => openWriter(dir)).toThrow(EventLogWriteError);
  });

  it('EventLogWriter rejects bad options before creating anything', () => {
    const path = join(tempDir(), 'run.db');
    expect(() => openWriter(path, { batchSize: 0 })).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
    expect(() => openWriter(path, { checkpointInterval: 2.5 })).toThrow(/Checkpoint interval/);
    expect(existsSync(path)).toBe(false);
  });

  it('EventLogWriter accepts an empty file as a new log', () => {
    const path = join(tempDir(), 'run.db');
    writeFileSync(path, '');
    writeTestLog(path, 2);
    expect(query<{ n: number }>(path, 'SELECT count(*) AS n FROM events')[0]?.n).toBe(2);
  });

  it('EventLogWriter rejects a seq gap and keeps none of that call', () => {
    const path = join(tempDir(), 'run.db');
    const writer = openWriter(path);
    writer.beginRun(testRunInfo());
    expect(() => writer.append([testEvent(1)])).toThrow(expect.objectContaining({ code: 'seq-not-dense' }));
    writer.append(testEvents(0, 3));
    expect(() => writer.append([testEvent(3), testEvent(5)])).toThrow(/Event seq 5 is not the next one: expected 4/);
    expect(() => writer.append([testEvent(2)])).toThrow(EventLogWriteError);
    expect(writer.eventCount).toBe(3);
    writer.append([testEvent(3)]);
    writer.finishRun({ status: 'completed', endVtime: 10, exitReason: null });
    writer.close();
    expect(query<{ seq: number }>(path, 'SELECT seq FROM events ORDER BY seq').map((r) => r.seq)).toEqual([0, 1, 2, 3]);
  });

  it('EventLogWriter rejects vtime going backwards and malformed events', () => {
    const writer = openWriter(join(tempDir(), 'run.db'));
    writer.beginRun(testRunInfo());
    writer.append([{ ...testEvent(0), vtime: 50 }]);
    expect(() => writer.append([{ ...testEvent(1), vtime: 49 }])).toThrow(expect.objectContaining({ code: 'vtime-backwards' }));
    expect(() => writer.append([{ ...testEvent(1), vtime: 60, cause: 1 }])).toThrow(InvalidEventError);
    expect(() => writer.append([{ ...testEvent(1), vtime: 60, node: '' }])).toThrow(InvalidEventError);
    expect(() => writer.append([{ ...testEvent(1), vtime: 60.5 }])).toThrow(InvalidEventError);
    expect(writer.eventCount).toBe(1);
    writer.close();
  });

  it('EventLogWriter enforces the call order', () => {
    const writer = openWriter(join(tempDir(), 'run.db'));
    expect(() => writer.append(testEvents(0, 1))).toThrow(expect.objectContaining({ code: 'bad-state' }));
    writer.beginRun(testRunInfo());
    expect(() => writer.beginRun(testRunInfo())).toThrow(expect.objectContaining({ code: 'bad-state' }));
    writer.recordNode({ id: 'tor', kind: 'switch', incarnation: 0, pid: 10, machine: 'box' });
    writer.finishRun({ status: 'interrupted', endVtime: 0, exitReason: 'SIGINT' });
    expect(() => writer.append(testEvents(0, 1))).toThrow(expect.objectContaining({ code: 'bad-state' }));
    writer.updateNodeExit({ id: 'tor', incarnation: 0, exitCode: 0, exitSignal: null });
    expect(() => writer.updateNodeExit({ id: 'nope', incarnation: 0, exitCode: 0, exitSignal: null })).toThrow(/node nope/);
    writer.close();
    expect(() => writer.flush()).toThrow(expect.objectContaining({ code: 'bad-state' }));
  });

  it('EventLogWriter commits 100k events in few transactions', () => {
    const path = join(tempDir(), 'run.db');
    const writer = openWriter(path);
    writer.beginRun(testRunInfo());
    const before = writer.stats.commits;
    for (let from = 0; from < 100_000; from += 1000) writer.append(testEvents(from, from + 1000, false));
    expect(writer.stats.written).toBe(Math.floor(100_000 / 4096) * 4096);
    writer.flush();
    const commits = writer.stats.commits - before;
    expect(commits).toBe(Math.ceil(100_000 / 4096));
    expect(writer.stats.written).toBe(100_000);
    writer.finishRun({ status: 'completed', endVtime: 400_000, exitReason: null });
    writer.close();
    expect(query<{ n: number }>(path, 'SELECT count(*) AS n FROM events')[0]?.n).toBe(100_000);
  });

  it('EventLogWriter flush with nothing buffered commits nothing', () => {
    const writer = openWriter(join(tempDir(), 'run.db'));
    writer.beginRun(testRunInfo());
    const before = writer.stats.commits;
    writer.flush();
    writer.flush();
    expect(writer.stats.commits).toBe(before);
    writer.close();
  });

  it('EventLogWriter writes a checkpoint every interval and one at the end', () => {
    const path = join(tempDir(), 'run.db');
    const events = testEvents(0, 250);
    const stats = writeTestLog(path, 250, { checkpointInterval: 100, batchSize: 64 });
    expect(stats.checkpoints).toBe(3);
    const rows = query<{ seq: number; vtime: number; fingerprint: string }>(path, 'SELECT * FROM checkpoints ORDER BY seq');
    expect(rows.map((r) => r.seq)).toEqual([100, 200, 250]);
    const fp = new Fingerprint();
    for (const [i, e] of events.entries()) {
      fp.update(e);
      const row = rows.find((r) => r.seq === i + 1);
      if (row !== undefined) {
        expect(row.fingerprint).toBe(fp.digestHex());
        expect(row.vtime).toBe(e.vtime);
      }
    }
    const run = query<{ fingerprint: string; events: number; status: string }>(path, 'SELECT fingerprint, events, status FROM runs');
    expect(run).toEqual([{ fingerprint: fp.digestHex(), events: 250, status: 'completed' }]);
  });

  it('EventLogWriter writes no extra checkpoint when the last interval covers every event', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 200, { checkpointInterval: 100 });
    expect(query<{ seq: number }>(path, 'SELECT seq FROM checkpoints ORDER BY seq').map((r) => r.seq)).toEqual([100, 200]);
  });

  it('EventLogWriter stores the same fingerprint for the same events whatever their volatile part', () => {
    const dir = tempDir();
    const a = join(dir, 'a.db');
    const b = join(dir, 'b.db');
    writeTestLog(a, 300, { batchSize: 7, checkpointInterval: 50 });
    const events = testEvents(0, 300).map((e) => ({ ...e, volatile: encode({ pid: 99, host: 'other' }) }));
    writeTestLog(b, 300, { batchSize: 1000, checkpointInterval: 50 }, events);
    const fpA = query<{ fingerprint: string }>(a, 'SELECT fingerprint FROM runs');
    const fpB = query<{ fingerprint: string }>(b, 'SELECT fingerprint FROM runs');
    expect(fpA).toEqual(fpB);
    expect(query(a, 'SELECT * FROM checkpoints')).toEqual(query(b, 'SELECT * FROM checkpoints'));
  });

  it('EventLogWriter registers event kinds and adds unregistered ones without a description', () => {
    const path = join(tempDir(), 'run.db');
    writeTestLog(path, 8);
    const kinds = query<{ kind: string; description: string | null }>(path, 'SELECT kind, description FROM event_kinds ORDER BY kind');
    expect(kinds).toEqual([
      { kind: 'link.up', description: 'A link came up' },
      { kind: 'lldp.rx', description: 'An LLDP frame was received' },
      { kind: 'lldp.tx', description: 'An LLDP frame was sent' },
      { kind: 'lldpx.other', description: null },
    ]);
  });

  it('EventLogWriter with deferred indexes builds them when the run finishes, and writes the same log', () => {
    const dir = tempDir();
    const indexes = (path: string): string[] =>
      query<{ name: string }>(path, "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_%' ORDER BY name").map((r) => r.name);
    const fingerprints: string[] = [];
    for (const deferIndexes of [false, true]) {
      const path = join(dir, `${String(deferIndexes)}.db`);
      const writer = EventLogWriter.open(path, { dpulabVersion: '0.1.0-test', deferIndexes });
      writer.beginRun(testRunInfo());
      writer.append(testEvents(0, 50));
      writer.flush();
      expect(indexes(path)).toEqual(deferIndexes ? [] : ['events_kind', 'events_node', 'events_vtime']);
      fingerprints.push(writer.finishRun({ status: 'completed', endVtime: 1000, exitReason: null }));
      writer.close();
      expect(indexes(path)).toEqual(['events_kind', 'events_node', 'events_vtime']);
    }
    expect(fingerprints[1]).toBe(fingerprints[0]);
  });

  it('EventLogWriter close commits buffered events of an unfinished run and leaves it running (stored)', () => {
    const path = join(tempDir(), 'run.db');
    const writer = openWriter(path, { checkpointInterval: 10 });
    writer.beginRun(testRunInfo());
    writer.append(testEvents(0, 25));
    writer.close();
    expect(query<{ n: number }>(path, 'SELECT count(*) AS n FROM events')[0]?.n).toBe(25);
    expect(query(path, 'SELECT status, fingerprint, events FROM runs')).toEqual([{ status: 'running', fingerprint: null, events: 0 }]);
    expect(query<{ seq: number }>(path, 'SELECT seq FROM checkpoints').map((r) => r.seq)).toEqual([10, 20]);
  });

  it('EventLogWriter refuses a second writer of the same log, even with overwrite, naming the holder', () => {
    const path = join(tempDir(), 'run.db');
    const first = openWriter(path);
    first.beginRun(testRunInfo());
    first.append(testEvents(0, 30));
    first.flush();
    for (const overwrite of [false, true]) {
      let error: unknown;
      try {
        openWriter(path, { overwrite });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(EventLogWriteError);
      expect((error as EventLogWriteError).code).toBe('locked');
      expect((error as Error).message).toContain(`pid ${String(process.pid)}`);
    }
    expect(EventLogLock.holder(path)).toMatchObject({ pid: process.pid });
    // The first run goes on, and nothing of it was lost.
    first.append(testEvents(30, 40));
    first.finishRun({ status: 'completed', endVtime: 200, exitReason: null });
    first.close();
    expect(query<{ n: number }>(path, 'SELECT count(*) AS n FROM events')[0]?.n).toBe(40);
  });

  it('EventLogWriter lets the log go when closed: no lock file left, the next writer may take it', () => {
    const dir = tempDir();
    const path = join(dir, 'run.db');
    writeTestLog(path, 5);
    expect(readdirSync(dir)).toEqual(['run.db']);
    expect(EventLogLock.holder(path)).toBeNull();
    writeTestLog(path, 3, { overwrite: true });
    expect(existsSync(lockPathOf(path))).toBe(false);
  });

  it('EventLogWriter folds the WAL into the database file at each checkpoint, so the file alone reads up to it', () => {
    const dir = tempDir();
    const path = join(dir, 'run.db');
    const writer = openWriter(path, { checkpointInterval: 100, batchSize: 64 });
    writer.beginRun(testRunInfo());
    writer.append(testEvents(0, 250));
    writer.flush();
    expect(writer.stats.walCheckpoints).toBeGreaterThanOrEqual(3);
    // What a crash leaves, copied without its -wal: the run is there, up to the last checkpoint.
    const copy = join(tempDir(), 'copy.db');
    copyFileSync(path, copy);
    const reader = EventLogReader.open(copy);
    try {
      expect(reader.count()).toBeGreaterThanOrEqual(200);
      expect(reader.run().status).toBe('crashed');
      const verification = reader.verifyFingerprint();
      expect(verification.firstBadCheckpoint).toBeUndefined();
      expect(verification.checkpointsChecked).toBeGreaterThanOrEqual(2);
    } finally {
      reader.close();
      writer.close();
    }
  });

  it('EventLogReader reports a run as running while its writer holds the log, crashed once nobody does', () => {
    const path = join(tempDir(), 'run.db');
    const writer = openWriter(path);
    writer.beginRun(testRunInfo());
    writer.flush();
    const reader = EventLogReader.open(path);
    try {
      expect(reader.run().status).toBe('running');
      writer.close();
      expect(reader.run().status).toBe('crashed');
    } finally {
      reader.close();
    }
  });
});
