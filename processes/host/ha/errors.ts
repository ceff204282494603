/**
 * Errors of the host's HA decisions: caller bugs only (a DPU id the host does not have). Bad input
 * from a wire never gets here: heartbeats that do not parse are dropped by the host core.
 */
import { DpulabError } from '../../../shared/errors.js';

/** Why the HA manager refused a call. */
export type DpuHaErrorCode = 'unknown-dpu';

/** A HA manager call named something the host does not have; `code` is stable. */
export class DpuHaError extends DpulabError {
  override readonly name = 'DpuHaError';
  readonly code: DpuHaErrorCode;

  constructor(code: DpuHaErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
