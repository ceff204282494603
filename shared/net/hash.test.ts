import { describe, expect, it } from 'vitest';
import { utf8Encode } from './bytes.js';
import { FNV1A_OFFSET_BASIS, fnv1a32 } from './hash.js';

describe('fnv1a32', () => {
  it('matches the published FNV-1a test vectors', () => {
    expect(fnv1a32(utf8Encode(''))).toBe(0x811c9dc5);
    expect(fnv1a32(utf8Encode('a'))).toBe(0xe40c292c);
    expect(fnv1a32(utf8Encode('foobar'))).toBe(0xbf9cf968);
  });

  it('continues from a given hash as if the inputs were one', () => {
    expect(fnv1a32(utf8Encode('bar'), fnv1a32(utf8Encode('foo')))).toBe(fnv1a32(utf8Encode('foobar')));
    expect(fnv1a32(utf8Encode('a'), FNV1A_OFFSET_BASIS)).toBe(0xe40c292c);
  });
});
