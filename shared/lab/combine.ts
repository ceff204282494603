/**
 * How a student's scenario (or the reference solution) joins a lab's starting scenario: its
 * steps are added to the start's, the run lasts until the later of the two ends. The start
 * always happens; the student only adds.
 */

import type { Scenario, ScenarioStep } from '../scenario/types.js';
import type { Lab, LabSource } from './types.js';

/** The scenario a lab run follows, and a readable record of where it came from. */
export interface CombinedScenario {
  readonly scenario: Scenario;
  /**
   * What the run records as its scenario text: the start's YAML, then (as a second YAML
   * document) the added scenario's, each a scenario file of its own.
   */
  readonly text: string;
}

/**
 * The start's steps and the added ones, sorted by time (the start's first among equal times),
 * numbered on from the start's so that every recorded input names a distinct step.
 */
export function combineScenarios(lab: Pick<Lab, 'name' | 'start'>, added: { scenario: Scenario; source: LabSource } | null, label = 'added'): CombinedScenario {
  const start = lab.start.scenario;
  if (added === null) {
    return { scenario: { ...start, name: lab.name }, text: `# Lab ${lab.name}: the starting scenario (${lab.start.source.file}), nothing added\n${lab.start.source.text}` };
  }
  const offset = start.steps.length;
  const steps: ScenarioStep[] = [...start.steps, ...added.scenario.steps.map((s) => ({ ...s, index: s.index + offset }))];
  steps.sort((a, b) => a.atNs - b.atNs);
  const text = [
    `# Lab ${lab.name}: the starting scenario (${lab.start.source.file}), then the steps added to it (${label}: ${added.source.file}).`,
    lab.start.source.text.trimEnd(),
    '---',
    added.source.text.trimEnd(),
    '',
  ].join('\n');
  return { scenario: { name: `${lab.name}+${added.scenario.name}`, endNs: Math.max(start.endNs, added.scenario.endNs), steps }, text };
}
