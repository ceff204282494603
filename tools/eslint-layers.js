// A local ESLint rule that keeps dpulab's layers: each folder may import only the folders listed
// for it in LAYERS (relative imports resolved against the importing file). A file of a folder
// not listed is not checked; tests may reach further (see `testsMayImport`).
import path from 'node:path';

/**
 * Who may import whom, by folder (first match wins, most specific first). A value lists the
 * folders a file there may import besides its own folder.
 */
export const LAYERS = [
  ['shared', []],
  ['processes/runtime', ['shared']],
  ['processes/common', ['shared', 'processes/runtime']],
  ['processes/vds', ['shared', 'processes/runtime', 'processes/common']],
  ['processes/pcie', ['shared', 'processes/runtime', 'processes/common', 'processes/vds']],
  ['processes/mgmt', ['shared', 'processes/runtime', 'processes/common', 'processes/vds']],
  ['processes/host', ['shared', 'processes/runtime', 'processes/common', 'processes/vds', 'processes/pcie', 'processes/mgmt']],
  ['processes/dpu', ['shared', 'processes/runtime', 'processes/common', 'processes/vds', 'processes/pcie', 'processes/mgmt']],
  ['processes/switch', ['shared', 'processes/runtime', 'processes/common', 'processes/vds', 'processes/pcie', 'processes/mgmt']],
  ['processes/manager', ['shared', 'processes/runtime', 'processes/common', 'processes/vds', 'processes/pcie', 'processes/mgmt']],
  ['processes/cores.ts', ['shared', 'processes/runtime', 'processes/host', 'processes/dpu', 'processes/switch', 'processes/manager']],
  ['processes/node', ['shared', 'processes/runtime', 'processes/cores.ts']],
  ['processes/controller', ['shared', 'processes']],
  ['app/common', ['shared']],
  ['app/renderer', ['shared', 'app/common']],
  ['app/lab', ['shared', 'processes/controller']],
  ['app/server', ['shared', 'processes/controller', 'app/common', 'app/lab']],
  ['app/cli', ['shared', 'processes/controller', 'app/common', 'app/lab', 'app/server']],
  ['app/main', ['shared', 'app/common']],
  ['app/preload', ['app/common']],
];

function under(file, folder) {
  return file === folder || file.startsWith(`${folder}/`);
}

/** The layer entry of a repository-relative path, or null. */
export function layerOf(file) {
  for (const entry of LAYERS) if (under(file, entry[0])) return entry;
  return null;
}

/** Test helpers: unit tests, their `testing.ts` fixtures and everything under `test/`. */
export function isTestSupport(file) {
  return /\.test\.ts$|(^|\/)testing\.ts$|^test\//.test(file);
}

/** Whether `from` (repository-relative) may import `to`; null when allowed, else the reason. */
export function forbiddenImport(from, to) {
  // The build compiles what shipped code imports: a test helper imported there would ship in dist/.
  if (isTestSupport(to)) return `${from} may not import the test helper ${to} (test helpers stay out of dist/)`;
  const layer = layerOf(from);
  if (layer === null) return null;
  const [folder, allowed] = layer;
  if (under(to, folder)) return null;
  if (allowed.some((a) => under(to, a))) return null;
  const target = layerOf(to)?.[0] ?? to;
  return `${folder} may not import ${target} (it may import ${[folder, ...allowed].join(', ')})`;
}

export const layersRule = {
  meta: { type: 'problem', docs: { description: 'Keeps the layers of tools/eslint-layers.js' }, schema: [] },
  create(context) {
    const root = context.cwd;
    const file = path.relative(root, context.filename).split(path.sep).join('/');
    if (isTestSupport(file)) return {};
    function check(node) {
      const spec = node.source && node.source.value;
      if (typeof spec !== 'string' || !spec.startsWith('.')) return;
      const to = path.relative(root, path.resolve(path.dirname(context.filename), spec)).split(path.sep).join('/').replace(/\.js$/, '.ts');
      const reason = forbiddenImport(file, to);
      if (reason !== null) context.report({ node: node.source, message: `Layering: ${reason}` });
    }
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check, ImportExpression: check };
  },
};
