/**
 * Units: durations and bandwidths as people write them in topology and scenario files, and as
 * the rest of the code keeps them (integer nanoseconds of virtual time, bits per second).
 *
 * Parsing is strict: a unit is required (except for zero), negative values, NaN and unknown
 * units are errors that quote the offending text. Formatting is for people: the shortest form
 * that reads well, rounded to three decimals, and accepted back by the parsers.
 */

import { DpulabError } from './errors.js';
import type { VTime } from './events.js';

/** Nanoseconds in one microsecond. */
export const NS_PER_US = 1_000;
/** Nanoseconds in one millisecond. */
export const NS_PER_MS = 1_000_000;
/** Nanoseconds in one second. */
export const NS_PER_S = 1_000_000_000;
/** Nanoseconds in one minute. */
export const NS_PER_MIN = 60 * NS_PER_S;
/** Nanoseconds in one hour. */
export const NS_PER_H = 60 * NS_PER_MIN;

/**
 * A duration or bandwidth that could not be parsed. `reason` is a lower-case fragment suitable
 * for embedding after a location prefix (`lab.yaml:3:14: wires[0].latency: ...`).
 */
export class UnitError extends DpulabError {
  /** Stable code for callers that branch on the kind of failure. */
  readonly code = 'invalid-unit';
  /** Which quantity was being parsed. */
  readonly quantity: 'duration' | 'bandwidth';
  /** The text (or number) that was rejected, as given. */
  readonly input: string;
  /** Why it was rejected, starting lower-case, without the quoted input. */
  readonly reason: string;

  constructor(quantity: 'duration' | 'bandwidth', input: unknown, reason: string) {
    const shown = typeof input === 'string' ? input : String(input);
    super(`Invalid ${quantity} "${shown}": ${reason}`, { fromInput: true });
    this.name = 'UnitError';
    this.quantity = quantity;
    this.input = shown;
    this.reason = reason;
  }

  /** The message as a lower-case fragment: `invalid duration "5 parsecs": ...`. */
  get fragment(): string {
    return `invalid ${this.quantity} "${this.input}": ${this.reason}`;
  }
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  ns: 1,
  us: NS_PER_US,
  'µs': NS_PER_US, // U+00B5 MICRO SIGN
  'μs': NS_PER_US, // U+03BC GREEK SMALL LETTER MU
  ms: NS_PER_MS,
  s: NS_PER_S,
  m: NS_PER_MIN,
  min: NS_PER_MIN,
  h: NS_PER_H,
};

const DURATION_HINT = 'expected a number and a unit (ns, us, ms, s, m, h), e.g. 5us, 1.5s or 1m30s';
const DECIMAL = String.raw`(?:\d+(?:\.\d*)?|\.\d+)`;
const DURATION_TERM = new RegExp(String.raw`(${DECIMAL})\s*(ns|us|µs|μs|ms|min|s|m|h)(?![a-zA-Zµμ])`, 'y');

/**
 * Parses a duration into integer nanoseconds of virtual time, rounding to the nearest ns.
 *
 * Accepts `100ns`, `5us` (or `5µs`), `200ms`, `1.5s`, `2m`, `1h`, compound forms such as
 * `1m30s` or `1 min 30 s` (what {@link formatDuration} prints), and zero written as `0` or
 * `'0'`. A bare non-zero number is rejected: nobody should have to guess its unit.
 *
 * @throws UnitError naming the text when it is negative, not a number, or has an unknown unit
 */
export function parseDuration(input: string | number): VTime {
  if (typeof input === 'number') {
    if (input === 0) return 0;
    if (Number.isNaN(input)) throw new UnitError('duration', input, 'not a number');
    if (input < 0) throw new UnitError('duration', input, 'must not be negative');
    if (!Number.isFinite(input)) throw new UnitError('duration', input, 'must be finite');
    throw new UnitError('duration', input, `a unit is required, e.g. ${input}us or ${input}ms`);
  }
  if (typeof input !== 'string') throw new UnitError('duration', input, DURATION_HINT);
  const text = input.trim();
  if (text === '') throw new UnitError('duration', input, `empty; ${DURATION_HINT}`);
  if (text.startsWith('-')) throw new UnitError('duration', input, 'must not be negative');
  if (/^(?:0+(?:\.0*)?|\.0+)$/.test(text)) return 0;
  if (/^(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i.test(text)) {
    throw new UnitError('duration', input, `a unit is required, e.g. ${text}us or ${text}ms`);
  }

  let total = 0;
  let at = 0;
  let terms = 0;
  while (at < text.length) {
    DURATION_TERM.lastIndex = at;
    const match = DURATION_TERM.exec(text);
    if (!match) break;
    const [whole, amount = '', unit = ''] = match;
    const perUnit = DURATION_UNITS[unit];
    if (perUnit === undefined) break;
    total += Number(amount) * perUnit;
    terms += 1;
    at += whole.length;
    while (text[at] === ' ') at += 1;
  }
  if (terms === 0 || at < text.length) {
    const unknown = /^\d*\.?\d+\s*([^\d\s.]+)/.exec(text)?.[1];
    const reason = unknown && DURATION_UNITS[unknown] === undefined ? `unknown unit "${unknown}"; ${DURATION_HINT}` : DURATION_HINT;
    throw new UnitError('duration', input, reason);
  }
  const ns = Math.round(total);
  if (!Number.isSafeInteger(ns)) throw new UnitError('duration', input, 'too large');
  return ns;
}

/** Rounds to at most three decimals and prints without trailing zeros. */
function threeDecimals(value: number): string {
  return String(Math.round(value * 1000) / 1000);
}

/**
 * Formats integer nanoseconds for people: `0 s`, `100 ns`, `12.345 µs`, `200 ms`, `1.5 s`,
 * `2 min`, `1 h 2 min 3.5 s`. Three decimals at most, so it may round; never use it for data.
 */
export function formatDuration(ns: VTime): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 0) return `-${formatDuration(-ns)}`;
  if (ns === 0) return '0 s';
  if (ns >= NS_PER_MIN) {
    const roundedMs = Math.round(ns / NS_PER_MS);
    const hours = Math.floor(roundedMs / (NS_PER_H / NS_PER_MS));
    const minutes = Math.floor((roundedMs % (NS_PER_H / NS_PER_MS)) / (NS_PER_MIN / NS_PER_MS));
    const seconds = (roundedMs % (NS_PER_MIN / NS_PER_MS)) / 1000;
    const parts: string[] = [];
    if (hours > 0) parts.push(`${hours} h`);
    if (minutes > 0) parts.push(`${minutes} min`);
    if (seconds > 0) parts.push(`${threeDecimals(seconds)} s`);
    return parts.join(' ');
  }
  if (ns < NS_PER_US) return `${threeDecimals(ns)} ns`;
  const scales: readonly [number, string][] = [
    [NS_PER_S, 's'],
    [NS_PER_MS, 'ms'],
    [NS_PER_US, 'µs'],
  ];
  for (const [perUnit, unit] of scales) {
    const value = Math.round((ns / perUnit) * 1000) / 1000;
    if (value >= 1) return `${value} ${unit}`;
  }
  return `${ns} ns`;
}

const BANDWIDTH_PREFIXES: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

const BANDWIDTH_HINT = 'expected bits per second such as 25Gbps, 10G, 100Mbps or 1e9';
const BANDWIDTH = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([kKMGT]?)(bps|bit\/s|b\/s)?$/;

/**
 * Parses a bandwidth into bits per second (decimal prefixes: 1G = 10^9), rounded to an integer.
 *
 * Accepts `25Gbps`, `10G`, `100Mbps`, `1.5 Gbit/s`, `1e9` and plain numbers. Byte units
 * (`GBps`, `MB/s`) are rejected rather than silently read as bits.
 *
 * @throws UnitError naming the text when it is not positive, not a number, or has an unknown unit
 */
export function parseBandwidth(input: string | number): number {
  let bps: number;
  if (typeof input === 'number') {
    bps = input;
  } else if (typeof input === 'string') {
    const text = input.trim();
    const match = BANDWIDTH.exec(text);
    if (!match) {
      const reason = /B(ps|\/s)?$/.test(text) ? `"B" means bytes; write bits, e.g. 25Gbps` : BANDWIDTH_HINT;
      throw new UnitError('bandwidth', input, reason);
    }
    const [, amount = '', prefix = ''] = match;
    bps = Number(amount) * (BANDWIDTH_PREFIXES[prefix] ?? Number.NaN);
  } else {
    throw new UnitError('bandwidth', input, BANDWIDTH_HINT);
  }
  if (Number.isNaN(bps)) throw new UnitError('bandwidth', input, 'not a number');
  if (bps <= 0) throw new UnitError('bandwidth', input, 'must be positive');
  const rounded = Math.round(bps);
  if (!Number.isSafeInteger(rounded)) throw new UnitError('bandwidth', input, 'too large');
  if (rounded === 0) throw new UnitError('bandwidth', input, 'must be at least 1 bps');
  return rounded;
}

/**
 * Formats bits per second for people with decimal prefixes: `25 Gbps`, `1.5 Gbps`, `100 Mbps`,
 * `800 bps`. Three decimals at most; accepted back by {@link parseBandwidth}.
 */
export function formatBandwidth(bps: number): string {
  if (!Number.isFinite(bps)) return String(bps);
  if (bps < 0) return `-${formatBandwidth(-bps)}`;
  const scales: readonly [number, string][] = [
    [1e12, 'Tbps'],
    [1e9, 'Gbps'],
    [1e6, 'Mbps'],
    [1e3, 'kbps'],
  ];
  for (const [perUnit, unit] of scales) {
    const value = Math.round((bps / perUnit) * 1000) / 1000;
    if (value >= 1) return `${value} ${unit}`;
  }
  return `${threeDecimals(bps)} bps`;
}
