/**
 * Build step (`npm run build` runs it after tsc): bundles the browser renderer with esbuild into
 * the server's static folder, and the Electron preload into one CommonJS file (a sandboxed
 * preload cannot load ES modules or other files).
 *
 * Output: dist/app/server/static/{index.html, app.js, app.css, favicon.svg} and
 * dist/app/preload/preload.cjs. The renderer imports nothing from Node: it is bundled for the
 * browser platform, so a Node import fails the build.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { PACKAGE_ROOT } from '../../processes/controller/package-root.js';
import { DEFAULT_STATIC_DIR } from './http-server.js';

/** Bundles the renderer and the preload; rejects with esbuild's errors. */
export async function bundleUi(options: { minify?: boolean } = {}): Promise<void> {
  const renderer = join(PACKAGE_ROOT, 'app', 'renderer');
  mkdirSync(DEFAULT_STATIC_DIR, { recursive: true });
  await build({
    entryPoints: [
      { in: join(renderer, 'main.ts'), out: 'app' },
      { in: join(renderer, 'styles.css'), out: 'app' },
    ],
    outdir: DEFAULT_STATIC_DIR,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: ['chrome120', 'firefox120', 'safari17'],
    minify: options.minify ?? true,
    sourcemap: true,
    sourcesContent: false,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'favicon.svg']) copyFileSync(join(renderer, file), join(DEFAULT_STATIC_DIR, file));
  await build({
    entryPoints: [join(PACKAGE_ROOT, 'app', 'preload', 'preload.ts')],
    outfile: join(PACKAGE_ROOT, 'dist', 'app', 'preload', 'preload.cjs'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['electron'],
    target: ['node20'],
    logLevel: 'warning',
  });
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundleUi();
}
