import { closeSync, openSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { RecordedEvent, VTime } from '../../../shared/events.js';
import { EventLogError, InvalidEventError } from './errors.js';
import { Fingerprint } from './fingerprint.js';
import { EventLogLock } from './lock.js';
import {
  LOG_FORMAT,
  REQUIRED_TABLES,
  SCHEMA_VERSION,
  SQLITE_MAGIC,
  type CheckpointRecord,
  type EventKindRecord,
  type NodeRecord,
  type RunMode,
  type RunRecord,
  type RunStatus,
  type RunVersions,
  type WireRecord,
} from './schema.js';

/**
 * Which events `EventLogReader.events` yields. Every given criterion must hold; results are
 * always in seq order.
 */
export interface EventFilter {
  /** Exact kinds, or prefixes written `prefix.*` (`lldp.*` matches `lldp.rx`, not `lldp`). Empty: none. */
  readonly kinds?: readonly string[];
  /** Kinds left out, written as `kinds` is. Empty: none left out. */
  readonly excludeKinds?: readonly string[];
  /** Node ids. Empty: none. */
  readonly nodes?: readonly string[];
  /** Events at or after this virtual time. */
  readonly fromNs?: VTime;
  /** Events strictly before this virtual time. */
  readonly toNs?: VTime;
  /** Events with seq at or after this one. */
  readonly fromSeq?: number;
  /** Events with seq strictly before this one. */
  readonly toSeq?: number;
  /** At most this many events. */
  readonly limit?: number;
}

/** The checkpoint range whose recomputed fingerprint differs from the stored one. */
export interface BadCheckpoint {
  /** First event of the range (the previous checkpoint's seq, or 0). */
  readonly fromSeq: number;
  /** The checkpoint's seq: the range is events [fromSeq, toSeq). */
  readonly toSeq: number;
  readonly stored: string;
  /** Null when the log lacks events the checkpoint covers, or one could not be encoded. */
  readonly recomputed: string | null;
}

/** Result of recomputing the fingerprint of a log from its events. */
export interface FingerprintVerification {
  /** True when the events are dense, every checkpoint matches and the run fingerprint matches. */
  readonly ok: boolean;
  /** Fingerprint recomputed over every stored event. */
  readonly recomputed: string;
  /** `runs.fingerprint`; null for a run that never finished. */
  readonly stored: string | null;
  /** Events hashed. */
  readonly events: number;
  /** Checkpoints compared. */
  readonly checkpointsChecked: number;
  /** The earliest checkpoint that does not match, if any. */
  readonly firstBadCheckpoint?: BadCheckpoint;
  /**
   * The events are dense and every checkpoint matches: what `ok` means for a run that never
   * finished (and so has no run fingerprint to compare).
   */
  readonly checkpointsOk: boolean;
  /** The seq of the last checkpoint that matches with none bad before it (0 when none does). */
  readonly verifiedThrough: number;
  /** What is wrong, one sentence each; empty when ok. */
  readonly problems: readonly string[];
}

/** Result of SQLite's `PRAGMA quick_check`. */
export interface IntegrityCheck {
  readonly ok: boolean;
  /** SQLite's messages; empty when ok. */
  readonly problems: readonly string[];
}

interface EventRow {
  seq: number;
  vtime: number;
  node: string;
  kind: string;
  cause: number | null;
  payload: Buffer;
  volatile: Buffer | null;
}

const EVENT_COLUMNS = 'seq, vtime, node, kind, cause, payload, volatile';

function toEvent(row: EventRow): RecordedEvent {
  return {
    seq: row.seq,
    vtime: row.vtime,
    node: row.node,
    kind: row.kind,
    cause: row.cause,
    payload: row.payload,
    volatile: row.volatile,
  };
}

function sqliteCode(err: unknown): string | null {
  if (err instanceof Database.SqliteError) return err.code;
  return null;
}

/** Maps a SQLite failure whose meaning is unambiguous to an EventLogError, else null. */
function classify(err: unknown, path: string): EventLogError | null {
  if (err instanceof EventLogError) return err;
  const code = sqliteCode(err);
  if (code === null) return null;
  const detail = (err as Error).message;
  if (code === 'SQLITE_NOTADB') return new EventLogError('not-sqlite', path, `Not a SQLite database: ${path}`, { cause: err });
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_IOERR_SHORT_READ') {
    return new EventLogError('corrupt', path, `Event log is corrupt: ${path} (${detail})`, { cause: err });
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return new EventLogError('not-found', path, `Cannot open event log: ${path} (${detail})`, { cause: err });
  }
  return null;
}

/**
 * Merges streams that are each in seq order and hold distinct events into one in seq order,
 * stopping after `limit` events. Closes every stream when done or abandoned.
 */
function* mergeBySeq(streams: readonly Generator<RecordedEvent, void, undefined>[], limit: number): Generator<RecordedEvent, void, undefined> {
  try {
    const heads: { stream: Generator<RecordedEvent, void, undefined>; event: RecordedEvent }[] = [];
    for (const stream of streams) {
      const first = stream.next();
      if (first.done !== true) heads.push({ stream, event: first.value });
    }
    for (let emitted = 0; emitted < limit && heads.length > 0; emitted += 1) {
      let min = 0;
      for (let i = 1; i < heads.length; i += 1) {
        if ((heads[i]?.event.seq ?? Infinity) < (heads[min]?.event.seq ?? Infinity)) min = i;
      }
      const head = heads[min];
      if (head === undefined) return;
      yield head.event;
      const next = head.stream.next();
      if (next.done === true) heads.splice(min, 1);
      else head.event = next.value;
    }
  } finally {
    for (const stream of streams) stream.return();
  }
}

/** Escapes GLOB metacharacters so that `text` matches itself. */
function globLiteral(text: string): string {
  return text.replace(/[*?[]/g, (c) => `[${c}]`);
}

function requireInteger(name: string, value: number | undefined, min: number): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < min)) {
    throw new RangeError(`Event filter ${name} must be a safe integer >= ${String(min)}, got ${String(value)}`);
  }
}

/**
 * Checks, without SQLite, what is at `path`: that it exists, is a file, starts like a SQLite
 * database, and is not shorter than its header says (a truncated copy).
 */
function preflight(path: string): void {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? `Event log not found: ${path}` : `Cannot open event log: ${path} (${String(code)})`;
    throw new EventLogError('not-found', path, message, { cause: err });
  }
  if (!stat.isFile()) throw new EventLogError('not-sqlite', path, `Not a SQLite database: ${path} (not a regular file)`);
  if (stat.size === 0) throw new EventLogError('not-dpulab', path, `Not a dpulab event log: ${path} (the file is empty)`);
  const header = Buffer.alloc(100);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (read < header.length || header.toString('latin1', 0, SQLITE_MAGIC.length) !== SQLITE_MAGIC) {
    throw new EventLogError('not-sqlite', path, `Not a SQLite database: ${path}`);
  }
  // The in-header page count is trusted only when "version-valid-for" equals the change counter.
  // Uncheckpointed pages live in the -wal file, so skip the check while one has content.
  let walSize = 0;
  try {
    walSize = statSync(`${path}-wal`).size;
  } catch {
    walSize = 0;
  }
  const rawPageSize = header.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = header.readUInt32BE(28);
  const valid = header.readUInt32BE(92) === header.readUInt32BE(24);
  if (walSize === 0 && valid && pages > 0 && stat.size < pageSize * pages) {
    throw new EventLogError(
      'corrupt',
      path,
      `Event log is truncated: ${path} (${String(stat.size)} bytes, its header says ${String(pageSize * pages)})`,
    );
  }
}

/**
 * Reads a run's event log: the run, its nodes and wires, events by filter, and verification of
 * the fingerprint. The database is opened read-only, so a reader can follow a run that the
 * controller is still writing (WAL mode lets both proceed); every call sees the latest commit.
 *
 * Everything that goes wrong because of the file, rather than the caller, is an EventLogError.
 */
export class EventLogReader {
  /** The file being read. */
  readonly path: string;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private closed = false;
  private writerGone = false;

  private constructor(path: string, db: Database.Database) {
    this.path = path;
    this.db = db;
  }

  /**
   * Opens and validates a log: the file exists, is SQLite, has `meta.format` 'dpulab-event-log'
   * and a schema version this code reads, has every table and a run row. Throws EventLogError.
   */
  static open(path: string): EventLogReader {
    preflight(path);
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
    } catch (err) {
      throw classify(err, path) ?? new EventLogError('not-found', path, `Cannot open event log: ${path} (${(err as Error).message})`, { cause: err });
    }
    const reader = new EventLogReader(path, db);
    try {
      reader.guard(() => reader.validate());
      return reader;
    } catch (err) {
      reader.close();
      throw err;
    }
  }

  private validate(): void {
    const path = this.path;
    const tables = new Set(
      (this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name),
    );
    if (!tables.has('meta')) throw new EventLogError('not-dpulab', path, `Not a dpulab event log: ${path} (no meta table)`);
    const meta = this.meta();
    if (meta.format !== LOG_FORMAT) {
      const format = meta.format === undefined ? 'no format in meta' : `format is ${meta.format}`;
      throw new EventLogError('not-dpulab', path, `Not a dpulab event log: ${path} (${format})`);
    }
    if (meta.schema_version !== String(SCHEMA_VERSION)) {
      throw new EventLogError(
        'unsupported-version',
        path,
        `Unsupported event log schema version ${meta.schema_version ?? '(missing)'}: ${path} (this dpulab reads version ${String(SCHEMA_VERSION)})`,
      );
    }
    const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
    if (missing.length > 0) {
      throw new EventLogError('incomplete', path, `Event log is incomplete: ${path} (missing tables: ${missing.join(', ')})`);
    }
    if (this.db.prepare('SELECT 1 FROM runs').get() === undefined) {
      throw new EventLogError('incomplete', path, `Event log is incomplete: ${path} (no run recorded)`);
    }
  }

  /** The `meta` table as a key-value record (format, schema_version, dpulab_version). */
  meta(): Readonly<Record<string, string>> {
    return this.guard(() => {
      const rows = this.db.prepare('SELECT key, value FROM meta ORDER BY key').all() as { key: string; value: string }[];
      return Object.fromEntries(rows.map((r) => [r.key, String(r.value)]));
    });
  }

  /** The run row. */
  run(): RunRecord {
    return this.guard(() => {
      const row = this.statement('SELECT * FROM runs LIMIT 1').get() as Record<string, unknown> | undefined;
      if (row === undefined) throw new EventLogError('incomplete', this.path, `Event log is incomplete: ${this.path} (no run recorded)`);
      let versions: RunVersions;
      try {
        versions = JSON.parse(String(row.versions)) as RunVersions;
      } catch (err) {
        throw new EventLogError('corrupt', this.path, `Event log is corrupt: ${this.path} (runs.versions is not JSON)`, { cause: err });
      }
      return {
        id: row.id as string,
        seed: row.seed as number,
        mode: row.mode as RunMode,
        topologyName: row.topology_name as string,
        topologyFile: row.topology_file as string | null,
        topologyText: row.topology_text as string | null,
        topologyJson: row.topology_json as string,
        scenarioName: row.scenario_name as string | null,
        scenarioText: row.scenario_text as string | null,
        scenarioJson: row.scenario_json as string | null,
        untilNs: row.until_ns as number | null,
        endVtime: row.end_vtime as number | null,
        events: row.events as number,
        fingerprint: row.fingerprint as string | null,
        status: this.reportedStatus(row.status as RunStatus),
        exitReason: row.exit_reason as string | null,
        versions,
        startedWall: row.started_wall as string,
        endedWall: row.ended_wall as string | null,
      };
    });
  }

  /**
   * A stored `running` is `crashed` once nobody holds the log's lock: the writer holds it for the
   * whole run and the kernel releases it when the writer dies. Once crashed, always crashed.
   */
  private reportedStatus(stored: RunStatus): RunRecord['status'] {
    if (stored !== 'running') return stored;
    if (this.writerGone) return 'crashed';
    // A lock file that cannot be probed (read-only media) says nothing: keep what is stored.
    this.writerGone = EventLogLock.holder(this.path) === null;
    return this.writerGone ? 'crashed' : 'running';
  }

  /** Every node start, ordered by id then incarnation. */
  nodes(): NodeRecord[] {
    return this.guard(
      () =>
        this.statement(
          `SELECT id, kind, incarnation, pid, machine, started_wall AS startedWall, exited_wall AS exitedWall,
             exit_code AS exitCode, exit_signal AS exitSignal
           FROM nodes ORDER BY id, incarnation`,
        ).all() as NodeRecord[],
    );
  }

  /** Every wire, ordered by id. */
  wires(): WireRecord[] {
    return this.guard(
      () =>
        this.statement(
          `SELECT id, kind, a_node AS aNode, a_port AS aPort, b_node AS bNode, b_port AS bPort,
             latency_ns AS latencyNs, bandwidth_bps AS bandwidthBps, impairments
           FROM wires ORDER BY id`,
        ).all() as WireRecord[],
    );
  }

  /** The event kind registry, ordered by kind. */
  eventKinds(): EventKindRecord[] {
    return this.guard(() => this.statement('SELECT kind, description FROM event_kinds ORDER BY kind').all() as EventKindRecord[]);
  }

  /** Number of events stored (the highest seq + 1: seqs are dense). */
  count(): number {
    return this.guard(() => (this.statement('SELECT coalesce(max(seq) + 1, 0) AS n FROM events').get() as { n: number }).n);
  }

  /**
   * The snapshots stored for `node` (see `snapshots` in docs/event-log.md), by seq: its state
   * (msgpack) after events [0, seq). Only those covering events the log holds.
   */
  snapshots(node: string): Array<{ readonly seq: number; readonly state: Uint8Array }> {
    const count = this.count();
    return this.guard(
      () => this.statement('SELECT seq, state FROM snapshots WHERE node = ? AND seq <= ? ORDER BY seq').all(node, count) as Array<{ seq: number; state: Uint8Array }>,
    );
  }

  /**
   * The lowest and highest seq stored and how many events there are: a log whose seqs are dense
   * from 0, as the writer makes them, has `min` 0 and `max` `count - 1`.
   */
  seqRange(): { min: number | null; max: number | null; count: number } {
    return this.guard(() => this.statement('SELECT min(seq) AS min, max(seq) AS max, count(*) AS count FROM events').get() as { min: number | null; max: number | null; count: number });
  }

  /** The event with this seq, or undefined. */
  eventAt(seq: number): RecordedEvent | undefined {
    return this.guard(() => {
      const row = this.statement(`SELECT ${EVENT_COLUMNS} FROM events WHERE seq = ?`).get(seq) as EventRow | undefined;
      return row === undefined ? undefined : toEvent(row);
    });
  }

  /** Every checkpoint, ordered by seq. */
  checkpoints(): CheckpointRecord[] {
    return this.guard(() => this.statement('SELECT seq, vtime, fingerprint FROM checkpoints ORDER BY seq').all() as CheckpointRecord[]);
  }

  /**
   * Streams the events matching `filter`, in seq order, without loading them all. Finish or
   * `return()` the iterator (a `for...of` that breaks does): SQLite keeps statements open until
   * then.
   *
   * Every query runs in seq order on an index, so no filter makes SQLite sort: time bounds become
   * seq bounds (exact, because vtime never decreases along seq); kinds use the kind index, one
   * stream per kind (prefixes expand through `event_kinds`), merged by seq; nodes alone likewise.
   */
  events(filter: EventFilter = {}): IterableIterator<RecordedEvent> {
    requireInteger('fromNs', filter.fromNs, 0);
    requireInteger('toNs', filter.toNs, 0);
    requireInteger('fromSeq', filter.fromSeq, 0);
    requireInteger('toSeq', filter.toSeq, 0);
    requireInteger('limit', filter.limit, 0);
    if (filter.kinds?.length === 0 || filter.nodes?.length === 0 || filter.limit === 0) return [][Symbol.iterator]();

    return this.guard(() => {
      const where: string[] = [];
      const params: (string | number)[] = [];
      let fromSeq = filter.fromSeq ?? 0;
      let toSeq = filter.toSeq;
      if (filter.fromNs !== undefined) fromSeq = Math.max(fromSeq, this.firstSeqAtOrAfter(filter.fromNs));
      if (filter.toNs !== undefined) {
        const bound = this.firstSeqAtOrAfter(filter.toNs);
        toSeq = toSeq === undefined ? bound : Math.min(toSeq, bound);
      }
      if (fromSeq > 0) {
        where.push('seq >= ?');
        params.push(fromSeq);
      }
      if (toSeq !== undefined) {
        where.push('seq < ?');
        params.push(toSeq);
      }

      if (filter.excludeKinds !== undefined && filter.excludeKinds.length > 0) {
        const excluded = this.expandKinds(filter.excludeKinds);
        if (excluded.length > 0) {
          where.push(`kind NOT IN (${excluded.map(() => '?').join(', ')})`);
          params.push(...excluded);
        }
      }

      // One stream per value of the driving column, each in seq order on that column's index.
      let drive: { index: string; column: string; values: readonly string[] } | null = null;
      if (filter.kinds !== undefined) {
        drive = { index: 'events_kind', column: 'kind', values: this.expandKinds(filter.kinds) };
        if (filter.nodes !== undefined) {
          where.push(`node IN (${filter.nodes.map(() => '?').join(', ')})`);
          params.push(...filter.nodes);
        }
      } else if (filter.nodes !== undefined) {
        drive = { index: 'events_node', column: 'node', values: [...new Set(filter.nodes)] };
      }
      const limit = filter.limit;
      const tail = ` ORDER BY seq${limit === undefined ? '' : ' LIMIT ?'}`;
      const tailParams = limit === undefined ? [] : [limit];

      // Statements are not cached: one serves a single iteration at a time.
      if (drive === null) {
        const sql = `SELECT ${EVENT_COLUMNS} FROM events${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}${tail}`;
        return this.stream(this.db.prepare(sql), [...params, ...tailParams]);
      }
      // A log whose writer died before it built its indexes (they come when a run finishes) is
      // read without them: one scan in seq order per value.
      const indexed = this.hasIndex(drive.index) ? ` INDEXED BY ${drive.index}` : '';
      const sql = `SELECT ${EVENT_COLUMNS} FROM events${indexed} WHERE ${[`${drive.column} = ?`, ...where].join(' AND ')}${tail}`;
      const streams = drive.values.map((value) => this.stream(this.db.prepare(sql), [value, ...params, ...tailParams]));
      return streams.length === 1 && streams[0] !== undefined ? streams[0] : mergeBySeq(streams, limit ?? Infinity);
    });
  }

  /** The distinct kinds a kinds filter names: exact kinds as given, `prefix.*` expanded through `event_kinds`. */
  private expandKinds(kinds: readonly string[]): string[] {
    const result = new Set<string>();
    const prefixes: string[] = [];
    for (const kind of kinds) {
      if (kind.endsWith('.*')) prefixes.push(kind.slice(0, -1));
      else result.add(kind);
    }
    if (prefixes.length > 0) {
      const rows = this.statement(`SELECT kind FROM event_kinds WHERE ${prefixes.map(() => 'kind GLOB ?').join(' OR ')} ORDER BY kind`).all(
        ...prefixes.map((prefix) => `${globLiteral(prefix)}*`),
      ) as { kind: string }[];
      for (const row of rows) result.add(row.kind);
    }
    return [...result];
  }

  /**
   * Recomputes the fingerprint over the stored events and compares it with every checkpoint and
   * with `runs.fingerprint`. A log whose events (other than `volatile`) were altered, removed or
   * added fails, naming the first checkpoint range that differs.
   */
  verifyFingerprint(): FingerprintVerification {
    const run = this.run();
    const checkpoints = this.checkpoints();
    const problems: string[] = [];
    const fp = new Fingerprint();
    let firstBad: BadCheckpoint | undefined;
    let checked = 0;
    let next = 0;
    let previousCheckpoint = 0;
    let verifiedThrough = 0;
    let poisoned = false;

    const compareCheckpoints = (): void => {
      for (let cp = checkpoints[next]; cp !== undefined && cp.seq <= fp.events; cp = checkpoints[next]) {
        next += 1;
        checked += 1;
        const recomputed = poisoned ? null : fp.digestHex();
        if (cp.seq === fp.events && recomputed === cp.fingerprint) {
          previousCheckpoint = cp.seq;
          if (firstBad === undefined) verifiedThrough = cp.seq;
          continue;
        }
        if (firstBad === undefined) {
          firstBad = { fromSeq: previousCheckpoint, toSeq: cp.seq, stored: cp.fingerprint, recomputed };
          problems.push(`Events [${String(previousCheckpoint)}, ${String(cp.seq)}) do not match their checkpoint`);
        }
        previousCheckpoint = cp.seq;
      }
    };

    compareCheckpoints();
    let expected = 0;
    const all = this.guard(() => this.db.prepare(`SELECT ${EVENT_COLUMNS} FROM events ORDER BY seq`));
    for (const event of this.stream(all, [])) {
      if (event.seq !== expected && !poisoned) {
        problems.push(`Events are not dense: seq ${String(event.seq)} where ${String(expected)} was expected`);
        poisoned = true;
      }
      expected = event.seq + 1;
      try {
        fp.update(event);
      } catch (err) {
        if (!(err instanceof InvalidEventError)) throw err;
        problems.push(`Event seq ${String(event.seq)} cannot be encoded: ${err.message}`);
        poisoned = true;
        fp.update({ ...event, seq: 0, vtime: 0, node: '?', kind: '?', cause: null });
      }
      compareCheckpoints();
    }
    for (const cp of checkpoints.slice(next)) {
      checked += 1;
      if (firstBad === undefined) {
        firstBad = { fromSeq: previousCheckpoint, toSeq: cp.seq, stored: cp.fingerprint, recomputed: null };
      }
      problems.push(`Checkpoint at seq ${String(cp.seq)} covers events the log does not have (it has ${String(fp.events)})`);
    }

    const recomputed = fp.digestHex();
    const checkpointsOk = problems.length === 0;
    if (run.fingerprint === null) {
      problems.push(`The run has no fingerprint: it never finished (status ${run.status})`);
    } else {
      if (run.events !== fp.events) problems.push(`The run says it has ${String(run.events)} events, the log holds ${String(fp.events)}`);
      if (run.fingerprint !== recomputed) problems.push('The recomputed fingerprint differs from the run fingerprint');
    }
    const result: FingerprintVerification = {
      ok: problems.length === 0,
      recomputed,
      stored: run.fingerprint,
      events: fp.events,
      checkpointsChecked: checked,
      checkpointsOk,
      verifiedThrough,
      problems,
    };
    return firstBad === undefined ? result : { ...result, firstBadCheckpoint: firstBad };
  }

  /** Runs SQLite's `PRAGMA quick_check`; never throws for a damaged file, it reports it. */
  check(): IntegrityCheck {
    try {
      const rows = this.db.pragma('quick_check') as { quick_check: string }[];
      const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
      return { ok: problems.length === 0, problems };
    } catch (err) {
      return { ok: false, problems: [(err as Error).message] };
    }
  }

  /** Closes the database; calling it again does nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /** Whether the log has the index `name` (a log whose run did not finish may lack the event indexes). */
  private hasIndex(name: string): boolean {
    return this.statement("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(name) !== undefined;
  }

  /** The seq of the first event at or after `vtime` (the event count when there is none). */
  private firstSeqAtOrAfter(vtime: VTime): number {
    return this.guard(() => {
      if (this.hasIndex('events_vtime')) {
        const row = this.statement('SELECT seq FROM events WHERE vtime >= ? ORDER BY vtime, seq LIMIT 1').get(vtime) as
          | { seq: number }
          | undefined;
        return row?.seq ?? this.count();
      }
      // Without the index: vtime never decreases along seq, and seqs are dense, so bisect.
      const at = this.statement('SELECT vtime FROM events WHERE seq = ?');
      let lo = 0;
      let hi = this.count();
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if ((at.get(mid) as { vtime: number }).vtime >= vtime) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    });
  }

  private *stream(statement: Database.Statement, params: readonly (string | number)[]): Generator<RecordedEvent, void, undefined> {
    let rows: IterableIterator<unknown>;
    try {
      rows = statement.iterate(...params);
    } catch (err) {
      throw this.translate(err);
    }
    try {
      // A damaged page surfaces while stepping, so each step is guarded, not the yield.
      while (true) {
        let step: IteratorResult<unknown>;
        try {
          step = rows.next();
        } catch (err) {
          throw this.translate(err);
        }
        if (step.done === true) return;
        yield toEvent(step.value as EventRow);
      }
    } finally {
      // Also runs when the consumer stops early (break, return()): release the SQLite statement.
      if (!this.closed) rows.return?.();
    }
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Runs a query, turning file-caused failures into EventLogError. */
  private guard<T>(query: () => T): T {
    try {
      return query();
    } catch (err) {
      throw this.translate(err);
    }
  }

  /**
   * The EventLogError a failed query means. SQLite's own code is used when unambiguous;
   * otherwise an integrity check decides between 'corrupt' and the original error.
   */
  private translate(err: unknown): unknown {
    const known = classify(err, this.path);
    if (known !== null) return known;
    if (sqliteCode(err) === null) return err;
    const check = this.check();
    if (check.ok) return err;
    return new EventLogError('corrupt', this.path, `Event log is corrupt: ${this.path} (${check.problems[0] ?? (err as Error).message})`, {
      cause: err,
    });
  }
}
