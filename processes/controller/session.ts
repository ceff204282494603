import { hostname } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { RecordedEvent, VTime } from '../../shared/events.js';
import { EVENT_KIND_DESCRIPTIONS } from '../../shared/events/catalogue.js';
import { eventPayload, eventVolatile } from '../../shared/events/typed.js';
import { fileNamePart } from '../../shared/file-name.js';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML, loadTopology } from '../../shared/topology/load.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { DEFAULT_SCENARIO_YAML, loadScenario, validateScenarioAgainstTopology, type Scenario } from '../../shared/scenario/load.js';
import { emptyClusterState, type ClusterState } from '../../shared/state/cluster-state.js';
import { applyEvent } from '../../shared/state/fold.js';
import { toClusterEvent } from '../../shared/state/recorded.js';
import { runOutcome, type CoreUse, type DpuOutcome, type FlowOutcome, type VmotionOutcome } from '../../shared/state/summary.js';
import { acceptAction, planInput } from './actions.js';
import type { Cluster, NodeExit } from './cluster.js';
import { Controller, type EventSink, type RunProgress, type TimedInput } from './controller.js';
import type { WrittenAction } from '../../shared/actions/schema.js';
import { InProcessCluster } from './in-process.js';
import { EventRecorder } from './log/recorder.js';
import { EventLogWriter } from './log/writer.js';
import { MultiProcessCluster } from './multi-process.js';
import { OnlineInvariants } from './invariants.js';
import type { InvariantReport, Violation } from '../../shared/invariants/index.js';
import { DPULAB_VERSION } from './package-root.js';

const require = createRequire(import.meta.url);

/** Virtual time a run lasts when neither the scenario nor `--until` says. */
export const DEFAULT_END_NS: VTime = 3_000_000_000;

export type RunMode = 'multi-process' | 'in-process';

/** Longest wall time events wait in the writer's buffer before they are committed. */
const FLUSH_INTERVAL_MS = 250;

/** A source file as given: its text and the name to quote in errors. */
export interface SourceFile {
  readonly text: string;
  readonly file: string;
}

export interface RunOptions {
  /** Topology YAML; the embedded default lab when absent. */
  readonly topology?: SourceFile;
  /** Scenario YAML; the default lab's scenario when both are absent, no steps otherwise. */
  readonly scenario?: SourceFile;
  readonly seed?: number;
  /** Database path; `runs/<topology>-seed<N>-<time>.db` under the working directory when absent. */
  readonly db?: string;
  /** Replace an existing dpulab log at `db`. */
  readonly overwrite?: boolean;
  /** Ends the run at this virtual time instead of the scenario's end. */
  readonly untilNs?: VTime;
  readonly mode?: RunMode;
  /** Real-time pacing (virtual seconds per wall second); batch mode when absent. */
  readonly pace?: { speed: number };
  /** Where node log lines and controller warnings go. */
  readonly log?: (line: string) => void;
  readonly onProgress?: (progress: RunProgress) => void;
  /** Most events in one virtual millisecond before the run fails as runaway (DEFAULT_EVENT_BUDGET_PER_MS). */
  readonly eventBudgetPerMs?: number;
  /**
   * The log is queried while the run goes on (the live UI): write it in this thread with its
   * indexes, so that what `flush` commits is readable at once.
   */
  readonly readWhileRunning?: boolean;
}

export interface RunSummary {
  readonly db: string;
  readonly seed: number;
  readonly fingerprint: string;
  readonly events: number;
  readonly windows: number;
  readonly virtualTimeNs: VTime;
  readonly wallMs: number;
  readonly mode: RunMode;
  readonly status: 'completed' | 'interrupted' | 'failed';
  /** Why the run failed or what crashed, in words; null when nothing did. */
  readonly reason: string | null;
  readonly topology: string;
  readonly scenario: string;
  readonly nodes: Array<{ id: string; kind: string; pid: number }>;
  /** Nodes that died without being asked to, with how. */
  readonly crashed: NodeExit[];
  /** Every guest flow, both ends joined, as its final sender report and its receiver's latest gave it. */
  readonly flows: FlowOutcome[];
  /** Cores each host and DPU spent on networking, by vNIC mode. */
  readonly cores: CoreUse[];
  /** Every vMotion that ended, in the order they ended, as `vmotion.done` gave it. */
  readonly vmotions: VmotionOutcome[];
  /** Every DPU at the end: the role its host gives it, the role it runs, its health. */
  readonly dpus: DpuOutcome[];
  /** The invariant checkers' verdict on the log (`shared/invariants`). */
  readonly invariants: InvariantVerdict;
}

/** What the invariant checkers said about a run. */
export interface InvariantVerdict {
  /** Events checked. */
  readonly events: number;
  /** Violations found, in all. */
  readonly violations: number;
  /** The first event that broke each invariant, one entry per broken invariant. */
  readonly broken: readonly Violation[];
}

/** A prepared run: validated inputs, ready to start. Errors in files surface here, before any process. */
export interface PreparedRun {
  readonly topology: ResolvedTopology;
  readonly topologySource: SourceFile | null;
  readonly scenario: Scenario;
  readonly scenarioSource: SourceFile | null;
  readonly seed: number;
  readonly endNs: VTime;
  readonly inputs: TimedInput[];
}

/** Parses and validates the topology and scenario; throws TopologyError / ScenarioError naming file, line and field. */
export function prepareRun(options: RunOptions): PreparedRun {
  const topologySource = options.topology ?? null;
  const topology = loadTopology(topologySource?.text ?? DEFAULT_LAB_YAML, topologySource?.file ?? DEFAULT_LAB_FILE);
  const scenarioSource = options.scenario ?? null;
  const scenarioText = scenarioSource?.text ?? (topologySource ? `name: empty\nend: ${DEFAULT_END_NS}ns\nsteps: []\n` : DEFAULT_SCENARIO_YAML);
  const scenarioFile = scenarioSource?.file ?? (topologySource ? '(no scenario)' : 'default-scenario.yaml');
  const scenario = loadScenario(scenarioText, scenarioFile);
  validateScenarioAgainstTopology(scenario, topology, scenarioFile);
  const inputs = scenario.steps.map((step) => {
    const { atNs, index, ...action } = step;
    return { atNs, record: { ...action, step: index } } as TimedInput;
  });
  for (const input of inputs) planInput(topology, input.record);
  return { topology, topologySource, scenario, scenarioSource, seed: options.seed ?? 1, endNs: options.untilNs ?? scenario.endNs, inputs };
}

/** Receives every event in seq order, in the batches the controller commits them in. */
export type EventListener = (events: readonly RecordedEvent[]) => void;

/**
 * A run in progress: its controller (pause, step, speed), its outcome, and what a live view needs:
 * every event as it is committed, the nodes' own state, and actions scheduled while it runs.
 */
export interface RunHandle {
  readonly controller: Controller;
  readonly db: string;
  readonly mode: RunMode;
  /** The topology, scenario, seed and end the run was started with. */
  readonly prepared: PreparedRun;
  /**
   * Resolves when the run has ended and its log is closed (status `interrupted` after
   * {@link RunHandle.interrupt}); rejects when the run failed, after the log recorded why.
   */
  readonly done: Promise<RunSummary>;
  /** Whether the run has ended (its nodes are gone, its log closed or closing). */
  readonly finished: boolean;
  /** Stops the run at the next window boundary; `done` then resolves with status `interrupted`. */
  interrupt(): void;
  /** Kills every node process now, synchronously (for process-exit handlers). */
  killNow(): void;
  /** The cluster as the events so far tell it (the one fold every view reads); it changes as the run goes. */
  state(): ClusterState;
  /** Calls `listener` with every event committed from now on; returns the function that stops it. */
  onEvents(listener: EventListener): () => void;
  /**
   * The invariant checkers' verdict on the events so far (they read every event as it is
   * committed); `final` once a run that ended has been judged whole.
   */
  invariants(): { readonly report: InvariantReport; readonly final: boolean };
  /** A node's own plain-data state (through its process, or its runtime in-process); null when it is not running or the run is over. */
  inspect(node: string): Promise<unknown>;
  /** Commits what the log writer holds, so that readers of the log see every event so far. */
  flush(): void;
  /**
   * Schedules an action as a person writes it (`{ action: 'vmotion', vm: 'web-01', to: 'esx-02' }`,
   * durations with units), checked as a scenario step is, at `atNs` (default: the earliest time the
   * controller allows). Returns what is recorded and when.
   *
   * @throws InputError naming the field of an action the topology cannot carry out
   * @example
   * const run = startRun({ mode: 'in-process', db: 'out/api.db' });
   * run.act({ action: 'kill', node: 'dpu-02a' }, { atNs: 1_000_000_000 });
   */
  act(action: WrittenAction, options?: { readonly atNs?: VTime }): TimedInput;
}

/** Builds the cluster for a mode. */
function makeCluster(mode: RunMode, topology: ResolvedTopology, seed: number, log: (line: string) => void): Cluster {
  return mode === 'in-process' ? new InProcessCluster(topology, seed) : new MultiProcessCluster({ topology, seed, log });
}

function defaultDbPath(topology: string, seed: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return join(process.cwd(), 'runs', `${fileNamePart(topology)}-seed${seed}-${stamp}-${process.pid}.db`);
}

/**
 * Starts a run: opens the event log, starts the nodes, runs the scenario to its end.
 *
 * @example
 * const run = startRun({ seed: 7, mode: 'in-process', db: 'out/run.db' });
 * const summary = await run.done;
 * console.log(summary.fingerprint);
 */
export function startRun(options: RunOptions, prepared: PreparedRun = prepareRun(options)): RunHandle {
  const mode = options.mode ?? 'multi-process';
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const db = options.db ?? defaultDbPath(prepared.topology.name, prepared.seed);
  // A batch run's log is written by a thread of its own, its indexes built when the run ends,
  // with copies of the lab state for viewers to seek from: recording stays off the path between
  // windows. A log read while it is written (the live UI) is written here, indexed from the
  // start, so that what a flush commits is there for the next query.
  const writerOptions = { dpulabVersion: DPULAB_VERSION, overwrite: options.overwrite ?? false };
  const writer: RunLog = options.readWhileRunning ? EventLogWriter.open(db, writerOptions) : EventRecorder.open(db, { ...writerOptions, deferIndexes: true, labSnapshots: true });
  writer.beginRun({
    id: `${prepared.topology.name}-seed${prepared.seed}`,
    seed: prepared.seed,
    mode,
    topology: prepared.topology,
    topologyFile: prepared.topologySource?.file ?? null,
    topologyText: prepared.topologySource?.text ?? DEFAULT_LAB_YAML,
    scenario: { name: prepared.scenario.name, text: prepared.scenarioSource?.text ?? null, resolved: prepared.scenario },
    untilNs: prepared.endNs,
    zeromqVersion: mode === 'multi-process' ? zeromqVersion() : null,
    eventKinds: EVENT_KIND_DESCRIPTIONS,
  });
  writer.recordWires(prepared.topology.wires);
  let cluster: Cluster;
  try {
    cluster = makeCluster(mode, prepared.topology, prepared.seed, log);
  } catch (error) {
    // No node started (say the run directory could not be made): the log says why, not `running`.
    writer.finishRun({ status: 'failed', endVtime: 0, exitReason: error instanceof Error ? error.message : String(error) });
    writer.close();
    throw error;
  }
  const checks = new OnlineInvariants(prepared.topology);
  const listeners = new Set<EventListener>();
  const nodeWriter = new NodeLifecycleSink(writer, emptyClusterState(), checks, (events) => {
    for (const listener of listeners) listener(events);
  });
  const controller = new Controller({
    topology: prepared.topology,
    cluster,
    sink: nodeWriter,
    endNs: prepared.endNs,
    inputs: prepared.inputs,
    plan: (record) => planInput(prepared.topology, record),
    ...(options.pace ? { pace: options.pace } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.eventBudgetPerMs !== undefined ? { eventBudgetPerMs: options.eventBudgetPerMs } : {}),
  });
  const started = Date.now();
  let finished = false;
  let finalVerdict: InvariantReport | null = null;
  const done = (async (): Promise<RunSummary> => {
    let status: RunSummary['status'] = 'failed';
    let reason: string | null = null;
    let failure: unknown;
    try {
      const result = await controller.run();
      status = result.status === 'completed' ? 'completed' : result.status === 'failed' ? 'failed' : 'interrupted';
      const crashed = result.crashed.length > 0 ? result.crashed.map((c) => `${c.node} ${c.reason ?? 'exited'}`).join('; ') : null;
      reason = [result.status === 'failed' ? result.reason : null, crashed].filter((r) => r !== null).join('; ') || null;
      const fingerprint = writer.finishRun({ status, endVtime: result.virtualTimeNs, exitReason: reason });
      // An interrupted run is judged on what happened, not as a whole: its end is not the scenario's.
      const verdict = status === 'completed' ? checks.finish(result.virtualTimeNs) : checks.sofar();
      finalVerdict = verdict;
      const outcome = runOutcome(nodeWriter.state, prepared.topology);
      return {
        db,
        seed: prepared.seed,
        fingerprint,
        events: result.events,
        windows: result.windows,
        virtualTimeNs: result.virtualTimeNs,
        wallMs: Date.now() - started,
        mode,
        status,
        reason,
        topology: prepared.topology.name,
        scenario: prepared.scenario.name,
        nodes: result.nodes.map((n) => ({ id: n.id, kind: n.kind, pid: n.pid })),
        crashed: result.crashed,
        flows: outcome.flows,
        cores: outcome.cores,
        vmotions: outcome.vmotions,
        dpus: outcome.dpus,
        invariants: { events: verdict.events, violations: verdict.violations.length, broken: verdict.firstByInvariant },
      };
    } catch (error) {
      failure = error;
      finalVerdict = checks.sofar();
      reason = error instanceof Error ? error.message : String(error);
      try {
        writer.finishRun({ status: 'failed', endVtime: controller.now(), exitReason: reason });
      } catch {
        /* the original error matters more */
      }
      throw error;
    } finally {
      finished = true;
      listeners.clear();
      await cluster.dispose();
      closeAfter(writer, failure);
    }
  })();
  return {
    controller,
    db,
    mode,
    prepared,
    done,
    get finished() {
      return finished;
    },
    interrupt: () => controller.interrupt(),
    killNow: () => {
      if (cluster instanceof MultiProcessCluster) cluster.killAllNow();
    },
    state: () => nodeWriter.state,
    onEvents: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    inspect: async (node) => (finished ? null : cluster.inspect(node)),
    invariants: () => ({ report: finalVerdict ?? checks.sofar(), final: finalVerdict !== null }),
    flush: () => {
      if (!finished) writer.flush();
    },
    act: (action, at = {}) => {
      const input = { atNs: at.atNs ?? controller.earliestInputTime(), record: acceptAction(prepared.topology, action) };
      controller.schedule(input);
      return input;
    },
  };
}

/** What a run writes its log through: the recorder thread, or a writer in this thread. */
type RunLog = Pick<EventLogWriter, 'beginRun' | 'recordWires' | 'recordNode' | 'updateNodeExit' | 'append' | 'flush' | 'finishRun' | 'close'>;

/**
 * Closes the log at the end of a run. A log that cannot be written any more (a full disk) fails
 * the close too; that is reported by the error that ended the run, if there was one.
 */
function closeAfter(writer: RunLog, failure: unknown): void {
  try {
    writer.close();
  } catch (error) {
    if (failure === undefined) throw error;
  }
}

/** Runs to the end and returns the summary. */
export async function runLab(options: RunOptions): Promise<RunSummary> {
  return startRun(options).done;
}

/**
 * The writer as the controller's sink, also keeping the `nodes` table current (node.start and
 * node.exit events carry what the table needs, pid in the volatile part), folding every event
 * into the cluster state the summary is read from, and handing every batch to the run's listeners
 * once the writer holds it.
 */
class NodeLifecycleSink implements EventSink {
  private readonly machine = hostname();
  private lastFlush = Date.now();

  constructor(
    private readonly writer: RunLog,
    readonly state: ClusterState,
    private readonly checks: OnlineInvariants,
    private readonly committed: EventListener,
  ) {}

  append(events: readonly RecordedEvent[]): void {
    for (const e of events) {
      applyEvent(this.state, toClusterEvent(e));
      if (e.kind === 'node.start') {
        const p = eventPayload(e, 'node.start');
        const v = eventVolatile(e, 'node.start');
        this.writer.recordNode({ id: p.node, kind: p.kind, incarnation: p.incarnation, pid: v?.pid ?? null, machine: this.machine });
      } else if (e.kind === 'node.exit') {
        const p = eventPayload(e, 'node.exit');
        this.writer.updateNodeExit({ id: p.node, incarnation: p.incarnation, exitCode: p.code, exitSignal: p.signal });
      }
    }
    this.writer.append(events);
    this.checks.append(events);
    this.committed(events);
    // The writer commits in large batches; a slow (paced) run still reaches the disk every
    // quarter second, so a crash of the controller loses at most that much.
    if (Date.now() - this.lastFlush >= FLUSH_INTERVAL_MS) {
      this.writer.flush();
      this.lastFlush = Date.now();
    }
  }
}

function zeromqVersion(): string | null {
  try {
    return (require('zeromq/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}
