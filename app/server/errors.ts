import { DpulabError } from '../../shared/errors.js';
import type { z } from 'zod';
import type { ApiErrorBody } from '../common/protocol.js';

/**
 * A request the UI server refuses: its HTTP status, a stable code and, for a malformed request,
 * the field at fault. Nothing has changed when one is thrown.
 */
export class ApiError extends DpulabError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message, { fromInput: status < 500 });
    this.name = 'ApiError';
  }

  /** The JSON body of the answer. */
  body(): ApiErrorBody {
    return { error: this.message, code: this.code, field: this.field };
  }
}

/** The 400 for a zod failure: the first issue, its path as the field (prefixed by `prefix`). */
export function invalidRequest(error: z.ZodError, prefix: string[] = []): ApiError {
  const issue = error.issues[0];
  const path = [...prefix, ...(issue?.path ?? []).map(String)];
  // An unknown key is reported on its parent; name the key itself.
  if (issue?.code === 'unrecognized_keys' && issue.keys.length > 0) path.push(issue.keys[0]!);
  const field = path.length > 0 ? path.join('.') : null;
  const message = issue?.message ?? 'Invalid request';
  return new ApiError(400, 'invalid-request', field === null ? `Invalid request: ${message}` : `Invalid ${field}: ${message}`, field);
}

/** Parses `value` with `schema` or throws the 400 naming the field. */
export function parseRequest<S extends z.ZodType>(schema: S, value: unknown, prefix: string[] = []): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidRequest(result.error, prefix);
  return result.data;
}
