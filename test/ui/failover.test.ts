/**
 * DPU failover in the browser, as a student meets it: `dpulab ui --lab kill-a-dpu`, run until
 * 1 s, kill dpu-02a, run until 2 s. The standby must be drawn active and the dead DPU failed,
 * every vNIC line must go to the DPU that serves it now, and the DPU, host, VM and vNIC inspectors
 * and the downloaded report must say the same. Then a VM moved onto the failed-over host shows no
 * false mismatch, and a failover of the other host leaves both promoted DPUs active. A recording
 * of failovers on both hosts is sought across each failover, forwards and back.
 *
 * Screenshots (failover-*.png) go to $DPULAB_SCREENSHOTS (`docs/screenshots` to refresh the
 * ones the docs show), else to the test's temporary directory: a test run leaves the tree as it was.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpulab, ROOT, tempDir } from '../support/cli.js';
import { apiGet, apiPost, clickTopology, launchBrowser, openRecording, openTab, runUntil, seekTo, shutDownUi, startUi, UI_SCENARIO_YAML, type UiProcess, until, VIEWPORT, waitForText } from './support.js';

const SHOTS_DIR = process.env.DPULAB_SCREENSHOTS;

interface EventsBody {
  events: Array<{ seq: number; vtime: number; kind: string; node: string; payload: Record<string, unknown> }>;
}

/** An attribute of a topology element's accessible mirror. */
async function mirror(page: Page, id: string, attribute: string): Promise<string | null> {
  return page.locator(`#topology-elements li[data-id="${id}"]`).getAttribute(attribute, { timeout: 2000 });
}

/** Waits until the topology draws `id` with `attribute` = `value`. */
async function drawn(page: Page, id: string, attribute: string, value: string, timeoutMs = 10_000): Promise<void> {
  let seen: string | null = null;
  const ok = await until(async () => (seen = await mirror(page, id, attribute)) === value, timeoutMs);
  if (!ok) throw new Error(`Topology ${id} ${attribute}: expected ${value}, saw ${String(seen)}`);
}

/** What each view says about the roles and serving devices: the same facts, read from each. */
interface Said {
  role: Record<string, string>;
  serving: Record<string, string>;
}

/** The DPU inspector of `dpu`: its role as its host gives it, and its condition. */
async function dpuInspector(page: Page, dpu: string): Promise<{ role: string; condition: string; own: string }> {
  await clickTopology(page, dpu);
  const role = page.locator(`.inspector .dpu-role[data-dpu="${dpu}"]`);
  await role.waitFor({ timeout: 10_000 });
  return { role: (await role.getAttribute('data-role'))!, condition: (await role.getAttribute('data-condition'))!, own: (await role.getAttribute('data-own-role'))! };
}

/** The host inspector of `host`: each DPU's role and each vNIC's serving device. */
async function hostInspector(page: Page, host: string): Promise<Said> {
  await clickTopology(page, host);
  await page.locator('.inspector tr[data-dpu]').first().waitFor({ timeout: 10_000 });
  const role = Object.fromEntries(await page.locator('.inspector tr[data-dpu]:not([data-vnic])').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-dpu'), r.getAttribute('data-role')])));
  const serving = Object.fromEntries(await page.locator('.inspector tr[data-vnic]').evaluateAll((rows) => rows.map((r) => [r.getAttribute('data-vnic'), `${r.getAttribute('data-dpu')} ${r.getAttribute('data-device')} ${r.getAttribute('data-vf')}`])));
  return { role, serving };
}

/** The device the VM (or vNIC) inspector says serves `vnic`, and its comparison's verdict (live only). */
async function servingShown(page: Page, vnic: string, live: boolean): Promise<{ serving: string; verdict: string | null }> {
  const line = page.locator(`.inspector .vnic-serving[data-vnic="${vnic}"]`);
  await line.waitFor({ timeout: 15_000 });
  const serving = `${await line.getAttribute('data-dpu')} ${await line.getAttribute('data-device')} ${await line.getAttribute('data-vf')}`;
  if (!live) return { serving, verdict: null };
  const verdict = page.locator('.inspector .verdict').first();
  await verdict.waitFor({ timeout: 15_000 });
  return { serving, verdict: (await verdict.textContent()) ?? '' };
}

/** Downloads the Report and returns its text. */
async function report(page: Page, dir: string): Promise<string> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click('#save-report')]);
  const file = join(dir, `report-${Date.now()}.md`);
  await download.saveAs(file);
  return readFileSync(file, 'utf8');
}

/** A row of the report's DPU table. */
function reportRole(text: string, dpu: string): string | null {
  return new RegExp(`^\\| ${dpu} \\| esx-[^|]+ \\| (\\w+) \\|`, 'm').exec(text)?.[1] ?? null;
}

/** The serving device a row of the report's vNIC table names. */
function reportServing(text: string, vnic: string): string | null {
  return new RegExp(`^\\| ${vnic.replace('.', '\\.')} \\| [^|]+ \\| [^|]+ \\| [^|]+ \\| ([^|]+) \\|`, 'm').exec(text)?.[1]?.trim() ?? null;
}

describe('dpulab ui --lab kill-a-dpu: a DPU killed in the live UI', () => {
  const tmp = tempDir();
  const SHOTS = SHOTS_DIR === undefined ? join(tmp.dir, 'screenshots') : resolve(ROOT, SHOTS_DIR);
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    [ui, browser] = await Promise.all([startUi(['--lab', 'kill-a-dpu', '--record', join(tmp.dir, 'lab.db')]), launchBrowser()]);
    page = await browser.newPage({ viewport: VIEWPORT, acceptDownloads: true });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(ui.url);
    await waitForText(page.locator('#lab-title'), 'Kill a DPU', 20_000, true);
  });

  afterAll(() => shutDownUi(browser, ui, tmp));

  it('ui failover: after dpu-02a is killed, dpu-02b is drawn active, dpu-02a failed, and the vNIC lines go to dpu-02b', async () => {
    await runUntil(page, ui, '1s', 1e9);
    await drawn(page, 'web-02.eth0', 'data-dpu', 'dpu-02a');
    await drawn(page, 'dpu-02b', 'data-state', 'standby');
    await openTab(page, 'actions');
    await page.selectOption('#kill-node', 'dpu-02a');
    await page.click('#kill-button');
    await waitForText(page.locator('#action-result'), 'Scheduled kill', 5000);
    await runUntil(page, ui, '2s', 2e9);

    await drawn(page, 'dpu-02b', 'data-state', 'active');
    expect(await mirror(page, 'dpu-02b', 'data-role')).toBe('active');
    expect(await mirror(page, 'dpu-02b', 'data-own-role')).toBe('active');
    expect(await mirror(page, 'dpu-02a', 'data-state')).toBe('failed');
    for (const vnic of ['web-02.eth0', 'app-02.eth0']) {
      expect(await mirror(page, vnic, 'data-dpu')).toBe('dpu-02b');
      expect(await mirror(page, vnic, 'data-broken')).toBe('false');
    }
    expect(await mirror(page, 'web-02.eth0', 'data-device')).toMatch(/^vf \d+$/);
    // esx-01 is untouched.
    expect([await mirror(page, 'dpu-01a', 'data-state'), await mirror(page, 'dpu-01b', 'data-state')]).toEqual(['active', 'standby']);
    await page.locator('#lab-tasks li[data-task="failover"][data-status="passed"]').waitFor({ timeout: 10_000 });
    await page.screenshot({ path: join(SHOTS, 'failover-topology.png') });
  });

  it('ui failover: the DPU, host, VM and vNIC inspectors and the report agree on roles and on the device serving each vNIC', async () => {
    expect(await dpuInspector(page, 'dpu-02b')).toEqual({ role: 'active', condition: 'active', own: 'active' });
    await waitForText(page.locator('.inspector-title .pill').first(), 'active', 5000, true);
    expect(await dpuInspector(page, 'dpu-02a')).toEqual({ role: 'standby', condition: 'failed', own: '' });

    const host = await hostInspector(page, 'esx-02');
    expect(host.role).toEqual({ 'dpu-02a': 'standby', 'dpu-02b': 'active' });
    const web02 = host.serving['web-02.eth0']!;
    expect(web02).toMatch(/^dpu-02b vf \d+$/);
    await page.screenshot({ path: join(SHOTS, 'failover-host-inspector.png') });

    await clickTopology(page, 'web-02');
    const vm = await servingShown(page, 'web-02.eth0', true);
    expect(vm.serving).toBe(web02);
    expect(vm.verdict).toContain('The guest cannot tell');
    await clickTopology(page, 'web-02.eth0');
    const vnic = await servingShown(page, 'web-02.eth0', true);
    expect(vnic.serving).toBe(web02);
    expect(vnic.verdict).toContain('The guest cannot tell');
    // The comparison is with the VF on dpu-02b, not with the host's emulated backend.
    expect(await page.locator('.inspector .compared').getAttribute('data-device')).toMatch(/^dpu-02b VF \d+/);

    const text = await report(page, tmp.dir);
    expect(reportRole(text, 'dpu-02b')).toBe('active');
    expect(reportRole(text, 'dpu-02a')).toBe('standby');
    expect(reportServing(text, 'web-02.eth0')).toBe(`dpu-02b VF ${web02.split(' ')[2]}`);
    expect(text).toMatch(/^\| esx-02 \| dpu-02a \| dpu-02b \| crash \| done \|/m);
  });

  it('ui failover: a VM moved onto the failed-over host is served by a dpu-02b VF and its inspector shows no mismatch', async () => {
    const scheduled = await apiPost(ui, '/api/action', { record: { action: 'vmotion', vm: 'web-01', to: 'esx-02' } });
    expect(scheduled.status).toBe(200);
    await runUntil(page, ui, '3s', 3e9);
    const done = (await apiGet<EventsBody>(ui, '/api/events?kind=vmotion.done')).body.events;
    expect(done.map((e) => e.payload.result)).toEqual(['success']);
    await drawn(page, 'web-01.eth0', 'data-dpu', 'dpu-02b');
    await drawn(page, 'web-01', 'data-host', 'esx-02');
    const host = await hostInspector(page, 'esx-02');
    expect(host.serving['web-01.eth0']).toMatch(/^dpu-02b vf \d+$/);
    await clickTopology(page, 'web-01');
    const vm = await servingShown(page, 'web-01.eth0', true);
    expect(vm.serving).toBe(host.serving['web-01.eth0']);
    expect(vm.verdict).toContain('The guest cannot tell');
    await page.locator('.inspector .compared').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'failover-moved-vm.png') });
  });

  it('ui failover on each host: after dpu-01a is killed too, dpu-01b and dpu-02b are both active', async () => {
    await openTab(page, 'actions');
    await page.selectOption('#kill-node', 'dpu-01a');
    await page.click('#kill-button');
    await waitForText(page.locator('#action-result'), 'Scheduled kill', 5000);
    await runUntil(page, ui, '3.6s', 3.6e9);
    await drawn(page, 'dpu-01b', 'data-state', 'active');
    expect(await Promise.all(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => mirror(page, d, 'data-state')))).toEqual(['failed', 'active', 'failed', 'active']);
    for (const vnic of ['app-01.eth0', 'db-01.eth0']) expect(await mirror(page, vnic, 'data-dpu')).toBe('dpu-01b');
    expect(await dpuInspector(page, 'dpu-01b')).toEqual({ role: 'active', condition: 'active', own: 'active' });
    expect((await hostInspector(page, 'esx-01')).role).toEqual({ 'dpu-01a': 'standby', 'dpu-01b': 'active' });
    await page.screenshot({ path: join(SHOTS, 'failover-both-hosts.png') });
    const text = await report(page, tmp.dir);
    expect(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => reportRole(text, d))).toEqual(['standby', 'active', 'standby', 'active']);
    expect(reportServing(text, 'app-01.eth0')).toMatch(/^dpu-01b VF \d+$/);
    expect(pageErrors).toEqual([]);
  });
});

describe('dpulab ui --db: seeking a recorded run across its failovers', () => {
  const tmp = tempDir();
  const SHOTS = SHOTS_DIR === undefined ? tmp.dir : resolve(ROOT, SHOTS_DIR);
  const db = join(tmp.dir, 'failover.db');
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  /** Seqs of each host's dpu.failed and dpu.failover.done. */
  const at: Record<string, number> = {};

  beforeAll(async () => {
    const scenario = join(tmp.dir, 'failover.yaml');
    writeFileSync(scenario, `${UI_SCENARIO_YAML}  - { at: 1.2s, action: kill, node: dpu-02a }\n  - { at: 1.8s, action: kill, node: dpu-01a }\n`);
    const run = dpulab(['run', '--in-process', '--seed', '2', '--scenario', scenario, '--until', '2.5s', '--db', db, '--json']);
    expect(run.code, run.stderr).toBe(0);
    ({ ui, browser, page } = await openRecording(db, { acceptDownloads: true }));
    for (const e of (await apiGet<EventsBody>(ui, '/api/events?kind=dpu.failed&kind=dpu.failover.done')).body.events) at[`${e.node} ${e.kind}`] = e.seq;
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    tmp.remove();
  });

  it('ui recording: before esx-02 fails over dpu-02b is standby and web-02.eth0 goes to dpu-02a; from its failover.done, dpu-02b is active and serves it', async () => {
    expect(Object.keys(at).sort()).toEqual(['esx-01 dpu.failed', 'esx-01 dpu.failover.done', 'esx-02 dpu.failed', 'esx-02 dpu.failover.done']);
    await seekTo(page, at['esx-02 dpu.failed']! - 1);
    await drawn(page, 'dpu-02b', 'data-state', 'standby', 5000);
    expect(await mirror(page, 'dpu-02a', 'data-state')).toBe('failed');
    expect(await mirror(page, 'web-02.eth0', 'data-dpu')).toBe('dpu-02a');
    expect(await mirror(page, 'web-02.eth0', 'data-broken')).toBe('true');

    await seekTo(page, at['esx-02 dpu.failover.done']!);
    await drawn(page, 'dpu-02b', 'data-state', 'active', 5000);
    await drawn(page, 'web-02.eth0', 'data-dpu', 'dpu-02b', 5000);
    expect(await mirror(page, 'web-02.eth0', 'data-device')).toMatch(/^vf \d+$/);
    expect(await dpuInspector(page, 'dpu-02b')).toEqual({ role: 'active', condition: 'active', own: 'active' });
    const host = await hostInspector(page, 'esx-02');
    expect(host.role).toEqual({ 'dpu-02a': 'standby', 'dpu-02b': 'active' });
    await clickTopology(page, 'web-02');
    expect((await servingShown(page, 'web-02.eth0', false)).serving).toBe(host.serving['web-02.eth0']);
    await clickTopology(page, 'web-02.eth0');
    expect((await servingShown(page, 'web-02.eth0', false)).serving).toBe(host.serving['web-02.eth0']);
    const text = await report(page, tmp.dir);
    expect(reportRole(text, 'dpu-02b')).toBe('active');
    expect(reportServing(text, 'web-02.eth0')).toBe(`dpu-02b VF ${host.serving['web-02.eth0']!.split(' ')[2]}`);
    await page.screenshot({ path: join(SHOTS, 'failover-replay.png') });

    // Backwards again: standby, and the line back to the dead DPU.
    await seekTo(page, at['esx-02 dpu.failed']! - 1);
    await drawn(page, 'dpu-02b', 'data-state', 'standby', 5000);
    await drawn(page, 'web-02.eth0', 'data-dpu', 'dpu-02a', 5000);
    expect(reportRole(await report(page, tmp.dir), 'dpu-02b')).toBe('standby');
  });

  it('ui recording: after the failover of each host both promoted DPUs are active, the inspectors and the report agree', async () => {
    await seekTo(page, at['esx-01 dpu.failover.done']!);
    await drawn(page, 'dpu-01b', 'data-state', 'active', 5000);
    expect(await Promise.all(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => mirror(page, d, 'data-state')))).toEqual(['failed', 'active', 'failed', 'active']);
    for (const vnic of ['app-01.eth0', 'db-01.eth0', 'web-01.eth0']) expect(await mirror(page, vnic, 'data-dpu')).toBe('dpu-01b');
    expect((await hostInspector(page, 'esx-01')).role).toEqual({ 'dpu-01a': 'standby', 'dpu-01b': 'active' });
    expect(await dpuInspector(page, 'dpu-01b')).toEqual({ role: 'active', condition: 'active', own: 'active' });
    const text = await report(page, tmp.dir);
    expect(['dpu-01a', 'dpu-01b', 'dpu-02a', 'dpu-02b'].map((d) => reportRole(text, d))).toEqual(['standby', 'active', 'standby', 'active']);
  });
});
