import { describe, expect, it } from 'vitest';
import { Vmxnet3Error } from './errors.js';
import { advance, checkRingSize, distance, genAt, lag, newRing, ringSizeProblem } from './ring.js';
import type { RingPosition } from './state.js';

describe('ring arithmetic', () => {
  it('ring wrap flips the generation bit exactly when the index returns to 0', () => {
    for (const size of [32, 64, 4096]) {
      let pos: RingPosition = newRing(size);
      expect(pos).toEqual({ size, next: 0, gen: 1 });
      for (let step = 1; step <= 3 * size; step++) {
        const before = pos;
        pos = advance(pos, size);
        const wrapped = step % size === 0;
        expect(pos.next).toBe(step % size);
        expect(pos.gen !== before.gen).toBe(wrapped);
      }
      // Three wraps: an odd number of flips.
      expect(pos).toEqual({ next: 0, gen: 0 });
    }
  });

  it('ring advance by a count equals that many single steps', () => {
    const size = 32;
    for (const start of [0, 5, 31]) {
      for (const count of [0, 1, 26, 27, 32, 33, 64, 95]) {
        let stepped: RingPosition = { next: start, gen: 0 };
        for (let i = 0; i < count; i++) stepped = advance(stepped, size);
        expect(advance({ next: start, gen: 0 }, size, count)).toEqual(stepped);
      }
    }
  });

  it('ring lag counts slots ahead and refuses generation bits that contradict the order', () => {
    expect(lag({ next: 3, gen: 1 }, { next: 10, gen: 1 }, 32)).toBe(7);
    expect(lag({ next: 30, gen: 1 }, { next: 2, gen: 0 }, 32)).toBe(4);
    expect(lag({ next: 5, gen: 1 }, { next: 5, gen: 1 }, 32)).toBe(0);
    expect(lag({ next: 5, gen: 1 }, { next: 5, gen: 0 }, 32)).toBe(32);
    // Ahead in index but a lap apart in generation, or behind in index in the same lap: impossible.
    expect(lag({ next: 3, gen: 1 }, { next: 10, gen: 0 }, 32)).toBeNull();
    expect(lag({ next: 30, gen: 1 }, { next: 2, gen: 1 }, 32)).toBeNull();
    expect(distance(30, 2, 32)).toBe(4);
  });

  it('ring slots before the producer carry its generation bit, the others the previous lap', () => {
    const producer = { next: 4, gen: 0 as const };
    expect(genAt(producer, 3)).toBe(0);
    expect(genAt(producer, 4)).toBe(1);
    expect(genAt(producer, 31)).toBe(1);
  });

  it('ring sizes must be multiples of 32 up to 4096 (8192 for RX completions)', () => {
    for (const ok of [32, 64, 512, 4096]) expect(ringSizeProblem(ok)).toBeNull();
    for (const bad of [0, 16, 33, 100, 4128, 8192]) expect(ringSizeProblem(bad)).not.toBeNull();
    expect(ringSizeProblem(8192, 8192)).toBeNull();
    expect(() => checkRingSize(48, 'TX ring')).toThrow(Vmxnet3Error);
    try {
      checkRingSize(48, 'TX ring');
    } catch (error) {
      expect((error as Vmxnet3Error).code).toBe('bad-ring-size');
      expect((error as Vmxnet3Error).message).toMatch(/^TX ring: size 48/);
    }
  });
});
