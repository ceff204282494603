/**
 * What the desktop shell does without Electron (whose binary cannot run here): its UI server is
 * `dpulab ui --ipc`, reached over IPC with no port open, and "open database" switches servers only
 * once the new one is up. Real child processes, the compiled CLI.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forkLink, UiServerChild, UiServerSwitch } from '../app/main/ui-child.js';
import { dpulab, DPULAB_BIN, tempDir } from './support/cli.js';

/** `dpulab ui --ipc ARGS` as the development shell starts it. */
const uiChild = (args: readonly string[]) => () => forkLink(DPULAB_BIN, ['ui', '--ipc', ...args], process.execPath);

describe('desktop shell server', () => {
  const tmp = tempDir();
  const recorded = join(tmp.dir, 'recorded.db');
  const servers = new UiServerSwitch();

  beforeAll(() => {
    const run = dpulab(['run', '--in-process', '--until', '5ms', '--db', recorded]);
    expect(run.code, run.stderr).toBe(0);
  });
  afterAll(async () => {
    await servers.stop();
    tmp.remove();
  });

  it('dpulab ui --ipc answers the API and streams over IPC, and a malformed path is a 400', async () => {
    const server = await servers.switchTo(uiChild(['--db', recorded]));
    const run = await server.request('GET', '/api/run', null);
    expect(run.status).toBe(200);
    expect((run.body as { run: { db: string } }).run.db).toBe(recorded);
    expect((await server.request('GET', '/api/inspect/%E0%A4%A', null)).status).toBe(400);
    expect((await server.request('POST', '/api/action', '{not json')).status).toBe(400);
    const first = await new Promise<unknown>((resolve) => {
      const stop = server.subscribe((message) => {
        stop();
        resolve(message);
      });
    });
    expect(first).toMatchObject({ t: 'hello' });
  });

  it('open database keeps the old server when the new one cannot start, and switches when it can', async () => {
    const before = servers.active!;
    const foreign = join(tmp.dir, 'notes.db');
    writeFileSync(foreign, 'not a database');
    await expect(servers.switchTo(uiChild(['--db', foreign]))).rejects.toThrow(/did not start: it exited \(code 2\)/);
    expect(servers.active).toBe(before);
    expect(before.alive).toBe(true);
    expect((await before.request('GET', '/api/run', null)).status).toBe(200);

    const other = join(tmp.dir, 'other.db');
    expect(dpulab(['run', '--in-process', '--until', '2ms', '--db', other]).code).toBe(0);
    const next = await servers.switchTo(uiChild(['--db', other]));
    expect(servers.active).toBe(next);
    expect(before.alive).toBe(false);
    expect(((await next.request('GET', '/api/run', null)).body as { run: { db: string } }).run.db).toBe(other);
  });

  it('dpulab ui --ipc with no shell to serve exits 2 and says so', () => {
    const result = dpulab(['ui', '--ipc', '--db', recorded]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--ipc serves the desktop shell that started this process: there is none');
  });

  it('a UI server child that never says ready is killed after the deadline', async () => {
    const silent = join(tmp.dir, 'silent.mjs');
    writeFileSync(silent, 'setInterval(() => {}, 1000);\n');
    await expect(UiServerChild.start(() => forkLink(silent, [], process.execPath), 500)).rejects.toThrow(/did not start within 500 ms/);
  });
});
