/**
 * Matching events: kind patterns, payload paths, conditions, and how each is put in words for a
 * student ("vnic.mode at esx-02 with vnic = app-02.eth0 and active = uptv2").
 */

import { formatDuration } from '../units.js';
import type { Condition, EventMatcher, Scalar } from './types.js';

/** An event as checks see it: payload decoded. */
export interface LabEvent {
  readonly seq: number;
  readonly vtime: number;
  readonly node: string;
  readonly kind: string;
  readonly payload: unknown;
}

/** Whether `kind` matches a pattern: the kind itself, or `prefix.*` for everything under prefix. */
export function kindMatches(kind: string, pattern: string): boolean {
  return pattern.endsWith('.*') ? kind.startsWith(pattern.slice(0, -1)) : kind === pattern;
}

/** The value at a dotted payload path (`byMode.mux.cpuNs`, `vnics.0.mode`); undefined when absent. */
export function valueAt(payload: unknown, path: string): unknown {
  let value = payload;
  for (const part of path.split('.')) {
    if (Array.isArray(value) && /^\d+$/.test(part)) value = value[Number(part)];
    else if (value !== null && typeof value === 'object' && Object.hasOwn(value, part)) value = (value as Record<string, unknown>)[part];
    else return undefined;
  }
  return value;
}

function sameScalar(value: unknown, expected: Scalar): boolean {
  if (expected === null) return value === null || value === undefined;
  return value === expected;
}

/** Whether a payload value satisfies every operator of a condition. */
export function conditionHolds(value: unknown, condition: Condition): boolean {
  const has = (key: keyof Condition): boolean => Object.hasOwn(condition, key);
  const number = typeof value === 'number' ? value : null;
  if (has('equals') && !sameScalar(value, condition.equals!)) return false;
  if (has('not') && sameScalar(value, condition.not!)) return false;
  if (condition.in !== undefined && !condition.in.some((v) => sameScalar(value, v))) return false;
  if (condition.gte !== undefined && !(number !== null && number >= condition.gte)) return false;
  if (condition.gt !== undefined && !(number !== null && number > condition.gt)) return false;
  if (condition.lte !== undefined && !(number !== null && number <= condition.lte)) return false;
  if (condition.lt !== undefined && !(number !== null && number < condition.lt)) return false;
  if (condition.exists !== undefined && (value !== undefined && value !== null) !== condition.exists) return false;
  if (has('contains')) {
    const needle = condition.contains!;
    if (typeof value === 'string') {
      if (!value.toLowerCase().includes(String(needle).toLowerCase())) return false;
    } else if (Array.isArray(value)) {
      if (!value.some((v) => sameScalar(v, needle))) return false;
    } else {
      return false;
    }
  }
  return true;
}

/** A payload field's value for people: durations for `...Ns` fields, strings as they are. */
export function formatValue(path: string, value: unknown): string {
  if (value === undefined) return '(absent)';
  if (value === null) return 'null';
  if (typeof value === 'number' && /Ns$/.test(path)) return formatDuration(value);
  if (typeof value === 'number') return String(Number.isInteger(value) ? value : Number(value.toPrecision(6)));
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function scalarText(value: Scalar): string {
  return value === null ? 'null' : String(value);
}

/** A condition in words: `active = uptv2`, `detectNs ≤ 400 ms`, `result in [success, aborted]`. */
export function describeCondition(path: string, condition: Condition): string {
  const bound = (n: number): string => formatValue(path, n);
  const parts: string[] = [];
  if (Object.hasOwn(condition, 'equals')) parts.push(`${path} = ${scalarText(condition.equals!)}`);
  if (Object.hasOwn(condition, 'not')) parts.push(`${path} ≠ ${scalarText(condition.not!)}`);
  if (condition.in !== undefined) parts.push(`${path} in [${condition.in.map(scalarText).join(', ')}]`);
  if (condition.gte !== undefined) parts.push(`${path} ≥ ${bound(condition.gte)}`);
  if (condition.gt !== undefined) parts.push(`${path} > ${bound(condition.gt)}`);
  if (condition.lte !== undefined) parts.push(`${path} ≤ ${bound(condition.lte)}`);
  if (condition.lt !== undefined) parts.push(`${path} < ${bound(condition.lt)}`);
  if (condition.exists !== undefined) parts.push(condition.exists ? `${path} set` : `no ${path}`);
  if (Object.hasOwn(condition, 'contains')) parts.push(`${path} containing "${scalarText(condition.contains!)}"`);
  return parts.join(' and ');
}

/** A matcher in words: `vmotion.done at esx-02 with vm = web-01`. */
export function describeMatcher(matcher: EventMatcher): string {
  const at = matcher.nodes.length === 0 ? '' : ` at ${matcher.nodes.join(' or ')}`;
  const kind = matcher.kind.endsWith('.*') ? `${matcher.kind.slice(0, -2)} event` : matcher.kind;
  const where = matcher.where.length === 0 ? '' : ` with ${matcher.where.map(([p, c]) => describeCondition(p, c)).join(' and ')}`;
  return `${kind}${at}${where}`;
}

/**
 * How well an event of the right kind fits: which of the matcher's conditions (the node filter
 * counts as one) it fails. An empty list is a match.
 */
export function failedConditions(matcher: EventMatcher, event: LabEvent): string[] {
  const failed: string[] = [];
  if (matcher.nodes.length > 0 && !matcher.nodes.includes(event.node)) failed.push('node');
  for (const [path, condition] of matcher.where) {
    if (!conditionHolds(valueAt(event.payload, path), condition)) failed.push(path);
  }
  return failed;
}

/** Whether an event matches a matcher fully. */
export function matches(matcher: EventMatcher, event: LabEvent): boolean {
  return kindMatches(event.kind, matcher.kind) && failedConditions(matcher, event).length === 0;
}

/** Where and when an event happened, for people: `at 1.204 s on esx-02`. */
export function whereAndWhen(event: LabEvent): string {
  return `at ${event.vtime === 0 ? '0 s' : formatDuration(event.vtime)} on ${event.node}`;
}

/**
 * What a near miss looks like: the fields that failed with their values, then the fields the
 * matcher asks to show (`reason`), e.g. `node = dpu-01a, active = emulated, reason = no-free-vf`.
 */
export function describeMiss(matcher: EventMatcher, event: LabEvent, failed: readonly string[]): string {
  const fields: string[] = [];
  for (const path of failed) fields.push(path === 'node' ? `node = ${event.node}` : `${path} = ${formatValue(path, valueAt(event.payload, path))}`);
  for (const path of matcher.show) if (!failed.includes(path)) fields.push(`${path} = ${formatValue(path, valueAt(event.payload, path))}`);
  return fields.join(', ');
}
