/**
 * Labs in the UI: the session the server serves can be swapped for a run of a lab (its topology
 * and starting scenario, paused at 0 so the student reads first), started again from scratch
 * (reset), and graded event by event as the run goes, the grade pushed on the stream. Over a
 * recording, choosing a lab grades the recording.
 *
 * It is a `UiSession` itself, delegating to the session of the moment, so that the HTTP layer
 * and the stream need not know that it changes.
 */
import { join } from 'node:path';
import { startRun, type RunMode } from '../../processes/controller/session.js';
import { decode } from '../../shared/codec.js';
import type { RecordedEvent } from '../../shared/events.js';
import { BUILTIN_LABS } from '../../shared/lab/builtin/index.js';
import { LabGrader, type LabGrade } from '../../shared/lab/grader.js';
import type { Lab } from '../../shared/lab/types.js';
import type { ClusterState } from '../../shared/state/cluster-state.js';
import { gradeBinding, gradeLog, listLabs, openLabFile, prepareLabRun, type LabFile } from '../lab/labs.js';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import { ApiError, parseRequest } from './errors.js';
import { labRequestSchema, type LabInfo, type LabListing, type LabResponse } from '../common/lab-protocol.js';
import { LiveSession } from './live-session.js';
import type { CaptureSink } from './capture-stream.js';
import type { ActionResponse, CaptureQuery, ControlRequest, EventsQuery, EventsResponse, FrameResponse, InvariantsResponse, InspectResponse, RunResponse, RunStatus, ServerMessage, CoresResponse, ThroughputQuery, ThroughputResponse } from '../common/protocol.js';
import type { UiSession } from './session.js';

/** How often a changed grade goes out on the stream. */
const GRADE_TICK_MS = 250;

/** How lab runs are started: what `dpulab ui` was told. */
export interface LabRunSettings {
  readonly mode: RunMode;
  /** Virtual seconds per wall second once the student resumes; 0 as fast as possible. */
  readonly speed: number;
  /** Where lab runs are recorded: `<dir>/lab-<name>-seed<n>-ui-<time>.db`... */
  readonly dir: string;
  /** ...except the first, when given (`dpulab ui --lab NAME --record FILE`). */
  readonly firstDb?: string;
  readonly log: (line: string) => void;
}

/** A lab in progress (live) or chosen for the recording (replay). */
interface ActiveLab {
  readonly lab: Lab;
  /** The lab file's digest, for the grade's binding. */
  readonly sha256: string;
  /** The dpulab version that recorded the run graded (this one, for a live run). */
  readonly recordedBy: string;
  readonly db: string;
  readonly endNs: number;
  readonly grade: () => LabGrade;
}

/** The routes `startUiServer` hands to the lab sessions. */
export interface LabRoutes {
  /** Answers `/api/lab`; null for any other path. */
  handle(method: string, path: string, body: () => Promise<unknown>): Promise<{ status: number; body: unknown }> | null;
}

/** The UI's session, which a lab run can replace. */
export class LabSessions implements UiSession, LabRoutes {
  /** Null only until {@link open} has started the first lab. */
  private current: UiSession | null;
  private active: ActiveLab | null = null;
  /** Labs given on the command line by path, by name. */
  private readonly extra = new Map<string, LabFile>();
  private readonly subscribers = new Map<(message: ServerMessage) => void, () => void>();
  private readonly ticker: NodeJS.Timeout;
  private lastSent = '';
  private runs = 0;
  private readonly builtins: readonly LabListing[] = listLabs();
  private switching: Promise<unknown> = Promise.resolve();

  /**
   * `initial`: the session before any lab (the default live run, or a recording), or null when a
   * lab is {@link open}ed at once; `replayDb`: the recording's log, for grading it.
   */
  constructor(
    initial: UiSession | null,
    private readonly settings: LabRunSettings,
    private readonly replayDb: string | null = null,
  ) {
    this.current = initial;
    this.ticker = setInterval(() => this.pushGrade(false), GRADE_TICK_MS);
  }

  /** Starts a lab (live: a new run of it; replay: grades the recording) before the server opens. */
  async open(nameOrPath: string): Promise<void> {
    const file = openLabFile(nameOrPath);
    const lab = file.lab;
    if (!builtinNames().has(lab.name)) this.extra.set(lab.name, file);
    await this.start(file);
  }

  get mode(): UiSession['mode'] {
    return this.session().mode;
  }

  info(): RunResponse {
    return this.session().info();
  }
  status(): RunStatus {
    return this.session().status();
  }
  events(query: EventsQuery): EventsResponse {
    return this.session().events(query);
  }
  stateAt(at?: number): ClusterState {
    return this.session().stateAt(at);
  }
  inspect(node: string, at?: number): Promise<InspectResponse> {
    return this.session().inspect(node, at);
  }
  frame(seq: number): FrameResponse {
    return this.session().frame(seq);
  }
  throughput(query: ThroughputQuery): ThroughputResponse {
    return this.session().throughput(query);
  }

  cores(): Promise<CoresResponse> {
    return this.session().cores();
  }

  invariants(): InvariantsResponse {
    return this.session().invariants();
  }
  control(request: ControlRequest): Promise<RunStatus> {
    return this.session().control(request);
  }
  act(record: Readonly<Record<string, unknown>>): ActionResponse {
    return this.session().act(record);
  }
  /** A capture of the session of the moment: a lab that replaces it ends the capture. */
  capture(query: CaptureQuery, sink: CaptureSink): () => void {
    return this.session().capture(query, sink);
  }

  subscribe(send: (message: ServerMessage) => void): () => void {
    this.subscribers.set(send, this.session().subscribe(send));
    if (this.active) send({ t: 'lab', grade: this.active.grade() });
    return () => {
      this.subscribers.get(send)?.();
      this.subscribers.delete(send);
    };
  }

  async close(): Promise<void> {
    clearInterval(this.ticker);
    await this.switching;
    for (const unsubscribe of this.subscribers.values()) unsubscribe();
    this.subscribers.clear();
    await this.current?.close();
  }

  private session(): UiSession {
    if (this.current === null) throw new ApiError(503, 'starting', 'The lab is starting');
    return this.current;
  }

  handle(method: string, path: string, body: () => Promise<unknown>): Promise<{ status: number; body: unknown }> | null {
    if (path !== '/api/lab') return null;
    return (async () => {
      if (method === 'GET' || method === 'HEAD') return { status: 200, body: this.response() };
      if (method !== 'POST') throw new ApiError(405, 'method', '/api/lab takes GET or POST');
      const { lab: name } = parseRequest(labRequestSchema, await body());
      const lab = this.extra.get(name) ?? (builtinNames().has(name) ? openLabFile(name) : null);
      if (lab === null) throw new ApiError(404, 'no-lab', `No lab ${name}: expected one of ${this.labs().map((l) => l.name).join(', ')}`, 'lab');
      // One switch at a time: a second request waits for the first to finish.
      const switching = this.switching.then(() => this.start(lab));
      this.switching = switching.catch(() => undefined);
      await switching;
      return { status: 200, body: this.response() };
    })();
  }

  /** The labs on offer: the built-in ones, then any given on the command line. */
  private labs(): LabListing[] {
    return [...this.builtins, ...[...this.extra.values()].map(({ lab: l }) => ({ name: l.name, title: l.title, tasks: l.tasks.length }))];
  }

  private response(): LabResponse {
    const a = this.active;
    const lab: LabInfo | null =
      a === null
        ? null
        : {
            name: a.lab.name,
            title: a.lab.title,
            introduction: a.lab.introduction,
            tasks: a.lab.tasks.map((t) => ({ id: t.id, text: t.text, hints: t.hints })),
            endNs: a.endNs,
            db: a.db,
            // What `lab check --json` binds a grade to; the fingerprint is known once the run has ended.
            binding: { fingerprint: this.current?.info().run.fingerprint ?? null, seed: this.current?.info().run.seed ?? 0, labVersion: a.lab.version, labSha256: a.sha256, recordedBy: a.recordedBy, gradedBy: DPULAB_VERSION },
          };
    return { mode: this.replayDb === null ? 'live' : 'replay', labs: this.labs(), lab, grade: a?.grade() ?? null };
  }

  /** Live: a fresh run of the lab replaces the current session. Replay: the recording is graded. */
  private async start(file: LabFile): Promise<void> {
    const lab = file.lab;
    if (this.replayDb !== null) {
      const { grade, run } = gradeLog(lab, this.replayDb);
      const binding = gradeBinding(file, run);
      this.active = { lab, sha256: file.sha256, recordedBy: binding.recordedBy, db: this.replayDb, endNs: run.endVtime ?? run.untilNs ?? 0, grade: () => grade };
      this.pushGrade(true);
      return;
    }
    const prepared = prepareLabRun(lab, null);
    const db = this.runs === 0 && this.settings.firstDb !== undefined ? this.settings.firstDb : this.recordPath(lab, prepared.seed);
    this.runs++;
    const { speed } = this.settings;
    const run = startRun({ db, mode: this.settings.mode, readWhileRunning: true, ...(speed > 0 ? { pace: { speed } } : {}), log: this.settings.log }, prepared);
    process.on('exit', () => run.killNow());
    const grader = new LabGrader(lab);
    let final = false;
    run.onEvents((events: readonly RecordedEvent[]) => {
      for (const e of events) if (grader.wants(e.kind)) grader.feed({ seq: e.seq, vtime: e.vtime, node: e.node, kind: e.kind, payload: decode(e.payload) });
    });
    const graded = (): void => {
      final = true;
      this.pushGrade(false);
    };
    void run.done.then(graded, graded);
    const session = new LiveSession(run, speed);
    // The lab waits for the student: virtual time starts when they resume it.
    await session.control({ op: 'pause' });
    this.settings.log(`dpulab ui: lab ${lab.name}, recording to ${db}`);

    const previous = this.current;
    this.current = session;
    // The grade reads the cluster state the session folds from the same events (the grader's
    // listener and the session's were called with the same batches, in the same turn).
    this.active = { lab, sha256: file.sha256, recordedBy: DPULAB_VERSION, db, endNs: prepared.endNs, grade: () => grader.grade(final, session.stateAt()) };
    for (const [send, unsubscribe] of this.subscribers) {
      unsubscribe();
      this.subscribers.set(send, session.subscribe(send));
    }
    this.pushGrade(true);
    await previous?.close();
  }

  private recordPath(lab: Lab, seed: number): string {
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
    return join(this.settings.dir, `lab-${lab.name}-seed${seed}-ui-${stamp}-${process.pid}-${this.runs}.db`);
  }

  /** Sends the grade to every browser when it changed (or always, `force`). */
  private pushGrade(force: boolean): void {
    if (!this.active) return;
    const grade = this.active.grade();
    const text = JSON.stringify(grade);
    if (!force && text === this.lastSent) return;
    this.lastSent = text;
    for (const send of this.subscribers.keys()) send({ t: 'lab', grade });
  }
}

function builtinNames(): Set<string> {
  return new Set(BUILTIN_LABS.map((l) => l.name));
}
