/**
 * The cluster state of a recorded run: its event log folded by the one fold every view reads
 * (`shared/state/fold.ts`), for the CLI, the lab grader and test authors.
 */
import type { RecordedEvent } from '../../shared/events.js';
import type { ClusterEvent, ClusterState } from '../../shared/state/cluster-state.js';
import { foldEvents } from '../../shared/state/fold.js';
import { toClusterEvent } from '../../shared/state/recorded.js';
import { EventLogReader } from './log/reader.js';

/**
 * Folds a recorded run's events (up to but not including seq `toSeq`, all by default) into the
 * cluster state.
 *
 * @throws EventLogError for a file that is not a usable event log
 * @example
 * const state = foldLog('runs/seven.db');
 * console.log(state.dpus['dpu-02b']?.role); // 'active' after a failover of esx-02
 */
export function foldLog(log: string | EventLogReader, toSeq?: number): ClusterState {
  const reader = typeof log === 'string' ? EventLogReader.open(log) : log;
  try {
    return foldEvents(mapEvents(reader.events(toSeq === undefined ? {} : { toSeq })));
  } finally {
    if (typeof log === 'string') reader.close();
  }
}

function* mapEvents(events: Iterable<RecordedEvent>): Generator<ClusterEvent> {
  for (const e of events) yield toClusterEvent(e);
}
