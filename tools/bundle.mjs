// Build step (`npm run build` runs it after tsc): bundles what starts often into few files, so
// that starting it loads a handful of modules instead of hundreds.
//
// Output, in dist/bundle/:
// - node.js: the node process (processes/node/main.ts), one ES module;
// - recorder-worker.js: the event log's thread;
// - cli/main.js and its chunks: the dpulab command, each subcommand in a chunk of its own that is
//   loaded when it runs.
// Native addons (zeromq, better-sqlite3) and electron stay external: they are loaded from
// node_modules as usual.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bundle');
const external = ['zeromq', 'better-sqlite3', 'electron'];
// Bundled ES modules still have code that calls require() (CommonJS libraries): give them one.
const requireShim = "import { createRequire as __dpulabCreateRequire } from 'node:module'; const require = __dpulabCreateRequire(import.meta.url);";
const common = { bundle: true, platform: 'node', target: ['node20'], external, logLevel: 'warning', sourcemap: true, sourcesContent: false, legalComments: 'none' };

rmSync(out, { recursive: true, force: true });

await build({
  ...common,
  entryPoints: {
    node: join(root, 'processes', 'node', 'main.ts'),
    'recorder-worker': join(root, 'processes', 'controller', 'log', 'recorder-worker.ts'),
  },
  outdir: out,
  format: 'esm',
  banner: { js: requireShim },
});

await build({
  ...common,
  entryPoints: { main: join(root, 'app', 'cli', 'main.ts') },
  outdir: join(out, 'cli'),
  format: 'esm',
  splitting: true,
  chunkNames: 'chunk-[hash]',
  banner: { js: requireShim },
});
