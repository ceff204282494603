/**
 * The scenario action registry: for each action, the schema of a step that takes it and the
 * topology objects it refers to. Both are typed against {@link ScenarioAction}, so an action
 * added to the union does not compile until it is described here.
 */

import { z } from 'zod';
import { durationSchema, nameSchema } from '../topology/schema.js';
import type { ScenarioAction, ScenarioActionName } from './types.js';
import type { VTime } from '../events.js';

/** A step as written: `at` plus the action's fields. */
type WrittenStep<A extends ScenarioAction> = { readonly at: VTime } & A;

/** The strict schema of a step taking `action`, with that action's own fields. */
function stepSchema<K extends ScenarioActionName, S extends z.ZodRawShape>(action: K, fields: S) {
  return z.strictObject({ at: durationSchema(), action: z.literal(action), ...fields });
}

/** Per action, the schema of a step that takes it. */
export const STEP_SCHEMAS = {
  link: stepSchema('link', { wire: z.string().min(1), state: z.enum(['up', 'down']) }),
  kill: stepSchema('kill', { node: nameSchema('a node id') }),
  note: stepSchema('note', { text: z.string().min(1) }),
} satisfies { readonly [K in ScenarioActionName]: z.ZodType<WrittenStep<Extract<ScenarioAction, { action: K }>>> };

/** The action names, sorted, for messages. */
export const ACTION_NAMES: readonly ScenarioActionName[] = (Object.keys(STEP_SCHEMAS) as ScenarioActionName[]).sort();

/** A topology object a step refers to, and the step field that names it. */
export interface ActionReference {
  readonly field: string;
  readonly kind: 'wire' | 'node';
  readonly id: string;
}

/** The wires and nodes an action names, which must exist in the topology it runs against. */
export function actionReferences(action: ScenarioAction): ActionReference[] {
  switch (action.action) {
    case 'link':
      return [{ field: 'wire', kind: 'wire', id: action.wire }];
    case 'kill':
      return [{ field: 'node', kind: 'node', id: action.node }];
    case 'note':
      return [];
  }
}

/** True when `name` is a known action. */
export function isActionName(name: unknown): name is ScenarioActionName {
  return typeof name === 'string' && Object.hasOwn(STEP_SCHEMAS, name);
}
