import { describe, expect, it } from 'vitest';
import { fileNamePart } from './file-name.js';

describe('fileNamePart', () => {
  it('fileNamePart keeps ordinary names as they are', () => {
    expect(fileNamePart('default-lab')).toBe('default-lab');
    expect(fileNamePart('lab_2.v1')).toBe('lab_2.v1');
  });

  it('fileNamePart never leaves a path separator, a leading dot or a control character', () => {
    expect(fileNamePart('../../x')).toBe('___.._x');
    expect(fileNamePart('.hidden')).toBe('_hidden');
    expect(fileNamePart('a\u001b[31mb\n')).toBe('a__31mb_');
    expect(fileNamePart('')).toBe('unnamed');
  });

  it('fileNamePart shortens a long name to 64 characters', () => {
    expect(fileNamePart('n'.repeat(300))).toHaveLength(64);
  });
});
