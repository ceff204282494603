/**
 * IPFIX (RFC 7011): the flow export messages a DPU sends to a collector. A message is a 16-byte
 * header followed by sets: template sets (set id 2) describe the layout of data records, data
 * sets (set id = a template id, 256 or more) carry the records.
 *
 * Only what flow export here needs: IANA information elements (no enterprise-specific ones on
 * encode), fixed-length fields (no variable-length encoding), reduced-size encoding of unsigned
 * integers on decode. Options template sets are skipped by the decoder.
 *
 * Time: `dateTimeNanoseconds` fields hold an NTP-format 64-bit timestamp (RFC 7011 section 6.1.10:
 * 32 bits of seconds since 1900-01-01, 32 bits of fraction). Values in this module are
 * nanoseconds since the Unix epoch; emulated nodes pass virtual time, so virtual time 0 reads as
 * 1970-01-01T00:00:00Z in a collector or in Wireshark.
 */
import { checkRange, clampEnd, need, readU16, readU32, writeU16, writeU32 } from './bytes.js';
import { EncodeError, FrameError } from './errors.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from './ip.js';

/** The version field of every IPFIX message. */
export const IPFIX_VERSION = 10;
/** The IANA port of IPFIX over UDP (and TCP, SCTP). */
export const IPFIX_UDP_PORT = 4739;
/** Version, length, export time, sequence number, observation domain id. */
export const IPFIX_MESSAGE_HEADER_LENGTH = 16;
/** Set id and length. */
export const IPFIX_SET_HEADER_LENGTH = 4;
/** Set id of a template set. */
export const IPFIX_TEMPLATE_SET_ID = 2;
/** Set id of an options template set (skipped by the decoder). */
export const IPFIX_OPTIONS_TEMPLATE_SET_ID = 3;
/** The smallest template id, and thus the smallest data set id. */
export const IPFIX_MIN_TEMPLATE_ID = 256;
/** The length field is 16 bits. */
export const IPFIX_MAX_MESSAGE_LENGTH = 0xffff;
/** Seconds from the NTP era (1900-01-01) to the Unix epoch (1970-01-01). */
export const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;

/** The abstract data types (RFC 7012) of the elements this module knows. */
export type IpfixDataType = 'unsigned8' | 'unsigned16' | 'unsigned32' | 'unsigned64' | 'ipv4Address' | 'ipv6Address' | 'dateTimeNanoseconds';

/** An IANA information element: its name, id, data type and default (full) length. */
export interface IpfixElement {
  readonly name: string;
  readonly id: number;
  readonly type: IpfixDataType;
  readonly length: number;
}

/** The information elements flow export uses, by IANA id. */
export const IPFIX_ELEMENTS: readonly IpfixElement[] = [
  { name: 'octetDeltaCount', id: 1, type: 'unsigned64', length: 8 },
  { name: 'packetDeltaCount', id: 2, type: 'unsigned64', length: 8 },
  { name: 'protocolIdentifier', id: 4, type: 'unsigned8', length: 1 },
  { name: 'sourceTransportPort', id: 7, type: 'unsigned16', length: 2 },
  { name: 'sourceIPv4Address', id: 8, type: 'ipv4Address', length: 4 },
  { name: 'ingressInterface', id: 10, type: 'unsigned32', length: 4 },
  { name: 'destinationTransportPort', id: 11, type: 'unsigned16', length: 2 },
  { name: 'destinationIPv4Address', id: 12, type: 'ipv4Address', length: 4 },
  { name: 'egressInterface', id: 14, type: 'unsigned32', length: 4 },
  { name: 'sourceIPv6Address', id: 27, type: 'ipv6Address', length: 16 },
  { name: 'destinationIPv6Address', id: 28, type: 'ipv6Address', length: 16 },
  { name: 'flowEndReason', id: 136, type: 'unsigned8', length: 1 },
  { name: 'flowStartNanoseconds', id: 156, type: 'dateTimeNanoseconds', length: 8 },
  { name: 'flowEndNanoseconds', id: 157, type: 'dateTimeNanoseconds', length: 8 },
  { name: 'firewallEvent', id: 233, type: 'unsigned8', length: 1 },
];

/** Information element ids by name, e.g. `IPFIX_IE.octetDeltaCount === 1`. */
export const IPFIX_IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  ingressInterface: 10,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  egressInterface: 14,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  flowEndReason: 136,
  flowStartNanoseconds: 156,
  flowEndNanoseconds: 157,
  firewallEvent: 233,
} as const;

/** flowEndReason values (IANA, RFC 5102). */
export const FLOW_END_REASON = {
  idleTimeout: 1,
  activeTimeout: 2,
  endOfFlowDetected: 3,
  forcedEnd: 4,
  lackOfResources: 5,
} as const;

/**
 * firewallEvent values (IANA's "firewallEvent (Value 233)" registry): what a firewall did with the
 * flow the record describes. NSX's own DFW IPFIX template exports the same element.
 */
export const FIREWALL_EVENT = {
  ignore: 0,
  flowCreated: 1,
  flowDeleted: 2,
  flowDenied: 3,
  flowAlert: 4,
  flowUpdate: 5,
} as const;

const ELEMENT_BY_ID = new Map(IPFIX_ELEMENTS.map((e) => [e.id, e]));

/** The element with IANA id `id`, if this module knows it. */
export function ipfixElement(id: number): IpfixElement | undefined {
  return ELEMENT_BY_ID.get(id);
}

/** One field of a template: which element, how many bytes. `enterprise` only appears when decoded. */
export interface IpfixFieldSpecifier {
  readonly id: number;
  readonly length: number;
  /** Enterprise number of an enterprise-specific element (decode only). */
  readonly enterprise?: number;
}

/** A template record: the layout of the data records of one data set id. */
export interface IpfixTemplate {
  /** 256 to 65535; data sets carrying its records use it as their set id. */
  readonly templateId: number;
  readonly fields: readonly IpfixFieldSpecifier[];
}

/**
 * A field value: a number for unsigned integers and timestamps (ns since the Unix epoch), the
 * canonical text for addresses, raw bytes for elements this module does not know (decode only).
 */
export type IpfixValue = number | string | Uint8Array;

/**
 * A data record. `values` is keyed by element name (`sourceIPv4Address`); an unknown element
 * decodes under `ie<id>` (or `ie<enterprise>.<id>`).
 */
export interface IpfixDataRecord {
  readonly templateId: number;
  readonly values: Readonly<Record<string, IpfixValue>>;
}

/** What goes into one message. */
export interface IpfixMessageFields {
  /** Export time, seconds since the Unix epoch (32 bits). */
  readonly exportTimeSec: number;
  /** Data records sent before this message in this domain, modulo 2^32 (RFC 7011 section 3.1). */
  readonly sequence: number;
  /** Observation domain id. */
  readonly domainId: number;
  /** Templates to send, in one template set ahead of the data sets. */
  readonly templates?: readonly IpfixTemplate[];
  /** Data records; consecutive records of one template share a data set. */
  readonly records: readonly IpfixDataRecord[];
  /** Pad each data set to a multiple of 4 bytes (default true). */
  readonly pad?: boolean;
}

/** One set as found by the decoder. */
export interface IpfixSetInfo {
  readonly setId: number;
  /** The set length field, header and padding included. */
  readonly length: number;
  /** Bytes after the last record. */
  readonly padding: number;
}

/** A decoded message. */
export interface DecodedIpfixMessage {
  readonly version: number;
  readonly length: number;
  readonly exportTimeSec: number;
  readonly sequence: number;
  readonly domainId: number;
  /** Template records found in this message, in order. */
  readonly templates: readonly IpfixTemplate[];
  /** Data records whose template was known, in order. */
  readonly records: readonly IpfixDataRecord[];
  /** Every set, in order. */
  readonly sets: readonly IpfixSetInfo[];
  /** Ids of data sets skipped because their template was not known (normal over UDP). */
  readonly unknownSets: readonly number[];
}

/** The value's key in a record: the element name, or `ie<id>` for an unknown one. */
export function ipfixFieldKey(field: IpfixFieldSpecifier): string {
  if (field.enterprise !== undefined) return `ie${field.enterprise}.${field.id}`;
  return ipfixElement(field.id)?.name ?? `ie${field.id}`;
}

/** The length of one data record of `template`. */
export function ipfixRecordLength(template: IpfixTemplate): number {
  let length = 0;
  for (const field of template.fields) length += field.length;
  return length;
}

/** The length of `template` as a template record (header plus 4 bytes per field). */
function templateRecordLength(template: IpfixTemplate): number {
  return 4 + 4 * template.fields.length;
}

function pad4(length: number): number {
  return (length + 3) & ~3;
}

/** Whether `length` bytes is a valid encoding of `element` (reduced size only for unsigned integers). */
function lengthFits(element: IpfixElement, length: number): boolean {
  if (element.type.startsWith('unsigned')) return length >= 1 && length <= element.length;
  return length === element.length;
}

function checkTemplate(template: IpfixTemplate, field: string): void {
  checkRange(`${field}.templateId`, template.templateId, IPFIX_MIN_TEMPLATE_ID, 0xffff);
  if (template.fields.length === 0) throw new EncodeError('bad-value', `${field}.fields`, `Template ${template.templateId} has no fields`);
  template.fields.forEach((spec, i) => {
    const where = `${field}.fields[${i}]`;
    if (spec.enterprise !== undefined) throw new EncodeError('bad-value', where, `Enterprise-specific element ${spec.enterprise}.${spec.id} cannot be encoded`);
    checkRange(`${where}.id`, spec.id, 1, 0x7fff);
    checkRange(`${where}.length`, spec.length, 1, 0xfffe);
    const element = ipfixElement(spec.id);
    if (element && !lengthFits(element, spec.length)) {
      throw new EncodeError('bad-value', `${where}.length`, `Element ${element.name} cannot be encoded in ${spec.length} bytes`);
    }
  });
}

/** Writes an unsigned integer of `length` bytes, big-endian; the value must fit. */
function writeUnsigned(out: Uint8Array, at: number, length: number, value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new EncodeError('out-of-range', field, `Field ${field} is ${String(value)}, expected a non-negative safe integer`);
  }
  let rest = BigInt(value);
  for (let i = length - 1; i >= 0; i--) {
    out[at + i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  if (rest !== 0n) throw new EncodeError('out-of-range', field, `Field ${field} is ${value}, which does not fit in ${length} bytes`);
}

/** Writes ns since the Unix epoch as an NTP-format timestamp (seconds since 1900, 2^-32 s fraction). */
function writeNtpNanoseconds(out: Uint8Array, at: number, ns: number, field: string): void {
  if (!Number.isSafeInteger(ns) || ns < 0) {
    throw new EncodeError('out-of-range', field, `Field ${field} is ${String(ns)}, expected nanoseconds since the Unix epoch as a non-negative safe integer`);
  }
  const seconds = Math.floor(ns / 1e9) + NTP_UNIX_OFFSET_SECONDS;
  if (seconds > 0xffffffff) throw new EncodeError('out-of-range', field, `Field ${field} is ${ns}, past the end of NTP era 0`);
  // Rounded up, so that readers that truncate the fraction (Wireshark does) show the same ns.
  const fraction = Number(((BigInt(ns % 1e9) << 32n) + 999_999_999n) / 1_000_000_000n);
  writeU32(out, at, seconds);
  writeU32(out, at + 4, fraction);
}

/** Reads an NTP-format timestamp as ns since the Unix epoch, rounded to the nearest ns. */
function readNtpNanoseconds(bytes: Uint8Array, at: number): number {
  const seconds = readU32(bytes, at) - NTP_UNIX_OFFSET_SECONDS;
  const fraction = BigInt(readU32(bytes, at + 4));
  const subSecond = Number((fraction * 1_000_000_000n + (1n << 31n)) >> 32n);
  return seconds * 1e9 + subSecond;
}

function writeValue(out: Uint8Array, at: number, spec: IpfixFieldSpecifier, value: IpfixValue | undefined, field: string): void {
  const element = ipfixElement(spec.id);
  if (value === undefined) throw new EncodeError('bad-value', field, `Record has no value for ${field}`);
  if (!element) {
    if (!(value instanceof Uint8Array) || value.length !== spec.length) {
      throw new EncodeError('bad-value', field, `Element ${spec.id} is not known: give its ${spec.length} bytes`);
    }
    out.set(value, at);
    return;
  }
  switch (element.type) {
    case 'ipv4Address':
    case 'ipv6Address': {
      if (typeof value !== 'string') throw new EncodeError('bad-value', field, `Field ${field} needs an address as text`);
      out.set(element.type === 'ipv4Address' ? parseIpv4(value) : parseIpv6(value), at);
      return;
    }
    case 'dateTimeNanoseconds':
      if (typeof value !== 'number') throw new EncodeError('bad-value', field, `Field ${field} needs nanoseconds as a number`);
      writeNtpNanoseconds(out, at, value, field);
      return;
    default:
      if (typeof value !== 'number') throw new EncodeError('bad-value', field, `Field ${field} needs a number`);
      writeUnsigned(out, at, spec.length, value, field);
  }
}

/**
 * Encodes one IPFIX message: the header, a template set when `templates` are given, then data
 * sets. Records are encoded with their template from `templates` or, for messages that do not
 * repeat them, from `known`.
 *
 * @throws EncodeError for a record without a known template, a value that does not fit, or a
 *   message longer than 65535 bytes
 */
export function encodeIpfixMessage(fields: IpfixMessageFields, known: readonly IpfixTemplate[] = []): Uint8Array {
  checkRange('exportTimeSec', fields.exportTimeSec, 0, 0xffffffff);
  checkRange('sequence', fields.sequence, 0, 0xffffffff);
  checkRange('domainId', fields.domainId, 0, 0xffffffff);
  const templates = fields.templates ?? [];
  templates.forEach((t, i) => checkTemplate(t, `templates[${i}]`));
  const byId = new Map<number, IpfixTemplate>();
  for (const t of known) byId.set(t.templateId, t);
  for (const t of templates) byId.set(t.templateId, t);

  // Consecutive records of one template form one data set.
  const runs: { template: IpfixTemplate; records: { record: IpfixDataRecord; index: number }[] }[] = [];
  fields.records.forEach((record, index) => {
    const template = byId.get(record.templateId);
    if (!template) throw new EncodeError('bad-value', `records[${index}].templateId`, `No template ${record.templateId} for record ${index}`);
    const last = runs[runs.length - 1];
    if (last && last.template.templateId === template.templateId) last.records.push({ record, index });
    else runs.push({ template, records: [{ record, index }] });
  });
  for (const run of runs) if (!templates.includes(run.template)) checkTemplate(run.template, `template ${run.template.templateId}`);

  const pad = fields.pad ?? true;
  const templateSetLength = templates.length > 0 ? IPFIX_SET_HEADER_LENGTH + templates.reduce((n, t) => n + templateRecordLength(t), 0) : 0;
  const dataSetLength = (run: (typeof runs)[number]): number => {
    const raw = IPFIX_SET_HEADER_LENGTH + ipfixRecordLength(run.template) * run.records.length;
    return pad ? pad4(raw) : raw;
  };
  const length = IPFIX_MESSAGE_HEADER_LENGTH + templateSetLength + runs.reduce((n, run) => n + dataSetLength(run), 0);
  if (length > IPFIX_MAX_MESSAGE_LENGTH) {
    throw new EncodeError('too-long', 'records', `IPFIX message would be ${length} bytes, at most ${IPFIX_MAX_MESSAGE_LENGTH} fit`);
  }

  const out = new Uint8Array(length);
  writeU16(out, 0, IPFIX_VERSION);
  writeU16(out, 2, length);
  writeU32(out, 4, fields.exportTimeSec);
  writeU32(out, 8, fields.sequence);
  writeU32(out, 12, fields.domainId);
  let at = IPFIX_MESSAGE_HEADER_LENGTH;
  if (templates.length > 0) {
    writeU16(out, at, IPFIX_TEMPLATE_SET_ID);
    writeU16(out, at + 2, templateSetLength);
    at += IPFIX_SET_HEADER_LENGTH;
    for (const t of templates) {
      writeU16(out, at, t.templateId);
      writeU16(out, at + 2, t.fields.length);
      at += 4;
      for (const spec of t.fields) {
        writeU16(out, at, spec.id);
        writeU16(out, at + 2, spec.length);
        at += 4;
      }
    }
  }
  for (const run of runs) {
    const setLength = dataSetLength(run);
    const setStart = at;
    writeU16(out, at, run.template.templateId);
    writeU16(out, at + 2, setLength);
    at += IPFIX_SET_HEADER_LENGTH;
    for (const { record, index } of run.records) {
      for (const spec of run.template.fields) {
        const key = ipfixFieldKey(spec);
        writeValue(out, at, spec, record.values[key], `records[${index}].${key}`);
        at += spec.length;
      }
    }
    at = setStart + setLength; // padding bytes stay zero
  }
  return out;
}

function readUnsigned(bytes: Uint8Array, at: number, length: number): number {
  let value = 0n;
  for (let i = 0; i < length; i++) value = (value << 8n) | BigInt(bytes[at + i]!);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FrameError('unsupported', 'udp', `IPFIX value ${value} is beyond the safe integer range`, at);
  }
  return Number(value);
}

function readValue(bytes: Uint8Array, at: number, spec: IpfixFieldSpecifier): IpfixValue {
  const element = spec.enterprise === undefined ? ipfixElement(spec.id) : undefined;
  if (!element) return bytes.slice(at, at + spec.length);
  switch (element.type) {
    case 'ipv4Address':
      return formatIpv4(bytes, at);
    case 'ipv6Address':
      return formatIpv6(bytes, at);
    case 'dateTimeNanoseconds':
      return readNtpNanoseconds(bytes, at);
    default:
      return readUnsigned(bytes, at, spec.length);
  }
}

/** Reads the template records of a template set spanning [start, end). */
function decodeTemplateSet(bytes: Uint8Array, start: number, end: number): { templates: IpfixTemplate[]; padding: number } {
  const templates: IpfixTemplate[] = [];
  let at = start;
  while (end - at >= 4) {
    const templateId = readU16(bytes, at);
    const count = readU16(bytes, at + 2);
    if (templateId < IPFIX_MIN_TEMPLATE_ID) {
      throw new FrameError('malformed', 'udp', `IPFIX template id ${templateId} is below ${IPFIX_MIN_TEMPLATE_ID}`, at);
    }
    at += 4;
    if (count === 0) continue; // a template withdrawal: nothing to learn
    const fields: IpfixFieldSpecifier[] = [];
    for (let i = 0; i < count; i++) {
      need(at, 4, end, 'udp', `IPFIX field specifier ${i} of template ${templateId}`);
      const raw = readU16(bytes, at);
      const length = readU16(bytes, at + 2);
      at += 4;
      if (length === 0xffff) throw new FrameError('unsupported', 'udp', `IPFIX template ${templateId} has a variable-length field`, at - 2);
      if (length === 0) throw new FrameError('bad-length', 'udp', `IPFIX template ${templateId} has a field of length 0`, at - 2);
      if ((raw & 0x8000) !== 0) {
        need(at, 4, end, 'udp', `IPFIX enterprise number of template ${templateId}`);
        fields.push({ id: raw & 0x7fff, length, enterprise: readU32(bytes, at) });
        at += 4;
      } else {
        const element = ipfixElement(raw);
        if (element && !lengthFits(element, length)) {
          throw new FrameError('bad-length', 'udp', `IPFIX element ${element.name} cannot have length ${length}`, at - 2);
        }
        fields.push({ id: raw, length });
      }
    }
    templates.push({ templateId, fields });
  }
  return { templates, padding: end - at };
}

/**
 * Decodes an IPFIX message (a UDP payload) spanning [offset, end). `known` templates decode data
 * sets; templates in the message itself are learnt as they come and used for the sets after
 * them. Data sets of unknown templates are skipped and listed in `unknownSets`.
 *
 * @throws FrameError (layer `udp`, the layer carrying the message) for a bad version, a length
 *   that does not fit, a reserved set id or a bad template
 */
export function decodeIpfixMessage(bytes: Uint8Array, known: readonly IpfixTemplate[] = [], offset = 0, end?: number): DecodedIpfixMessage {
  const limit = clampEnd(bytes, end);
  need(offset, IPFIX_MESSAGE_HEADER_LENGTH, limit, 'udp', 'IPFIX message header');
  const version = readU16(bytes, offset);
  if (version !== IPFIX_VERSION) throw new FrameError('bad-version', 'udp', `IPFIX version is ${version}, expected ${IPFIX_VERSION}`, offset);
  const length = readU16(bytes, offset + 2);
  if (length < IPFIX_MESSAGE_HEADER_LENGTH) throw new FrameError('bad-length', 'udp', `IPFIX message length ${length} is shorter than its header`, offset + 2);
  need(offset, length, limit, 'udp', 'IPFIX message');
  const messageEnd = offset + length;

  const byId = new Map<number, IpfixTemplate>();
  for (const t of known) byId.set(t.templateId, t);
  const templates: IpfixTemplate[] = [];
  const records: IpfixDataRecord[] = [];
  const sets: IpfixSetInfo[] = [];
  const unknownSets: number[] = [];
  let at = offset + IPFIX_MESSAGE_HEADER_LENGTH;
  while (at < messageEnd) {
    need(at, IPFIX_SET_HEADER_LENGTH, messageEnd, 'udp', 'IPFIX set header');
    const setId = readU16(bytes, at);
    const setLength = readU16(bytes, at + 2);
    if (setLength < IPFIX_SET_HEADER_LENGTH || at + setLength > messageEnd) {
      throw new FrameError('bad-length', 'udp', `IPFIX set ${setId} has length ${setLength}, ${messageEnd - at} bytes are left in the message`, at + 2);
    }
    const start = at + IPFIX_SET_HEADER_LENGTH;
    const setEnd = at + setLength;
    let padding = 0;
    if (setId === IPFIX_TEMPLATE_SET_ID) {
      const decoded = decodeTemplateSet(bytes, start, setEnd);
      for (const t of decoded.templates) byId.set(t.templateId, t);
      templates.push(...decoded.templates);
      padding = decoded.padding;
    } else if (setId === IPFIX_OPTIONS_TEMPLATE_SET_ID) {
      padding = 0;
    } else if (setId < IPFIX_MIN_TEMPLATE_ID) {
      throw new FrameError('malformed', 'udp', `IPFIX set id ${setId} is reserved`, at);
    } else {
      const template = byId.get(setId);
      if (!template) {
        unknownSets.push(setId);
      } else {
        const recordLength = ipfixRecordLength(template);
        let r = start;
        while (setEnd - r >= recordLength) {
          const values: Record<string, IpfixValue> = {};
          for (const spec of template.fields) {
            values[ipfixFieldKey(spec)] = readValue(bytes, r, spec);
            r += spec.length;
          }
          records.push({ templateId: setId, values });
        }
        padding = setEnd - r;
      }
    }
    sets.push({ setId, length: setLength, padding });
    at = setEnd;
  }
  return {
    version,
    length,
    exportTimeSec: readU32(bytes, offset + 4),
    sequence: readU32(bytes, offset + 8),
    domainId: readU32(bytes, offset + 12),
    templates,
    records,
    sets,
    unknownSets,
  };
}
