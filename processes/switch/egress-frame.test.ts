import { describe, expect, test } from 'vitest';
import { decodeEthernet } from '../../shared/net/ethernet.js';
import { decodeFrame } from '../../shared/net/frame.js';
import { EgressFrame } from './egress-frame.js';
import { MAC_A, MAC_B, udpFrame } from './testing.js';

function egressOf(bytes: Uint8Array): EgressFrame {
  return new EgressFrame(bytes, decodeEthernet(bytes));
}

describe('EgressFrame', () => {
  test('sends the received bytes themselves when the tagging does not change', () => {
    const untagged = udpFrame(MAC_A, MAC_B);
    const tagged = udpFrame(MAC_A, MAC_B, 30);
    expect(egressOf(untagged).untagged()).toBe(untagged);
    expect(egressOf(tagged).tagged(30)).toBe(tagged);
  });

  test('adds a tag in front of the EtherType and leaves a frame every layer still decodes', () => {
    const untagged = udpFrame(MAC_A, MAC_B);
    const out = egressOf(untagged).tagged(42);
    expect(out.length).toBe(untagged.length + 4);
    const frame = decodeFrame(out);
    expect(frame.ethernet.vlan).toEqual({ vid: 42, pcp: 0, dei: false });
    expect(frame.udp?.dstPort).toBe(2000);
    expect([...out.subarray(16)]).toEqual([...untagged.subarray(12)]);
  });

  test('changes only the VLAN id of a received tag, keeping priority and drop eligibility', () => {
    const priority = udpFrame(MAC_A, MAC_B, { vid: 0, pcp: 5, dei: true });
    const out = egressOf(priority).tagged(7);
    expect(decodeEthernet(out).vlan).toEqual({ vid: 7, pcp: 5, dei: true });
    expect(decodeEthernet(priority).vlan?.vid).toBe(0);
    expect([...out.subarray(16)]).toEqual([...priority.subarray(16)]);
  });

  test('removes the tag and keeps a decodable frame of at least 60 bytes', () => {
    const tagged = udpFrame(MAC_A, MAC_B, 30);
    const out = egressOf(tagged).untagged();
    expect(out.length).toBe(60);
    const frame = decodeFrame(out);
    expect(frame.ethernet.vlan).toBeUndefined();
    expect(frame.udp?.srcPort).toBe(1000);
  });

  test('builds each form once per received frame', () => {
    const egress = egressOf(udpFrame(MAC_A, MAC_B, 30));
    expect(egress.untagged()).toBe(egress.untagged());
    expect(egress.tagged(5)).toBe(egress.tagged(5));
  });
});
