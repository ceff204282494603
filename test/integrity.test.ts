/**
 * Integrity of what a run records, and clear errors from the environment, through the CLI as a
 * user meets them: one writer per log, a crashed run that stays readable and verifiable, an
 * interrupted run that verifies up to its stop, a full disk, a read-only place, a missing or too
 * long TMPDIR, a closed pipe, escape sequences in a log.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { decode, encode } from '../shared/codec.js';
import { DEFAULT_SCENARIO_YAML } from '../shared/scenario/load.js';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { EventLogWriter } from '../processes/controller/log/writer.js';
import { testRunInfo } from '../processes/controller/log/testing.js';
import { committedEvents, dpulab, DPULAB_BIN, eventually, exited, nodeProcesses, ROOT, startDpulab, tempDir } from './support/cli.js';

describe('what a run records', () => {
  const tmp = tempDir();
  /** The default scenario as a file, for runs of another topology. */
  const scenarioFile = (): string => {
    const file = join(tmp.dir, 'default-scenario.yaml');
    if (!existsSync(file)) writeFileSync(file, DEFAULT_SCENARIO_YAML);
    return file;
  };
  const started: Array<ReturnType<typeof startDpulab>> = [];
  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  afterAll(() => tmp.remove());

  it('two writers cannot share a log: the second exits 2 naming the first, whose run goes on whole', async () => {
    const db = join(tmp.dir, 'shared.db');
    const first = startDpulab(['run', '--realtime', '--until', '60s', '--json', '--db', db]);
    started.push(first);
    expect(await eventually(() => committedEvents(db) > 30, 30_000, 50), first.output.stderr).toBe(true);
    const second = dpulab(['run', '--in-process', '--until', '10ms', '--overwrite', '--db', db]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(new RegExp(`^dpulab: The event log .*shared\\.db is being written by another run, pid ${first.pid!} \\(`));
    expect(second.stderr).toContain('wait for it to end, or choose another --db');
    first.kill('SIGINT');
    expect((await exited(first)).code).toBe(130);
    const reader = EventLogReader.open(db);
    try {
      expect(reader.run().status).toBe('interrupted');
      expect(reader.run().mode).toBe('multi-process');
      expect(reader.verifyFingerprint().ok).toBe(true);
    } finally {
      reader.close();
    }
    // Interrupted by Ctrl-C: replay verifies it up to its stop.
    const replay = dpulab(['replay', db, '--verify', '--in-process']);
    expect(replay.code, replay.stdout + replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/: identical up to its stop: interrupted at .* \(event \d+\)/);
  });

  it('a killed controller leaves a log marked crashed, readable from the .db alone and verifiable to its last checkpoint', async () => {
    const db = join(tmp.dir, 'crashed.db');
    const child = startDpulab(['run', '--in-process', '--until', '60s', '--db', db]);
    started.push(child);
    // Past the first checkpoint (every 10,000 events), where the WAL is folded into the file.
    expect(await eventually(() => committedEvents(db) > 12_000, 60_000, 50), child.output.stderr).toBe(true);
    child.kill('SIGKILL');
    await exited(child);

    const alone = join(tmp.dir, 'alone', 'crashed.db');
    mkdirSync(join(tmp.dir, 'alone'));
    copyFileSync(db, alone);
    const reader = EventLogReader.open(alone);
    try {
      expect(reader.run().status).toBe('crashed');
      expect(reader.count()).toBeGreaterThanOrEqual(10_000);
      expect(reader.verifyFingerprint()).toMatchObject({ checkpointsOk: true });
    } finally {
      reader.close();
    }
    const log = dpulab(['log', db, '--kind', 'node.start']);
    expect(log.code).toBe(0);
    const replay = dpulab(['replay', db, '--verify']);
    expect(replay.code).toBe(1);
    expect(replay.stdout).toMatch(/^dpulab replay .*crashed\.db \(in-process\): incomplete\n/);
    expect(replay.stdout).toMatch(/the stored events verify against their checkpoints up to event [1-9]\d{4}/);
    expect(replay.stdout).not.toContain('DIVERGED');
    // The lock died with the controller: a new run may take the file.
    expect(dpulab(['run', '--in-process', '--until', '1ms', '--overwrite', '--db', db]).code).toBe(0);
  });

  it('every frame a wire corrupts is counted malformed by its receiver, alike in separate processes and in one', () => {
    const topology = join(tmp.dir, 'corrupting.yaml');
    writeFileSync(topology, DEFAULT_LAB_YAML.replace('- { id: up-01a-a, a: dpu-01a:p0, b: tor-a:swp1 }', '- { id: up-01a-a, a: dpu-01a:p0, b: tor-a:swp1, impairments: { corrupt: 0.3 } }'));
    const fingerprints: string[] = [];
    for (const mode of [['--in-process'], []]) {
      const db = join(tmp.dir, `corrupting${mode.length}.db`);
      const result = dpulab(['run', topology, '--scenario', scenarioFile(), ...mode, '--until', '1s', '--json', '--db', db]);
      expect(result.code, result.stderr).toBe(0);
      fingerprints.push((JSON.parse(result.stdout.trim().split('\n').pop()!) as { fingerprint: string }).fingerprint);
      const reader = EventLogReader.open(db);
      try {
        const corrupted = [...reader.events({ kinds: ['frame.tx'] })].filter((e) => (decode(e.payload) as { fate: string }).fate === 'corrupted').length;
        const caught = [...reader.events({ kinds: ['frame.malformed'] })].filter((e) => (decode(e.payload) as { code: string }).code === 'bad-fcs').length;
        expect(corrupted).toBeGreaterThan(5);
        // A frame corrupted in flight to a port that then went down is dropped as link-down; none here.
        expect(caught).toBe(corrupted);
      } finally {
        reader.close();
      }
    }
    expect(fingerprints[1]).toBe(fingerprints[0]);
  });

  it('log escapes control characters found in a log instead of sending them to the terminal', () => {
    const db = join(tmp.dir, 'escapes.db');
    const writer = EventLogWriter.open(db, { dpulabVersion: 'test' });
    writer.beginRun(testRunInfo());
    writer.append([
      { seq: 0, vtime: 0, node: 'tor\u001b[2J', kind: 'input.note', cause: null, payload: encode({ text: 'bell\u0007 csi\u009b31m rtl\u202e' }), volatile: null },
    ]);
    writer.finishRun({ status: 'completed', endVtime: 0, exitReason: null });
    writer.close();
    for (const args of [['log', db], ['log', db, '--json']]) {
      const result = dpulab(args);
      expect(result.code).toBe(0);
      // eslint-disable-next-line no-control-regex -- looking for control characters is the point
      expect(result.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
      expect(result.stdout).toContain('tor\\u001b[2J');
    }
    // The JSON lines are still JSON with the same text.
    const line = JSON.parse(dpulab(['log', db, '--json']).stdout.trim()) as { node: string; payload: { text: string } };
    expect(line.node).toBe('tor\u001b[2J');
    expect(line.payload.text).toBe('bell\u0007 csi\u009b31m rtl\u202e');
  });

  it('log into a pipe that closes early ends quietly', async () => {
    const db = join(tmp.dir, 'piped.db');
    expect(dpulab(['run', '--in-process', '--until', '300ms', '--db', db]).code).toBe(0);
    const child = spawn(process.execPath, [DPULAB_BIN, 'log', db], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    // `| head -1`: read one chunk, then close the pipe.
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.stdout.destroy();
    const { code } = await exited(child);
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('the environment', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('a place that cannot be written exits 2 saying so, and no run starts', () => {
    const result = dpulab(['run', '--until', '1ms', '--db', '/proc/dpulab.db']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^dpulab: Cannot (lock|create) the event log \/proc\/dpulab\.db: /);
    expect(result.stderr).not.toContain('    at ');
    expect(nodeProcesses()).toEqual([]);
  });

  it('a missing TMPDIR exits 2 naming it and what to do; the log is marked failed', () => {
    const db = join(tmp.dir, 'no-tmp.db');
    const result = spawnSync(process.execPath, [DPULAB_BIN, 'run', '--until', '1ms', '--db', db], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TMPDIR: join(tmp.dir, 'gone'), XDG_RUNTIME_DIR: '' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/The temporary directory .*gone does not exist or is not a directory \(ENOENT\): create it, or set TMPDIR/);
    const reader = EventLogReader.open(db);
    try {
      expect(reader.run()).toMatchObject({ status: 'failed', exitReason: expect.stringContaining('does not exist') });
    } finally {
      reader.close();
    }
  });

  it('a TMPDIR too long for a Unix socket path exits 2 naming the limit', () => {
    const long = join(tmp.dir, 't'.repeat(120));
    mkdirSync(long);
    const result = spawnSync(process.execPath, [DPULAB_BIN, 'run', '--until', '1ms', '--db', join(tmp.dir, 'long.db')], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TMPDIR: long, XDG_RUNTIME_DIR: '' } });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/makes socket paths \d+ bytes long, more than the 10[37] a Unix socket path may have: set XDG_RUNTIME_DIR \(or TMPDIR\) to a shorter directory/);
  });

  it('a working directory of 4,037 characters exits 2 saying the path is too long', () => {
    // Built a component at a time from inside, as no single path this long can be opened.
    const part = 'd'.repeat(200);
    const script = `cd ${tmp.dir} && for i in $(seq 1 19); do mkdir -p ${part} && cd ${part}; done && d=$(printf 'e%.0s' $(seq 1 $((4037 - $(pwd | wc -c))))) && mkdir -p $d && cd $d && echo "$(pwd | tr -d '\n' | wc -c)" && "${process.execPath}" "${DPULAB_BIN}" run --in-process --until 1ms`;
    const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
    expect(Number(result.stdout.trim().split('\n')[0])).toBe(4037);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^dpulab: Cannot (lock|create) the event log .*\(\d+ characters\): its path is \d+ bytes, more than SQLite opens \(504\); use a shorter path or working directory/);
  });

  it("another user's leftover run directory in tmp does not stop a run", () => {
    // What used to stop everyone: a dpl- directory of someone else, with a dead controller.
    const shared = join(tmp.dir, 'shared-tmp');
    mkdirSync(join(shared, 'dpl-other'), { recursive: true });
    writeFileSync(join(shared, 'dpl-other', 'controller.pid'), '2147483646');
    chmodSync(join(shared, 'dpl-other'), 0o500);
    const result = spawnSync(process.execPath, [DPULAB_BIN, 'run', '--until', '1ms', '--db', join(tmp.dir, 'ok.db')], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, TMPDIR: shared, XDG_RUNTIME_DIR: '' } });
    expect(result.status, result.stderr).toBe(0);
    expect(existsSync(join(shared, 'dpl-other'))).toBe(true);
    // This user's run directories live in a private directory of its own.
    expect(readdirSync(shared).sort()).toEqual(['dpl-other', `dpulab-${process.getuid!()}`]);
    chmodSync(join(shared, 'dpl-other'), 0o700);
  });

  it('a full disk, at the start and in the middle of a run, exits 2 saying so; the log is marked failed', () => {
    // A small tmpfs in a private mount namespace; without the rights to make one, nothing to test.
    const mount = join(tmp.dir, 'small');
    mkdirSync(mount);
    const script = (db: string) => `mount -t tmpfs -o size=400k tmpfs ${mount} && "${process.execPath}" "${DPULAB_BIN}" run --in-process --db ${db}`;
    const probe = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=400k tmpfs ${mount}`], { encoding: 'utf8' });
    if (probe.status !== 0) {
      console.warn(`skipped: cannot mount a small tmpfs here (${probe.stderr.trim()})`);
      return;
    }
    const mid = spawnSync('unshare', ['-rm', 'sh', '-c', `${script(join(mount, 'run.db'))}; echo "exit $?"; "${process.execPath}" -e "const D=require('${join(ROOT, 'node_modules', 'better-sqlite3')}'); const r=new D('${join(mount, 'run.db')}',{readonly:true}).prepare('select status, exit_reason from runs').get(); console.log(JSON.stringify(r))"`], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(mid.stderr).toMatch(/^dpulab: Cannot write the event log .*run\.db: the disk is full \(ENOSPC\); free some space, or choose a place on another disk/);
    expect(mid.stderr).not.toContain('    at ');
    expect(mid.stdout).toContain('exit 2');
    const row = JSON.parse(mid.stdout.trim().split('\n').pop()!) as { status: string; exit_reason: string };
    expect(row.status).toBe('failed');
    expect(row.exit_reason).toMatch(/the disk is full/);

    // Full before anything is written: nothing half-made is left behind.
    const start = spawnSync('unshare', ['-rm', 'sh', '-c', `mount -t tmpfs -o size=400k tmpfs ${mount} && dd if=/dev/zero of=${mount}/fill bs=4k count=100 2>/dev/null; exec "${process.execPath}" "${DPULAB_BIN}" run --in-process --db ${mount}/start.db`], { cwd: ROOT, encoding: 'utf8' });
    expect(start.status).toBe(2);
    expect(start.stderr).toMatch(/^dpulab: Cannot (lock|create) the event log .*start\.db: the disk is full/);
  });
});
