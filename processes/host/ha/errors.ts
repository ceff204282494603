/**
 * Errors of the host's HA decisions: caller bugs only (a DPU id the host does not have). Bad input
 * from a wire never gets here: heartbeats that do not parse are dropped by the host core.
 */
import { CodedError } from '../../../shared/errors.js';

/** Why the HA manager refused a call. */
export type DpuHaErrorCode = 'unknown-dpu';

/** A HA manager call named something the host does not have; `code` is stable. */
export class DpuHaError extends CodedError<DpuHaErrorCode> {
  override readonly name = 'DpuHaError';
}
