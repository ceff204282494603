import { describe, expect, it } from 'vitest';
import { RandomStream } from '../../shared/random.js';
import { MessageQueue } from './queue.js';
import type { MessageKey } from './types.js';

describe('MessageQueue', () => {
  it('MessageQueue pops in (arrival, src, srcSeq) order whatever the push order', () => {
    const items: MessageKey[] = [];
    for (let t = 0; t < 5; t++) {
      for (const src of ['tor-a', 'dpu-01a', 'controller']) {
        for (let s = 0; s < 3; s++) items.push({ arrival: t * 10, src, srcSeq: s, cause: null });
      }
    }
    const orders: string[][] = [];
    for (const seed of [1, 2, 3]) {
      const r = new RandomStream(seed, 'shuffle');
      const shuffled = [...items];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = r.int(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      const q = new MessageQueue<MessageKey>();
      for (const it of shuffled) q.push(it);
      const out: string[] = [];
      while (q.size > 0) {
        const m = q.pop()!;
        out.push(`${m.arrival}/${m.src}/${m.srcSeq}`);
      }
      orders.push(out);
    }
    expect(orders[0]).toEqual(orders[1]);
    expect(orders[1]).toEqual(orders[2]);
    expect(orders[0]!.slice(0, 4)).toEqual(['0/controller/0', '0/controller/1', '0/controller/2', '0/dpu-01a/0']);
  });

  it('MessageQueue reports Infinity when empty and the head time otherwise', () => {
    const q = new MessageQueue<MessageKey>();
    expect(q.peekTime()).toBe(Infinity);
    q.push({ arrival: 42, src: 'a', srcSeq: 0, cause: null });
    q.push({ arrival: 7, src: 'b', srcSeq: 0, cause: null });
    expect(q.peekTime()).toBe(7);
  });
});
