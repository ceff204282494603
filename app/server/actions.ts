/**
 * UI actions: a record `{action, ...fields}` read as a person writes it and checked against the
 * topology (`acceptAction`, the same check as a scenario step and an API action) before it is
 * scheduled, so that every accepted action becomes a recorded input that a replay can carry out.
 */
import { acceptAction, InputError } from '../../processes/controller/actions.js';
import type { InputRecord } from '../../shared/events/catalogue.js';
import { ACTION_NAMES } from '../../shared/actions/schema.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { ApiError } from './errors.js';

/** The actions the running code knows, sorted. */
export function availableActions(): string[] {
  return [...ACTION_NAMES];
}

/**
 * Checks an action record and returns it as it will be recorded (defaults filled in, as for a
 * scenario step). Throws ApiError 400 naming the field (`record.<field>`) when it is malformed or
 * names something the topology lacks or cannot do.
 */
export function validateAction(topology: ResolvedTopology, record: Readonly<Record<string, unknown>>): InputRecord {
  try {
    return acceptAction(topology, record);
  } catch (error) {
    throw actionRefused(error);
  }
}

/** The 400 for an action the controller refused; anything else passes through. */
export function actionRefused(error: unknown): unknown {
  if (!(error instanceof InputError)) return error;
  const field = ['record', ...error.path].join('.');
  const code = error.path[0] === 'action' && error.path.length === 1 ? 'unknown-action' : 'invalid-action';
  return new ApiError(400, code, error.message, field);
}
