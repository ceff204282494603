/**
 * A live UI that can be read: the sequence chart with any number of kinds and labels that do not
 * collide, the event list that holds still with a protocol column and filter and no pcie
 * housekeeping by default, a live run that waits for its first page, charts from the log that
 * show a failover and a vMotion, one time format, a recording that opens at its start, a header
 * on one line with the achieved speed. `DPULAB_SCREENSHOTS=docs/screenshots` (after a build)
 * writes the screenshots docs/ui.md shows.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpulab, tempDir } from '../support/cli.js';
import { apiGet, launchBrowser, openTab, runStatus, shutDownUi, startUi, type UiProcess, until, VIEWPORT, waitForText, writeUiScenario } from './support.js';

/** Where screenshots go: `DPULAB_SCREENSHOTS`, or nowhere. */
const SHOTS = process.env.DPULAB_SCREENSHOTS ?? null;

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS === null) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, name) });
}

/** One point in virtual time, as every view writes it. */
const TIME = /^\d+\.\d{6} s$/;

interface Throughput {
  bucketNs: number;
  untilNs: number;
  flows: Array<{ id: string; measure: string; points: Array<[number, number]> }>;
}

/** The label boxes of an SVG, as drawn. */
async function labelBoxes(page: Page, selector: string): Promise<Array<{ x: number; y: number; width: number; height: number; text: string }>> {
  return page.locator(selector).evaluateAll((nodes) =>
    nodes.map((n) => {
      const box = (n as SVGGraphicsElement).getBBox();
      return { x: box.x, y: box.y, width: box.width, height: box.height, text: n.textContent ?? '' };
    }),
  );
}

function overlapping(boxes: ReadonlyArray<{ x: number; y: number; width: number; height: number; text: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) out.push(`${a.text} / ${b.text}`);
    }
  }
  return out;
}

describe('dpulab ui --db on the default lab, read as a student reads it', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'default.db');
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  let kinds = 0;

  beforeAll(async () => {
    // The default lab and scenario: a DPU killed at 1.2 s, web-01 moved at 2.2 s.
    const run = dpulab(['run', '--in-process', '--db', db, '--json']);
    expect(run.code, run.stderr).toBe(0);
    [ui, browser] = await Promise.all([startUi(['--db', db]), launchBrowser()]);
    page = await browser.newPage({ viewport: VIEWPORT });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(ui.url);
    await page.locator('#scrubber').waitFor();
    kinds = new Set((await apiGet<{ events: Array<{ kind: string }> }>(ui, '/api/events?notKind=frame.tx&limit=5000')).body.events.map((e) => e.kind)).size;
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    tmp.remove();
  });

  it('ui recording opens at its first event, the cables as they were then, not at its end', async () => {
    await waitForText(page.locator('#cursor-label'), 'event 0 of', 15_000);
    const rows = page.locator('#event-list tbody tr');
    expect(await until(async () => (await rows.count()) === 1, 10_000)).toBe(true);
    expect(await rows.first().getAttribute('data-seq')).toBe('0');
    const wires = page.locator('#topology-elements li[data-kind="wire"]');
    const atStart = await wires.evaluateAll((items) => items.map((i) => i.getAttribute('data-state')));
    await page.click('#seek-last');
    expect(await until(async () => (await wires.evaluateAll((items) => items.map((i) => i.getAttribute('data-state')))).every((s) => s === 'down'), 10_000)).toBe(true);
    // At its end every node has stopped and every cable is down: it did not open there.
    expect(atStart.every((s) => s === 'down')).toBe(false);
    await page.click('#seek-first');
    await waitForText(page.locator('#cursor-label'), 'event 0 of', 10_000);
  });

  it('ui sequence chart without frames works on a run of more than 50 kinds, its labels never collide nor its time axis repeat', async () => {
    expect(kinds).toBeGreaterThan(50);
    await page.fill('#jump', '2.2s');
    await page.click('#jump-go');
    await waitForText(page.locator('#cursor-label'), 'of', 5000);
    await openTab(page, 'sequence');
    await page.locator('#sequence-chart svg').waitFor({ timeout: 10_000 });
    await page.selectOption('select[aria-label="Events in the window"]', '160');
    await page.uncheck('#sequence-frames');
    // Drawn without frames: every dot is another kind, and nothing went wrong on the way.
    expect(
      await until(async () => {
        const titles = await page.locator('#sequence-chart circle.event title').allTextContents();
        return titles.length > 40 && titles.every((t) => !t.includes(' frame.tx'));
      }, 15_000),
    ).toBe(true);
    expect(await page.locator('#sequence-error').count()).toBe(0);
    expect(pageErrors).toEqual([]);
    const labels = await labelBoxes(page, '#sequence-chart text.event-label');
    expect(labels.length).toBeGreaterThan(10);
    expect(overlapping(labels)).toEqual([]);
    const axis = await labelBoxes(page, '#sequence-chart text.axis-label');
    expect(axis.length).toBeGreaterThan(1);
    expect(overlapping(axis)).toEqual([]);
    const texts = axis.map((a) => a.text);
    expect(texts.every((t, i) => i === 0 || t !== texts[i - 1])).toBe(true);
    expect(texts.every((t) => TIME.test(t))).toBe(true);
    await shot(page, 'sequence-many-kinds.png');
    // With frames too: 160 consecutive events, labels still apart.
    await page.check('#sequence-frames');
    expect(await until(async () => (await page.locator('#sequence-chart circle.event title').allTextContents()).some((t) => t.includes(' frame.tx')), 15_000)).toBe(true);
    expect(overlapping(await labelBoxes(page, '#sequence-chart text.event-label'))).toEqual([]);
    expect(overlapping(await labelBoxes(page, '#sequence-chart text.axis-label'))).toEqual([]);
  });

  it('ui writes every point in virtual time one way: the clock, the event list, the sequence chart', async () => {
    await openTab(page, 'events');
    const times = await page.locator('#event-list tbody tr td:nth-child(2)').allTextContents();
    expect(times.length).toBeGreaterThan(0);
    expect(times.filter((t) => !TIME.test(t))).toEqual([]);
    expect((await page.locator('#vtime').textContent())?.trim()).toMatch(TIME);
    expect((await page.locator('#tab-sequence .toolbar .muted').first().textContent()) ?? '').toMatch(/\d+\.\d{6} s to \d+\.\d{6} s/);
  });

  it('ui charts throughput from the log in 10 ms buckets: the failover shows as a dip, the vMotion switchover too, a ping is its replies', async () => {
    const answer = (await apiGet<Throughput>(ui, '/api/throughput')).body;
    expect(answer.bucketNs).toBeLessThanOrEqual(10_000_000);
    const flow = (id: string) => answer.flows.find((f) => f.id === id)!;
    const rate = (id: string, fromS: number, toS: number): number[] =>
      flow(id)
        .points.filter(([t]) => t >= fromS * 1e9 && t < toS * 1e9)
        .map(([, r]) => r);
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
    // web-app-tcp runs to esx-02's VMs: dpu-02a dies at 1.2 s and the flow stalls until the failover
    // (at the 1 s reports this was one lower point, or none).
    const steady = mean(rate('web-app-tcp', 0.7, 1.15));
    expect(steady).toBeGreaterThan(50);
    expect(Math.min(...rate('web-app-tcp', 1.2, 1.4))).toBe(0);
    // web-01's switchover (checkpoint, last pages, restore, resume: tens of ms) stops its stream to
    // web-02, and the chart shows it: at 1 ms buckets the 5 ms cadence breaks for at least 10 ms
    // between the stun and shortly after the resume, then goes on; at 10 ms the rate dips there.
    const [stun] = (await apiGet<{ events: Array<{ vtime: number }> }>(ui, '/api/events?kind=vmotion.stun&limit=1')).body.events;
    const [resume] = (await apiGet<{ events: Array<{ vtime: number }> }>(ui, '/api/events?kind=vmotion.resume&limit=1')).body.events;
    const fine = (await apiGet<Throughput>(ui, '/api/throughput?bucketMs=1')).body;
    const arrivals = fine.flows
      .find((f) => f.id === 'web-tcp')!
      .points.filter(([t, r]) => r > 0 && t > stun!.vtime - 30_000_000 && t < resume!.vtime + 60_000_000)
      .map(([t]) => t);
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(10_000_000);
    expect(arrivals.at(-1)!).toBeGreaterThan(resume!.vtime);
    const around = rate('web-tcp', (stun!.vtime - 10_000_000) / 1e9, (resume!.vtime + 10_000_000) / 1e9);
    expect(Math.min(...around)).toBeLessThan(mean(rate('web-tcp', 0.5, (stun!.vtime - 50_000_000) / 1e9)));
    // A ping is charted by the replies its sender got: the run's summary counts the same.
    const ping = flow('web-ping');
    expect(ping.measure).toBe('replies');
    const replies = ping.points.reduce((n, [, r]) => n + (r * answer.bucketNs) / 1e9, 0);
    const report = (await apiGet<{ flows: Record<string, { sender: { delivered: number } | null }> }>(ui, '/api/state')).body.flows['web-ping']!;
    expect(Math.round(replies)).toBe(report.sender!.delivered);

    await page.click('#seek-last');
    await openTab(page, 'charts');
    const box = page.locator('#chart-throughput');
    expect(await until(async () => Number(await box.getAttribute('data-buckets')) >= 350, 15_000)).toBe(true);
    expect(await box.locator('.u-legend').textContent()).toContain('web-ping (replies)');
    // A recording ended: the cores each node reported.
    expect(await until(async () => (await page.locator('#chart-cores').getAttribute('data-source')) === 'report', 10_000)).toBe(true);
    await page.locator('#chart-throughput').scrollIntoViewIfNeeded();
    await shot(page, 'charts-failover-vmotion.png');
    expect(pageErrors).toEqual([]);
  });

  it('ui api refuses a kind list past its limit with 400 naming the field, and takes 120 kinds', async () => {
    const many = Array.from({ length: 120 }, (_, i) => `kind${String(i)}`).join(',');
    expect((await apiGet(ui, `/api/events?kind=${many}&limit=1`)).status).toBe(200);
    const tooMany = Array.from({ length: 501 }, (_, i) => `kind${String(i)}`).join(',');
    const refused = await apiGet<{ field: string }>(ui, `/api/events?kind=${tooMany}&limit=1`);
    expect(refused.status).toBe(400);
    expect(refused.body.field).toBe('kind');
  });
});

describe('dpulab ui on a live run, read as a student reads it', () => {
  const tmp = tempDir();
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [ui, browser] = await Promise.all([startUi(['--record', join(tmp.dir, 'live.db'), '--scenario', writeUiScenario(tmp.dir)]), launchBrowser()]);
  });

  afterAll(() => shutDownUi(browser, ui, tmp));

  it('ui live run waits at 0 for its first page, then runs', async () => {
    // Virtual time does not move until a page opens: two seconds of asking find it at 0.
    expect(await until(async () => /Waiting for a page/.test((await apiGet<{ status: { message: string | null } }>(ui, '/api/run')).body.status.message ?? ''), 60_000)).toBe(true);
    for (let i = 0; i < 10; i++) {
      expect(await runStatus(ui)).toMatchObject({ vtime: 0, paused: true });
      await new Promise((r) => setTimeout(r, 200));
    }
    page = await browser.newPage({ viewport: VIEWPORT });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    await page.goto(ui.url);
    expect(await until(async () => (await runStatus(ui)).vtime > 600_000_000, 90_000)).toBe(true);
    expect((await runStatus(ui)).paused).toBe(false);
  });

  it('ui header shows the achieved speed beside the requested one and stays on one line whatever the message', async () => {
    await waitForText(page.locator('#achieved'), 'achieved', 30_000);
    expect(await page.locator('#achieved').textContent()).toMatch(/^achieved \d+(\.\d+)?×$/);
    const header = page.locator('#header');
    const height = await header.evaluate((e) => e.getBoundingClientRect().height);
    await page.locator('#run-message').evaluate((e) => (e.textContent = 'The run failed: '.concat('a very long reason, '.repeat(30))));
    expect(await header.evaluate((e) => e.getBoundingClientRect().height)).toBe(height);
    const clockTop = await page.locator('#vtime').evaluate((e) => e.getBoundingClientRect().top);
    expect(await page.locator('#run-message').evaluate((e) => e.getBoundingClientRect().top)).toBeLessThan(clockTop + 20);
    await page.locator('#run-message').evaluate((e) => (e.textContent = ''));
  });

  it('ui event list hides pcie housekeeping, names each frame protocol, filters by it, and holds still when not following', async () => {
    await openTab(page, 'events');
    const rows = page.locator('#event-list tbody tr');
    expect(await until(async () => (await page.locator('#event-list tbody tr[data-kind="frame.tx"]').count()) > 10, 30_000)).toBe(true);
    const protocols = async (): Promise<string[]> => page.locator('#event-list tbody tr[data-kind="frame.tx"] td.protocol').allTextContents();
    const housekeeping = ['heartbeat', 'doorbell', 'DMA txcomp', 'DMA rxfill'];
    expect((await protocols()).every((p) => p !== '' && !housekeeping.includes(p))).toBe(true);
    await page.check('#show-housekeeping');
    expect(await until(async () => (await protocols()).some((p) => housekeeping.includes(p)), 30_000)).toBe(true);
    await page.uncheck('#show-housekeeping');

    // Filtered by protocol: ARP, in the guests' frames and tunnelled.
    await page.fill('#filter-protocol', 'arp');
    await page.click('#filter-apply');
    const onlyArp = async (): Promise<boolean> => {
      const seen = await protocols();
      return seen.length > 0 && seen.length === (await rows.count()) && seen.every((p) => p.split('/').includes('ARP'));
    };
    expect(await until(onlyArp, 30_000)).toBe(true);
    expect(await page.locator('.events-meta').textContent()).toContain('matching');
    await page.click('#filter-clear');

    // Not following: the rows and the selection stay while the run goes on.
    expect(await until(async () => (await rows.count()) >= 200, 30_000)).toBe(true);
    await page.uncheck('#follow');
    await rows.nth(100).click();
    const seqs = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-seq')));
    const selected = await rows.nth(100).getAttribute('data-seq');
    const events = (await runStatus(ui)).events;
    expect(await until(async () => (await runStatus(ui)).events > events + 2000, 90_000)).toBe(true);
    expect(await until(async () => /held still, \d+ newer/.test((await page.locator('.events-meta').textContent()) ?? ''), 10_000)).toBe(true);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-seq')))).toEqual(seqs);
    expect(await page.locator('#event-list tbody tr.selected').getAttribute('data-seq')).toBe(selected);
    await shot(page, 'events-held-protocol.png');
    await page.fill('#filter-protocol', 'tcp');
    await page.click('#filter-apply');
    expect(await until(async () => (await protocols()).length > 0 && (await protocols()).every((p) => p.split('/').includes('TCP')), 30_000)).toBe(true);
    await shot(page, 'events-protocol-filter.png');
    await page.click('#filter-clear');
    await page.check('#follow');
    expect(await until(async () => Number(await rows.last().getAttribute('data-seq')) > Number(seqs[seqs.length - 1]), 30_000)).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it('ui charts live: the x axis spans the recent past, the cores fill while the run goes', async () => {
    await openTab(page, 'charts');
    expect(await until(async () => (await page.locator('#chart-cores').getAttribute('data-source')) === 'live', 60_000)).toBe(true);
    expect(await page.locator('#chart-cores canvas').count()).toBeGreaterThan(0);
    // Past 5 virtual seconds the throughput chart shows the last 5, not the run from its start.
    expect(await until(async () => (await runStatus(ui)).vtime > 6_000_000_000, 90_000)).toBe(true);
    const box = page.locator('#chart-throughput');
    expect(
      await until(async () => {
        const from = Number(await box.getAttribute('data-from'));
        const end = Number(await box.getAttribute('data-until'));
        return from > 0.5 && Math.abs(end - from - 5) < 0.001;
      }, 30_000),
    ).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
