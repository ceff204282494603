import type Database from 'better-sqlite3';

/**
 * The event log schema, version 1: one SQLite database holds exactly one run.
 *
 * This file is the single source of the DDL and of the row shapes the writer produces and the
 * reader returns. Other tools rely on it through docs/event-log.md; any change to a table, a
 * column or the fingerprint encoding must bump SCHEMA_VERSION and be described there.
 */

/** The value of `meta.format` that marks a SQLite file as a dpulab event log. */
export const LOG_FORMAT = 'dpulab-event-log';

/** Bytes every SQLite 3 database file starts with. */
export const SQLITE_MAGIC = 'SQLite format 3\0';

/** The schema version this code writes and the only one it reads (`meta.schema_version`). */
export const SCHEMA_VERSION = 1;

/** Tables every version-1 log has; the reader refuses a log that lacks one. */
export const REQUIRED_TABLES = [
  'meta',
  'runs',
  'nodes',
  'wires',
  'events',
  'checkpoints',
  'snapshots',
  'event_kinds',
] as const;

/**
 * The DDL of version 1, in creation order. Kept as plain statements so that it can be shown in
 * docs and compared with `sqlite_master` by tests.
 */
export const SCHEMA_STATEMENTS: readonly string[] = [
  `CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
  )`,
  `CREATE TABLE runs (
    id             TEXT PRIMARY KEY NOT NULL,
    seed           INTEGER NOT NULL,
    mode           TEXT NOT NULL CHECK (mode IN ('multi-process', 'in-process')),
    topology_name  TEXT NOT NULL,
    topology_file  TEXT,
    topology_text  TEXT,
    topology_json  TEXT NOT NULL,
    scenario_name  TEXT,
    scenario_text  TEXT,
    scenario_json  TEXT,
    until_ns       INTEGER,
    end_vtime      INTEGER,
    events         INTEGER NOT NULL DEFAULT 0,
    fingerprint    TEXT,
    status         TEXT NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    exit_reason    TEXT,
    versions       TEXT NOT NULL,
    started_wall   TEXT NOT NULL,
    ended_wall     TEXT
  )`,
  `CREATE TABLE nodes (
    id           TEXT NOT NULL,
    kind         TEXT NOT NULL,
    incarnation  INTEGER NOT NULL,
    pid          INTEGER,
    machine      TEXT,
    started_wall TEXT NOT NULL,
    exited_wall  TEXT,
    exit_code    INTEGER,
    exit_signal  TEXT,
    PRIMARY KEY (id, incarnation)
  )`,
  `CREATE TABLE wires (
    id            TEXT PRIMARY KEY NOT NULL,
    kind          TEXT NOT NULL,
    a_node        TEXT NOT NULL,
    a_port        TEXT NOT NULL,
    b_node        TEXT NOT NULL,
    b_port        TEXT NOT NULL,
    latency_ns    INTEGER NOT NULL,
    bandwidth_bps INTEGER NOT NULL,
    impairments   TEXT NOT NULL
  )`,
  `CREATE TABLE events (
    seq      INTEGER PRIMARY KEY,
    vtime    INTEGER NOT NULL,
    node     TEXT NOT NULL,
    kind     TEXT NOT NULL,
    cause    INTEGER,
    payload  BLOB NOT NULL,
    volatile BLOB
  )`,
  `CREATE INDEX events_kind ON events (kind)`,
  `CREATE INDEX events_node ON events (node)`,
  `CREATE INDEX events_vtime ON events (vtime)`,
  `CREATE TABLE checkpoints (
    seq         INTEGER PRIMARY KEY,
    vtime       INTEGER NOT NULL,
    fingerprint TEXT NOT NULL
  )`,
  `CREATE TABLE snapshots (
    seq   INTEGER NOT NULL,
    node  TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (seq, node)
  )`,
  `CREATE TABLE event_kinds (
    kind        TEXT PRIMARY KEY NOT NULL,
    description TEXT
  )`,
];

/**
 * The secondary indexes of `events`. A writer may create them when its run finishes instead of
 * with the schema (maintaining three indexes per insert is most of what an insert costs); a
 * finished log has them either way, and a reader copes with a log whose writer died before.
 */
export const EVENT_INDEX_STATEMENTS: readonly string[] = SCHEMA_STATEMENTS.filter((sql) => sql.startsWith('CREATE INDEX events_'));

/** Names of the indexes in EVENT_INDEX_STATEMENTS. */
export const EVENT_INDEXES: readonly string[] = EVENT_INDEX_STATEMENTS.map((sql) => /^CREATE INDEX (\w+)/.exec(sql)![1]!);

/**
 * Creates every table and index of the current version and fills `meta`, in one transaction;
 * with `eventIndexes: false`, leaves out EVENT_INDEX_STATEMENTS (see createEventIndexes).
 */
export function createSchema(db: Database.Database, dpulabVersion: string, options: { readonly eventIndexes?: boolean } = {}): void {
  const withIndexes = options.eventIndexes ?? true;
  db.transaction(() => {
    for (const sql of SCHEMA_STATEMENTS) if (withIndexes || !EVENT_INDEX_STATEMENTS.includes(sql)) db.exec(sql);
    const setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    setMeta.run('format', LOG_FORMAT);
    setMeta.run('schema_version', String(SCHEMA_VERSION));
    setMeta.run('dpulab_version', dpulabVersion);
  })();
}

/** Creates the indexes of EVENT_INDEX_STATEMENTS that are missing (in the caller's transaction, if any). */
export function createEventIndexes(db: Database.Database): void {
  for (const sql of EVENT_INDEX_STATEMENTS) db.exec(sql.replace('CREATE INDEX', 'CREATE INDEX IF NOT EXISTS'));
}

/** How the run was executed: one OS process per node, or every node inside the controller. */
export type RunMode = 'multi-process' | 'in-process';

/** Lifecycle of a run as stored: `running` until the writer finishes it; a crashed run stays `running`. */
export type RunStatus = 'running' | 'completed' | 'interrupted' | 'failed';

/**
 * The status a reader reports: the stored one, except that a `running` run whose writer no longer
 * holds the log's lock is `crashed` (its writer died before it could finish the run).
 */
export type ReportedRunStatus = RunStatus | 'crashed';

/** The versions of the software that produced a run, stored as JSON in `runs.versions`. */
export interface RunVersions {
  readonly dpulab: string;
  readonly node: string;
  readonly sqlite: string;
  /** Null for in-process runs, which load no ZeroMQ. */
  readonly zeromq: string | null;
}

/** The `runs` row, as the reader returns it (JSON columns left as text, see docs). */
export interface RunRecord {
  readonly id: string;
  readonly seed: number;
  readonly mode: RunMode;
  readonly topologyName: string;
  readonly topologyFile: string | null;
  readonly topologyText: string | null;
  /** The resolved topology (ResolvedTopology) as JSON text. */
  readonly topologyJson: string;
  readonly scenarioName: string | null;
  readonly scenarioText: string | null;
  readonly scenarioJson: string | null;
  readonly untilNs: number | null;
  readonly endVtime: number | null;
  /** Number of events, written when the run finishes (0 while running). */
  readonly events: number;
  /** Hex SHA-256 over the canonical encoding of all events; null until finished. */
  readonly fingerprint: string | null;
  /** The stored status, or `crashed` for a `running` run nobody writes any more. */
  readonly status: ReportedRunStatus;
  readonly exitReason: string | null;
  readonly versions: RunVersions;
  readonly startedWall: string;
  readonly endedWall: string | null;
}

/** One start of one node process (`nodes` row); a restart adds a row with the next incarnation. */
export interface NodeRecord {
  readonly id: string;
  readonly kind: string;
  /** 0 for the first start, +1 for every restart. */
  readonly incarnation: number;
  readonly pid: number | null;
  readonly machine: string | null;
  readonly startedWall: string;
  readonly exitedWall: string | null;
  readonly exitCode: number | null;
  readonly exitSignal: string | null;
}

/** A wire of the resolved topology (`wires` row); impairments as JSON text. */
export interface WireRecord {
  readonly id: string;
  readonly kind: string;
  readonly aNode: string;
  readonly aPort: string;
  readonly bNode: string;
  readonly bPort: string;
  readonly latencyNs: number;
  readonly bandwidthBps: number;
  readonly impairments: string;
}

/** A `checkpoints` row: the running fingerprint after the first `seq` events. */
export interface CheckpointRecord {
  /** Number of events covered: events [0, seq). */
  readonly seq: number;
  /** Virtual time of event seq - 1, or 0 when seq is 0. */
  readonly vtime: number;
  readonly fingerprint: string;
}

/** An `event_kinds` row; description is null for a kind that was recorded but not registered. */
export interface EventKindRecord {
  readonly kind: string;
  readonly description: string | null;
}
