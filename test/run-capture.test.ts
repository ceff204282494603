import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dpulab, eventually, exited, lastJson, nodeProcesses, startDpulab, tempDir } from './support/cli.js';

/** Frames (enhanced packet blocks) in a pcapng file, counting whole blocks only. */
function frameCount(file: string): number {
  const bytes = readFileSync(file);
  let frames = 0;
  for (let p = 0; p + 8 <= bytes.length; ) {
    const length = bytes.readUInt32LE(p + 4);
    if (length < 12 || p + length > bytes.length) break;
    if (bytes.readUInt32LE(p) === 6) frames++;
    p += length;
  }
  return frames;
}

/** What tshark reads in a file: its exit status and every frame's protocol stack. */
function tshark(file: string): { status: number | null; protocols: string[]; stderr: string } {
  const result = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.protocols'], { encoding: 'utf8' });
  return { status: result.status, protocols: result.stdout.trim().split('\n').filter(Boolean), stderr: result.stderr };
}

describe('dpulab run --capture', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('run --capture writes the pcapng of a vNIC and a wire as the run goes, read by tshark during the run and after it', async () => {
    const db = join(tmp.dir, 'run.db');
    const vnicFile = join(tmp.dir, 'web-01.pcapng');
    const wireFile = join(tmp.dir, 'up.pcapng');
    // Paced to the wall clock so that there is a "while it goes" to look at, whatever the load.
    const run = startDpulab(['run', '--until', '3s', '--realtime', '--db', db, '--json', '--capture', 'web-01.eth0', '-o', vnicFile, '--capture', 'up-01a-a', '-o', wireFile]);
    const running = await eventually(() => existsSync(vnicFile) && frameCount(vnicFile) > 0, 90_000);
    expect(running, run.output.stderr).toBe(true);
    expect(run.exitCode).toBeNull();
    // Read while the run is going: the file ends on a whole block, tshark opens it without complaint.
    const during = tshark(vnicFile);
    expect(during.status, during.stderr).toBe(0);
    expect(during.protocols.length).toBeGreaterThan(0);
    expect(run.exitCode).toBeNull();

    const exit = await exited(run);
    expect(exit.code, run.output.stderr).toBe(0);
    const summary = lastJson({ ...exit, stdout: run.output.stdout, stderr: run.output.stderr });
    expect(summary.status).toBe('completed');
    expect(run.output.stderr).toMatch(/dpulab run: \d+ frames of vNIC web-01\.eth0 \(\d+ sent, \d+ received\) written to .*web-01\.pcapng/);
    expect(run.output.stderr).toMatch(/dpulab run: \d+ frames of wire up-01a-a written to .*up\.pcapng/);

    const after = tshark(vnicFile);
    expect(after.status, after.stderr).toBe(0);
    expect(after.protocols.length).toBeGreaterThan(during.protocols.length);
    // The guest's own traffic: address resolution (ARP or IPv6 ND) and its TCP flow.
    expect(after.protocols.some((p) => p.includes(':arp') || p.includes(':icmpv6'))).toBe(true);
    expect(after.protocols.some((p) => p.includes(':tcp'))).toBe(true);
    // Written as it went, the files are what dpulab pcap exports from the finished log, byte for byte.
    for (const [flag, id, file] of [
      ['--vnic', 'web-01.eth0', vnicFile],
      ['--wire', 'up-01a-a', wireFile],
    ] as const) {
      const exported = join(tmp.dir, `export-${id}.pcapng`);
      const pcap = dpulab(['pcap', db, flag, id, '-o', exported]);
      expect(pcap.code, pcap.stderr).toBe(0);
      expect(readFileSync(file).equals(readFileSync(exported)), `${id}: run --capture and pcap differ`).toBe(true);
    }
    expect(tshark(wireFile).protocols.some((p) => p.includes(':geneve'))).toBe(true);
    expect(nodeProcesses()).toEqual([]);
  }, 180_000);

  it('run --capture of a wire or vNIC the topology lacks exits 2 naming it, before anything starts', () => {
    const db = join(tmp.dir, 'never.db');
    const file = join(tmp.dir, 'never.pcapng');
    const unknown = dpulab(['run', '--in-process', '--until', '1s', '--db', db, '--capture', 'up-01a-a', '-o', join(tmp.dir, 'fine.pcapng'), '--capture', 'web-09.eth0', '-o', file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^dpulab: Unknown capture target web-09\.eth0: no wire or vNIC of that id in topology default-lab \(wires: .*up-01a-a.*; vNICs: app-01\.eth0.*web-01\.eth0.*\)\n$/);
    expect(existsSync(db)).toBe(false);
    expect(existsSync(file)).toBe(false);
    const unpaired = dpulab(['run', '--in-process', '--until', '1s', '--db', db, '--capture', 'up-01a-a']);
    expect(unpaired.code).toBe(2);
    expect(unpaired.stderr).toBe('dpulab: Give one -o FILE after each --capture ID (1 --capture, 0 -o): --capture up-01a-a -o up.pcapng --capture web-01.eth0 -o web.pcapng\n');
    expect(existsSync(db)).toBe(false);
  });
});
