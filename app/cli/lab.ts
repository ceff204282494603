/**
 * `dpulab lab`: lab exercises headless. `list` the built-in labs, `show` one's file, `run` one
 * (its starting scenario plus a student's scenario, or its reference solution) and `check` a
 * recorded run against its tasks.
 */
import { join } from 'node:path';
import { fileNamePart } from '../../shared/file-name.js';
import { startRun, type RunSummary } from '../../processes/controller/session.js';
import { builtinLab } from '../../shared/lab/builtin/index.js';
import type { LabGrade, TaskGrade } from '../../shared/lab/grader.js';
import type { Lab } from '../../shared/lab/types.js';
import { gradeLog, listLabs, loadStudentScenario, openLab, prepareLabRun } from '../lab/labs.js';
import { CliError } from './errors.js';
import { jsonSafe, table, vtime } from './format.js';
import { readSource } from './run.js';

function defaultDbPath(lab: string, seed: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return join(process.cwd(), 'runs', `lab-${fileNamePart(lab)}-seed${seed}-${stamp}-${process.pid}.db`);
}

const STATUS_WORDS: Record<TaskGrade['status'], string> = { passed: 'passed', failed: 'FAILED', pending: 'pending' };

/** A grade for people: one line per task, what was seen or why it failed. */
export function readableGrade(grade: LabGrade, db: string, warnings: readonly string[]): string {
  const lines = [`${grade.lab} (${grade.title}), ${db}: ${grade.passed} of ${grade.total} tasks passed${grade.final ? '' : ' so far'}`];
  for (const w of warnings) lines.push(`  ! ${w}`);
  const rows = grade.tasks.map((t) => {
    const detail = t.status === 'passed' ? t.checks.map((c) => c.observed).filter((o) => o !== null).join('; ') : (t.reason ?? '');
    return [STATUS_WORDS[t.status], t.id, detail];
  });
  lines.push(table(rows).replace(/^/gm, '  '));
  return lines.join('\n');
}

/** A grade as JSON: every task with pass or fail and why. */
function jsonGrade(grade: LabGrade, db: string, warnings: readonly string[]): Record<string, unknown> {
  return { lab: grade.lab, title: grade.title, db, ok: grade.passed === grade.total, final: grade.final, passed: grade.passed, total: grade.total, tasks: grade.tasks, warnings };
}

/** `dpulab lab list`. */
export function listCommand(flags: { json?: boolean }): void {
  const labs = listLabs();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ labs })}\n`);
    return;
  }
  process.stdout.write(`${table([['lab', 'tasks', 'title'], ...labs.map((l) => [l.name, String(l.tasks), l.title])])}\n`);
  process.stdout.write('\n  next: dpulab lab show NAME    dpulab lab run NAME [--solution | --scenario FILE]    dpulab lab check NAME DB\n');
}

/** `dpulab lab show`. */
export function showCommand(name: string): void {
  const builtin = builtinLab(name);
  const text = builtin ? builtin.yaml : readSource(name, 'lab').text;
  openLab(name);
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

interface RunFlags {
  solution?: boolean;
  scenario?: string;
  seed?: number;
  db?: string;
  overwrite?: boolean;
  inProcess?: boolean;
  json?: boolean;
}

/** What a lab run prints after the run: the run, its flows and cores, then the grade. */
function readableRun(lab: Lab, s: RunSummary): string {
  const lines = [`dpulab lab run: ${lab.name} / ${s.scenario}, seed ${s.seed}, ${s.mode}: ${s.status}`];
  lines.push(`  ${s.events} events, ${vtime(s.virtualTimeNs)} virtual in ${s.wallMs} ms wall`);
  lines.push(`  fingerprint ${s.fingerprint}`);
  lines.push(`  event log   ${s.db}`);
  if (s.flows.length > 0) {
    lines.push('');
    lines.push(table([['flow', 'kind', 'from', 'to', 'sent', 'delivered', 'lost', 'retrans', 'end state'], ...s.flows.map((f) => [f.flow, f.kind, f.from, f.to, String(f.sent), String(f.delivered), String(f.lost), String(f.retransmits), f.tcpState ?? '-'])]).replace(/^/gm, '  '));
  }
  if (s.cores.length > 0) {
    const modes = [...new Set(s.cores.flatMap((c) => Object.keys(c.byMode)))].sort();
    lines.push('');
    lines.push('  cores used by networking (CPU time / virtual time)');
    lines.push(table([['node', 'cores', 'total', ...modes], ...s.cores.map((c) => [c.node, c.coreType, c.coresUsed.toFixed(5), ...modes.map((m) => (c.byMode[m] === undefined ? '-' : c.byMode[m]!.toFixed(5)))])]).replace(/^/gm, '  '));
  }
  for (const c of s.crashed) lines.push(`\n  ! node ${c.node} ${c.reason ?? 'exited'} during the run`);
  return lines.join('\n');
}

/** `dpulab lab run`. */
export async function runCommand(name: string, flags: RunFlags): Promise<void> {
  if (flags.solution && flags.scenario !== undefined) throw new CliError('Give --solution or --scenario, not both');
  const lab = openLab(name);
  let added = null;
  let label = 'added';
  if (flags.solution) {
    if (lab.solution === null) throw new CliError(`Lab ${lab.name} has no reference solution`);
    added = lab.solution;
    label = 'reference solution';
  } else if (flags.scenario !== undefined) {
    added = loadStudentScenario(lab, readSource(flags.scenario, 'scenario'));
    label = 'student scenario';
  }
  const seed = flags.seed ?? lab.seed;
  const prepared = prepareLabRun(lab, added, { seed, label });
  const db = flags.db ?? defaultDbPath(lab.name, seed);
  const handle = startRun({ db, overwrite: flags.overwrite ?? false, mode: flags.inProcess ? 'in-process' : 'multi-process' }, prepared);
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stoppedBy !== null) {
      handle.killNow();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    stoppedBy = signal;
    process.stderr.write(`\ndpulab: ${signal}: stopping the run (again to kill it now)\n`);
    handle.interrupt();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => handle.killNow());

  const summary = await handle.done;
  const { grade, warnings } = gradeLog(lab, summary.db);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(jsonSafe({ ...summary, lab: lab.name, grade: jsonGrade(grade, summary.db, warnings) }))}\n`);
  } else {
    process.stdout.write(`${readableRun(lab, summary)}\n\n${readableGrade(grade, summary.db, warnings)}\n\n  next: dpulab lab check ${name} ${summary.db}    dpulab ui --db ${summary.db}\n`);
  }
  if (summary.status === 'interrupted') process.exitCode = stoppedBy === 'SIGTERM' ? 143 : 130;
  else if (summary.status === 'failed' || summary.crashed.length > 0) process.exitCode = 1;
}

/** `dpulab lab check`. */
export function checkCommand(name: string, db: string, flags: { json?: boolean }): void {
  const lab = openLab(name);
  const { grade, warnings } = gradeLog(lab, db);
  if (flags.json) process.stdout.write(`${JSON.stringify(jsonGrade(grade, db, warnings))}\n`);
  else process.stdout.write(`${readableGrade(grade, db, warnings)}\n`);
  if (grade.passed !== grade.total) process.exitCode = 1;
}
