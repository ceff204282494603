import { describe, expect, it } from 'vitest';
import { decode } from '../shared/codec.js';
import type { NodeEvent } from '../shared/events.js';
import { buildLldpFrame } from '../shared/net/lldp.js';
import { buildUdpIpv4Frame } from '../shared/net/builders.js';
import { loadDefaultLab } from '../shared/topology/load.js';
import { createCore } from './cores.js';
import { NodeRuntime } from './runtime/node-runtime.js';
import type { Channel, QueuedMessage } from './runtime/types.js';

const lab = loadDefaultLab();

function booted(id: string): NodeRuntime {
  const node = lab.nodes.find((n) => n.id === id)!;
  const rt = new NodeRuntime({ topology: lab, nodeId: id, seed: 1, incarnation: 0, nodeSeqBase: 0, core: createCore(node, lab) });
  rt.deliver({ type: 'input', arrival: 0, src: 'controller', srcSeq: 0, cause: null, input: { type: 'boot' } });
  rt.runWindow(1);
  return rt;
}

let seq = 0;
function frame(at: number, port: string, bytes: Uint8Array, channel: Channel = 'eth'): QueuedMessage {
  return { type: 'frame', arrival: at, src: 'peer', srcSeq: seq++, cause: null, port, channel, bytes };
}

function kinds(events: NodeEvent[], kind: string): Array<Record<string, unknown>> {
  return events.filter((e) => e.kind === kind).map((e) => decode(e.payload) as Record<string, unknown>);
}

const lldp = buildLldpFrame({
  srcMac: '02:00:00:00:00:01',
  chassisMac: '02:00:00:00:00:01',
  portId: 'x1',
  ttlSec: 120,
  systemName: 'stranger',
  systemDescription: 'a neighbour',
  portDescription: 'x1',
  capabilities: ['bridge'],
});

/** A valid UDP frame with one byte of its IPv4 header changed: the header checksum no longer holds. */
function badChecksum(): Uint8Array {
  const bytes = buildUdpIpv4Frame({ srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.9.9.1', dstIp: '10.9.9.2', srcPort: 1, dstPort: 2, payload: new Uint8Array(8) }).slice();
  bytes[14 + 8] = bytes[14 + 8]! ^ 0x01; // the TTL
  return bytes;
}

describe('node cores with malformed input on a wire', () => {
  it('a switch drops garbage and truncated frames, counts them by reason, and keeps learning', () => {
    const rt = booted('tor-a');
    rt.deliver(frame(10, 'swp1', new Uint8Array([1, 2, 3])));
    rt.deliver(frame(11, 'swp1', lldp.subarray(0, 30)));
    rt.deliver(frame(12, 'swp2', lldp));
    const { events } = rt.runWindow(100);
    expect(kinds(events, 'frame.malformed').map((m) => [m.port, m.code])).toEqual([
      ['swp1', 'truncated'],
      ['swp1', 'truncated'],
    ]);
    expect(kinds(events, 'lldp.neighbor')).toEqual([expect.objectContaining({ port: 'swp2', systemName: 'stranger' })]);
  });

  it('a DPU drops a bad checksum and an unknown EtherType on its uplink without failing', () => {
    const rt = booted('dpu-01a');
    const unknownType = lldp.slice();
    unknownType[12] = 0x12;
    unknownType[13] = 0x34;
    rt.deliver(frame(10, 'p0', badChecksum()));
    rt.deliver(frame(11, 'p0', unknownType));
    rt.deliver(frame(12, 'p0', lldp));
    const { events } = rt.runWindow(100);
    expect(kinds(events, 'node.error')).toEqual([]);
    expect(kinds(events, 'lldp.neighbor')).toEqual([expect.objectContaining({ port: 'p0', systemName: 'stranger' })]);
    const inspected = rt.inspect() as { core: { datapath: { switch: { counters: { uplinks: Record<string, { drops: Record<string, number> }> } } } } };
    const drops = inspected.core.datapath.switch.counters.uplinks.p0!.drops;
    expect(Object.values(drops).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('a host drops garbage on its management and DMA channels, counts it, and keeps its heartbeats', () => {
    const rt = booted('esx-01');
    rt.deliver(frame(10, 'dpu-01a', new Uint8Array([0xde, 0xad]), 'mgmt'));
    rt.deliver(frame(11, 'dpu-01a', new Uint8Array([0xc1, 0xff, 0x00]), 'dma'));
    const { events } = rt.runWindow(200_000_000);
    expect(kinds(events, 'frame.malformed').map((m) => [m.port, m.code])).toEqual([
      ['dpu-01a', 'truncated'],
      ['dpu-01a', 'unknown-vnic'],
    ]);
    expect(kinds(events, 'node.error')).toEqual([]);
    // Heartbeats still go out.
    expect(kinds(events, 'frame.tx').filter((f) => f.channel === 'mgmt').length).toBeGreaterThan(2);
  });
});
