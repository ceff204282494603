// Rewrites the sample output block of README.md from a real `dpulab run --in-process` of the
// default lab (`npm run docs:readme`). It runs the built CLI, so the script builds first (the
// sample's code is a test helper, built into dist-dev/ with the bench, never into dist/).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sampleOutput, withReadmeSample } from '../dist-dev/test/support/readme-sample.js';

const file = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(file, 'utf8');
const after = withReadmeSample(before, sampleOutput());
if (after !== before) writeFileSync(file, after);
process.stdout.write(after === before ? 'README.md: sample output already current\n' : 'README.md: sample output rewritten\n');
