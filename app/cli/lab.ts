/**
 * `dpulab lab`: lab exercises headless. `list` the built-in labs, `show` one's file, `run` one
 * (its starting scenario plus a student's scenario, or its reference solution) and `check` a
 * recorded run against its tasks.
 */
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileNamePart } from '../../shared/file-name.js';
import { startRun, type RunSummary } from '../../processes/controller/session.js';
import { builtinLab } from '../../shared/lab/builtin/index.js';
import type { LabGrade, TaskGrade } from '../../shared/lab/grader.js';
import type { Lab } from '../../shared/lab/types.js';
import { EventLogError } from '../../processes/controller/log/errors.js';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import { checkLabLog, gradeBinding, gradeLog, LabLogRefusedError, listLabs, loadStudentScenario, openLab, openLabFile, prepareLabRun, type LabFile } from '../lab/labs.js';
import type { GradeBinding } from '../../shared/lab/grader.js';
import { CliError } from './errors.js';
import { jsonSafe, table, vtime } from './format.js';
import { readSource } from './run.js';

function defaultDbPath(lab: string, seed: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return join(process.cwd(), 'runs', `lab-${fileNamePart(lab)}-seed${seed}-${stamp}-${process.pid}.db`);
}

const STATUS_WORDS: Record<TaskGrade['status'], string> = { passed: 'passed', failed: 'FAILED', pending: 'pending' };

/** A grade for people: one line per task, what was seen or why it failed. */
export function readableGrade(grade: LabGrade, db: string, warnings: readonly string[], binding?: GradeBinding): string {
  const lines = [`${grade.lab} (${grade.title}), ${db}: ${grade.passed} of ${grade.total} tasks passed${grade.final ? '' : ' so far'}`];
  if (binding) lines.push(`  fingerprint ${binding.fingerprint ?? '-'}, seed ${binding.seed}, lab version ${binding.labVersion}, recorded by dpulab ${binding.recordedBy}`);
  for (const w of warnings) lines.push(`  ! ${w}`);
  const rows = grade.tasks.map((t) => {
    const detail = t.status === 'passed' ? t.checks.map((c) => c.observed).filter((o) => o !== null).join('; ') : (t.reason ?? '');
    return [STATUS_WORDS[t.status], t.id, detail];
  });
  lines.push(table(rows).replace(/^/gm, '  '));
  return lines.join('\n');
}

/** A grade as JSON: every task with pass or fail and why, bound to the log's fingerprint, the lab's version and dpulab's. */
function jsonGrade(grade: LabGrade, db: string, warnings: readonly string[], binding: GradeBinding): Record<string, unknown> {
  return { lab: grade.lab, title: grade.title, db, ok: grade.passed === grade.total, final: grade.final, passed: grade.passed, total: grade.total, ...binding, tasks: grade.tasks, warnings };
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
  const labFile = openLabFile(name);
  const lab = labFile.lab;
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
  const { grade, warnings, run: record } = gradeLog(lab, summary.db);
  const binding = gradeBinding(labFile, record);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(jsonSafe({ ...summary, lab: lab.name, grade: jsonGrade(grade, summary.db, warnings, binding) }))}\n`);
  } else {
    process.stdout.write(`${readableRun(lab, summary)}\n\n${readableGrade(grade, summary.db, warnings)}\n\n  next: dpulab lab check ${name} ${summary.db}    dpulab ui --db ${summary.db}\n`);
  }
  if (summary.status === 'interrupted') process.exitCode = stoppedBy === 'SIGTERM' ? 143 : 130;
  else if (summary.status === 'failed' || summary.crashed.length > 0 || grade.passed !== grade.total) process.exitCode = 1;
}

interface CheckFlags {
  json?: boolean;
  all?: string;
  csv?: boolean;
}

/** What `lab check --all` says of one submission. */
interface Submission {
  readonly db: string;
  readonly status: 'passed' | 'failed' | 'refused' | 'unreadable';
  readonly grade: LabGrade | null;
  readonly binding: GradeBinding | null;
  /** Why it was refused or could not be read; empty otherwise. */
  readonly problems: readonly string[];
}

function gradeSubmission(file: LabFile, db: string): Submission {
  try {
    const { grade, binding } = checkLabLog(file, db);
    return { db, status: grade.passed === grade.total ? 'passed' : 'failed', grade, binding, problems: [] };
  } catch (error) {
    if (error instanceof LabLogRefusedError) return { db, status: 'refused', grade: null, binding: null, problems: error.problems };
    if (error instanceof EventLogError) return { db, status: 'unreadable', grade: null, binding: null, problems: [error.message] };
    throw error;
  }
}

/** The event logs of a directory (`*.db`), sorted by name. */
function submissionsIn(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    throw new CliError(`--all ${dir}: cannot read the directory (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const dbs = names.filter((n) => n.endsWith('.db') && statSync(join(dir, n)).isFile()).sort();
  if (dbs.length === 0) throw new CliError(`--all ${dir}: no event logs (*.db) in the directory`);
  return dbs.map((n) => join(dir, n));
}

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A class's submissions as CSV: one row each, one column per task, the binding, and why a log was refused. */
function csvSubmissions(file: LabFile, submissions: readonly Submission[]): string {
  const tasks = file.lab.tasks.map((t) => t.id);
  const header = ['submission', 'status', 'passed', 'total', ...tasks, 'fingerprint', 'seed', 'lab', 'lab_version', 'lab_sha256', 'recorded_by', 'graded_by', 'problems'];
  const rows = submissions.map((s) => {
    const status = (id: string): string | null => s.grade?.tasks.find((t) => t.id === id)?.status ?? null;
    return [basename(s.db), s.status, s.grade?.passed ?? null, s.grade?.total ?? tasks.length, ...tasks.map(status), s.binding?.fingerprint ?? null, s.binding?.seed ?? null, file.lab.name, file.lab.version, file.sha256, s.binding?.recordedBy ?? null, DPULAB_VERSION, s.problems.join('; ')];
  });
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n');
}

function checkAll(file: LabFile, dir: string, flags: CheckFlags): void {
  const submissions = submissionsIn(dir).map((db) => gradeSubmission(file, db));
  if (flags.csv) {
    process.stdout.write(`${csvSubmissions(file, submissions)}\n`);
  } else if (flags.json) {
    const json = submissions.map((s) => ({ db: s.db, status: s.status, problems: s.problems, ...(s.grade && s.binding ? { grade: jsonGrade(s.grade, s.db, [], s.binding) } : {}) }));
    process.stdout.write(`${JSON.stringify({ lab: file.lab.name, labVersion: file.lab.version, labSha256: file.sha256, gradedBy: DPULAB_VERSION, submissions: json })}\n`);
  } else {
    const rows = submissions.map((s) => [basename(s.db), s.grade ? `${s.grade.passed}/${s.grade.total}` : '-', s.status === 'passed' ? 'passed' : s.status.toUpperCase(), s.binding?.fingerprint?.slice(0, 16) ?? '-', s.problems.join('; ')]);
    process.stdout.write(`${file.lab.name} (version ${file.lab.version}), ${submissions.length} submissions in ${dir}\n${table([['submission', 'tasks', 'result', 'fingerprint', 'why refused'], ...rows]).replace(/^/gm, '  ')}\n`);
  }
  if (submissions.some((s) => s.status !== 'passed')) process.exitCode = 1;
}

/** `dpulab lab check`: one log, or with `--all` every log in a directory. */
export function checkCommand(name: string, db: string | undefined, flags: CheckFlags): void {
  if ((db === undefined) === (flags.all === undefined)) throw new CliError('Give one event log (DB) or --all DIR');
  if (flags.csv && flags.all === undefined) throw new CliError('--csv goes with --all DIR');
  if (flags.csv && flags.json) throw new CliError('Give --csv or --json, not both');
  const file = openLabFile(name);
  if (flags.all !== undefined) {
    checkAll(file, flags.all, flags);
    return;
  }
  const submission = gradeSubmission(file, db!);
  if (submission.status === 'unreadable') {
    // Not a usable event log at all: the input is at fault (exit 2), as for every command.
    EventLogReader.open(db!).close();
  }
  const { grade, binding } = submission;
  if (grade === null || binding === null) {
    if (flags.json) process.stdout.write(`${JSON.stringify({ lab: file.lab.name, db, ok: false, refused: true, problems: submission.problems })}\n`);
    else process.stdout.write(`${file.lab.name}, ${db}: REFUSED, not graded\n${submission.problems.map((p) => `  ! ${p}`).join('\n')}\n`);
    process.exitCode = 1;
    return;
  }
  if (flags.json) process.stdout.write(`${JSON.stringify(jsonGrade(grade, db!, [], binding))}\n`);
  else process.stdout.write(`${readableGrade(grade, db!, [], binding)}\n`);
  if (grade.passed !== grade.total) process.exitCode = 1;
}
