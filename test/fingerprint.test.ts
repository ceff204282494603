import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dpulab, lastJson, tempDir } from './support/cli.js';

/**
 * The fingerprint of the default lab with seed 1, pinned.
 *
 * Work on speed (the window protocol, the recorder, the engines, the codecs) must not change
 * what a run records, so this value stays put through it. A commit that changes the model on
 * purpose (a new event, a changed payload, another cost) updates the value here and says in its
 * message why the log had to change.
 */
const DEFAULT_SEED_1_FINGERPRINT = 'ac1905d6e4830e1e865729f48c880d1ffca66cacdafc5516a5aba77d6102b19f';

describe('the default lab with seed 1', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  for (const mode of ['in-process', 'multi-process'] as const) {
    it(`records the pinned fingerprint ${mode}`, () => {
      const args = ['run', '--seed', '1', '--json', '--db', join(tmp.dir, `${mode}.db`)];
      if (mode === 'in-process') args.push('--in-process');
      const result = dpulab(args);
      expect(result.code, result.stderr).toBe(0);
      const run = lastJson<{ fingerprint: string; status: string }>(result);
      expect(run.status).toBe('completed');
      expect(run.fingerprint).toBe(DEFAULT_SEED_1_FINGERPRINT);
    });
  }
});
