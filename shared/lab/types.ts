/**
 * Labs: a topology, a starting scenario and tasks whose checks are evaluated on the event log of
 * a run. The resolved form here is what the loader returns; `docs/labs.md` describes the file.
 */

import type { Scenario } from '../scenario/types.js';
import type { ResolvedTopology } from '../topology/types.js';

/** A source text and the name its problems are reported under. */
export interface LabSource {
  readonly text: string;
  readonly file: string;
}

/** A value a condition compares a payload field with. */
export type Scalar = string | number | boolean | null;

/**
 * What a payload field must be. Every operator given must hold. Bounds written as durations
 * (`400ms`) are nanoseconds.
 */
export interface Condition {
  readonly equals?: Scalar;
  readonly not?: Scalar;
  readonly in?: readonly Scalar[];
  readonly gte?: number;
  readonly gt?: number;
  readonly lte?: number;
  readonly lt?: number;
  /** true: the field is present and not null; false: absent or null. */
  readonly exists?: boolean;
  /** A string field contains this text (case-insensitive), or a list field holds this value. */
  readonly contains?: Scalar;
}

/** Which events count: a kind (or `prefix.*`), optionally at some nodes, with field conditions. */
export interface EventMatcher {
  readonly kind: string;
  /** Node ids the event must come from; empty: any node. */
  readonly nodes: readonly string[];
  /** Payload path (`byMode.mux.cpuNs`) → condition. */
  readonly where: ReadonlyArray<readonly [path: string, condition: Condition]>;
  /** Payload fields to quote when telling a student about the nearest miss (`reason`). */
  readonly show: readonly string[];
}

/** How a measure reduces the values of the events it matched. */
export type Pick = 'first' | 'last' | 'min' | 'max' | 'sum';

/** How a measured value is shown: nanoseconds as durations, cores with five decimals. */
export type MeasureUnit = 'ns' | 'cores' | 'messages' | 'plain';

/** A number read from the log: a payload field of the events a matcher selects. */
export interface FieldMeasure {
  readonly type: 'field';
  readonly matcher: EventMatcher;
  readonly field: string;
  readonly pick: Pick;
  readonly unit: MeasureUnit;
  /** How a sentence names it: `the switchover time of web-01`. */
  readonly label: string;
}

/** Messages of a flow that never arrived: the sender's count minus the receiver's, from the latest reports. */
export interface FlowLossMeasure {
  readonly type: 'flow-loss';
  readonly flow: string;
  readonly label: string;
}

/** A measure a threshold check compares with its bounds. */
export type Measure = FieldMeasure | FlowLossMeasure;

/** At least `atLeast` (and at most `atMost`) events match. */
export interface EventCheck {
  readonly type: 'event';
  readonly matcher: EventMatcher;
  readonly atLeast: number;
  readonly atMost: number | null;
  readonly fix: string | null;
}

/** No event matches. */
export interface NoEventCheck {
  readonly type: 'no-event';
  readonly matcher: EventMatcher;
  readonly fix: string | null;
}

/** The first event matching `first` comes before the first matching `then`. */
export interface OrderCheck {
  readonly type: 'order';
  readonly first: EventMatcher;
  readonly then: EventMatcher;
  readonly fix: string | null;
}

/** A measured value lies within bounds (inclusive). */
export interface ThresholdCheck {
  readonly type: 'threshold';
  readonly measure: Measure;
  readonly min: number | null;
  readonly max: number | null;
  /**
   * When set, measuring is the student's job: the check also needs a `note` on the timeline that
   * states the measured value, within this much (in the measure's unit). Without it a measure that
   * follows from another task's action would pass with no step of its own.
   */
  readonly answerWithin: number | null;
  readonly fix: string | null;
}

/** Every kind of check a task can carry. */
export type Check = EventCheck | NoEventCheck | OrderCheck | ThresholdCheck;

/** The check type names, for messages. */
export const CHECK_TYPES = ['event', 'no-event', 'order', 'threshold'] as const satisfies readonly Check['type'][];

/** One thing a student has to achieve. Every check must pass for the task to pass. */
export interface LabTask {
  readonly id: string;
  /** Markdown. */
  readonly text: string;
  /** Markdown, revealed one at a time. */
  readonly hints: readonly string[];
  readonly checks: readonly Check[];
}

/** A scenario of the lab (starting or reference solution) with the text it was loaded from. */
export interface LabScenario {
  readonly scenario: Scenario;
  /** The YAML it was loaded from (an embedded mapping cut out of the lab file, or a file). */
  readonly source: LabSource;
}

/** A loaded lab: everything resolved and checked against its topology. */
export interface Lab {
  readonly name: string;
  readonly title: string;
  /** Markdown. */
  readonly introduction: string;
  /** The lab file it came from. */
  readonly file: string;
  /** The lab file's `version` (default 1), quoted in every grade: bump it when the tasks change. */
  readonly version: string;
  readonly seed: number;
  readonly topology: ResolvedTopology;
  /** The topology's YAML, or null for the embedded default lab. */
  readonly topologySource: LabSource | null;
  /** What happens whatever the student does: traffic, rules, faults. */
  readonly start: LabScenario;
  /** The reference solution: steps added to the start, like a student's. */
  readonly solution: LabScenario | null;
  readonly tasks: readonly LabTask[];
}
