/**
 * `/api/capture`: a wire's frames, or what a vNIC's guest sent and received, as a pcapng stream
 * (`dpulab capture URL --wire ID | wireshark -k -i -`). The blocks come from the same
 * `PcapngCapture` the `dpulab pcap` export is made of.
 *
 * Live, the stream starts when it is asked for (the section header and interfaces first) and
 * carries every frame the run records from then on, until the reader goes away or the run ends.
 * Over a recording, it carries the whole recording's capture (what `dpulab pcap` would write) and
 * ends: a recording has no present to follow, and the server does not know where a browser has
 * seeked to.
 */
import { capturedWires, CaptureTargetError, PcapngCapture, type CapturedWire, type CaptureTarget } from '../../processes/controller/capture.js';
import type { EventLogReader } from '../../processes/controller/log/reader.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { CaptureQuery } from '../common/protocol.js';
import { ApiError } from './errors.js';
import type { RunHandle } from '../../processes/controller/session.js';

/**
 * Bytes a reader may leave unread before a live capture drops frames instead of buffering them
 * (Wireshark paused, a stalled pipe): a live run does not wait for a reader, and the server must
 * not grow without bound. 8 MiB is some seconds of a busy uplink; the log keeps every frame.
 */
export const MAX_CAPTURE_BACKLOG_BYTES = 8 * 1024 * 1024;

/** Events a recording's capture reads per slice, between which the server answers others. */
const REPLAY_SLICE = 2000;

/** Where a capture's bytes go: the HTTP response, for the server. */
export interface CaptureSink {
  /** Writes pcapng blocks (whole blocks only: a stream cut anywhere between writes is a valid file). */
  write(bytes: Uint8Array): void;
  /** Bytes written that the reader has not taken yet. */
  backlog(): number;
  /** Resolves when the backlog has been taken, or the reader has gone away. */
  drained(): Promise<void>;
  /** The capture is complete (the run ended, or the recording was read to its end). */
  end(): void;
}

/** Turns a parsed query into a capture target. */
function targetOf(query: CaptureQuery): CaptureTarget {
  return query.wire !== undefined ? { wire: query.wire } : { vnic: query.vnic! };
}

/**
 * Opens the capture, or throws the 400 that names the field (`wire` or `vnic`) and the ids the
 * run has.
 */
function openCapture(query: CaptureQuery, wires: readonly CapturedWire[], topology: ResolvedTopology, where: string): PcapngCapture {
  try {
    return PcapngCapture.open(targetOf(query), wires, topology, where);
  } catch (error) {
    if (error instanceof CaptureTargetError) throw new ApiError(400, 'unknown-capture-target', `Invalid ${error.field}: ${error.message}`, error.field);
    throw error;
  }
}

/** The captures of a live run: one event listener feeding every open capture. */
export class LiveCaptures {
  private readonly open = new Map<PcapngCapture, CaptureSink>();
  private readonly wires: CapturedWire[];
  private stopListening: (() => void) | null = null;
  private ended = false;

  private readonly topology: ResolvedTopology;

  constructor(private readonly run: RunHandle) {
    this.topology = run.prepared.topology;
    this.wires = capturedWires(this.topology);
    const end = (): void => this.endAll();
    void run.done.then(end, end);
  }

  /**
   * Starts a capture: writes its header to `sink` at once, then the frames of every event the run
   * records. Returns the function that stops it (the reader went away).
   *
   * @throws ApiError 400 naming `wire` or `vnic` for an id the topology lacks; 409 once the run has ended
   */
  start(query: CaptureQuery, sink: CaptureSink): () => void {
    if (this.ended || this.run.finished) {
      const flag = query.wire !== undefined ? `--wire ${query.wire}` : `--vnic ${query.vnic!}`;
      throw new ApiError(409, 'run-ended', `The run has ended: there is nothing left to capture live (dpulab pcap ${this.run.db} ${flag} exports what it recorded)`);
    }
    const capture = openCapture(query, this.wires, this.topology, `topology ${this.topology.name}`);
    sink.write(capture.header());
    this.open.set(capture, sink);
    this.stopListening ??= this.run.onEvents((events) => {
      for (const [c, s] of this.open) {
        const bytes = c.append(events, { drop: s.backlog() > MAX_CAPTURE_BACKLOG_BYTES });
        if (bytes.length > 0) s.write(bytes);
      }
    });
    return () => this.stop(capture);
  }

  /** Ends every capture (the run ended, or the session closes): the frames still held, then the end. */
  endAll(): void {
    this.ended = true;
    for (const [capture, sink] of this.open) {
      const rest = capture.finish();
      if (rest.length > 0) sink.write(rest);
      sink.end();
    }
    this.open.clear();
    this.stopListening?.();
    this.stopListening = null;
  }

  private stop(capture: PcapngCapture): void {
    this.open.delete(capture);
    if (this.open.size === 0) {
      // No reader left: the run pays nothing for captures.
      this.stopListening?.();
      this.stopListening = null;
    }
  }
}

/**
 * Streams a recording's capture of a wire or vNIC, in slices (the server answers other requests
 * between them), waiting for a slow reader rather than dropping: a recording does not move on.
 * Returns the function that stops it.
 *
 * @throws ApiError 400 naming `wire` or `vnic` for an id the recording lacks
 */
export function replayCapture(reader: EventLogReader, db: string, topology: ResolvedTopology, query: CaptureQuery, sink: CaptureSink): () => void {
  const capture = openCapture(query, reader.wires(), topology, db);
  sink.write(capture.header());
  let stopped = false;
  void (async () => {
    let from = 0;
    for (;;) {
      // A page at a time, never an open iterator: the reader answers other requests in between.
      const page = [...reader.events({ kinds: ['frame.tx'], fromSeq: from, limit: REPLAY_SLICE })];
      if (stopped) return;
      const bytes = capture.append(page);
      if (bytes.length > 0) sink.write(bytes);
      if (page.length < REPLAY_SLICE) break;
      from = page[page.length - 1]!.seq + 1;
      if (sink.backlog() > MAX_CAPTURE_BACKLOG_BYTES) await sink.drained();
      else await new Promise((resolve) => setImmediate(resolve));
      if (stopped) return;
    }
    const rest = capture.finish();
    if (rest.length > 0) sink.write(rest);
    sink.end();
  })().catch((error: unknown) => {
    // The log went away under us (the session closed): end what was sent, a valid file.
    process.stderr.write(`dpulab ui: capture of ${query.wire ?? query.vnic ?? '?'}: ${error instanceof Error ? error.message : String(error)}\n`);
    if (!stopped) sink.end();
  });
  return () => {
    stopped = true;
  };
}
