import { describe, expect, it } from 'vitest';
import { buildIcmpUnreachableFrame } from '../../../shared/net/builders.js';
import { decodeFrame } from '../../../shared/net/frame.js';
import { ICMP_UNREACHABLE_ADMIN_PROHIBITED } from '../../../shared/net/icmp.js';
import { RandomStream } from '../../../shared/random.js';
import { combineReports } from './checker.js';
import type { FlowReport } from './checker.js';
import { answerAddresses, twoVms, TWO_VMS } from './testing.js';
import type { TwoVms } from './testing.js';

const S = 1_000_000_000;
const MS = 1_000_000;

function summary(t: TwoVms, flow: string) {
  return combineReports(t.lab.lastReport(flow, 'sender') as unknown as FlowReport, t.lab.lastReport(flow, 'receiver') as unknown as FlowReport | null);
}

function endRun(t: TwoVms, at: number): void {
  t.lab.runUntil(at);
  t.a.host.end();
  t.b.host.end();
}

describe('udp flow', () => {
  it('reports every datagram the network lost, and nothing else', () => {
    const random = new RandomStream(9, 'udp-loss');
    let droppedByNetwork = 0;
    const t = twoVms({
      tap: (frame) => {
        if (decodeFrame(frame).udp && random.chance(0.1)) {
          droppedByNetwork++;
          return [];
        }
        return [frame];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'lossy', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 500, count: 2000 });
    endRun(t, 5 * S);
    const s = summary(t, 'lossy');
    expect(s.lost).toBe(droppedByNetwork);
    expect(s.lost).toBeGreaterThan(140);
    expect(s.lost).toBeLessThan(260);
    expect(s).toMatchObject({ sent: 2000, delivered: 2000 - droppedByNetwork, duplicated: 0, reordered: 0 });
  });

  it('counts duplicated datagrams without counting them delivered twice', () => {
    const t = twoVms({ duplicate: 0.1 }, 4);
    t.a.stack.startFlow(t.a.ctx, { id: 'dups', kind: 'udp', from: 'vm-a', to: TWO_VMS.b6, ratePps: 500, count: 1000 });
    endRun(t, 3 * S);
    const s = summary(t, 'dups');
    expect(t.link.duplicated).toBeGreaterThan(50);
    // Only datagrams were duplicated on their way to vm-b (ND and ARP copies are harmless).
    expect(s.duplicated).toBeGreaterThan(50);
    expect(s).toMatchObject({ sent: 1000, delivered: 1000, lost: 0 });
  });

  it('counts datagrams that arrive after a later one as reordered', () => {
    const t = twoVms({ jitterNs: 5 * MS }, 6);
    t.a.stack.startFlow(t.a.ctx, { id: 'jitter', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 1000, count: 1000 });
    endRun(t, 3 * S);
    const s = summary(t, 'jitter');
    expect(s.reordered).toBeGreaterThan(100);
    expect(s).toMatchObject({ sent: 1000, delivered: 1000, lost: 0, duplicated: 0 });
  });

  it('counts ICMP unreachable answers from a firewall reject', () => {
    const t = twoVms({
      tap: (frame, from, link) => {
        const f = decodeFrame(frame);
        if (from !== 'a' || !f.udp) return [frame];
        link.inject(
          'a',
          buildIcmpUnreachableFrame({
            ...answerAddresses(f),
            code: ICMP_UNREACHABLE_ADMIN_PROHIBITED,
            original: frame.subarray(14, 14 + f.ipv4!.totalLength),
          }),
        );
        return [];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'blocked', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 100, count: 30 });
    endRun(t, 1 * S);
    expect(summary(t, 'blocked')).toMatchObject({ sent: 30, delivered: 0, lost: 30, unreachable: 30 });
    expect(t.lab.lastReport('blocked', 'receiver')).toBeNull();
  });

  it('gets port unreachable from a guest with no socket on the port, over IPv4 and IPv6', () => {
    const t = twoVms();
    t.a.stack.startFlow(t.a.ctx, { id: 'closed4', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, port: 6000, count: 5 });
    t.a.stack.startFlow(t.a.ctx, { id: 'closed6', kind: 'udp', from: 'vm-a', to: TWO_VMS.b6, port: 6000, count: 7 });
    endRun(t, 1 * S);
    expect(t.lab.lastReport('closed4', 'sender')).toMatchObject({ sent: 5, unreachable: 5 });
    expect(t.lab.lastReport('closed6', 'sender')).toMatchObject({ sent: 7, unreachable: 7 });
    expect(t.b.stack.inspect().counters.drops['udp-no-socket']).toBe(12);
  });
});

describe('ping flow', () => {
  it('counts lost replies and measures round trips of the others', () => {
    const random = new RandomStream(3, 'ping-loss');
    const t = twoVms({
      latencyNs: 30_000,
      tap: (frame) => (decodeFrame(frame).icmp?.kind === 'echo-reply' && random.chance(0.2) ? [] : [frame]),
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'p', kind: 'ping', from: 'vm-a', to: TWO_VMS.b4, ratePps: 50, count: 100 });
    endRun(t, 3 * S);
    const report = t.lab.lastReport('p', 'sender')!;
    expect(report['lost']).toBe(100 - (report['delivered'] as number));
    expect(report['lost']).toBeGreaterThan(5);
    expect(report['rttNs']).toMatchObject({ min: 60_000 });
  });

  it('counts a duplicated reply once as delivered and once as duplicated', () => {
    const t = twoVms({ tap: (frame) => (decodeFrame(frame).icmp?.kind === 'echo-reply' ? [frame, frame] : [frame]) });
    t.a.stack.startFlow(t.a.ctx, { id: 'p', kind: 'ping', from: 'vm-a', to: TWO_VMS.b4, count: 4 });
    endRun(t, 1 * S);
    expect(t.lab.lastReport('p', 'sender')).toMatchObject({ sent: 4, delivered: 4, duplicated: 4, lost: 0 });
  });
});
