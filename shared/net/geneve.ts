/**
 * GENEVE (RFC 8926): the overlay encapsulation DPUs use between hosts. An 8-byte base header
 * (version, option length, O and C flags, protocol type, 24-bit VNI) and TLV options, carried
 * in UDP to port 6081.
 */
import { checkLength, checkRange, clampEnd, need, readU16, readU8, writeU16 } from './bytes.js';
import { EncodeError, FrameError } from './errors.js';
import { ETHERTYPE_TRANSPARENT_ETHERNET } from './ethernet.js';

/** The IANA-assigned GENEVE UDP destination port. */
export const GENEVE_UDP_PORT = 6081;
/** Length of the base header. */
export const GENEVE_BASE_HEADER_LENGTH = 8;
/** The only defined version. */
export const GENEVE_VERSION = 0;
/** The option-length field is 6 bits of 4-byte units. */
export const GENEVE_MAX_OPTIONS_LENGTH = 63 * 4;
/** An option's data length is 5 bits of 4-byte units. */
export const GENEVE_MAX_OPTION_DATA_LENGTH = 31 * 4;

/** A GENEVE TLV option. The high bit of `type` marks it critical. */
export interface GeneveOption {
  /** 16-bit option class (namespace), e.g. 0x0102 for an experiment. */
  readonly optionClass: number;
  /** 8-bit type; 0x80 set means a receiver that does not understand it must drop the packet. */
  readonly type: number;
  /** Option data, a multiple of 4 bytes, at most 124. */
  readonly data: Uint8Array;
}

/** Fields for encodeGeneve. */
export interface GeneveFields {
  /** 24-bit virtual network identifier. */
  readonly vni: number;
  /** Default 0x6558 (an Ethernet frame follows). */
  readonly protocolType?: number;
  /** O flag: control (OAM) packet, not data. */
  readonly oam?: boolean;
  /** C flag; by default set exactly when some option is critical, as the RFC requires. */
  readonly critical?: boolean;
  readonly options?: readonly GeneveOption[];
  readonly payload: Uint8Array;
}

/** A decoded GENEVE header. */
export interface GeneveHeader {
  readonly version: number;
  /** Length of the options in bytes (the field times 4). */
  readonly optionsLength: number;
  readonly oam: boolean;
  readonly critical: boolean;
  readonly protocolType: number;
  readonly vni: number;
  readonly options: readonly GeneveOption[];
  /** 8 plus options. */
  readonly headerLength: number;
}

/** A decoded GENEVE packet: header and where the encapsulated payload lies. */
export interface DecodedGeneve extends GeneveHeader {
  /** Absolute offset of the encapsulated payload. */
  readonly payloadOffset: number;
  /** The encapsulated payload (normally an Ethernet frame), a view into the decoded buffer. */
  readonly payload: Uint8Array;
}

/** Encodes a GENEVE header, options and payload. */
export function encodeGeneve(fields: GeneveFields): Uint8Array {
  const options = fields.options ?? [];
  let optionsLength = 0;
  for (const option of options) {
    if (option.data.length % 4 !== 0) {
      throw new EncodeError('bad-value', 'options.data', `GENEVE option data is ${option.data.length} bytes, not a multiple of 4`);
    }
    checkLength('options.data', option.data.length, GENEVE_MAX_OPTION_DATA_LENGTH);
    optionsLength += 4 + option.data.length;
  }
  checkLength('options', optionsLength, GENEVE_MAX_OPTIONS_LENGTH);
  const critical = fields.critical ?? options.some((option) => (option.type & 0x80) !== 0);
  const headerLength = GENEVE_BASE_HEADER_LENGTH + optionsLength;
  const out = new Uint8Array(headerLength + fields.payload.length);
  out[0] = (GENEVE_VERSION << 6) | (optionsLength / 4);
  out[1] = (fields.oam ? 0x80 : 0) | (critical ? 0x40 : 0);
  writeU16(out, 2, checkRange('protocolType', fields.protocolType ?? ETHERTYPE_TRANSPARENT_ETHERNET, 0, 0xffff));
  const vni = checkRange('vni', fields.vni, 0, 0xffffff);
  out[4] = vni >>> 16;
  out[5] = (vni >>> 8) & 0xff;
  out[6] = vni & 0xff;
  let at = GENEVE_BASE_HEADER_LENGTH;
  for (const option of options) {
    writeU16(out, at, checkRange('options.optionClass', option.optionClass, 0, 0xffff));
    out[at + 2] = checkRange('options.type', option.type, 0, 255);
    out[at + 3] = option.data.length / 4; // the three reserved bits stay zero
    out.set(option.data, at + 4);
    at += 4 + option.data.length;
  }
  out.set(fields.payload, headerLength);
  return out;
}

/** Decodes and validates the GENEVE header at `offset` (the UDP payload). */
export function decodeGeneve(bytes: Uint8Array, offset = 0, end?: number): DecodedGeneve {
  const limit = clampEnd(bytes, end);
  need(offset, GENEVE_BASE_HEADER_LENGTH, limit, 'geneve', 'GENEVE header');
  const first = readU8(bytes, offset);
  const version = first >>> 6;
  if (version !== GENEVE_VERSION) {
    throw new FrameError('bad-version', 'geneve', `GENEVE version is ${version}, expected 0`, offset);
  }
  const optionsLength = (first & 0x3f) * 4;
  const headerLength = GENEVE_BASE_HEADER_LENGTH + optionsLength;
  need(offset, headerLength, limit, 'geneve', 'GENEVE header with options');
  const flags = readU8(bytes, offset + 1);
  const options: GeneveOption[] = [];
  const optionsEnd = offset + headerLength;
  let at = offset + GENEVE_BASE_HEADER_LENGTH;
  while (at < optionsEnd) {
    // Options are 4-byte aligned and the area is a multiple of 4, so a header always fits here.
    const dataLength = (readU8(bytes, at + 3) & 0x1f) * 4;
    if (at + 4 + dataLength > optionsEnd) {
      throw new FrameError(
        'bad-length',
        'geneve',
        `GENEVE option length ${dataLength} runs past the ${optionsLength}-byte option area`,
        at + 3,
      );
    }
    options.push({ optionClass: readU16(bytes, at), type: readU8(bytes, at + 2), data: bytes.subarray(at + 4, at + 4 + dataLength) });
    at += 4 + dataLength;
  }
  const payloadOffset = offset + headerLength;
  return {
    version,
    optionsLength,
    oam: (flags & 0x80) !== 0,
    critical: (flags & 0x40) !== 0,
    protocolType: readU16(bytes, offset + 2),
    vni: (readU8(bytes, offset + 4) << 16) | (readU8(bytes, offset + 5) << 8) | readU8(bytes, offset + 6),
    options,
    headerLength,
    payloadOffset,
    payload: bytes.subarray(payloadOffset, limit),
  };
}
