/**
 * Labs on this machine: the built-in ones and lab files named by path, runs prepared from them
 * (the lab's start plus a student's scenario or the reference solution), and grades of recorded
 * runs. Used by `dpulab lab` and by the UI server.
 */
import { DpulabError } from '../../shared/errors.js';
import { createHash } from 'node:crypto';
import { dirname, isAbsolute, join } from 'node:path';
import { planInput } from '../../processes/controller/actions.js';
import type { TimedInput } from '../../processes/controller/controller.js';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import type { RunRecord } from '../../processes/controller/log/schema.js';
import type { PreparedRun, SourceFile } from '../../processes/controller/session.js';
import { decode, encode } from '../../shared/codec.js';
import { eventInput } from '../../shared/events/typed.js';
import { formatDuration } from '../../shared/units.js';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import { BUILTIN_LABS, builtinLab } from '../../shared/lab/builtin/index.js';
import { combineScenarios } from '../../shared/lab/combine.js';
import { LabGrader, type GradeBinding, type LabGrade } from '../../shared/lab/grader.js';
import { loadLab, type Lab, type LabSource } from '../../shared/lab/load.js';
import type { LabScenario } from '../../shared/lab/types.js';
import { emptyClusterState, type ClusterState } from '../../shared/state/cluster-state.js';
import { applyEvent } from '../../shared/state/fold.js';
import { toClusterEvent } from '../../shared/state/recorded.js';
import { loadScenario, validateScenarioAgainstTopology } from '../../shared/scenario/load.js';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML } from '../../shared/topology/load.js';
import { besideLab, InputFileError, readInputFile } from './input-file.js';

/** A lab name that is neither built in nor a readable file. */
export class LabNotFoundError extends DpulabError {
  readonly code = 'lab-not-found';
  constructor(name: string, why: string) {
    super(`No lab ${name}: ${why} (built-in labs: ${BUILTIN_LABS.map((l) => l.name).join(', ')})`, { fromInput: true });
    this.name = 'LabNotFoundError';
  }
}


/**
 * A lab by built-in name (`kill-a-dpu`) or by the path of a lab file; files it names are read
 * relative to it.
 *
 * @throws LabNotFoundError for a name that is neither; LabError (or the TopologyError or
 *   ScenarioError of a file it names) for a lab that does not load
 */
export function openLab(nameOrPath: string): Lab {
  return openLabFile(nameOrPath).lab;
}

/** A lab and the text of its file, whose digest identifies the exact lab a grade was given by. */
export interface LabFile {
  readonly lab: Lab;
  /** SHA-256 of the lab file's text (hex). */
  readonly sha256: string;
}

/** {@link openLab}, with the digest of the lab file's text. */
export function openLabFile(nameOrPath: string): LabFile {
  const builtin = builtinLab(nameOrPath);
  const digest = (text: string): string => createHash('sha256').update(text).digest('hex');
  if (builtin) return { lab: loadLab(builtin.yaml, builtin.file), sha256: digest(builtin.yaml) };
  let text: string;
  try {
    text = readInputFile(nameOrPath, 'lab file');
  } catch (error) {
    if (error instanceof InputFileError && error.code === 'unreadable' && error.message.endsWith('ENOENT')) {
      throw new LabNotFoundError(nameOrPath, 'not a built-in lab, and no such file');
    }
    throw error;
  }
  return { lab: loadLab(text, nameOrPath, { readFile: (path) => namedByLab(nameOrPath, path) }), sha256: digest(text) };
}

/**
 * A file a lab file names: a built-in one (`default-lab.yaml`, the embedded default lab), or a
 * file beside the lab file, read as any input file is. The name is shown as the lab file's
 * directory joined with it, as given.
 */
function namedByLab(labFile: string, path: string): LabSource {
  if (path === DEFAULT_LAB_FILE) return { text: DEFAULT_LAB_YAML, file: DEFAULT_LAB_FILE };
  const shown = isAbsolute(path) ? path : join(dirname(labFile), path);
  try {
    besideLab(labFile, path);
    return { text: readInputFile(shown, 'file'), file: shown };
  } catch (error) {
    // The lab loader says which key named the file and that it cannot be read; this says why.
    if (!(error instanceof InputFileError)) throw error;
    throw new Error(error.code === 'outside' ? error.message : error.message.replace(/^Cannot read file .*?: /, ''));
  }
}

/** One line of `dpulab lab list`. */
export interface LabListing {
  readonly name: string;
  readonly title: string;
  readonly tasks: number;
}

/** The built-in labs, in course order. */
export function listLabs(): LabListing[] {
  return BUILTIN_LABS.map((builtin) => {
    const lab = loadLab(builtin.yaml, builtin.file);
    return { name: lab.name, title: lab.title, tasks: lab.tasks.length };
  });
}

/** A student's scenario file, checked against the lab's topology. */
export function loadStudentScenario(lab: Lab, source: SourceFile): LabScenario {
  const scenario = loadScenario(source.text, source.file);
  validateScenarioAgainstTopology(scenario, lab.topology, source.file, { after: lab.start.scenario });
  return { scenario, source };
}

/**
 * The run of a lab: its topology, its starting scenario plus `added` (a student's scenario or
 * the reference solution; null: the start alone), every input checked by the planner.
 */
export function prepareLabRun(lab: Lab, added: LabScenario | null, options: { seed?: number; untilNs?: number; label?: string } = {}): PreparedRun {
  const combined = combineScenarios(lab, added, options.label ?? 'added');
  const inputs = combined.scenario.steps.map((step) => {
    const { atNs, index, ...action } = step;
    return { atNs, record: { ...action, step: index } } as TimedInput;
  });
  for (const input of inputs) planInput(lab.topology, input.record);
  return {
    topology: lab.topology,
    topologySource: lab.topologySource ?? null,
    scenario: combined.scenario,
    // What the run records as its scenario: the lab's start, then what was added.
    scenarioSource: { text: combined.text, file: added?.source.file ?? lab.file },
    seed: options.seed ?? lab.seed,
    endNs: options.untilNs ?? combined.scenario.endNs,
    inputs,
  };
}

/** A grade of a recorded run, with what the log says about the run. */
export interface LogGrade {
  readonly grade: LabGrade;
  readonly run: RunRecord;
  /** The cluster state at the end of the log, which the grade read. */
  readonly state: ClusterState;
  /** Reasons to doubt the run belongs to this lab, for people; empty when it looks right. */
  readonly warnings: readonly string[];
}

/**
 * Grades a recorded run against a lab. A run still being written (or whose controller died) is
 * graded as it stands, not final: what has not happened yet is pending.
 *
 * @throws EventLogError for a file that is not a usable event log
 */
export function gradeLog(lab: Lab, db: string): LogGrade {
  const reader = EventLogReader.open(db);
  try {
    const run = reader.run();
    const grader = new LabGrader(lab);
    const state = emptyClusterState();
    for (const e of reader.events()) {
      applyEvent(state, toClusterEvent(e));
      if (grader.wants(e.kind)) grader.feed({ seq: e.seq, vtime: e.vtime, node: e.node, kind: e.kind, payload: decode(e.payload) });
    }
    const warnings: string[] = [];
    if (run.topologyName !== lab.topology.name) warnings.push(`The run used topology ${run.topologyName}, the lab uses ${lab.topology.name}`);
    if (run.scenarioName === null || !(run.scenarioName === lab.name || run.scenarioName.startsWith(`${lab.name}+`))) {
      warnings.push(`The run was not started from lab ${lab.name} (its scenario is ${run.scenarioName ?? 'none'}): its starting steps may be missing`);
    }
    if (run.status === 'running') warnings.push('The run has not finished: checks that wait for the end are still pending');
    if (run.status === 'crashed') warnings.push('The run never finished (its controller died): checks that wait for the end stay pending');
    const ended = run.status !== 'running' && run.status !== 'crashed';
    return { grade: grader.grade(ended, state), run, warnings, state };
  } finally {
    reader.close();
  }
}

/**
 * A log that must not be graded for a lab: altered after it was recorded (its events no longer
 * hash to its checkpoints and fingerprint), unfinished, or not a run of the lab (another
 * topology, or the lab's starting steps missing or changed). Exit code 1: the submission, not the
 * command, is at fault.
 */
export class LabLogRefusedError extends DpulabError {
  readonly code = 'lab-log-refused';
  constructor(
    readonly db: string,
    readonly lab: string,
    readonly problems: readonly string[],
  ) {
    super(`Refused to grade ${db} for lab ${lab}: ${problems.join('; ')}`);
    this.name = 'LabLogRefusedError';
  }
}

/** The first path at which two JSON values differ (`hosts.0.vms.1.memoryMiB`), or null when equal. */
function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (Object.is(a, b)) return null;
  const at = path === '' ? '(root)' : path;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return at;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  for (const key of keys) {
    const d = firstDifference((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path === '' ? key : `${path}.${key}`);
    if (d !== null) return d;
  }
  return null;
}

/**
 * Why a recorded run cannot be graded for a lab, one sentence each; empty when it can. Checks,
 * with the verification `replay --verify` uses, that the stored events still hash to every
 * checkpoint and to the run's fingerprint; that the run finished; that it ran the lab's topology;
 * and that every step of the lab's starting scenario is among its recorded inputs, unchanged and
 * at its time, and the run lasted until the start's end. The student's own steps (numbered after
 * the start's, or UI actions) may be anything.
 */
export function labLogProblems(lab: Lab, reader: EventLogReader): string[] {
  const problems: string[] = [];
  const run = reader.run();
  const integrity = reader.verifyFingerprint();
  // A run that never finished has no fingerprint to bind a grade to: say that, not "altered".
  if (run.fingerprint === null) problems.push(`It has not finished (status ${run.status}), so it has no fingerprint to bind a grade to: grade it once the run has ended`);
  const altered = integrity.problems.filter((p) => run.fingerprint !== null || !p.startsWith('The run has no fingerprint'));
  if (altered.length > 0) problems.push(`Its events do not match its checkpoints and fingerprint, so it was altered after it was recorded (${altered.join('; ')})`);

  let recorded: unknown;
  try {
    recorded = JSON.parse(run.topologyJson);
  } catch {
    recorded = null;
  }
  const topologyDiff = firstDifference(recorded, JSON.parse(JSON.stringify(lab.topology)));
  if (topologyDiff !== null) {
    const name = (recorded as { name?: unknown } | null)?.name;
    problems.push(
      name === lab.topology.name
        ? `It ran a topology ${String(name)} that differs from the lab's at ${topologyDiff}`
        : `It ran topology ${String(name ?? run.topologyName)}, not the lab's ${lab.topology.name}`,
    );
  }

  // The start's steps as the run records them: the same records, numbered 0..n-1, at their times.
  const start = combineScenarios(lab, null).scenario.steps;
  const found = new Map<number, { vtime: number; payload: Uint8Array }>();
  for (const e of reader.events({ kinds: ['input.*'] })) {
    let step: unknown;
    try {
      step = (eventInput(e) as { step?: unknown }).step;
    } catch {
      continue; // An unreadable input cannot be a start step; the fingerprint speaks for the rest.
    }
    if (typeof step === 'number' && step < start.length && !found.has(step)) found.set(step, { vtime: e.vtime, payload: e.payload });
  }
  const missing: string[] = [];
  for (const step of start) {
    const { atNs, index, ...action } = step;
    const got = found.get(index);
    const expected = encode({ ...action, step: index });
    if (got === undefined || got.vtime !== atNs || Buffer.compare(Buffer.from(got.payload), Buffer.from(expected)) !== 0) {
      missing.push(`${action.action} at ${formatDuration(atNs)} (step ${index})`);
    }
  }
  if (missing.length > 0) {
    const scenario = run.scenarioName === null ? 'no scenario' : `scenario ${run.scenarioName}`;
    problems.push(`It was not started from lab ${lab.name}'s starting scenario (it ran ${scenario}): ${missing.length} of its ${start.length} starting steps are missing or changed, the first ${missing[0]}`);
  }
  const endNs = run.endVtime ?? 0;
  if (run.status !== 'running' && endNs < lab.start.scenario.endNs) {
    problems.push(`It ended at ${formatDuration(endNs)}, before the lab's starting scenario ends (${formatDuration(lab.start.scenario.endNs)})`);
  }
  return problems;
}


/**
 * Grades a recorded run for `lab check`: refuses it (LabLogRefusedError) unless
 * {@link labLogProblems} finds nothing, then grades it and binds the grade to the log.
 *
 * @throws LabLogRefusedError for a log that must not be graded; EventLogError for a file that is not a usable event log
 */
export function checkLabLog(file: LabFile, db: string): LogGrade & { readonly binding: GradeBinding } {
  const reader = EventLogReader.open(db);
  let run: RunRecord;
  try {
    const problems = labLogProblems(file.lab, reader);
    if (problems.length > 0) throw new LabLogRefusedError(db, file.lab.name, problems);
    run = reader.run();
  } finally {
    reader.close();
  }
  const graded = gradeLog(file.lab, db);
  return { ...graded, binding: gradeBinding(file, run) };
}

/** The binding of a grade of `run` by lab `file`. */
export function gradeBinding(file: LabFile, run: RunRecord): GradeBinding {
  return { fingerprint: run.fingerprint, seed: run.seed, labVersion: file.lab.version, labSha256: file.sha256, recordedBy: run.versions.dpulab, gradedBy: DPULAB_VERSION };
}
