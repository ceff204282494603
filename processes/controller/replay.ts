import { eventInput } from '../../shared/events/typed.js';
import { decode } from '../../shared/codec.js';
import type { RecordedEvent, VTime } from '../../shared/events.js';
import { loadTopology } from '../../shared/topology/load.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { planInput } from './actions.js';
import { Controller, type EventSink, type RecordedStop, type StopReason, type TimedInput } from './controller.js';
import { InProcessCluster } from './in-process.js';
import { canonicalEventBytes, Fingerprint } from './log/fingerprint.js';
import { EventLogReader, type FingerprintVerification } from './log/reader.js';
import { MultiProcessCluster } from './multi-process.js';
import type { RunMode } from './session.js';
import type { CheckedEvent } from '../../shared/invariants/types.js';

/** An event as shown when naming a divergence. */
export type EventView = CheckedEvent;

/** The first place where a re-execution differs from the recording. */
export interface Divergence {
  readonly seq: number;
  /** Null when the recording has no event there (the re-execution went on longer). */
  readonly recorded: EventView | null;
  /** Null when the re-execution ended before the recording did. */
  readonly replayed: EventView | null;
  /** Which fields differ, e.g. ["payload"]. */
  readonly fields: string[];
}

/**
 * What the verification found: `identical` for a run that ran to its end; `stopped` for one that
 * stopped early (interrupted, or failed over its event budget), verified up to its stop;
 * `incomplete` for one whose controller died, verified as far as its log goes; `diverged` when an
 * event differs or the stored events no longer match their fingerprint.
 */
export type ReplayOutcome = 'identical' | 'stopped' | 'incomplete' | 'diverged';

/** Where and why a recorded run stopped early (its `run.stop` event). */
export interface ReplayStop {
  readonly seq: number;
  readonly vtime: VTime;
  readonly reason: StopReason;
  readonly detail: string | null;
}

export interface ReplayVerdict {
  /** True for `identical` and `stopped`: everything the run did was re-executed identically. */
  readonly ok: boolean;
  readonly outcome: ReplayOutcome;
  /** The recorded stop, for a run that stopped early. */
  readonly stop: ReplayStop | null;
  /** For an incomplete run: virtual time of its last recorded event. */
  readonly lastVtime: VTime | null;
  /** The run's status as the reader reports it (`crashed` for a run whose controller died). */
  readonly recordedStatus: string;
  /** The run's recorded exit reason. */
  readonly exitReason: string | null;
  readonly db: string;
  readonly mode: RunMode;
  readonly recordedEvents: number;
  readonly replayedEvents: number;
  readonly storedFingerprint: string | null;
  /** Fingerprint of the re-executed events (up to the divergence, if any). */
  readonly replayedFingerprint: string;
  readonly divergence: Divergence | null;
  /** Whether the stored events still hash to the stored fingerprint and checkpoints. */
  readonly integrity: FingerprintVerification;
  readonly wallMs: number;
}

function view(e: RecordedEvent): EventView {
  let payload: unknown;
  try {
    payload = decode(e.payload);
  } catch {
    payload = `<${e.payload.length} undecodable bytes>`;
  }
  return { seq: e.seq, vtime: e.vtime, node: e.node, kind: e.kind, cause: e.cause, payload };
}

function differingFields(a: RecordedEvent, b: RecordedEvent): string[] {
  const fields: string[] = [];
  if (a.seq !== b.seq) fields.push('seq');
  if (a.vtime !== b.vtime) fields.push('vtime');
  if (a.node !== b.node) fields.push('node');
  if (a.kind !== b.kind) fields.push('kind');
  if (a.cause !== b.cause) fields.push('cause');
  if (Buffer.compare(a.payload, b.payload) !== 0) fields.push('payload');
  return fields;
}

/** Compares re-executed events with the recorded ones as they come, and stops at the first difference. */
class ComparingSink implements EventSink {
  readonly fingerprint = new Fingerprint();
  divergence: Divergence | null = null;
  replayed = 0;

  /** Set when the recording ran out before the re-execution, for a recording that may end anywhere. */
  exhausted = false;

  /**
   * @param partial The recording ends where its controller died: running out of recorded events is
   *   its end, not a divergence.
   */
  constructor(
    private readonly recorded: Iterator<RecordedEvent>,
    private readonly partial: boolean,
  ) {}

  append(events: readonly RecordedEvent[]): boolean {
    if (this.divergence || this.exhausted) return false;
    for (const e of events) {
      const next = this.recorded.next();
      if (next.done && this.partial) {
        this.exhausted = true;
        return false;
      }
      const stored = next.done ? null : next.value;
      if (!stored || Buffer.compare(canonicalEventBytes(stored), canonicalEventBytes(e)) !== 0) {
        this.divergence = { seq: e.seq, recorded: stored ? view(stored) : null, replayed: view(e), fields: stored ? differingFields(stored, e) : ['(missing in recording)'] };
        return false;
      }
      this.fingerprint.update(e);
      this.replayed++;
    }
    return true;
  }

  /** After the run: events the recording has beyond what was re-executed. */
  finish(): void {
    if (this.divergence || this.exhausted) return;
    const next = this.recorded.next();
    if (!next.done) {
      this.divergence = { seq: next.value.seq, recorded: view(next.value), replayed: null, fields: ['(missing in re-execution)'] };
    }
  }
}

/** The topology a recording ran on, re-validated from its stored source. */
function recordedTopology(reader: EventLogReader): ResolvedTopology {
  const run = reader.run();
  if (run.topologyText !== null) return loadTopology(run.topologyText, run.topologyFile ?? `${reader.path} (stored topology)`);
  return JSON.parse(run.topologyJson) as ResolvedTopology;
}

/**
 * Re-executes a recorded run from its seed, topology and recorded inputs, and compares every event
 * with the recording. Also re-hashes the stored events, so a log altered after the fact fails even
 * where the alteration happens to match.
 */
export async function verifyReplay(db: string, options: { mode?: RunMode; log?: (line: string) => void } = {}): Promise<ReplayVerdict> {
  const started = Date.now();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const reader = EventLogReader.open(db);
  try {
    const run = reader.run();
    const integrity = reader.verifyFingerprint();
    const topology = recordedTopology(reader);
    const inputs: TimedInput[] = [];
    for (const e of reader.events({ kinds: ['input.*'] })) {
      inputs.push({ atNs: e.vtime, record: eventInput(e) });
    }
    const mode = options.mode ?? run.mode;
    const endNs = run.untilNs ?? run.endVtime ?? 0;
    const stop = recordedStop(reader);
    // A crashed run's log ends anywhere; so does one still being written, and one that failed
    // without a recorded stop (its log could not be written further: a full disk).
    const partial = run.status === 'crashed' || run.status === 'running' || (run.status === 'failed' && stop === null);
    const recorded = reader.events()[Symbol.iterator]();
    const sink = new ComparingSink(recorded, partial);
    const cluster = mode === 'in-process' ? new InProcessCluster(topology, run.seed) : new MultiProcessCluster({ topology, seed: run.seed, log });
    try {
      const stopAt: RecordedStop | undefined = stop ? { vtime: stop.vtime, reason: stop.reason, detail: stop.detail } : undefined;
      const controller = new Controller({ topology, cluster, sink, endNs, inputs, plan: (record) => planInput(topology, record), ...(stopAt ? { stopAt } : {}) });
      await controller.run();
      sink.finish();
    } finally {
      recorded.return?.();
      await cluster.dispose();
    }
    const recordedEvents = reader.count();
    // A run that never finished has no run fingerprint: its checkpoints are what can be verified.
    const intact = partial ? integrity.checkpointsOk : integrity.ok;
    const outcome: ReplayOutcome = sink.divergence !== null || !intact ? 'diverged' : partial ? 'incomplete' : stop !== null ? 'stopped' : 'identical';
    const last = partial && recordedEvents > 0 ? reader.eventAt(recordedEvents - 1) : undefined;
    return {
      ok: outcome === 'identical' || outcome === 'stopped',
      outcome,
      stop,
      lastVtime: outcome === 'incomplete' ? (last?.vtime ?? 0) : null,
      recordedStatus: run.status,
      exitReason: run.exitReason,
      db,
      mode,
      recordedEvents,
      replayedEvents: sink.replayed,
      storedFingerprint: run.fingerprint,
      replayedFingerprint: sink.fingerprint.digestHex(),
      divergence: sink.divergence,
      integrity,
      wallMs: Date.now() - started,
    };
  } finally {
    reader.close();
  }
}

/** The recording's `run.stop` event, if the run stopped early. */
function recordedStop(reader: EventLogReader): ReplayStop | null {
  for (const e of reader.events({ kinds: ['run.stop'], nodes: ['controller'], limit: 1 })) {
    const p = decode(e.payload) as { reason?: unknown; detail?: unknown };
    const reason: StopReason = p.reason === 'event-budget' ? 'event-budget' : 'interrupted';
    return { seq: e.seq, vtime: e.vtime, reason, detail: typeof p.detail === 'string' ? p.detail : null };
  }
  return null;
}
