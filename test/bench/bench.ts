/**
 * dpulab benchmark: `npm run bench` prints readable figures, `npm run bench -- --json` prints the
 * same figures as one JSON object, last on stdout. Progress and notes go to stderr.
 *
 * Every figure is measured in the same run as the floors it is compared with (a ZeroMQ round
 * trip, `node -e 0`), so results from a busy and an idle machine, or from two machines, compare
 * by their ratios. Nothing here passes or fails: it reports, and says which goals of
 * `docs/performance.md` the run met.
 *
 * JSON keys (docs/performance.md explains each):
 *   floors.{zmqRoundTripUs, zmqMessagesPerSec, nodeStartMs}
 *   tour.multiProcess.{wallMs, windows, realtime}, tour.inProcess.{wallMs, realtime}, tour.causalRounds
 *   windowVsRoundTrip
 *   startup100.{wallMs, cpuMsPerNode}
 *   recorder.eventsPerSec
 *   seek.{firstMs, laterMs.median}
 *   vmToVm.{multiProcess, inProcess}.framesPerSec
 *   sync.{central, decentralised}.usPerWindow, sync.decentralisedOverCentral
 *   goals.<name>.{target, value, met}
 */
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import { emergencyCleanups, fmt, note, ratio } from './common.js';
import { measureFloors, type FloorsFigure } from './floors.js';
import { measureRecorder, measureSeek, type RecorderFigure, type SeekFigure } from './recorder.js';
import { measureStartup, type StartupFigure } from './startup.js';
import { measureSync, type SyncFigure } from './sync.js';
import { measureTour, type TourFigure, type TourMode } from './tour.js';
import { measureVmToVm, type VmToVmFigure } from './vm-to-vm.js';

const require = createRequire(import.meta.url);

for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    note(`bench: ${signal}, killing child processes`);
    for (const cleanup of emergencyCleanups) cleanup();
    process.exit(code);
  });
}

interface MachineFigure {
  readonly cpus: number;
  readonly availableParallelism: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly loadAverage1m: number;
  readonly node: string;
  readonly platform: string;
  readonly zeromq: string | null;
  readonly dpulab: string;
}

/** What the figures were measured on, since every absolute number depends on it. */
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
    loadAverage1m: loadavg()[0] ?? 0,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    zeromq,
    dpulab: DPULAB_VERSION,
  };
}

/** One goal of docs/performance.md: a target for a figure, and whether this run met it. */
interface Goal {
  readonly target: string;
  readonly value: number;
  readonly met: boolean;
}

interface Report {
  readonly machine: MachineFigure;
  readonly floors: FloorsFigure;
  readonly tour: TourFigure;
  /** Multi-process tour wall time per window over the ZeroMQ round trip. */
  readonly windowVsRoundTrip: number;
  readonly startup100: StartupFigure;
  readonly recorder: RecorderFigure;
  readonly seek: SeekFigure;
  readonly vmToVm: VmToVmFigure;
  /** The tour's windows replayed with nothing but the synchronisation, central and decentralised. */
  readonly sync: SyncFigure;
  readonly goals: Readonly<Record<string, Goal>>;
  readonly benchWallMs: number;
}

function goals(r: Omit<Report, 'goals' | 'benchWallMs'>): Record<string, Goal> {
  const atMost = (value: number, limit: number): Goal => ({ target: `<= ${limit}`, value, met: value <= limit });
  const atLeast = (value: number, limit: number): Goal => ({ target: `>= ${limit}`, value, met: value >= limit });
  return {
    windowVsRoundTrip: atMost(r.windowVsRoundTrip, 1.5),
    multiProcessRealtime: atLeast(r.tour.multiProcess.realtime, 1),
    inProcessRealtime: atLeast(r.tour.inProcess.realtime, 8),
    startup100WallMs: atMost(r.startup100.wallMs, 5000),
    firstSeekMs: atMost(r.seek.firstMs, 1000),
    laterSeekMs: atMost(r.seek.laterMs.median, 20),
  };
}

/** The report as aligned, readable lines. */
function readable(r: Report): string {
  const { machine: m, floors: f, tour: t, startup100: s, recorder: rec, seek: sk, vmToVm: vv, sync: sy } = r;
  const row = (label: string, value: string): string => `  ${label.padEnd(36)} ${value}`;
  const tourRows = (name: string, run: TourMode): string[] => [
    row(`${name}: wall`, `${fmt(run.wallMs, 0)} ms (runs ${run.runsWallMs.map((ms) => fmt(ms, 0)).join(', ')}), process ${fmt(run.processWallMs, 0)} ms`),
    row(`${name}: windows, events`, `${fmt(run.windows, 0)}, ${fmt(run.events, 0)}; ${run.status}`),
    row(`${name}: realtime`, `${fmt(run.realtime, 2)}x (virtual s per wall s)`),
  ];
  return [
    'dpulab benchmark',
    '',
    'Machine',
    row('cpus', `${m.cpus} (available parallelism ${m.availableParallelism}), ${m.cpuModel}, load ${fmt(m.loadAverage1m, 2)}`),
    row('memory', `${fmt(m.memoryGiB, 1)} GiB`),
    row('node / zeromq / dpulab', `${m.node} on ${m.platform} / ${m.zeromq ?? 'unknown'} / ${m.dpulab}`),
    '',
    'Floors',
    row('ZeroMQ round trip', `${fmt(f.zmqRoundTripUs, 1)} µs (trials ${f.zmqRoundTripTrialsUs.map((v) => fmt(v, 1)).join(', ')})`),
    row('ZeroMQ one way', `${fmt(f.zmqMessagesPerSec, 0)} msg/s`),
    row('node -e 0', `${fmt(f.nodeStartMs, 1)} ms`),
    '',
    `Tour (default lab, seed 1, ${fmt(t.multiProcess.virtualSeconds, 0)} s virtual)`,
    ...tourRows('multi-process', t.multiProcess),
    ...tourRows('in-process', t.inProcess),
    row('causal rounds', `${fmt(t.causalRounds, 0)} (${ratio(t.multiProcess.windows / t.causalRounds)} as many windows)`),
    row('window / round trip', `${ratio(r.windowVsRoundTrip)} (${fmt((t.multiProcess.wallMs * 1000) / t.multiProcess.windows, 1)} µs per window)`),
    row('same fingerprint everywhere', t.fingerprintsMatch ? `yes: ${t.multiProcess.fingerprint}` : 'NO: fingerprints differ'),
    '',
    `Start-up of ${s.nodes} node processes (${s.wires} wires)`,
    row('start() until all ready', `${fmt(s.wallMs, 0)} ms`),
    row('CPU per node process', `${fmt(s.cpuMsPerNode, 0)} ms`),
    row('RSS per node process', `mean ${fmt(s.rssMiB.mean, 1)} MiB, max ${fmt(s.rssMiB.max, 1)} MiB; PSS mean ${s.pssMiB ? fmt(s.pssMiB.mean, 1) : '?'} MiB`),
    row('stop() / dispose()', `${fmt(s.stopMs, 0)} ms / ${fmt(s.disposeMs, 0)} ms`),
    row('node processes left', s.stillAlive.length === 0 ? 'none' : `${s.stillAlive.length} STILL ALIVE: ${s.stillAlive.join(', ')}`),
    '',
    'Event log',
    row('recorder', `${fmt(rec.eventsPerSec, 0)} events/s (${fmt(rec.events, 0)} events; its own thread, ${fmt(rec.mainThreadUsPerEvent, 2)} µs per event on the caller's; close ${fmt(rec.closeMs, 0)} ms)`),
    row('recorder in the calling thread', `${fmt(rec.inThread.eventsPerSec, 0)} events/s (${rec.inThread.commits} commits)`),
    row(`seek in ${fmt(sk.events, 0)} events: first`, `${fmt(sk.firstMs, 0)} ms`),
    row('seek: later', `median ${fmt(sk.laterMs.median, 2)} ms, p95 ${fmt(sk.laterMs.p95, 2)} ms, max ${fmt(sk.laterMs.max, 2)} ms`),
    '',
    'Frames end to end',
    row('workload', vv.workload),
    row('multi-process', `${fmt(vv.multiProcess.framesPerSec, 0)} frames/s (${fmt(vv.multiProcess.frames, 0)} in ${fmt(vv.multiProcess.wallMs, 0)} ms)`),
    row('in-process', `${fmt(vv.inProcess.framesPerSec, 0)} frames/s (${fmt(vv.inProcess.frames, 0)} in ${fmt(vv.inProcess.wallMs, 0)} ms)`),
    row('same fingerprint in both modes', vv.fingerprintsMatch ? 'yes' : 'NO'),
    '',
    `Synchronisation alone: the tour's ${fmt(sy.windows, 0)} windows, ${fmt(sy.meanParticipants, 2)} participants each, ${sy.nodes} node processes`,
    row('central (grant, done)', `${fmt(sy.central.usPerWindow, 1)} µs per window, node CPU ${fmt(sy.central.nodeCpuUsPerWindow, 1)} µs per window`),
    row('decentralised (done to every node)', `${fmt(sy.decentralised.usPerWindow, 1)} µs per window, node CPU ${fmt(sy.decentralised.nodeCpuUsPerWindow, 1)} µs per window`),
    row('decentralised / central', `${ratio(sy.decentralisedOverCentral)} (below 1: decentralised wins)`),
    '',
    'Goals',
    ...Object.entries(r.goals).map(([name, g]) => row(name, `${fmt(g.value, 2)} ${g.target}: ${g.met ? 'met' : 'not met'}`)),
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
  const floors = await measureFloors();
  const tour = await measureTour();
  const windowVsRoundTrip = (tour.multiProcess.wallMs * 1000) / tour.multiProcess.windows / floors.zmqRoundTripUs;
  const startup100 = await measureStartup();
  const recorder = measureRecorder();
  const seek = await measureSeek();
  const vmToVm = await measureVmToVm();
  const sync = await measureSync();
  const figures = { machine, floors, tour, windowVsRoundTrip, startup100, recorder, seek, vmToVm, sync };
  const report: Report = { ...figures, goals: goals(figures), benchWallMs: performance.now() - t0 };
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
