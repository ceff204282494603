import { EventLogReader } from '../../processes/controller/log/reader.js';
import type { EventKind, EventPayloads } from '../../shared/events/catalogue.js';
import { eventPayload } from '../../shared/events/typed.js';

/** An event of a run's log with its payload decoded and typed by its kind; a union of kinds narrows on `kind`. */
export type LoggedEvent<K extends EventKind> = K extends EventKind
  ? {
      readonly vtime: number;
      readonly node: string;
      readonly kind: K;
      readonly p: EventPayloads[K];
    }
  : never;

/** The events of `kinds` (optionally of `nodes`) in a run's database, in log order, payloads decoded and typed. */
export function payloads<K extends EventKind>(db: string, kinds: readonly K[], nodes?: string[]): Array<LoggedEvent<K>> {
  const reader = EventLogReader.open(db);
  try {
    return [...reader.events({ kinds: [...kinds], ...(nodes ? { nodes } : {}) })].map((e) => {
      const kind = e.kind as K;
      return { vtime: e.vtime, node: e.node, kind, p: eventPayload(e, kind) } as LoggedEvent<K>;
    });
  } finally {
    reader.close();
  }
}
