/**
 * Parsers of option values, for commander. Kept apart from the subcommands so that the command
 * line can be parsed without loading any of them.
 */
import { InvalidArgumentError } from 'commander';

/** `--seed`, `--limit`: a safe integer. */
export function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`Not an integer: ${value}`);
  return n;
}

/** A lab's `--seed`: a non-negative safe integer. */
export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`Not a non-negative integer: ${value}`);
  return n;
}

/** `--runs`, `--jobs`: a safe integer of at least 1. */
export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`Not a positive integer: ${value}`);
  return n;
}

/** `--speed` of `run --realtime`: a positive factor. */
export function positive(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`Not a positive number: ${value}`);
  return n;
}

/** `--port`: 0 to 65535. */
export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`Not a port number: ${value}`);
  return n;
}

/** `--speed` of `ui`: a factor, 0 for as fast as possible. */
export function nonNegative(value: string): number {
  const n = Number(value);
  if (!(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError(`Not a non-negative number: ${value}`);
  return n;
}

/** A repeatable option (`--capture A -o a --capture B -o b`): every value, in the order given. */
export function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}
