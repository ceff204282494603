/**
 * Reading payload fields defensively: a log from another version, or a payload of an unexpected
 * shape, folds as far as it makes sense and never throws.
 */
import type { ClusterEvent } from './cluster-state.js';

/** A decoded payload as the fold reads it: fields by name, nothing trusted. */
export type Payload = Readonly<Record<string, unknown>>;

/** The event's payload as fields; an empty record for anything that is not an object. */
export function payloadOf(event: ClusterEvent): Payload {
  const p = event.payload;
  return p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Payload) : {};
}

/** A string field; a number or boolean as text; `fallback` when absent. */
export function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : value === null || value === undefined ? fallback : String(value);
}

/** A string field, or null. */
export function strOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** A finite number field, or `fallback`. */
export function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

/** A finite number field, or null. */
export function numOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** A list field's object items (other items and a non-list give nothing). */
export function records(value: unknown): Payload[] {
  return Array.isArray(value) ? value.filter((v): v is Payload => v !== null && typeof v === 'object' && !Array.isArray(v)) : [];
}

/** A list field's string items. */
export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The table under `key`, created empty when missing. */
export function inner<T>(outer: Record<string, Record<string, T>>, key: string): Record<string, T> {
  let table = outer[key];
  if (table === undefined) outer[key] = table = {};
  return table;
}
