import { describe, expect, it } from 'vitest';
import { RandomStream } from './random.js';

describe('RandomStream', () => {
  it('RandomStream repeats the same sequence for the same seed and labels', () => {
    const a = new RandomStream(7, 'node', 'dpu-01a');
    const b = new RandomStream(7, 'node', 'dpu-01a');
    const xs = Array.from({ length: 50 }, () => a.nextUint32());
    const ys = Array.from({ length: 50 }, () => b.nextUint32());
    expect(xs).toEqual(ys);
  });

  it('RandomStream gives unrelated sequences for another seed or label', () => {
    const base = Array.from({ length: 8 }, ((r) => () => r.nextUint32())(new RandomStream(7, 'x')));
    const seed8 = Array.from({ length: 8 }, ((r) => () => r.nextUint32())(new RandomStream(8, 'x')));
    const label = Array.from({ length: 8 }, ((r) => () => r.nextUint32())(new RandomStream(7, 'y')));
    expect(seed8).not.toEqual(base);
    expect(label).not.toEqual(base);
  });

  it('RandomStream draws floats in [0, 1) spread over the range', () => {
    const r = new RandomStream(1, 'spread');
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const x = r.next();
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
      buckets[Math.floor(x * 10)]!++;
    }
    for (const n of buckets) expect(n).toBeGreaterThan(800);
  });
});
