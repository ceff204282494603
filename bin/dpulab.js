#!/usr/bin/env node
// The dpulab command. The TypeScript is compiled by `npm run build`, which `npm ci` runs (prepare).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/app/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('dpulab: not built yet; run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
await import(main);
