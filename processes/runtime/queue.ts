import { compareNodeIds } from '../../shared/events.js';
import type { MessageKey } from './types.js';

/** The deterministic order of a node's pending messages: arrival, then source node, then its counter. */
export function compareMessages(a: MessageKey, b: MessageKey): number {
  if (a.arrival !== b.arrival) return a.arrival - b.arrival;
  if (a.src !== b.src) return compareNodeIds(a.src, b.src);
  return a.srcSeq - b.srcSeq;
}

/**
 * A binary min-heap of messages in `compareMessages` order. The order never depends on the order
 * in which messages were pushed, which is what makes multi-process runs deterministic: frames from
 * different peers reach a node's sockets in whatever order the OS chose.
 */
export class MessageQueue<T extends MessageKey> {
  private readonly heap: T[] = [];

  get size(): number {
    return this.heap.length;
  }

  /** Arrival time of the earliest message, or Infinity when empty. */
  peekTime(): number {
    return this.heap.length === 0 ? Infinity : this.heap[0]!.arrival;
  }

  push(item: T): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (compareMessages(h[i]!, h[parent]!) >= 0) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  pop(): T | undefined {
    const h = this.heap;
    if (h.length === 0) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && compareMessages(h[l]!, h[m]!) < 0) m = l;
        if (r < h.length && compareMessages(h[r]!, h[m]!) < 0) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** Drops every message for which `keep` is false (used when timers are cancelled in bulk). */
  filter(keep: (item: T) => boolean): void {
    const kept = this.heap.filter(keep);
    this.heap.length = 0;
    for (const item of kept) this.push(item);
  }
}
