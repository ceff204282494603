import { CodedError } from '../../../shared/errors.js';

/** Why a cost parameter or a charge was refused. */
export type CostErrorCode = 'bad-parameter' | 'unknown-step' | 'wrong-core' | 'bad-bytes';

/**
 * A cost parameter override is not a finite non-negative number, or a step was charged to a
 * meter of the wrong core type (a guest driver step on a DPU, a VF step on a host). Both are
 * mistakes in code or configuration, never in the traffic, so they are raised rather than counted.
 */
export class CostError extends CodedError<CostErrorCode> {
  override readonly name = 'CostError';
}
