/**
 * The topology canvas: a vMotion's progress drawn on it (stage, round, pages) with host boxes
 * that never stretch or jump, an aborted vMotion drawn, frames travelling along their wires as
 * dots when stepping (a recording and a paused live run), port labels, tooltips, the context
 * menu's actions and the fit button.
 *
 * Recordings are made with `dpulab run --in-process` from the UI tests' scenario plus a vMotion of
 * app-01 (8 GiB, a switchover goal of 20 µs so that pre-copy takes several rounds), and the same
 * with esx-02 killed during the pre-copy (the source aborts: the peer is unreachable).
 *
 * Screenshots (packet-animation, vmotion-progress, vmotion-aborted, capture-live, context-menu)
 * go to $DPULAB_SCREENSHOTS (`docs/screenshots` to refresh the docs' ones), else to a temporary
 * directory.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpulab, ROOT, tempDir } from '../support/cli.js';
import { apiGet, apiPost, clickTopology, closeLiveUi, openLiveUi, openRecording, runStatus, seekTo, topologyState, UI_SCENARIO_YAML, until, waitForText, type LiveUi, type RecordingUi, type UiProcess } from './support.js';

const SHOTS_DIR = process.env.DPULAB_SCREENSHOTS;

/** Where a describe block's screenshots go. */
function shots(tmp: { readonly dir: string }): string {
  const dir = SHOTS_DIR === undefined ? join(tmp.dir, 'screenshots') : resolve(ROOT, SHOTS_DIR);
  mkdirSync(dir, { recursive: true });
  return dir;
}

interface EventsBody {
  events: Array<{ seq: number; vtime: number; kind: string; node: string; payload: Record<string, unknown> }>;
}

/** Writes a scenario (the UI tests' one plus `steps`), records it in-process; returns the log. */
function record(dir: string, name: string, steps: string, until: string): string {
  const scenario = join(dir, `${name}.yaml`);
  writeFileSync(scenario, `${UI_SCENARIO_YAML}${steps}`);
  const db = join(dir, `${name}.db`);
  const run = dpulab(['run', '--in-process', '--scenario', scenario, '--until', until, '--db', db, '--json'], { timeoutMs: 180_000 });
  if (run.code !== 0) throw new Error(`dpulab run ${name} failed: ${run.stderr}`);
  return db;
}

/** An element of the topology as its accessible mirror describes it. */
async function mirror(page: Page, id: string, attribute: string): Promise<string | null> {
  return page.locator(`#topology-elements li[data-id="${id}"]`).getAttribute(attribute, { timeout: 2000 });
}

async function numbers(page: Page, id: string, attribute: string): Promise<number[]> {
  return ((await mirror(page, id, attribute)) ?? '').split(' ').map(Number);
}

/** Seq of every event of a kind in a recording. */
async function seqsOf(ui: UiProcess, kind: string): Promise<Array<{ seq: number; payload: Record<string, unknown> }>> {
  return (await apiGet<EventsBody>(ui, `/api/events?kind=${kind}&limit=1000`)).body.events;
}

/** What the canvas shows of the two hosts and of the VMs that do not move: it must never change. */
async function still(page: Page): Promise<string> {
  return JSON.stringify([await mirror(page, 'esx-01', 'data-box'), await mirror(page, 'esx-02', 'data-box'), await mirror(page, 'web-01', 'data-x'), await mirror(page, 'web-02', 'data-x'), await mirror(page, 'db-01', 'data-x')]);
}

/** Whether a canvas point lies in a host's drawn box. */
async function inBox(page: Page, host: string, x: number, y: number): Promise<boolean> {
  const [x1, y1, x2, y2] = await numbers(page, host, 'data-box');
  return x > x1! && x < x2! && y > y1! && y < y2!;
}

/** Whether the graph draws `vm` in `host`. */
async function drawnIn(page: Page, vm: string, host: string): Promise<boolean> {
  return (await mirror(page, vm, 'data-host')) === host && inBox(page, host, Number(await mirror(page, vm, 'data-x')), Number(await mirror(page, vm, 'data-y')));
}

/** The dot of a frame: where it is on the canvas and how far it has gone. */
async function dot(page: Page, seq: number): Promise<{ x: number; y: number; progress: number; wire: string; from: string; to: string; protocol: string } | null> {
  const locator = page.locator(`.packet-dot[data-seq="${seq}"]`);
  if ((await locator.count()) === 0) return null;
  return locator.evaluate((el) => {
    const box = el.getBoundingClientRect();
    const layer = el.parentElement!.getBoundingClientRect();
    return { x: box.x + box.width / 2 - layer.x, y: box.y + box.height / 2 - layer.y, progress: Number(el.getAttribute('data-progress')), wire: el.getAttribute('data-wire')!, from: el.getAttribute('data-from')!, to: el.getAttribute('data-to')!, protocol: el.getAttribute('data-protocol')! };
  });
}

/** Samples a dot until it is well on its way (between 20% and 80% of its wire). */
async function midway(page: Page, seq: number): Promise<NonNullable<Awaited<ReturnType<typeof dot>>>> {
  let seen: Awaited<ReturnType<typeof dot>> = null;
  const ok = await until(async () => {
    seen = await dot(page, seq);
    return seen !== null && seen.progress > 0.2 && seen.progress < 0.8;
  }, 20_000, 20);
  if (!ok || !seen) throw new Error(`No dot for frame ${seq} mid-wire (last seen ${JSON.stringify(seen)})`);
  return seen;
}

describe('dpulab ui canvas: vMotion drawn on the topology (recordings)', () => {
  const tmp = tempDir();
  let moved: string;
  let aborted: string;
  let recording: RecordingUi | undefined;

  beforeAll(() => {
    moved = record(tmp.dir, 'moved', '  - { at: 1.2s, action: vmotion, vm: app-01, to: esx-02, options: { switchoverGoal: 20us } }\n', '4.2s');
    aborted = record(tmp.dir, 'aborted', '  - { at: 1.2s, action: vmotion, vm: app-01, to: esx-02, options: { switchoverGoal: 20us } }\n  - { at: 1.5s, action: kill, node: esx-02 }\n', '4s');
  }, 400_000);

  afterAll(async () => {
    await recording?.browser.close();
    await recording?.ui.stop();
    tmp.remove();
  });

  it('canvas draws the pre-copy rounds, switchover and handoff of a vMotion; hosts never stretch and nothing else moves', async () => {
    recording = await openRecording(moved);
    const { page, ui } = recording;
    const [start] = await seqsOf(ui, 'vmotion.start');
    const rounds = await seqsOf(ui, 'vmotion.precopy.round');
    const [stun] = await seqsOf(ui, 'vmotion.stun');
    const [resume] = await seqsOf(ui, 'vmotion.resume');
    const [done] = await seqsOf(ui, 'vmotion.done');
    expect(rounds.length).toBeGreaterThanOrEqual(2);

    await seekTo(page, start!.seq - 1);
    const before = await still(page);
    const [a1, , a2] = await numbers(page, 'esx-01', 'data-box');
    const [b1] = await numbers(page, 'esx-02', 'data-box');
    expect(a2!).toBeLessThan(b1!);
    expect(a1!).toBeLessThan(a2!);
    expect(await mirror(page, 'app-01', 'data-vmotion-stage')).toBe('');

    // The first pass over memory is under way: round 1, no pages counted yet; a ghost in esx-02.
    await seekTo(page, rounds[0]!.seq - 1);
    expect(await mirror(page, 'app-01', 'data-vmotion-stage')).toBe('pre-copy');
    expect(await mirror(page, 'app-01', 'data-round')).toBe('1');
    expect(await mirror(page, 'app-01', 'data-vmotion-text')).toBe('pre-copy round 1');
    expect(await drawnIn(page, 'app-01', 'esx-01')).toBe(true);
    const ghost = await numbers(page, 'app-01', 'data-ghost');
    expect(await inBox(page, 'esx-02', ghost[0]!, ghost[1]!)).toBe(true);
    expect(await still(page)).toBe(before);

    // After two rounds: round 3 under way, the pages of round 2 as the log recorded them.
    await seekTo(page, rounds[1]!.seq);
    const second = rounds[1]!.payload;
    expect(await mirror(page, 'app-01', 'data-round')).toBe('3');
    expect(await mirror(page, 'app-01', 'data-pages-sent')).toBe(String(second.pagesSent));
    expect(await mirror(page, 'app-01', 'data-pages-dirtied')).toBe(String(second.pagesDirtied));
    expect(await mirror(page, 'app-01', 'data-vmotion-text')).toBe(`pre-copy round 3 · ${Number(second.pagesSent).toLocaleString('en-US')} pages sent, ${Number(second.pagesDirtied).toLocaleString('en-US')} dirtied`);
    expect(await still(page)).toBe(before);
    await clickTopology(page, 'app-01');
    await page.locator('.inspector .vmotion-phase').waitFor({ timeout: 10_000 });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(shots(tmp), 'vmotion-progress.png') });
    // Its tooltip lists every round so far, pages sent and dirtied.
    const canvas = (await page.locator('.topology-canvas').boundingBox())!;
    await page.mouse.move(canvas.x + Number(await mirror(page, 'app-01', 'data-x')), canvas.y + Number(await mirror(page, 'app-01', 'data-y')));
    const first = rounds[0]!.payload;
    const perRound = (n: number, p: Record<string, unknown>): string => `round ${n}: ${Number(p.pagesSent).toLocaleString('en-US')} sent / ${Number(p.pagesDirtied).toLocaleString('en-US')} dirtied`;
    await waitForText(page.locator('#topology-tooltip'), perRound(1, first));
    await waitForText(page.locator('#topology-tooltip'), perRound(2, second));
    await page.mouse.move(0, 0);

    await seekTo(page, stun!.seq);
    expect(await mirror(page, 'app-01', 'data-vmotion-stage')).toBe('switchover');
    expect(await drawnIn(page, 'app-01', 'esx-01')).toBe(true);
    expect(await still(page)).toBe(before);

    // Resumed on esx-02, in the slot its ghost held: back to a VF there.
    await seekTo(page, resume!.seq);
    expect(await mirror(page, 'app-01', 'data-vmotion-stage')).toBe('handoff');
    expect(await drawnIn(page, 'app-01', 'esx-02')).toBe(true);
    expect([Number(await mirror(page, 'app-01', 'data-x')), Number(await mirror(page, 'app-01', 'data-y'))]).toEqual(ghost);
    expect(await mirror(page, 'app-01', 'data-ghost')).toBeNull();
    expect(await still(page)).toBe(before);

    await seekTo(page, done!.seq);
    expect(await mirror(page, 'app-01', 'data-vmotion-stage')).toBe('');
    expect(await drawnIn(page, 'app-01', 'esx-02')).toBe(true);
    expect(await still(page)).toBe(before);

    // Back before the vMotion: in esx-01 again, where it was.
    await seekTo(page, start!.seq - 1);
    expect(await drawnIn(page, 'app-01', 'esx-01')).toBe(true);
    expect(await still(page)).toBe(before);
  });

  it('canvas steps over frames with the scrubber: a dot coloured by the tunnelled protocol travels its wire from sender to receiver', async () => {
    const { page, ui } = recording!;
    // A GENEVE frame carrying TCP on an uplink, well into the run.
    const [resume] = await seqsOf(ui, 'vmotion.resume');
    const frames = (await apiGet<EventsBody>(ui, `/api/events?kind=frame.tx&from=${resume!.seq}&limit=400`)).body.events.filter((e) => String(e.payload.wire).startsWith('up-'));
    let chosen: { seq: number; wire: string; dir: string } | null = null;
    for (const frame of frames) {
      const detail = (await apiGet<{ summary: string | null; wire: string; dir: string }>(ui, `/api/frame/${frame.seq}`)).body;
      if (/GENEVE .*\[.* TCP \[/.test(detail.summary ?? '')) {
        chosen = { seq: frame.seq, wire: detail.wire, dir: detail.dir };
        break;
      }
    }
    expect(chosen).not.toBeNull();
    const { seq, wire, dir } = chosen!;
    const [a, b] = ((await mirror(page, wire, 'data-ports')) ?? '').split(' ').map((end) => end.split(':')[0]!);

    // A jump far ahead draws nothing (and takes away the dots of an earlier step); one step onto the frame sends its dot.
    await seekTo(page, seq - 1);
    expect(await until(async () => (await page.locator('.packet-dot').count()) === 0, 2000)).toBe(true);
    await page.click('#seek-next');
    const first = await midway(page, seq);
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(shots(tmp), 'packet-animation.png') });
    expect(first.wire).toBe(wire);
    expect([first.from, first.to]).toEqual(dir === 'a>b' ? [a, b] : [b, a]);
    expect(first.protocol).toBe('tcp');
    // On the wire: within the box of its two ends (the drawn cable bows a little), closer to the
    // receiver as it goes.
    const [x1, y1, x2, y2] = await numbers(page, wire, 'data-ends');
    const [sx, sy, tx, ty] = dir === 'a>b' ? [x1!, y1!, x2!, y2!] : [x2!, y2!, x1!, y1!];
    const within = (p: { x: number; y: number }): boolean => p.x >= Math.min(sx, tx) - 30 && p.x <= Math.max(sx, tx) + 30 && p.y >= Math.min(sy, ty) - 30 && p.y <= Math.max(sy, ty) + 30;
    expect(within(first)).toBe(true);
    expect(Math.hypot(first.x - sx, first.y - sy)).toBeGreaterThan(10);
    let later = first;
    expect(await until(async () => ((later = (await dot(page, seq)) ?? later), later.progress > first.progress + 0.15), 10_000, 20)).toBe(true);
    expect(Math.hypot(later.x - tx, later.y - ty)).toBeLessThan(Math.hypot(first.x - tx, first.y - ty));
    // It arrives and goes.
    expect(await until(async () => (await page.locator(`.packet-dot[data-seq="${seq}"]`).count()) === 0, 10_000)).toBe(true);
    // A jump over thousands of events (back, then forward again) animates nothing.
    const [start] = await seqsOf(ui, 'vmotion.start');
    await seekTo(page, start!.seq);
    await seekTo(page, seq);
    expect(seq - start!.seq).toBeGreaterThan(1000);
    expect(await until(async () => (await page.locator('.packet-dot').count()) > 0, 1500)).toBe(false);
  });

  it('canvas draws an aborted vMotion: the VM back in its source box with an aborted badge, the ghost gone', async () => {
    await recording?.browser.close();
    await recording?.ui.stop();
    recording = await openRecording(aborted);
    const { page, ui } = recording;
    const [precheck] = await seqsOf(ui, 'vmotion.precheck');
    const [done] = await seqsOf(ui, 'vmotion.done');
    expect(done!.payload.result).toBe('aborted');
    await seekTo(page, precheck!.seq + 50);
    const before = await still(page);
    expect(await mirror(page, 'app-01', 'data-vmotion-stage')).toBe('pre-copy');
    expect(await mirror(page, 'app-01', 'data-ghost')).not.toBeNull();

    await seekTo(page, done!.seq);
    expect(await mirror(page, 'app-01', 'data-vmotion-stage')).toBe('aborted');
    expect(await mirror(page, 'app-01', 'data-vmotion-text')).toBe('vMotion aborted: peer-unreachable');
    expect(await mirror(page, 'app-01', 'data-ghost')).toBeNull();
    expect(await drawnIn(page, 'app-01', 'esx-01')).toBe(true);
    await waitForText(page.locator('#topology-elements li[data-id="app-01"]'), 'its vMotion to esx-02 aborted (peer-unreachable');
    expect(await still(page)).toBe(before);
    await clickTopology(page, 'app-01');
    await page.locator('.inspector .vmotion-phase').waitFor({ timeout: 10_000 });
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(shots(tmp), 'vmotion-aborted.png') });
  });
});

describe('dpulab ui canvas: stepping a paused live run, port labels, tooltips, context menu, fit', () => {
  const tmp = tempDir();
  let live: LiveUi | undefined;
  let page: Page;
  let ui: UiProcess;
  let browser: Browser;

  beforeAll(async () => {
    live = await openLiveUi(tmp.dir, { acceptDownloads: true });
    ({ page, ui, browser } = live);
    expect(browser).toBeDefined();
    await page.locator('#topology-elements li[data-id="up-01a-a"]').waitFor({ state: 'attached', timeout: 30_000 });
  }, 60_000);

  afterAll(async () => {
    await closeLiveUi(live);
    tmp.remove();
  });

  it('canvas animates the frames of each step of a paused live run along their wires', async () => {
    // The flows have started (500 ms) when the run is paused (a live UI that waits for its user is resumed first).
    if ((await runStatus(ui)).paused) await apiPost(ui, '/api/control', { op: 'resume' });
    expect(await until(async () => (await runStatus(ui)).vtime > 700_000_000, 90_000)).toBe(true);
    await page.click('#pause');
    expect(await until(async () => (await runStatus(ui)).paused, 60_000)).toBe(true);
    await waitForText(page.locator('#run-state'), 'paused', 10_000, true);
    let seq = -1;
    // An instant may carry no frame: step until one does.
    for (let i = 0; i < 40 && seq < 0; i++) {
      await page.locator('#step:not([disabled])').waitFor({ timeout: 60_000 });
      await page.click('#step');
      const found = await until(async () => (await page.locator('.packet-dot').count()) > 0, 4000);
      if (found) seq = Number(await page.locator('.packet-dot').first().getAttribute('data-seq'));
    }
    expect(seq).toBeGreaterThan(0);
    const frame = (await apiGet<{ wire: string; dir: string }>(ui, `/api/frame/${seq}`)).body;
    const seen = await dot(page, seq);
    expect(seen?.wire).toBe(frame.wire);
    expect(await until(async () => ((await dot(page, seq))?.progress ?? 1) > (seen?.progress ?? 0), 10_000, 20)).toBe(true);
    expect((await runStatus(ui)).paused).toBe(true);
  }, 300_000);

  it('canvas labels cable ends with their ports and shows tooltips on nodes, cables and ports', async () => {
    const canvas = (await page.locator('.topology-canvas').boundingBox())!;
    expect(await mirror(page, 'up-01a-a', 'data-ports')).toBe('dpu-01a:p0 tor-a:swp1');
    const hover = async (x: number, y: number): Promise<string> => {
      await page.mouse.move(canvas.x + x, canvas.y + y);
      await page.locator('#topology-tooltip:not([hidden])').waitFor({ timeout: 5000 });
      return (await page.locator('#topology-tooltip').textContent()) ?? '';
    };
    expect(await hover(Number(await mirror(page, 'dpu-01a', 'data-x')), Number(await mirror(page, 'dpu-01a', 'data-y')))).toMatch(/dpu-01a \(dpu\): active.*role active on esx-01.*ports: /);
    const [x1, y1, x2, y2] = await numbers(page, 'up-01a-a', 'data-ends');
    const mid = await hover(Number(await mirror(page, 'up-01a-a', 'data-x')), Number(await mirror(page, 'up-01a-a', 'data-y')));
    expect(mid).toContain('up-01a-a (ethernet cable)');
    expect(mid).toContain('dpu-01a:p0 ↔ tor-a:swp1');
    // Near the switch's end of the cable: that port.
    const t = 12 / Math.hypot(x2! - x1!, y2! - y1!);
    const nearSwitch = await hover(x2! + (x1! - x2!) * t, y2! + (y1! - y2!) * t);
    expect(nearSwitch).toMatch(/port tor-a:swp1.*up.*cable up-01a-a.*LLDP neighbour: .*dpu-01a/);
    await page.mouse.move(canvas.x + 5, canvas.y + canvas.height - 5);
    await page.locator('#topology-tooltip').waitFor({ state: 'hidden', timeout: 5000 });
  });

  it('canvas context menu captures a wire live: the capture in progress is shown with its frames, and saved on stop as a pcapng tshark reads', async () => {
    if ((await runStatus(ui)).paused) await apiPost(ui, '/api/control', { op: 'resume' });
    const canvas = (await page.locator('.topology-canvas').boundingBox())!;
    await page.mouse.click(canvas.x + Number(await mirror(page, 'up-01a-a', 'data-x')), canvas.y + Number(await mirror(page, 'up-01a-a', 'data-y')), { button: 'right' });
    await page.click('#topology-menu [data-action="capture-wire"]');
    const chip = page.locator('.capture-chip[data-capture="up-01a-a"]');
    await chip.waitFor({ timeout: 10_000 });
    expect(await chip.getAttribute('data-state')).toBe('streaming');
    expect(await until(async () => Number(await chip.getAttribute('data-frames')) > 20, 90_000)).toBe(true);
    await waitForText(chip, 'Capturing wire up-01a-a');
    expect(await mirror(page, 'up-01a-a', 'data-capturing')).toBe('true');
    await page.mouse.move(0, 0);
    await page.screenshot({ path: join(shots(tmp), 'capture-live.png') });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), chip.locator('button', { hasText: 'Stop & save' }).click()]);
    const file = join(tmp.dir, 'canvas-capture.pcapng');
    await download.saveAs(file);
    expect(download.suggestedFilename()).toBe('up-01a-a.pcapng');
    expect(await chip.getAttribute('data-state')).toBe('stopped');
    expect(await until(async () => (await mirror(page, 'up-01a-a', 'data-capturing')) === 'false', 5000)).toBe(true);
    const frames = Number(await chip.getAttribute('data-frames'));
    const read = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.protocols'], { encoding: 'utf8' });
    expect(read.status, read.stderr).toBe(0);
    const protocols = read.stdout.trim().split('\n');
    expect(protocols).toHaveLength(frames);
    expect(protocols.some((p) => p.includes('geneve'))).toBe(true);
    await chip.locator('button', { hasText: 'dismiss' }).click();
    await chip.waitFor({ state: 'detached', timeout: 5000 });
  });

  it('canvas context menu kills and restarts a DPU, takes a cable down and up, and starts a vMotion', { timeout: 400_000 }, async () => {
    if ((await runStatus(ui)).paused) await apiPost(ui, '/api/control', { op: 'resume' });
    const canvas = (await page.locator('.topology-canvas').boundingBox())!;
    const menu = async (id: string): Promise<string[]> => {
      await page.mouse.click(canvas.x + Number(await mirror(page, id, 'data-x')), canvas.y + Number(await mirror(page, id, 'data-y')), { button: 'right' });
      await page.locator(`#topology-menu:not([hidden])[data-for="${id}"]`).waitFor({ timeout: 5000 });
      return page.locator('#topology-menu .menu-item').allTextContents();
    };
    expect(await menu('dpu-02b')).toEqual(['Inspect', "Fail over esx-02's active DPU", 'Kill dpu-02b', 'Restart dpu-02b']);
    await page.screenshot({ path: join(shots(tmp), 'context-menu.png') });
    await page.click('#topology-menu [data-action="kill"]');
    await waitForText(page.locator('#topology-toast'), 'Scheduled kill', 10_000);
    expect(await until(async () => ['stopped', 'failed'].includes((await topologyState(page, 'dpu-02b')) ?? ''), 90_000)).toBe(true);
    await menu('dpu-02b');
    await page.click('#topology-menu [data-action="restart"]');
    await waitForText(page.locator('#topology-toast'), 'Scheduled restart', 10_000);
    expect(await until(async () => (await topologyState(page, 'dpu-02b')) === 'standby', 90_000)).toBe(true);

    expect(await menu('up-02b-b')).toEqual(['Inspect', 'Link up-02b-b down', 'Capture up-02b-b (live pcapng)']);
    await page.click('#topology-menu [data-action="link-down"]');
    expect(await until(async () => (await topologyState(page, 'up-02b-b')) === 'down', 90_000)).toBe(true);
    expect(await menu('up-02b-b')).toContain('Link up-02b-b up');
    await page.click('#topology-menu [data-action="link-up"]');
    expect(await until(async () => (await topologyState(page, 'up-02b-b')) === 'up', 90_000)).toBe(true);

    // Escape closes the menu without doing anything.
    await menu('web-02');
    await page.keyboard.press('Escape');
    await page.locator('#topology-menu').waitFor({ state: 'hidden', timeout: 5000 });
    expect(await menu('web-02')).toEqual(['Inspect', 'vMotion to esx-01', 'Capture web-02.eth0 (live pcapng)']);
    await page.click('#topology-menu [data-action="vmotion-esx-01"]');
    await waitForText(page.locator('#topology-toast'), 'Scheduled vmotion', 10_000);
    expect(await until(async () => (await mirror(page, 'web-02', 'data-vmotion-stage')) !== '', 90_000)).toBe(true);
    expect(await mirror(page, 'web-02', 'data-vmotion-to')).toBe('esx-01');
  });

  it('canvas fit button brings every element back into view after the graph was dragged away', async () => {
    const canvas = (await page.locator('.topology-canvas').boundingBox())!;
    // Pan by dragging the empty background far to the right.
    await page.mouse.move(canvas.x + 8, canvas.y + canvas.height - 8);
    await page.mouse.down();
    await page.mouse.move(canvas.x + canvas.width * 0.9, canvas.y + canvas.height - 8, { steps: 20 });
    await page.mouse.up();
    const outside = async (): Promise<number> => page.locator('#topology-elements li[data-kind="dpu"], #topology-elements li[data-kind="switch"]').evaluateAll((items, size) => items.filter((li) => { const x = Number(li.getAttribute('data-x')); const y = Number(li.getAttribute('data-y')); return x < 0 || y < 0 || x > size.w || y > size.h; }).length, { w: canvas.width, h: canvas.height });
    expect(await until(async () => (await outside()) > 0, 5000)).toBe(true);
    await page.click('#topology-fit');
    expect(await until(async () => (await outside()) === 0, 5000)).toBe(true);
  });
});
