import { closeSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { RecordedEvent, VTime } from '../../../shared/events.js';
import type { ResolvedTopology, ResolvedWire } from '../../../shared/topology/types.js';
import { environmentError, orEnvironmentError, prepareDirectoryFor } from '../environment.js';
import { EventLogWriteError, InvalidEventError } from './errors.js';
import { Fingerprint } from './fingerprint.js';
import { EventLogLock } from './lock.js';
import { createEventIndexes, createSchema, LOG_FORMAT, SQLITE_MAGIC, type RunMode, type RunStatus, type RunVersions } from './schema.js';

/** Events buffered before the writer commits them on its own. */
export const DEFAULT_BATCH_SIZE = 4096;

/** Events between two fingerprint checkpoints. */
export const DEFAULT_CHECKPOINT_INTERVAL = 10_000;

/** How to open a log for writing. */
export interface EventLogWriterOptions {
  /** The dpulab version, stored in `meta.dpulab_version` and `runs.versions`. */
  readonly dpulabVersion: string;
  /** Replace an existing dpulab event log at the path. A file that is not one is never replaced. */
  readonly overwrite?: boolean;
  /** Commit once this many events are buffered (default DEFAULT_BATCH_SIZE). */
  readonly batchSize?: number;
  /** Write a checkpoint every this many events (default DEFAULT_CHECKPOINT_INTERVAL). */
  readonly checkpointInterval?: number;
  /**
   * Create the secondary indexes of `events` when the run finishes (or the log closes) instead
   * of at the start: inserts run faster, and readers of a live run must do without them.
   */
  readonly deferIndexes?: boolean;
}

/** The scenario a run executes, as given and as resolved. */
export interface RunScenario {
  readonly name: string;
  /** The scenario source (YAML), if it came from a file. */
  readonly text: string | null;
  /** The resolved scenario; stored as JSON, so it must be JSON-serialisable. */
  readonly resolved: unknown;
}

/** Everything the `runs` row needs when a run starts. */
export interface RunInfo {
  readonly id: string;
  readonly seed: number;
  readonly mode: RunMode;
  readonly topology: ResolvedTopology;
  /** Path of the topology file as given on the command line, null for a built-in topology. */
  readonly topologyFile: string | null;
  /** The topology source (YAML), null for a built-in topology. */
  readonly topologyText: string | null;
  readonly scenario: RunScenario | null;
  /** Virtual time the run was asked to stop at, null to run until the scenario ends. */
  readonly untilNs: VTime | null;
  /** Version of the zeromq package, null for in-process runs. */
  readonly zeromqVersion: string | null;
  /** Every event kind the code can emit, with a one-line description, copied to `event_kinds`. */
  readonly eventKinds: Readonly<Record<string, string>>;
  /** ISO wall-clock start time; defaults to now. */
  readonly startedWall?: string;
}

/** One start of a node process. */
export interface NodeStart {
  readonly id: string;
  readonly kind: string;
  /** 0 for the first start, +1 for every restart. */
  readonly incarnation: number;
  readonly pid: number | null;
  readonly machine: string | null;
  /** ISO wall-clock time; defaults to now. */
  readonly startedWall?: string;
}

/** How a node process ended. */
export interface NodeExit {
  readonly id: string;
  readonly incarnation: number;
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
  /** ISO wall-clock time; defaults to now. */
  readonly exitedWall?: string;
}

/** How a run ended, written by `finishRun`. */
export interface RunEnd {
  readonly status: Exclude<RunStatus, 'running'>;
  /** Virtual time the run reached. */
  readonly endVtime: VTime;
  readonly exitReason: string | null;
  /** ISO wall-clock end time; defaults to now. */
  readonly endedWall?: string;
}

/** Counters the writer keeps, for tests and for the controller's own status display. */
export interface EventLogWriterStats {
  /** Transactions committed (every write goes through one; never one per event). */
  readonly commits: number;
  /** Events accepted by `append`. */
  readonly appended: number;
  /** Events committed to the database. */
  readonly written: number;
  /** Checkpoint rows committed. */
  readonly checkpoints: number;
  /** WAL checkpoints that folded the WAL into the database file (see `foldWal`). */
  readonly walCheckpoints: number;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

type Existing = { state: 'absent' | 'empty' | 'dpulab' } | { state: 'foreign'; reason: string };

function sidecars(path: string): string[] {
  return [`${path}-wal`, `${path}-shm`, `${path}-journal`];
}

function fileSize(path: string): number | null {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
}

function readHead(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const read = readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Finds out what is at `path` before anything is written there. */
function inspectExisting(path: string): Existing {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'absent' };
    throw err;
  }
  if (!stat.isFile()) return { state: 'foreign', reason: 'it is not a regular file' };
  const walSize = fileSize(`${path}-wal`) ?? 0;
  if (stat.size === 0 && walSize === 0) return { state: 'empty' };
  if (stat.size > 0 && readHead(path, SQLITE_MAGIC.length).toString('latin1') !== SQLITE_MAGIC) {
    return { state: 'foreign', reason: 'it is not a SQLite database' };
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
    if (hasMeta === undefined) return { state: 'foreign', reason: 'it is a SQLite database without a meta table' };
    const row = db.prepare("SELECT value FROM meta WHERE key = 'format'").get() as { value: unknown } | undefined;
    if (row?.value !== LOG_FORMAT) {
      return { state: 'foreign', reason: `its meta format is ${row === undefined ? 'missing' : String(row.value)}` };
    }
    return { state: 'dpulab' };
  } catch (err) {
    return { state: 'foreign', reason: `SQLite cannot read it (${(err as Error).message})` };
  } finally {
    db?.close();
  }
}

function nowIso(): string {
  return new Date().toISOString();
}

function requireSafeInteger(what: string, value: number, min = 0): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new EventLogWriteError('invalid-argument', `${what} must be a safe integer >= ${String(min)}, got ${String(value)}`);
  }
}

/**
 * The only writer of a run's event log, used by the controller.
 *
 * Events arrive through `append` in seq order (dense from 0, vtime never decreasing), are buffered
 * and committed in batches: one transaction per `batchSize` events or per `flush()`, never one per
 * event. While committing, the writer feeds each event to the run fingerprint and inserts a
 * checkpoint every `checkpointInterval` events, in the same transaction as those events, so the
 * database never holds a checkpoint for events it lacks.
 *
 * Every method runs synchronously; the controller calls `flush()` whenever it wants the events
 * visible to readers (for instance at the end of each synchronisation window).
 */
export class EventLogWriter {
  /** The file this writer owns. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly batchSize: number;
  private readonly checkpointInterval: number;
  private readonly dpulabVersion: string;
  /** Whether the event indexes are still to be created (deferIndexes). */
  private indexesPending: boolean;
  private readonly counters: Mutable<EventLogWriterStats> = { commits: 0, appended: 0, written: 0, checkpoints: 0, walCheckpoints: 0 };
  private readonly lock: EventLogLock;

  private fingerprint = new Fingerprint();
  private buffer: RecordedEvent[] = [];
  private nextSeq = 0;
  private lastVtime = 0;
  private lastWrittenVtime = 0;
  private readonly knownKinds = new Set<string>();
  private state: 'created' | 'running' | 'finished' | 'closed' = 'created';

  private readonly insertEvent: Database.Statement;
  private readonly insertCheckpoint: Database.Statement;
  private readonly insertKind: Database.Statement;
  private readonly insertSnapshot: Database.Statement;
  private readonly insertNode: Database.Statement;
  private readonly updateNode: Database.Statement;
  private readonly writeBatch: (events: readonly RecordedEvent[], fingerprint: Fingerprint) => { checkpoints: number; kinds: string[] };

  private constructor(path: string, db: Database.Database, lock: EventLogLock, options: EventLogWriterOptions) {
    this.path = path;
    this.db = db;
    this.lock = lock;
    this.dpulabVersion = options.dpulabVersion;
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    this.checkpointInterval = options.checkpointInterval ?? DEFAULT_CHECKPOINT_INTERVAL;
    this.indexesPending = options.deferIndexes ?? false;

    this.insertEvent = db.prepare('INSERT INTO events (seq, vtime, node, kind, cause, payload, volatile) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertCheckpoint = db.prepare('INSERT INTO checkpoints (seq, vtime, fingerprint) VALUES (?, ?, ?)');
    this.insertKind = db.prepare('INSERT OR IGNORE INTO event_kinds (kind, description) VALUES (?, ?)');
    this.insertSnapshot = db.prepare('INSERT OR REPLACE INTO snapshots (seq, node, state) VALUES (?, ?, ?)');
    this.insertNode = db.prepare(
      'INSERT INTO nodes (id, kind, incarnation, pid, machine, started_wall) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.updateNode = db.prepare(
      'UPDATE nodes SET exited_wall = ?, exit_code = ?, exit_signal = ? WHERE id = ? AND incarnation = ?',
    );

    const interval = this.checkpointInterval;
    this.writeBatch = db.transaction((events: readonly RecordedEvent[], fp: Fingerprint) => {
      let checkpoints = 0;
      const kinds: string[] = [];
      for (const e of events) {
        this.insertEvent.run(e.seq, e.vtime, e.node, e.kind, e.cause, e.payload, e.volatile);
        fp.update(e);
        if (fp.events % interval === 0) {
          this.insertCheckpoint.run(fp.events, e.vtime, fp.digestHex());
          checkpoints += 1;
        }
        if (!this.knownKinds.has(e.kind) && !kinds.includes(e.kind)) {
          this.insertKind.run(e.kind, null);
          kinds.push(e.kind);
        }
      }
      return { checkpoints, kinds };
    });
  }

  /**
   * Creates the log at `path` with the current schema, in WAL mode, and holds its lock (see
   * lock.ts) until `close`.
   *
   * Refuses (EventLogWriteError) a log another writer holds ('locked', naming the holder), and a
   * path holding anything but nothing, an empty file, or, with `overwrite`, an existing dpulab
   * event log; a foreign file is never modified.
   */
  static open(path: string, options: EventLogWriterOptions): EventLogWriter {
    if (options.batchSize !== undefined) requireSafeInteger('Batch size', options.batchSize, 1);
    if (options.checkpointInterval !== undefined) requireSafeInteger('Checkpoint interval', options.checkpointInterval, 1);
    prepareDirectoryFor(path, 'create the event log');
    // The lock comes first: a second run must not remove the log of the first, even with overwrite.
    const lock = orEnvironmentError('lock the event log', path, () => EventLogLock.acquire(path));
    try {
      return orEnvironmentError('create the event log', path, () => EventLogWriter.create(path, lock, options));
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  private static create(path: string, lock: EventLogLock, options: EventLogWriterOptions): EventLogWriter {
    const existing = inspectExisting(path);
    switch (existing.state) {
      case 'foreign':
        throw new EventLogWriteError('foreign-file', `Refusing to write the event log over ${path}: ${existing.reason}`);
      case 'dpulab':
        if (options.overwrite !== true) {
          throw new EventLogWriteError('exists', `An event log already exists at ${path} (overwrite it explicitly)`);
        }
        rmSync(path, { force: true });
        for (const file of sidecars(path)) rmSync(file, { force: true });
        break;
      case 'absent':
      case 'empty':
        // A leftover -wal or hot -journal of an earlier database would be replayed into the new one.
        for (const file of sidecars(path)) rmSync(file, { force: true });
        break;
    }
    const db = new Database(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      createSchema(db, options.dpulabVersion, { eventIndexes: !(options.deferIndexes ?? false) });
      const writer = new EventLogWriter(path, db, lock, options);
      writer.counters.commits += 1;
      return writer;
    } catch (err) {
      db.close();
      // Whatever was there is gone already (nothing, an empty file or our own old log): leave no
      // half-made log behind, say on a full disk.
      for (const file of [path, ...sidecars(path)]) rmSync(file, { force: true });
      throw err;
    }
  }

  /** A snapshot of the writer's counters. */
  get stats(): EventLogWriterStats {
    return { ...this.counters };
  }

  /** Events accepted so far; the seq the next appended event must carry. */
  get eventCount(): number {
    return this.nextSeq;
  }

  /** Writes the `runs` row (status 'running') and the event kind registry. Call once, first. */
  beginRun(info: RunInfo): void {
    this.requireState('created', 'beginRun');
    requireSafeInteger('Run seed', info.seed, Number.MIN_SAFE_INTEGER);
    if (info.untilNs !== null) requireSafeInteger('Run untilNs', info.untilNs);
    const sqlite = (this.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v;
    const versions: RunVersions = {
      dpulab: this.dpulabVersion,
      node: process.versions.node,
      sqlite,
      zeromq: info.zeromqVersion,
    };
    const insertRun = this.db.prepare(
      `INSERT INTO runs (id, seed, mode, topology_name, topology_file, topology_text, topology_json,
        scenario_name, scenario_text, scenario_json, until_ns, status, versions, started_wall)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
    );
    const kinds = Object.entries(info.eventKinds).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    this.db.transaction(() => {
      insertRun.run(
        info.id,
        info.seed,
        info.mode,
        info.topology.name,
        info.topologyFile,
        info.topologyText,
        JSON.stringify(info.topology),
        info.scenario?.name ?? null,
        info.scenario?.text ?? null,
        info.scenario === null ? null : JSON.stringify(info.scenario.resolved),
        info.untilNs,
        JSON.stringify(versions),
        info.startedWall ?? nowIso(),
      );
      for (const [kind, description] of kinds) this.insertKind.run(kind, description);
    })();
    this.counters.commits += 1;
    for (const [kind] of kinds) this.knownKinds.add(kind);
    this.state = 'running';
    this.foldWal();
  }

  /** Records the start of a node process (one row per id and incarnation). */
  recordNode(node: NodeStart): void {
    this.requireStarted('recordNode');
    requireSafeInteger('Node incarnation', node.incarnation);
    this.insertNode.run(node.id, node.kind, node.incarnation, node.pid, node.machine, node.startedWall ?? nowIso());
    this.counters.commits += 1;
  }

  /** Records how a node process ended; the start must have been recorded. Allowed after finishRun. */
  updateNodeExit(exit: NodeExit): void {
    this.requireStarted('updateNodeExit');
    const result = this.updateNode.run(exit.exitedWall ?? nowIso(), exit.exitCode, exit.exitSignal, exit.id, exit.incarnation);
    this.counters.commits += 1;
    if (result.changes === 0) {
      throw new EventLogWriteError(
        'bad-state',
        `Cannot record the exit of node ${exit.id} incarnation ${String(exit.incarnation)}: its start was never recorded`,
      );
    }
  }

  /** Records the wires of the resolved topology, in one transaction. */
  recordWires(wires: readonly ResolvedWire[]): void {
    this.requireStarted('recordWires');
    const insert = this.db.prepare(
      `INSERT INTO wires (id, kind, a_node, a_port, b_node, b_port, latency_ns, bandwidth_bps, impairments)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const w of wires) {
        insert.run(w.id, w.kind, w.a.node, w.a.port, w.b.node, w.b.port, w.latencyNs, w.bandwidthBps, JSON.stringify(w.impairments));
      }
    })();
    this.counters.commits += 1;
    this.foldWal();
  }

  /**
   * Accepts events in seq order and commits full batches. The whole call is validated first:
   * a seq that is not the next one (EventLogWriteError 'seq-not-dense'), a vtime lower than the
   * previous one ('vtime-backwards') or a malformed field (InvalidEventError) rejects every event
   * of the call. The writer keeps references to the payloads until they are committed: do not
   * modify them after appending.
   */
  append(events: readonly RecordedEvent[]): void {
    this.requireState('running', 'append');
    let seq = this.nextSeq;
    let vtime = this.lastVtime;
    for (const e of events) {
      if (e.seq !== seq) {
        throw new EventLogWriteError(
          'seq-not-dense',
          `Event seq ${String(e.seq)} is not the next one: expected ${String(seq)} (seqs are dense from 0)`,
        );
      }
      if (!Number.isSafeInteger(e.vtime) || e.vtime < 0) {
        throw new InvalidEventError(`Event vtime must be a non-negative safe integer, got ${String(e.vtime)} (seq ${String(e.seq)})`);
      }
      if (e.vtime < vtime) {
        throw new EventLogWriteError(
          'vtime-backwards',
          `Event seq ${String(e.seq)} has vtime ${String(e.vtime)}, before the previous event's ${String(vtime)}`,
        );
      }
      validateFields(e);
      seq += 1;
      vtime = e.vtime;
    }
    for (const e of events) this.buffer.push(e);
    this.nextSeq = seq;
    this.lastVtime = vtime;
    this.counters.appended += events.length;
    while (this.buffer.length >= this.batchSize) this.commit(this.batchSize);
  }

  /**
   * Stores a snapshot: `node`'s state (msgpack) after events [0, seq), which must all have been
   * appended. Commits the buffered events first, so a snapshot never covers events the file lacks.
   */
  recordSnapshot(seq: number, node: string, state: Uint8Array): void {
    this.requireState('running', 'recordSnapshot');
    requireSafeInteger('Snapshot seq', seq);
    if (seq > this.nextSeq) throw new EventLogWriteError('invalid-argument', `Snapshot at ${String(seq)} covers events not appended yet (${String(this.nextSeq)} so far)`);
    this.flush();
    this.insertSnapshot.run(seq, node, state);
    this.counters.commits += 1;
  }

  /** Commits every buffered event now. */
  flush(): void {
    if (this.state === 'closed') throw new EventLogWriteError('bad-state', `Cannot flush: the event log ${this.path} is closed`);
    if (this.buffer.length > 0) this.commit(this.buffer.length);
  }

  /**
   * Ends the run: commits buffered events, writes the final checkpoint (unless the last periodic
   * one already covers every event) and the run's status, end time, event count and fingerprint.
   * Returns the run's fingerprint.
   *
   * A run ending as `failed` is marked so even when its buffered events cannot be written (a full
   * disk): they are dropped, the reason says how many, and the fingerprint covers what was written,
   * so the log still verifies as far as it goes.
   */
  finishRun(end: RunEnd): string {
    this.requireState('running', 'finishRun');
    requireSafeInteger('Run endVtime', end.endVtime);
    let exitReason = end.exitReason;
    try {
      this.flush();
    } catch (err) {
      if (end.status !== 'failed' || environmentError(err, 'write', this.path) === null) throw err;
      const lost = this.buffer.length;
      this.buffer = [];
      this.nextSeq = this.fingerprint.events;
      exitReason = `${exitReason ?? 'failed'} (${String(lost)} events that could not be written were lost)`;
    }
    const count = this.fingerprint.events;
    const fingerprint = this.fingerprint.digestHex();
    const needsCheckpoint = count === 0 || count % this.checkpointInterval !== 0;
    const update = this.db.prepare(
      `UPDATE runs SET end_vtime = ?, events = ?, fingerprint = ?, status = ?, exit_reason = ?, ended_wall = ?`,
    );
    orEnvironmentError('write the event log', this.path, () =>
      this.db.transaction(() => {
        if (needsCheckpoint) this.insertCheckpoint.run(count, this.lastWrittenVtime, fingerprint);
        update.run(end.endVtime, count, fingerprint, end.status, exitReason, end.endedWall ?? nowIso());
        if (this.indexesPending) createEventIndexes(this.db);
      })(),
    );
    this.indexesPending = false;
    this.counters.commits += 1;
    if (needsCheckpoint) this.counters.checkpoints += 1;
    this.state = 'finished';
    this.foldWal();
    return fingerprint;
  }

  /**
   * Commits what is buffered (a run not finished stays 'running'), folds the WAL back into the
   * database file and closes it, leaving one self-contained file. Calling it again does nothing.
   */
  close(): void {
    if (this.state === 'closed') return;
    try {
      if (this.buffer.length > 0) this.commit(this.buffer.length);
    } finally {
      // Even when that commit failed (a full disk), the file is closed and the lock let go.
      this.state = 'closed';
      try {
        // A run that never finished still leaves a log with the usual indexes.
        if (this.indexesPending) createEventIndexes(this.db);
      } catch {
        // The reader does without them.
      }
      try {
        // Best effort: a reader still holding the file keeps it in WAL mode, which is harmless.
        this.db.pragma('wal_checkpoint(TRUNCATE)');
        this.db.pragma('journal_mode = DELETE');
      } catch {
        // The database stays valid in WAL mode; SQLite folds the WAL in on the next open.
      }
      this.db.close();
      this.lock.release();
    }
  }

  /**
   * Copies what the WAL holds into the database file (a passive WAL checkpoint: it never waits
   * for readers), so that the `.db` file alone, copied or left behind by a crash, is a readable
   * log up to here. Called when the run starts, with every fingerprint checkpoint and at its end,
   * so what the file alone holds can always be verified against a checkpoint.
   */
  private foldWal(): void {
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)');
      this.counters.walCheckpoints += 1;
    } catch {
      // A reader in the middle of a transaction may hold it back; the next fold catches up.
    }
  }

  /** Commits the first `n` buffered events in one transaction; on failure nothing changes. */
  private commit(n: number): void {
    const batch = n === this.buffer.length ? this.buffer : this.buffer.slice(0, n);
    const fp = this.fingerprint.clone();
    const { checkpoints, kinds } = orEnvironmentError('write the event log', this.path, () => this.writeBatch(batch, fp));
    this.fingerprint = fp;
    for (const kind of kinds) this.knownKinds.add(kind);
    this.buffer = n === this.buffer.length ? [] : this.buffer.slice(n);
    const last = batch[batch.length - 1];
    if (last !== undefined) this.lastWrittenVtime = last.vtime;
    this.counters.commits += 1;
    this.counters.written += batch.length;
    this.counters.checkpoints += checkpoints;
    if (checkpoints > 0) this.foldWal();
  }

  private requireState(state: 'created' | 'running', call: string): void {
    if (this.state !== state) {
      throw new EventLogWriteError('bad-state', `Cannot ${call}: the event log ${this.path} is ${this.describeState()}`);
    }
  }

  private requireStarted(call: string): void {
    if (this.state === 'created' || this.state === 'closed') {
      throw new EventLogWriteError('bad-state', `Cannot ${call}: the event log ${this.path} is ${this.describeState()}`);
    }
  }

  private describeState(): string {
    switch (this.state) {
      case 'created':
        return 'not started (call beginRun first)';
      case 'running':
        return 'already started';
      case 'finished':
        return 'finished';
      case 'closed':
        return 'closed';
    }
  }
}

/** Checks the fields of one event other than seq and vtime; throws InvalidEventError. */
function validateFields(e: RecordedEvent): void {
  const at = `(seq ${String(e.seq)})`;
  if (typeof e.node !== 'string' || e.node.length === 0) throw new InvalidEventError(`Event node must be a non-empty string ${at}`);
  if (typeof e.kind !== 'string' || e.kind.length === 0) throw new InvalidEventError(`Event kind must be a non-empty string ${at}`);
  if (e.node.length > 0x5555 && Buffer.byteLength(e.node) > 0xffff) throw new InvalidEventError(`Event node is longer than 65535 UTF-8 bytes ${at}`);
  if (e.kind.length > 0x5555 && Buffer.byteLength(e.kind) > 0xffff) throw new InvalidEventError(`Event kind is longer than 65535 UTF-8 bytes ${at}`);
  if (e.cause !== null && (!Number.isSafeInteger(e.cause) || e.cause < 0 || e.cause >= e.seq)) {
    throw new InvalidEventError(`Event cause must be null or the seq of an earlier event, got ${String(e.cause)} ${at}`);
  }
  if (!(e.payload instanceof Uint8Array)) throw new InvalidEventError(`Event payload must be a Uint8Array ${at}`);
  if (e.volatile !== null && !(e.volatile instanceof Uint8Array)) {
    throw new InvalidEventError(`Event volatile must be null or a Uint8Array ${at}`);
  }
}
