/**
 * Ring arithmetic with generation bits.
 *
 * A vmxnet3 ring is an array of `size` descriptors in guest memory. Whoever writes a descriptor
 * stamps it with its current generation bit; the reader owns the descriptor when the bit equals the
 * one it expects. Both sides start at slot 0 with generation 1 and flip their bit each time their
 * index wraps to 0, so a descriptor left over from the previous lap never looks new.
 *
 * Positions are `{next, gen}`. Two positions on the same ring say how far one is ahead of the
 * other, and their bits must agree with that: `lag` returns null when they cannot both be true.
 */
import { Vmxnet3Error } from './errors.js';
import { RING_MAX_SIZE, RING_SIZE_ALIGN } from './registers.js';
import type { Gen, RingPosition, RingState } from './state.js';

/** Generation bit of a fresh ring. */
export const INITIAL_GEN: Gen = 1;

/** The other generation bit. */
export function flipGen(gen: Gen): Gen {
  return gen === 1 ? 0 : 1;
}

/** A ring of `size` descriptors at its start: slot 0, generation 1. */
export function newRing(size: number): RingState {
  return { size, next: 0, gen: INITIAL_GEN };
}

/** A copy of a position (no shared references between device, driver and snapshots). */
export function position(pos: RingPosition): RingPosition {
  return { next: pos.next, gen: pos.gen };
}

/** Why `size` is not a valid ring size (a multiple of 32, from 32 to `max`), or null when it is. */
export function ringSizeProblem(size: number, max: number = RING_MAX_SIZE): string | null {
  if (!Number.isInteger(size) || size < RING_SIZE_ALIGN || size > max || size % RING_SIZE_ALIGN !== 0) {
    return `size ${size} is not a multiple of ${RING_SIZE_ALIGN} from ${RING_SIZE_ALIGN} to ${max}`;
  }
  return null;
}

/** Throws `bad-ring-size` when `size` is not a valid ring size. */
export function checkRingSize(size: number, what: string, max: number = RING_MAX_SIZE): void {
  const problem = ringSizeProblem(size, max);
  if (problem !== null) throw new Vmxnet3Error('bad-ring-size', `${capitalize(what)}: ${problem}`);
}

/** Why `pos` is not a position on a ring of `size` slots, or null when it is. */
export function positionProblem(pos: RingPosition, size: number): string | null {
  if (!Number.isInteger(pos.next) || pos.next < 0 || pos.next >= size) return `index ${pos.next} is outside 0..${size - 1}`;
  if (pos.gen !== 0 && pos.gen !== 1) return `generation bit ${String(pos.gen)} is neither 0 nor 1`;
  return null;
}

/**
 * The position `count` slots after `pos` (0 <= count), with the generation bit flipped once per
 * wrap: advancing past the last slot flips it exactly when the index returns to 0.
 */
export function advance(pos: RingPosition, size: number, count = 1): RingPosition {
  const total = pos.next + count;
  const laps = Math.floor(total / size);
  return { next: total % size, gen: laps % 2 === 0 ? pos.gen : flipGen(pos.gen) };
}

/** Slots from index `from` forward to index `to` on a ring of `size`, in 0..size-1 (indices only). */
export function distance(from: number, to: number, size: number): number {
  return (((to - from) % size) + size) % size;
}

/**
 * How many slots `ahead` is ahead of `behind` (0..size), or null when their generation bits
 * contradict their indices. Ahead of or level with `behind` in the same lap, the bits are equal;
 * wrapped past slot 0 once more, they differ. Equal indices with different bits mean a full lap.
 */
export function lag(behind: RingPosition, ahead: RingPosition, size: number): number | null {
  const sameGen = behind.gen === ahead.gen;
  if (ahead.next === behind.next) return sameGen ? 0 : size;
  if (ahead.next > behind.next) return sameGen ? ahead.next - behind.next : null;
  return sameGen ? null : ahead.next + size - behind.next;
}

/**
 * The generation bit found in slot `index` of a ring whose producer is at `producer`: slots before
 * the producer in this lap carry its bit, the others still carry the previous lap's.
 */
export function genAt(producer: RingPosition, index: number): Gen {
  return index < producer.next ? producer.gen : flipGen(producer.gen);
}

/** True when both positions are the same slot with the same generation bit. */
export function samePosition(a: RingPosition, b: RingPosition): boolean {
  return a.next === b.next && a.gen === b.gen;
}

/** `slot 5 (gen 1)`, for messages. */
export function formatPosition(pos: RingPosition): string {
  return `slot ${pos.next} (gen ${pos.gen})`;
}

function capitalize(text: string): string {
  return text.length === 0 ? text : text[0]!.toUpperCase() + text.slice(1);
}
