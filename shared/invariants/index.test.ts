import { describe, expect, it } from 'vitest';
import { INVARIANTS, INVARIANT_IDS, InvariantSuite, checkInvariants, invariantById } from './index.js';
import { LAB, LogBuilder, msNs } from './testing.js';

describe('invariant list', () => {
  it('invariant list gives each invariant a unique kebab-case id and a one-line meaning', () => {
    expect(new Set(INVARIANT_IDS).size).toBe(INVARIANTS.length);
    for (const inv of INVARIANTS) {
      expect(inv.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(inv.meaning.length).toBeGreaterThan(20);
      expect(inv.meaning).not.toContain('\n');
      expect(invariantById(inv.id)).toBe(inv);
    }
  });

  it('invariant suite names the first event that broke each invariant, in invariant order', () => {
    const log = new LogBuilder().boot();
    log.at(1).emit('dpu-01a', 'node.error', { message: 'first', while: 'frame' });
    const ring = log.at(2).emit('esx-01', 'vnic.checker.violation', { vnic: 'web-01.eth0', change: 'mode', problems: ['x'] });
    log.at(3).emit('dpu-01a', 'node.error', { message: 'second', while: 'timer' });
    const suite = new InvariantSuite({ topology: LAB });
    const seen = log.events.flatMap((e) => suite.observe(e));
    expect(seen.map((v) => v.invariant)).toEqual(['no-core-error', 'ring-view', 'no-core-error']);
    const report = suite.finish(msNs(4));
    expect(report.events).toBe(log.events.length);
    expect(report.firstByInvariant.map((v) => [v.invariant, v.event.seq])).toEqual([
      ['ring-view', ring.seq],
      ['no-core-error', ring.seq - 1],
    ]);
    expect(() => suite.observe(log.events[0]!)).toThrow('after the run was judged');
    expect(checkInvariants(new LogBuilder().boot().events, { topology: LAB }, msNs(4)).violations).toEqual([]);
  });
});
