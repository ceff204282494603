/**
 * Errors raised by the frame library.
 *
 * Every error carries a stable `code`: the emulator drops malformed frames and counts them by
 * that code, so codes are part of the contract and never change meaning. Messages are for people;
 * they name the layer and field and are free to improve.
 */
import { CodedError, DpulabError } from '../errors.js';

/**
 * Why a frame was rejected.
 *
 * - `truncated`: the data ends before a fixed header or a length field says it should.
 * - `bad-checksum`: a header or payload checksum does not match the bytes.
 * - `unknown-ethertype`: the Ethernet (or 802.1Q) type is not one this library decodes.
 * - `bad-version`: a version field holds a value the protocol does not define.
 * - `bad-length`: a length field is impossible on its own terms or contradicts another field.
 * - `malformed`: any other structural violation (TLV order, option layout, reserved values).
 * - `unsupported`: well-formed but outside what this library handles (e.g. ARP for non-Ethernet).
 */
export type FrameErrorCode =
  | 'truncated'
  | 'bad-checksum'
  | 'unknown-ethertype'
  | 'bad-version'
  | 'bad-length'
  | 'malformed'
  | 'unsupported';

/** The protocol layer at which a decoding problem was found. */
export type FrameLayer =
  | 'ethernet'
  | 'vlan'
  | 'arp'
  | 'ipv4'
  | 'ipv6'
  | 'icmp'
  | 'icmpv6'
  | 'udp'
  | 'tcp'
  | 'geneve'
  | 'lldp'
  | 'stp'
  | 'frame';

/**
 * A frame (or one of its layers) failed to decode.
 *
 * Decoders throw only this for bad input, so callers can catch it, count `code` and drop the
 * frame; any other exception escaping a decoder is a bug in this library.
 */
export class FrameError extends DpulabError {
  override readonly name = 'FrameError';
  /** Stable reason, used as a drop counter key. */
  readonly code: FrameErrorCode;
  /** The layer whose field was wrong. */
  readonly layer: FrameLayer;
  /** Byte offset, from the start of the buffer handed to the decoder, where the problem was found. */
  readonly offset: number;
  /** The message without the trailing offset, for callers that show the offset separately. */
  readonly detail: string;

  constructor(code: FrameErrorCode, layer: FrameLayer, detail: string, offset: number) {
    super(`${detail} (offset ${offset})`);
    this.code = code;
    this.layer = layer;
    this.offset = offset;
    this.detail = detail;
  }
}

/** Why an address string was rejected. */
export type AddressErrorCode = 'bad-mac' | 'bad-ipv4' | 'bad-ipv6' | 'bad-cidr';

/**
 * A MAC address, IP address or CIDR prefix written as text could not be parsed.
 *
 * Separate from FrameError because it comes from configuration and code, not from the wire.
 */
export class AddressError extends CodedError<AddressErrorCode> {
  override readonly name = 'AddressError';
  /** The text that was rejected. */
  readonly input: string;

  constructor(code: AddressErrorCode, input: string, detail: string) {
    super(code, detail);
    this.input = input;
  }
}

/** Why an encoder refused its fields. */
export type EncodeErrorCode = 'out-of-range' | 'too-long' | 'bad-value';

/**
 * An encoder was given fields that cannot be represented on the wire (a VLAN id above 4095, a
 * UDP payload over 65507 bytes, a text TLV over 255 bytes). Raised instead of silently truncating.
 */
export class EncodeError extends CodedError<EncodeErrorCode> {
  override readonly name = 'EncodeError';
  /** The field that was out of range, e.g. `vlan.vid`. */
  readonly field: string;

  constructor(code: EncodeErrorCode, field: string, detail: string) {
    super(code, detail);
    this.field = field;
  }
}
