/**
 * UI actions: a record `{action, ...fields}` checked the way a scenario step is (the action's
 * schema, the topology objects it names, the controller's planner) before it is scheduled, so
 * that every accepted action becomes a recorded input that a replay can carry out again.
 */
import type { z } from 'zod';
import { InputError, planInput } from '../../processes/controller/actions.js';
import type { TimedInput } from '../../processes/controller/controller.js';
import { actionReferences, isActionName, knownReferenceIds, referenceNoun, referenceResolves, STEP_SCHEMAS } from '../../shared/scenario/actions.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { ApiError, parseRequest } from './errors.js';

/** The actions the running code knows, sorted. */
export function availableActions(): string[] {
  return Object.keys(STEP_SCHEMAS).sort();
}

/**
 * Checks an action record and returns it as it will be recorded (defaults filled in, as for a
 * scenario step). Throws ApiError 400 naming the field (`record.<field>`) when it is malformed,
 * names something the topology lacks, or the planner refuses it.
 */
export function validateAction(topology: ResolvedTopology, record: Readonly<Record<string, unknown>>): TimedInput['record'] {
  const action = record.action;
  if (!isActionName(action)) {
    throw new ApiError(400, 'unknown-action', `Unknown action ${String(action)}: expected one of ${availableActions().join(', ')}`, 'record.action');
  }
  const schema = (STEP_SCHEMAS[action] as unknown as z.ZodObject).omit({ at: true });
  // The step schema of `action` checked it: it is that action's record.
  const parsed = parseRequest(schema, record, ['record']) as unknown as TimedInput['record'];
  const known = knownReferenceIds(topology);
  for (const ref of actionReferences(parsed)) {
    if (referenceResolves(known, ref)) continue;
    const what = referenceNoun(ref.kind);
    throw new ApiError(400, 'unknown-reference', `Invalid record.${ref.field}: no ${what} ${ref.id} in topology ${topology.name}`, `record.${ref.field}`);
  }
  try {
    planInput(topology, parsed);
  } catch (error) {
    if (error instanceof InputError) throw new ApiError(400, 'invalid-input', error.message, 'record');
    throw error;
  }
  return parsed;
}
