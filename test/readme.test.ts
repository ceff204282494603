import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/cli.js';
import { readmeSample, sampleOutput, withoutWallTime } from './support/readme-sample.js';

describe('README.md', () => {
  it('sample output is what dpulab run --in-process prints for the default lab (npm run docs:readme rewrites it)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const shown = readmeSample(readme);
    expect(shown, 'README.md has no sample output block').not.toBeNull();
    // Only the wall time may differ: everything else follows from the topology, scenario, seed and code.
    expect(withoutWallTime(shown!), 'README.md sample output is stale: run npm run docs:readme').toBe(withoutWallTime(sampleOutput()));
  });

  it('says up front that --in-process is the fast path', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const firstCommands = readme.slice(0, readme.indexOf('```sh', readme.indexOf('## Two commands')) + 400);
    expect(firstCommands).toContain('npx dpulab run --in-process');
  });
});
