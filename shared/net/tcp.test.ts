import { describe, it, expect } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { pseudoHeader } from './checksum.js';
import { decodeTcp, encodeTcp, encodeTcpOptions, formatTcpFlags, tcpFlagsFromByte, tcpFlagsToByte } from './tcp.js';
import type { TcpOption } from './tcp.js';
import { boundsChecked, frameErrorOf } from './testing.js';

// The TCP part of a SYN tshark dissected with a correct checksum:
// 192.168.1.10:51000 -> 192.168.1.20:80, seq 1000, window 64240, MSS 1460, SACK permitted, timestamps 1/0, window scale 7.
const SYN = hexToBytes('c7380050000003e800000000a002faf0f8340000020405b40402080a000000010000000003030701');
const SYN_OPTIONS: TcpOption[] = [{ kind: 'mss', mss: 1460 }, { kind: 'sack-permitted' }, { kind: 'timestamps', value: 1, echo: 0 }, { kind: 'window-scale', shift: 7 }];
const PSEUDO = pseudoHeader('192.168.1.10', '192.168.1.20');

describe('encodeTcp', () => {
  it('builds a SYN with options and a checksum tshark accepts', () => {
    const syn = encodeTcp({ srcPort: 51000, dstPort: 80, seq: 1000, flags: { syn: true }, window: 64240, options: SYN_OPTIONS, srcIp: '192.168.1.10', dstIp: '192.168.1.20' });
    expect(bytesToHex(syn)).toBe(bytesToHex(SYN));
  });

  it('pads options to a word boundary with NOPs', () => {
    expect(bytesToHex(encodeTcpOptions([{ kind: 'window-scale', shift: 7 }]))).toBe('03030701');
    expect(bytesToHex(encodeTcpOptions([{ kind: 'sack-permitted' }]))).toBe('04020101');
  });

  it('refuses more than 40 bytes of options', () => {
    const options: TcpOption[] = [{ kind: 'sack', blocks: [[1, 2], [3, 4], [5, 6], [7, 8]] }, { kind: 'mss', mss: 1 }, { kind: 'window-scale', shift: 1 }];
    expect(() => encodeTcpOptions(options)).toThrow(/at most 40/);
  });
});

describe('TCP flags', () => {
  it('map to and from the flags byte', () => {
    expect(tcpFlagsToByte({ syn: true, ack: true })).toBe(0x12);
    expect(tcpFlagsToByte({ fin: true, psh: true, cwr: true })).toBe(0x89);
    expect(tcpFlagsFromByte(0x12)).toEqual({ fin: false, syn: true, rst: false, psh: false, ack: true, urg: false, ece: false, cwr: false });
    expect(formatTcpFlags(tcpFlagsFromByte(0x18))).toBe('PSH,ACK');
  });
});

describe('decodeTcp', () => {
  it('reads the SYN and its options', () => {
    const tcp = decodeTcp(SYN, 0, undefined, PSEUDO);
    expect(tcp).toMatchObject({ srcPort: 51000, dstPort: 80, seq: 1000, ack: 0, headerLength: 40, window: 64240, checksum: 0xf834, options: SYN_OPTIONS });
    expect(tcp.flags.syn).toBe(true);
    expect(tcp.payload.length).toBe(0);
  });

  it('round-trips SACK blocks, unknown options, payload and high sequence numbers', () => {
    const options: TcpOption[] = [{ kind: 'sack', blocks: [[0xfffffff0, 0x10], [5, 6]] }, { kind: 'other', type: 30, data: hexToBytes('0102') }];
    const bytes = encodeTcp({ srcPort: 1, dstPort: 2, seq: 0xffffffff, ack: 0x80000000, flags: { ack: true, psh: true }, window: 5, options, payload: hexToBytes('68690a'), srcIp: 'fd00::1', dstIp: 'fd00::2' });
    const tcp = decodeTcp(bytes, 0, undefined, pseudoHeader('fd00::1', 'fd00::2'));
    expect(tcp).toMatchObject({ seq: 0xffffffff, ack: 0x80000000, options });
    expect(bytesToHex(tcp.payload)).toBe('68690a');
  });

  it('detects a corrupted segment and reports the checksum field', () => {
    const bytes = SYN.slice();
    bytes[4]! ^= 0x10;
    expect(frameErrorOf(() => decodeTcp(bytes, 0, undefined, PSEUDO))).toMatchObject({ code: 'bad-checksum', layer: 'tcp', offset: 16 });
  });

  it('rejects a short data offset and options with impossible lengths', () => {
    const offset = SYN.slice();
    offset[12] = 0x40;
    expect(frameErrorOf(() => decodeTcp(offset, 0, undefined, null)).code).toBe('bad-length');
    const mss = SYN.slice();
    mss[21] = 5; // MSS option claiming 5 bytes
    expect(frameErrorOf(() => decodeTcp(mss, 0, undefined, null))).toMatchObject({ code: 'malformed', offset: 21 });
    const overrun = SYN.slice();
    overrun[37] = 9; // window scale option running past the header
    expect(frameErrorOf(() => decodeTcp(overrun, 0, undefined, null))).toMatchObject({ code: 'malformed', offset: 37 });
    const zero = SYN.slice();
    zero[25] = 0; // SACK-permitted with length 0 would loop forever
    expect(frameErrorOf(() => decodeTcp(zero, 0, undefined, null)).code).toBe('malformed');
  });

  it('rejects every truncation of the header with truncated', () => {
    for (let n = 0; n < SYN.length; n++) {
      expect(frameErrorOf(() => decodeTcp(boundsChecked(SYN.slice(0, n)), 0, undefined, null)).code).toBe('truncated');
    }
  });
});
