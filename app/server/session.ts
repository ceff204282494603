/**
 * What the HTTP layer serves, whether the run is live or recorded: one interface, two
 * implementations (`LiveSession`, `ReplaySession`). Every method either answers or throws an
 * ApiError; none changes anything when it throws.
 */
import type { ClusterState } from '../../shared/state/cluster-state.js';
import type { CaptureSink } from './capture-stream.js';
import type { ActionResponse, CaptureQuery, CoresResponse, ThroughputQuery, ThroughputResponse, ControlRequest, EventsQuery, EventsResponse, FrameResponse, InspectResponse, InvariantsResponse, RunResponse, RunStatus, ServerMessage, SessionMode } from '../common/protocol.js';

/** A run as the UI sees it. */
export interface UiSession {
  readonly mode: SessionMode;
  /** `GET /api/run`. */
  info(): RunResponse;
  status(): RunStatus;
  /** `GET /api/events`. */
  events(query: EventsQuery): EventsResponse;
  /** `GET /api/state`: the lab after event `at` (default: the latest). */
  stateAt(at?: number): ClusterState;
  /** `GET /api/inspect/:node`. */
  inspect(node: string, at?: number): Promise<InspectResponse>;
  /** `GET /api/frame/:seq`. */
  frame(seq: number): FrameResponse;
  /** `GET /api/invariants`. */
  invariants(): InvariantsResponse;
  /** `GET /api/throughput`: each flow's throughput from the log, up to event `query.at` (default: the latest). */
  throughput(query: ThroughputQuery): ThroughputResponse;
  /** `GET /api/cores`: cores used by networking, live from the nodes while they run, else from their reports. */
  cores(): Promise<CoresResponse>;
  /** `POST /api/control`. */
  control(request: ControlRequest): Promise<RunStatus>;
  /** `POST /api/action`: `record` already parsed as `{action, ...}`. */
  act(record: Readonly<Record<string, unknown>>): ActionResponse;
  /**
   * `GET /api/capture`: writes a pcapng capture of a wire or vNIC to `sink` (its header at once),
   * live until the run ends, over a recording the whole of it; returns the function that stops it.
   * Throws an ApiError (400 naming `wire` or `vnic`) before writing anything.
   */
  capture(query: CaptureQuery, sink: CaptureSink): () => void;
  /** Pushes messages to `send` (first a hello) until the returned function is called. */
  subscribe(send: (message: ServerMessage) => void): () => void;
  /** Stops the run (if any), releases the log. */
  close(): Promise<void>;
}
