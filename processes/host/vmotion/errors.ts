/** Why the pre-copy planner refused a configuration, a measurement or a call. */
export type PrecopyErrorCode = 'bad-config' | 'bad-measurement' | 'bad-sequence';

/**
 * A pre-copy configuration or round measurement that cannot be planned from (a negative size, a
 * throughput of zero), or a call out of order (`nextRound` before `firstRound`, or after the plan
 * ended). These are mistakes in the caller, never in the guest, so they are raised.
 */
export class PrecopyError extends Error {
  override readonly name = 'PrecopyError';
  /** Stable reason. */
  readonly code: PrecopyErrorCode;

  constructor(code: PrecopyErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
