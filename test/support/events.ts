import { decode } from '../../shared/codec.js';
import { EventLogReader } from '../../processes/controller/log/reader.js';

/** An event of a run's log with its payload decoded. */
export interface LoggedEvent<T> {
  readonly vtime: number;
  readonly node: string;
  readonly kind: string;
  readonly p: T;
}

/** The events of `kinds` (optionally of `nodes`) in a run's database, in log order, payloads decoded. */
export function payloads<T>(db: string, kinds: string[], nodes?: string[]): Array<LoggedEvent<T>> {
  const reader = EventLogReader.open(db);
  try {
    return [...reader.events({ kinds, ...(nodes ? { nodes } : {}) })].map((e) => ({ vtime: e.vtime, node: e.node, kind: e.kind, p: decode(e.payload) as T }));
  } finally {
    reader.close();
  }
}
