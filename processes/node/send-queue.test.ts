import { describe, expect, it } from 'vitest';
import type { Writable } from 'zeromq';
import { SendQueue } from './send-queue.js';

/** A socket that, like zeromq.js, refuses a second send while one is pending. */
function fakeSocket(): { socket: Writable; sent: string[]; maxPending: () => number } {
  const sent: string[] = [];
  let pending = 0;
  let max = 0;
  const socket = {
    send: async (message: unknown) => {
      if (pending > 0) throw new Error('EBUSY: a send is already pending');
      pending++;
      max = Math.max(max, pending);
      await new Promise((r) => setImmediate(r));
      sent.push(String(message));
      pending--;
    },
  } as unknown as Writable;
  return { socket, sent, maxPending: () => max };
}

describe('SendQueue', () => {
  it('SendQueue sends everything in order, one send at a time', async () => {
    const { socket, sent, maxPending } = fakeSocket();
    const queue = new SendQueue(socket);
    const messages = Array.from({ length: 5_000 }, (_, i) => `m${i}`);
    for (const m of messages) queue.push(m);
    await queue.drain();
    expect(sent).toEqual(messages);
    expect(maxPending()).toBe(1);
    expect(queue.error).toBeNull();
  });

  it('SendQueue keeps order across pushes made while it is draining', async () => {
    const { socket, sent } = fakeSocket();
    const queue = new SendQueue(socket);
    queue.push('a');
    queue.push('b');
    await new Promise((r) => setImmediate(r));
    queue.push('c');
    await queue.drain();
    queue.push('d');
    await queue.drain();
    expect(sent).toEqual(['a', 'b', 'c', 'd']);
  });

  it('SendQueue sends a message again when its send timed out, keeping the order', async () => {
    const sent: string[] = [];
    let timeouts = 0;
    const socket = {
      send: async (message: unknown) => {
        await new Promise((r) => setImmediate(r));
        if (message === 'b' && timeouts < 3) {
          timeouts++;
          throw Object.assign(new Error('Socket is busy: timed out'), { code: 'EAGAIN' });
        }
        sent.push(String(message));
      },
    } as unknown as Writable;
    const queue = new SendQueue(socket);
    for (const m of ['a', 'b', 'c']) queue.push(m);
    await queue.drain();
    expect(timeouts).toBe(3);
    expect(sent).toEqual(['a', 'b', 'c']);
    expect(queue.error).toBeNull();
  });

  it('SendQueue stops at the first other send error and reports it', async () => {
    const sent: string[] = [];
    const socket = {
      send: async (message: unknown) => {
        if (message === 'b') throw Object.assign(new Error('Socket is closed'), { code: 'EBADF' });
        sent.push(String(message));
      },
    } as unknown as Writable;
    const queue = new SendQueue(socket);
    for (const m of ['a', 'b', 'c']) queue.push(m);
    await queue.drain();
    expect(sent).toEqual(['a']);
    expect(queue.error?.message).toBe('Socket is closed');
  });

  it('SendQueue discards what is queued once closed', async () => {
    const { socket, sent } = fakeSocket();
    const queue = new SendQueue(socket);
    for (let i = 0; i < 10; i++) queue.push(`m${i}`);
    queue.close();
    await queue.drain();
    expect(sent.length).toBeLessThanOrEqual(1);
  });
});
