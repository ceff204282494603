/**
 * Loading scenario files: YAML text → {@link Scenario}, or a {@link ScenarioError} naming file,
 * line and field for every problem; and checking a scenario against the topology it runs on.
 */

import { z } from 'zod';
import { formatDuration } from '../units.js';
import { fileStem } from '../topology/load.js';
import { durationSchema } from '../topology/schema.js';
import type { ResolvedTopology } from '../topology/types.js';
import { YamlSource, checkWithSchema, formatPath, sortProblems } from '../topology/yaml-source.js';
import type { DataPath, PathProblem, SourceProblem } from '../topology/yaml-source.js';
import { parseAction, stepSchema, type Action } from '../actions/schema.js';
import { actionProblems, knownIds } from '../actions/topology.js';
import { ScenarioError } from './errors.js';
import type { Scenario, ScenarioStep } from './types.js';

export { DEFAULT_SCENARIO_FILE, DEFAULT_SCENARIO_YAML } from './default-scenario.js';
export { ScenarioError } from './errors.js';
export type { Scenario, ScenarioStep } from './types.js';

/** The top level of a scenario file; steps are checked one by one against their action's schema. */
export const scenarioEnvelopeSchema = z.strictObject({
  /** Defaults to the file name without its extension. */
  name: z.string().min(1).optional(),
  end: durationSchema({ minNs: 1 }),
  steps: z.array(z.unknown()).default([]),
});

/**
 * Where each loaded step came from, so that a later check against a topology can still point
 * at the line. Keyed by the step objects, which survive copying the scenario (`{...s, endNs}`).
 */
const stepOrigins = new WeakMap<ScenarioStep, { readonly source: YamlSource; readonly path: DataPath }>();

/**
 * Parses and checks a scenario file. Steps are returned sorted by time, file order among equal
 * times. With `options.topology`, also checks that the wires and nodes it names exist.
 *
 * @throws ScenarioError listing every problem found, located in the file
 */
export function loadScenario(text: string, fileName: string, options: { readonly topology?: ResolvedTopology } = {}): Scenario {
  const source = new YamlSource(text, fileName);
  if (source.syntaxProblems.length > 0) throw new ScenarioError(fileName, source.syntaxProblems);

  const problems: PathProblem[] = [];
  const envelope = checkWithSchema(scenarioEnvelopeSchema, source.data);
  if (!envelope.ok) problems.push(...envelope.problems);
  const endNs = envelope.ok ? envelope.value.end : null;
  const data = typeof source.data === 'object' && source.data !== null && !Array.isArray(source.data) ? (source.data as Record<string, unknown>) : {};

  const steps: ScenarioStep[] = [];
  const rawSteps = Array.isArray(data.steps) ? (data.steps as unknown[]) : [];
  rawSteps.forEach((raw, index) => {
    const path = ['steps', index];
    const checked = parseAction(raw, stepSchema, path);
    if (!checked.ok) {
      problems.push(...checked.problems);
      return;
    }
    const { at, ...fields } = checked.value;
    if (endNs !== null && at > endNs) {
      problems.push({ path: [...path, 'at'], message: `${formatDuration(at)} is after the end of the run (end: ${formatDuration(endNs)})` });
    }
    const step = { atNs: at, index, ...(fields as Action) } as ScenarioStep;
    stepOrigins.set(step, { source, path });
    steps.push(step);
  });

  if (problems.length > 0) throw new ScenarioError(fileName, sortProblems(problems.map((p) => source.locateProblem(p))));
  const name = typeof data.name === 'string' && data.name !== '' ? data.name : fileStem(fileName);
  const scenario: Scenario = { name, endNs: endNs ?? 0, steps: steps.sort((a, b) => a.atNs - b.atNs) };
  if (options.topology) validateScenarioAgainstTopology(scenario, options.topology, fileName);
  return scenario;
}

/**
 * Checks every step against `topology`: the wires, nodes, VMs and vNICs it names exist and can do
 * what it asks (see `shared/actions/topology.ts`). Steps loaded by {@link loadScenario} are
 * located in their file; others are reported without a line. `fileName` defaults to the file the
 * steps were loaded from.
 *
 * @throws ScenarioError listing every problem
 */
export function validateScenarioAgainstTopology(scenario: Scenario, topology: ResolvedTopology, fileName?: string): void {
  const known = knownIds(topology);
  const problems: SourceProblem[] = [];
  let loadedFrom: string | undefined;
  for (const step of scenario.steps) {
    const origin = stepOrigins.get(step);
    loadedFrom ??= origin?.source.fileName;
    const stepPath = origin?.path ?? ['steps', step.index];
    for (const found of actionProblems(step, topology, known)) {
      const problem: PathProblem = { path: [...stepPath, ...found.path], message: found.message };
      problems.push(origin ? origin.source.locateProblem(problem) : { path: formatPath(problem.path), line: 0, column: 0, message: problem.message });
    }
  }
  if (problems.length > 0) throw new ScenarioError(fileName ?? loadedFrom ?? 'scenario', sortProblems(problems));
}
