import { describe, expect, it } from 'vitest';
import { flowNoExcess, trafficRecovers } from './flows.js';
import { LogBuilder, msNs, violationsOf } from './testing.js';

function report(log: LogBuilder, node: string, flow: string, kind: string, side: 'sender' | 'receiver', counts: { sent?: number; delivered?: number; highestSeq?: number }) {
  return log.emit(node, 'flow.report', { flow, kind, side, sent: counts.sent ?? null, delivered: counts.delivered ?? null, highestSeq: counts.highestSeq ?? null, final: false });
}

describe('flow-no-excess', () => {
  it('flow-no-excess passes a TCP flow whose receiver trails its sender', () => {
    const log = new LogBuilder().boot();
    log.at(100).input('flow.start', { flow: { id: 't1', kind: 'tcp', from: 'web-01', to: 'web-02' } });
    log.at(1000);
    report(log, 'esx-01', 't1', 'tcp', 'sender', { sent: 100 });
    report(log, 'esx-02', 't1', 'tcp', 'receiver', { delivered: 98, highestSeq: 97 });
    log.at(4000);
    report(log, 'esx-01', 't1', 'tcp', 'sender', { sent: 440 });
    report(log, 'esx-02', 't1', 'tcp', 'receiver', { delivered: 440, highestSeq: 439 });
    expect(violationsOf(flowNoExcess, log.events, msNs(4000))).toEqual([]);
  });

  it('flow-no-excess fails when a flow delivers 640 of 440 sent (two clients after a split brain)', () => {
    const log = new LogBuilder().boot();
    log.at(100).input('flow.start', { flow: { id: 't1', kind: 'tcp', from: 'web-01', to: 'web-02' } });
    log.at(4000);
    report(log, 'esx-02', 't1', 'tcp', 'sender', { sent: 440 });
    const r = report(log, 'esx-02', 't1', 'tcp', 'receiver', { delivered: 640, highestSeq: 439 });
    const found = violationsOf(flowNoExcess, log.events, msNs(4000));
    expect(found).toHaveLength(1);
    expect(found[0]!.event.seq).toBe(r.seq);
    expect(found[0]!.message).toContain('Flow t1 delivers 640 distinct messages of 440 sent');
  });

  it('flow-no-excess fails on a sequence number never sent, and on a ping with more replies than requests', () => {
    const log = new LogBuilder().boot();
    log.at(1000);
    report(log, 'esx-01', 'u1', 'udp', 'sender', { sent: 50 });
    report(log, 'esx-01', 'u1', 'udp', 'receiver', { delivered: 10, highestSeq: 50 });
    report(log, 'esx-01', 'p1', 'ping', 'sender', { sent: 5, delivered: 6 });
    const found = violationsOf(flowNoExcess, log.events, msNs(1000));
    expect(found.map((v) => v.message)).toEqual(['ping p1 counts 6 replies to 5 requests', expect.stringContaining('received sequence number 50 but only 50 were sent')]);
  });
});

/** A ping from web-01 to web-02 from 100 ms; dpu-02a dies at 1.2 s and comes back at 2 s (last fault). */
function pingThroughFailover(repliesAfterFault: boolean, before?: (log: LogBuilder) => void): LogBuilder {
  const log = new LogBuilder().boot();
  log.at(100).input('flow.start', { flow: { id: 'p1', kind: 'ping', from: 'web-01', to: 'web-02', ratePps: 10 } });
  report(log.at(1000), 'esx-01', 'p1', 'ping', 'sender', { sent: 9, delivered: 9 });
  before?.(log.at(1100));
  log.at(1200).kill('dpu-02a');
  log.at(1500).emit('esx-02', 'dpu.failed', { dpu: 'dpu-02a', reason: 'crash', to: 'dpu-02b' });
  log.emit('esx-02', 'dpu.role', { dpu: 'dpu-02b', role: 'active', reason: 'crash' });
  log.at(2000).input('restart', { node: 'dpu-02a' });
  log.start('dpu-02a', 1);
  report(log.at(2000), 'esx-01', 'p1', 'ping', 'sender', { sent: 19, delivered: 14 });
  report(log.at(3000), 'esx-01', 'p1', 'ping', 'sender', { sent: 29, delivered: repliesAfterFault ? 24 : 14 });
  report(log.at(4000), 'esx-01', 'p1', 'ping', 'sender', { sent: 39, delivered: repliesAfterFault ? 34 : 14 });
  // The controller's planned exits at the end of the run are no deaths: the hosts stay healthy.
  return log.end(4000);
}

describe('traffic-recovers', () => {
  it('traffic-recovers passes a ping that flows again after a failover', () => {
    expect(violationsOf(trafficRecovers, pingThroughFailover(true).events, msNs(4000))).toEqual([]);
  });

  it('traffic-recovers fails when the ping between two healthy hosts stays black-holed', () => {
    const log = pingThroughFailover(false);
    const found = violationsOf(trafficRecovers, log.events, msNs(4000));
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toBe('ping flow p1 from web-01 (esx-01) to web-02 (esx-02) delivered nothing from 3 s to 4 s although both hosts are healthy (last fault input.restart at 2 s (seq 24), settle 1 s; 14 delivered in all)'.replace('seq 24', `seq ${log.events.find((e) => e.kind === 'input.restart')!.seq}`));
    expect(found[0]!.event.kind).toBe('flow.report');
  });

  it('traffic-recovers does not judge a run too short after its last fault, nor a host left without a DPU', () => {
    const log = pingThroughFailover(false);
    expect(violationsOf(trafficRecovers, log.events, msNs(3500))).toEqual([]);
    const dead = pingThroughFailover(false, (l) => l.kill('dpu-02b'));
    expect(violationsOf(trafficRecovers, dead.events, msNs(4000))).toEqual([]);
    const unreachable = pingThroughFailover(false, (l) => l.input('link', { wire: 'pcie-dpu-02b', state: 'down' }));
    expect(violationsOf(trafficRecovers, unreachable.events, msNs(4000))).toEqual([]);
  });

  it('traffic-recovers does not judge a flow a firewall rule denies', () => {
    const log = pingThroughFailover(false);
    log.at(2500).emit('dpu-01a', 'dfw.rule.hit', { vnic: 'web-01.eth0', rule: 'no-ping', action: 'drop', src: '10.0.1.11', dst: '10.0.1.12' });
    expect(violationsOf(trafficRecovers, log.events, msNs(4000))).toEqual([]);
  });

  it('traffic-recovers does not judge a flow between switches cut apart', () => {
    // esx-01's DPU reaches only tor-b, esx-02's only tor-a, and the inter-switch link is down.
    const log = pingThroughFailover(false, (l) => {
      for (const wire of ['up-01a-a', 'up-02b-b', 'isl-ab']) l.input('link', { wire, state: 'down' });
    });
    expect(violationsOf(trafficRecovers, log.events, msNs(4000))).toEqual([]);
    // With the inter-switch link up they are joined again: the flow is judged.
    const joined = pingThroughFailover(false, (l) => {
      for (const wire of ['up-01a-a', 'up-02b-b']) l.input('link', { wire, state: 'down' });
    });
    expect(violationsOf(trafficRecovers, joined.events, msNs(4000)).map((v) => v.invariant)).toEqual(['traffic-recovers']);
  });
});
