/**
 * vMotion in the browser: a VM dragged with the mouse onto another host migrates, the hand-off
 * events show in the event list, the VM is drawn in its new host, and a recording shows it on
 * either host depending on where the cursor is.
 *
 * The live run uses the UI tests' own scenario (test/ui/support.ts: traffic only, no vMotion),
 * not the default one, which migrates web-01 itself at 2.2 s. So every vMotion event seen here
 * comes from the drag, and web-01 is the VM to drag: passthrough (UPTv2) with a TCP stream and a
 * ping running, the case the hand-off exists for.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpulab, tempDir } from '../support/cli.js';
import { apiGet, clickTopology, openTab, topologyState, UI_SCENARIO_YAML, until, waitForText, type UiProcess, openRecording, seekTo } from './support.js';
import { liveUiHooks } from './live-suite.js';

interface EventsBody {
  events: Array<{ seq: number; vtime: number; kind: string; node: string; payload: Record<string, unknown> }>;
  total: number;
}


/** An element of the topology as its accessible mirror describes it. */
async function mirror(page: Page, id: string, attribute: string): Promise<string | null> {
  return page.locator(`#topology-elements li[data-id="${id}"]`).getAttribute(attribute, { timeout: 2000 });
}

/** A host's drawn box, relative to the canvas: [x1, y1, x2, y2]. */
async function hostBox(page: Page, host: string): Promise<number[]> {
  const box = (await mirror(page, host, 'data-box')) ?? '';
  const values = box.split(' ').map(Number);
  if (values.length !== 4 || values.some((v) => !Number.isFinite(v))) throw new Error(`No box for ${host}: ${JSON.stringify(box)}`);
  return values;
}

/** Whether the graph draws `vm` in `host`: its parent there, and its centre inside the host's box. */
async function drawnIn(page: Page, vm: string, host: string): Promise<boolean> {
  if ((await mirror(page, vm, 'data-host')) !== host) return false;
  const [x1, y1, x2, y2] = await hostBox(page, host);
  const x = Number(await mirror(page, vm, 'data-x'));
  const y = Number(await mirror(page, vm, 'data-y'));
  return x > x1! && x < x2! && y > y1! && y < y2!;
}

/** Drags a VM with the mouse, in small steps as a hand does, and drops it in the middle of a host. */
async function dragVm(page: Page, vm: string, host: string): Promise<void> {
  const canvas = await page.locator('.topology-canvas').boundingBox();
  if (!canvas) throw new Error('The topology is not on the page');
  const x = Number(await mirror(page, vm, 'data-x'));
  const y = Number(await mirror(page, vm, 'data-y'));
  const [x1, y1, x2, y2] = await hostBox(page, host);
  await page.mouse.move(canvas.x + x, canvas.y + y);
  await page.mouse.down();
  await page.mouse.move(canvas.x + (x1! + x2!) / 2, canvas.y + (y1! + y2!) / 2, { steps: 30 });
  await page.mouse.up();
}

/** The latest delivered count the receiver of `flow` reported, or -1. */
async function delivered(ui: UiProcess, flow: string): Promise<{ seq: number; delivered: number }> {
  const reports = (await apiGet<EventsBody>(ui, '/api/events?kind=flow.report&order=desc&limit=200')).body.events;
  const last = reports.filter((e) => e.payload.flow === flow && e.payload.side === 'receiver').pop();
  return last ? { seq: last.seq, delivered: Number(last.payload.delivered) } : { seq: -1, delivered: -1 };
}

describe('dpulab ui: vMotion by dragging a VM onto another host', () => {
  const tmp = tempDir();
  let ui: UiProcess;
  let page: Page;
  let pageErrors: string[] = [];
  liveUiHooks(tmp, (live) => ({ ui, page, pageErrors } = live));

  it('ui offers vmotion: VMs can be dragged and the Actions tab has a vMotion form', async () => {
    const run = (await apiGet<{ actions: string[] }>(ui, '/api/run')).body;
    expect(run.actions).toContain('vmotion');
    await page.locator('#topology-elements li[data-id="web-01"]').waitFor({ state: 'attached', timeout: 15_000 });
    expect(await until(async () => (await topologyState(page, 'web-01')) === 'uptv2', 15_000)).toBe(true);
    expect(await drawnIn(page, 'web-01', 'esx-01')).toBe(true);
    await openTab(page, 'actions');
    await page.locator('#vmotion-vm').waitFor();
    await page.selectOption('#vmotion-vm', 'web-01');
    // The destination offered is a host web-01 is not on.
    expect(await page.locator('#vmotion-to').inputValue()).toBe('esx-02');
    await waitForText(page.locator('#vmotion-from'), 'web-01 runs on esx-01');
  });

  it('ui starts a flow to web-01, then web-01 dragged onto esx-02 migrates: hand-off events listed, VM drawn in esx-02', async () => {
    // A flow into the VM that moves, started from the Actions tab.
    await page.fill('#flow-id', 'to-web-01');
    await page.selectOption('#flow-kind', 'udp');
    await page.selectOption('#flow-from', 'web-02');
    await page.fill('#flow-to', 'web-01');
    await page.fill('#flow-rate', '100');
    await page.click('#flow-start');
    await waitForText(page.locator('#action-result'), 'Scheduled flow.start', 5000);
    expect(await until(async () => (await delivered(ui, 'to-web-01')).delivered > 0, 15_000)).toBe(true);

    await dragVm(page, 'web-01', 'esx-02');
    await waitForText(page.locator('#action-result'), 'Scheduled vmotion', 5000);

    await openTab(page, 'events');
    await page.fill('#filter-kind', 'vnic.handoff, vmotion.done');
    await page.click('#filter-apply');
    const rows = page.locator('#event-list tbody tr');
    // The live run goes at real speed: the pre-copy alone takes seconds, more on a busy machine.
    await rows.filter({ hasText: 'web-01.eth0 vf-to-emulated on esx-01' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await rows.filter({ hasText: 'web-01.eth0 emulated-to-vf on esx-02' }).first().waitFor({ state: 'visible', timeout: 60_000 });
    await page.locator('#event-list tbody tr[data-kind="vmotion.done"]', { hasText: 'web-01 esx-01 → esx-02 success' }).waitFor({ state: 'visible', timeout: 60_000 });

    // The graph moved the VM into esx-02's box, and its vNIC goes through esx-02's active DPU.
    expect(await until(() => drawnIn(page, 'web-01', 'esx-02'), 10_000)).toBe(true);
    expect(await drawnIn(page, 'web-01', 'esx-01')).toBe(false);
    expect(await until(async () => (await mirror(page, 'web-01.eth0', 'data-dpu'))?.startsWith('dpu-02') === true, 5000)).toBe(true);
    expect(await until(async () => (await topologyState(page, 'web-01')) === 'uptv2', 10_000)).toBe(true);

    // The inspector says where it runs now and what its last vMotion did.
    await clickTopology(page, 'web-01');
    await waitForText(page.locator('.inspector-title .source'), 'on esx-02', 10_000);
    await waitForText(page.locator('.inspector .vmotion-phase'), 'success', 5000);

    // It was the drag: one vMotion input, from the UI (scenario steps carry `step`).
    const inputs = (await apiGet<EventsBody>(ui, '/api/events?kind=input.vmotion')).body.events;
    expect(inputs.map((e) => [e.payload.vm, e.payload.to, 'step' in e.payload])).toEqual([['web-01', 'esx-02', false]]);
    // And the flow into web-01 still arrives on its new host.
    const done = (await apiGet<EventsBody>(ui, '/api/events?kind=vmotion.done')).body.events[0]!;
    const before = await delivered(ui, 'to-web-01');
    expect(await until(async () => {
      const now = await delivered(ui, 'to-web-01');
      return now.seq > done.seq && now.delivered > before.delivered;
    }, 15_000)).toBe(true);
  });

  it('ui charts the pre-copy rounds of the migration', async () => {
    await openTab(page, 'charts');
    await page.locator('#chart-vmotion .uplot').waitFor({ timeout: 5000 });
    await waitForText(page.locator('#chart-vmotion .u-legend'), 'web-01 esx-01→esx-02 sent', 5000);
    await waitForText(page.locator('#chart-vmotion .u-legend'), 'web-01 esx-01→esx-02 dirtied', 5000);
    const row = page.locator('#vmotion-table tbody tr').first();
    await waitForText(row, 'success', 5000);
    const rounds = (await apiGet<EventsBody>(ui, '/api/events?kind=vmotion.precopy.round')).body.events;
    expect(rounds.length).toBeGreaterThan(0);
    expect(await row.locator('td').nth(3).textContent()).toBe(String(rounds.length));
  });

  it('ui vMotion form moves web-01 back to esx-01', async () => {
    await openTab(page, 'actions');
    await page.selectOption('#vmotion-vm', 'web-01');
    await waitForText(page.locator('#vmotion-from'), 'web-01 runs on esx-02');
    expect(await page.locator('#vmotion-to').inputValue()).toBe('esx-01');
    await page.click('#vmotion-start');
    await waitForText(page.locator('#action-result'), 'Scheduled vmotion', 5000);
    // At real speed the migration takes seconds of virtual time, and more wall time on a busy machine.
    expect(await until(() => drawnIn(page, 'web-01', 'esx-01'), 90_000)).toBe(true);
    const done = (await apiGet<EventsBody>(ui, '/api/events?kind=vmotion.done')).body.events;
    expect(done.map((e) => [e.payload.from, e.payload.to, e.payload.result])).toEqual([
      ['esx-01', 'esx-02', 'success'],
      ['esx-02', 'esx-01', 'success'],
    ]);
    expect(pageErrors).toEqual([]);
  });
});

describe('dpulab ui --db on a recorded vMotion', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'vmotion.db');
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  let resume = -1;
  let imported = -1;

  beforeAll(async () => {
    const scenario = join(tmp.dir, 'vmotion.yaml');
    writeFileSync(scenario, `${UI_SCENARIO_YAML}  - { at: 1.2s, action: vmotion, vm: web-01, to: esx-02 }\n`);
    const run = dpulab(['run', '--in-process', '--seed', '4', '--scenario', scenario, '--until', '2.5s', '--db', db, '--json']);
    expect(run.code, run.stderr).toBe(0);
    ({ ui, browser, page } = await openRecording(db));
    resume = (await apiGet<EventsBody>(ui, '/api/events?kind=vmotion.resume')).body.events[0]?.seq ?? -1;
    // The destination's firewall import: from here until the manager commits, the VM is still on its source.
    imported = (await apiGet<EventsBody>(ui, '/api/events?kind=dfw.import')).body.events.find((e) => e.node.startsWith('dpu-02'))?.seq ?? -1;
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    tmp.remove();
  });

  it('ui recording draws web-01 on esx-01 before its resume and on esx-02 from it, also seeking backwards', async () => {
    expect(resume).toBeGreaterThan(0);
    expect(imported).toBeGreaterThan(0);
    expect(imported).toBeLessThan(resume);
    // A recording opens at its first event: web-01 on esx-01. At the last event it is on esx-02.
    expect(await until(() => drawnIn(page, 'web-01', 'esx-01'), 10_000)).toBe(true);
    await page.click('#seek-last');
    expect(await until(() => drawnIn(page, 'web-01', 'esx-02'), 10_000)).toBe(true);
    await seekTo(page, imported);
    expect(await until(() => drawnIn(page, 'web-01', 'esx-01'), 5000)).toBe(true);
    expect(await until(async () => (await mirror(page, 'web-01', 'data-vmotion')) === 'dfw-import', 5000)).toBe(true);
    // Mid-migration, the inspector shows the phase from the log.
    await clickTopology(page, 'web-01');
    await waitForText(page.locator('.inspector-title .source'), 'on esx-01', 5000);
    await waitForText(page.locator('.inspector-title'), 'vMotion: firewall state imported', 5000);
    await seekTo(page, resume);
    expect(await until(() => drawnIn(page, 'web-01', 'esx-02'), 5000)).toBe(true);
    await waitForText(page.locator('.inspector-title .source'), 'on esx-02', 5000);
    // Backwards again: the VM goes back into esx-01's box.
    await seekTo(page, resume - 1);
    expect(await until(() => drawnIn(page, 'web-01', 'esx-01'), 5000)).toBe(true);
    await seekTo(page, 0);
    expect(await until(() => drawnIn(page, 'web-01', 'esx-01'), 5000)).toBe(true);
    expect(await mirror(page, 'web-01', 'data-vmotion')).toBe('');
  });
});
