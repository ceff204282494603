/**
 * The entry of a node process's V8 startup snapshot (`tools/bundle.mjs` builds it into
 * `dist/bundle/node.blob` with `node --build-snapshot`).
 *
 * Building the snapshot evaluates every module of the node's graph except the shell itself:
 * the cores, the runtime, the codecs and their libraries end up in the heap the snapshot holds,
 * so a node process started from it skips loading, compiling and running them. After the heap is
 * restored, the deserialize function starts the shell (`main.ts`), which opens its sockets.
 *
 * While the snapshot is built, `require` loads Node's built-in modules only: native addons such
 * as zeromq cannot be in a snapshot. The shell's `require` of zeromq runs after the restore, with
 * a `require` that resolves from the package as usual.
 */
import type * as NodeModule from 'node:module';
import { startupSnapshot } from 'node:v8';
import '../cores.js';
import '../runtime/node-runtime.js';
import '../runtime/protocol.js';

declare let require: NodeRequire;

startupSnapshot.setDeserializeMainFunction(() => {
  const { createRequire } = require('node:module') as typeof NodeModule;
  // `__filename` of the bundled entry, inside the package: resolution finds node_modules as for any file there.
  require = createRequire(__filename);
  require('./main.js');
});
