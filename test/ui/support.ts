/**
 * For the UI tests and the screenshot script: start `dpulab ui` as a user does (the compiled
 * CLI, in its own process), drive Debian's Chromium with playwright-core, click topology
 * elements where the graph draws them, call the API directly.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { exited, nodeProcesses, startDpulab } from '../support/cli.js';

/** The browser: Debian's Chromium (playwright's own download is not available). */
export const CHROMIUM = process.env.DPULAB_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/**
 * The scenario the UI tests and screenshots run the default lab with: traffic across the overlay,
 * hairpinned, routed and rejected, and nothing else, so that what the tests do (kill a DPU,
 * start a flow) is all that happens, whatever the default scenario becomes.
 */
export const UI_SCENARIO_YAML = `name: ui
end: 10m
steps:
  - { at: 200ms, action: dfw.rule.add, rule: { id: web-to-db-5201, priority: 100, sources: [web-01, web-02], destinations: [db-01], service: { protocol: tcp, destinationPorts: [5201] }, action: reject } }
  - { at: 500ms, action: flow.start, flow: { id: web-tcp, kind: tcp, from: web-01, to: web-02, ratePps: 200 } }
  - { at: 500ms, action: flow.start, flow: { id: web-ping, kind: ping, from: web-01, to: web-02, ratePps: 10 } }
  - { at: 500ms, action: flow.start, flow: { id: app-db-udp, kind: udp, from: app-01, to: db-01, ratePps: 100 } }
  - { at: 500ms, action: flow.start, flow: { id: web-app-tcp, kind: tcp, from: web-02, to: app-01, ratePps: 100 } }
  - { at: 1s, action: flow.start, flow: { id: web-db-blocked, kind: tcp, from: web-02, to: db-01, ratePps: 10 } }
  - { at: 1s, action: note, text: "steady state" }
`;

/** Writes {@link UI_SCENARIO_YAML} into `dir`; returns its path. */
export function writeUiScenario(dir: string): string {
  const path = join(dir, 'ui-scenario.yaml');
  writeFileSync(path, UI_SCENARIO_YAML);
  return path;
}

/** A running `dpulab ui`. */
export interface UiProcess {
  readonly child: ChildProcess & { output: { stdout: string; stderr: string } };
  /** `http://127.0.0.1:PORT/?token=TOKEN`, as printed: opening it in a browser sets the token cookie. */
  readonly url: string;
  /** The access token in that address, for direct API calls. */
  readonly token: string;
  /** SIGTERM, then waits for the exit (SIGKILL after 20 s). */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Polls until `check` resolves true or the deadline passes; returns whether it did. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, stepMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return true;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Starts `dpulab ui --port 0 ARGS` and waits for it to print its URL. */
export async function startUi(args: readonly string[]): Promise<UiProcess> {
  const child = startDpulab(['ui', '--port', '0', ...args]);
  let url = '';
  const ok = await until(() => {
    const match = /dpulab ui: (http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+)/.exec(child.output.stdout);
    if (match) url = match[1]!;
    return match !== null || child.exitCode !== null;
  }, 30_000);
  if (!ok || url === '') {
    child.kill('SIGKILL');
    throw new Error(`dpulab ui did not start: ${child.output.stderr}`);
  }
  return {
    child,
    url,
    token: new URL(url).searchParams.get('token') ?? '',
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const result = await exited(child);
      clearTimeout(timer);
      return result;
    },
  };
}

/** Launches headless Chromium. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** The browser window every UI test and screenshot uses. */
export const VIEWPORT = { width: 1600, height: 1000 };

/** A `dpulab ui` on the UI tests' scenario, recording to a file, with a Chromium page open on it. */
export interface LiveUi {
  readonly ui: UiProcess;
  readonly browser: Browser;
  readonly page: Page;
  /** Uncaught page errors and console errors, in order. */
  readonly pageErrors: string[];
}

/** Starts `dpulab ui` (recording to `dir/live.db`) and a browser page on it that collects its errors. */
export async function openLiveUi(dir: string, pageOptions: { acceptDownloads?: boolean } = {}): Promise<LiveUi> {
  const [ui, browser] = await Promise.all([startUi(['--record', join(dir, 'live.db'), '--scenario', writeUiScenario(dir)]), launchBrowser()]);
  const page = await browser.newPage({ viewport: VIEWPORT, ...pageOptions });
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  await page.goto(ui.url);
  return { ui, browser, page, pageErrors };
}

/** A `dpulab ui --db` on a recorded run, with a Chromium page open on it once its scrubber is drawn. */
export interface RecordingUi {
  readonly ui: UiProcess;
  readonly browser: Browser;
  readonly page: Page;
}

/** Opens a recorded run in `dpulab ui --db` and a browser page on it, ready to seek. */
export async function openRecording(db: string, pageOptions: { acceptDownloads?: boolean } = {}): Promise<RecordingUi> {
  const [ui, browser] = await Promise.all([startUi(['--db', db]), launchBrowser()]);
  const page = await browser.newPage({ viewport: VIEWPORT, ...pageOptions });
  await page.goto(ui.url);
  await page.locator('#scrubber').waitFor();
  return { ui, browser, page };
}

/** Moves a recording's cursor to an event with the jump box; waits until the cursor says so. */
export async function seekTo(page: Page, seq: number): Promise<void> {
  await page.fill('#jump', String(seq));
  await page.click('#jump-go');
  await waitForText(page.locator('#cursor-label'), `event ${seq} of`, 5000);
}

/** The run status `/api/run` gives. */
export interface RunStatus {
  readonly state: string;
  readonly vtime: number;
  readonly paused: boolean;
  readonly events: number;
}

/** The run status as the API gives it now. */
export async function runStatus(ui: UiProcess): Promise<RunStatus> {
  return (await apiGet<{ status: RunStatus }>(ui, '/api/run')).body.status;
}

/** Runs a live UI until a virtual time with the header's time control; fails unless it pauses there in time. */
export async function runUntil(page: Page, ui: UiProcess, text: string, ns: number, timeoutMs = 60_000): Promise<void> {
  await page.fill('#until', text);
  await page.click('#until-go');
  const paused = await until(async () => {
    const s = await runStatus(ui);
    return s.paused && s.vtime >= ns;
  }, timeoutMs);
  if (!paused) throw new Error(`The run did not pause at ${text} within ${timeoutMs} ms`);
}

/** Closes the browser and stops the server with SIGTERM; returns how the server exited. */
export async function closeLiveUi(live: LiveUi | undefined): Promise<{ code: number | null } | undefined> {
  await live?.browser.close();
  return live?.ui.stop();
}

/**
 * Ends a test file's live UI: closes the browser, stops the server with SIGTERM and removes the
 * file's folder. The server must end on that SIGTERM (143) and leave no node process behind.
 */
export async function shutDownUi(browser: Browser | undefined, ui: UiProcess | undefined, tmp: { remove: () => void }): Promise<void> {
  await browser?.close();
  const exit = await ui?.stop();
  tmp.remove();
  expect(exit?.code).toBe(143);
  expect(nodeProcesses()).toEqual([]);
}

/** GETs a JSON API path. */
export async function apiGet<T = Record<string, unknown>>(ui: UiProcess, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, ui.url), { headers: { Authorization: `Bearer ${ui.token}` } });
  return { status: response.status, body: (await response.json()) as T };
}

/** POSTs JSON to an API path. */
export async function apiPost<T = Record<string, unknown>>(ui: UiProcess, path: string, body: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, ui.url), { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ui.token}` }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as T };
}

/** The state the topology shows for an element (its hidden accessible mirror). */
export async function topologyState(page: Page, id: string): Promise<string | null> {
  return page.locator(`#topology-elements li[data-id="${id}"]`).getAttribute('data-state', { timeout: 2000 });
}

/** Clicks a topology element where the graph draws it. */
export async function clickTopology(page: Page, id: string): Promise<void> {
  const item = page.locator(`#topology-elements li[data-id="${id}"]`);
  await item.waitFor({ state: 'attached' });
  const x = Number(await item.getAttribute('data-x'));
  const y = Number(await item.getAttribute('data-y'));
  const box = await page.locator('.topology-canvas').boundingBox();
  if (!box) throw new Error('The topology is not on the page');
  await page.mouse.click(box.x + x, box.y + y);
}

/** Opens a tab under the topology. */
export async function openTab(page: Page, tab: 'events' | 'sequence' | 'charts' | 'actions'): Promise<void> {
  await page.click(`#tabbtn-${tab}`);
}

/** Waits until a locator's text contains (or, `exact`, equals) `text`; throws with what it saw. */
export async function waitForText(locator: Locator, text: string, timeoutMs = 5000, exact = false): Promise<void> {
  let seen: string | null = null;
  const ok = await until(async () => {
    seen = await locator.first().textContent({ timeout: 500 });
    return seen !== null && (exact ? seen.trim() === text : seen.includes(text));
  }, timeoutMs);
  if (!ok) throw new Error(`Expected ${exact ? '' : 'to contain '}"${text}", saw ${JSON.stringify(seen)}`);
}
