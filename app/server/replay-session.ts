/**
 * The UI over a recorded run: read-only, no processes. The browser seeks with `?at=SEQ`; the
 * lab state at any event comes from a timeline folded once over the log (in the background,
 * in slices, so the server answers while it builds), with snapshots that make every seek fold at
 * most one snapshot interval of events.
 */
import { EventLogReader } from '../../processes/controller/log/reader.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { ClusterState } from '../../shared/state/cluster-state.js';
import { nodeStateView } from '../../shared/state/node-view.js';
import { Timeline } from '../../shared/state/timeline.js';
import { ApiError } from './errors.js';
import { toClusterEvent } from '../../shared/state/recorded.js';
import { frameAt, logRange, queryEvents } from './log-queries.js';
import type { ActionResponse, EventsQuery, EventsResponse, FrameResponse, InspectResponse, RunResponse, RunStatus, ServerMessage } from '../common/protocol.js';
import type { UiSession } from './session.js';

/** Events folded per slice of background work. */
const SLICE = 5000;

/** A recorded run served to browsers. */
export class ReplaySession implements UiSession {
  readonly mode = 'replay' as const;
  private readonly reader: EventLogReader;
  private readonly timeline = new Timeline();
  private readonly topology: ResolvedTopology;
  private readonly total: number;
  private building: NodeJS.Immediate | null = null;

  /** Opens a log read-only; throws EventLogError for a file that is not a usable dpulab log. */
  constructor(readonly db: string) {
    this.reader = EventLogReader.open(db);
    this.topology = JSON.parse(this.reader.run().topologyJson) as ResolvedTopology;
    this.total = this.reader.count();
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

  async control(): Promise<RunStatus> {
    throw new ApiError(409, 'replay', 'A recorded run has no time to control: seek instead');
  }

  act(): ActionResponse {
    throw new ApiError(409, 'replay', 'A recorded run cannot be changed: actions need a live run');
  }

  subscribe(send: (message: ServerMessage) => void): () => void {
    send({ t: 'hello', run: this.info(), state: this.stateAt() });
    return () => undefined;
  }

  async close(): Promise<void> {
    if (this.building) clearImmediate(this.building);
    this.building = null;
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
    this.buildTo(Math.min(this.total, from + SLICE) - 1);
    this.building = setImmediate(() => this.buildSlice());
  }
}
