import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { PACKAGE_ROOT } from '../../processes/controller/package-root.js';

/** The project root (the same from source, from dist-dev/ or from dist/). */
export const ROOT = PACKAGE_ROOT;
export const DPULAB_BIN = join(ROOT, 'bin', 'dpulab.js');

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Marks every process this test file starts: node processes inherit the controller's
 * environment, so a leftover can be told apart from another run on the same machine.
 */
export const TEST_TAG = `dpulab-test-${process.pid}-${Date.now()}`;
const taggedEnv = { ...process.env, DPULAB_TEST_TAG: TEST_TAG };

/** Runs `dpulab ARGS` to completion (the compiled CLI, as a user runs it). */
export function dpulab(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): CliResult {
  const result = spawnSync(process.execPath, [DPULAB_BIN, ...args], { cwd: options.cwd ?? ROOT, encoding: 'utf8', timeout: options.timeoutMs ?? 90_000, env: taggedEnv });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** The last line of stdout parsed as JSON (the CLI's `--json` contract). */
export function lastJson<T = Record<string, unknown>>(result: CliResult): T {
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]!) as T;
}

/**
 * Asserts that a `dpulab run --json` completed and kept every invariant, except those listed in
 * `knownBroken`: bugs of today's cores that a test about something else must not trip on (each
 * has a regression fixture in `test/fixtures/explore/`). Exit 1 for those alone is accepted; any
 * other invariant, a crash or another exit code fails.
 */
export function expectRunKeepsInvariants(result: CliResult, knownBroken: readonly string[] = []): void {
  if (result.code === 0) return;
  if (result.code !== 1) throw new Error(`dpulab run exited ${String(result.code)}: ${result.stderr}`);
  const summary = lastJson<{ crashed: unknown[]; invariants: { broken: { invariant: string; message: string }[] } }>(result);
  const unexpected = summary.invariants.broken.filter((v) => !knownBroken.includes(v.invariant));
  if (summary.crashed.length > 0 || unexpected.length > 0) {
    throw new Error(`dpulab run broke ${unexpected.map((v) => `${v.invariant} (${v.message})`).join('; ') || 'nothing'}${summary.crashed.length > 0 ? `, nodes crashed: ${JSON.stringify(summary.crashed)}` : ''}`);
  }
}

/** Starts `dpulab ARGS` in the background, for tests that signal it while it runs. */
export function startDpulab(args: readonly string[]): ChildProcess & { output: { stdout: string; stderr: string } } {
  const child = spawn(process.execPath, [DPULAB_BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: taggedEnv }) as ChildProcess & { output: { stdout: string; stderr: string } };
  child.output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (child.output.stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (child.output.stderr += s));
  return child;
}

/** Resolves with the exit of a child process. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

/** Whether a pid names a running (not zombie) process. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3, after the parenthesised command name, is the state; Z is a zombie awaiting its reaper.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Pids of the node processes still running that this test file's runs started. */
export function nodeProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('dist/bundle/node.js')) continue;
      const tagged = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0').includes(`DPULAB_TEST_TAG=${TEST_TAG}`);
      if (tagged && isAlive(Number(entry))) pids.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return pids;
}

/** Pids of a process's children whose command line contains `needle`. */
export function childrenOf(pid: number, needle = ''): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(needle)) out.push(Number(entry));
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

/** Polls until `check` holds or the deadline passes; returns whether it held. */
export async function eventually(check: () => boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Events committed so far to a log that may still be being written (0 while it cannot be read yet). */
export function committedEvents(db: string): number {
  try {
    const reader = EventLogReader.open(db);
    try {
      return reader.count();
    } finally {
      reader.close();
    }
  } catch {
    return 0;
  }
}

/** How `runScenario` runs: on the default lab or on `lab` (YAML data), with a seed, in-process or not. */
export interface ScenarioRunOptions {
  readonly lab?: unknown;
  readonly seed?: number;
  /** One process per node instead of `--in-process`. */
  readonly multiProcess?: boolean;
}

/**
 * Runs `steps` as a scenario named `name` that ends at `end` (written to `dir`, with the lab when
 * one is given) and returns what `dpulab run --json` printed: the summary of a run that must have
 * completed, exit 0.
 */
export function runScenario<T = Record<string, unknown>>(dir: string, name: string, end: string, steps: readonly unknown[], options: ScenarioRunOptions = {}): T {
  const scenario = join(dir, `${name}.yaml`);
  writeFileSync(scenario, stringify({ name, end, steps }));
  const args = ['run'];
  if (options.lab !== undefined) {
    const topology = join(dir, `${name}.lab.yaml`);
    writeFileSync(topology, stringify(options.lab));
    args.push(topology);
  }
  args.push('--scenario', scenario, '--json', '--db', join(dir, `${name}${options.multiProcess ? '-multi' : ''}.db`));
  if (options.seed !== undefined) args.push('--seed', String(options.seed));
  if (!options.multiProcess) args.push('--in-process');
  const result = dpulab(args);
  if (result.code !== 0) throw new Error(`dpulab ${args.join(' ')} exited ${String(result.code)}: ${result.stderr}`);
  return lastJson<T>(result);
}

/**
 * The steps of the commonest fault test: a TCP flow `flow` from web-01 to web-02 from 100 ms,
 * web-01 moved to esx-02 at 200 ms while it runs, the flow stopped at `stopAt`.
 */
export function streamDuringVmotion(flow: string, stopAt: string): unknown[] {
  return [
    { at: '100ms', action: 'flow.start', flow: { id: flow, kind: 'tcp', from: 'web-01', to: 'web-02', ratePps: 200 } },
    { at: '200ms', action: 'vmotion', vm: 'web-01', to: 'esx-02' },
    { at: stopAt, action: 'flow.stop', flow },
  ];
}

/** A temporary directory, removed by the returned function. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'dpulab-test-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
