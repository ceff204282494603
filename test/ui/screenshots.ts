/**
 * Makes the screenshots in docs/screenshots with a real browser: run it by hand after a build,
 *
 *   npm run build:dev && node dist-dev/test/ui/screenshots.js [OUTPUT_DIR]
 *
 * topology.png (a live run with traffic), inspector.png (a DPU's live state), sequence-chart.png
 * (a firewall rule pushed to every DPU, cause to effect), then a vMotion of web-01 to esx-02
 * started from the Actions tab: vmotion-handoff.png (the run paused by "run until vnic.handoff",
 * web-01.eth0 emulated mid hand-off, guest driver and device side by side), vmotion-sequence.png
 * (stun to resume: firewall export and import, RARP, VF again), vmotion-topology.png (web-01 in
 * esx-02), vmotion-rounds.png (pre-copy rounds of web-01 and of app-01, the latter with a
 * switchover goal of 20 µs so that it needs several rounds), and replay-scrubber.png (a
 * recording of a vMotion opened with --db, the cursor at its resume).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dpulab, ROOT, tempDir } from '../support/cli.js';
import { apiGet, apiPost, clickTopology, launchBrowser, openTab, startUi, UI_SCENARIO_YAML, until, waitForText, writeUiScenario, type UiProcess, VIEWPORT } from './support.js';


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

    // vMotion of web-01 from the Actions tab, the run paused at its first hand-off.
    await page.click('#pause');
    await waitForText(page.locator('#run-state'), 'paused', 5000, true);
    await openTab(page, 'actions');
    await page.selectOption('#vmotion-vm', 'web-01');
    await page.selectOption('#vmotion-to', 'esx-02');
    await page.click('#vmotion-start');
    await waitForText(page.locator('#action-result'), 'Scheduled vmotion', 5000);
    await page.fill('#until', 'vnic.handoff');
    await page.click('#until-go');
    await waitForText(page.locator('#run-message'), 'Reached vnic.handoff', 20_000);
    await waitForText(page.locator('#run-state'), 'paused', 5000, true);
    await until(async () => (await page.locator('#topology-elements li[data-id="web-01.eth0"]').getAttribute('data-state')) === 'emulated', 5000);
    await openTab(page, 'events');
    await page.fill('#filter-kind', 'vmotion, vnic.handoff, vnic.mode, vf.state');
    await page.click('#filter-apply');
    await clickTopology(page, 'web-01.eth0');
    await page.locator('.vnic-view table.compare').waitFor({ timeout: 10_000 });
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(out, 'vmotion-handoff.png') });

    await page.click('#resume');
    const migrations = async (): Promise<number> => (await apiGet<{ events: unknown[] }>(ui, '/api/events?kind=vmotion.done')).body.events.length;
    await until(async () => (await migrations()) > 0, 30_000);
    await page.waitForTimeout(1200);
    await clickTopology(page, 'web-01');
    await page.locator('.inspector .vmotion-phase').waitFor();
    await page.fill('#filter-kind', 'vmotion, vnic.handoff, dfw.export, dfw.import, net.rarp');
    await page.click('#filter-apply');
    await page.waitForTimeout(800);
    await page.screenshot({ path: join(out, 'vmotion-topology.png') });

    // Stun to resume, without the frames that carry it.
    await page.locator('#event-list tbody tr[data-kind="vmotion.stun"]').first().click();
    await openTab(page, 'sequence');
    await page.locator('#tab-sequence .toolbar input[type="checkbox"]').uncheck();
    await page.locator('#tab-sequence .toolbar select').selectOption('20');
    await page.locator('#sequence-chart svg').waitFor();
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(out, 'vmotion-sequence.png') });

    // app-01 with a switchover goal so tight that pre-copy needs several rounds.
    await apiPost(ui, '/api/action', { record: { action: 'vmotion', vm: 'app-01', to: 'esx-02', options: { switchoverGoal: '20us' } } });
    await until(async () => (await migrations()) > 1, 60_000);
    await openTab(page, 'charts');
    await page.locator('#chart-vmotion .uplot').waitFor();
    await page.waitForTimeout(800);
    await clickTopology(page, 'app-01');
    await page.locator('.inspector .vmotion-phase').waitFor();
    await page.locator('#chart-vmotion').evaluate((chart) => chart.closest('.chart-card')!.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: join(out, 'vmotion-rounds.png') });
    await page.close();

    const db = join(tmp.dir, 'recorded.db');
    const recorded = join(tmp.dir, 'vmotion.yaml');
    writeFileSync(recorded, `${UI_SCENARIO_YAML}  - { at: 1.2s, action: vmotion, vm: web-01, to: esx-02 }\n`);
    const run = dpulab(['run', '--in-process', '--seed', '3', '--scenario', recorded, '--until', '3s', '--db', db, '--json']);
    if (run.code !== 0) throw new Error(`dpulab run failed: ${run.stderr}`);
    replay = await startUi(['--db', db]);
    const second = await browser.newPage({ viewport: VIEWPORT });
    await second.goto(replay.url);
    await second.locator('#scrubber').waitFor();
    await second.fill('#jump', '1.2s');
    await second.click('#jump-go');
    await second.waitForTimeout(300);
    await second.fill('#jump', 'vmotion.resume');
    await second.click('#jump-go');
    await second.waitForTimeout(500);
    await clickTopology(second, 'web-01');
    await second.locator('.inspector .vmotion-phase').waitFor();
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
