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

/** Pads columns to a table. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function vtime(ns: number): string {
  return formatDuration(ns);
}
