/**
 * The event log: how fast the recorder takes events, and how fast a recorded run of a million
 * events can be sought through as the UI does it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ReplaySession } from '../../app/server/replay-session.js';
import { EventRecorder } from '../../processes/controller/log/recorder.js';
import { EventLogWriter } from '../../processes/controller/log/writer.js';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import { encode } from '../../shared/codec.js';
import { ALL_EVENT_KINDS, EVENT_KIND_DESCRIPTIONS } from '../../shared/events/catalogue.js';
import type { RecordedEvent } from '../../shared/events.js';
import { seededRandom, syntheticEvents as syntheticUiEvents } from '../../shared/state/testing.js';
import { DEFAULT_LAB_YAML, loadDefaultLab } from '../../shared/topology/load.js';
import { fileMiB, fmt, median, note } from './common.js';

/** Recorder: synthetic events, and how many the controller-like caller appends per call. */
const RECORDER = { events: 200_000, eventsPerAppend: 64 } as const;

/** Replay seek: events in the recorded log, and how many seeks to random events are timed. */
const SEEK = { events: 1_000_000, trials: 50 } as const;

export interface RecorderFigure {
  readonly events: number;
  readonly eventsPerAppend: number;
  readonly meanPayloadBytes: number;
  /**
   * Events per second through the recorder runs use (EventRecorder: its own thread, indexes
   * built at the end), from the first append to finishRun's return.
   */
  readonly eventsPerSec: number;
  /** What the controller's thread pays per event: the appends alone, in µs. */
  readonly mainThreadUsPerEvent: number;
  /** The same events through EventLogWriter on the calling thread, indexes kept from the start. */
  readonly inThread: { readonly eventsPerSec: number; readonly commits: number; readonly checkpoints: number };
  /** close(): index building left over and folding the WAL back into the file, once per run. */
  readonly closeMs: number;
  readonly databaseMiB: number;
}

export interface SeekFigure {
  readonly events: number;
  readonly databaseMiB: number;
  /** Opening the log and seeking to its last event. */
  readonly firstMs: number;
  /** Later seeks to random events. */
  readonly laterMs: { readonly median: number; readonly p95: number; readonly max: number };
  readonly trials: number;
}

/** Synthetic events shaped like a run's: every node of the default lab, real kinds, ~60-byte msgpack payloads. */
function syntheticEvents(count: number): RecordedEvent[] {
  const nodes = ['controller', ...loadDefaultLab().nodes.map((n) => n.id)];
  const kinds = ALL_EVENT_KINDS;
  const events: RecordedEvent[] = [];
  for (let seq = 0; seq < count; seq++) {
    const node = nodes[seq % nodes.length]!;
    const kind = kinds[seq % kinds.length]!;
    const payload = encode({ port: 'p0', wire: 'up-01a-a', srcSeq: seq, len: 64 + (seq % 1400), ok: true, ch: 'eth' });
    events.push({ seq, vtime: seq * 1000, node, kind, cause: seq > 0 && seq % 3 !== 0 ? seq - 1 : null, payload, volatile: null });
  }
  return events;
}

/** A new event log with a run of the default lab begun, for synthetic events. */
function openBenchLog<W extends EventLogWriter | EventRecorder>(writer: W, id: string): W {
  writer.beginRun({
    id,
    seed: 1,
    mode: 'in-process',
    topology: loadDefaultLab(),
    topologyFile: null,
    topologyText: DEFAULT_LAB_YAML,
    scenario: null,
    untilNs: null,
    zeromqVersion: null,
    eventKinds: EVENT_KIND_DESCRIPTIONS,
  });
  return writer;
}

/**
 * How many events per second the SQLite recorder accepts, committing in its own batches, with
 * the fingerprint and periodic checkpoints it keeps. Events are prepared before the clock starts
 * (the controller receives them already encoded from the nodes) and handed over in small
 * appends, as the controller hands over one window at a time.
 */
export function measureRecorder(): RecorderFigure {
  note(`[recorder] ${fmt(RECORDER.events, 0)} events, appends of ${RECORDER.eventsPerAppend}, in the calling thread and in a thread of its own`);
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  try {
    const events = syntheticEvents(RECORDER.events);
    const meanPayloadBytes = events.reduce((sum, e) => sum + e.payload.length, 0) / events.length;
    const end = { status: 'completed', endVtime: events[events.length - 1]!.vtime, exitReason: null } as const;

    const direct = openBenchLog(EventLogWriter.open(join(dir, 'direct.db'), { dpulabVersion: DPULAB_VERSION }), 'bench-recorder');
    const d0 = performance.now();
    for (let i = 0; i < events.length; i += RECORDER.eventsPerAppend) direct.append(events.slice(i, i + RECORDER.eventsPerAppend));
    direct.finishRun(end);
    const directMs = performance.now() - d0;
    const stats = direct.stats;
    direct.close();

    const path = join(dir, 'threaded.db');
    const threaded = openBenchLog(EventRecorder.open(path, { dpulabVersion: DPULAB_VERSION, deferIndexes: true }), 'bench-recorder');
    try {
      const t0 = performance.now();
      for (let i = 0; i < events.length; i += RECORDER.eventsPerAppend) threaded.append(events.slice(i, i + RECORDER.eventsPerAppend));
      const appendMs = performance.now() - t0;
      threaded.finishRun(end);
      const ms = performance.now() - t0;
      const c0 = performance.now();
      threaded.close();
      const closeMs = performance.now() - c0;
      note(`      ${fmt(events.length / (ms / 1000), 0)} events/s threaded, ${fmt(events.length / (directMs / 1000), 0)} in the calling thread`);
      return {
        events: events.length,
        eventsPerAppend: RECORDER.eventsPerAppend,
        meanPayloadBytes,
        eventsPerSec: events.length / (ms / 1000),
        mainThreadUsPerEvent: (appendMs * 1000) / events.length,
        inThread: { eventsPerSec: events.length / (directMs / 1000), commits: stats.commits, checkpoints: stats.checkpoints },
        closeMs,
        databaseMiB: fileMiB(path),
      };
    } finally {
      threaded.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Seeking in a recorded run of a million events, as the UI does it (ReplaySession over the SQLite
 * log). The events are the UI's synthetic stream (every kind the lab state folds), written
 * through the recorder as a run writes them (lab state stored every 2000 events). The first seek
 * (opening the log included) goes to the last event; later ones to random events.
 */
export async function measureSeek(): Promise<SeekFigure> {
  note(`[seek] ${fmt(SEEK.events, 0)} events, then ${SEEK.trials} seeks`);
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  try {
    const path = join(dir, 'seek.db');
    // Recorded as runs are: through the recorder's thread, which stores the lab state as it goes.
    const writer = openBenchLog(EventRecorder.open(path, { dpulabVersion: DPULAB_VERSION, deferIndexes: true, labSnapshots: true }), 'bench-seek');
    try {
      const next = syntheticUiEvents(11);
      const batch: RecordedEvent[] = [];
      let vtime = 0;
      for (let seq = 0; seq < SEEK.events; seq++) {
        vtime += 1000 + (seq % 7) * 250;
        const e = next(seq, vtime);
        batch.push({ seq, vtime, node: e.node, kind: e.kind, cause: e.cause, payload: encode(e.payload), volatile: null });
        if (batch.length === 4096) writer.append(batch.splice(0));
      }
      writer.append(batch);
      writer.finishRun({ status: 'completed', endVtime: vtime, exitReason: null });
    } finally {
      writer.close();
    }

    const f0 = performance.now();
    const session = new ReplaySession(path);
    try {
      session.stateAt(SEEK.events - 1);
      const firstMs = performance.now() - f0;
      note(`      first seek ${fmt(firstMs, 0)} ms`);
      const random = seededRandom(5);
      const times: number[] = [];
      for (let i = 0; i < SEEK.trials; i++) {
        const at = Math.floor(random() * SEEK.events);
        const t0 = performance.now();
        const state = session.stateAt(at);
        times.push(performance.now() - t0);
        if (state.seq !== at) throw new Error(`Seek to ${at} gave the state at ${state.seq}`);
      }
      const sorted = [...times].sort((a, b) => a - b);
      return {
        events: SEEK.events,
        databaseMiB: fileMiB(path),
        firstMs,
        laterMs: { median: median(times), p95: sorted[Math.floor(sorted.length * 0.95)]!, max: sorted[sorted.length - 1]! },
        trials: SEEK.trials,
      };
    } finally {
      await session.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
