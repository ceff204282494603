// Layering is enforced here, not in a reviewer's head:
// - shared/ and app/renderer/ run in browsers too: no node:*, no electron, no native addons.
// - node cores (processes/{runtime,common,vds,pcie,mgmt,host,dpu,switch,manager}) are deterministic: no sockets, files,
//   timers, wall clock or Math.random; they get all of that from their context.
// - only app/main and app/preload may import electron.
// - who may import whom across folders is the table in tools/eslint-layers.js (rule local/layers).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { layersRule } from './tools/eslint-layers.js';

// Bare built-in names are listed as exact paths: as gitignore-style patterns they would also
// match our own folders (shared/net).
const nodeBuiltinNames = ['fs', 'fs/promises', 'net', 'os', 'path', 'child_process', 'crypto', 'http', 'https', 'worker_threads', 'timers', 'timers/promises', 'url', 'util'];
const forbiddenImports = {
  paths: [
    ...nodeBuiltinNames.map((name) => ({ name, message: 'This layer runs in a browser too and does no I/O: no Node built-ins here' })),
    ...['electron', 'zeromq', 'better-sqlite3'].map((name) => ({ name, message: 'This layer may not import electron or native addons' })),
  ],
  patterns: [{ group: ['node:*'], message: 'This layer runs in a browser too and does no I/O: no Node built-ins here' }],
};

const deterministicGlobals = [
  { name: 'setTimeout', message: 'Node cores use ctx.setTimer: virtual time only' },
  { name: 'setInterval', message: 'Node cores use ctx.setTimer: virtual time only' },
  { name: 'setImmediate', message: 'Node cores run to completion: no deferred work' },
  { name: 'performance', message: 'Node cores use ctx.now(): virtual time only' },
  { name: 'fetch', message: 'Node cores do no I/O' },
  { name: 'process', message: 'Node cores do no I/O and read no environment' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'dist-dev/**', 'node_modules/**', 'out/**', 'docs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    plugins: { local: { rules: { layers: layersRule } } },
    rules: {
      'local/layers': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['app/**/*.ts', 'processes/**/*.ts', 'shared/**/*.ts', 'test/**/*.ts'],
    ignores: ['app/main/**', 'app/preload/**'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'Only app/main and app/preload import electron' }] }],
    },
  },
  {
    files: ['shared/**/*.ts', 'app/renderer/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', forbiddenImports],
    },
  },
  {
    files: ['processes/runtime/**/*.ts', 'processes/common/**/*.ts', 'processes/vds/**/*.ts', 'processes/pcie/**/*.ts', 'processes/mgmt/**/*.ts', 'processes/host/**/*.ts', 'processes/dpu/**/*.ts', 'processes/switch/**/*.ts', 'processes/manager/**/*.ts', 'processes/cores.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', forbiddenImports],
      'no-restricted-globals': ['error', ...deterministicGlobals],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'Node cores use ctx.now(): virtual time only' },
        { object: 'Math', property: 'random', message: 'Node cores use ctx.random(): seeded streams only' },
      ],
      'no-restricted-syntax': ['error', { selector: "NewExpression[callee.name='Date']", message: 'Node cores use ctx.now(): virtual time only' }],
    },
  },
);
