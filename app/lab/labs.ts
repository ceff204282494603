/**
 * Labs on this machine: the built-in ones and lab files named by path, runs prepared from them
 * (the lab's start plus a student's scenario or the reference solution), and grades of recorded
 * runs. Used by `dpulab lab` and by the UI server.
 */
import { DpulabError } from '../../shared/errors.js';
import { dirname, isAbsolute, join } from 'node:path';
import { planInput } from '../../processes/controller/actions.js';
import type { TimedInput } from '../../processes/controller/controller.js';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import type { RunRecord } from '../../processes/controller/log/schema.js';
import type { PreparedRun, SourceFile } from '../../processes/controller/session.js';
import { decode } from '../../shared/codec.js';
import { BUILTIN_LABS, builtinLab } from '../../shared/lab/builtin/index.js';
import { combineScenarios } from '../../shared/lab/combine.js';
import { LabGrader, type LabGrade } from '../../shared/lab/grader.js';
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
  const builtin = builtinLab(nameOrPath);
  if (builtin) return loadLab(builtin.yaml, builtin.file);
  let text: string;
  try {
    text = readInputFile(nameOrPath, 'lab file');
  } catch (error) {
    if (error instanceof InputFileError && error.code === 'unreadable' && error.message.endsWith('ENOENT')) {
      throw new LabNotFoundError(nameOrPath, 'not a built-in lab, and no such file');
    }
    throw error;
  }
  return loadLab(text, nameOrPath, { readFile: (path) => namedByLab(nameOrPath, path) });
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
