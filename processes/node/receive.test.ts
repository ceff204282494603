import { afterEach, describe, expect, it } from 'vitest';
import { Pair } from 'zeromq';
import { messages, receiveEach } from './receive.js';
import { SendQueue } from './send-queue.js';

let opened: Pair[] = [];
function pair(): Pair {
  const socket = new Pair({ linger: 0 });
  opened.push(socket);
  return socket;
}
afterEach(() => {
  for (const socket of opened) if (!socket.closed) socket.close();
  opened = [];
});

let endpoints = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('receiving and sending across timeouts', () => {
  /** The two ways to read a socket, each pushing what it reads into `got` until the socket closes. */
  const readers: ReadonlyArray<[string, (socket: Pair, got: string[]) => Promise<void>]> = [
    [
      'messages() goes on waiting through its timeouts, yields each message once,',
      async (socket, got) => {
        for await (const [body] of messages(socket, 10)) got.push(body!.toString());
      },
    ],
    ['receiveEach() hands over each message once through its timeouts,', (socket, got) => receiveEach(socket, ([body]) => got.push(body!.toString()), 10)],
  ];

  it.each(readers)('%s and ends when the socket closes', async (_, read) => {
    const a = pair();
    const b = pair();
    const address = `inproc://receive-${++endpoints}`;
    await a.bind(address);
    b.connect(address);
    const got: string[] = [];
    const reading = read(a, got);
    await sleep(60); // several receive timeouts pass with nothing to read
    await b.send('first');
    await sleep(40);
    await b.send('second');
    while (got.length < 2) await sleep(5);
    a.close();
    await reading;
    expect(got).toEqual(['first', 'second']);
  });

  it('a queued message waits through send timeouts until the peer connects, and arrives once', async () => {
    const a = pair();
    await a.bind('inproc://send-timeouts');
    const queue = new SendQueue(a);
    a.sendTimeout = 10; // the queue set its own; make the test see many timeouts
    queue.push('early');
    await sleep(60);
    const b = pair();
    b.connect('inproc://send-timeouts');
    await queue.drain();
    b.receiveTimeout = 1000;
    const [body] = await b.receive();
    expect(body!.toString()).toBe('early');
    b.receiveTimeout = 50;
    await expect(b.receive()).rejects.toMatchObject({ code: 'EAGAIN' });
    expect(queue.error).toBeNull();
  });
});
