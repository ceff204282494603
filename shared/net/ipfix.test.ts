import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from './bytes.js';
import { EncodeError } from './errors.js';
import { decodeIpfixMessage, encodeIpfixMessage, FLOW_END_REASON, IPFIX_IE, NTP_UNIX_OFFSET_SECONDS } from './ipfix.js';
import type { IpfixDataRecord, IpfixTemplate } from './ipfix.js';
import { boundsChecked, frameErrorOf, randomBytes, seededRandom } from './testing.js';

/** A template of the named information elements with their lengths, in order. */
function template(templateId: number, fields: ReadonlyArray<readonly [keyof typeof IPFIX_IE, number]>): IpfixTemplate {
  return { templateId, fields: fields.map(([name, length]) => ({ id: IPFIX_IE[name], length })) };
}

const SMALL = template(256, [['sourceIPv4Address', 4], ['destinationIPv4Address', 4], ['octetDeltaCount', 8], ['protocolIdentifier', 1]]);

const V4 = template(300, [
  ['sourceIPv4Address', 4], ['destinationIPv4Address', 4], ['protocolIdentifier', 1], ['sourceTransportPort', 2], ['destinationTransportPort', 2],
  ['ingressInterface', 4], ['egressInterface', 4], ['octetDeltaCount', 8], ['packetDeltaCount', 8],
  ['flowStartNanoseconds', 8], ['flowEndNanoseconds', 8], ['flowEndReason', 1],
]);

const V6: IpfixTemplate = {
  templateId: 301,
  fields: V4.fields.map((f) =>
    f.id === IPFIX_IE.sourceIPv4Address
      ? { id: IPFIX_IE.sourceIPv6Address, length: 16 }
      : f.id === IPFIX_IE.destinationIPv4Address
        ? { id: IPFIX_IE.destinationIPv6Address, length: 16 }
        : f,
  ),
};

const V4_RECORD: IpfixDataRecord = {
  templateId: 300,
  values: {
    sourceIPv4Address: '10.0.1.11',
    destinationIPv4Address: '10.0.2.12',
    protocolIdentifier: 6,
    sourceTransportPort: 49152,
    destinationTransportPort: 443,
    ingressInterface: 1,
    egressInterface: 3,
    octetDeltaCount: 123_456_789_012,
    packetDeltaCount: 81_000,
    flowStartNanoseconds: 1_000_000_001,
    flowEndNanoseconds: 11_999_999_999,
    flowEndReason: FLOW_END_REASON.activeTimeout,
  },
};

const { sourceIPv4Address: _src, destinationIPv4Address: _dst, ...PORTS_AND_COUNTERS } = V4_RECORD.values;

const V6_RECORD: IpfixDataRecord = {
  templateId: 301,
  values: {
    ...PORTS_AND_COUNTERS,
    sourceIPv6Address: 'fd00:1::11',
    destinationIPv6Address: 'fd00:2::12',
    protocolIdentifier: 17,
    flowEndReason: FLOW_END_REASON.idleTimeout,
  },
};

describe('encodeIpfixMessage', () => {
  it('lays out header, template set and a padded data set as RFC 7011 section 3 does', () => {
    const bytes = encodeIpfixMessage({
      exportTimeSec: 3,
      sequence: 7,
      domainId: 42,
      templates: [SMALL],
      records: [{ templateId: 256, values: { sourceIPv4Address: '10.0.1.11', destinationIPv4Address: '10.0.2.12', octetDeltaCount: 1500, protocolIdentifier: 6 } }],
    });
    expect(bytesToHex(bytes)).toBe(
      // version 10, length 64, export time 3, sequence 7, domain 42
      '000a' + '0040' + '00000003' + '00000007' + '0000002a' +
        // template set: id 2, length 24; template 256 with 4 fields (IE id, length)
        '0002' + '0018' + '0100' + '0004' + '0008' + '0004' + '000c' + '0004' + '0001' + '0008' + '0004' + '0001' +
        // data set 256: length 24 = 4 + 17-byte record + 3 bytes of padding
        '0100' + '0018' + '0a00010b' + '0a00020c' + '00000000000005dc' + '06' + '000000',
    );
  });

  it('leaves data sets unpadded when asked', () => {
    const bytes = encodeIpfixMessage({
      exportTimeSec: 0,
      sequence: 0,
      domainId: 0,
      records: [{ templateId: 256, values: { sourceIPv4Address: '1.2.3.4', destinationIPv4Address: '5.6.7.8', octetDeltaCount: 1, protocolIdentifier: 1 } }],
      pad: false,
    }, [SMALL]);
    expect(bytes.length).toBe(16 + 4 + 17);
    expect(bytesToHex(bytes.subarray(16, 20))).toBe('01000015');
  });

  it('writes flowStartNanoseconds as NTP seconds since 1900 and a 2^-32 s fraction', () => {
    const template: IpfixTemplate = { templateId: 400, fields: [{ id: IPFIX_IE.flowStartNanoseconds, length: 8 }] };
    const bytes = encodeIpfixMessage({ exportTimeSec: 1, sequence: 0, domainId: 1, records: [{ templateId: 400, values: { flowStartNanoseconds: 1_500_000_000 } }] }, [template]);
    expect(bytesToHex(bytes.subarray(20, 28))).toBe((NTP_UNIX_OFFSET_SECONDS + 1).toString(16).padStart(8, '0') + '80000000');
  });

  it('groups consecutive records of one template into one data set, in record order', () => {
    const bytes = encodeIpfixMessage({ exportTimeSec: 0, sequence: 0, domainId: 0, templates: [V4, V6], records: [V4_RECORD, V4_RECORD, V6_RECORD, V4_RECORD] });
    const decoded = decodeIpfixMessage(bytes);
    expect(decoded.sets.map((s) => s.setId)).toEqual([2, 300, 301, 300]);
    expect(decoded.records.map((r) => r.templateId)).toEqual([300, 300, 301, 300]);
  });

  it('refuses records without a template, values that do not fit, and messages over 65535 bytes', () => {
    const encode = (fields: Parameters<typeof encodeIpfixMessage>[0], known: IpfixTemplate[] = []): unknown => encodeIpfixMessage(fields, known);
    expect(() => encode({ exportTimeSec: 0, sequence: 0, domainId: 0, records: [V4_RECORD] })).toThrow(/No template 300 for record 0/);
    const reduced: IpfixTemplate = { templateId: 500, fields: [{ id: IPFIX_IE.octetDeltaCount, length: 2 }] };
    expect(() => encode({ exportTimeSec: 0, sequence: 0, domainId: 0, records: [{ templateId: 500, values: { octetDeltaCount: 70_000 } }] }, [reduced])).toThrow(EncodeError);
    expect(() => encode({ exportTimeSec: 0, sequence: 0, domainId: 0, records: [{ templateId: 300, values: { ...V4_RECORD.values, protocolIdentifier: undefined as never } }] }, [V4])).toThrow(/no value for records\[0\]\.protocolIdentifier/);
    expect(() => encode({ exportTimeSec: 0, sequence: 0, domainId: 0, templates: [{ templateId: 255, fields: [{ id: 1, length: 8 }] }], records: [] })).toThrow(/templateId/);
    expect(() => encode({ exportTimeSec: 0, sequence: 0, domainId: 0, templates: [{ templateId: 256, fields: [{ id: IPFIX_IE.sourceIPv4Address, length: 8 }] }], records: [] })).toThrow(/cannot be encoded in 8 bytes/);
    const many = Array.from({ length: 1300 }, () => V4_RECORD);
    expect(() => encode({ exportTimeSec: 0, sequence: 0, domainId: 0, records: many }, [V4])).toThrow(/at most 65535 fit/);
  });
});

describe('decodeIpfixMessage', () => {
  it('decodes the hand-laid message of RFC 7011 section 3 into its fields', () => {
    const bytes = hexToBytes(
      '000a0040 00000003 00000007 0000002a' +
        '00020018 01000004 00080004 000c0004 00010008 00040001' +
        '01000018 0a00010b 0a00020c 00000000000005dc 06 000000',
    );
    expect(decodeIpfixMessage(bytes)).toEqual({
      version: 10,
      length: 64,
      exportTimeSec: 3,
      sequence: 7,
      domainId: 42,
      templates: [SMALL],
      records: [{ templateId: 256, values: { sourceIPv4Address: '10.0.1.11', destinationIPv4Address: '10.0.2.12', octetDeltaCount: 1500, protocolIdentifier: 6 } }],
      sets: [
        { setId: 2, length: 24, padding: 0 },
        { setId: 256, length: 24, padding: 3 },
      ],
      unknownSets: [],
    });
  });

  it('round-trips IPv4 and IPv6 flow records with every field', () => {
    const bytes = encodeIpfixMessage({ exportTimeSec: 12, sequence: 4_000_000_000, domainId: 0xffffffff, templates: [V4, V6], records: [V4_RECORD, V6_RECORD] });
    const decoded = decodeIpfixMessage(bytes);
    expect(decoded).toMatchObject({ version: 10, length: bytes.length, exportTimeSec: 12, sequence: 4_000_000_000, domainId: 0xffffffff, unknownSets: [] });
    expect(decoded.templates).toEqual([V4, V6]);
    expect(decoded.records).toEqual([V4_RECORD, V6_RECORD]);
  });

  it('gives back every nanosecond timestamp exactly through the 2^-32 s fraction', () => {
    const random = seededRandom(7);
    const template: IpfixTemplate = { templateId: 400, fields: [{ id: IPFIX_IE.flowEndNanoseconds, length: 8 }] };
    for (let i = 0; i < 2000; i++) {
      const ns = i < 3 ? [0, 999_999_999, 1_000_000_000][i]! : Math.floor(random() * 1e9) + Math.floor(random() * 100_000) * 1e9;
      const bytes = encodeIpfixMessage({ exportTimeSec: 0, sequence: 0, domainId: 0, records: [{ templateId: 400, values: { flowEndNanoseconds: ns } }] }, [template]);
      expect(decodeIpfixMessage(bytes, [template]).records[0]?.values.flowEndNanoseconds).toBe(ns);
    }
  });

  it('decodes data sets with templates from an earlier message, and skips sets it has no template for', () => {
    const first = encodeIpfixMessage({ exportTimeSec: 0, sequence: 0, domainId: 1, templates: [V4], records: [V4_RECORD] });
    const later = encodeIpfixMessage({ exportTimeSec: 1, sequence: 1, domainId: 1, records: [V4_RECORD] }, [V4]);
    const learnt = decodeIpfixMessage(first).templates;
    expect(decodeIpfixMessage(later, learnt).records).toEqual([V4_RECORD]);
    const cold = decodeIpfixMessage(later);
    expect(cold.records).toEqual([]);
    expect(cold.unknownSets).toEqual([300]);
  });

  it('reads unsigned fields in reduced size and unknown elements as raw bytes', () => {
    const bytes = hexToBytes('000a001c 00000000 00000000 00000000' + '0100000c 000005dc 00ff beef');
    const template: IpfixTemplate = { templateId: 256, fields: [{ id: IPFIX_IE.octetDeltaCount, length: 4 }, { id: 999, length: 2 }, { id: 2, length: 2 }] };
    const record = decodeIpfixMessage(bytes, [template]).records[0];
    expect(record?.values.octetDeltaCount).toBe(1500);
    expect(bytesToHex(record?.values.ie999 as Uint8Array)).toBe('00ff');
    expect(record?.values.packetDeltaCount).toBe(0xbeef);
  });

  it('reads an enterprise-specific field specifier with its enterprise number', () => {
    const bytes = hexToBytes('000a0024 00000000 00000000 00000000' + '00020014 01000002 80010004 00001234 00010008' + '');
    expect(decodeIpfixMessage(bytes).templates).toEqual([{ templateId: 256, fields: [{ id: 1, length: 4, enterprise: 0x1234 }, { id: 1, length: 8 }] }]);
  });

  it('rejects a wrong version, a bad message or set length, a reserved set id and a low template id', () => {
    const good = encodeIpfixMessage({ exportTimeSec: 0, sequence: 0, domainId: 0, templates: [V4], records: [V4_RECORD] });
    const broken = (at: number, hex: string): Uint8Array => {
      const copy = good.slice();
      copy.set(hexToBytes(hex), at);
      return copy;
    };
    expect(frameErrorOf(() => decodeIpfixMessage(broken(0, '0009')))).toMatchObject({ code: 'bad-version', layer: 'udp', offset: 0 });
    expect(frameErrorOf(() => decodeIpfixMessage(broken(2, '000f')))).toMatchObject({ code: 'bad-length', offset: 2 });
    expect(frameErrorOf(() => decodeIpfixMessage(broken(2, 'ffff')))).toMatchObject({ code: 'truncated' });
    expect(frameErrorOf(() => decodeIpfixMessage(broken(18, 'ffff')))).toMatchObject({ code: 'bad-length', offset: 18 });
    expect(frameErrorOf(() => decodeIpfixMessage(broken(16, '0001')))).toMatchObject({ code: 'malformed', offset: 16 });
    expect(frameErrorOf(() => decodeIpfixMessage(broken(20, '00ff')))).toMatchObject({ code: 'malformed', offset: 20 });
    expect(frameErrorOf(() => decodeIpfixMessage(broken(26, 'ffff')))).toMatchObject({ code: 'unsupported' });
  });

  it('rejects every truncation with truncated and reads no byte past the end', () => {
    const bytes = encodeIpfixMessage({ exportTimeSec: 0, sequence: 0, domainId: 0, templates: [V4], records: [V4_RECORD] });
    for (let n = 0; n < bytes.length; n++) {
      expect(frameErrorOf(() => decodeIpfixMessage(boundsChecked(bytes.slice(0, n)))).code).toBe('truncated');
    }
  });

  it('throws nothing but FrameError on random bytes behind a valid header', () => {
    const random = seededRandom(4739);
    for (let i = 0; i < 3000; i++) {
      const body = randomBytes(random, Math.floor(random() * 80));
      const bytes = new Uint8Array(16 + body.length);
      bytes.set(hexToBytes('000a'), 0);
      bytes[2] = (bytes.length >> 8) & 0xff;
      bytes[3] = bytes.length & 0xff;
      bytes.set(body, 16);
      try {
        decodeIpfixMessage(boundsChecked(bytes), [V4]);
      } catch (error) {
        frameErrorOf(() => {
          throw error;
        });
      }
    }
  });
});
