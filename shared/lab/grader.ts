/**
 * Grading a run: every check of every task matches the events it cares about, in log order, and
 * says at any point whether it passed, failed or is still waiting, and why, in words a student
 * can act on. What a check needs to know about the cluster (a flow's counts at both ends) it reads
 * from the cluster state (`shared/state/fold.ts`), the state every other view reads, never from a
 * fold of its own. The same grader grades a finished log headless and a live run event by event.
 */

import { formatDuration, parseDuration } from '../units.js';
import type { ClusterState } from '../state/cluster-state.js';
import { foldEvents } from '../state/fold.js';
import { flowOutcome } from '../state/summary.js';
import { describeMatcher, describeMiss, failedConditions, kindMatches, valueAt, whereAndWhen, type LabEvent } from './conditions.js';
import type { Check, EventMatcher, FieldMeasure, FlowLossMeasure, Lab, MeasureUnit, ThresholdCheck } from './types.js';

export type { LabEvent } from './conditions.js';

/** Where a check or task stands. `pending`: not passed yet, and the run may still get there. */
export type GradeStatus = 'passed' | 'failed' | 'pending';

/** One check's verdict. */
export interface CheckGrade {
  readonly type: Check['type'];
  readonly status: GradeStatus;
  /** Why it has not passed, and what to do about it; null when passed. */
  readonly reason: string | null;
  /** What the log shows, passed or not (`vmotion.done at 2.3 s on esx-02`). */
  readonly observed: string | null;
}

/** One task's verdict: passed when every check passed. */
export interface TaskGrade {
  readonly id: string;
  readonly status: GradeStatus;
  /** The reason of the first check that did not pass; null when passed. */
  readonly reason: string | null;
  readonly checks: readonly CheckGrade[];
}

/** A whole lab's verdict on one run. */
export interface LabGrade {
  readonly lab: string;
  readonly title: string;
  /** True once the run has ended: nothing is pending any more, what did not pass failed. */
  readonly final: boolean;
  readonly passed: number;
  readonly total: number;
  readonly tasks: readonly TaskGrade[];
}

/** Capitalises the first letter of a sentence. */
function sentence(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Adds the author's advice to what went wrong. */
function withFix(what: string, fix: string | null): string {
  return fix === null ? what : `${what}: ${fix}`;
}

function formatMeasured(unit: MeasureUnit, value: number): string {
  switch (unit) {
    case 'ns':
      return value === 0 ? '0 s' : formatDuration(value);
    case 'cores':
      return `${value.toFixed(5)} cores`;
    case 'messages':
      return `${value} message${value === 1 ? '' : 's'}`;
    case 'plain':
      return String(Number.isInteger(value) ? value : Number(value.toPrecision(6)));
  }
}

/** Kinds recorded only at a particular moment, and when: said when a student looks for them too early. */
const LATE_KINDS: Readonly<Record<string, string>> = {
  'cost.report': 'every host and DPU records it when the run ends',
};

/** The events of one matcher: how many matched, the first and last, and the nearest miss. */
class MatchTracker {
  count = 0;
  first: LabEvent | null = null;
  last: LabEvent | null = null;
  /** Events of the right kind, matching or not. */
  ofKind = 0;
  private nearest: { event: LabEvent; failed: string[]; score: [number, number] } | null = null;

  constructor(readonly matcher: EventMatcher) {}

  /** Folds an event in; true when it matches. */
  feed(event: LabEvent): boolean {
    if (!kindMatches(event.kind, this.matcher.kind)) return false;
    this.ofKind++;
    const failed = failedConditions(this.matcher, event);
    if (failed.length === 0) {
      this.count++;
      this.first ??= event;
      this.last = event;
      return true;
    }
    // The closest miss: the one that gets furthest through the conditions in the order they are
    // written (the node, then `where`: what identifies an event comes first, the outcome last),
    // then the one that fails fewest, then the latest.
    const score = this.score(failed);
    if (this.nearest === null || score[0] > this.nearest.score[0] || (score[0] === this.nearest.score[0] && score[1] >= this.nearest.score[1])) {
      this.nearest = { event, failed, score };
    }
    return false;
  }

  /** [conditions passed before the first failure, conditions passed in all]. */
  private score(failed: readonly string[]): [number, number] {
    const order = [...(this.matcher.nodes.length > 0 ? ['node'] : []), ...this.matcher.where.map(([path]) => path)];
    const firstFailure = order.findIndex((c) => failed.includes(c));
    return [firstFailure < 0 ? order.length : firstFailure, order.length - failed.length];
  }

  /** What the matcher is, in words. */
  describe(): string {
    return describeMatcher(this.matcher);
  }

  /**
   * Why nothing matched, `scope` narrowing where (`after the import at 2 s`, `shortScope` says it
   * again in the note: `after it`): `no X (nearest: at 1 s on esx-02, active = emulated)`.
   */
  missing(scope = '', shortScope = scope): string {
    const plain = this.matcher.nodes.length === 0 && this.matcher.where.length === 0;
    const what = `no ${this.describe()}${plain ? ' event' : ''}${scope === '' ? '' : ` ${scope}`}`;
    if (this.ofKind === 0) {
      const none = `no ${this.matcher.kind} at all${shortScope === '' ? '' : ` ${shortScope}`}`;
      const why = LATE_KINDS[this.matcher.kind];
      if (why !== undefined) return `${what} (${none}: ${why})`;
      return plain ? what : `${what} (${none})`;
    }
    if (this.nearest === null) return what;
    return `${what} (nearest: ${whereAndWhen(this.nearest.event)}, ${describeMiss(this.matcher, this.nearest.event, this.nearest.failed)})`;
  }

  /** The `show` fields of a matching event, for a violation: ` (rule = default, action = allow)`. */
  shown(event: LabEvent): string {
    const fields = describeMiss(this.matcher, event, []);
    return fields === '' ? '' : ` (${fields})`;
  }
}

/** A check: fed the events it matches, graded against the cluster state at the same point. */
interface CheckEvaluator {
  feed(event: LabEvent): void;
  grade(final: boolean, state: ClusterState): CheckGrade;
}

class EventEvaluator implements CheckEvaluator {
  private readonly tracker: MatchTracker;

  constructor(private readonly check: Extract<Check, { type: 'event' }>) {
    this.tracker = new MatchTracker(check.matcher);
  }

  feed(event: LabEvent): void {
    this.tracker.feed(event);
  }

  grade(final: boolean): CheckGrade {
    const { atLeast, atMost, fix } = this.check;
    const t = this.tracker;
    const seen = t.first === null ? null : `${t.describe()} ${whereAndWhen(t.first)}${t.count > 1 ? ` (${t.count} in all)` : ''}`;
    if (atMost !== null && t.count > atMost) {
      return { type: 'event', status: 'failed', reason: sentence(withFix(`${t.count} × ${t.describe()}, at most ${atMost} allowed (the first ${whereAndWhen(t.first!)})`, fix)), observed: seen };
    }
    if (t.count >= atLeast) return { type: 'event', status: 'passed', reason: null, observed: seen ?? `no ${t.describe()}, as required` };
    const what = t.count === 0 ? t.missing() : `only ${t.count} × ${t.describe()}, ${atLeast} needed`;
    return { type: 'event', status: final ? 'failed' : 'pending', reason: sentence(withFix(what, fix)), observed: seen };
  }
}

class NoEventEvaluator implements CheckEvaluator {
  private readonly tracker: MatchTracker;

  constructor(private readonly check: Extract<Check, { type: 'no-event' }>) {
    this.tracker = new MatchTracker(check.matcher);
  }

  feed(event: LabEvent): void {
    this.tracker.feed(event);
  }

  grade(): CheckGrade {
    const t = this.tracker;
    if (t.first === null) return { type: 'no-event', status: 'passed', reason: null, observed: `no ${t.describe()}` };
    const what = `${t.describe()} ${whereAndWhen(t.first)}${t.shown(t.first)}${t.count > 1 ? `, ${t.count} in all` : ''}`;
    return { type: 'no-event', status: 'failed', reason: sentence(withFix(`unexpected ${what}`, this.check.fix)), observed: what };
  }
}

/**
 * `first`, then `then` after it: passes once an event matches `then` after the first event that
 * matched `first`. A `then` before any `first` does not count (it is quoted when it fails).
 */
class OrderEvaluator implements CheckEvaluator {
  private readonly first: MatchTracker;
  private readonly after: MatchTracker;
  private readonly before: MatchTracker;

  constructor(private readonly check: Extract<Check, { type: 'order' }>) {
    this.first = new MatchTracker(check.first);
    this.after = new MatchTracker(check.then);
    this.before = new MatchTracker(check.then);
  }

  feed(event: LabEvent): void {
    if (this.first.first === null) {
      this.before.feed(event);
      this.first.feed(event);
    } else {
      this.after.feed(event);
    }
  }

  grade(final: boolean): CheckGrade {
    const a = this.first.first;
    const b = this.after.first;
    const fix = this.check.fix;
    const at = (t: MatchTracker, e: LabEvent): string => `${t.describe()} ${whereAndWhen(e)}`;
    if (a !== null && b !== null) return { type: 'order', status: 'passed', reason: null, observed: `${at(this.first, a)}, then ${at(this.after, b)}` };
    const status = final ? 'failed' : 'pending';
    const early = this.before.last === null ? '' : ` (${at(this.before, this.before.last)} came before it)`;
    if (a === null) {
      return { type: 'order', status, reason: sentence(withFix(this.first.missing(), fix)), observed: null };
    }
    return { type: 'order', status, reason: sentence(withFix(`${this.after.missing(`after ${at(this.first, a)}`, 'after it')}${early}`, fix)), observed: at(this.first, a) };
  }
}

/** The bounds of a threshold in words: `at most 500 ms`, `between 1 and 2 cores`. */
function boundsText(check: ThresholdCheck, unit: MeasureUnit): string {
  const f = (n: number): string => formatMeasured(unit, n);
  if (check.min !== null && check.max !== null) return `between ${f(check.min)} and ${f(check.max)}`;
  return check.max !== null ? `at most ${f(check.max)}` : `at least ${f(check.min!)}`;
}

/** A measured value against bounds. */
function judge(check: ThresholdCheck, label: string, unit: MeasureUnit, value: number, detail: string): CheckGrade {
  const shown = `${formatMeasured(unit, value)}${detail}`;
  const observed = `${label}: ${shown}, ${boundsText(check, unit)}`;
  if (check.max !== null && value > check.max) {
    return { type: 'threshold', status: 'failed', reason: sentence(withFix(`${label} is ${shown}, more than the ${formatMeasured(unit, check.max)} allowed`, check.fix)), observed };
  }
  if (check.min !== null && value < check.min) {
    return { type: 'threshold', status: 'failed', reason: sentence(withFix(`${label} is ${shown}, less than the ${formatMeasured(unit, check.min)} needed`, check.fix)), observed };
  }
  return { type: 'threshold', status: 'passed', reason: null, observed };
}

/** A duration as people write it in a note: `399.998 ms`, `0.4s`, `12 µs`. */
const DURATION_IN_TEXT = /(\d+(?:\.\d+)?)\s*(ns|us|µs|ms|s)(?![\p{L}])/gu;
const NUMBER_IN_TEXT = /-?\d+(?:\.\d+)?/g;

/** Every value a note's text states in a measure's unit: durations for `ns`, plain numbers otherwise. */
function statedValues(text: string, unit: MeasureUnit): number[] {
  if (unit !== 'ns') return [...text.matchAll(NUMBER_IN_TEXT)].map((m) => Number(m[0]));
  return [...text.matchAll(DURATION_IN_TEXT)].map((m) => parseDuration(`${m[1]}${m[2]}`));
}

/**
 * The student's answer to a measuring task: the notes put on the timeline (`input.note`), each
 * read for the values it states. The measured value is never quoted while the answer is missing,
 * so that the grade does not give it away.
 */
class NoteAnswers {
  private readonly notes: string[] = [];

  constructor(private readonly within: number) {}

  feed(event: LabEvent): void {
    if (event.kind !== 'input.note') return;
    const text = valueAt(event.payload, 'text');
    if (typeof text === 'string') this.notes.push(text);
  }

  /** The threshold's grade once its value is known, holding it back until a note states the value. */
  grade(measured: CheckGrade, value: number, label: string, unit: MeasureUnit, fix: string | null, final: boolean): CheckGrade {
    if (measured.status !== 'passed') return measured;
    const stated = this.notes.flatMap((note) => statedValues(note, unit));
    if (stated.some((v) => Math.abs(v - value) <= this.within)) return measured;
    const status = final ? 'failed' : 'pending';
    const what =
      stated.length === 0
        ? `no note on the timeline states ${label}`
        : `no note on the timeline states ${label} within ${formatMeasured(unit, this.within)} (the notes state ${stated.map((v) => formatMeasured(unit, v)).join(', ')})`;
    return { type: 'threshold', status, reason: sentence(withFix(what, fix)), observed: null };
  }
}

class FieldThresholdEvaluator implements CheckEvaluator {
  private readonly tracker: MatchTracker;
  private readonly answers: NoteAnswers | null;
  private value: number | null = null;
  private withoutNumber: LabEvent | null = null;

  constructor(
    private readonly check: ThresholdCheck,
    private readonly measure: FieldMeasure,
  ) {
    this.tracker = new MatchTracker(measure.matcher);
    this.answers = check.answerWithin === null ? null : new NoteAnswers(check.answerWithin);
  }

  feed(event: LabEvent): void {
    this.answers?.feed(event);
    if (!this.tracker.feed(event)) return;
    const raw = valueAt(event.payload, this.measure.field);
    if (typeof raw !== 'number' || !Number.isFinite(raw)) {
      this.withoutNumber ??= event;
      return;
    }
    const v = this.value;
    switch (this.measure.pick) {
      case 'first':
        this.value = v ?? raw;
        break;
      case 'last':
        this.value = raw;
        break;
      case 'min':
        this.value = v === null ? raw : Math.min(v, raw);
        break;
      case 'max':
        this.value = v === null ? raw : Math.max(v, raw);
        break;
      case 'sum':
        this.value = (v ?? 0) + raw;
        break;
    }
  }

  grade(final: boolean): CheckGrade {
    const { label, unit, field } = this.measure;
    if (this.value !== null) {
      const measured = judge(this.check, label, unit, this.value, '');
      return this.answers === null ? measured : this.answers.grade(measured, this.value, label, unit, this.check.fix, final);
    }
    const status = final ? 'failed' : 'pending';
    if (this.withoutNumber !== null) {
      return { type: 'threshold', status, reason: sentence(withFix(`cannot measure ${label}: ${this.tracker.describe()} ${whereAndWhen(this.withoutNumber)} has no number in ${field}`, this.check.fix)), observed: null };
    }
    return { type: 'threshold', status, reason: sentence(withFix(`cannot measure ${label}: ${this.tracker.missing()}`, this.check.fix)), observed: null };
  }
}

/** A flow's loss, from the flow as the cluster state holds it (both ends' latest reports joined). */
class FlowLossEvaluator implements CheckEvaluator {
  private readonly answers: NoteAnswers | null;

  constructor(
    private readonly check: ThresholdCheck,
    private readonly measure: FlowLossMeasure,
  ) {
    this.answers = check.answerWithin === null ? null : new NoteAnswers(check.answerWithin);
  }

  feed(event: LabEvent): void {
    this.answers?.feed(event);
  }

  grade(final: boolean, state: ClusterState): CheckGrade {
    const flow = state.flows[this.measure.flow];
    const outcome = flow === undefined || flow.sender?.sent === null ? null : flowOutcome(flow);
    if (outcome === null) {
      const status = final ? 'failed' : 'pending';
      return { type: 'threshold', status, reason: sentence(withFix(`cannot measure ${this.measure.label}: no flow.report from the sender of flow ${this.measure.flow}`, this.check.fix)), observed: null };
    }
    const measured = judge(this.check, this.measure.label, 'messages', outcome.lost, ` (sent ${outcome.sent}, delivered ${outcome.delivered})`);
    return this.answers === null ? measured : this.answers.grade(measured, outcome.lost, this.measure.label, 'messages', this.check.fix, final);
  }
}

function evaluator(check: Check): CheckEvaluator {
  switch (check.type) {
    case 'event':
      return new EventEvaluator(check);
    case 'no-event':
      return new NoEventEvaluator(check);
    case 'order':
      return new OrderEvaluator(check);
    case 'threshold':
      return check.measure.type === 'field' ? new FieldThresholdEvaluator(check, check.measure) : new FlowLossEvaluator(check, check.measure);
  }
}

/** The kind patterns a check reads. */
function checkKinds(check: Check): string[] {
  switch (check.type) {
    case 'event':
    case 'no-event':
      return [check.matcher.kind];
    case 'order':
      return [check.first.kind, check.then.kind];
    case 'threshold': {
      // A flow's loss comes from the cluster state, not from events the check matches.
      const measured = check.measure.type === 'field' ? [check.measure.matcher.kind] : [];
      return check.answerWithin === null ? measured : [...measured, 'input.note'];
    }
  }
}

/**
 * Grades one run of a lab: feed it the run's events in log order (only those it {@link wants},
 * payloads decoded), ask for the {@link grade} at any point with the cluster state folded from
 * the same events (`applyEvent`, up to the same point).
 *
 * @example
 * const grader = new LabGrader(lab);
 * const state = emptyClusterState();
 * for (const e of reader.events()) {
 *   applyEvent(state, toClusterEvent(e));
 *   if (grader.wants(e.kind)) grader.feed({ ...e, payload: decode(e.payload) });
 * }
 * const grade = grader.grade(true, state);
 */
export class LabGrader {
  /** Every kind pattern the checks read, for the log reader's filter. */
  readonly kinds: readonly string[];
  private readonly tasks: ReadonlyArray<{ id: string; checks: CheckEvaluator[] }>;
  private readonly wanted = new Map<string, boolean>();

  constructor(private readonly lab: Pick<Lab, 'name' | 'title' | 'tasks'>) {
    this.tasks = lab.tasks.map((task) => ({ id: task.id, checks: task.checks.map(evaluator) }));
    this.kinds = [...new Set(lab.tasks.flatMap((task) => task.checks.flatMap(checkKinds)))].sort();
  }

  /** Whether any check reads events of this kind (decode only those). */
  wants(kind: string): boolean {
    let wanted = this.wanted.get(kind);
    if (wanted === undefined) {
      wanted = this.kinds.some((pattern) => kindMatches(kind, pattern));
      this.wanted.set(kind, wanted);
    }
    return wanted;
  }

  /** Folds one event in; events must come in seq order. */
  feed(event: LabEvent): void {
    if (!this.wants(event.kind)) return;
    for (const task of this.tasks) for (const check of task.checks) check.feed(event);
  }

  /**
   * Every task's verdict so far. `final`: the run has ended, so what is still pending failed.
   * `state`: the cluster state after the same events as were fed.
   */
  grade(final: boolean, state: ClusterState): LabGrade {
    const tasks = this.tasks.map((task): TaskGrade => {
      const checks = task.checks.map((c) => c.grade(final, state));
      const failed = checks.find((c) => c.status === 'failed');
      const pending = checks.find((c) => c.status === 'pending');
      const status: GradeStatus = failed ? 'failed' : pending ? 'pending' : 'passed';
      return { id: task.id, status, reason: (failed ?? pending)?.reason ?? null, checks };
    });
    return {
      lab: this.lab.name,
      title: this.lab.title,
      final,
      passed: tasks.filter((t) => t.status === 'passed').length,
      total: tasks.length,
      tasks,
    };
  }
}

/** Grades a complete sequence of events (a finished run), folding them into the cluster state as well. */
export function gradeEvents(lab: Pick<Lab, 'name' | 'title' | 'tasks'>, events: Iterable<LabEvent & { readonly cause?: number | null }>, final = true): LabGrade {
  const grader = new LabGrader(lab);
  const seen = [...events];
  for (const event of seen) grader.feed(event);
  return grader.grade(final, foldEvents(seen.map((e) => ({ ...e, cause: e.cause ?? null }))));
}

/** What binds a grade to the run it grades and to the lab and dpulab that gave it. */
export interface GradeBinding {
  readonly fingerprint: string | null;
  readonly seed: number;
  readonly labVersion: string;
  /** SHA-256 of the lab file's text. */
  readonly labSha256: string;
  /** The dpulab version that recorded the run. */
  readonly recordedBy: string;
  /** The dpulab version that graded it. */
  readonly gradedBy: string;
}
