/**
 * The UI over a run in progress: events fold into a timeline as the controller orders them and
 * go to every browser in batches; the time control pauses, steps, paces and runs until a time or
 * an event kind; actions become recorded inputs at the earliest time the controller allows.
 */
import { EventLogReader } from '../../processes/controller/log/reader.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { kindMatches } from '../../shared/state/kinds.js';
import type { ClusterState, ClusterEvent } from '../../shared/state/cluster-state.js';
import { nodeStateView } from '../../shared/state/node-view.js';
import { Timeline } from '../../shared/state/timeline.js';
import type { RunHandle } from '../../processes/controller/session.js';
import type { WrittenAction } from '../../shared/actions/schema.js';
import { actionRefused, availableActions } from './actions.js';
import { ApiError } from './errors.js';
import { jsonSafe, toUiEvent } from './event-json.js';
import { FlowDeliveries, reportedCores } from './throughput.js';
import { frameAt, logRange, queryEvents } from './log-queries.js';
import { LiveCaptures, type CaptureSink } from './capture-stream.js';
import type { ActionResponse, CaptureQuery, ControlRequest, EventsQuery, EventsResponse, FrameResponse, InspectResponse, InvariantsResponse, RunResponse, RunStatus, ServerMessage, CoresResponse, ThroughputQuery, ThroughputResponse } from '../common/protocol.js';
import { INVARIANTS } from '../../shared/invariants/index.js';
import type { UiSession } from './session.js';

/** How often batches, states and statuses go out. */
const TICK_MS = 100;
/** Events kept for the next batch; older ones are counted as skipped (the list shows the tail). */
const MAX_BATCH = 2000;
/** The lab state goes out at most this often. */
const STATE_EVERY_TICKS = 4;
/** Longest wait for the run to stop on close before its processes are killed. */
const STOP_DEADLINE_MS = 15_000;
/** The achieved speed is measured over this much wall time. */
const ACHIEVED_WINDOW_MS = 2000;
/** Longest wait for a node to answer an inspection. */
const INSPECT_TIMEOUT_MS = 5000;

/**
 * When a live run's virtual time starts: `now`; at the first page that opens the stream, so
 * nothing plays before anyone looks (`first-client`); or when someone resumes it (`paused`).
 */
export type LiveStart = 'now' | 'first-client' | 'paused';

/** How the run ended, as the status line tells it. */
interface RunEnd {
  readonly status: 'completed' | 'interrupted' | 'failed';
  readonly virtualTimeNs: number;
  readonly fingerprint: string | null;
  readonly reason: string | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A live run served to browsers. */
export class LiveSession implements UiSession {
  readonly mode = 'live' as const;
  private readonly reader: EventLogReader;
  private readonly timeline = new Timeline();
  private readonly subscribers = new Set<(message: ServerMessage) => void>();
  private readonly topology: ResolvedTopology;
  private pending: ClusterEvent[] = [];
  private skipped = 0;
  private paused = false;
  private speed: number;
  private until: { atNs?: number; kind?: string } | null = null;
  private message: string | null = null;
  private end: RunEnd | null = null;
  private ticks = 0;
  private stateSentSeq = -2;
  private lastStatus = '';
  private readonly ticker: NodeJS.Timeout;
  private readonly captures: LiveCaptures;
  private readonly deliveries: FlowDeliveries;
  /** [wall ms, virtual ns] at each tick of the last {@link ACHIEVED_WINDOW_MS}, for the achieved speed. */
  private pace: Array<[number, number]> = [];
  /** Held at 0 until the first page opens the stream (and nobody has used the time control). */
  private waitingForClient = false;

  /**
   * @param speed the pace the run was started at (virtual seconds per wall second; 0 as fast as possible)
   * @param start when virtual time starts moving (see {@link LiveStart})
   */
  constructor(
    private readonly run: RunHandle,
    speed: number,
    start: LiveStart = 'now',
  ) {
    this.topology = run.prepared.topology;
    this.speed = speed;
    if (start !== 'now') {
      this.paused = true;
      run.controller.pause();
      this.waitingForClient = start === 'first-client';
      this.message = start === 'first-client' ? 'Waiting for a page to open: virtual time starts then' : 'Paused at 0: resume when ready';
    }
    this.reader = EventLogReader.open(run.db);
    this.deliveries = new FlowDeliveries(this.reader, this.topology);
    this.captures = new LiveCaptures(run);
    run.onEvents((events) => {
      for (const e of events) this.onEvent(toUiEvent(e));
      if (this.pending.length > MAX_BATCH) {
        this.skipped += this.pending.length - MAX_BATCH;
        this.pending.splice(0, this.pending.length - MAX_BATCH);
      }
    });
    const ended = run.done.then(
      (summary): RunEnd => ({ status: summary.status, virtualTimeNs: summary.virtualTimeNs, fingerprint: summary.fingerprint, reason: summary.reason }),
      (error: unknown): RunEnd => ({ status: 'failed', virtualTimeNs: run.controller.now(), fingerprint: null, reason: error instanceof Error ? error.message : String(error) }),
    );
    void ended.then((end) => {
      this.end = end;
      this.until = null;
      this.message = end.status === 'completed' ? 'The run completed' : `The run ${end.status}${end.reason ? `: ${end.reason}` : ''}`;
      this.tick(true);
    });
    this.ticker = setInterval(() => this.tick(false), TICK_MS);
  }

  info(): RunResponse {
    const { prepared, mode, db } = this.run;
    return {
      mode: 'live',
      run: {
        id: `${prepared.topology.name}-seed${prepared.seed}`,
        topology: prepared.topology.name,
        scenario: prepared.scenario.name,
        seed: prepared.seed,
        runMode: mode,
        db,
        endNs: prepared.endNs,
        fingerprint: this.end?.fingerprint ?? null,
      },
      topology: this.topology,
      status: this.status(),
      actions: availableActions(),
    };
  }

  status(): RunStatus {
    const events = this.timeline.length;
    return {
      state: this.end ? this.end.status : events === 0 ? 'starting' : this.paused ? 'paused' : 'running',
      vtime: this.end ? this.end.virtualTimeNs : this.run.controller.now(),
      paused: this.paused && !this.end,
      speed: this.speed,
      achieved: this.achieved(),
      events,
      until: this.until,
      message: this.message,
    };
  }

  /** Virtual over wall time across the recent ticks, while the run runs. */
  private achieved(): number | null {
    if (this.end || this.paused || this.pace.length < 2) return null;
    const [wall0, virtual0] = this.pace[0]!;
    const [wall1, virtual1] = this.pace[this.pace.length - 1]!;
    if (wall1 - wall0 < ACHIEVED_WINDOW_MS / 2) return null;
    const ratio = (virtual1 - virtual0) / 1e9 / ((wall1 - wall0) / 1000);
    return Number(ratio.toPrecision(2));
  }

  events(query: EventsQuery): EventsResponse {
    this.run.flush();
    return queryEvents(this.reader, query);
  }

  stateAt(at?: number): ClusterState {
    if (at === undefined) return this.timeline.latest();
    if (at >= this.timeline.length) throw new ApiError(404, 'no-event', `No event ${at} yet: the run has ${this.timeline.length} events`, 'at');
    this.run.flush();
    return this.timeline.stateAt(at, logRange(this.reader));
  }

  async inspect(node: string, at?: number): Promise<InspectResponse> {
    const spec = this.topology.nodes.find((n) => n.id === node);
    if (!spec) throw new ApiError(404, 'no-node', `No node ${node} in topology ${this.topology.name}`, 'node');
    if (at !== undefined) {
      const state = this.stateAt(at);
      return { node, kind: spec.kind, source: 'log', at, live: null, log: nodeStateView(state, this.topology, node) };
    }
    let timer: NodeJS.Timeout | undefined;
    const live = await Promise.race([
      this.run.inspect(node).catch(() => null),
      new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), INSPECT_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
    const latest = this.timeline.latest();
    return { node, kind: spec.kind, source: 'live', at: latest.seq, live: jsonSafe(live), log: nodeStateView(latest, this.topology, node) };
  }

  frame(seq: number): FrameResponse {
    this.run.flush();
    return frameAt(this.reader, seq);
  }

  throughput(query: ThroughputQuery): ThroughputResponse {
    this.run.flush();
    return this.deliveries.series(query.at === undefined ? this.timeline.latest() : this.stateAt(query.at), query.bucketMs * 1e6);
  }

  /** While a node runs, its own account of the CPU time it spent so far over the virtual time; once it reported, the report. */
  async cores(): Promise<CoresResponse> {
    const latest = this.timeline.latest();
    const reported = reportedCores(latest);
    if (this.end) return reported;
    const now = this.run.controller.now();
    const done = new Set(reported.nodes.map((n) => n.node));
    const nodes = await Promise.all(
      this.topology.nodes
        .filter((n) => (n.kind === 'host' || n.kind === 'dpu') && !done.has(n.id))
        .map(async (n) => {
          let timer: NodeJS.Timeout | undefined;
          const live = await Promise.race([this.run.inspect(n.id).catch(() => null), new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), INSPECT_TIMEOUT_MS)))]);
          clearTimeout(timer);
          const cpuNs = (live as { core?: { datapath?: { cost?: { totalCpuNs?: unknown } } } } | null)?.core?.datapath?.cost?.totalCpuNs;
          return typeof cpuNs === 'number' && now > 0 ? [{ node: n.id, coreType: n.kind === 'host' ? 'x86' : 'arm', coresUsed: cpuNs / now, source: 'live' as const }] : [];
        }),
    );
    return { vtime: now, nodes: [...reported.nodes, ...nodes.flat()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)) };
  }

  /** Reads the events recorded since the last call into the checks; judges the run whole once it has ended. */
  /** The run's own checkers' verdict (they read every event as it is committed; whole once the run has ended). */
  invariants(): InvariantsResponse {
    const { report, final } = this.run.invariants();
    return { invariants: INVARIANTS.map((i) => ({ id: i.id, meaning: i.meaning })), checked: report.events, final, violations: report.violations };
  }

  async control(request: ControlRequest): Promise<RunStatus> {
    if (this.end) throw new ApiError(409, 'run-ended', 'The run has ended: there is no time left to control');
    const controller = this.run.controller;
    this.message = null;
    // Whoever uses the time control decides when time moves, not the first page to open.
    this.waitingForClient = false;
    switch (request.op) {
      case 'pause':
        this.until = null;
        this.paused = true;
        controller.pause();
        await this.settle();
        break;
      case 'resume':
        this.until = null;
        this.paused = false;
        controller.resume();
        break;
      case 'step': {
        if (!this.paused) throw new ApiError(409, 'not-paused', 'Pause the run before stepping');
        const time = controller.now();
        const events = this.timeline.length;
        controller.step();
        for (let waited = 0; waited < 2000 && !this.end && controller.now() === time && this.timeline.length === events; waited += 5) await sleep(5);
        await this.settle();
        break;
      }
      case 'speed':
        this.speed = request.speed;
        controller.setSpeed(request.speed);
        break;
      case 'until': {
        if (request.atNs !== undefined && request.atNs <= controller.now()) {
          throw new ApiError(400, 'in-the-past', `Invalid atNs: ${request.atNs} ns is not after the current time ${controller.now()} ns`, 'atNs');
        }
        this.until = request.atNs !== undefined ? { atNs: request.atNs } : { kind: request.kind! };
        this.paused = false;
        controller.resume();
        break;
      }
    }
    this.tick(true);
    return this.status();
  }

  act(record: Readonly<Record<string, unknown>>): ActionResponse {
    if (this.end) throw new ApiError(409, 'run-ended', 'The run has ended: actions need a running lab');
    let scheduled;
    try {
      // The run checks the record as a scenario step (the one action schema) before scheduling it.
      scheduled = this.run.act(record as WrittenAction);
    } catch (error) {
      const refused = actionRefused(error);
      if (refused instanceof ApiError) throw refused;
      throw new ApiError(409, 'cannot-schedule', error instanceof Error ? error.message : String(error));
    }
    return { scheduled };
  }

  capture(query: CaptureQuery, sink: CaptureSink): () => void {
    return this.captures.start(query, sink);
  }

  subscribe(send: (message: ServerMessage) => void): () => void {
    if (this.waitingForClient && !this.end) {
      this.waitingForClient = false;
      this.paused = false;
      this.message = null;
      this.run.controller.resume();
    }
    send({ t: 'hello', run: this.info(), state: this.timeline.latest() });
    this.subscribers.add(send);
    return () => this.subscribers.delete(send);
  }

  async close(): Promise<void> {
    clearInterval(this.ticker);
    this.subscribers.clear();
    this.captures.endAll();
    if (!this.run.finished) {
      this.run.interrupt();
      let timer: NodeJS.Timeout | undefined;
      const ended = await Promise.race([
        this.run.done.then(
          () => true,
          () => true,
        ),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), STOP_DEADLINE_MS))),
      ]);
      clearTimeout(timer);
      if (!ended) this.run.killNow();
    }
    this.reader.close();
  }

  private onEvent(event: ClusterEvent): void {
    this.timeline.append(event);
    this.pending.push(event);
    const until = this.until;
    if (until?.kind !== undefined && kindMatches(event.kind, until.kind)) this.reach(`Reached ${event.kind} at event ${event.seq}`);
    else if (until?.atNs !== undefined && event.vtime >= until.atNs) this.reach(`Reached ${until.atNs} ns`);
  }

  /** A pending `until` is reached: pause at the next window boundary. */
  private reach(message: string): void {
    this.until = null;
    this.paused = true;
    this.message = message;
    this.run.controller.pause();
  }

  /** Waits until virtual time stops moving after a pause (a window under way finishes). */
  private async settle(): Promise<void> {
    let last = this.run.controller.now();
    let stable = 0;
    for (let i = 0; i < 200 && stable < 6 && !this.end; i++) {
      await sleep(10);
      const now = this.run.controller.now();
      stable = now === last ? stable + 1 : 0;
      last = now;
    }
  }

  private broadcast(message: ServerMessage): void {
    for (const send of this.subscribers) send(message);
  }

  private tick(force: boolean): void {
    this.ticks++;
    // Wall time is read here, in the server, never by the run: it only measures the pace achieved.
    const wall = Date.now();
    if (this.paused || this.end) this.pace = [];
    else {
      this.pace.push([wall, this.run.controller.now()]);
      while (this.pace.length > 2 && wall - this.pace[0]![0] > ACHIEVED_WINDOW_MS) this.pace.shift();
    }
    const until = this.until;
    if (until?.atNs !== undefined && !this.end && this.run.controller.now() >= until.atNs) this.reach(`Reached ${until.atNs} ns`);
    if (this.ticks % 3 === 0) this.run.flush();
    if (this.pending.length > 0) {
      this.broadcast({ t: 'events', events: this.pending, skipped: this.skipped });
      this.pending = [];
      this.skipped = 0;
    }
    const latest = this.timeline.latest();
    if ((force || this.ticks % STATE_EVERY_TICKS === 0) && latest.seq !== this.stateSentSeq) {
      this.stateSentSeq = latest.seq;
      this.broadcast({ t: 'state', state: latest });
    }
    const status = this.status();
    const text = JSON.stringify(status);
    if (force || text !== this.lastStatus) {
      this.lastStatus = text;
      this.broadcast({ t: 'status', status });
    }
  }
}
