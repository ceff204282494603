/**
 * One node of the synchronisation skeleton (`sync.ts`), run as its own OS process:
 * `node sync-peer.js TRACE INDEX SCHEME DIR`.
 *
 * It replays the windows of a recorded trace and does nothing else: no core, no frames. With
 * `central` it answers each grant of the controller with a `done`; with `decentralised` it
 * publishes its own `done` for every window it takes part in and moves to the next window as soon
 * as it has heard every participant of this one, with the controller only listening.
 */
import { readFileSync } from 'node:fs';
import { Dealer, Publisher, Subscriber } from 'zeromq';

const [tracePath, indexText, scheme, dir] = process.argv.slice(2);
const index = Number(indexText);
/** Per window: the indices of its participants. */
const windows = JSON.parse(readFileSync(tracePath!, 'utf8')) as number[][];
const nodes = Math.max(...windows.flat()) + 1;

process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

/** A window and a node index as 8 bytes: what a done says. */
function doneOf(window: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(window, 0);
  b.writeUInt32LE(index, 4);
  return b;
}

async function central(): Promise<void> {
  const control = new Dealer({ routingId: String(index), linger: 0 });
  control.connect(`ipc://${dir}/ctl`);
  await control.send('hello');
  for (;;) {
    const [grant] = await control.receive();
    await control.send(doneOf(grant!.readUInt32LE(0)));
  }
}

async function decentralised(): Promise<void> {
  const pub = new Publisher({ linger: 0 });
  await pub.bind(`ipc://${dir}/n${index}`);
  const sub = new Subscriber({ linger: 0 });
  for (let i = 0; i < nodes; i++) if (i !== index) sub.connect(`ipc://${dir}/n${i}`);
  sub.subscribe();
  // Subscriptions take a moment to reach the publishers: everyone says ready until all have heard all.
  const control = new Dealer({ routingId: String(index), linger: 0 });
  control.connect(`ipc://${dir}/ctl`);
  await control.send('hello');
  await control.receive(); // go
  /** Dones heard per window, until its participants are all in. */
  const heard = new Map<number, number>();
  const waiter: { wake: (() => void) | null } = { wake: null };
  const receiving = (async () => {
    for await (const [m] of sub) {
      const w = m!.readUInt32LE(0);
      heard.set(w, (heard.get(w) ?? 0) + 1);
      waiter.wake?.();
    }
  })();
  for (let w = 0; w < windows.length; w++) {
    const participants = windows[w]!;
    let need = participants.length;
    if (participants.includes(index)) {
      await pub.send(doneOf(w));
      need--;
    }
    while ((heard.get(w) ?? 0) < need) await new Promise<void>((resolve) => (waiter.wake = resolve));
    waiter.wake = null;
    heard.delete(w);
  }
  await control.send('finished');
  await receiving;
}

(scheme === 'central' ? central() : decentralised()).catch((error: unknown) => {
  process.stderr.write(`sync-peer ${index}: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
