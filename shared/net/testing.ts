/**
 * Test support for code that decodes frames: a Uint8Array wrapper that turns any out-of-bounds
 * index into an exception, and a seeded random generator for reproducible fuzzing.
 *
 * Reading past the end of a Uint8Array silently yields undefined (and then 0 in arithmetic), so
 * a decoder with a missing bounds check can pass ordinary tests; behind `boundsChecked` it fails.
 */
import { DpulabError } from '../errors.js';
import { FrameError } from './errors.js';

/** Thrown by a boundsChecked array when an index outside [0, length) is read. */
export class OutOfBoundsRead extends DpulabError {
  override readonly name = 'OutOfBoundsRead';
  readonly code = 'out-of-bounds-read';
}

/** Wraps `bytes` so that reading any integer index outside [0, length) throws OutOfBoundsRead. */
export function boundsChecked(bytes: Uint8Array): Uint8Array {
  return new Proxy(bytes, {
    get(target, property) {
      if (typeof property === 'string' && /^-?\d+$/.test(property)) {
        const index = Number(property);
        if (index < 0 || index >= target.length) {
          throw new OutOfBoundsRead(`Read of index ${index} of a ${target.length}-byte buffer`);
        }
        return target[index];
      }
      const value: unknown = Reflect.get(target, property, target);
      // Methods must run against the real typed array: its internal slots are not on the proxy.
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A small seeded generator (Marsaglia's xorshift32) returning numbers in [0, 1); the same seed gives the same stream. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0 || 0x9e3779b9; // xorshift never leaves 0, so 0 is replaced
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x100000000;
  };
}

/** `length` random bytes from `random`. */
export function randomBytes(random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/**
 * Runs `decode` and returns the FrameError it threw. Fails (throws) if it returned normally or
 * threw anything else, which is exactly what malformed-input tests need to tell apart.
 */
export function frameErrorOf(decode: () => unknown): FrameError {
  try {
    decode();
  } catch (error) {
    if (error instanceof FrameError) return error;
    throw error;
  }
  throw new Error('Expected a FrameError, but decoding succeeded');
}
