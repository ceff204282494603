import { describe, expect, it } from 'vitest';
import { buildTcpFrame } from '../../../shared/net/builders.js';
import { decodeFrame, tryDecodeFrame } from '../../../shared/net/frame.js';
import { combineReports } from './checker.js';
import type { FlowReport } from './checker.js';
import { seqAdd, seqDiff, seqLt, TcpConnection } from './tcp.js';
import type { TcpInSegment, TcpOutSegment, TcpState } from './tcp.js';
import { DEFAULT_TCP_SETTINGS } from './tcp.js';
import { answerAddresses, GuestLab, labContext, twoVms, TWO_VMS } from './testing.js';

const S = 1_000_000_000;
const MS = 1_000_000;

function states(lab: GuestLab, vm: string): TcpState[] {
  return lab.eventsOf('tcp.state', { vm }).map((e) => e.payload['state'] as TcpState);
}

function summary(lab: GuestLab, flow: string) {
  return combineReports(lab.lastReport(flow, 'sender') as unknown as FlowReport, lab.lastReport(flow, 'receiver') as unknown as FlowReport | null);
}

function endRun(t: ReturnType<typeof twoVms>, at: number): void {
  t.lab.runUntil(at);
  t.a.host.end();
  t.b.host.end();
}

describe('tcp connection', () => {
  it('shakes hands, delivers every message in order and closes with FIN both ways', () => {
    const t = twoVms();
    t.a.stack.startFlow(t.a.ctx, { id: 'web-db', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 200, count: 100 });
    endRun(t, 3 * S);
    expect(states(t.lab, 'vm-a')).toEqual(['SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT', 'CLOSED']);
    expect(states(t.lab, 'vm-b')).toEqual(['SYN_RECEIVED', 'ESTABLISHED', 'CLOSE_WAIT', 'LAST_ACK', 'CLOSED']);
    expect(summary(t.lab, 'web-db')).toMatchObject({ sent: 100, delivered: 100, lost: 0, duplicated: 0, reordered: 0, retransmits: 0, tcpState: 'CLOSED', closeReason: 'closed' });
    expect(t.lab.lastReport('web-db', 'receiver')).toMatchObject({ highestSeq: 99, tcpState: 'CLOSED', final: true });
  });

  it('delivers the message of a one-message flow that closes before the handshake completes', () => {
    const t = twoVms({ latencyNs: 5_000_000 });
    t.a.stack.startFlow(t.a.ctx, { id: 'one', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, count: 1 });
    endRun(t, 2 * S);
    expect(states(t.lab, 'vm-a')).toEqual(['SYN_SENT', 'ESTABLISHED', 'FIN_WAIT_1', 'FIN_WAIT_2', 'TIME_WAIT', 'CLOSED']);
    expect(summary(t.lab, 'one')).toMatchObject({ sent: 1, delivered: 1, lost: 0, closeReason: 'closed' });
  });

  it('answers a repeated SYN with its SYN-ACK again when the first one was lost', () => {
    let synAcks = 0;
    const t = twoVms({
      tap: (frame) => {
        const f = decodeFrame(frame);
        return f.tcp?.flags.syn && f.tcp.flags.ack && ++synAcks === 1 ? [] : [frame];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'syn', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, count: 1 });
    endRun(t, 1 * S);
    // The SYN left at 0 (its RTO runs while ARP resolves), went again at 200 ms, and one round trip later the connection is up.
    expect(t.lab.eventsOf('tcp.state', { vm: 'vm-a', state: 'ESTABLISHED' }).map((e) => e.time)).toEqual([200 * MS + 40_000]);
  });

  it('announces its MSS and sends segments no larger than the smaller of both', () => {
    const sizes: number[] = [];
    const mssSeen: number[] = [];
    const t = twoVms({
      tap: (frame) => {
        const f = decodeFrame(frame);
        if (f.tcp) {
          if (f.tcp.flags.syn) for (const o of f.tcp.options) if (o.kind === 'mss') mssSeen.push(o.mss);
          if (f.tcp.payload.length > 0) sizes.push(f.tcp.payload.length);
        }
        return [frame];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'big', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, payloadBytes: 5000, count: 4, ratePps: 1000 });
    endRun(t, 1 * S);
    expect(mssSeen).toEqual([1400, 1400]);
    expect(Math.max(...sizes)).toBe(1400);
    expect(sizes.reduce((x, y) => x + y, 0)).toBe(20_000);
    expect(summary(t.lab, 'big')).toMatchObject({ delivered: 4, lost: 0 });
  });

  it('delivers everything in order under 5% random loss, retransmitting', () => {
    const t = twoVms({ loss: 0.05 }, 7);
    t.a.stack.startFlow(t.a.ctx, { id: 'lossy', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 500, count: 1000 });
    endRun(t, 20 * S);
    expect(t.link.lost).toBeGreaterThan(0);
    const s = summary(t.lab, 'lossy');
    expect(s).toMatchObject({ sent: 1000, delivered: 1000, lost: 0, duplicated: 0, reordered: 0, closeReason: 'closed' });
    expect(s.retransmits).toBeGreaterThan(0);
  });

  it('recovers after the link is down for two seconds, backing off its retransmissions', () => {
    const retransmitted: number[] = [];
    let highestEnd = -1;
    let down = false;
    const t = twoVms({
      tap: (frame, from) => {
        const f = decodeFrame(frame);
        if (from === 'a' && f.tcp && f.tcp.payload.length > 0) {
          const end = f.tcp.seq + f.tcp.payload.length;
          if (end <= highestEnd && down) retransmitted.push(t.lab.now);
          highestEnd = Math.max(highestEnd, end);
        }
        return [frame];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'outage', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 100, count: 500 });
    t.lab.runUntil(1 * S);
    t.link.up = false;
    down = true;
    t.lab.runUntil(3 * S);
    down = false;
    t.link.up = true;
    endRun(t, 15 * S);
    // The oldest unacknowledged segment is sent again 200 ms after it left, then 400 and 800 ms later.
    expect(retransmitted[0]).toBe(1 * S + 200 * MS);
    expect(retransmitted.slice(1).map((at, i) => at - retransmitted[i]!)).toEqual([400 * MS, 800 * MS]);
    // Once acknowledgements flow again the backoff is forgotten.
    expect(t.a.stack.inspect().tcp[0]!.rtoNs).toBe(200 * MS);
    const s = summary(t.lab, 'outage');
    expect(s).toMatchObject({ sent: 500, delivered: 500, lost: 0, reordered: 0, closeReason: 'closed' });
    expect(s.retransmits).toBeGreaterThan(0);
  });

  it('resets the connection after its retries run out and the report says timeout', () => {
    const t = twoVms({}, 1, { tcp: { maxRetries: 3 } });
    t.a.stack.startFlow(t.a.ctx, { id: 'dead', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 100 });
    t.lab.runUntil(1 * S);
    t.link.up = false;
    endRun(t, 10 * S);
    const closed = t.lab.eventsOf('tcp.state', { vm: 'vm-a', state: 'CLOSED' });
    expect(closed.map((e) => e.payload['reason'])).toEqual(['timeout']);
    // 200 + 400 + 800 + 1600 ms of backoff after the last acknowledged send at about 1 s.
    expect(closed[0]!.time).toBeGreaterThan(3.9 * S);
    expect(closed[0]!.time).toBeLessThan(4.1 * S);
    expect(t.lab.eventsOf('flow.stop', { flow: 'dead' })[0]?.payload['reason']).toBe('timeout');
    expect(summary(t.lab, 'dead')).toMatchObject({ tcpState: 'CLOSED', closeReason: 'timeout' });
  });

  it('closes when a firewall rejects it with RST, and the report says reset', () => {
    let dataSegments = 0;
    const t = twoVms({
      tap: (frame, from, link) => {
        const f = decodeFrame(frame);
        if (from !== 'a' || !f.tcp || f.tcp.payload.length === 0) return [frame];
        if (++dataSegments <= 10) return [frame];
        // Reject as a distributed firewall does: drop the segment and answer RST in the peer's name.
        link.inject(
          'a',
          buildTcpFrame({
            ...answerAddresses(f),
            srcPort: f.tcp.dstPort,
            dstPort: f.tcp.srcPort,
            seq: f.tcp.ack,
            ack: (f.tcp.seq + f.tcp.payload.length) >>> 0,
            flags: { rst: true, ack: true },
            window: 0,
          }),
        );
        return [];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'blocked', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 100 });
    endRun(t, 2 * S);
    expect(t.lab.eventsOf('tcp.state', { vm: 'vm-a', state: 'CLOSED' }).map((e) => e.payload['reason'])).toEqual(['reset']);
    expect(t.lab.eventsOf('flow.stop', { flow: 'blocked' })[0]?.payload['reason']).toBe('reset');
    const s = summary(t.lab, 'blocked');
    expect(s).toMatchObject({ sent: 11, delivered: 10, lost: 1, tcpState: 'CLOSED', closeReason: 'reset' });
  });

  it('is refused with RST by a guest with no listener on the port', () => {
    const t = twoVms();
    t.a.stack.startFlow(t.a.ctx, { id: 'nobody', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, port: 6001 });
    endRun(t, 1 * S);
    expect(t.lab.eventsOf('tcp.state', { vm: 'vm-a' }).map((e) => [e.payload['state'], e.payload['reason']])).toEqual([
      ['SYN_SENT', null],
      ['CLOSED', 'refused'],
    ]);
    expect(t.b.stack.inspect().counters.drops).toEqual({ 'tcp-no-socket': 1 });
  });

  it('does not deliver duplicated segments twice', () => {
    const t = twoVms({ duplicate: 0.2 }, 3);
    t.a.stack.startFlow(t.a.ctx, { id: 'dups', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 500, count: 400 });
    endRun(t, 5 * S);
    expect(t.link.duplicated).toBeGreaterThan(0);
    expect(summary(t.lab, 'dups')).toMatchObject({ sent: 400, delivered: 400, lost: 0, duplicated: 0, reordered: 0 });
    const server = t.b.stack.inspect().tcp.find((c) => c.role === 'server')!;
    expect(server.counters.duplicateSegments).toBeGreaterThan(0);
    expect(server.counters.bytesDelivered).toBe(400 * 1000);
  });

  it('puts segments that overtake each other back in order', () => {
    const t = twoVms({ jitterNs: 3 * MS }, 5);
    t.a.stack.startFlow(t.a.ctx, { id: 'jitter', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 2000, count: 2000 });
    endRun(t, 5 * S);
    const server = t.b.stack.inspect().tcp.find((c) => c.role === 'server')!;
    expect(server.counters.outOfOrderSegments).toBeGreaterThan(0);
    expect(summary(t.lab, 'jitter')).toMatchObject({ sent: 2000, delivered: 2000, lost: 0, duplicated: 0, reordered: 0 });
  });

  it('closes with FIN when the flow is stopped, after everything written is delivered', () => {
    const t = twoVms({ loss: 0.02 }, 11);
    t.a.stack.startFlow(t.a.ctx, { id: 'stop-me', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 300 });
    t.lab.runUntil(1 * S);
    t.a.stack.stopFlow(t.a.ctx, 'stop-me');
    const fin = t.lab.eventsOf('tcp.state', { vm: 'vm-a', state: 'FIN_WAIT_1' });
    expect(fin.map((e) => e.time)).toEqual([1 * S]);
    endRun(t, 5 * S);
    const s = summary(t.lab, 'stop-me');
    expect(s.sent).toBe(301);
    expect(s).toMatchObject({ delivered: 301, lost: 0, closeReason: 'closed' });
  });
});

/** Two TcpConnections joined back to back on one GuestLab, 10 us apart; the server side accepts with `serverIsn`. */
function connectedPair(options: { serverIsn: number; lose?: (seg: TcpOutSegment) => boolean }): {
  lab: GuestLab;
  client: TcpConnection;
  contexts: [ReturnType<typeof labContext>, ReturnType<typeof labContext>];
  received: number[];
} {
  const lab = new GuestLab(1);
  const received: number[] = [];
  const conns: TcpConnection[] = [];
  const contexts: ReturnType<typeof labContext>[] = [];
  for (const index of [0, 1] as const) {
    const ctx = labContext(lab, `n${index}`, (_name, data) => {
      const d = data as { kind: 'rto' | 'time-wait'; token: number };
      conns[index]!.onTimer(ctx, d.kind, d.token);
    });
    contexts.push(ctx);
    conns.push(
      new TcpConnection(index, DEFAULT_TCP_SETTINGS, {
        transmit: (_ctx, seg: TcpOutSegment) => {
          if (options.lose?.(seg)) return;
          const peer = conns[1 - index]!;
          const peerCtx = contexts[1 - index]!;
          const segment: TcpInSegment = { ...seg, flags: { fin: false, syn: false, rst: false, psh: false, ack: false, urg: false, ece: false, cwr: false, ...seg.flags } };
          lab.schedule(lab.now + 10_000, () => {
            if (segment.flags.syn && !segment.flags.ack && peer.state === 'CLOSED') peer.accept(peerCtx, segment, options.serverIsn);
            else peer.receive(peerCtx, segment);
          });
        },
        setTimer: (c, delay, kind, token) => c.setTimer(delay, 'guest.tcp', { kind, token }),
        cancelTimer: (c, id) => c.cancelTimer(id),
        onStateChange: () => undefined,
        onData: (_c, bytes) => received.push(...bytes),
        onPeerClosed: () => undefined,
      }),
    );
  }
  return { lab, client: conns[0]!, contexts: [contexts[0]!, contexts[1]!], received };
}

describe('tcp sequence numbers', () => {
  it('compare modulo 2^32', () => {
    expect(seqLt(0xfffffff0, 5)).toBe(true);
    expect(seqDiff(5, 0xfffffff0)).toBe(21);
    expect(seqAdd(0xffffffff, 2)).toBe(1);
  });

  it('wrap around 2^32 in the middle of a transfer without losing a byte', () => {
    const { lab, client, contexts, received } = connectedPair({ serverIsn: 0xfffff000 });
    client.connect(contexts[0], 0xffffe000);
    const data = new Uint8Array(40_000).map((_, i) => (i * 7) & 0xff);
    client.write(contexts[0], data);
    lab.runUntil(1 * S);
    expect(client.state).toBe('ESTABLISHED');
    expect(client.view().sndUna).toBeLessThan(0x10000);
    expect(received).toEqual([...data]);
  });
});

describe('tcp send queue', () => {
  it('delivers many writes of every size intact when its ring wraps, grows and retransmits from older bytes', () => {
    let segments = 0;
    // Every 7th data segment is lost: the sender reads its queue again from older offsets.
    const { lab, client, contexts, received } = connectedPair({ serverIsn: 7, lose: (seg) => seg.payload.length > 0 && ++segments % 7 === 0 });
    client.connect(contexts[0], 1000);
    lab.runUntil(0.1 * S);
    const written: number[] = [];
    // Writes of 1 to ~3000 bytes, some while earlier ones are still unacknowledged, some after.
    for (let i = 0; i < 60; i++) {
      const size = 1 + ((i * 613) % 2999);
      const piece = new Uint8Array(size).map((_, j) => (i * 31 + j) & 0xff);
      if (client.write(contexts[0], piece)) written.push(...piece);
      lab.runUntil(lab.now + (i % 3 === 0 ? 50_000 : 1_000_000));
    }
    lab.runUntil(lab.now + 5 * S);
    expect(written.length).toBeGreaterThan(50_000);
    expect(received).toEqual(written);
  });
});

describe('tcp frames', () => {
  it('carry the guest TTL, an IPv4 id counting up and valid checksums', () => {
    const ttls = new Set<number>();
    const ids: number[] = [];
    const t = twoVms({
      tap: (frame, from) => {
        const decoded = tryDecodeFrame(frame);
        expect(decoded.ok).toBe(true);
        if (decoded.ok && decoded.frame.tcp) ttls.add(decoded.frame.ipv4!.ttl);
        if (decoded.ok && decoded.frame.ipv4 && from === 'a') ids.push(decoded.frame.ipv4.identification);
        return [frame];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'ttl', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, count: 3 });
    endRun(t, 1 * S);
    expect([...ttls]).toEqual([64]);
    expect(ids.length).toBeGreaterThan(4);
    expect(ids).toEqual(ids.map((_, i) => ids[0]! + i));
  });
});
