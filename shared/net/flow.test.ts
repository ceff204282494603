import { describe, it, expect } from 'vitest';
import { buildArpRequest, buildTcpFrame, buildUdpFrame } from './builders.js';
import { flowHash, flowKey, flowSourcePort } from './flow.js';
import { randomBytes, seededRandom } from './testing.js';

const base = { srcMac: '02:00:00:00:00:01', dstMac: '02:00:00:00:00:02', srcIp: '10.0.0.1', dstIp: '10.0.0.2' };

describe('flowHash', () => {
  it('ignores what changes within a flow and sees what changes between flows', () => {
    const a = buildTcpFrame({ ...base, srcPort: 1000, dstPort: 80, seq: 1, flags: { syn: true } });
    const b = buildTcpFrame({ ...base, srcPort: 1000, dstPort: 80, seq: 999, ack: 5, flags: { ack: true }, payload: new Uint8Array(100), id: 7 });
    const c = buildTcpFrame({ ...base, srcPort: 1001, dstPort: 80, seq: 1, flags: { syn: true } });
    const d = buildUdpFrame({ ...base, srcPort: 1000, dstPort: 80, payload: new Uint8Array(0) });
    expect(flowHash(a)).toBe(flowHash(b));
    expect(flowHash(a)).not.toBe(flowHash(c));
    expect(flowHash(a)).not.toBe(flowHash(d));
  });

  it('uses the 5-tuple through a VLAN tag and over IPv6', () => {
    const tagged = buildUdpFrame({ ...base, vlan: 10, srcPort: 1, dstPort: 2, payload: new Uint8Array(0) });
    const key = flowKey(tagged);
    expect([...key]).toEqual([10, 0, 0, 1, 10, 0, 0, 2, 17, 0, 1, 0, 2]);
    const v6 = buildUdpFrame({ ...base, srcIp: 'fd00::1', dstIp: 'fd00::2', srcPort: 1, dstPort: 2, payload: new Uint8Array(0) });
    expect(flowKey(v6).length).toBe(37);
    expect(flowKey(v6).subarray(32)).toEqual(new Uint8Array([17, 0, 1, 0, 2]));
  });

  it('falls back to the Ethernet header for non-IP frames', () => {
    const arp = buildArpRequest({ srcMac: '02:00:00:00:00:01', senderIp: '10.0.0.1', targetIp: '10.0.0.2' });
    expect(flowKey(arp)).toEqual(arp.subarray(0, 14));
  });

  it('keeps the port pinned so recorded runs replay identically', () => {
    expect(flowSourcePort(buildUdpFrame({ ...base, srcPort: 1, dstPort: 2, payload: new Uint8Array(0) }))).toBe(flowSourcePort(buildUdpFrame({ ...base, srcPort: 1, dstPort: 2, payload: new Uint8Array(9) })));
    expect(flowSourcePort(buildTcpFrame({ ...base, srcPort: 1000, dstPort: 80, seq: 1, flags: { syn: true } }))).toBe(64393);
  });

  it('never throws on garbage and stays in the requested range', () => {
    const random = seededRandom(7);
    for (let i = 0; i < 5000; i++) {
      const bytes = randomBytes(random, Math.floor(random() * 80));
      if (bytes.length > 14 && i % 2 === 0) {
        bytes[12] = i % 4 === 0 ? 0x08 : 0x86;
        bytes[13] = i % 4 === 0 ? 0x00 : 0xdd;
      }
      const port = flowSourcePort(bytes, 100, 110);
      expect(port).toBeGreaterThanOrEqual(100);
      expect(port).toBeLessThanOrEqual(110);
    }
  });
});
