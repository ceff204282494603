/**
 * What the API reads from an event log, live or recorded: filtered event pages (forwards, or the
 * last ones before a point), one frame decoded layer by layer, and event ranges for seeking.
 */
import type { EventFilter, EventLogReader } from '../../processes/controller/log/reader.js';
import type { RecordedEvent } from '../../shared/events.js';
import { tryDecodeFrame, summarizeFrame } from '../../shared/net/frame.js';
import type { ClusterEvent } from '../../shared/state/cluster-state.js';
import type { EventRange } from '../../shared/state/timeline.js';
import { ApiError } from './errors.js';
import { frameProtocol } from '../../processes/controller/frame-protocol.js';
import { toClusterEvent } from '../../shared/state/recorded.js';
import { decodePayload, jsonSafe, toUiEvent } from './event-json.js';
import type { EventsQuery, EventsResponse, FrameResponse } from '../common/protocol.js';

/** Reader kinds for the API's patterns: `x.*` as is, a plain `x` as itself and everything under it. */
export function expandKindPatterns(patterns: readonly string[]): string[] {
  return [...new Set(patterns.flatMap((p) => (p.endsWith('.*') ? [p] : [p, `${p}.*`])))];
}

function filterOf(query: EventsQuery): EventFilter {
  // A protocol is only ever carried by a frame: look at frames alone, on the kind index.
  const kinds = query.protocol ? ['frame.tx'] : query.kind ? expandKindPatterns(query.kind) : undefined;
  return {
    ...(kinds ? { kinds } : {}),
    ...(query.notKind ? { excludeKinds: expandKindPatterns(query.notKind) } : {}),
    ...(query.node ? { nodes: query.node } : {}),
    ...(query.fromNs !== undefined ? { fromNs: query.fromNs } : {}),
    ...(query.toNs !== undefined ? { toNs: query.toNs } : {}),
  };
}

/**
 * What a query asks of an event beyond the reader's filter: its frame's protocol, and whether
 * it is pcie housekeeping (both read from the frame itself, so only a frame can fail them).
 */
function frameTest(query: EventsQuery): ((event: RecordedEvent) => boolean) | null {
  const protocols = query.protocol?.map((p) => p.toLowerCase());
  const hideHousekeeping = query.housekeeping === '0';
  if (!protocols && !hideHousekeeping) return null;
  return (event) => {
    if (event.kind !== 'frame.tx') return protocols === undefined;
    const p = decodePayload(event.payload) as Record<string, unknown>;
    const carried = frameProtocol(p.channel, p.bytes instanceof Uint8Array ? p.bytes : null);
    if (hideHousekeeping && carried.housekeeping) return false;
    return protocols === undefined || protocolMatches(carried.protocol, protocols);
  };
}

/** `GENEVE/TCP` answers to `geneve/tcp`, `geneve` and `tcp`; `DMA txcomp` to itself. */
function protocolMatches(protocol: string, wanted: readonly string[]): boolean {
  const name = protocol.toLowerCase();
  return wanted.some((w) => w === name || name.split('/').includes(w));
}

/** One page of events matching a query (see {@link EventsQuery}). */
export function queryEvents(reader: EventLogReader, query: EventsQuery): EventsResponse {
  const total = reader.count();
  const filter = filterOf(query);
  const test = frameTest(query);
  const from = query.from ?? 0;
  const to = Math.min(query.to ?? total, total);
  const bytes = query.bytes === '1';
  if (to <= from) return { events: [], total, more: false };
  let found: RecordedEvent[];
  if (query.order === 'asc') {
    found = [];
    // Without a frame test the reader stops at the limit; with one, the test does.
    for (const e of reader.events({ ...filter, fromSeq: from, toSeq: to, ...(test ? {} : { limit: query.limit + 1 }) })) {
      if (test && !test(e)) continue;
      found.push(e);
      if (found.length > query.limit) break;
    }
    const more = found.length > query.limit;
    return { events: found.slice(0, query.limit).map((e) => toUiEvent(e, { bytes })), total, more };
  }
  // The last `limit` matches before `to`: look back in growing spans until enough are found.
  found = [];
  let hi = to;
  let span = query.limit + 1;
  while (hi > from && found.length <= query.limit) {
    const lo = Math.max(from, hi - span);
    const slice = [...reader.events({ ...filter, fromSeq: lo, toSeq: hi })];
    found = (test ? slice.filter(test) : slice).concat(found);
    hi = lo;
    span *= 4;
  }
  return { events: found.slice(-query.limit).map((e) => toUiEvent(e, { bytes })), total, more: found.length > query.limit };
}

/** Events [from, to) of a log as the timeline folds them. */
export function logRange(reader: EventLogReader): EventRange {
  return function* range(from: number, to: number): Generator<ClusterEvent> {
    for (const e of reader.events({ fromSeq: from, toSeq: to })) yield toClusterEvent(e);
  };
}

/** A `frame.tx` event with its frame decoded layer by layer; 404 for any other event. */
export function frameAt(reader: EventLogReader, seq: number): FrameResponse {
  const event = reader.eventAt(seq);
  if (!event) throw new ApiError(404, 'no-event', `No event ${seq}: the log has ${reader.count()} events`, 'seq');
  if (event.kind !== 'frame.tx') throw new ApiError(404, 'not-a-frame', `Event ${seq} is ${event.kind}, not frame.tx`, 'seq');
  const p = decodePayload(event.payload) as Record<string, unknown>;
  const bytes = p.bytes instanceof Uint8Array ? p.bytes : new Uint8Array(0);
  // `eth` and `mgmt` carry Ethernet frames; the other pcie channels carry msgpack maps, a `dma`
  // one with the vNIC's frame inside.
  const ethernet = p.channel === 'eth' || p.channel === 'mgmt';
  let message: unknown = null;
  let frame: Uint8Array | null = bytes;
  if (!ethernet) {
    const inner = decodePayload(bytes);
    message = jsonSafe(inner);
    const carried = inner !== null && typeof inner === 'object' ? (inner as Record<string, unknown>).frame : undefined;
    frame = carried instanceof Uint8Array ? carried : null;
  }
  const result = frame ? tryDecodeFrame(frame) : null;
  const text = (v: unknown): string => (typeof v === 'string' ? v : String(v ?? ''));
  const number = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  return {
    seq: event.seq,
    vtime: event.vtime,
    node: event.node,
    wire: text(p.wire),
    dir: text(p.dir),
    port: text(p.port),
    channel: text(p.channel),
    len: number(p.len) ?? bytes.length,
    fate: text(p.fate),
    txStart: number(p.txStart),
    arrival: number(p.arrival),
    bytes: jsonSafe(bytes) as string,
    message,
    frame: frame ? (jsonSafe(frame) as string) : null,
    summary: result?.ok ? summarizeFrame(result.frame) : null,
    decoded: result?.ok ? jsonSafe(result.frame) : null,
    error: result && !result.ok ? { code: result.error.code, layer: result.error.layer, offset: result.error.offset, message: result.error.message } : null,
  };
}
