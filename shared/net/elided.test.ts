import { describe, expect, test } from 'vitest';
import { buildGeneveFrame, buildUdpIpv4Frame } from './builders.js';
import { macFromString } from './mac.js';
import { elidedBytes, elidedPrefix, VMOTION_UDP_PORT } from './elided.js';
import { VMOTION_VNI } from '../topology/types.js';

const A = macFromString('02:00:00:00:00:01');
const B = macFromString('02:00:00:00:00:02');

function vmotionFrame(elided: number, dstPort = VMOTION_UDP_PORT): Uint8Array {
  const payload = new Uint8Array([...elidedPrefix(elided), 1, 2, 3]);
  return buildUdpIpv4Frame({ srcMac: A, dstMac: B, srcIp: '172.30.0.10', dstIp: '172.30.0.11', srcPort: VMOTION_UDP_PORT, dstPort, payload });
}

function tunnelled(inner: Uint8Array, vni: number): Uint8Array {
  return buildGeneveFrame({ srcMac: A, dstMac: B, srcIp: '192.168.0.1', dstIp: '192.168.0.2', inner, vni });
}

describe('elidedBytes', () => {
  test('elidedBytes reads what a vMotion datagram stands for, bare and in a GENEVE tunnel on the vMotion VNI', () => {
    expect(elidedBytes(vmotionFrame(1_048_576))).toBe(1_048_576);
    expect(elidedBytes(tunnelled(vmotionFrame(1_048_576), VMOTION_VNI))).toBe(1_048_576);
    expect(elidedBytes(vmotionFrame(4_000_000_000))).toBe(4_000_000_000);
  });

  test('elidedBytes is 0 for any other frame: another port, another VNI, a short frame', () => {
    expect(elidedBytes(vmotionFrame(1_048_576, 9000))).toBe(0);
    expect(elidedBytes(tunnelled(vmotionFrame(1_048_576), 5001))).toBe(0);
    expect(elidedBytes(new Uint8Array(20))).toBe(0);
    expect(elidedBytes(vmotionFrame(1_048_576).subarray(0, 44))).toBe(0);
  });
});
