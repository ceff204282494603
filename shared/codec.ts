import { Packr } from 'msgpackr';

/**
 * The one msgpack codec every process uses for payloads and control messages.
 *
 * Records (msgpackr's shared structures) are off: with them, two processes that saw objects in a
 * different order would assign different structure ids and drift apart, and the bytes we hash
 * for the fingerprint would depend on history. Plain maps are self-describing, so a database
 * can be decoded by any msgpack reader.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false, int64AsType: 'number' });

/** Encodes a value to msgpack bytes; the same value always gives the same bytes. */
export function encode(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes msgpack bytes; throws on malformed input. */
export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}
