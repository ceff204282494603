#!/usr/bin/env node
// The dpulab command. The TypeScript is compiled and bundled by `npm run build`, which `npm ci`
// runs (prepare): the command starts from one bundle that loads each subcommand when it runs.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/bundle/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  process.stderr.write('dpulab: not built yet; run `npm run build` (npm ci does it for you)\n');
  process.exit(2);
}
await import(main);
