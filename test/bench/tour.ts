/**
 * The tour: the embedded default lab with its default scenario and seed 1 (4 virtual seconds:
 * LLDP, heartbeats, guest flows, a DPU killed and started again, a vMotion), run as a user runs
 * it, `dpulab run [--in-process] --json`, in a fresh process each time.
 *
 * It is latency-bound: most windows have one participant, so the wall time per window against
 * the ZeroMQ round-trip floor says what the window protocol costs. The least number of
 * cross-process rounds the run's causal links allow (`causalRounds`) says how far fewer windows
 * could ever go.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { CONTROLLER_NODE } from '../../shared/events.js';
import { emergencyCleanups, exitOf, fmt, medianBy, note, withDeadline } from './common.js';

/** Tour runs per mode (the median by wall time is reported). */
const TOUR_RUNS = 3;
const TOUR_DEADLINE_MS = 300_000;

/** The dpulab command as a user runs it, from the compiled bench's place in dist/. */
const DPULAB_BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'dpulab.js');

export interface TourRun {
  /** The run's own wall time, from its start to its log closed (the `wallMs` of `--json`). */
  readonly wallMs: number;
  /** The CLI process from spawn to exit: module loading, the run, the summary. */
  readonly processWallMs: number;
  readonly windows: number;
  readonly events: number;
  readonly virtualSeconds: number;
  /** Virtual seconds per wall second of the run. */
  readonly realtime: number;
  readonly fingerprint: string;
  readonly status: string;
}

export interface TourMode extends TourRun {
  /** Every run's wall time; the figure above is the median run. */
  readonly runsWallMs: number[];
}

export interface TourFigure {
  readonly seed: number;
  readonly multiProcess: TourMode;
  readonly inProcess: TourMode;
  /** Whether every run of both modes recorded the same fingerprint. */
  readonly fingerprintsMatch: boolean;
  /** The least number of cross-process rounds the tour's causal links allow. */
  readonly causalRounds: number;
}

/** One `dpulab run --json` of the tour in a fresh process; returns its summary, and its db path for further reading. */
async function tourRun(mode: 'multi-process' | 'in-process', db: string): Promise<TourRun> {
  const args = [DPULAB_BIN, 'run', '--seed', '1', '--json', '--db', db, '--overwrite'];
  if (mode === 'in-process') args.push('--in-process');
  const t0 = performance.now();
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = (): void => void child.kill('SIGTERM');
  emergencyCleanups.add(kill);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  try {
    await withDeadline(exitOf(child), TOUR_DEADLINE_MS, `the ${mode} tour`);
  } finally {
    emergencyCleanups.delete(kill);
  }
  const processWallMs = performance.now() - t0;
  if (child.exitCode !== 0) throw new Error(`The ${mode} tour exited with ${String(child.exitCode ?? child.signalCode)}: ${stderr.trim().split('\n').slice(-5).join(' | ')}`);
  const lines = stdout.trim().split('\n');
  const summary = JSON.parse(lines[lines.length - 1]!) as { wallMs: number; windows: number; events: number; virtualTimeNs: number; fingerprint: string; status: string };
  const virtualSeconds = summary.virtualTimeNs / 1e9;
  return {
    wallMs: summary.wallMs,
    processWallMs,
    windows: summary.windows,
    events: summary.events,
    virtualSeconds,
    realtime: virtualSeconds / (summary.wallMs / 1000),
    fingerprint: summary.fingerprint,
    status: summary.status,
  };
}

/**
 * The causal depth of a recorded run in cross-process rounds. Every event is at least as deep as
 * the event before it on its node (a node's state carries everything it handled) and as its
 * cause, plus one when the cause is another node's (a frame crossed a wire). Inputs from the
 * controller are planned ahead and add nothing.
 */
export function causalRounds(db: string): number {
  const reader = EventLogReader.open(db);
  try {
    const depth = new Uint32Array(reader.count());
    const nodeOf: string[] = [];
    const nodeDepth = new Map<string, number>();
    let deepest = 0;
    for (const e of reader.events()) {
      let d = nodeDepth.get(e.node) ?? 0;
      if (e.cause !== null) {
        const from = nodeOf[e.cause]!;
        const crossed = from !== e.node && from !== CONTROLLER_NODE && e.node !== CONTROLLER_NODE;
        d = Math.max(d, depth[e.cause]! + (crossed ? 1 : 0));
      }
      depth[e.seq] = d;
      nodeOf[e.seq] = e.node;
      nodeDepth.set(e.node, d);
      deepest = Math.max(deepest, d);
    }
    return deepest;
  } finally {
    reader.close();
  }
}

/** Runs the tour TOUR_RUNS times in each mode, and counts its causal rounds. */
export async function measureTour(): Promise<TourFigure> {
  const dir = mkdtempSync(join(tmpdir(), 'dpl-bench-'));
  try {
    const runs: Record<'multi-process' | 'in-process', TourRun[]> = { 'multi-process': [], 'in-process': [] };
    for (const mode of ['in-process', 'multi-process'] as const) {
      note(`[tour] dpulab run${mode === 'in-process' ? ' --in-process' : ''}, ${TOUR_RUNS} times`);
      for (let i = 0; i < TOUR_RUNS; i++) {
        const run = await tourRun(mode, join(dir, `${mode}.db`));
        note(`      ${fmt(run.wallMs, 0)} ms (process ${fmt(run.processWallMs, 0)} ms), ${fmt(run.windows, 0)} windows, ${run.status}`);
        runs[mode].push(run);
      }
    }
    const pick = (list: TourRun[]): TourMode => ({ ...medianBy(list, (r) => r.wallMs), runsWallMs: list.map((r) => r.wallMs) });
    const all = [...runs['multi-process'], ...runs['in-process']];
    return {
      seed: 1,
      multiProcess: pick(runs['multi-process']),
      inProcess: pick(runs['in-process']),
      fingerprintsMatch: all.every((r) => r.fingerprint === all[0]!.fingerprint),
      causalRounds: causalRounds(join(dir, 'multi-process.db')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
