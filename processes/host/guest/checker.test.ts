import { describe, expect, it } from 'vitest';
import { combineReports, SequenceChecker, UNCOUNTED } from './checker.js';
import type { FlowReport } from './checker.js';

describe('SequenceChecker', () => {
  it('counts distinct, duplicated and reordered arrivals', () => {
    const c = new SequenceChecker();
    for (const seq of [0, 1, 3, 2, 2, 5, 4, 0, 6]) c.record(seq);
    expect({ delivered: c.delivered, duplicated: c.duplicated, reordered: c.reordered, highest: c.highest }).toEqual({
      delivered: 7,
      duplicated: 2,
      reordered: 2,
      highest: 6,
    });
  });

  it('remembers old sequence numbers on long runs', () => {
    const c = new SequenceChecker();
    for (let i = 0; i < 100_000; i++) c.record(i);
    expect(c.record(5)).toBe('duplicate');
    expect(c.record(100_001)).toBe('new');
    expect(c.has(100_000)).toBe(false);
  });
});

function report(fields: Partial<FlowReport>): FlowReport {
  return {
    flow: 'f',
    kind: 'udp',
    side: 'sender',
    vm: 'vm-a',
    from: 'vm-a',
    to: '10.0.1.12',
    port: 5202,
    ...UNCOUNTED,
    final: true,
    ...fields,
  };
}

describe('combineReports', () => {
  it('computes lost from the sender count and the receiver deliveries', () => {
    const summary = combineReports(report({ sent: 100, unreachable: 0 }), report({ side: 'receiver', delivered: 93, duplicated: 4, reordered: 2 }));
    expect(summary).toMatchObject({ sent: 100, delivered: 93, lost: 7, duplicated: 4, reordered: 2 });
  });

  it('counts everything lost when the receiver never reported', () => {
    expect(combineReports(report({ kind: 'tcp', sent: 12, retransmits: 9, tcpState: 'CLOSED', closeReason: 'timeout' }), null)).toMatchObject({
      delivered: 0,
      lost: 12,
      retransmits: 9,
      closeReason: 'timeout',
    });
  });

  it('takes a ping report as complete on its own', () => {
    expect(combineReports(report({ kind: 'ping', sent: 10, delivered: 9, duplicated: 1, rttNs: { min: 1, avg: 2, max: 3 } }), null)).toMatchObject({
      delivered: 9,
      lost: 1,
      duplicated: 1,
      rttNs: { min: 1, avg: 2, max: 3 },
    });
  });
});
