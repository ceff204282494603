/**
 * dpulab benchmark: `npm run bench` prints readable figures, `npm run bench -- --json` prints the
 * same figures as one JSON object, last on stdout. Progress and notes go to stderr.
 *
 * Every figure is measured in the same run, and speeds are also given as ratios to a baseline
 * measured in that run (raw ZeroMQ messages per second between two processes), so results from
 * different machines can be compared by their ratios. Nothing here passes or fails: it reports.
 *
 * Figures:
 *   1. raw ZeroMQ PAIR message rate between two processes over ipc:// (the baseline);
 *   2. runtime event and window rates of the default lab, multi-process and in-process;
 *   3. recorder (EventLogWriter) events per second;
 *   4. start-up time and memory per process for a 100-node topology;
 *   5. emulated frames per wall second end to end, VM to VM across two hosts, multi-process and
 *      in-process;
 *   6. replay seek in a recorded run of a million events (first seek, then random seeks, as a
 *      ratio to the first);
 *   and the machine context.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Pair } from 'zeromq';
import { MultiProcessCluster } from '../../processes/controller/multi-process.js';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { EventLogWriter } from '../../processes/controller/log/writer.js';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import { startRun, type RunMode, type RunSummary } from '../../processes/controller/session.js';
import { SendQueue } from '../../processes/node/send-queue.js';
import { decode, encode } from '../../shared/codec.js';
import { ALL_EVENT_KINDS, EVENT_KIND_DESCRIPTIONS } from '../../shared/events/catalogue.js';
import type { RecordedEvent } from '../../shared/events.js';
import { DEFAULT_LAB_YAML, loadDefaultLab, loadTopology } from '../../shared/topology/load.js';
import { ReplaySession } from '../../app/server/replay-session.js';
import { seededRandom, syntheticEvents as syntheticUiEvents } from '../../shared/state/testing.js';
import { BIG_NODES, bigTopologyYaml } from './big-topology.js';

const require = createRequire(import.meta.url);
const MIB = 1024 * 1024;

/** Raw ZeroMQ: messages per trial, their size, and how many trials (the median is reported). */
const ZMQ_MESSAGES = 200_000;
const ZMQ_MESSAGE_BYTES = 120;
const ZMQ_TRIALS = 3;
/** Messages pushed into the send queue before waiting for it to drain, like one window's frames. */
const ZMQ_BURST = 1024;
/** The backlog trial: this many messages pushed into the send queue at once, before any is sent. */
const ZMQ_BACKLOG = 50_000;

/**
 * Runtime: virtual time per run of the default lab, chosen per mode so that each run lasts a
 * few wall seconds (in-process is far faster). The traffic is periodic, so rates per wall
 * second compare across the two lengths.
 */
const RUNTIME_UNTIL_NS: Readonly<Record<RunMode, number>> = { 'multi-process': 60e9, 'in-process': 1200e9 };
/** In-process runs speed up as the JIT warms: one short warm-up run, then the median of several. */
const IN_PROCESS_RUNS = 3;

/** Recorder: synthetic events, and how many the controller-like caller appends per call. */
const RECORDER_EVENTS = 200_000;
const RECORDER_EVENTS_PER_APPEND = 64;

/** Replay seek: events in the recorded log, and how many seeks to random events are timed. */
const SEEK_EVENTS = 1_000_000;
const SEEK_TRIALS = 50;

/**
 * VM to VM: one UDP flow from web-01 (esx-01) to web-02 (esx-02) across the overlay, at a high
 * rate. The flow stops 50 ms before the end so nothing is in flight when the run ends. The
 * virtual length is short because the multi-process run advances in small windows (about
 * 10 s of wall time for 0.5 s virtual on a typical machine).
 */
const VM_TO_VM = {
  flow: 'vm-to-vm',
  from: 'web-01',
  to: 'web-02',
  ratePps: 20_000,
  payloadBytes: 1000,
  startNs: 100e6,
  stopNs: 450e6,
  endNs: 500e6,
} as const;
/** As for figure 2: one in-process warm-up run, then the median of several. */
const VM_TO_VM_IN_PROCESS_RUNS = 3;

// ---------------------------------------------------------------------------------------------
// Output and clean-up plumbing.

/** Progress and notes: always stderr, so stdout carries only the report. */
function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Kill-now actions for whatever is running, used when the bench is interrupted. */
const emergencyCleanups = new Set<() => void>();
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    note(`bench: ${signal}, killing child processes`);
    for (const cleanup of emergencyCleanups) cleanup();
    process.exit(code);
  });
}

/** Rejects with `what` when `promise` takes longer than `ms`. */
async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The median of a non-empty list. */
function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// 1. Raw ZeroMQ between two processes.

interface ZmqTrial {
  readonly seconds: number;
  readonly messagesPerSec: number;
}

interface ZmqFigure {
  readonly messages: number;
  readonly messageBytes: number;
  /** Messages pushed into the send queue before each wait for it to drain. */
  readonly burst: number;
  readonly trials: ZmqTrial[];
  /** Median of the trials: the baseline every ratio in this report divides by. */
  readonly messagesPerSec: number;
  readonly megabytesPerSec: number;
  /** The same path with a whole backlog queued at once (a node emitting many frames in one window). */
  readonly backlog: { readonly messages: number; readonly messagesPerSec: number; readonly vsBaseline: number };
}

/** Waits for a child process to exit; resolves at once if it already has. */
function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * One trial of the baseline: how many ~120-byte messages per second one process can push to
 * another over a ZeroMQ PAIR socket on ipc://, sending through the project's SendQueue (one
 * pending send per socket, unlimited high-water mark) exactly as node processes send wire frames.
 * The clock runs from the first send until the receiver's acknowledgement of the last message,
 * so it counts delivery, not just queueing. This is the ceiling the runtime's wires could reach.
 */
async function zmqTrial(messages: number, messageBytes: number, burst: number): Promise<ZmqTrial> {
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  const endpoint = `ipc://${dir}/w`;
  const socket = new Pair({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
  const queue = new SendQueue(socket);
  let child: ChildProcess | null = null;
  const kill = (): void => void child?.kill('SIGKILL');
  emergencyCleanups.add(kill);
  try {
    await socket.bind(endpoint);
    const peer = fileURLToPath(new URL('./zmq-peer.js', import.meta.url));
    child = spawn(process.execPath, [peer, endpoint, String(messages)], { stdio: ['pipe', 'ignore', 'inherit'] });
    const died = exitOf(child).then(() => {
      throw new Error(`zmq-peer exited early (code ${String(child?.exitCode)}, signal ${String(child?.signalCode)})`);
    });
    died.catch(() => undefined);
    const hello = await withDeadline(Promise.race([socket.receive(), died]), 10_000, 'zmq-peer hello');
    if (hello[0]?.toString() !== 'hello') throw new Error('zmq-peer did not say hello');

    const payload = Buffer.alloc(messageBytes, 0x5a);
    const ack = socket.receive();
    const t0 = performance.now();
    for (let sent = 0; sent < messages; ) {
      const n = Math.min(burst, messages - sent);
      for (let i = 0; i < n; i++) queue.push(payload);
      sent += n;
      await queue.drain();
      if (queue.error) throw queue.error;
    }
    const [answer] = await withDeadline(Promise.race([ack, died]), 60_000, 'zmq-peer acknowledgement');
    const seconds = (performance.now() - t0) / 1000;
    const counted = JSON.parse(answer?.toString() ?? '{}') as { count?: number; bytes?: number };
    if (counted.count !== messages || counted.bytes !== messages * messageBytes) {
      throw new Error(`zmq-peer counted ${String(counted.count)} messages / ${String(counted.bytes)} bytes, expected ${messages}`);
    }
    return { seconds, messagesPerSec: messages / seconds };
  } finally {
    queue.close();
    socket.close();
    if (child) {
      const gone = exitOf(child);
      child.stdin?.end();
      await withDeadline(gone, 2_000, 'zmq-peer exit').catch(() => {
        child?.kill('SIGKILL');
        return exitOf(child!);
      });
    }
    emergencyCleanups.delete(kill);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Figure 1, the baseline: raw ZeroMQ message rate one way between two processes. A short
 * warm-up trial first (JIT, page cache), then the median of several trials, sending in bursts
 * of one window's worth of frames. A last trial queues a whole backlog at once, as a node does
 * when one window produces many frames: it shows what the send queue costs when it runs long.
 */
async function measureZmq(): Promise<ZmqFigure> {
  note(`[figure 1] raw ZeroMQ: warm-up, then ${ZMQ_TRIALS} x ${ZMQ_MESSAGES.toLocaleString('en-US')} messages of ${ZMQ_MESSAGE_BYTES} bytes`);
  await zmqTrial(Math.floor(ZMQ_MESSAGES / 10), ZMQ_MESSAGE_BYTES, ZMQ_BURST);
  const trials: ZmqTrial[] = [];
  for (let i = 0; i < ZMQ_TRIALS; i++) {
    const trial = await zmqTrial(ZMQ_MESSAGES, ZMQ_MESSAGE_BYTES, ZMQ_BURST);
    note(`      trial ${i + 1}: ${fmt(trial.messagesPerSec, 0)} msg/s`);
    trials.push(trial);
  }
  const messagesPerSec = median(trials.map((t) => t.messagesPerSec));
  note(`      backlog: ${ZMQ_BACKLOG.toLocaleString('en-US')} messages queued at once`);
  const backlog = await zmqTrial(ZMQ_BACKLOG, ZMQ_MESSAGE_BYTES, ZMQ_BACKLOG);
  return {
    messages: ZMQ_MESSAGES,
    messageBytes: ZMQ_MESSAGE_BYTES,
    burst: ZMQ_BURST,
    trials,
    messagesPerSec,
    megabytesPerSec: (messagesPerSec * ZMQ_MESSAGE_BYTES) / MIB,
    backlog: { messages: ZMQ_BACKLOG, messagesPerSec: backlog.messagesPerSec, vsBaseline: backlog.messagesPerSec / messagesPerSec },
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Runtime event rate.

interface RuntimeRun {
  readonly mode: RunMode;
  readonly status: string;
  readonly crashed: number;
  /** The run's event-log fingerprint: equal for equal runs in either mode. */
  readonly fingerprint: string;
  readonly events: number;
  readonly windows: number;
  readonly virtualSeconds: number;
  /** Wall time of the whole run, start-up and shut-down of the nodes included. */
  readonly wallMs: number;
  readonly eventsPerSec: number;
  readonly windowsPerSec: number;
  readonly eventsPerWindow: number;
  /** Virtual seconds simulated per wall second. */
  readonly speedup: number;
  /** Rates between the first and the last window only: start-up and shut-down excluded. */
  readonly steady: { readonly eventsPerSec: number; readonly windowsPerSec: number; readonly wallMs: number };
  readonly eventsPerSecVsZmq: number;
  readonly windowsPerSecVsZmq: number;
}

interface ProgressPoint {
  /** performance.now() when the window ended. */
  readonly t: number;
  readonly events: number;
  readonly windows: number;
}

interface RuntimeFigure {
  readonly workload: string;
  readonly multiProcess: RuntimeRun;
  /** The in-process run with the median event rate. */
  readonly inProcess: RuntimeRun;
  /** Event rates of every measured in-process run. */
  readonly inProcessEventsPerSec: number[];
  /** Event rate of the short in-process warm-up run, left out of the median. */
  readonly inProcessWarmUpEventsPerSec: number;
  /** Whether the multi-process run and the in-process warm-up run (same lab, seed and length) recorded the same events. */
  readonly fingerprintsMatch: boolean;
  /** Multi-process events per second divided by in-process events per second. */
  readonly multiOverIn: number;
  readonly steadyMultiOverIn: number;
}

/**
 * One run of the embedded default lab in a mode, as fast as it goes (batch mode), recorded to a
 * throwaway database. Reports the whole-run rates the user experiences (summary.events over
 * summary.wallMs) and the steady rates between the first and the last window, which leave out
 * process start-up and shut-down.
 */
async function runtimeRun(mode: RunMode, untilNs: number, zmqRate: number): Promise<RuntimeRun> {
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  /** Wall time and counters at the end of the first and of the latest window. */
  const progress: { first: ProgressPoint | null; last: ProgressPoint | null } = { first: null, last: null };
  try {
    const run = startRun({
      mode,
      untilNs,
      db: join(dir, `bench-${mode}.db`),
      log: note,
      onProgress: (p) => {
        const point = { t: performance.now(), events: p.events, windows: p.windows };
        progress.first ??= point;
        progress.last = point;
      },
    });
    emergencyCleanups.add(run.killNow);
    try {
      const summary = await run.done;
      const { first, last } = progress;
      const steadyMs = first && last ? last.t - first.t : 0;
      const steadyEvents = first && last ? last.events - first.events : 0;
      const steadyWindows = first && last ? last.windows - first.windows : 0;
      const eventsPerSec = summary.events / (summary.wallMs / 1000);
      const windowsPerSec = summary.windows / (summary.wallMs / 1000);
      return {
        mode,
        status: summary.status,
        crashed: summary.crashed.length,
        fingerprint: summary.fingerprint,
        events: summary.events,
        windows: summary.windows,
        virtualSeconds: summary.virtualTimeNs / 1e9,
        wallMs: summary.wallMs,
        eventsPerSec,
        windowsPerSec,
        eventsPerWindow: summary.events / summary.windows,
        speedup: summary.virtualTimeNs / 1e9 / (summary.wallMs / 1000),
        steady: {
          eventsPerSec: steadyMs > 0 ? steadyEvents / (steadyMs / 1000) : 0,
          windowsPerSec: steadyMs > 0 ? steadyWindows / (steadyMs / 1000) : 0,
          wallMs: steadyMs,
        },
        eventsPerSecVsZmq: eventsPerSec / zmqRate,
        windowsPerSecVsZmq: windowsPerSec / zmqRate,
      };
    } finally {
      emergencyCleanups.delete(run.killNow);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs one warm-up (JIT, caches), then `times` measured runs, and picks the median run by `rate`:
 * in-process runs are short enough that one slow run on a shared machine would skew a mean.
 */
async function warmedUpMedian<R>(
  warmUpRun: () => Promise<R>,
  measuredRun: () => Promise<R>,
  times: number,
  rate: (run: R) => number,
  describe: (run: R) => string,
): Promise<{ warmUp: R; runs: R[]; median: R }> {
  const warmUp = await warmUpRun();
  note(`      in-process warm-up: ${describe(warmUp)}`);
  const runs: R[] = [];
  for (let i = 0; i < times; i++) {
    const run = await measuredRun();
    note(`      in-process: ${describe(run)}`);
    runs.push(run);
  }
  const byRate = [...runs].sort((a, b) => rate(a) - rate(b));
  return { warmUp, runs, median: byRate[Math.floor(byRate.length / 2)]! };
}

/**
 * Figure 2: how fast the runtime turns virtual time into recorded events, with every node its
 * own process (frames over ZeroMQ, windows granted over the control sockets) and with every
 * node in the controller's process. Their ratio is the price of process isolation.
 */
async function measureRuntime(zmqRate: number): Promise<RuntimeFigure> {
  const multiNs = RUNTIME_UNTIL_NS['multi-process'];
  const inNs = RUNTIME_UNTIL_NS['in-process'];
  note(`[figure 2] runtime: default lab, multi-process for ${multiNs / 1e9} s virtual, then in-process for ${inNs / 1e9} s virtual ${IN_PROCESS_RUNS} times after a warm-up`);
  const multiProcess = await runtimeRun('multi-process', multiNs, zmqRate);
  note(`      multi-process: ${fmt(multiProcess.events, 0)} events in ${fmt(multiProcess.wallMs, 0)} ms`);
  const { warmUp, runs: inProcessRuns, median: inProcess } = await warmedUpMedian(
    () => runtimeRun('in-process', multiNs, zmqRate),
    () => runtimeRun('in-process', inNs, zmqRate),
    IN_PROCESS_RUNS,
    (r) => r.eventsPerSec,
    (r) => `${fmt(r.events, 0)} events in ${fmt(r.wallMs, 0)} ms`,
  );
  return {
    workload: 'default lab (2 hosts, 4 DPUs, 2 switches), batch mode; sparse traffic (LLDP and heartbeats only)',
    multiProcess,
    inProcess,
    inProcessEventsPerSec: inProcessRuns.map((r) => r.eventsPerSec),
    inProcessWarmUpEventsPerSec: warmUp.eventsPerSec,
    fingerprintsMatch: multiProcess.fingerprint === warmUp.fingerprint,
    multiOverIn: multiProcess.eventsPerSec / inProcess.eventsPerSec,
    steadyMultiOverIn: multiProcess.steady.eventsPerSec / inProcess.steady.eventsPerSec,
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Recorder.

interface RecorderFigure {
  readonly events: number;
  readonly eventsPerAppend: number;
  readonly meanPayloadBytes: number;
  /** append of every event plus finishRun: what a run pays for recording. */
  readonly ms: number;
  readonly eventsPerSec: number;
  readonly eventsPerSecVsZmq: number;
  readonly commits: number;
  readonly checkpoints: number;
  /** close(): folding the WAL back into the database file, once per run. */
  readonly closeMs: number;
  readonly databaseMiB: number;
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

/** A new event log at `path` with a run of the default lab begun, for synthetic events. */
function openBenchLog(path: string, id: string): EventLogWriter {
  const writer = EventLogWriter.open(path, { dpulabVersion: DPULAB_VERSION });
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
 * Figure 3: how many events per second the SQLite recorder accepts, committing in its own
 * batches, with the fingerprint and periodic checkpoints it keeps. Events are prepared before
 * the clock starts (the controller receives them already encoded from the nodes) and handed
 * over in small appends, as the controller hands over one window at a time.
 */
function measureRecorder(zmqRate: number): RecorderFigure {
  note(`[figure 3] recorder: ${RECORDER_EVENTS.toLocaleString('en-US')} events, appends of ${RECORDER_EVENTS_PER_APPEND}`);
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  try {
    const events = syntheticEvents(RECORDER_EVENTS);
    const meanPayloadBytes = events.reduce((sum, e) => sum + e.payload.length, 0) / events.length;
    const path = join(dir, 'recorder.db');
    const writer = openBenchLog(path, 'bench-recorder');
    try {
      const t0 = performance.now();
      for (let i = 0; i < events.length; i += RECORDER_EVENTS_PER_APPEND) {
        writer.append(events.slice(i, i + RECORDER_EVENTS_PER_APPEND));
      }
      writer.finishRun({ status: 'completed', endVtime: events[events.length - 1]!.vtime, exitReason: null });
      const ms = performance.now() - t0;
      const stats = writer.stats;
      const c0 = performance.now();
      writer.close();
      const closeMs = performance.now() - c0;
      const eventsPerSec = events.length / (ms / 1000);
      return {
        events: events.length,
        eventsPerAppend: RECORDER_EVENTS_PER_APPEND,
        meanPayloadBytes,
        ms,
        eventsPerSec,
        eventsPerSecVsZmq: eventsPerSec / zmqRate,
        commits: stats.commits,
        checkpoints: stats.checkpoints,
        closeMs,
        databaseMiB: fileMiB(path),
      };
    } finally {
      writer.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface SeekFigure {
  readonly events: number;
  readonly databaseMiB: number;
  /** Opening the log and seeking to its last event: one fold of every event, done once per opened run. */
  readonly firstSeekMs: number;
  readonly firstSeekEventsPerSec: number;
  readonly trials: number;
  readonly seekMs: { readonly median: number; readonly p95: number; readonly max: number };
  /** Median seek over the time the first seek took to fold the whole log. */
  readonly medianVsFullFold: number;
}

/**
 * Figure 6: seeking in a recorded run of a million events, as the UI does it (ReplaySession over
 * the SQLite log). The events are the UI's synthetic stream (every kind the lab state folds),
 * written through the recorder. The first seek folds the whole log once and keeps snapshots;
 * every later seek starts from the nearest snapshot and reads the rest from the log.
 */
async function measureSeek(): Promise<SeekFigure> {
  note(`[figure 6] replay seek: ${SEEK_EVENTS.toLocaleString('en-US')} events, ${SEEK_TRIALS} seeks`);
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  try {
    const path = join(dir, 'seek.db');
    const writer = openBenchLog(path, 'bench-seek');
    try {
      const next = syntheticUiEvents(11);
      const batch: RecordedEvent[] = [];
      let vtime = 0;
      for (let seq = 0; seq < SEEK_EVENTS; seq++) {
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

    const session = new ReplaySession(path);
    try {
      const f0 = performance.now();
      session.stateAt(SEEK_EVENTS - 1);
      const firstSeekMs = performance.now() - f0;
      const random = seededRandom(5);
      const times: number[] = [];
      for (let i = 0; i < SEEK_TRIALS; i++) {
        const at = Math.floor(random() * SEEK_EVENTS);
        const t0 = performance.now();
        const state = session.stateAt(at);
        times.push(performance.now() - t0);
        if (state.seq !== at) throw new Error(`seek to ${at} gave the state at ${state.seq}`);
      }
      const sorted = [...times].sort((a, b) => a - b);
      const seekMs = { median: median(times), p95: sorted[Math.floor(sorted.length * 0.95)]!, max: sorted[sorted.length - 1]! };
      return {
        events: SEEK_EVENTS,
        databaseMiB: fileMiB(path),
        firstSeekMs,
        firstSeekEventsPerSec: SEEK_EVENTS / (firstSeekMs / 1000),
        trials: SEEK_TRIALS,
        seekMs,
        medianVsFullFold: seekMs.median / firstSeekMs,
      };
    } finally {
      await session.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Size of a file in MiB, 0 when it is missing. */
function fileMiB(path: string): number {
  try {
    return statSync(path).size / MIB;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// 4. Start-up of 100 node processes.

interface StartupFigure {
  readonly topology: string;
  readonly nodes: number;
  readonly wires: number;
  readonly startMs: number;
  readonly msPerProcess: number;
  readonly rssMiB: { readonly mean: number; readonly max: number; readonly min: number; readonly total: number };
  /** Proportional set size: shared pages (node binary, libraries) split between the processes sharing them. */
  readonly pssMiB: { readonly mean: number; readonly total: number } | null;
  readonly controllerRssMiB: number;
  readonly stopMs: number;
  readonly disposeMs: number;
  /** Pids that still answered `kill(pid, 0)` after dispose(); expected empty. */
  readonly stillAlive: number[];
}

/** A `kB` field of /proc/<pid>/status or smaps_rollup, in KiB; null when unreadable. */
function procKiB(pid: number, file: 'status' | 'smaps_rollup', field: string): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (kill(pid, 0) succeeds, or fails other than ESRCH). */
function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Figure 4: what a large lab costs before it does anything. Times MultiProcessCluster.start() for
 * a generated 100-node topology (every process spawned, connected to the controller, its wires
 * set up, ready for a first window), then reads each node's memory from /proc. Ends with stop()
 * and dispose() and checks that no node process survived them.
 */
async function measureStartup(): Promise<StartupFigure> {
  const topology = loadTopology(bigTopologyYaml(), 'bench-100.yaml');
  if (topology.nodes.length !== BIG_NODES) throw new Error(`bench-100.yaml resolved to ${topology.nodes.length} nodes, expected ${BIG_NODES}`);
  note(`[figure 4] start-up: ${topology.nodes.length} node processes, ${topology.wires.length} wires`);
  const cluster = new MultiProcessCluster({ topology, seed: 1, log: note });
  const kill = (): void => cluster.killAllNow();
  emergencyCleanups.add(kill);
  try {
    const t0 = performance.now();
    const infos = await cluster.start();
    const startMs = performance.now() - t0;
    const pids = infos.map((i) => i.pid);
    note(`      started in ${fmt(startMs, 0)} ms`);
    const rssKiB = pids.map((pid) => procKiB(pid, 'status', 'VmRSS')).filter((v): v is number => v !== null);
    if (rssKiB.length !== pids.length) throw new Error(`VmRSS unreadable for ${pids.length - rssKiB.length} node processes`);
    const pssKiB = pids.map((pid) => procKiB(pid, 'smaps_rollup', 'Pss')).filter((v): v is number => v !== null);
    const controllerRssMiB = process.memoryUsage().rss / MIB;

    const s0 = performance.now();
    await cluster.stop();
    const stopMs = performance.now() - s0;
    const d0 = performance.now();
    await cluster.dispose();
    const disposeMs = performance.now() - d0;
    const stillAlive = pids.filter(pidExists);
    const rssTotal = rssKiB.reduce((a, b) => a + b, 0);
    const pssTotal = pssKiB.reduce((a, b) => a + b, 0);
    return {
      topology: topology.name,
      nodes: topology.nodes.length,
      wires: topology.wires.length,
      startMs,
      msPerProcess: startMs / pids.length,
      rssMiB: {
        mean: rssTotal / rssKiB.length / 1024,
        max: Math.max(...rssKiB) / 1024,
        min: Math.min(...rssKiB) / 1024,
        total: rssTotal / 1024,
      },
      pssMiB: pssKiB.length === pids.length ? { mean: pssTotal / pssKiB.length / 1024, total: pssTotal / 1024 } : null,
      controllerRssMiB,
      stopMs,
      disposeMs,
      stillAlive,
    };
  } finally {
    await cluster.dispose();
    emergencyCleanups.delete(kill);
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Emulated frames end to end, VM to VM across two hosts.

interface VmToVmRun {
  readonly mode: RunMode;
  readonly status: string;
  readonly crashed: number;
  readonly fingerprint: string;
  readonly events: number;
  readonly windows: number;
  /** The flow as summary.flows gives it: messages sent by web-01, delivered to web-02, lost. */
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  /** `frame.tx` events in the run's database: every frame put on any wire (Ethernet, PCIe, management). */
  readonly frames: number;
  /** The same, by wire channel (eth, dma, doorbell, mailbox, mgmt). */
  readonly framesByChannel: Readonly<Record<string, number>>;
  /** Wall time of the whole run, start-up and shut-down of the nodes included. */
  readonly wallMs: number;
  readonly deliveredPerSec: number;
  readonly deliveredPerSecVsZmq: number;
  readonly framesPerSec: number;
  readonly framesPerSecVsZmq: number;
  /** Frames on the `eth` channel only (guest packets, GENEVE, LLDP, ARP), per wall second. */
  readonly ethFramesPerSec: number;
  readonly ethFramesPerSecVsZmq: number;
  /**
   * Rates while the flow ran: wall time from the first window ending at or after the flow's start
   * to the first ending at or after its stop. Start-up, shut-down and the idle tail excluded.
   */
  readonly whileFlowing: { readonly wallMs: number; readonly framesPerSec: number; readonly framesPerSecVsZmq: number };
}

interface VmToVmFigure {
  readonly workload: string;
  readonly path: string;
  readonly ratePps: number;
  readonly payloadBytes: number;
  readonly virtualSeconds: number;
  readonly multiProcess: VmToVmRun;
  /** The in-process run with the median frame rate. */
  readonly inProcess: VmToVmRun;
  /** Frame rates of every measured in-process run. */
  readonly inProcessFramesPerSec: number[];
  /** Frame rate of the in-process warm-up run, left out of the median. */
  readonly inProcessWarmUpFramesPerSec: number;
  /** Whether the multi-process run and the in-process warm-up run recorded the same events. */
  readonly fingerprintsMatch: boolean;
  /** Multi-process over in-process, whole runs (frames and delivered messages alike: the counts are equal). */
  readonly multiOverIn: number;
  readonly whileFlowingMultiOverIn: number;
}

/** The scenario of figure 5, as a scenario file would hold it. */
function vmToVmScenarioYaml(): string {
  const v = VM_TO_VM;
  const ms = (ns: number): string => `${ns / 1e6}ms`;
  return [
    'name: bench-vm-to-vm',
    `end: ${ms(v.endNs)}`,
    'steps:',
    `  - { at: ${ms(v.startNs)}, action: flow.start, flow: { id: ${v.flow}, kind: udp, from: ${v.from}, to: ${v.to}, ratePps: ${v.ratePps}, payloadBytes: ${v.payloadBytes} } }`,
    `  - { at: ${ms(v.stopNs)}, action: flow.stop, flow: ${v.flow} }`,
    '',
  ].join('\n');
}

/** Counts the `frame.tx` events of a run's database, by the wire channel in their payload. */
function countFrames(db: string): { frames: number; byChannel: Record<string, number> } {
  const reader = EventLogReader.open(db);
  try {
    let frames = 0;
    const byChannel: Record<string, number> = {};
    for (const event of reader.events({ kinds: ['frame.tx'] })) {
      frames++;
      const channel = String((decode(event.payload) as { channel?: unknown }).channel ?? 'unknown');
      byChannel[channel] = (byChannel[channel] ?? 0) + 1;
    }
    return { frames, byChannel };
  } finally {
    reader.close();
  }
}

/** One run of the default lab with the VM-to-VM scenario in a mode, batch mode, then its frames counted. */
async function vmToVmRun(mode: RunMode, zmqRate: number): Promise<VmToVmRun> {
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  const db = join(dir, `bench-vm-to-vm-${mode}.db`);
  /** performance.now() at the end of the first window at or after the flow's start, and its stop. */
  const marks: { start: number | null; stop: number | null } = { start: null, stop: null };
  try {
    const run = startRun({
      mode,
      db,
      scenario: { text: vmToVmScenarioYaml(), file: 'bench-vm-to-vm.yaml' },
      log: note,
      onProgress: (p) => {
        if (marks.start === null && p.vtime >= VM_TO_VM.startNs) marks.start = performance.now();
        if (marks.stop === null && p.vtime >= VM_TO_VM.stopNs) marks.stop = performance.now();
      },
    });
    emergencyCleanups.add(run.killNow);
    let summary: RunSummary;
    try {
      summary = await run.done;
    } finally {
      emergencyCleanups.delete(run.killNow);
    }
    const flow = summary.flows.find((f) => f.flow === VM_TO_VM.flow);
    if (!flow) throw new Error(`${mode} run has no summary for flow ${VM_TO_VM.flow} (status ${summary.status})`);
    const { frames, byChannel } = countFrames(db);
    const seconds = summary.wallMs / 1000;
    const flowingMs = marks.start !== null && marks.stop !== null ? marks.stop - marks.start : 0;
    const flowingFramesPerSec = flowingMs > 0 ? frames / (flowingMs / 1000) : 0;
    return {
      mode,
      status: summary.status,
      crashed: summary.crashed.length,
      fingerprint: summary.fingerprint,
      events: summary.events,
      windows: summary.windows,
      sent: flow.sent,
      delivered: flow.delivered,
      lost: flow.lost,
      frames,
      framesByChannel: byChannel,
      wallMs: summary.wallMs,
      deliveredPerSec: flow.delivered / seconds,
      deliveredPerSecVsZmq: flow.delivered / seconds / zmqRate,
      framesPerSec: frames / seconds,
      framesPerSecVsZmq: frames / seconds / zmqRate,
      ethFramesPerSec: (byChannel['eth'] ?? 0) / seconds,
      ethFramesPerSecVsZmq: (byChannel['eth'] ?? 0) / seconds / zmqRate,
      whileFlowing: { wallMs: flowingMs, framesPerSec: flowingFramesPerSec, framesPerSecVsZmq: flowingFramesPerSec / zmqRate },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Figure 5: how many emulated frames the runtime carries per wall second when a guest sends as
 * fast as the scenario asks, end to end across the overlay: web-01's guest, its vNIC's VF over
 * PCIe to esx-01's DPU, GENEVE through the switches to esx-02's DPU, over PCIe to web-02's
 * guest. Every hop is a frame on a wire, recorded as `frame.tx`; in multi-process mode each
 * crosses ZeroMQ between two processes, so the ratio to figure 1 is the share of the raw
 * message rate the whole emulation keeps.
 */
async function measureVmToVm(zmqRate: number): Promise<VmToVmFigure> {
  const v = VM_TO_VM;
  note(
    `[figure 5] VM to VM: default lab, UDP ${v.from} -> ${v.to} at ${fmt(v.ratePps, 0)} pps for ${fmt((v.stopNs - v.startNs) / 1e6, 0)} ms virtual; ` +
      `multi-process once, then in-process ${VM_TO_VM_IN_PROCESS_RUNS} times after a warm-up`,
  );
  const multiProcess = await vmToVmRun('multi-process', zmqRate);
  note(`      multi-process: ${fmt(multiProcess.frames, 0)} frames, ${fmt(multiProcess.delivered, 0)} delivered in ${fmt(multiProcess.wallMs, 0)} ms`);
  const { warmUp, runs: inProcessRuns, median: inProcess } = await warmedUpMedian(
    () => vmToVmRun('in-process', zmqRate),
    () => vmToVmRun('in-process', zmqRate),
    VM_TO_VM_IN_PROCESS_RUNS,
    (r) => r.framesPerSec,
    (r) => `${fmt(r.frames, 0)} frames in ${fmt(r.wallMs, 0)} ms`,
  );
  return {
    workload: `default lab, one UDP flow ${v.from} (esx-01) -> ${v.to} (esx-02), ${fmt(v.ratePps, 0)} pps x ${v.payloadBytes} bytes, batch mode`,
    path: 'guest -> VF -> PCIe -> DPU -> GENEVE -> switch -> DPU -> PCIe -> VF -> guest',
    ratePps: v.ratePps,
    payloadBytes: v.payloadBytes,
    virtualSeconds: v.endNs / 1e9,
    multiProcess,
    inProcess,
    inProcessFramesPerSec: inProcessRuns.map((r) => r.framesPerSec),
    inProcessWarmUpFramesPerSec: warmUp.framesPerSec,
    fingerprintsMatch: multiProcess.fingerprint === warmUp.fingerprint,
    multiOverIn: multiProcess.framesPerSec / inProcess.framesPerSec,
    whileFlowingMultiOverIn: multiProcess.whileFlowing.framesPerSec / inProcess.whileFlowing.framesPerSec,
  };
}

// ---------------------------------------------------------------------------------------------
// Machine context, report, main.

interface MachineFigure {
  readonly cpus: number;
  readonly availableParallelism: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly zeromq: string | null;
  readonly dpulab: string;
}

/** Machine context: what the figures were measured on, since every absolute number depends on it. */
function machineContext(): MachineFigure {
  let zeromq: string | null = null;
  try {
    zeromq = (require('zeromq/package.json') as { version: string }).version;
  } catch {
    zeromq = null;
  }
  return {
    cpus: cpus().length,
    availableParallelism: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: totalmem() / 1024 ** 3,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    zeromq,
    dpulab: DPULAB_VERSION,
  };
}

interface Report {
  readonly machine: MachineFigure;
  readonly zmq: ZmqFigure;
  readonly runtime: RuntimeFigure;
  readonly recorder: RecorderFigure;
  readonly startup: StartupFigure;
  readonly vmToVm: VmToVmFigure;
  readonly seek: SeekFigure;
  readonly benchWallMs: number;
}

/** A number with thousands separators and `digits` decimals. */
function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A ratio with three significant digits, e.g. 0.0123x. */
function ratio(value: number): string {
  return `${value.toPrecision(3)}x`;
}

/** The report as aligned, readable lines. */
function readable(r: Report): string {
  const { machine: m, zmq: z, runtime: rt, recorder: rec, startup: s, vmToVm: vv, seek: sk } = r;
  const row = (label: string, value: string): string => `  ${label.padEnd(34)} ${value}`;
  const runRows = (run: RuntimeRun): string[] => [
    row(`${run.mode}: events`, `${fmt(run.events, 0)} in ${fmt(run.windows, 0)} windows (${fmt(run.eventsPerWindow, 2)} per window), ${run.status}${run.crashed ? `, ${run.crashed} crashed` : ''}`),
    row(`${run.mode}: wall time`, `${fmt(run.wallMs, 0)} ms for ${fmt(run.virtualSeconds, 0)} s virtual (${fmt(run.speedup, 1)}x real time)`),
    row(`${run.mode}: events/s`, `${fmt(run.eventsPerSec, 0)}   (${ratio(run.eventsPerSecVsZmq)} raw ZeroMQ)`),
    row(`${run.mode}: windows/s`, `${fmt(run.windowsPerSec, 0)}   (${ratio(run.windowsPerSecVsZmq)} raw ZeroMQ)`),
    row(`${run.mode}: steady events/s`, `${fmt(run.steady.eventsPerSec, 0)}, windows/s ${fmt(run.steady.windowsPerSec, 0)} (first to last window, ${fmt(run.steady.wallMs, 0)} ms)`),
  ];
  const vmRows = (run: VmToVmRun): string[] => [
    row(
      `${run.mode}: messages`,
      `${fmt(run.delivered, 0)} delivered of ${fmt(run.sent, 0)} sent, ${fmt(run.lost, 0)} lost; ${run.status}${run.crashed ? `, ${run.crashed} crashed` : ''}`,
    ),
    row(`${run.mode}: wall time`, `${fmt(run.wallMs, 0)} ms for ${fmt(vv.virtualSeconds, 1)} s virtual, ${fmt(run.windows, 0)} windows`),
    row(`${run.mode}: delivered msgs/s`, `${fmt(run.deliveredPerSec, 0)}   (${ratio(run.deliveredPerSecVsZmq)} raw ZeroMQ)`),
    row(
      `${run.mode}: frames (frame.tx)`,
      `${fmt(run.frames, 0)}: ${Object.entries(run.framesByChannel)
        .sort(([, a], [, b]) => b - a)
        .map(([channel, n]) => `${channel} ${fmt(n, 0)}`)
        .join(', ')}`,
    ),
    row(`${run.mode}: frames/s`, `${fmt(run.framesPerSec, 0)}   (${ratio(run.framesPerSecVsZmq)} raw ZeroMQ)`),
    row(`${run.mode}: Ethernet frames/s`, `${fmt(run.ethFramesPerSec, 0)}   (${ratio(run.ethFramesPerSecVsZmq)} raw ZeroMQ; eth channel only)`),
    row(
      `${run.mode}: frames/s, flowing`,
      `${fmt(run.whileFlowing.framesPerSec, 0)}   (${ratio(run.whileFlowing.framesPerSecVsZmq)} raw ZeroMQ; flow start to stop, ${fmt(run.whileFlowing.wallMs, 0)} ms)`,
    ),
  ];
  return [
    'dpulab benchmark',
    '',
    'Machine',
    row('cpus', `${m.cpus} (available parallelism ${m.availableParallelism}), ${m.cpuModel}`),
    row('memory', `${fmt(m.memoryGiB, 1)} GiB`),
    row('node', `${m.node} on ${m.platform}`),
    row('zeromq / dpulab', `${m.zeromq ?? 'unknown'} / ${m.dpulab}`),
    '',
    '1. Raw ZeroMQ, PAIR over ipc://, one way, through a SendQueue (baseline)',
    row('messages', `${fmt(z.messages, 0)} x ${z.messageBytes} bytes, ${z.trials.length} trials, queued ${z.burst} at a time`),
    row('trials msg/s', z.trials.map((t) => fmt(t.messagesPerSec, 0)).join(', ')),
    row('messages/s (median)', `${fmt(z.messagesPerSec, 0)}   (${fmt(z.megabytesPerSec, 1)} MiB/s)`),
    row(`backlog of ${fmt(z.backlog.messages, 0)} queued at once`, `${fmt(z.backlog.messagesPerSec, 0)} msg/s   (${ratio(z.backlog.vsBaseline)} baseline)`),
    '',
    '2. Runtime event rate, multi-process and in-process',
    row('workload', rt.workload),
    ...runRows(rt.multiProcess),
    ...runRows(rt.inProcess),
    row('in-process runs events/s', `${rt.inProcessEventsPerSec.map((v) => fmt(v, 0)).join(', ')} (median shown; warm-up ${fmt(rt.inProcessWarmUpEventsPerSec, 0)})`),
    row('multi-process / in-process', `${ratio(rt.multiOverIn)} events/s (steady ${ratio(rt.steadyMultiOverIn)})`),
    row(
      'same events in both modes',
      `${rt.fingerprintsMatch ? 'yes: fingerprints match' : 'NO: fingerprints differ'} (${fmt(rt.multiProcess.virtualSeconds, 0)} s runs, seed 1)`,
    ),
    '',
    '3. Recorder (EventLogWriter, SQLite WAL)',
    row('events', `${fmt(rec.events, 0)}, ${rec.eventsPerAppend} per append, payload ${fmt(rec.meanPayloadBytes, 1)} bytes mean`),
    row('append + finishRun', `${fmt(rec.ms, 0)} ms`),
    row('events/s', `${fmt(rec.eventsPerSec, 0)}   (${ratio(rec.eventsPerSecVsZmq)} raw ZeroMQ)`),
    row('commits / checkpoints', `${rec.commits} / ${rec.checkpoints}`),
    row('close (WAL fold)', `${fmt(rec.closeMs, 0)} ms, database ${fmt(rec.databaseMiB, 1)} MiB`),
    '',
    `4. Start-up of ${s.nodes} node processes (${s.topology}, ${s.wires} wires)`,
    row('start() until all ready', `${fmt(s.startMs, 0)} ms   (${fmt(s.msPerProcess, 1)} ms per process)`),
    row('RSS per node process', `mean ${fmt(s.rssMiB.mean, 1)} MiB, max ${fmt(s.rssMiB.max, 1)} MiB, min ${fmt(s.rssMiB.min, 1)} MiB`),
    row('RSS of all node processes', `${fmt(s.rssMiB.total, 0)} MiB (shared pages counted in each)`),
    row('PSS per node process', s.pssMiB ? `mean ${fmt(s.pssMiB.mean, 1)} MiB, total ${fmt(s.pssMiB.total, 0)} MiB` : 'unavailable'),
    row('controller RSS', `${fmt(s.controllerRssMiB, 1)} MiB (with ${s.nodes} nodes connected)`),
    row('stop() / dispose()', `${fmt(s.stopMs, 0)} ms / ${fmt(s.disposeMs, 0)} ms`),
    row('node processes left', s.stillAlive.length === 0 ? `none: all ${s.nodes} pids gone (ESRCH)` : `${s.stillAlive.length} STILL ALIVE: ${s.stillAlive.join(', ')}`),
    '',
    '5. Emulated frames end to end, VM to VM across two hosts, multi-process and in-process',
    row('workload', vv.workload),
    row('path', vv.path),
    ...vmRows(vv.multiProcess),
    ...vmRows(vv.inProcess),
    row('in-process runs frames/s', `${vv.inProcessFramesPerSec.map((v) => fmt(v, 0)).join(', ')} (median shown; warm-up ${fmt(vv.inProcessWarmUpFramesPerSec, 0)})`),
    row('multi-process / in-process', `${ratio(vv.multiOverIn)} frames/s and messages/s (while flowing ${ratio(vv.whileFlowingMultiOverIn)})`),
    row(
      'same events in both modes',
      `${vv.fingerprintsMatch ? 'yes: fingerprints match' : 'NO: fingerprints differ'} (${fmt(vv.virtualSeconds, 1)} s runs, seed 1)`,
    ),
    '',
    `6. Replay seek in a recorded run of ${fmt(sk.events, 0)} events (database ${fmt(sk.databaseMiB, 1)} MiB)`,
    row('first seek, to the last event', `${fmt(sk.firstSeekMs, 0)} ms: folds the whole log once (${fmt(sk.firstSeekEventsPerSec, 0)} events/s)`),
    row(`then ${sk.trials} seeks to random events`, `median ${fmt(sk.seekMs.median, 2)} ms, p95 ${fmt(sk.seekMs.p95, 2)} ms, max ${fmt(sk.seekMs.max, 2)} ms`),
    row('median seek / first seek', ratio(sk.medianVsFullFold)),
    '',
    `Bench wall time: ${fmt(r.benchWallMs / 1000, 1)} s`,
  ].join('\n');
}

/** Runs every figure in order and prints the report, readable or as one JSON object. */
async function main(): Promise<void> {
  const json = process.argv.slice(2).includes('--json');
  const t0 = performance.now();
  const machine = machineContext();
  note(`bench: ${machine.cpus} cpus, node ${machine.node}`);
  const zmq = await measureZmq();
  const runtime = await measureRuntime(zmq.messagesPerSec);
  // Start-up before the recorder, so the controller's RSS is not inflated by the synthetic events.
  const startup = await measureStartup();
  const recorder = measureRecorder(zmq.messagesPerSec);
  const vmToVm = await measureVmToVm(zmq.messagesPerSec);
  const seek = await measureSeek();
  const report: Report = { machine, zmq, runtime, recorder, startup, vmToVm, seek, benchWallMs: performance.now() - t0 };
  process.stdout.write(json ? `${JSON.stringify(report)}\n` : `${readable(report)}\n`);
}

main().then(
  () => undefined,
  (error: unknown) => {
    note(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    for (const cleanup of emergencyCleanups) cleanup();
    process.exit(1);
  },
);
