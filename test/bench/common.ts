/**
 * What every figure of the benchmark shares: progress notes on stderr, clean-up of child
 * processes when the bench is interrupted, deadlines, medians, number formats and /proc readers.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';

export const MIB = 1024 * 1024;

/** Progress and notes: always stderr, so stdout carries only the report. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Kill-now actions for whatever is running, used when the bench is interrupted or fails. */
export const emergencyCleanups = new Set<() => void>();

/** Rejects with `what` when `promise` takes longer than `ms`. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for a child process to exit; resolves at once if it already has. */
export function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** The median of a non-empty list. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The item whose `value` is the median (the lower middle one for an even count). */
export function medianBy<T>(items: readonly T[], value: (item: T) => number): T {
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** A number with thousands separators and `digits` decimals. */
export function fmt(value: number, digits = 1): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A ratio with three significant digits, e.g. 0.0123x. */
export function ratio(value: number): string {
  return `${value.toPrecision(3)}x`;
}

/** Size of a file in MiB, 0 when it is missing. */
export function fileMiB(path: string): number {
  try {
    return statSync(path).size / MIB;
  } catch {
    return 0;
  }
}

/** A `kB` field of /proc/<pid>/status or smaps_rollup, in KiB; null when unreadable. */
export function procKiB(pid: number, file: 'status' | 'smaps_rollup', field: string): number | null {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** CPU time (user + system) a process has used so far, in ms; null when unreadable. */
export function procCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return null;
  }
}

/** Whether a process with this pid exists (kill(pid, 0) succeeds, or fails other than ESRCH). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}
