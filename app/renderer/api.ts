/// <reference lib="dom" />
/**
 * The renderer's only way out: `/api/*` on the origin the page came from (HTTP in a browser, the
 * shell's `dpulab://app/` protocol in the desktop app) and the stream (a WebSocket to
 * `/api/stream`, or the preload's IPC stream in the desktop app).
 */
import { DpulabError } from '../../shared/errors.js';
import type { ApiErrorBody, CoresResponse, ThroughputResponse, EventsResponse, FrameResponse, InspectResponse, InvariantsResponse, RunResponse, RunStatus, ServerMessage, ActionResponse } from '../common/protocol.js';
import type { ClusterState } from '../../shared/state/cluster-state.js';

/** An answer other than 2xx: the server's error body. */
export class ApiCallError extends DpulabError {
  readonly code: string;
  readonly field: string | null;
  constructor(
    readonly status: number,
    body: ApiErrorBody,
  ) {
    super(body.error, { fromInput: status < 500 });
    this.name = 'ApiCallError';
    this.code = body.code;
    this.field = body.field;
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  const response = await fetch(path, init);
  const body = (await response.json()) as unknown;
  if (!response.ok) {
    const error = body as Partial<ApiErrorBody>;
    throw new ApiCallError(response.status, { error: error.error ?? `HTTP ${response.status}`, code: error.code ?? 'http', field: error.field ?? null });
  }
  return body as T;
}

function post<T>(path: string, body: unknown): Promise<T> {
  return call<T>(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
}

/** Query parameters of `/api/events`. */
export interface EventsParams {
  from?: number;
  to?: number;
  limit?: number;
  kind?: string[];
  /** Kinds left out (`frame.tx`). */
  notKind?: string[];
  node?: string[];
  /** Only frames carrying one of these protocols (`TCP`, `ARP`, `GENEVE`). */
  protocol?: string[];
  /** 0: leave out pcie housekeeping frames. */
  housekeeping?: 0 | 1;
  fromNs?: number;
  toNs?: number;
  order?: 'asc' | 'desc';
}

function query(params: object): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value) search.append(key, String(v));
    else search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** Typed calls to every endpoint. */
export const api = {
  run: (): Promise<RunResponse> => call('/api/run'),
  events: (params: EventsParams): Promise<EventsResponse> => call(`/api/events${query(params)}`),
  state: (at?: number): Promise<ClusterState> => call(`/api/state${query({ at })}`),
  inspect: (node: string, at?: number): Promise<InspectResponse> => call(`/api/inspect/${encodeURIComponent(node)}${query({ at })}`),
  frame: (seq: number): Promise<FrameResponse> => call(`/api/frame/${seq}`),
  invariants: (): Promise<InvariantsResponse> => call('/api/invariants'),
  throughput: (bucketMs: number, at?: number): Promise<ThroughputResponse> => call(`/api/throughput${query({ bucketMs, at })}`),
  cores: (): Promise<CoresResponse> => call('/api/cores'),
  control: (body: { op: 'pause' | 'resume' | 'step' } | { op: 'speed'; speed: number } | { op: 'until'; atNs?: number; kind?: string }): Promise<RunStatus> => post('/api/control', body),
  action: (record: Record<string, unknown>): Promise<ActionResponse> => post('/api/action', { record }),
};

/**
 * Keeps a WebSocket to `/api/stream` open, reconnecting after a drop; every message goes to
 * `onMessage`, connection changes to `onConnection`.
 */
export function openStream(onMessage: (message: ServerMessage) => void, onConnection: (connected: boolean) => void): () => void {
  // In the desktop shell the stream comes over IPC, through the preload: there is no WebSocket.
  const desktop = (window as unknown as { dpulab?: { openStream?: (m: (message: ServerMessage) => void, c: (connected: boolean) => void) => () => void } }).dpulab;
  if (desktop?.openStream) return desktop.openStream(onMessage, onConnection);
  let socket: WebSocket | null = null;
  let closed = false;
  let retry: number | undefined;
  const connect = (): void => {
    socket = new WebSocket(`ws://${location.host}/api/stream`);
    socket.onopen = () => onConnection(true);
    socket.onmessage = (event) => onMessage(JSON.parse(String(event.data)) as ServerMessage);
    socket.onclose = () => {
      onConnection(false);
      if (!closed) retry = window.setTimeout(connect, 1000);
    };
  };
  connect();
  return () => {
    closed = true;
    window.clearTimeout(retry);
    socket?.close();
  };
}
