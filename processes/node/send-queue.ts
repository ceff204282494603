import type { Writable } from 'zeromq';
import { RECHECK_MS } from './receive.js';

type Message = Parameters<Writable['send']>[0];

/**
 * Serialises sends on one ZeroMQ socket. zeromq.js allows a single pending `send()` per socket
 * (a second one fails with EBUSY), so every sender goes through this queue.
 *
 * The queue never drops: a frame on a wire or an event for the recorder is part of the run, and
 * dropping one would make the run irreproducible. Sockets are created with an unlimited high-water
 * mark, so a send only waits while the peer is still connecting; memory is the bound.
 */
export class SendQueue {
  /**
   * Messages waiting, read from `head`: Array.shift() copies the rest of the array, which makes
   * a large backlog (a busy window's frames) quadratic to drain.
   */
  private pending: Array<Message | undefined> = [];
  private head = 0;
  private flushing = false;
  private closed = false;
  private drained: Array<() => void> = [];
  private failure: Error | null = null;

  constructor(private readonly socket: Writable) {
    // A send waiting for room wakes on the same edges as a receive, and may lose one the same
    // way: give up after a while and send again (see RECHECK_MS).
    socket.sendTimeout = RECHECK_MS;
  }

  /** Queues a message; sends happen in order, one at a time. */
  push(message: Message): void {
    if (this.closed) return;
    this.pending.push(message);
    if (!this.flushing) void this.flush();
  }

  /** Resolves once everything queued so far has been handed to ZeroMQ. */
  drain(): Promise<void> {
    if (!this.flushing && this.head === this.pending.length) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  /** The first send error, if any (a closed socket, a terminated context). */
  get error(): Error | null {
    return this.failure;
  }

  /** Stops sending; queued messages are discarded. */
  close(): void {
    this.closed = true;
    this.pending = [];
    this.head = 0;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.head < this.pending.length && !this.closed) {
        const message = this.pending[this.head]!;
        try {
          await this.socket.send(message);
        } catch (error) {
          // EAGAIN: the send timed out without taking the message; it is still first in line.
          if ((error as { code?: string }).code === 'EAGAIN' && !this.closed && !(this.socket as { closed?: boolean }).closed) continue;
          this.failure ??= error as Error;
          this.closed = true;
          break;
        }
        this.pending[this.head++] = undefined;
        if (this.head === this.pending.length) {
          this.pending = [];
          this.head = 0;
        }
      }
    } finally {
      this.flushing = false;
      const waiting = this.drained;
      this.drained = [];
      for (const resolve of waiting) resolve();
    }
  }
}
