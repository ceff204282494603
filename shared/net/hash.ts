/**
 * Small non-cryptographic hashes for derived identifiers (MAC addresses from names, ECMP entropy
 * ports). FNV-1a is used because it is tiny, identical in Node and browsers, and stable across
 * versions, so the same seed gives the same MAC in every run and every process.
 */

const FNV_PRIME = 0x01000193;

/** The standard FNV-1a 32-bit offset basis. */
export const FNV1A_OFFSET_BASIS = 0x811c9dc5;

/** FNV-1a over bytes, continuing from `hash` (the offset basis by default); returns an unsigned 32-bit value. */
export function fnv1a32(bytes: Uint8Array, hash = FNV1A_OFFSET_BASIS): number {
  let h = hash >>> 0;
  for (const byte of bytes) {
    h ^= byte;
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

/**
 * Final avalanche step (from MurmurHash3's fmix32) applied after FNV-1a: FNV's low bits depend
 * weakly on the last input bytes, and the callers take the hash modulo small ranges.
 */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
