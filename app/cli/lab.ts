/**
 * `dpulab lab`: lab exercises headless. `list` the built-in labs, `show` one's file, `run` one
 * (its starting scenario plus a student's scenario, or its reference solution) and `check` a
 * recorded run against its tasks.
 */
import { join } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { startRun, type RunSummary } from '../../processes/controller/session.js';
import { builtinLab } from '../../shared/lab/builtin/index.js';
import type { LabGrade, TaskGrade } from '../../shared/lab/grader.js';
import type { Lab } from '../../shared/lab/types.js';
import { gradeLog, listLabs, loadStudentScenario, openLab, prepareLabRun } from '../lab/labs.js';
import { CliError } from './errors.js';
import { jsonSafe, table, vtime } from './format.js';
import { readSource } from './run.js';

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError(`Not a non-negative integer: ${value}`);
  return n;
}

function defaultDbPath(lab: string, seed: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return join(process.cwd(), 'runs', `lab-${lab}-seed${seed}-${stamp}-${process.pid}.db`);
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

function listCommand(flags: { json?: boolean }): void {
  const labs = listLabs();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ labs })}\n`);
    return;
  }
  process.stdout.write(`${table([['lab', 'tasks', 'title'], ...labs.map((l) => [l.name, String(l.tasks), l.title])])}\n`);
  process.stdout.write('\n  next: dpulab lab show NAME    dpulab lab run NAME [--solution | --scenario FILE]    dpulab lab check NAME DB\n');
}

function showCommand(name: string): void {
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

async function runCommand(name: string, flags: RunFlags): Promise<void> {
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
  else if (summary.crashed.length > 0) process.exitCode = 1;
}

function checkCommand(name: string, db: string, flags: { json?: boolean }): void {
  const lab = openLab(name);
  const { grade, warnings } = gradeLog(lab, db);
  if (flags.json) process.stdout.write(`${JSON.stringify(jsonGrade(grade, db, warnings))}\n`);
  else process.stdout.write(`${readableGrade(grade, db, warnings)}\n`);
  if (grade.passed !== grade.total) process.exitCode = 1;
}

/**
 * Fills in the `lab` command and its subcommands. Takes the command from the main program
 * (`program.command('lab')`) so that the subcommands inherit its settings (exit override, output).
 */
export function labCommand(lab: Command): Command {
  lab.description('Lab exercises: a topology, a starting scenario and tasks checked on the event log');
  lab.command('list').description('List the built-in labs').option('--json', 'one JSON object').action(listCommand);
  lab.command('show').description("Print a lab's file (a built-in lab's YAML, to read or adapt)").argument('<lab>', 'built-in lab name or lab file').action(showCommand);
  lab
    .command('run')
    .description("Run a lab: its starting scenario plus the steps of --scenario (or of its --solution), then grade the run")
    .argument('<lab>', 'built-in lab name or lab file')
    .option('--solution', "add the lab's reference solution to the starting scenario")
    .option('--scenario <file>', 'scenario whose steps are added to the starting scenario (the run lasts until the later end)')
    .option('--seed <n>', "seed of every random stream (default: the lab's)", integer)
    .option('--db <file>', 'event log to write (default: runs/lab-<name>-seed<n>-<time>.db)')
    .option('--overwrite', 'replace an existing dpulab event log at --db')
    .option('--in-process', 'run every node core in this process instead of one process per node')
    .option('--json', 'print one JSON object on stdout, last: the run summary and the grade')
    .action(runCommand);
  lab
    .command('check')
    .description("Grade a recorded run against a lab's tasks (exit 0 when every task passes)")
    .argument('<lab>', 'built-in lab name or lab file')
    .argument('<db>', 'event log of the run')
    .option('--json', 'one JSON object: every task with its status and why')
    .action(checkCommand);
  return lab;
}
