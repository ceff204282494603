import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RandomStream } from '../../../shared/random.js';
import { TestLab } from '../../runtime/testing.js';
import type { TestContext } from '../../runtime/testing.js';
import { decodeVmotionDatagram, encodeVmotionDatagram, type VmotionBody, type VmotionDatagram } from './messages.js';
import { STREAM_RTO_TIMER, VmotionStream } from './stream.js';

interface Link {
  loss: number;
  duplicate: number;
  jitterNs: number;
}

/**
 * Two hosts' ends of one stream on a shared clock, joined by a link that loses, duplicates and
 * delays datagrams (real bytes, encoded and decoded). Runs events in time order.
 */
class Pair {
  readonly lab = new TestLab();
  readonly clock = this.lab.clock;
  readonly a: TestContext = this.lab.context('esx-a', (name) => name === STREAM_RTO_TIMER && this.sa.onTimer(this.a), { random: 0.5 });
  readonly b: TestContext = this.lab.context('esx-b', (name) => name === STREAM_RTO_TIMER && this.sb.onTimer(this.b), { random: 0.5 });
  readonly received: { a: VmotionBody[]; b: VmotionBody[] } = { a: [], b: [] };
  readonly sa: VmotionStream;
  readonly sb: VmotionStream;
  private readonly random: RandomStream;
  acks = 0;
  retransmitted = 0;

  constructor(
    private readonly link: Link,
    seed: number,
    private readonly onAckedA: (pair: Pair) => void = () => undefined,
  ) {
    this.random = new RandomStream(seed, 'stream-test');
    this.sa = new VmotionStream('m', { send: (_ctx, d) => this.carry('b', d), onAcked: () => this.onAckedA(this), onRetransmit: () => void this.retransmitted++ });
    this.sb = new VmotionStream('m', { send: (_ctx, d) => this.carry('a', d) });
  }

  private carry(to: 'a' | 'b', datagram: VmotionDatagram): boolean {
    const bytes = encodeVmotionDatagram(datagram);
    if (datagram.body === null) this.acks++;
    if (this.random.next() < this.link.loss) return true;
    const copies = this.random.next() < this.link.duplicate ? 2 : 1;
    for (let i = 0; i < copies; i++) this.lab.after(5_000 + Math.floor(this.random.next() * this.link.jitterNs), () => this.receive(to, bytes));
    return true;
  }

  private receive(to: 'a' | 'b', bytes: Uint8Array): void {
    const [ctx, stream, into] = to === 'a' ? [this.a, this.sa, this.received.a] : [this.b, this.sb, this.received.b];
    into.push(...stream.onDatagram(ctx, decodeVmotionDatagram(bytes)));
    stream.flushAck(ctx);
  }

  /** Runs until nothing is left to happen or `until` is reached. */
  run(until = 60_000_000_000): void {
    while (this.lab.step(until));
  }
}

const pages = (batch: number): VmotionBody => ({ t: 'pages', round: 0, batch, last: false, pages: 256 });

/** Sends `n` batches from a to b, as many as the window takes, the rest as acknowledgements make room. */
function sendAll(link: Link, seed: number, n: number): Pair {
  let next = 0;
  const fill = (pair: Pair): void => {
    while (next < n && pair.sa.windowOpen) pair.sa.send(pair.a, pages(next++));
  };
  const pair = new Pair(link, seed, fill);
  fill(pair);
  pair.run();
  return pair;
}

describe('VmotionStream', () => {
  it('VmotionStream delivers every message once and in order over a clean link, one acknowledgement per message', () => {
    const pair = sendAll({ loss: 0, duplicate: 0, jitterNs: 0 }, 1, 200);
    expect(pair.received.b.map((b) => (b.t === 'pages' ? b.batch : -1))).toEqual([...Array(200).keys()]);
    expect(pair.sa.acknowledged).toBe(200);
    expect(pair.retransmitted).toBe(0);
    expect(pair.acks).toBe(200);
  });

  it('VmotionStream delivers every message exactly once, in order, whatever is lost, duplicated or reordered', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.double({ min: 0, max: 0.3, noNaN: true }), fc.double({ min: 0, max: 0.3, noNaN: true }), fc.integer({ min: 0, max: 200_000 }), (seed, loss, duplicate, jitterNs) => {
        const pair = sendAll({ loss, duplicate, jitterNs }, seed, 150);
        expect(pair.received.b.map((b) => (b.t === 'pages' ? b.batch : -1))).toEqual([...Array(150).keys()]);
        expect(pair.sa.acknowledged).toBe(150);
        expect(pair.a.timers).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });

  it('VmotionStream never has more than a window unacknowledged, and refuses more', () => {
    const pair = new Pair({ loss: 1, duplicate: 0, jitterNs: 0 }, 3);
    const sent: Array<number | null> = [];
    for (let i = 0; i < 70; i++) sent.push(pair.sa.send(pair.a, pages(i)));
    expect(sent.filter((s) => s !== null)).toHaveLength(64);
    expect(sent.slice(64)).toEqual([null, null, null, null, null, null]);
    expect(pair.sa.windowOpen).toBe(false);
  });

  it('VmotionStream backs its retransmission off while nothing gets through, and recovers a burst of losses in round trips once it does', () => {
    const link = { loss: 1, duplicate: 0, jitterNs: 0 };
    let next = 0;
    const pair = new Pair(link, 4, (p) => {
      while (next < 64 && p.sa.windowOpen) p.sa.send(p.a, pages(next++));
    });
    while (next < 64) pair.sa.send(pair.a, pages(next++));
    pair.run(1_000_000_000);
    // 20, 40, 80, ... ms: nine retransmissions in the first second and a half, not fifty.
    expect(pair.retransmitted).toBeLessThanOrEqual(9);
    link.loss = 0;
    const before = pair.clock.now;
    pair.run();
    expect(pair.received.b).toHaveLength(64);
    // Once the link works again, the 64 lost messages come back within the next timeout and 64 round trips of 10 us.
    expect(pair.clock.now - before).toBeLessThan(1_100_000_000);
  });

  it('VmotionStream keeps answering what arrives late once closed, so the peer stops sending', () => {
    const pair = new Pair({ loss: 0, duplicate: 0, jitterNs: 0 }, 5);
    pair.sb.close(pair.b);
    pair.sa.send(pair.a, pages(0));
    pair.run();
    expect(pair.received.b).toEqual([]);
    expect(pair.sa.acknowledged).toBe(1);
    expect(pair.a.timers).toEqual([]);
  });
});
