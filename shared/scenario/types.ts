/**
 * Scenarios: what happens to the lab, and when. A scenario is a list of steps at virtual times;
 * each step is one action (take a link down, kill a node, mark the timeline). The resolved form
 * here is plain JSON data: it is stored in the run log and replayed from it.
 *
 * To add an action: add its interface to {@link ScenarioAction}, then the compiler asks for its
 * schema and references in `actions.ts`, and for its plan in the controller.
 */

import type { VTime } from '../events.js';

/** Takes a wire down (both ends see carrier loss) or brings it back up. */
export interface LinkAction {
  readonly action: 'link';
  readonly wire: string;
  readonly state: 'up' | 'down';
}

/** Kills a node's process abruptly, as a power loss or crash would. */
export interface KillAction {
  readonly action: 'kill';
  readonly node: string;
}

/** Marks the timeline with a remark; changes nothing in the lab. */
export interface NoteAction {
  readonly action: 'note';
  readonly text: string;
}

/** Every action a scenario step can take, discriminated by `action`. */
export type ScenarioAction = LinkAction | KillAction | NoteAction;

/** The name of an action: `link`, `kill`, `note`. */
export type ScenarioActionName = ScenarioAction['action'];

/** One step: an action at a virtual time. `index` is its position in the file's `steps:` list. */
export type ScenarioStep = { readonly atNs: VTime; readonly index: number } & ScenarioAction;

/** A resolved scenario: steps sorted by time (file order among equal times). */
export interface Scenario {
  readonly name: string;
  /** The run ends at this virtual time unless the caller overrides it (`--until`). */
  readonly endNs: VTime;
  readonly steps: readonly ScenarioStep[];
}
