import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '../../../shared/codec.js';
import type { RecordedEvent } from '../../../shared/events.js';
import type { ResolvedTopology } from '../../../shared/topology/types.js';
import { EventLogWriter, type EventLogWriterOptions, type RunInfo } from './writer.js';

/**
 * Fixtures shared by the tests of this folder: temporary directories, a small topology, run
 * info and deterministic events. Not used by production code.
 */

/** Temporary directories created by `tempDir`, removed by `removeTempDirs` (call it in afterEach). */
const tempDirs: string[] = [];

/** A fresh temporary directory. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dpulab-log-'));
  tempDirs.push(dir);
  return dir;
}

/** Removes every directory `tempDir` created. */
export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A two-node topology with one wire. */
export const TEST_TOPOLOGY: ResolvedTopology = {
  name: 'pair',
  nodes: [],
  segments: [],
  wires: [
    {
      id: 'w0',
      kind: 'ethernet',
      a: { node: 'dpu-a', port: 'p0' },
      b: { node: 'tor', port: 'swp1' },
      latencyNs: 500,
      bandwidthBps: 25_000_000_000,
      impairments: { loss: 0, corrupt: 0, duplicate: 0, jitterNs: 0 },
    },
  ],
};

/** Run info for TEST_TOPOLOGY. */
export function testRunInfo(overrides: Partial<RunInfo> = {}): RunInfo {
  return {
    id: 'run-1',
    seed: 42,
    mode: 'in-process',
    topology: TEST_TOPOLOGY,
    topologyFile: 'pair.yaml',
    topologyText: 'name: pair\n',
    scenario: { name: 'idle', text: 'steps: []\n', resolved: { steps: [] } },
    untilNs: 1_000_000,
    zeromqVersion: null,
    eventKinds: { 'lldp.tx': 'An LLDP frame was sent', 'lldp.rx': 'An LLDP frame was received', 'link.up': 'A link came up' },
    startedWall: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

const KINDS = ['lldp.tx', 'lldp.rx', 'link.up', 'lldpx.other'] as const;
const NODES = ['dpu-a', 'host-1', 'tor'] as const;

/** Event `seq` of a deterministic stream: vtime grows by 10 ns every 3 events. */
export function testEvent(seq: number, withVolatile = true): RecordedEvent {
  return {
    seq,
    vtime: Math.floor(seq / 3) * 10,
    node: NODES[seq % NODES.length] ?? 'tor',
    kind: KINDS[seq % KINDS.length] ?? 'link.up',
    cause: seq === 0 ? null : seq - 1,
    payload: encode({ n: seq, text: `event ${String(seq)}`, list: [seq, seq * 2] }),
    volatile: withVolatile ? encode({ pid: 1000 + seq, wall: `t${String(seq)}` }) : null,
  };
}

/** Events [from, to) of the deterministic stream. */
export function testEvents(from: number, to: number, withVolatile = true): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  for (let seq = from; seq < to; seq += 1) events.push(testEvent(seq, withVolatile));
  return events;
}

/** Writes a finished run of `count` test events at `path` and returns the writer's stats. */
export function writeTestLog(
  path: string,
  count: number,
  options: Partial<EventLogWriterOptions> = {},
  events: RecordedEvent[] = testEvents(0, count),
): EventLogWriter['stats'] {
  const writer = EventLogWriter.open(path, { dpulabVersion: '0.1.0-test', ...options });
  try {
    writer.beginRun(testRunInfo());
    writer.recordWires(TEST_TOPOLOGY.wires);
    writer.append(events);
    const last = events[events.length - 1];
    writer.finishRun({ status: 'completed', endVtime: last?.vtime ?? 0, exitReason: 'until reached' });
    return writer.stats;
  } finally {
    writer.close();
  }
}
