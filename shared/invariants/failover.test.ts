import { describe, expect, it } from 'vitest';
import { failoverJustified } from './failover.js';
import { LogBuilder, msNs, violationsOf } from './testing.js';

function failed(log: LogBuilder, host: string, dpu: string, reason: string, to: string) {
  return log.emit(host, 'dpu.failed', { dpu, reason, detectNs: 0, to });
}

describe('failover-justified', () => {
  it('failover-justified passes a crash, a loss of both uplinks and a request, each detected in time', () => {
    const log = new LogBuilder().boot();
    log.at(1200).kill('dpu-02a');
    log.at(1501);
    failed(log, 'esx-02', 'dpu-02a', 'crash', 'dpu-02b');
    log.emit('esx-02', 'dpu.role', { dpu: 'dpu-02b', role: 'active', reason: 'crash' });
    log.at(2000).emit('dpu-01a', 'link.state', { port: 'p0', wire: 'up-01a-a', up: false });
    log.emit('dpu-01a', 'link.state', { port: 'p1', wire: 'up-01a-b', up: false });
    log.at(2000.01);
    failed(log, 'esx-01', 'dpu-01a', 'linkDown', 'dpu-01b');
    log.at(3000).input('dpu.failover', { host: 'esx-01' });
    failed(log, 'esx-01', 'dpu-01b', 'userInitiated', 'dpu-01a');
    expect(violationsOf(failoverJustified, log.events, msNs(4000))).toEqual([]);
  });

  it('failover-justified fails on a crash failover of a DPU that is alive and reachable', () => {
    const log = new LogBuilder().boot();
    const e = failed(log.at(1500), 'esx-02', 'dpu-02a', 'crash', 'dpu-02b');
    const found = violationsOf(failoverJustified, log.events, msNs(4000));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.seq).toBe(e.seq);
    expect(found[0]!.message).toContain('esx-02 failed over from dpu-02a (crash) without cause: dpu-02a is alive');
  });

  it('failover-justified accepts a crash called when the pcie wire was down or lossy', () => {
    const log = new LogBuilder().boot();
    log.at(1000).input('impair', { wire: 'pcie-dpu-02a', loss: 1, duration: msNs(500) });
    failed(log.at(1350), 'esx-02', 'dpu-02a', 'crash', 'dpu-02b');
    expect(violationsOf(failoverJustified, log.events, msNs(4000))).toEqual([]);
  });

  it('failover-justified fails when a crash is detected later than (misses + 1) heartbeat intervals', () => {
    const log = new LogBuilder().boot();
    log.at(1200).kill('dpu-02a');
    failed(log.at(1700), 'esx-02', 'dpu-02a', 'crash', 'dpu-02b');
    const found = violationsOf(failoverJustified, log.events, msNs(4000));
    expect(found.map((v) => v.message)).toEqual([expect.stringContaining("did not react to its active DPU dpu-02a's crash within 400 ms")]);
    // A host without a standby owes no failover, but one it makes must still be in time.
    const alone = { ...log.topology, nodes: log.topology.nodes.map((n) => (n.id === 'esx-02' && n.kind === 'host' ? { ...n, spec: { ...n.spec, failover: { ...n.spec.failover, standby: [] } } } : n)) };
    expect(violationsOf(failoverJustified, log.events, msNs(4000), alone).map((v) => v.message)).toEqual([expect.stringContaining('detected too late (it died 500 ms before')]);
  });

  it('failover-justified fails when the active DPU dies and its host never decides; a dead standby owes nothing', () => {
    const log = new LogBuilder().boot();
    log.at(1000).kill('dpu-01b');
    const exit = log.at(1200).kill('dpu-02a');
    const found = violationsOf(failoverJustified, log.events, msNs(4000));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.seq).toBe(exit.seq);
    expect(found[0]!.message).toContain("esx-02 did not react to its active DPU dpu-02a's crash within 400 ms");
  });

  it('failover-justified fails on a linkDown failover while an uplink is up, and on a request nobody made', () => {
    const log = new LogBuilder().boot();
    log.at(2000).emit('dpu-01a', 'link.state', { port: 'p0', wire: 'up-01a-a', up: false });
    failed(log, 'esx-01', 'dpu-01a', 'linkDown', 'dpu-01b');
    failed(log.at(3000), 'esx-02', 'dpu-02a', 'userInitiated', 'dpu-02b');
    const found = violationsOf(failoverJustified, log.events, msNs(4000));
    expect(found.map((v) => v.message)).toEqual([
      expect.stringContaining('dpu-01a has an uplink up'),
      expect.stringContaining('no dpu.failover request for esx-02'),
    ]);
  });
});
