import { join } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { RecordedEvent } from '../../../shared/events.js';
import type { ResolvedWire } from '../../../shared/topology/types.js';
import { ByteWriter } from '../../runtime/layout.js';
import { PACKAGE_ROOT } from '../package-root.js';
import { EnvironmentError, type EnvironmentErrorCode } from '../environment.js';
import { EventLogWriteError, InvalidEventError } from './errors.js';
import type { EventLogWriterOptions, EventLogWriterStats, NodeExit, NodeStart, RunEnd, RunInfo } from './writer.js';

/**
 * Events encoded per message to the recorder thread. A window's events are few; sending them
 * one window at a time would wake the thread every window, so they gather into batches.
 */
const EVENTS_PER_BATCH = 2048;
/** How long a synchronous call (open, finish, close) waits for the recorder thread. */
const SYNC_DEADLINE_MS = 120_000;

/** A command to the recorder thread (see recorder-worker.ts). */
export type RecorderCommand =
  | { readonly t: 'begin'; readonly info: RunInfo }
  | { readonly t: 'wires'; readonly wires: readonly ResolvedWire[] }
  | { readonly t: 'node'; readonly node: NodeStart }
  | { readonly t: 'exit'; readonly exit: NodeExit }
  | { readonly t: 'events'; readonly count: number; readonly bytes: Uint8Array }
  | { readonly t: 'flush' }
  | { readonly t: 'finish'; readonly end: RunEnd }
  | { readonly t: 'close' };

/** The recorder thread's answer to a synchronous call. */
export type RecorderReply =
  | { readonly ok: true; readonly fingerprint?: string; readonly stats?: EventLogWriterStats }
  | { readonly ok: false; readonly error: RecorderError; readonly unsolicited?: true };

/** An error of the recorder thread, as it crosses to the caller's. */
export interface RecorderError {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  /** The file concerned, for an EnvironmentError. */
  readonly path?: string;
}

/** How to open a log in a recorder thread: the writer's options, and what the thread adds. */
export interface EventRecorderOptions extends EventLogWriterOptions {
  /**
   * Fold the events as the UI does and store the lab state every DEFAULT_SNAPSHOT_INTERVAL events
   * (`shared/state/snapshots.ts`), so a viewer of the recorded run seeks from the nearest copy.
   */
  readonly labSnapshots?: boolean;
}

/** What the recorder thread is started with. */
export interface RecorderWorkerData {
  readonly path: string;
  readonly options: EventRecorderOptions;
  /** Int32 flag the thread sets (and notifies) when it has posted a reply on `replies`. */
  readonly signal: SharedArrayBuffer;
  readonly replies: MessagePort;
}

/**
 * Encodes events for the recorder thread: seq, vtime, node, kind, cause (-1: none), payload and
 * volatile, one after another in one buffer that is handed over whole (no copy on the way).
 */
export function encodeEventBatch(writer: ByteWriter, e: RecordedEvent): void {
  writer.f64(e.seq).f64(e.vtime).str(e.node).str(e.kind).f64(e.cause ?? -1).bytes(e.payload).bytes(e.volatile);
}

/**
 * The run's event log written by a thread of its own: SQLite inserts and the fingerprint's
 * SHA-256 happen there, off the window's critical path. Same calls, same file and the same
 * fingerprint as EventLogWriter, which the thread runs unchanged (`recorder-worker.ts`).
 *
 * `open`, `finishRun` and `close` wait for the thread and throw what it threw (a foreign file, a
 * log that exists, an event out of order); everything else is queued, in order. An error in a
 * queued call surfaces at the next call that waits.
 */
export class EventRecorder {
  readonly path: string;
  private readonly worker: Worker;
  private readonly signal: Int32Array;
  private readonly replies: MessagePort;
  private readonly batch = new ByteWriter(256 * 1024);
  private batched = 0;
  private finishedStats: EventLogWriterStats | null = null;
  private closed = false;

  private constructor(path: string, options: EventRecorderOptions) {
    this.path = path;
    // [0]: a reply is waiting; [1]: a call nobody waits for failed (its error is on the port).
    const shared = new SharedArrayBuffer(8);
    this.signal = new Int32Array(shared);
    const { port1, port2 } = new MessageChannel();
    this.replies = port1;
    const workerData: RecorderWorkerData = { path, options, signal: shared, replies: port2 };
    this.worker = new Worker(join(PACKAGE_ROOT, 'dist', 'bundle', 'recorder-worker.js'), { workerData, transferList: [port2] });
    // A thread that dies on its own is reported at the next call that waits; and a recorder
    // never keeps the process alive by itself (every call that matters waits for it).
    this.worker.on('error', () => undefined);
    this.worker.unref();
  }

  /** Opens (creates) the log in a recorder thread; throws as EventLogWriter.open does. */
  static open(path: string, options: EventRecorderOptions): EventRecorder {
    const recorder = new EventRecorder(path, options);
    try {
      recorder.await('open');
    } catch (error) {
      void recorder.worker.terminate();
      recorder.closed = true;
      throw error;
    }
    return recorder;
  }

  /** Counters of the writer, once the run is finished. */
  get stats(): EventLogWriterStats | null {
    return this.finishedStats;
  }

  beginRun(info: RunInfo): void {
    this.post({ t: 'begin', info });
  }

  recordWires(wires: readonly ResolvedWire[]): void {
    this.post({ t: 'wires', wires });
  }

  recordNode(node: NodeStart): void {
    this.sendBatch();
    this.post({ t: 'node', node });
  }

  updateNodeExit(exit: NodeExit): void {
    this.sendBatch();
    this.post({ t: 'exit', exit });
  }

  /** Queues events in seq order; they are checked and committed by the thread. */
  append(events: readonly RecordedEvent[]): void {
    if (this.closed) throw new EventLogWriteError('bad-state', `Cannot append: the event log ${this.path} is closed`);
    // A commit that failed in the thread (a full disk) stops the run at its next append, not at its end.
    if (Atomics.load(this.signal, 1) === 1) this.throwFailure();
    for (const e of events) {
      if (!(e.payload instanceof Uint8Array)) throw new InvalidEventError(`Event payload must be a Uint8Array (seq ${String(e.seq)})`);
      encodeEventBatch(this.batch, e);
    }
    this.batched += events.length;
    if (this.batched >= EVENTS_PER_BATCH) this.sendBatch();
  }

  /** Asks the thread to commit everything queued so far, so that readers see it. */
  flush(): void {
    this.sendBatch();
    this.post({ t: 'flush' });
  }

  /** Ends the run (see EventLogWriter.finishRun); waits for the thread and returns the fingerprint. */
  finishRun(end: RunEnd): string {
    this.sendBatch();
    this.post({ t: 'finish', end });
    const reply = this.await('finish');
    this.finishedStats = reply.stats ?? null;
    return reply.fingerprint!;
  }

  /** Commits what is queued, closes the log and ends the thread. Calling it again does nothing. */
  close(): void {
    if (this.closed) return;
    this.sendBatch();
    this.post({ t: 'close' });
    this.closed = true;
    try {
      this.await('close');
    } finally {
      void this.worker.terminate();
      this.replies.close();
    }
  }

  private sendBatch(): void {
    if (this.batched === 0) return;
    const bytes = this.batch.detach();
    this.post({ t: 'events', count: this.batched, bytes }, [bytes.buffer as ArrayBuffer]);
    this.batched = 0;
  }

  private post(command: RecorderCommand, transfer: ArrayBuffer[] = []): void {
    if (this.closed && command.t !== 'close') throw new EventLogWriteError('bad-state', `Cannot ${command.t}: the event log ${this.path} is closed`);
    this.worker.postMessage(command, transfer);
  }

  /** The first failure of a call nobody waited for, once read from the port. */
  private failure: Error | null = null;

  /** Throws the failure the thread reported on its own (it is on the port before the flag is set). */
  private throwFailure(): never {
    while (this.failure === null) {
      const message = receiveMessageOnPort(this.replies);
      if (!message) throw new EventLogWriteError('bad-state', `The recorder of ${this.path} failed without saying why`);
      const reply = message.message as RecorderReply;
      if (!reply.ok && reply.unsolicited) this.failure = reviveError(reply.error);
    }
    throw this.failure;
  }

  /** Waits for the thread's reply to a call; throws the error it reports. */
  private await(what: string): Extract<RecorderReply, { ok: true }> {
    for (;;) {
      const reply = this.nextReply();
      if (reply) return reply;
      Atomics.store(this.signal, 0, 0);
      // The reply may have come between the look and the reset: look again before sleeping.
      const again = this.nextReply();
      if (again) return again;
      if (Atomics.wait(this.signal, 0, 0, SYNC_DEADLINE_MS) === 'timed-out') {
        throw new EventLogWriteError('bad-state', `The recorder of ${this.path} did not answer (${what}) within ${SYNC_DEADLINE_MS} ms`);
      }
    }
  }

  /**
   * The reply to the call waiting, if it is on the port; throws the error it reports. A failure
   * the thread reported on its own is kept for the next append, and the port read on.
   */
  private nextReply(): Extract<RecorderReply, { ok: true }> | null {
    for (;;) {
      const message = receiveMessageOnPort(this.replies);
      if (!message) return null;
      const reply = message.message as RecorderReply;
      if (reply.ok) return reply;
      if (!reply.unsolicited) throw reviveError(reply.error);
      this.failure ??= reviveError(reply.error);
    }
  }
}

/** The error the recorder thread reported, as the class the caller would have got in-thread. */
function reviveError(error: RecorderError): Error {
  if (error.name === 'EnvironmentError') return new EnvironmentError(error.code as EnvironmentErrorCode, error.path ?? '', error.message);
  if (error.name === 'EventLogWriteError') return new EventLogWriteError(error.code as ConstructorParameters<typeof EventLogWriteError>[0], error.message);
  if (error.name === 'InvalidEventError') return new InvalidEventError(error.message);
  const revived = new Error(error.message);
  revived.name = error.name;
  return revived;
}
