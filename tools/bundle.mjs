// Build step (`npm run build` runs it after tsc): bundles what starts often into few files, so
// that starting it loads a handful of modules instead of hundreds.
//
// Output, in dist/bundle/:
// - node.js: the node process (processes/node/main.ts), one ES module;
// - node.blob (+ node.blob.json): a V8 startup snapshot of the node process's module graph,
//   built from node-snapshot.cjs (processes/node/snapshot.ts) with this very Node binary; a node
//   process started from it skips loading its modules. Skipped, with a warning, where Node cannot
//   build one; the controller then starts node.js;
// - recorder-worker.js: the event log's thread;
// - cli/main.js and its chunks: the dpulab command, each subcommand in a chunk of its own that is
//   loaded when it runs.
// Native addons (zeromq, better-sqlite3) and electron stay external: they are loaded from
// node_modules as usual.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
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

// The snapshot's entry is a CommonJS script: Node builds snapshots from scripts, not modules.
const snapshotEntry = join(out, 'node-snapshot.cjs');
await build({ ...common, sourcemap: false, entryPoints: [join(root, 'processes', 'node', 'snapshot.ts')], outfile: snapshotEntry, format: 'cjs' });
const blob = join(out, 'node.blob');
try {
  execFileSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', snapshotEntry], { cwd: out, stdio: ['ignore', 'ignore', 'pipe'] });
  // A snapshot only loads in the Node binary that built it: the controller checks this first.
  writeFileSync(`${blob}.json`, `${JSON.stringify({ node: process.version, arch: process.arch, platform: process.platform })}\n`);
} catch (error) {
  if (existsSync(blob)) rmSync(blob);
  const reason = error instanceof Error && 'stderr' in error ? String(error.stderr).trim().split('\n').slice(-3).join(' ') : String(error);
  process.stderr.write(`bundle: no startup snapshot for node processes (${reason}); they start from node.js\n`);
}
