/**
 * Makes the screenshots in docs/screenshots with a real browser: run it by hand after a build,
 *
 *   node dist/test/ui/screenshots.js [OUTPUT_DIR]
 *
 * topology.png (a live run with traffic), inspector.png (a DPU's live state), sequence-chart.png
 * (a firewall rule pushed to every DPU, cause to effect), replay-scrubber.png (a recording
 * opened with --db, seeked to the middle).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { dpulab, ROOT, tempDir } from '../support/cli.js';
import { apiGet, clickTopology, launchBrowser, openTab, startUi, until, writeUiScenario, type UiProcess } from './support.js';

const VIEWPORT = { width: 1600, height: 1000 };

async function main(): Promise<void> {
  const out = process.argv[2] ?? join(ROOT, 'docs', 'screenshots');
  mkdirSync(out, { recursive: true });
  const tmp = tempDir();
  const browser = await launchBrowser();
  let live: UiProcess | null = null;
  let replay: UiProcess | null = null;
  try {
    const scenario = writeUiScenario(tmp.dir);
    live = await startUi(['--record', join(tmp.dir, 'live.db'), '--scenario', scenario]);
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(live.url);
    const ui = live;
    await until(async () => (await apiGet<{ status: { vtime: number } }>(ui, '/api/run')).body.status.vtime > 1_600_000_000, 30_000);
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(out, 'topology.png') });

    await clickTopology(page, 'dpu-01a');
    await page.locator('.inspector .panel-section').first().waitFor();
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(out, 'inspector.png') });

    await page.fill('#filter-kind', 'input.dfw');
    await page.click('#filter-apply');
    await page.locator('#event-list tbody tr[data-kind="input.dfw.rule.add"]').first().click();
    await openTab(page, 'sequence');
    await page.locator('#sequence-chart svg').waitFor();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(out, 'sequence-chart.png') });
    await page.close();

    const db = join(tmp.dir, 'recorded.db');
    const run = dpulab(['run', '--in-process', '--seed', '3', '--scenario', scenario, '--until', '3s', '--db', db, '--json']);
    if (run.code !== 0) throw new Error(`dpulab run failed: ${run.stderr}`);
    replay = await startUi(['--db', db]);
    const second = await browser.newPage({ viewport: VIEWPORT });
    await second.goto(replay.url);
    await second.locator('#scrubber').waitFor();
    await second.fill('#jump', '1.2s');
    await second.click('#jump-go');
    await second.waitForTimeout(500);
    await clickTopology(second, 'dpu-02a');
    await second.locator('.inspector .panel-section').first().waitFor();
    await second.waitForTimeout(500);
    await second.screenshot({ path: join(out, 'replay-scrubber.png') });
    process.stdout.write(`screenshots written to ${out}\n`);
  } finally {
    await browser.close();
    await live?.stop();
    await replay?.stop();
    tmp.remove();
  }
}

await main();
