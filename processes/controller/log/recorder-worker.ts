/**
 * The recorder thread (see recorder.ts): runs an EventLogWriter on the commands the controller's
 * thread posts, in order. Calls the controller waits for (open, finish, close) are answered on the
 * `replies` port, with the shared flag raised and notified; an error in any other call is kept
 * and reported with the next answer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RecordedEvent } from '../../../shared/events.js';
import { emptyClusterState, type ClusterState } from '../../../shared/state/cluster-state.js';
import { applyEvent } from '../../../shared/state/fold.js';
import { toClusterEvent } from '../../../shared/state/recorded.js';
import { encodeLabSnapshot, LAB_SNAPSHOT_NODE } from '../../../shared/state/snapshots.js';
import { DEFAULT_SNAPSHOT_INTERVAL } from '../../../shared/state/timeline.js';
import { ByteReader } from '../../runtime/layout.js';
import type { RecorderCommand, RecorderReply, RecorderWorkerData } from './recorder.js';
import { EventLogWriter } from './writer.js';

const { path, options, signal, replies } = workerData as RecorderWorkerData;
const flag = new Int32Array(signal);
let writer: EventLogWriter | null = null;
/** The first error of a call nobody waited for. */
let failure: Error | null = null;
/** The lab state folded so far, when the log keeps snapshots of it; null once the fold failed. */
let lab: ClusterState | null = options.labSnapshots ? emptyClusterState() : null;

/**
 * Folds appended events into the lab state and stores a copy every DEFAULT_SNAPSHOT_INTERVAL
 * events. The fold is the UI's: an event it cannot take ends the snapshots, never the recording.
 */
function foldIn(w: EventLogWriter, events: readonly RecordedEvent[]): void {
  for (const e of events) {
    if (lab === null) return;
    try {
      applyEvent(lab, toClusterEvent(e));
    } catch {
      lab = null;
      return;
    }
    if ((e.seq + 1) % DEFAULT_SNAPSHOT_INTERVAL === 0) w.recordSnapshot(e.seq + 1, LAB_SNAPSHOT_NODE, encodeLabSnapshot(lab));
  }
}

function reply(message: RecorderReply): void {
  replies.postMessage(message);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

function replyError(error: unknown, unsolicited = false): void {
  const e = error instanceof Error ? error : new Error(String(error));
  const path = (e as { path?: unknown }).path;
  const described = { name: e.name, code: String((e as { code?: unknown }).code ?? ''), message: e.message, ...(typeof path === 'string' ? { path } : {}) };
  reply(unsolicited ? { ok: false, error: described, unsolicited: true } : { ok: false, error: described });
  // The caller looks at this flag at each append, and then reads the error from the port.
  if (unsolicited) Atomics.store(flag, 1, 1);
}

/** The events of one batch, as views into its buffer. */
function decodeBatch(count: number, bytes: Uint8Array): RecordedEvent[] {
  const r = new ByteReader(bytes, 'Event batch');
  const events: RecordedEvent[] = new Array<RecordedEvent>(count);
  for (let i = 0; i < count; i++) {
    const seq = r.count('seq');
    const vtime = r.count('vtime');
    const node = r.str('node');
    const kind = r.str('kind');
    const cause = r.countOrNull('cause');
    const payload = r.bytesField('payload');
    const volatile = r.bytesOrNull('volatile');
    events[i] = { seq, vtime, node, kind, cause, payload, volatile };
  }
  r.end();
  return events;
}

try {
  writer = EventLogWriter.open(path, options);
  reply({ ok: true });
} catch (error) {
  replyError(error);
}

parentPort!.on('message', (command: RecorderCommand) => {
  const w = writer;
  if (w === null) return;
  try {
    switch (command.t) {
      case 'begin':
        if (failure === null) w.beginRun(command.info);
        return;
      case 'wires':
        if (failure === null) w.recordWires(command.wires);
        return;
      case 'node':
        if (failure === null) w.recordNode(command.node);
        return;
      case 'exit':
        if (failure === null) w.updateNodeExit(command.exit);
        return;
      case 'events':
        if (failure === null) {
          const events = decodeBatch(command.count, command.bytes);
          w.append(events);
          foldIn(w, events);
        }
        return;
      case 'flush':
        if (failure === null) w.flush();
        return;
      case 'finish': {
        // A run that failed (say its disk is full) is still marked failed if the row can be
        // written: the writer leaves out what it could not write and says so.
        if (failure !== null && command.end.status !== 'failed') throw failure;
        const fingerprint = w.finishRun(command.end);
        reply({ ok: true, fingerprint, stats: w.stats });
        return;
      }
      case 'close':
        writer = null;
        w.close();
        if (failure !== null) throw failure;
        reply({ ok: true });
        return;
    }
  } catch (error) {
    if (command.t === 'finish' || command.t === 'close') replyError(error);
    else if (failure === null) {
      failure = error instanceof Error ? error : new Error(String(error));
      replyError(failure, true);
    }
  }
});
