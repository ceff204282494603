/**
 * A run the UI drives: the same pieces `startRun` assembles (event log, cluster, controller), plus
 * the two things a UI needs that a `RunHandle` does not give: every event as soon as the
 * controller has ordered it, and the cluster, to inspect a node while it runs.
 *
 * The log it writes is an ordinary dpulab run: UI actions are recorded inputs, and
 * `dpulab replay --verify` re-executes it.
 */
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { planInput } from '../../processes/controller/actions.js';
import type { Cluster } from '../../processes/controller/cluster.js';
import { Controller, type EventSink, type ControllerResult } from '../../processes/controller/controller.js';
import { InProcessCluster } from '../../processes/controller/in-process.js';
import { EventLogWriter } from '../../processes/controller/log/writer.js';
import { MultiProcessCluster } from '../../processes/controller/multi-process.js';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import type { PreparedRun, RunMode } from '../../processes/controller/session.js';
import { EVENT_KIND_DESCRIPTIONS } from '../../shared/events/catalogue.js';
import type { RecordedEvent } from '../../shared/events.js';
import { eventPayload, eventVolatile } from '../../shared/events/typed.js';
import { DEFAULT_LAB_YAML } from '../../shared/topology/load.js';

const require = createRequire(import.meta.url);

/** What a live run is built from. */
export interface LiveRunOptions {
  readonly prepared: PreparedRun;
  /** The scenario YAML as given, null for the default scenario. */
  readonly scenarioText: string | null;
  /** Where the run is recorded. */
  readonly db: string;
  readonly overwrite: boolean;
  readonly mode: RunMode;
  /** Virtual seconds per wall second; 0 as fast as possible. */
  readonly speed: number;
  /** Node log lines and controller warnings. */
  readonly log: (line: string) => void;
}

/** How a live run ended. */
export interface LiveRunEnd {
  readonly status: 'completed' | 'interrupted' | 'failed';
  readonly virtualTimeNs: number;
  readonly fingerprint: string | null;
  readonly reason: string | null;
}

/** Receives every event in seq order, right after the controller ordered it. */
export type EventListener = (events: readonly RecordedEvent[]) => void;

/** A running lab: its controller, its cluster, its log. */
export class LiveRun {
  readonly controller: Controller;
  /** Resolves when the run has ended and its log is closed. */
  readonly done: Promise<LiveRunEnd>;
  private readonly cluster: Cluster;
  private readonly writer: EventLogWriter;
  private readonly listeners: EventListener[] = [];
  private ended = false;

  private constructor(readonly options: LiveRunOptions) {
    const { prepared, mode } = options;
    mkdirSync(dirname(options.db), { recursive: true });
    this.writer = EventLogWriter.open(options.db, { dpulabVersion: DPULAB_VERSION, overwrite: options.overwrite });
    this.writer.beginRun({
      id: `${prepared.topology.name}-seed${prepared.seed}`,
      seed: prepared.seed,
      mode,
      topology: prepared.topology,
      topologyFile: prepared.topologySource?.file ?? null,
      topologyText: prepared.topologySource?.text ?? DEFAULT_LAB_YAML,
      scenario: { name: prepared.scenario.name, text: options.scenarioText, resolved: prepared.scenario },
      untilNs: prepared.endNs,
      zeromqVersion: mode === 'multi-process' ? zeromqVersion() : null,
      eventKinds: EVENT_KIND_DESCRIPTIONS,
    });
    this.writer.recordWires(prepared.topology.wires);
    this.cluster =
      mode === 'in-process' ? new InProcessCluster(prepared.topology, prepared.seed) : new MultiProcessCluster({ topology: prepared.topology, seed: prepared.seed, log: options.log });
    this.controller = new Controller({
      topology: prepared.topology,
      cluster: this.cluster,
      sink: new RecordingSink(this.writer, (events) => this.publish(events)),
      endNs: prepared.endNs,
      inputs: prepared.inputs,
      plan: (record) => planInput(prepared.topology, record),
      ...(options.speed > 0 ? { pace: { speed: options.speed } } : {}),
    });
    this.done = this.runToEnd();
  }

  /** Opens the log and starts the nodes; events flow to listeners from the first window. */
  static start(options: LiveRunOptions): LiveRun {
    return new LiveRun(options);
  }

  /** Adds a listener for every event from now on; returns the function that removes it. */
  onEvents(listener: EventListener): () => void {
    this.listeners.push(listener);
    return () => {
      const at = this.listeners.indexOf(listener);
      if (at >= 0) this.listeners.splice(at, 1);
    };
  }

  /** A node's own plain-data state; null when it is not running (or the run is over). */
  async inspect(node: string): Promise<unknown> {
    if (this.ended) return null;
    return this.cluster.inspect(node);
  }

  /** Commits what the writer buffers, so that readers of the log see every event so far. */
  flush(): void {
    if (!this.ended) this.writer.flush();
  }

  /** Whether the run has ended. */
  get finished(): boolean {
    return this.ended;
  }

  /** Stops the run at the next window boundary; `done` then resolves as interrupted. */
  interrupt(): void {
    this.controller.interrupt();
  }

  /** Kills every node process now, synchronously (process-exit handlers). */
  killNow(): void {
    if (this.cluster instanceof MultiProcessCluster) this.cluster.killAllNow();
  }

  private publish(events: readonly RecordedEvent[]): void {
    for (const listener of [...this.listeners]) listener(events);
  }

  private async runToEnd(): Promise<LiveRunEnd> {
    let result: ControllerResult | null = null;
    try {
      result = await this.controller.run();
      const status = result.status === 'completed' ? 'completed' : result.status === 'failed' ? 'failed' : 'interrupted';
      const crashed = result.crashed.length > 0 ? result.crashed.map((c) => `${c.node} ${c.reason ?? 'exited'}`).join('; ') : null;
      const reason = [result.status === 'failed' ? result.reason : null, crashed].filter((r) => r !== null).join('; ') || null;
      const fingerprint = this.writer.finishRun({ status, endVtime: result.virtualTimeNs, exitReason: reason });
      return { status, virtualTimeNs: result.virtualTimeNs, fingerprint, reason };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      try {
        this.writer.finishRun({ status: 'failed', endVtime: this.controller.now(), exitReason: reason });
      } catch {
        /* the original error matters more */
      }
      return { status: 'failed', virtualTimeNs: this.controller.now(), fingerprint: null, reason };
    } finally {
      this.ended = true;
      await this.cluster.dispose();
      this.writer.close();
    }
  }
}

/** The writer as the controller's sink, keeping the `nodes` table current, then the listeners. */
class RecordingSink implements EventSink {
  private readonly machine = hostname();

  constructor(
    private readonly writer: EventLogWriter,
    private readonly forward: EventListener,
  ) {}

  append(events: readonly RecordedEvent[]): void {
    for (const e of events) {
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
    this.forward(events);
  }
}

function zeromqVersion(): string | null {
  try {
    return (require('zeromq/package.json') as { version: string }).version;
  } catch {
    return null;
  }
}
