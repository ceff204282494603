import { describe, expect, it } from 'vitest';
import { bridgeIdText, decodeRstBpduFrame, encodeRstBpduFrame, isBpduFrame, type RstBpdu } from './stp.js';
import { FrameError } from './errors.js';

const BPDU: RstBpdu = {
  topologyChange: false,
  proposal: true,
  role: 'designated',
  learning: false,
  forwarding: false,
  agreement: false,
  root: { priority: 4096, mac: '02:00:00:00:00:0a' },
  rootPathCost: 800,
  bridge: { priority: 32768, mac: '02:00:00:00:00:0b' },
  portId: 0x8008,
  messageAge: 1,
  maxAge: 20,
  helloTime: 2,
  forwardDelay: 15,
};

describe('RST BPDU', () => {
  it('RST BPDU frames round-trip, addressed to the bridge group with an 802.3 length', () => {
    const frame = encodeRstBpduFrame('02:00:00:00:00:0b', BPDU);
    expect(frame.length).toBe(60);
    expect(isBpduFrame(frame)).toBe(true);
    // Length 39, LLC 42 42 03, protocol 0, version 2, type 2.
    expect(Buffer.from(frame.subarray(12, 21)).toString('hex')).toBe('002742420300000202');
    expect(decodeRstBpduFrame(frame)).toEqual(BPDU);
  });

  it('RST BPDU decoding names what is wrong', () => {
    const frame = encodeRstBpduFrame('02:00:00:00:00:0b', BPDU);
    expect(() => decodeRstBpduFrame(frame.subarray(0, 30))).toThrow(FrameError);
    const stp = Uint8Array.from(frame);
    stp[17 + 2] = 0;
    expect(() => decodeRstBpduFrame(stp)).toThrow(/not an RST BPDU/);
  });

  it('bridge ids compare as their text: priority first, then MAC', () => {
    expect(bridgeIdText({ priority: 4096, mac: 'ff:ff:ff:ff:ff:ff' }) < bridgeIdText({ priority: 32768, mac: '00:00:00:00:00:01' })).toBe(true);
    expect(bridgeIdText({ priority: 32768, mac: '02:00:00:00:00:01' })).toBe('800002000000' + '0001');
  });
});
