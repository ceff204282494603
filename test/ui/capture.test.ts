import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Download } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dpulab, exited, startDpulab, tempDir } from '../support/cli.js';
import { apiGet, apiPost, clickTopology, launchBrowser, shutDownUi, startUi, type UiProcess, until, VIEWPORT, writeUiScenario } from './support.js';

/** The blocks of a pcapng file, each as its bytes. */
function blocks(file: string): Buffer[] {
  const bytes = readFileSync(file);
  const out: Buffer[] = [];
  for (let p = 0; p < bytes.length; p += bytes.readUInt32LE(p + 4)) out.push(bytes.subarray(p, p + bytes.readUInt32LE(p + 4)));
  return out;
}

/** Enhanced packet blocks (frames) of a pcapng file. */
function frames(file: string): Buffer[] {
  return blocks(file).filter((b) => b.readUInt32LE(0) === 6);
}

/** Malformed packets and checksum or protocol errors tshark finds (TCP sequence analysis aside: a capture starts mid-stream). */
function tsharkComplaints(file: string): string {
  const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
  const filter = '_ws.malformed || (_ws.expert.severity >= warning && _ws.expert.group != "Sequence")';
  const result = spawnSync('tshark', ['-r', file, ...checks, '-Y', filter], { encoding: 'utf8' });
  expect(result.status, result.stderr).toBe(0);
  return result.stdout.trim();
}

function protocols(file: string): string[] {
  return spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.protocols'], { encoding: 'utf8' }).stdout.trim().split('\n');
}

async function runState(ui: UiProcess): Promise<{ state: string; paused: boolean }> {
  return (await apiGet<{ status: { state: string; paused: boolean } }>(ui, '/api/run')).body.status;
}

describe('dpulab capture of a live dpulab ui', () => {
  const tmp = tempDir();
  const db = join(tmp.dir, 'live.db');
  let ui: UiProcess;
  let browser: Browser;

  beforeAll(async () => {
    // A short run: the captures end with it. It is paused while the readers connect.
    [ui, browser] = await Promise.all([startUi(['--record', db, '--scenario', writeUiScenario(tmp.dir), '--until', '3s']), launchBrowser()]);
    expect((await apiPost(ui, '/api/control', { op: 'pause' })).status).toBe(200);
  });

  afterAll(() => shutDownUi(browser, ui, tmp));

  it('capture of a wire or vNIC the run lacks, or with a wrong token, exits 2 naming what was wrong', () => {
    const wire = dpulab(['capture', ui.url, '--wire', 'up-09']);
    expect(wire.code).toBe(2);
    expect(wire.stderr).toMatch(/^dpulab: The UI at http:\/\/127\.0\.0\.1:\d+ refused the capture \(400\): Invalid wire: No wire up-09 in topology default-lab \(wires: .*up-01a-a.*\)\n$/);
    const vnic = dpulab(['capture', ui.url, '--vnic', 'web-09.eth0']);
    expect(vnic.code).toBe(2);
    expect(vnic.stderr).toContain('refused the capture (400): Invalid vnic: No vNIC web-09.eth0 in topology default-lab (vNICs: app-01.eth0');
    const token = dpulab(['capture', ui.url.replace(/token=.*/, 'token=not-the-token'), '--wire', 'up-01a-a']);
    expect(token.code).toBe(2);
    expect(token.stderr).toMatch(/refused the access token \(403\)/);
    const both = dpulab(['capture', ui.url, '--wire', 'up-01a-a', '--vnic', 'web-01.eth0']);
    expect(both.code).toBe(2);
    expect(both.stderr).toBe('dpulab: Give --wire ID or --vnic ID (one of them)\n');
  });

  it('capture streams the frames of a wire and of a vNIC while the run goes, ends with the run, and tshark reads them whole', async () => {
    const wireFile = join(tmp.dir, 'up-01a-a.pcapng');
    const vnicFile = join(tmp.dir, 'web-01.eth0.pcapng');
    const wire = startDpulab(['capture', ui.url, '--wire', 'up-01a-a', '-o', wireFile]);
    const vnic = startDpulab(['capture', ui.url, '--vnic', 'web-01.eth0', '-o', vnicFile]);
    const size = (file: string): number => {
      try {
        return statSync(file).size;
      } catch {
        return 0;
      }
    };
    // Both readers have their header (section and interfaces) before any frame flows.
    expect(await until(() => size(wireFile) > 0 && size(vnicFile) > 0, 30_000)).toBe(true);
    const header = blocks(wireFile);
    expect(header.map((b) => b.readUInt32LE(0))).toEqual([0x0a0d0d0a, 1, 1]);

    // Frames arrive while the run goes, not only at its end.
    expect((await apiPost(ui, '/api/control', { op: 'resume' })).status).toBe(200);
    expect(await until(() => frames(wireFile).length > 20, 30_000)).toBe(true);
    expect((await runState(ui)).state).toBe('running');

    // The Capture link of a selected wire downloads the same stream in the browser.
    expect((await apiPost(ui, '/api/control', { op: 'pause' })).status).toBe(200);
    const page = await browser.newPage({ viewport: VIEWPORT, acceptDownloads: true });
    await page.goto(ui.url);
    await clickTopology(page, 'up-01a-a');
    const link = page.locator('a[data-capture="up-01a-a"]');
    await link.waitFor({ timeout: 10_000 });
    expect(await link.textContent()).toBe('Capture up-01a-a (live pcapng)');
    const [download] = (await Promise.all([page.waitForEvent('download'), link.click()])) as [Download, void];
    expect(download.suggestedFilename()).toBe('up-01a-a.pcapng');

    expect((await apiPost(ui, '/api/control', { op: 'resume' })).status).toBe(200);
    const [wireExit, vnicExit] = await Promise.all([exited(wire), exited(vnic)]);
    expect(wireExit.code, wire.output.stderr).toBe(0);
    expect(vnicExit.code, vnic.output.stderr).toBe(0);
    expect(wire.output.stderr).toMatch(/^dpulab capture: \d+ frames of wire up-01a-a written to .*up-01a-a\.pcapng \(the run ended\)\n$/);
    expect((await runState(ui)).state).toBe('completed');

    // Every frame parses: GENEVE carrying the VMs' traffic on the uplink, the guest's own TCP and neighbour resolution on the vNIC.
    expect(tsharkComplaints(wireFile)).toBe('');
    expect(tsharkComplaints(vnicFile)).toBe('');
    expect(protocols(wireFile).some((p) => p.startsWith('eth:ethertype:ip:udp:geneve:eth:ethertype:ip:tcp'))).toBe(true);
    const guest = protocols(vnicFile);
    expect(guest.some((p) => p.startsWith('eth:ethertype:ip:tcp'))).toBe(true);
    expect(guest.some((p) => p.includes('geneve'))).toBe(false);

    // What streamed is what the log recorded: the same header, and the export's last frames.
    const exported = join(tmp.dir, 'export.pcapng');
    expect(dpulab(['pcap', db, '--wire', 'up-01a-a', '-o', exported]).code).toBe(0);
    const live = frames(wireFile);
    const all = frames(exported);
    expect(live.length).toBeGreaterThan(20);
    expect(Buffer.concat(blocks(exported).slice(0, 3)).equals(Buffer.concat(header))).toBe(true);
    expect(Buffer.concat(all.slice(all.length - live.length)).equals(Buffer.concat(live))).toBe(true);

    // The browser's download ended with the run too, a whole capture.
    const downloaded = await download.path();
    expect(blocks(downloaded).slice(0, 3).map((b) => b.readUInt32LE(0))).toEqual([0x0a0d0d0a, 1, 1]);
    expect(frames(downloaded).length).toBeGreaterThan(0);
    expect(tsharkComplaints(downloaded)).toBe('');
  });

  it('capture after the run ended is refused, pointing at dpulab pcap', () => {
    const late = dpulab(['capture', ui.url, '--wire', 'up-01a-a']);
    expect(late.code).toBe(2);
    expect(late.stderr).toBe(`dpulab: The UI at ${new URL(ui.url).origin} refused the capture (409): The run has ended: there is nothing left to capture live (dpulab pcap ${db} --wire up-01a-a exports what it recorded)\n`);
  });
});
