import { CodedError } from '../../../shared/errors.js';

/** Why the pre-copy planner refused a configuration, a measurement or a call. */
export type PrecopyErrorCode = 'bad-config' | 'bad-measurement' | 'bad-sequence';

/**
 * A pre-copy configuration or round measurement that cannot be planned from (a negative size, a
 * throughput of zero), or a call out of order (`nextRound` before `firstRound`, or after the plan
 * ended). These are mistakes in the caller, never in the guest, so they are raised.
 */
export class PrecopyError extends CodedError<PrecopyErrorCode> {
  override readonly name = 'PrecopyError';
}

/**
 * Why a vMotion message or migration state was refused: `malformed-message` for bytes from the
 * network that do not parse (dropped and counted by the host, never trusted), `malformed-state`
 * for a switchover state that does not restore.
 */
export type VmotionErrorCode = 'malformed-message' | 'malformed-state';

/** A vMotion message or state that could not be used; `code` is stable. */
export class VmotionError extends CodedError<VmotionErrorCode> {
  override readonly name = 'VmotionError';
}
