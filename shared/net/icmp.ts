/**
 * ICMP for IPv4 (RFC 792): echo for ping, destination unreachable for firewall rejects and
 * closed ports, time exceeded for traceroute. Other types decode generically.
 */
import { checkRange, clampEnd, hex, need, readU16, readU32, readU8, writeU16, writeU32 } from './bytes.js';
import { checksumMismatch, internetChecksum } from './checksum.js';
import { FrameError } from './errors.js';

/** ICMP type: echo reply. */
export const ICMP_ECHO_REPLY = 0;
/** ICMP type: destination unreachable. */
export const ICMP_DESTINATION_UNREACHABLE = 3;
/** ICMP type: echo request. */
export const ICMP_ECHO_REQUEST = 8;
/** ICMP type: time exceeded. */
export const ICMP_TIME_EXCEEDED = 11;

/** Unreachable code: network unreachable. */
export const ICMP_UNREACHABLE_NETWORK = 0;
/** Unreachable code: host unreachable. */
export const ICMP_UNREACHABLE_HOST = 1;
/** Unreachable code: protocol unreachable. */
export const ICMP_UNREACHABLE_PROTOCOL = 2;
/** Unreachable code: port unreachable. */
export const ICMP_UNREACHABLE_PORT = 3;
/** Unreachable code: fragmentation needed and DF set (carries the next-hop MTU). */
export const ICMP_UNREACHABLE_FRAGMENTATION_NEEDED = 4;
/** Unreachable code: communication administratively prohibited (a firewall reject). */
export const ICMP_UNREACHABLE_ADMIN_PROHIBITED = 13;

/** ICMP header length: type, code, checksum and the 4-byte rest-of-header. */
export const ICMP_HEADER_LENGTH = 8;
/**
 * Most of the offending packet an error quotes: RFC 1812 section 4.3.2.3 keeps the whole ICMP
 * error within 576 bytes (576 - 20 IP - 8 ICMP).
 */
export const ICMP_MAX_QUOTED_LENGTH = 548;

/** An echo request or reply. */
export interface IcmpEcho {
  readonly kind: 'echo-request' | 'echo-reply';
  readonly identifier: number;
  readonly sequence: number;
  readonly data: Uint8Array;
}

/** A destination unreachable message quoting the start of the packet that caused it. */
export interface IcmpDestinationUnreachable {
  readonly kind: 'destination-unreachable';
  readonly code: number;
  /** Only meaningful for code 4 (fragmentation needed); 0 otherwise. */
  readonly nextHopMtu: number;
  /** The quoted IPv4 header and leading payload bytes. */
  readonly original: Uint8Array;
}

/** A time exceeded message (code 0: TTL expired in transit, 1: reassembly timed out). */
export interface IcmpTimeExceeded {
  readonly kind: 'time-exceeded';
  readonly code: number;
  readonly original: Uint8Array;
}

/** Any other ICMP message, kept raw. */
export interface IcmpOther {
  readonly kind: 'other';
  readonly type: number;
  readonly code: number;
  /** The 4 rest-of-header bytes as a number. */
  readonly rest: number;
  readonly body: Uint8Array;
}

/** An ICMP message as encodeIcmp takes it. */
export type IcmpMessage = IcmpEcho | IcmpDestinationUnreachable | IcmpTimeExceeded | IcmpOther;

/** A decoded ICMP message: the message plus its wire type, code and checksum. */
export type DecodedIcmp = IcmpMessage & { readonly type: number; readonly code: number; readonly checksum: number };

function typeOf(message: IcmpMessage): number {
  switch (message.kind) {
    case 'echo-request':
      return ICMP_ECHO_REQUEST;
    case 'echo-reply':
      return ICMP_ECHO_REPLY;
    case 'destination-unreachable':
      return ICMP_DESTINATION_UNREACHABLE;
    case 'time-exceeded':
      return ICMP_TIME_EXCEEDED;
    case 'other':
      return message.type;
  }
}

/** Encodes an ICMP message with its checksum. Quoted packets are cut to ICMP_MAX_QUOTED_LENGTH. */
export function encodeIcmp(message: IcmpMessage): Uint8Array {
  let body: Uint8Array;
  let rest = 0;
  let code = 0;
  switch (message.kind) {
    case 'echo-request':
    case 'echo-reply':
      rest = ((checkRange('identifier', message.identifier, 0, 0xffff) << 16) | checkRange('sequence', message.sequence, 0, 0xffff)) >>> 0;
      body = message.data;
      break;
    case 'destination-unreachable':
      code = message.code;
      rest = message.code === ICMP_UNREACHABLE_FRAGMENTATION_NEEDED ? checkRange('nextHopMtu', message.nextHopMtu, 0, 0xffff) : 0;
      body = message.original.subarray(0, ICMP_MAX_QUOTED_LENGTH);
      break;
    case 'time-exceeded':
      code = message.code;
      body = message.original.subarray(0, ICMP_MAX_QUOTED_LENGTH);
      break;
    case 'other':
      code = message.code;
      rest = checkRange('rest', message.rest, 0, 0xffffffff);
      body = message.body;
      break;
  }
  const out = new Uint8Array(ICMP_HEADER_LENGTH + body.length);
  out[0] = checkRange('type', typeOf(message), 0, 255);
  out[1] = checkRange('code', code, 0, 255);
  writeU32(out, 4, rest);
  out.set(body, ICMP_HEADER_LENGTH);
  writeU16(out, 2, internetChecksum(out));
  return out;
}

/** Options for decodeIcmp. */
export interface IcmpDecodeOptions {
  /** Verify the checksum (default true). */
  readonly verifyChecksum?: boolean;
}

/** Decodes the ICMP message in [offset, end): `end` must be the IP payload end, since the checksum covers it all. */
export function decodeIcmp(bytes: Uint8Array, offset = 0, end?: number, options: IcmpDecodeOptions = {}): DecodedIcmp {
  const limit = clampEnd(bytes, end);
  need(offset, ICMP_HEADER_LENGTH, limit, 'icmp', 'ICMP header');
  const type = readU8(bytes, offset);
  const code = readU8(bytes, offset + 1);
  const checksum = readU16(bytes, offset + 2);
  if (options.verifyChecksum !== false) {
    const expected = checksumMismatch(bytes, offset, limit, offset + 2);
    if (expected !== null) {
      throw new FrameError('bad-checksum', 'icmp', `ICMP checksum is ${hex(checksum)}, expected ${hex(expected)}`, offset + 2);
    }
  }
  const body = bytes.subarray(offset + ICMP_HEADER_LENGTH, limit);
  const wire = { type, code, checksum };
  switch (type) {
    case ICMP_ECHO_REQUEST:
    case ICMP_ECHO_REPLY:
      return {
        ...wire,
        kind: type === ICMP_ECHO_REQUEST ? 'echo-request' : 'echo-reply',
        identifier: readU16(bytes, offset + 4),
        sequence: readU16(bytes, offset + 6),
        data: body,
      };
    case ICMP_DESTINATION_UNREACHABLE:
      return {
        ...wire,
        kind: 'destination-unreachable',
        nextHopMtu: code === ICMP_UNREACHABLE_FRAGMENTATION_NEEDED ? readU16(bytes, offset + 6) : 0,
        original: body,
      };
    case ICMP_TIME_EXCEEDED:
      return { ...wire, kind: 'time-exceeded', original: body };
    default:
      return { ...wire, kind: 'other', rest: readU32(bytes, offset + 4), body };
  }
}
