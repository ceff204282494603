import { formatDuration } from '../../shared/units.js';

/**
 * Rewrites binary values in a decoded payload (msgpack bin decodes to Buffer, whose toJSON would
 * run before any JSON.stringify replacer could see it).
 */
function mapBinary(value: unknown, binary: (bytes: Uint8Array) => unknown): unknown {
  if (value instanceof Uint8Array) return binary(value);
  if (Array.isArray(value)) return value.map((v) => mapBinary(v, binary));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapBinary(v, binary)]));
  }
  return value;
}

/** Renders a decoded payload for a one-line table cell: binary as its length, long text cut. */
export function compactPayload(payload: unknown, max = 110): string {
  const text = JSON.stringify(mapBinary(payload, (b) => `<${b.length} bytes>`));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Turns binary into hex so that JSON output stays valid and readable. */
export function jsonSafe(payload: unknown): unknown {
  return mapBinary(payload, (b) => Buffer.from(b).toString('hex'));
}

/**
 * Characters a terminal may act on rather than show: C0 and C1 controls (an ESC starts an escape
 * sequence; C1 CSI is one on its own), DEL, and the bidirectional overrides that reorder what is
 * shown.
 */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text from a log (a node id, a kind, a payload) made safe to print on a terminal: every control
 * character is written as its `\u` escape, so a recorded escape sequence shows instead of acting.
 * In JSON text the escapes are the JSON escapes of the same characters.
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Pads columns to a table; every cell is made printable. */
export function table(input: string[][]): string {
  const rows = input.map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function vtime(ns: number): string {
  return formatDuration(ns);
}
