import { describe, expect, it } from 'vitest';
import { buildArpRequest, buildGeneveFrame, buildTcpFrame, buildUdpFrame } from '../../../shared/net/builders.js';
import { decodeFrame } from '../../../shared/net/frame.js';
import { frameProtocol, pointAt } from './packets.js';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const v4 = { srcMac: A, dstMac: B, srcIp: '10.0.0.1', dstIp: '10.0.0.2' };
const tcp = buildTcpFrame({ ...v4, srcPort: 40000, dstPort: 5201, seq: 1, flags: { syn: true } });

describe('packet dots', () => {
  it('frameProtocol colours a tunnelled frame by what it carries, not by its UDP tunnel', () => {
    expect(frameProtocol(decodeFrame(tcp))).toBe('tcp');
    expect(frameProtocol(decodeFrame(buildGeneveFrame({ ...v4, inner: tcp, vni: 5001 })))).toBe('tcp');
    expect(frameProtocol(decodeFrame(buildUdpFrame({ ...v4, srcPort: 1, dstPort: 2, payload: new Uint8Array(4) })))).toBe('udp');
    expect(frameProtocol(decodeFrame(buildArpRequest({ srcMac: A, senderIp: '10.0.0.1', targetIp: '10.0.0.2' })))).toBe('arp');
  });

  it('pointAt starts at the sender, passes through the wire midpoint halfway and ends at the receiver', () => {
    const path = { from: { x: 0, y: 0 }, via: { x: 50, y: 20 }, to: { x: 100, y: 0 } };
    expect(pointAt(path, 0)).toEqual({ x: 0, y: 0 });
    expect(pointAt(path, 0.5)).toEqual({ x: 50, y: 20 });
    expect(pointAt(path, 1)).toEqual({ x: 100, y: 0 });
    expect(pointAt(path, 0.25).x).toBeLessThan(50);
  });
});
