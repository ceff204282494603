/**
 * The live UI of a describe block: opened before its tests, closed after them. Closing checks
 * what a user relies on when they stop `dpulab ui`: SIGTERM ends it with 143, as the command line
 * promises, and no node process outlives it.
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { nodeProcesses } from '../support/cli.js';
import { closeLiveUi, openLiveUi, type LiveUi } from './support.js';

/**
 * Registers the hooks of a live UI in the calling describe block: `opened` receives it before the
 * first test; `tmp` (where it records) is removed after the last.
 */
export function liveUiHooks(tmp: { readonly dir: string; remove(): void }, opened: (live: LiveUi) => void, pageOptions: { acceptDownloads?: boolean } = {}): void {
  let live: LiveUi | undefined;
  beforeAll(async () => {
    live = await openLiveUi(tmp.dir, pageOptions);
    opened(live);
  });
  afterAll(async () => {
    const exit = await closeLiveUi(live);
    tmp.remove();
    expect(exit?.code).toBe(143);
    expect(nodeProcesses()).toEqual([]);
  });
}
