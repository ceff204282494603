/**
 * The Invariants tab on a recorded run: the violations the checkers find are listed, and choosing
 * one moves the cursor to the event that broke the invariant. The log is written by hand (a split
 * brain in a few events), so the test does not depend on which bugs the cores have.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from '../../shared/codec.js';
import { EVENT_KIND_DESCRIPTIONS } from '../../shared/events/catalogue.js';
import { LogBuilder } from '../../shared/invariants/testing.js';
import { EventLogWriter } from '../../processes/controller/log/writer.js';
import { tempDir } from '../support/cli.js';
import { launchBrowser, startUi, waitForText, type UiProcess, VIEWPORT } from './support.js';

/** A run in which esx-01 thaws web-01 after esx-02 resumed it: `vm-one-host` breaks at the thaw. */
function writeSplitBrainLog(db: string): number {
  const log = new LogBuilder().boot();
  const mid = 'web-01/esx-01/1';
  log.at(500).emit('esx-01', 'vmotion.start', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', vnics: ['web-01.eth0'], options: {} });
  log.at(600).emit('esx-01', 'vmotion.stun', { mid, vm: 'web-01', host: 'esx-01' });
  log.at(601).emit('dpu-02a', 'dfw.import', { node: 'dpu-02a', vnic: 'web-01.eth0', vm: 'web-01', ok: true });
  log.at(602).emit('esx-02', 'vmotion.resume', { mid, vm: 'web-01', host: 'esx-02', from: 'esx-01' });
  const thaw = log.at(850).emit('esx-01', 'vmotion.done', { mid, vm: 'web-01', from: 'esx-01', to: 'esx-02', result: 'aborted', reason: 'peer-unreachable' });
  log.end(1000);
  const writer = EventLogWriter.open(db, { dpulabVersion: '0.0.0-test', overwrite: true });
  writer.beginRun({ id: 'split', seed: 1, mode: 'in-process', topology: log.topology, topologyFile: null, topologyText: null, scenario: { name: 'split', text: null, resolved: { name: 'split', endNs: 1e9, steps: [] } }, untilNs: 1e9, zeromqVersion: null, eventKinds: EVENT_KIND_DESCRIPTIONS });
  writer.recordWires(log.topology.wires);
  writer.append(log.events.map((e) => ({ seq: e.seq, vtime: e.vtime, node: e.node, kind: e.kind, cause: e.cause, payload: encode(e.payload), volatile: null })));
  writer.finishRun({ status: 'completed', endVtime: 1e9, exitReason: null });
  writer.close();
  return thaw.seq;
}

describe('dpulab ui invariants tab', () => {
  const tmp = tempDir();
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  let thaw = 0;

  beforeAll(async () => {
    const db = join(tmp.dir, 'split.db');
    thaw = writeSplitBrainLog(db);
    [ui, browser] = await Promise.all([startUi(['--db', db]), launchBrowser()]);
    page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(ui.url);
    await page.locator('#scrubber').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    tmp.remove();
  });

  it('ui invariants tab lists a broken invariant and seeks to the event that broke it', async () => {
    await page.click('#tabbtn-invariants');
    await waitForText(page.locator('#invariants-summary'), 'invariants broken', 10_000);
    const row = page.locator('#violation-list li[data-invariant="vm-one-host"]');
    await row.waitFor();
    expect(await row.getAttribute('data-seq')).toBe(String(thaw));
    expect(await row.textContent()).toContain('VM web-01 thawed by an abort on esx-01 while esx-02 still runs it');
    await row.locator('button').click();
    await waitForText(page.locator('#cursor-label'), `event ${thaw} of`, 5000);
  });
});
