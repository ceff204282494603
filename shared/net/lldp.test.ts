import { describe, it, expect } from 'vitest';
import { bytesToHex, concatBytes, hexToBytes } from './bytes.js';
import {
  buildLldpFrame,
  decodeLldp,
  decodeLldpFrame,
  encodeLldp,
  LLDP_CHASSIS_LOCAL,
  LLDP_CHASSIS_MAC_ADDRESS,
  LLDP_PORT_INTERFACE_NAME,
  LLDP_PORT_LOCAL,
  lldpCapabilitiesFromMask,
  lldpCapabilitiesToMask,
} from './lldp.js';
import type { Lldpdu } from './lldp.js';
import { boundsChecked, frameErrorOf } from './testing.js';

const DU: Lldpdu = {
  chassisId: { subtype: LLDP_CHASSIS_MAC_ADDRESS, value: '02:00:00:00:00:01' },
  portId: { subtype: LLDP_PORT_INTERFACE_NAME, value: 'eth0' },
  ttlSeconds: 120,
  portDescription: 'uplink',
  systemName: 'tor1',
  systemDescription: 'switch',
  capabilities: { supported: ['bridge', 'router'], enabled: ['bridge'] },
  managementAddresses: [{ address: '192.0.2.1', interfaceNumbering: 2, interfaceNumber: 3 }],
};

// Each TLV header is type << 9 | length, per IEEE 802.1AB section 8.4.
const TLVS = {
  chassis: '0207' + '04' + '020000000001',
  port: '0405' + '05' + '65746830',
  ttl: '0602' + '0078',
  portDescription: '0806' + '75706c696e6b',
  systemName: '0a04' + '746f7231',
  systemDescription: '0c06' + '737769746368',
  capabilities: '0e04' + '0014' + '0004',
  management: '100c' + '05' + '01' + 'c0000201' + '02' + '00000003' + '00',
  end: '0000',
};
const DU_HEX = Object.values(TLVS).join('');

describe('encodeLldp', () => {
  it('writes the exact TLV layout, mandatory TLVs first and End last', () => {
    expect(bytesToHex(encodeLldp(DU))).toBe(DU_HEX);
  });

  it('writes locally assigned IDs as text', () => {
    const bytes = encodeLldp({ chassisId: { subtype: LLDP_CHASSIS_LOCAL, value: 'host1' }, portId: { subtype: LLDP_PORT_LOCAL, value: '7' }, ttlSeconds: 0 });
    expect(bytesToHex(bytes)).toBe('0206' + '07' + '686f737431' + '0402' + '07' + '37' + '0602' + '0000' + '0000');
  });

  it('refuses text over 255 bytes and an empty ID', () => {
    expect(() => encodeLldp({ ...DU, systemName: 'x'.repeat(256) })).toThrow(/systemName/);
    expect(() => encodeLldp({ ...DU, portId: { subtype: LLDP_PORT_LOCAL, value: '' } })).toThrow(/must not be empty/);
  });
});

describe('LLDP capabilities', () => {
  it('map bridge, router and station to their standard bits', () => {
    expect(lldpCapabilitiesToMask(['bridge'])).toBe(0x0004);
    expect(lldpCapabilitiesToMask(['router'])).toBe(0x0010);
    expect(lldpCapabilitiesToMask(['station'])).toBe(0x0080);
    expect(lldpCapabilitiesFromMask(0x0094)).toEqual(['bridge', 'router', 'station']);
  });
});

describe('decodeLldp', () => {
  it('round-trips every supported TLV', () => {
    const du = decodeLldp(hexToBytes(DU_HEX));
    expect(du).toMatchObject({ ...DU, managementAddresses: [{ address: '192.0.2.1', interfaceNumbering: 2, interfaceNumber: 3 }] });
    expect(du.managementAddresses?.[0]?.oid?.length).toBe(0);
  });

  it('keeps organisation-specific and reserved TLVs', () => {
    const org = 'fe06' + '0080c2' + '01' + '000a'; // IEEE 802.1 port VLAN ID 10
    const reserved = '1202' + 'abcd'; // type 9
    const du = decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.ttl + org + reserved + TLVS.end));
    expect(du.organizationTlvs).toEqual([{ oui: '00:80:c2', subtype: 1, info: hexToBytes('000a') }]);
    expect(du.unknownTlvs).toEqual([{ type: 9, value: hexToBytes('abcd') }]);
    expect(bytesToHex(encodeLldp(du))).toBe(TLVS.chassis + TLVS.port + TLVS.ttl + org + reserved + TLVS.end);
  });

  it('stops at End and ignores the zero padding after it', () => {
    const padded = concatBytes(hexToBytes(TLVS.chassis + TLVS.port + TLVS.ttl + TLVS.end), new Uint8Array(20));
    expect(decodeLldp(padded).ttlSeconds).toBe(120);
  });

  it('accepts an LLDPDU without End, which 802.1AB-2009 made optional', () => {
    expect(decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.ttl + TLVS.systemName)).systemName).toBe('tor1');
  });

  it('rejects mandatory TLVs out of order with malformed', () => {
    const swapped = frameErrorOf(() => decodeLldp(hexToBytes(TLVS.port + TLVS.chassis + TLVS.ttl + TLVS.end)));
    expect(swapped).toMatchObject({ code: 'malformed', layer: 'lldp', offset: 0 });
    expect(swapped.message).toBe('LLDP TLV 1 is Port ID, expected Chassis ID (offset 0)');
    const noTtl = frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.systemName + TLVS.end)));
    expect(noTtl).toMatchObject({ code: 'malformed', offset: 16 });
    const earlyEnd = frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.end)));
    expect(earlyEnd.message).toBe('LLDP TLV 2 is End Of LLDPDU, expected Port ID (offset 9)');
  });

  it('rejects missing mandatory TLVs at the end of the data with truncated', () => {
    expect(frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port))).message).toBe('LLDP TTL TLV needs 2 bytes, 0 available (offset 16)');
    expect(frameErrorOf(() => decodeLldp(new Uint8Array(0))).code).toBe('truncated');
  });

  it('rejects duplicates and impossible lengths', () => {
    expect(frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.ttl + TLVS.systemName + TLVS.systemName))).message).toBe(
      'LLDP System Name TLV appears more than once (offset 26)',
    );
    expect(frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.chassis)))).toMatchObject({ code: 'malformed' });
    expect(frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + '0603' + '007800' + TLVS.end)))).toMatchObject({ code: 'bad-length', offset: 16 });
    expect(frameErrorOf(() => decodeLldp(hexToBytes('0206' + '04' + '0200000000' + TLVS.port + TLVS.ttl)))).toMatchObject({ code: 'bad-length' });
    expect(frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.ttl + '0e03' + '001400' + TLVS.end))).code).toBe('bad-length');
    expect(frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.ttl + '0001' + '00'))).code).toBe('bad-length');
    // Management address whose OID length disagrees with the TLV length.
    expect(frameErrorOf(() => decodeLldp(hexToBytes(TLVS.chassis + TLVS.port + TLVS.ttl + '100c' + '05' + '01' + 'c0000201' + '02' + '00000003' + '05' + TLVS.end))).code).toBe('bad-length');
  });

  it('rejects every truncation inside a TLV with truncated and accepts whole-TLV prefixes', () => {
    const bytes = hexToBytes(DU_HEX);
    const boundaries = new Set<number>();
    let at = 0;
    for (const tlv of Object.values(TLVS)) {
      at += tlv.length / 2;
      boundaries.add(at);
    }
    const ttlEnd = (TLVS.chassis + TLVS.port + TLVS.ttl).length / 2;
    for (let n = 0; n < bytes.length; n++) {
      const slice = boundsChecked(bytes.slice(0, n));
      if (n >= ttlEnd && boundaries.has(n)) {
        expect(decodeLldp(slice).ttlSeconds, `length ${n}`).toBe(120);
      } else {
        expect(frameErrorOf(() => decodeLldp(slice)).code, `length ${n}`).toBe('truncated');
      }
    }
  });
});

describe('buildLldpFrame', () => {
  // An advertisement tshark dissected without warnings: tor1 port p1, bridge and router, management 10.0.0.254.
  const GOLDEN =
    '0180c200000eceb4ca03ac7a88cc020704ceb4ca03ac7a0403057031060200780807746f72312070310a04746f72310c236470756c616220746f702d6f662d7261636b207377697463682c20333220706f7274730e0400140014100c05010a0000fe0200000001000000';

  it('builds the advertisement byte for byte', () => {
    const frame = buildLldpFrame({
      srcMac: 'ce:b4:ca:03:ac:7a',
      chassisMac: 'ce:b4:ca:03:ac:7a',
      portId: 'p1',
      ttlSec: 120,
      systemName: 'tor1',
      systemDescription: 'dpulab top-of-rack switch, 32 ports',
      portDescription: 'tor1 p1',
      capabilities: ['bridge', 'router'],
      mgmtIpv4: '10.0.0.254',
      mgmtIfIndex: 1,
    });
    expect(bytesToHex(frame)).toBe(GOLDEN);
  });

  it('pads a short advertisement to 60 bytes and decodes back', () => {
    const frame = buildLldpFrame({ srcMac: '02:00:00:00:00:01', chassisMac: '02:00:00:00:00:01', portId: 'vmnic0', ttlSec: 120, capabilities: ['station'] });
    expect(frame.length).toBe(60);
    const du = decodeLldpFrame(frame);
    expect(du).toMatchObject({ chassisId: { subtype: 4, value: '02:00:00:00:00:01' }, portId: { subtype: 5, value: 'vmnic0' }, ttlSeconds: 120, capabilities: { supported: ['station'], enabled: ['station'] } });
  });

  it('decodeLldpFrame refuses a frame of another EtherType', () => {
    const frame = hexToBytes('0180c200000e020000000001' + '0800' + '00'.repeat(46));
    expect(frameErrorOf(() => decodeLldpFrame(frame))).toMatchObject({ code: 'unsupported', offset: 12 });
  });
});
