import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { dpulab, lastJson, tempDir } from '../support/cli.js';
import { apiGet, apiPost, openTab, until, waitForText, type UiProcess, runStatus, runUntil, launchBrowser, startUi, VIEWPORT } from './support.js';
import { liveUiHooks } from './live-suite.js';

interface RunBody {
  run: { db: string; scenario: string };
  status: { state: string; vtime: number; paused: boolean; events: number };
}

interface LabBody {
  mode: string;
  labs: Array<{ name: string }>;
  lab: { name: string; db: string; endNs: number; tasks: Array<{ id: string }> } | null;
  grade: { passed: number; total: number; final: boolean; tasks: Array<{ id: string; status: string }> } | null;
}


async function taskStatuses(page: Page): Promise<Record<string, string | null>> {
  const items = page.locator('#lab-tasks li[data-task]');
  const pairs = await items.evaluateAll((lis) => lis.map((li) => [li.getAttribute('data-task'), li.getAttribute('data-status')]));
  return Object.fromEntries(pairs);
}

describe('the lab panel in the browser', () => {
  const tmp = tempDir();
  let ui: UiProcess;
  let page: Page;
  let pageErrors: string[] = [];
  let firstLabDb = '';
  liveUiHooks(tmp, (live) => ({ ui, page, pageErrors } = live), { acceptDownloads: true });

  it('lab panel lists the built-in labs and opens one: its own run, paused before the start', async () => {
    await page.click('#lab-toggle');
    const start = page.locator('#lab-list button[data-lab="kill-a-dpu"]');
    await start.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#lab-list li[data-lab]').count()).toBe(5);
    await Promise.all([page.waitForEvent('load', { timeout: 60_000 }), start.click()]);

    await waitForText(page.locator('#lab-title'), 'Kill a DPU', 15_000, true);
    const run = (await apiGet<RunBody>(ui, '/api/run')).body;
    expect(run.run.scenario).toBe('kill-a-dpu');
    expect(run.status).toMatchObject({ paused: true, vtime: 0 });
    const lab = (await apiGet<LabBody>(ui, '/api/lab')).body;
    expect(lab.lab?.name).toBe('kill-a-dpu');
    firstLabDb = lab.lab!.db;
    // The introduction is Markdown, rendered as elements: code spans, paragraphs, no stray backticks.
    expect(await page.locator('.lab-intro code', { hasText: 'dpu-02a' }).count()).toBeGreaterThan(0);
    expect(await page.locator('.lab-intro').textContent()).not.toContain('`');
    expect(Object.values(await taskStatuses(page))).toEqual(['pending', 'pending', 'pending', 'pending', 'pending', 'pending']);
    await waitForText(page.locator('#lab-summary'), '0 of 6 tasks passed so far');
    await waitForText(page.locator('#lab-clock'), 'Paused before the start');
  });

  it('lab hints are revealed one at a time', async () => {
    const task = page.locator('#lab-tasks li[data-task="rejoin"]');
    expect(await task.locator('.lab-hints li').count()).toBe(0);
    await task.locator('button.lab-hint').click();
    await waitForText(task.locator('.lab-hints li').first(), 'restart');
    expect(await task.locator('.lab-hints li').count()).toBe(1);
    await task.locator('button.lab-hint').click();
    expect(await task.locator('.lab-hints li').count()).toBe(2);
    expect(await task.locator('button.lab-hint').isHidden()).toBe(true);
  });

  it('lab solution performed through the UI turns every task to passed', async () => {
    await runUntil(page, ui, '1s', 1e9);
    await openTab(page, 'actions');
    await page.selectOption('#kill-node', 'dpu-02a');
    await page.click('#kill-button');
    await waitForText(page.locator('#action-result'), 'Scheduled kill', 5000);

    await runUntil(page, ui, '2s', 2e9);
    // The failover happened meanwhile: its tasks passed already, the rest wait for more.
    await page.locator('#lab-tasks li[data-task="kill"][data-status="passed"]').waitFor({ timeout: 10_000 });
    // Detection is measured, but it is the student's to state: it waits for a note.
    expect(await page.locator('#lab-tasks li[data-task="detection"]').getAttribute('data-status')).toBe('pending');
    expect(await page.locator('#lab-tasks li[data-task="rejoin"]').getAttribute('data-status')).toBe('pending');
    let detectNs: number | undefined;
    expect(await until(async () => {
      const failed = dpulab(['log', firstLabDb, '--kind', 'dpu.failed', '--json']).stdout.trim();
      detectNs = failed === '' ? undefined : (JSON.parse(failed.split('\n')[0]!) as { payload: { detectNs: number } }).payload.detectNs;
      return detectNs !== undefined;
    }, 10_000)).toBe(true);
    await page.fill('#lab-step', `{ action: note, text: "detection took ${(detectNs! / 1e6).toFixed(3)} ms" }`);
    await page.click('#lab-step-send');
    await waitForText(page.locator('#lab-step-result'), 'Scheduled note', 5000);
    await page.selectOption('#kill-node', 'dpu-02a');
    await page.click('#restart-button');
    await waitForText(page.locator('#action-result'), 'Scheduled restart', 5000);

    await page.selectOption('#speed', '0');
    await page.click('#resume');
    expect(await until(async () => (await runStatus(ui)).state === 'completed', 60_000)).toBe(true);
    await waitForText(page.locator('#lab-summary'), '6 of 6 tasks passed', 15_000, true);
    expect(Object.values(await taskStatuses(page))).toEqual(['passed', 'passed', 'passed', 'passed', 'passed', 'passed']);
    await waitForText(page.locator('#lab-clock'), 'the grade is final');
    const grade = (await apiGet<LabBody>(ui, '/api/lab')).body.grade!;
    expect(grade).toMatchObject({ passed: 6, total: 6, final: true });

    // The run the student made in the browser is an ordinary log: headless grading agrees.
    const check = dpulab(['lab', 'check', 'kill-a-dpu', firstLabDb, '--json']);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(lastJson<{ ok: boolean; warnings: string[] }>(check)).toMatchObject({ ok: true, warnings: [] });
  });

  it('lab grade report downloads as JSON with every task', async () => {
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), page.click('#lab-save')]);
    expect(download.suggestedFilename()).toBe('kill-a-dpu-grade.json');
    const file = join(tmp.dir, 'grade.json');
    await download.saveAs(file);
    const report = JSON.parse(readFileSync(file, 'utf8')) as { lab: string; passed: number; total: number; final: boolean; run: { db: string }; tasks: Array<{ id: string; status: string; observed: string[] }> };
    expect(report).toMatchObject({ lab: 'kill-a-dpu', passed: 6, total: 6, final: true, run: { db: firstLabDb } });
    expect(report.tasks.map((t) => t.status)).toEqual(Array(6).fill('passed'));
    expect(report.tasks.find((t) => t.id === 'detection')!.observed[0]).toMatch(/failover detection time of esx-02: \d/);
    // Bound as `lab check --json` binds a grade: the same log, lab and versions give the same fields.
    const check = lastJson<Record<string, unknown>>(dpulab(['lab', 'check', 'kill-a-dpu', firstLabDb, '--json']));
    const binding = ['fingerprint', 'seed', 'labVersion', 'labSha256', 'recordedBy', 'gradedBy'];
    for (const field of binding) expect((report as unknown as Record<string, unknown>)[field], field).toEqual(check[field]);
    expect(check.fingerprint).toMatch(/^[0-9a-f]{64}$/);
  });

  it('lab reset starts the lab again from scratch, in a new log', async () => {
    await Promise.all([page.waitForEvent('load', { timeout: 60_000 }), page.click('#lab-reset')]);
    await waitForText(page.locator('#lab-summary'), '0 of 6 tasks passed so far', 15_000, true);
    const lab = (await apiGet<LabBody>(ui, '/api/lab')).body;
    expect(lab.lab!.db).not.toBe(firstLabDb);
    expect(await runStatus(ui)).toMatchObject({ paused: true, vtime: 0 });
    expect(Object.values(await taskStatuses(page))).toEqual(Array(6).fill('pending'));
  });

  it('lab step box takes any action now, and says what was wrong with a step', async () => {
    await page.fill('#lab-step', '{ action: note, text: "typed in the lab panel" }');
    await page.click('#lab-step-send');
    await waitForText(page.locator('#lab-step-result'), 'Scheduled note at 0.000000 s', 5000);
    await page.fill('#lab-step', '{ at: 1s, action: note, text: later }');
    await page.click('#lab-step-send');
    await waitForText(page.locator('#lab-step-result'), 'leave out at', 5000);
    await page.fill('#lab-step', '{ action: kill, node: dpu-99z }');
    await page.click('#lab-step-send');
    await waitForText(page.locator('#lab-step-result'), 'Action kill: node: no node "dpu-99z"', 5000);
  });

  it('lab api refuses an unknown lab or a malformed request, naming the field, and changes nothing', async () => {
    const before = (await apiGet<LabBody>(ui, '/api/lab')).body.lab!.db;
    const unknown = await apiPost<{ field: string; error: string }>(ui, '/api/lab', { lab: 'no-such-lab' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.field).toBe('lab');
    const malformed = await apiPost<{ field: string }>(ui, '/api/lab', { lab: 'kill-a-dpu', extra: 1 });
    expect(malformed.status).toBe(400);
    expect(malformed.body.field).toBe('extra');
    const path = await apiPost<{ field: string }>(ui, '/api/lab', { lab: '../etc/passwd' });
    expect(path.status).toBe(400);
    expect((await apiGet<LabBody>(ui, '/api/lab')).body.lab!.db).toBe(before);
    // The step box's refused kill is a 400 the browser logs; nothing else went wrong on the page.
    expect(pageErrors.filter((e) => !e.includes('status of 400'))).toEqual([]);
  });
});

describe('the lab panel over a recording', () => {
  const tmp = tempDir();
  let ui: UiProcess | undefined;
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    tmp.remove();
  });

  it('lab file text is shown as text: markup in it never becomes elements, unsafe links stay text', async () => {
    const db = join(tmp.dir, 'run.db');
    expect(dpulab(['lab', 'run', 'passthrough-inactive', '--solution', '--in-process', '--db', db]).code).toBe(0);
    const lab = join(tmp.dir, 'evil.yaml');
    writeFileSync(
      lab,
      `name: evil
title: <b>Evil</b> lab
introduction: |
  Hello <img src=x onerror="document.title='owned'"> and <script>document.title='owned'</script>.

  [click](javascript:document.title='owned') and [docs](https://example.org/docs) and **bold**.
tasks:
  - id: note
    text: Leave a <i>note</i>.
    hints: ["<img src=y>"]
    check: { type: event, kind: input.note, where: { text: { contains: reservation } } }
`,
    );
    ui = await startUi(['--db', db, '--lab', lab]);
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: VIEWPORT });
    await page.goto(ui.url);
    await waitForText(page.locator('#lab-title'), '<b>Evil</b> lab', 15_000, true);
    const panel = page.locator('#lab-panel');
    expect(await panel.locator('img, script, b, i').count()).toBe(0);
    expect(await panel.locator('.lab-intro').textContent()).toContain('<img src=x');
    expect(await panel.locator('.lab-intro strong').textContent()).toBe('bold');
    // markdown-it refuses a javascript: link outright: it stays text.
    expect(await panel.locator('.lab-intro a', { hasText: 'click' }).count()).toBe(0);
    expect(await panel.locator('.lab-intro').textContent()).toContain('[click](javascript:');
    expect(await panel.locator('.lab-intro a', { hasText: 'docs' }).getAttribute('href')).toBe('https://example.org/docs');
    expect(await page.title()).not.toBe('owned');
    // Over a recording the grade is final at once: the solution's note names the reason.
    await page.locator('#lab-tasks li[data-task="note"][data-status="passed"]').waitFor({ timeout: 10_000 });
    await waitForText(page.locator('#lab-summary'), '1 of 1 tasks passed', 5000, true);
    expect(await page.locator('#lab-reset').count()).toBe(0);
  });
});
