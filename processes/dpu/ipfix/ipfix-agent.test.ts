import { describe, expect, test } from 'vitest';
import { decodeFrame } from '../../../shared/net/frame.js';
import { decodeIpfixMessage } from '../../../shared/net/ipfix.js';
import { TestContext } from '../../runtime/testing.js';
import { FLOW_TEMPLATES, IpfixExporter } from './exporter.js';
import { FlowCache } from './flow-cache.js';
import { IPFIX_EXPIRE_TIMER, IpfixAgent } from './ipfix-agent.js';
import { tcpKey, VF_TO_UPLINK } from './testing.js';

const S = 1_000_000_000;

function agent(): { ctx: TestContext; agent: IpfixAgent } {
  const exporter = new IpfixExporter({ domainId: 3, from: { mac: '02:00:00:00:00:02', ip: '169.254.0.2' }, to: { mac: '02:00:00:00:00:01', ip: '169.254.0.1' } });
  return { ctx: new TestContext('dpu-test'), agent: new IpfixAgent(new FlowCache(), exporter, 'pcie') };
}

function exportedRecords(ctx: TestContext): Array<Record<string, unknown>> {
  return ctx.sent.flatMap((s) => decodeIpfixMessage(decodeFrame(s.bytes).udp!.payload, FLOW_TEMPLATES).records.map((r) => r.values));
}

describe('IpfixAgent', () => {
  test('exports a flow when it goes idle, with no timer left while nothing is open', () => {
    const { ctx, agent: a } = agent();
    ctx.time = S;
    a.observe(ctx, tcpKey(), 1500, VF_TO_UPLINK);
    ctx.time = S + 1000;
    a.observe(ctx, tcpKey(), 1500, VF_TO_UPLINK);
    expect(ctx.timers.map((t) => [t.name, t.at])).toEqual([[IPFIX_EXPIRE_TIMER, 3 * S]]);
    ctx.advance(10 * S, (name) => a.onTimer(ctx, name));
    expect(exportedRecords(ctx)).toEqual([expect.objectContaining({ packetDeltaCount: 2, octetDeltaCount: 3000, flowStartNanoseconds: S, flowEndNanoseconds: S + 1000, flowEndReason: 1 })]);
    expect(ctx.events.map((e) => e.kind)).toEqual(['ipfix.export']);
    expect(ctx.timers).toEqual([]);
  });

  test('reports a steady flow every active timeout and the rest at the end of the run', () => {
    const { ctx, agent: a } = agent();
    for (let t = 0; t < 25 * S; t += S / 10) {
      ctx.advance(t, (name) => a.onTimer(ctx, name));
      a.observe(ctx, tcpKey(), 100, VF_TO_UPLINK);
    }
    a.finish(ctx);
    const reasons = exportedRecords(ctx).map((r) => [r.flowEndReason, r.packetDeltaCount]);
    expect(reasons).toEqual([
      [2, 100],
      [2, 100],
      [4, 50],
    ]);
    expect(ctx.events.map((e) => e.payload.sequence)).toEqual([0, 1, 2]);
  });

  test('leaves timers that are not its own to the owner', () => {
    const { ctx, agent: a } = agent();
    expect(a.onTimer(ctx, 'lldp.tx')).toBe(false);
    expect(ctx.sent).toEqual([]);
  });
});
