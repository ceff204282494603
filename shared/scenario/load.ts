/**
 * Loading scenario files: YAML text → {@link Scenario}, or a {@link ScenarioError} naming file,
 * line and field for every problem; and checking a scenario against the topology it runs on.
 */

import { z } from 'zod';
import { formatDuration } from '../units.js';
import { fileStem } from '../topology/load.js';
import { durationSchema } from '../topology/schema.js';
import type { ResolvedTopology } from '../topology/types.js';
import { YamlSource, checkWithSchema, didYouMean, formatPath, sortProblems } from '../topology/yaml-source.js';
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

/** How {@link validateScenarioAgainstTopology} sees the scenario it checks. */
export interface ScenarioContext {
  /**
   * The scenario this one is added to (a lab's start, for a student's scenario or the solution):
   * what its steps start, add and move counts, in time order, the start's first at equal times.
   */
  readonly after?: Scenario;
}

/**
 * Checks a scenario against the topology it runs on and against itself:
 *
 * - every wire, node, VM and vNIC a step names exists in `topology` and can do what the step asks
 *   (see `shared/actions/topology.ts`);
 * - a `flow.stop` stops a flow a `flow.start` started before it, a `dfw.rule.remove` removes a
 *   rule a `dfw.rule.add` added before it (with `context.after`, the steps of the scenario it is
 *   added to count too);
 * - a `vmotion` does not move a VM to the host it is on.
 *
 * Steps loaded by {@link loadScenario} are located in their file; others are reported without a
 * line. `fileName` defaults to the file the steps were loaded from.
 *
 * @throws ScenarioError listing every problem
 */
export function validateScenarioAgainstTopology(scenario: Scenario, topology: ResolvedTopology, fileName?: string, context: ScenarioContext = {}): void {
  const known = knownIds(topology);
  const problems: SourceProblem[] = [];
  let loadedFrom: string | undefined;
  const report = (step: ScenarioStep, field: readonly (string | number)[], message: string): void => {
    const origin = stepOrigins.get(step);
    const problem: PathProblem = { path: [...(origin?.path ?? ['steps', step.index]), ...field], message };
    problems.push(origin ? origin.source.locateProblem(problem) : { path: formatPath(problem.path), line: 0, column: 0, message });
  };
  for (const step of scenario.steps) {
    const origin = stepOrigins.get(step);
    loadedFrom ??= origin?.source.fileName;
    const stepPath = origin?.path ?? ['steps', step.index];
    for (const found of actionProblems(step, topology, known)) {
      const problem: PathProblem = { path: [...stepPath, ...found.path], message: found.message };
      problems.push(origin ? origin.source.locateProblem(problem) : { path: formatPath(problem.path), line: 0, column: 0, message: problem.message });
    }
  }
  checkAcrossSteps(scenario, topology, context.after ?? null, report);
  if (problems.length > 0) throw new ScenarioError(fileName ?? loadedFrom ?? 'scenario', sortProblems(problems));
}

/**
 * The checks that need the steps before a step: ids a step refers to must have been introduced
 * earlier, and a VM must not be sent to the host it runs on. One pass in time order, so linear.
 */
function checkAcrossSteps(
  scenario: Scenario,
  topology: ResolvedTopology,
  after: Scenario | null,
  report: (step: ScenarioStep, field: readonly (string | number)[], message: string) => void,
): void {
  const hostOf = new Map<string, string>();
  for (const node of topology.nodes) if (node.kind === 'host') for (const vm of node.spec.vms) hostOf.set(vm.id, node.id);
  const moved = new Set<string>();
  const flows = new Map<string, ScenarioStep>();
  const rules = new Map<string, ScenarioStep>();
  // The scenario added to comes first among equal times, as combineScenarios orders them.
  const own = new Set(scenario.steps);
  const steps = [...(after?.steps ?? []), ...scenario.steps].map((step, order) => ({ step, order }));
  steps.sort((a, b) => a.step.atNs - b.step.atNs || a.order - b.order);
  for (const { step } of steps) {
    const mine = own.has(step);
    switch (step.action) {
      case 'flow.start':
        flows.set(step.flow.id, step);
        break;
      case 'flow.stop':
        if (mine && !flows.has(step.flow)) report(step, ['flow'], `no flow "${step.flow}" is started before this step (a flow.start with id ${step.flow} must come earlier)${didYouMean(step.flow, flows.keys())}`);
        break;
      case 'dfw.rule.add':
        rules.set(step.rule.id, step);
        break;
      case 'dfw.rule.remove':
        if (mine && !rules.has(step.rule)) report(step, ['rule'], `no rule "${step.rule}" is added before this step (a dfw.rule.add with id ${step.rule} must come earlier)${didYouMean(step.rule, rules.keys())}`);
        break;
      case 'vmotion':
        // Only before its first vMotion is a VM's host certain: a migration may fail at run time.
        if (mine && !moved.has(step.vm) && hostOf.get(step.vm) === step.to) {
          report(step, ['to'], `VM ${step.vm} already runs on ${step.to}: a vMotion must go to another host`);
        }
        moved.add(step.vm);
        break;
      default:
        break;
    }
  }
}
