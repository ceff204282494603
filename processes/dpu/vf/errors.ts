/**
 * Errors of the DPU's virtual functions.
 *
 * Illegal migration arcs are not errors thrown at the caller: they are recorded (`vf.error`) and
 * refused, as the kernel refuses them with EINVAL. What throws is a caller doing something the
 * function's state forbids outright: DMA while stopped, reading device state outside STOP_COPY.
 */
import { CodedError } from '../../../shared/errors.js';

/**
 * Why a virtual function refused an operation.
 *
 * - `dma-refused`: DMA (or a doorbell, or a command) in a state that allows none (STOP, STOP_COPY, RESUMING, ERROR).
 * - `wrong-state`: device state saved outside STOP_COPY or loaded outside RESUMING.
 * - `not-bound`: an operation that needs a vNIC on a function that serves none.
 * - `already-bound`: binding a function that already serves a vNIC.
 * - `bad-pool-size`: a pool asked for a number of functions that is not a count.
 */
export type VfErrorCode = 'dma-refused' | 'wrong-state' | 'not-bound' | 'already-bound' | 'bad-pool-size';

/** An operation a virtual function refuses; `code` is stable. */
export class VfError extends CodedError<VfErrorCode> {
  override readonly name = 'VfError';
  /** The function's index, null for errors of the pool. */
  readonly vf: number | null;

  constructor(code: VfErrorCode, vf: number | null, message: string) {
    super(code, message);
    this.vf = vf;
  }
}
