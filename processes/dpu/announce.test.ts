import { describe, expect, test } from 'vitest';
import { announceGapNs } from './announce.js';

describe('announceGapNs', () => {
  test("follows QEMU's self-announce: announcements at 0, 50, 200, 450 and 800 ms, then none", () => {
    const at: number[] = [0];
    for (let round = 1; ; round++) {
      const gap = announceGapNs(round);
      if (gap === null) break;
      at.push(at[at.length - 1]! + gap);
    }
    expect(at.map((ns) => ns / 1e6)).toEqual([0, 50, 200, 450, 800]);
  });

  test('never waits longer than the cap', () => {
    const gaps = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((r) => announceGapNs(r, { rounds: 10, initialNs: 50, stepNs: 100, maxNs: 550 }));
    expect(gaps).toEqual([50, 150, 250, 350, 450, 550, 550, 550, 550]);
  });
});
