import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The dpulab package directory, found by walking up from this file. The same code runs compiled
 * (`dist/processes/controller/`) and from source under the test runner, at different depths.
 */
export const PACKAGE_ROOT: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'dpulab') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`No dpulab package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
})();

/** The dpulab version, from package.json. */
export const DPULAB_VERSION: string = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
