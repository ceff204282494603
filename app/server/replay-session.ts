/**
 * The UI over a recorded run: read-only, no processes. The browser seeks with `?at=SEQ`; the
 * lab state at any event comes from a timeline folded once over the log (in the background,
 * in slices, so the server answers while it builds), with snapshots that make every seek fold at
 * most one snapshot interval of events.
 */
import { EventLogError } from '../../processes/controller/log/errors.js';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { ClusterState } from '../../shared/state/cluster-state.js';
import { nodeStateView } from '../../shared/state/node-view.js';
import { decodeLabSnapshot, LAB_SNAPSHOT_NODE } from '../../shared/state/snapshots.js';
import { DEFAULT_SNAPSHOT_INTERVAL, Timeline } from '../../shared/state/timeline.js';
import { ApiError } from './errors.js';
import { toClusterEvent } from '../../shared/state/recorded.js';
import { FlowDeliveries, reportedCores } from './throughput.js';
import { frameAt, logRange, queryEvents } from './log-queries.js';
import { replayCapture, type CaptureSink } from './capture-stream.js';
import type { ActionResponse, CaptureQuery, EventsQuery, EventsResponse, FrameResponse, InspectResponse, InvariantsResponse, RunResponse, RunStatus, ServerMessage, CoresResponse, ThroughputQuery, ThroughputResponse } from '../common/protocol.js';
import { checkEventLog } from '../../processes/controller/invariants.js';
import { INVARIANTS } from '../../shared/invariants/index.js';
import type { UiSession } from './session.js';

/**
 * A timeline that starts from the lab-state copies the recorder stored (every
 * DEFAULT_SNAPSHOT_INTERVAL events), from the first on as long as they follow each other and
 * this fold can use them; each copy is decoded when a seek first needs it. Without them, an
 * empty timeline that folds from the first event.
 */
function restoredTimeline(reader: EventLogReader): Timeline {
  const stored: Uint8Array[] = [];
  for (const { seq, state } of reader.snapshots(LAB_SNAPSHOT_NODE)) {
    if (seq !== (stored.length + 1) * DEFAULT_SNAPSHOT_INTERVAL) break;
    stored.push(state);
  }
  // The last copy is read now (the timeline carries on from it): one of another fold version,
  // or unreadable, means none is used.
  while (stored.length > 0 && decodeLabSnapshot(stored[stored.length - 1]!) === null) stored.pop();
  return Timeline.restore(stored.length, (i) => {
    const state = decodeLabSnapshot(stored[i]!);
    if (state === null) throw new ApiError(500, 'bad-snapshot', `The log's lab state after event ${(i + 1) * DEFAULT_SNAPSHOT_INTERVAL - 1} cannot be read`);
    return state;
  });
}

/** Events folded per slice of background work. */
const SLICE = 5000;

/** A recorded run served to browsers. */
export class ReplaySession implements UiSession {
  readonly mode = 'replay' as const;
  private readonly reader: EventLogReader;
  private readonly deliveries: FlowDeliveries;
  private readonly timeline: Timeline;
  private readonly topology: ResolvedTopology;
  private readonly total: number;
  private building: NodeJS.Immediate | null = null;
  private verdict: InvariantsResponse | null = null;
  private readonly captures = new Set<() => void>();

  /** Opens a log read-only; throws EventLogError for a file that is not a usable dpulab log. */
  constructor(readonly db: string) {
    this.reader = EventLogReader.open(db);
    try {
      // Seeking and folding count on seqs dense from 0; a log altered after the fact (a deleted
      // row, a negative seq) is refused here, before anything is served, not halfway through.
      const { min, max, count } = this.reader.seqRange();
      if (count > 0 && (min !== 0 || max !== count - 1)) {
        throw new EventLogError('corrupt', db, `Event log is corrupt: ${db} (its ${count} events are numbered ${String(min)} to ${String(max)}: seqs must run from 0 without gaps)`);
      }
      try {
        this.topology = JSON.parse(this.reader.run().topologyJson) as ResolvedTopology;
        this.deliveries = new FlowDeliveries(this.reader, this.topology);
      } catch (error) {
        throw new EventLogError('corrupt', db, `Event log is corrupt: ${db} (runs.topology_json is not JSON)`, { cause: error });
      }
    } catch (error) {
      this.reader.close();
      throw error;
    }
    this.total = this.reader.count();
    this.timeline = restoredTimeline(this.reader);
    this.building = setImmediate(() => this.buildSlice());
  }

  info(): RunResponse {
    const run = this.reader.run();
    return {
      mode: 'replay',
      run: { id: run.id, topology: run.topologyName, scenario: run.scenarioName, seed: run.seed, runMode: run.mode, db: this.db, endNs: run.untilNs, fingerprint: run.fingerprint },
      topology: this.topology,
      status: this.status(),
      actions: [],
    };
  }

  status(): RunStatus {
    const run = this.reader.run();
    const last = this.total > 0 ? this.reader.eventAt(this.total - 1) : undefined;
    return {
      state: 'recorded',
      vtime: run.endVtime ?? last?.vtime ?? 0,
      paused: false,
      speed: 0,
      events: this.total,
      until: null,
      achieved: null,
      message: `Recorded run, ${run.status}`,
    };
  }

  events(query: EventsQuery): EventsResponse {
    return queryEvents(this.reader, query);
  }

  stateAt(at: number = this.total - 1): ClusterState {
    if (at >= this.total) throw new ApiError(404, 'no-event', `No event ${at}: the log has ${this.total} events`, 'at');
    this.buildTo(at);
    return this.timeline.stateAt(at, logRange(this.reader));
  }

  async inspect(node: string, at?: number): Promise<InspectResponse> {
    const spec = this.topology.nodes.find((n) => n.id === node);
    if (!spec) throw new ApiError(404, 'no-node', `No node ${node} in topology ${this.topology.name}`, 'node');
    const seq = at ?? this.total - 1;
    const state = this.stateAt(seq);
    return { node, kind: spec.kind, source: 'log', at: seq, live: null, log: nodeStateView(state, this.topology, node) };
  }

  frame(seq: number): FrameResponse {
    return frameAt(this.reader, seq);
  }

  throughput(query: ThroughputQuery): ThroughputResponse {
    return this.deliveries.series(this.stateAt(query.at), query.bucketMs * 1e6);
  }

  /** A recording has only the end-of-run reports. */
  cores(): Promise<CoresResponse> {
    return Promise.resolve(reportedCores(this.stateAt()));
  }

  /** Judged once, on the first request: one pass over the log (it blocks the server for that pass). */
  invariants(): InvariantsResponse {
    if (this.verdict === null) {
      const report = checkEventLog(this.db);
      this.verdict = { invariants: INVARIANTS.map((i) => ({ id: i.id, meaning: i.meaning })), checked: report.events, final: this.reader.run().status === 'completed', violations: report.violations };
    }
    return this.verdict;
  }

  async control(): Promise<RunStatus> {
    throw new ApiError(409, 'replay', 'A recorded run has no time to control: seek instead');
  }

  act(): ActionResponse {
    throw new ApiError(409, 'replay', 'A recorded run cannot be changed: actions need a live run');
  }

  /** The whole recording's capture, in slices: a recording has no present to follow. */
  capture(query: CaptureQuery, sink: CaptureSink): () => void {
    const stop = replayCapture(this.reader, this.db, this.topology, query, sink);
    this.captures.add(stop);
    return () => {
      this.captures.delete(stop);
      stop();
    };
  }

  subscribe(send: (message: ServerMessage) => void): () => void {
    send({ t: 'hello', run: this.info(), state: this.stateAt() });
    return () => undefined;
  }

  async close(): Promise<void> {
    if (this.building) clearImmediate(this.building);
    this.building = null;
    for (const stop of this.captures) stop();
    this.captures.clear();
    this.reader.close();
  }

  /** Folds the log up to event `seq` now (the background build may not be there yet). */
  private buildTo(seq: number): void {
    const from = this.timeline.length;
    if (seq < from) return;
    for (const e of this.reader.events({ fromSeq: from, toSeq: seq + 1 })) this.timeline.append(toClusterEvent(e));
  }

  private buildSlice(): void {
    this.building = null;
    const from = this.timeline.length;
    if (from >= this.total) return;
    try {
      this.buildTo(Math.min(this.total, from + SLICE) - 1);
    } catch (error) {
      // A page the file damaged: the background build stops; a seek there answers with the error.
      process.stderr.write(`dpulab ui: ${error instanceof Error ? error.message : String(error)}\n`);
      return;
    }
    this.building = setImmediate(() => this.buildSlice());
  }
}
