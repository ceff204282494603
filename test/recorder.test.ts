import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { EventLogWriteError } from '../processes/controller/log/errors.js';
import { EventRecorder } from '../processes/controller/log/recorder.js';
import { removeTempDirs, tempDir, testEvents, testRunInfo } from '../processes/controller/log/testing.js';
import { EventLogWriter } from '../processes/controller/log/writer.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { runLab } from '../processes/controller/session.js';
import { ReplaySession } from '../app/server/replay-session.js';
import { emptyClusterState } from '../shared/state/cluster-state.js';
import { applyEvent } from '../shared/state/fold.js';
import { toClusterEvent } from '../shared/state/recorded.js';
import { LAB_SNAPSHOT_NODE } from '../shared/state/snapshots.js';
import { DEFAULT_SNAPSHOT_INTERVAL } from '../shared/state/timeline.js';

// The recorder runs the compiled writer in a thread of its own: `npm run build` comes first.
afterEach(removeTempDirs);

/** Everything a log holds but wall-clock times. */
function contents(path: string): Record<string, unknown[]> {
  const db = new Database(path, { readonly: true });
  try {
    return {
      events: db.prepare('SELECT * FROM events ORDER BY seq').all(),
      checkpoints: db.prepare('SELECT * FROM checkpoints ORDER BY seq').all(),
      runs: db.prepare('SELECT id, seed, mode, topology_json, events, fingerprint, status, end_vtime FROM runs').all(),
      nodes: db.prepare('SELECT id, kind, incarnation, pid, exit_code, exit_signal FROM nodes ORDER BY id, incarnation').all(),
      kinds: db.prepare('SELECT * FROM event_kinds ORDER BY kind').all(),
      schema: db.prepare("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").all(),
    };
  } finally {
    db.close();
  }
}

describe('EventRecorder', () => {
  it('EventRecorder writes the very log and fingerprint EventLogWriter writes, from its own thread', () => {
    const dir = tempDir();
    const events = testEvents(0, 25_000);
    const write = (log: EventLogWriter | EventRecorder): string => {
      log.beginRun(testRunInfo());
      log.recordNode({ id: 'tor', kind: 'switch', incarnation: 0, pid: 4242, machine: 'm' });
      for (let i = 0; i < events.length; i += 37) log.append(events.slice(i, i + 37));
      log.updateNodeExit({ id: 'tor', incarnation: 0, exitCode: 0, exitSignal: null });
      const fingerprint = log.finishRun({ status: 'completed', endVtime: events[events.length - 1]!.vtime, exitReason: null });
      log.close();
      return fingerprint;
    };
    const direct = join(dir, 'direct.db');
    const threaded = join(dir, 'threaded.db');
    const expected = write(EventLogWriter.open(direct, { dpulabVersion: '0.1.0-test', checkpointInterval: 1000 }));
    const got = write(EventRecorder.open(threaded, { dpulabVersion: '0.1.0-test', checkpointInterval: 1000, deferIndexes: true }));
    expect(got).toBe(expected);
    expect(contents(threaded)).toEqual(contents(direct));
  });

  it('EventRecorder refuses at open what EventLogWriter refuses, with the same error', () => {
    const dir = tempDir();
    const foreign = join(dir, 'notes.txt');
    writeFileSync(foreign, 'not a database');
    expect(() => EventRecorder.open(foreign, { dpulabVersion: '0.1.0-test' })).toThrow(EventLogWriteError);
    expect(() => EventRecorder.open(foreign, { dpulabVersion: '0.1.0-test' })).toThrow(/Refusing to write the event log over .*notes\.txt: it is not a SQLite database/);
    const existing = join(dir, 'run.db');
    const first = EventRecorder.open(existing, { dpulabVersion: '0.1.0-test' });
    first.beginRun(testRunInfo());
    first.close();
    let error: unknown;
    try {
      EventRecorder.open(existing, { dpulabVersion: '0.1.0-test' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EventLogWriteError);
    expect((error as EventLogWriteError).code).toBe('exists');
  });

  it('EventRecorder reports an event out of order when the run finishes, and keeps what came before', () => {
    const path = join(tempDir(), 'run.db');
    const recorder = EventRecorder.open(path, { dpulabVersion: '0.1.0-test' });
    recorder.beginRun(testRunInfo());
    recorder.append(testEvents(0, 10));
    recorder.flush();
    recorder.append(testEvents(11, 12));
    let error: unknown;
    try {
      recorder.finishRun({ status: 'completed', endVtime: 100, exitReason: null });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EventLogWriteError);
    expect((error as EventLogWriteError).code).toBe('seq-not-dense');
    expect(() => recorder.close()).toThrow(/Event seq 11 is not the next one: expected 10/);
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM events').get()).toEqual({ n: 10 });
    db.close();
  });
});

describe('a recorded run', () => {
  it('keeps the lab state every 2000 events, and a replay seeks from them to the state a fold from the start gives', async () => {
    const db = join(tempDir(), 'run.db');
    const summary = await runLab({ seed: 1, mode: 'in-process', db });
    expect(summary.events).toBeGreaterThan(3 * DEFAULT_SNAPSHOT_INTERVAL);
    const reader = EventLogReader.open(db);
    const stored = reader.snapshots(LAB_SNAPSHOT_NODE).map((s) => s.seq);
    const events = [...reader.events()];
    reader.close();
    expect(stored).toEqual(Array.from({ length: Math.floor(summary.events / DEFAULT_SNAPSHOT_INTERVAL) }, (_, i) => (i + 1) * DEFAULT_SNAPSHOT_INTERVAL));

    const session = new ReplaySession(db);
    try {
      const targets = [0, DEFAULT_SNAPSHOT_INTERVAL - 1, DEFAULT_SNAPSHOT_INTERVAL, 3 * DEFAULT_SNAPSHOT_INTERVAL + 17, summary.events - 1];
      const reference = emptyClusterState();
      let folded = -1;
      for (const at of targets) {
        while (folded < at) applyEvent(reference, toClusterEvent(events[++folded]!));
        expect(session.stateAt(at)).toEqual(reference);
      }
    } finally {
      await session.close();
    }
  });
});
