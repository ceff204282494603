/**
 * The lab state as an event log stores it: every DEFAULT_SNAPSHOT_INTERVAL events, the recorder
 * folds the run's events as the UI does and keeps a copy in the log's `snapshots` table, so a
 * viewer seeks into a long recorded run from the nearest copy instead of folding from the start.
 *
 * A stored copy names the version of the fold that made it; a viewer whose fold differs
 * (LAB_STATE_VERSION was bumped) ignores the copies and folds the events itself. Bump it with any
 * change to `applyEvent` or `ClusterState` that a stored copy would not reflect.
 */
import { decode, encode } from '../codec.js';
import type { ClusterState } from './cluster-state.js';

/** The version of the lab-state fold; stored copies of another version are not used. */
export const LAB_STATE_VERSION = 1;

/** The `node` of the `snapshots` rows that hold the lab state (the whole cluster, not one node). */
export const LAB_SNAPSHOT_NODE = '*lab';

/** A stored copy of the lab state: msgpack of the fold's version and the state. */
export function encodeLabSnapshot(state: ClusterState): Uint8Array {
  return encode({ version: LAB_STATE_VERSION, state });
}

/** The lab state a stored copy holds, or null when another version of the fold made it (or it is unreadable). */
export function decodeLabSnapshot(bytes: Uint8Array): ClusterState | null {
  try {
    const value = decode(bytes) as { version?: unknown; state?: unknown };
    if (value?.version !== LAB_STATE_VERSION || typeof value.state !== 'object' || value.state === null) return null;
    return value.state as ClusterState;
  } catch {
    return null;
  }
}
