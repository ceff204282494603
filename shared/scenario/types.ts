/**
 * Scenarios: what happens to the lab, and when. A scenario is a list of steps at virtual times;
 * each step is one action (`shared/actions/schema.ts`: take a link down, kill a node, start a
 * flow). The resolved form here is plain JSON data: it is stored in the run log and replayed
 * from it.
 */

import type { VTime } from '../events.js';
import type { Action } from '../actions/schema.js';

/** One step: an action at a virtual time. `index` is its position in the file's `steps:` list. */
export type ScenarioStep = { readonly atNs: VTime; readonly index: number } & Action;

/** A resolved scenario: steps sorted by time (file order among equal times). */
export interface Scenario {
  readonly name: string;
  /** The run ends at this virtual time unless the caller overrides it (`--until`). */
  readonly endNs: VTime;
  readonly steps: readonly ScenarioStep[];
}
