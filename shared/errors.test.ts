import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DpulabError, isDpulabError, isInputError } from './errors.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Every TypeScript source file of the project, tests included. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

class Refused extends DpulabError {
  readonly code = 'refused';
}

describe('DpulabError', () => {
  it('DpulabError is the base of every error class dpulab declares', () => {
    const direct: string[] = [];
    for (const file of ['app', 'processes', 'shared'].flatMap((d) => sources(join(ROOT, d)))) {
      // The base itself extends Error; tests may declare throwaway errors.
      if (file.endsWith('.test.ts') || file === join(ROOT, 'shared', 'errors.ts')) continue;
      for (const match of readFileSync(file, 'utf8').matchAll(/class (\w+) extends (Error|TypeError|RangeError)\b/g)) direct.push(`${relative(ROOT, file)}: ${match[1]}`);
    }
    expect(direct).toEqual([]);
  });

  it('DpulabError keeps message, code, name and cause, and is internal unless it says input', () => {
    const cause = new Error('underneath');
    const internal = new Refused('Nothing to do', { cause });
    expect(internal).toBeInstanceOf(Error);
    expect([internal.message, internal.code, internal.cause, internal.fromInput]).toEqual(['Nothing to do', 'refused', cause, false]);
    expect(isDpulabError(internal)).toBe(true);
    expect(isInputError(internal)).toBe(false);
    expect(isInputError(new Refused('Bad file', { fromInput: true }))).toBe(true);
    expect(isInputError(new Error('plain'))).toBe(false);
    expect(isDpulabError('text')).toBe(false);
  });
});
