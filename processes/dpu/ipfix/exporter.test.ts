import { describe, expect, test } from 'vitest';
import { decodeFrame } from '../../../shared/net/frame.js';
import { decodeIpfixMessage, FIREWALL_EVENT } from '../../../shared/net/ipfix.js';
import { loadDefaultLab } from '../../../shared/topology/load.js';
import { TestContext } from '../../runtime/testing.js';
import { IpfixOptionError } from './errors.js';
import { FLOW_TEMPLATES, flowToIpfixRecord, ipfixEndpoints, IpfixExporter, IPV4_FLOW_TEMPLATE_ID, IPV6_FLOW_TEMPLATE_ID } from './exporter.js';
import type { FlowRecord } from './flow-cache.js';
import { tcpKey, udp6Key, VF_TO_UPLINK } from './testing.js';

const FROM = { mac: '02:00:00:00:00:02', ip: '169.254.0.2' };
const TO = { mac: '02:00:00:00:00:01', ip: '169.254.0.1' };

function flow(srcPort: number, family: 4 | 6 = 4): FlowRecord {
  const key = family === 4 ? tcpKey(srcPort) : udp6Key(srcPort);
  return { ...key, ...VF_TO_UPLINK, family, octets: 1000 * srcPort, packets: srcPort, startNs: 1_000_000_000, endNs: 2_500_000_001, endReason: 'idle-timeout', verdict: 'forwarded' };
}

describe('IpfixExporter', () => {
  test('sends a UDP/IPv4 frame to the collector at 169.254.0.1:4739 holding the records', () => {
    const exporter = new IpfixExporter({ domainId: 7, from: FROM, to: TO });
    const [out] = exporter.build(3_700_000_000, [flow(1), flow(2, 6)]);
    const frame = decodeFrame(out!.frame);
    expect(frame.ethernet.dst).toBe(TO.mac);
    expect(frame.ipv4).toMatchObject({ src: '169.254.0.2', dst: '169.254.0.1' });
    expect(frame.udp).toMatchObject({ srcPort: 4739, dstPort: 4739 });
    const message = decodeIpfixMessage(frame.udp!.payload);
    expect(message).toMatchObject({ exportTimeSec: 3, sequence: 0, domainId: 7, templates: FLOW_TEMPLATES });
    expect(message.records).toEqual([
      {
        templateId: IPV4_FLOW_TEMPLATE_ID,
        values: {
          sourceIPv4Address: '10.0.1.11',
          destinationIPv4Address: '10.0.2.12',
          protocolIdentifier: 6,
          sourceTransportPort: 1,
          destinationTransportPort: 443,
          ingressInterface: 1,
          egressInterface: 3,
          octetDeltaCount: 1000,
          packetDeltaCount: 1,
          flowStartNanoseconds: 1_000_000_000,
          flowEndNanoseconds: 2_500_000_001,
          flowEndReason: 1,
          firewallEvent: 2,
        },
      },
      {
        templateId: IPV6_FLOW_TEMPLATE_ID,
        values: expect.objectContaining({ sourceIPv6Address: 'fd00:1::11', destinationIPv6Address: 'fd00:2::12', protocolIdentifier: 17, sourceTransportPort: 2 }),
      },
    ]);
  });

  test('flowToIpfixRecord marks a denied flow flowDenied, a flow cut by the active timeout flowUpdate, any other flowDeleted', () => {
    const events = [
      { ...flow(1), verdict: 'denied' as const },
      { ...flow(2), endReason: 'active-timeout' as const },
      { ...flow(3), endReason: 'forced-end' as const },
    ].map((f) => flowToIpfixRecord(f).values.firewallEvent);
    expect(events).toEqual([FIREWALL_EVENT.flowDenied, FIREWALL_EVENT.flowUpdate, FIREWALL_EVENT.flowDeleted]);
  });

  test('numbers messages by data records sent before them, and repeats templates every N messages', () => {
    const exporter = new IpfixExporter({ domainId: 1, from: FROM, to: TO, templateRefreshMessages: 3 });
    const seen: Array<[number, number, boolean]> = [];
    for (let i = 0; i < 7; i++) {
      for (const e of exporter.build(i * 1e9, [flow(1), flow(2)].slice(0, 1 + (i % 2)))) seen.push([e.sequence, e.records, e.templates]);
    }
    expect(seen).toEqual([
      [0, 1, true],
      [1, 2, false],
      [3, 1, false],
      [4, 2, true],
      [6, 1, false],
      [7, 2, false],
      [9, 1, true],
    ]);
    expect(exporter.records).toBe(10);
  });

  test('splits many records into messages no longer than the limit, each decodable on its own after the first', () => {
    const exporter = new IpfixExporter({ domainId: 1, from: FROM, to: TO, maxMessageBytes: 600 });
    const flows = [...Array.from({ length: 15 }, (_, i) => flow(i + 1)), ...Array.from({ length: 5 }, (_, i) => flow(i + 100, 6))];
    const exports = exporter.build(0, flows);
    expect(exports.length).toBeGreaterThan(2);
    let templates = decodeIpfixMessage(exports[0]!.message).templates;
    const ports: number[] = [];
    for (const e of exports) {
      expect(e.message.length).toBeLessThanOrEqual(600);
      const decoded = decodeIpfixMessage(e.message, templates);
      templates = [...templates, ...decoded.templates];
      expect(decoded.records.length).toBe(e.records);
      expect(decoded.sequence).toBe(e.sequence);
      ports.push(...decoded.records.map((r) => r.values.sourceTransportPort as number));
    }
    expect(ports).toEqual(flows.map((f) => f.srcPort));
  });

  test('sends nothing when there is nothing to export', () => {
    const ctx = new TestContext('dpu-test');
    expect(new IpfixExporter({ domainId: 1, from: FROM, to: TO }).export(ctx, [], 'pcie')).toEqual([]);
    expect(ctx.sent).toEqual([]);
    expect(ctx.events).toEqual([]);
  });

  test('sends on the management channel of the given port and records ipfix.export', () => {
    const ctx = new TestContext('dpu-test');
    ctx.time = 5e9;
    const exporter = new IpfixExporter({ domainId: 1, from: FROM, to: TO });
    const [out] = exporter.export(ctx, [flow(1), flow(2)], 'pcie');
    expect(ctx.sent.map((s) => [s.port, s.channel, s.bytes])).toEqual([['pcie', 'mgmt', out!.frame]]);
    expect(ctx.events).toEqual([{ node: 'dpu-test', time: 5e9, kind: 'ipfix.export', payload: { sequence: 0, records: 2, templates: true, bytes: out!.message.length } }]);
  });

  test('refuses a message size too small for the templates and one record', () => {
    expect(() => new IpfixExporter({ domainId: 1, from: FROM, to: TO, maxMessageBytes: 200 })).toThrow(IpfixOptionError);
    expect(() => new IpfixExporter({ domainId: 1, from: FROM, to: TO, templateRefreshMessages: 0 })).toThrow(/Template refresh/);
  });
});

describe('ipfixEndpoints', () => {
  test('pairs the DPU pcie port and 169.254.0.2 with the host port for that DPU and 169.254.0.1', () => {
    const lab = loadDefaultLab();
    const dpu = lab.nodes.find((n) => n.id === 'dpu-01b')!;
    const host = lab.nodes.find((n) => n.id === 'esx-01')!;
    expect(ipfixEndpoints(lab, 'dpu-01b')).toEqual({
      from: { mac: dpu.ports.find((p) => p.name === 'pcie')!.mac, ip: '169.254.0.2' },
      to: { mac: host.ports.find((p) => p.name === 'dpu-01b')!.mac, ip: '169.254.0.1' },
    });
    expect(ipfixEndpoints(lab, 'tor-a')).toBeNull();
  });
});
