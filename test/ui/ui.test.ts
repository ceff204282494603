import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpulab, tempDir } from '../support/cli.js';
import { apiGet, apiPost, clickTopology, openTab, topologyState, until, waitForText, writeUiScenario, type UiProcess, runStatus, openRecording } from './support.js';
import { liveUiHooks } from './live-suite.js';

interface RunBody {
  mode: string;
  status: { state: string; vtime: number; paused: boolean; events: number };
  topology: { nodes: Array<{ id: string; kind: string }> };
}

interface EventsBody {
  events: Array<{ seq: number; kind: string; node: string; payload: Record<string, unknown> }>;
  total: number;
}


/** The virtual time the page's clock shows, in ns (it shows microseconds). */
async function pageClock(page: Page): Promise<number> {
  const text = (await page.locator('#vtime').textContent()) ?? '';
  return Math.round(Number(text.replace(/\s*s$/, '')) * 1e9);
}

/** Inputs recorded from the UI and API (scenario steps carry their `step` index). */
async function actionInputs(ui: UiProcess): Promise<number> {
  return (await apiGet<EventsBody>(ui, '/api/events?kind=input&limit=5000')).body.events.filter((e) => !('step' in e.payload)).length;
}

describe('dpulab ui on a live run of the default lab', () => {
  const tmp = tempDir();
  let ui: UiProcess;
  let page: Page;
  let pageErrors: string[] = [];
  liveUiHooks(tmp, (live) => ({ ui, page, pageErrors } = live));

  it('ui page is served under a strict content security policy', async () => {
    const response = await fetch(new URL('/', ui.url), { headers: { Authorization: `Bearer ${ui.token}` } });
    expect(response.status).toBe(200);
    const csp = response.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('ui topology shows the default lab: 8 nodes, 5 VMs, DPUs active and standby', async () => {
    const items = page.locator('#topology-elements li');
    await items.first().waitFor({ state: 'attached', timeout: 15_000 });
    const kinds = await items.evaluateAll((lis) => lis.map((li) => li.getAttribute('data-kind')));
    expect(kinds.filter((k) => k === 'host' || k === 'dpu' || k === 'switch')).toHaveLength(8);
    expect(kinds.filter((k) => k === 'vm')).toHaveLength(5);
    expect(await until(async () => (await topologyState(page, 'dpu-01a')) === 'active', 15_000)).toBe(true);
    expect(await topologyState(page, 'dpu-01b')).toBe('standby');
    // web-01 runs emulated until its DPU binds a VF, which a later state update shows.
    expect(await until(async () => (await topologyState(page, 'web-01')) === 'uptv2', 15_000)).toBe(true);
  });

  it('ui event list fills with events as they stream in', async () => {
    const lastSeq = async (): Promise<number> => Number((await page.locator('#event-list tbody tr').last().getAttribute('data-seq', { timeout: 10_000 })) ?? -1);
    const first = await lastSeq();
    expect(await until(async () => (await lastSeq()) > first + 50, 10_000)).toBe(true);
    expect(await page.locator('#event-list tbody tr').count()).toBeGreaterThan(50);
  });

  it('ui event list opens a frame.tx in the frame inspector, decoded layer by layer', async () => {
    await page.uncheck('#follow');
    // A frame on an uplink: Ethernet and up, and its bytes.
    await page.locator('#event-list tbody tr[data-kind="frame.tx"]', { hasText: 'up-0' }).first().click();
    await page.locator('.frame-view .frame-summary').waitFor({ timeout: 5000 });
    const layers = await page.locator('.frame-view details.layer').evaluateAll((els) => els.map((el) => el.className));
    expect(layers[0]).toContain('layer-ethernet');
    expect(layers.length).toBeGreaterThan(1);
    expect(await page.locator('.frame-view .hexdump .byte').count()).toBeGreaterThanOrEqual(60);
    // A DMA message on a pcie wire: the device-channel message itself.
    await page.locator('#event-list tbody tr[data-kind="frame.tx"]', { hasText: '(dma)' }).first().click();
    await page.locator('.frame-view details.layer-pcie').waitFor({ timeout: 5000 });
    await page.check('#follow');
  });

  it('ui starts a flow from the Actions tab, records it as an input and lists its flow.report', async () => {
    await openTab(page, 'actions');
    await page.fill('#flow-id', 'ui-test-flow');
    await page.selectOption('#flow-kind', 'udp');
    await page.selectOption('#flow-from', 'web-01');
    await page.fill('#flow-to', 'web-02');
    await page.fill('#flow-rate', '50');
    await page.click('#flow-start');
    await waitForText(page.locator('#action-result'), 'Scheduled flow.start', 5000);

    await openTab(page, 'events');
    await page.fill('#filter-kind', 'flow.report');
    await page.click('#filter-apply');
    await page.locator('#event-list tbody tr[data-kind="flow.report"]', { hasText: 'ui-test-flow' }).first().waitFor({ state: 'visible', timeout: 15_000 });

    const inputs = (await apiGet<EventsBody>(ui, '/api/events?kind=input.flow.start&limit=100')).body.events;
    expect(inputs.map((e) => (e.payload.flow as { id: string }).id)).toContain('ui-test-flow');
  });

  it('ui kills dpu-02a: its node.exit is listed and the topology colours it failed', async () => {
    await openTab(page, 'actions');
    await page.selectOption('#kill-node', 'dpu-02a');
    await page.click('#kill-button');
    await waitForText(page.locator('#action-result'), 'Scheduled kill', 5000);

    await openTab(page, 'events');
    await page.fill('#filter-kind', 'node.exit');
    await page.click('#filter-apply');
    await page.locator('#event-list tbody tr[data-kind="node.exit"]', { hasText: 'dpu-02a' }).first().waitFor({ state: 'visible', timeout: 10_000 });
    expect(await until(async () => (await topologyState(page, 'dpu-02a')) === 'failed', 10_000)).toBe(true);
    expect(await page.locator('#topology-elements li[data-id="dpu-02a"]').getAttribute('data-color')).toBe('#d23f3f');
    // The other DPUs are untouched.
    expect(await topologyState(page, 'dpu-01a')).toBe('active');
  });

  it('ui pause holds virtual time, step moves it to the next instant, resume lets it run', async () => {
    await page.click('#pause');
    await waitForText(page.locator('#run-state'), 'paused', 5000, true);
    const paused = await runStatus(ui);
    expect(paused.paused).toBe(true);
    await page.waitForTimeout(600);
    const still = await runStatus(ui);
    expect(still.vtime).toBe(paused.vtime);
    expect(still.events).toBe(paused.events);
    // The clock shows microseconds.
    expect(await until(async () => Math.abs((await pageClock(page)) - paused.vtime) < 1000, 3000)).toBe(true);

    await page.click('#step');
    expect(await until(async () => (await runStatus(ui)).vtime > paused.vtime, 5000)).toBe(true);
    const stepped = await runStatus(ui);
    expect(stepped.paused).toBe(true);
    await page.waitForTimeout(400);
    expect((await runStatus(ui)).vtime).toBe(stepped.vtime);

    await page.click('#resume');
    await waitForText(page.locator('#run-state'), 'running', 5000, true);
    // At speed 1, half a wall second is about half a virtual second.
    expect(await until(async () => (await runStatus(ui)).vtime > stepped.vtime + 200_000_000, 5000)).toBe(true);
    expect(await until(async () => (await pageClock(page)) > stepped.vtime, 3000)).toBe(true);
  });

  it('ui runs until a virtual time, or until an event of a kind, then pauses', async () => {
    const targetMs = Math.ceil((await runStatus(ui)).vtime / 1e6) + 300;
    await page.fill('#until', `${targetMs}ms`);
    await page.click('#until-go');
    await waitForText(page.locator('#run-state'), 'paused', 5000, true);
    const atTime = await runStatus(ui);
    expect(atTime.vtime).toBeGreaterThanOrEqual(targetMs * 1e6);
    expect(atTime.vtime).toBeLessThan(targetMs * 1e6 + 250_000_000);
    await waitForText(page.locator('#run-message'), 'Reached');

    await page.fill('#until', 'flow.report');
    await page.click('#until-go');
    // Flow reports come once a virtual second: at real speed on a busy machine, that is a while.
    await waitForText(page.locator('#run-message'), 'Reached flow.report', 30_000);
    await waitForText(page.locator('#run-state'), 'paused', 5000, true);
    const atKind = await runStatus(ui);
    const reports = (await apiGet<EventsBody>(ui, '/api/events?kind=flow.report&order=desc&limit=1')).body.events;
    expect(reports[0]!.seq).toBeGreaterThan(atTime.events - 1);
    expect(atKind.vtime).toBeGreaterThan(atTime.vtime);
    await page.click('#resume');
    await waitForText(page.locator('#run-state'), 'running', 5000, true);
  });

  it('ui api answers a malformed action with 400 naming the field and records no input', async () => {
    // A well-formed action is recorded (so the count below can see one)...
    const start = await actionInputs(ui);
    expect((await apiPost(ui, '/api/action', { record: { action: 'note', text: 'checking malformed calls' } })).status).toBe(200);
    expect(await until(async () => (await actionInputs(ui)) === start + 1, 5000)).toBe(true);
    // ...and none of these is.
    const before = start + 1;
    const badKind = await apiPost<{ error: string; field: string }>(ui, '/api/action', { record: { action: 'flow.start', flow: { id: 'bad', kind: 'udpx', from: 'web-01', to: 'web-02' } } });
    expect(badKind.status).toBe(400);
    expect(badKind.body.field).toBe('record.flow.kind');
    const noNode = await apiPost<{ field: string }>(ui, '/api/action', { record: { action: 'kill' } });
    expect(noNode.status).toBe(400);
    expect(noNode.body.field).toBe('record.node');
    const unknownNode = await apiPost<{ field: string }>(ui, '/api/action', { record: { action: 'kill', node: 'dpu-99z' } });
    expect(unknownNode.status).toBe(400);
    expect(unknownNode.body.field).toBe('record.node');
    const extra = await apiPost<{ field: string }>(ui, '/api/action', { record: { action: 'note', text: 'x' }, when: 'now' });
    expect(extra.status).toBe(400);
    expect(extra.body.field).toBe('when');
    const badControl = await apiPost<{ field: string }>(ui, '/api/control', { op: 'speed', speed: -1 });
    expect(badControl.status).toBe(400);
    expect(badControl.body.field).toBe('speed');
    const badQuery = await apiGet<{ field: string }>(ui, '/api/events?limit=lots');
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.field).toBe('limit');
    await new Promise((r) => setTimeout(r, 500));
    expect(await actionInputs(ui)).toBe(before);
    expect(pageErrors).toEqual([]);
  });
});

describe('dpulab ui --db on a recorded run', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'recorded.db');
  let ui: UiProcess;
  let browser: Browser;
  let page: Page;
  let total = 0;

  beforeAll(async () => {
    const run = dpulab(['run', '--in-process', '--seed', '5', '--scenario', writeUiScenario(tmp.dir), '--until', '2s', '--db', db, '--json']);
    expect(run.code, run.stderr).toBe(0);
    ({ ui, browser, page } = await openRecording(db));
    total = (await apiGet<RunBody>(ui, '/api/run')).body.status.events;
  });

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    tmp.remove();
  });

  it('ui recording takes no actions and no time control', async () => {
    const run = (await apiGet<RunBody>(ui, '/api/run')).body;
    expect(run.mode).toBe('replay');
    const action = await apiPost(ui, '/api/action', { record: { action: 'note', text: 'too late' } });
    expect(action.status).toBe(409);
    const control = await apiPost(ui, '/api/control', { op: 'pause' });
    expect(control.status).toBe(409);
  });

  it('ui seek to an early and a late event changes the topology and the event list', async () => {
    const rows = page.locator('#event-list tbody tr');
    const lastRowSeq = async (): Promise<number> => Number(await rows.last().getAttribute('data-seq'));

    // Early: right after the first event, only one node has started.
    await page.fill('#jump', '0');
    await page.click('#jump-go');
    await waitForText(page.locator('#cursor-label'), 'event 0 of', 5000);
    expect(await until(async () => (await rows.count()) === 1 && (await lastRowSeq()) === 0, 5000)).toBe(true);
    expect(await until(async () => (await topologyState(page, 'dpu-02a')) === 'not-started', 5000)).toBe(true);
    expect(await topologyState(page, 'web-01')).toBe('unknown');

    // Late: a second into the run, DPUs manage, vNICs run UPTv2 and the cables carry frames.
    await page.fill('#jump', '1.5s');
    await page.click('#jump-go');
    expect(await until(async () => (await lastRowSeq()) > 1000, 5000)).toBe(true);
    // The list ends at the cursor, or just before it when the cursor's event is pcie housekeeping (hidden).
    const cursor = Number(/event (\d+) of/.exec((await page.locator('#cursor-label').textContent()) ?? '')?.[1]);
    expect(cursor).toBeLessThan(total - 1);
    await waitForText(page.locator('#cursor-label'), `event ${cursor} of ${total}`);
    expect(await lastRowSeq()).toBeLessThanOrEqual(cursor);
    expect(await lastRowSeq()).toBeGreaterThan(cursor - 50);
    expect(await until(async () => (await topologyState(page, 'dpu-02a')) === 'active', 5000)).toBe(true);
    expect(await topologyState(page, 'web-01')).toBe('uptv2');
    const load = Number(await page.locator('#topology-elements li[data-id="up-01a-a"]').getAttribute('data-load'));
    expect(load).toBeGreaterThan(0);

    // The inspector rebuilds a node from the log as of the cursor.
    await clickTopology(page, 'dpu-02a');
    await waitForText(page.locator('.inspector-title .source'), `from the log at event ${cursor}`, 5000);

    // The end: every node stopped at the end of the run.
    await page.click('#seek-last');
    expect(await until(async () => (await lastRowSeq()) === total - 1, 5000)).toBe(true);
    expect(await until(async () => (await topologyState(page, 'dpu-02a')) === 'stopped', 5000)).toBe(true);
  });
});
