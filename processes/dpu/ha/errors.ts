/**
 * Errors of the DPU HA modules. Bad input from a wire is never thrown past the module that reads
 * it: a malformed sync message is dropped and counted (`SyncMessageError` is what the decoder
 * throws for the caller to count). `HaSetupError` is a caller bug or a topology that does not fit.
 */
import { CodedError, DpulabError } from '../../../shared/errors.js';

/**
 * Why HA could not be set up or driven.
 *
 * - `unknown-dpu`, `unknown-host`: an id the topology does not hold (or a DPU its host does not list).
 * - `bad-option`: a parameter out of range (a window, a queue limit, a timeout).
 */
export type HaSetupErrorCode = 'unknown-dpu' | 'unknown-host' | 'bad-option';

/** A HA module was built or called with something that cannot work; `code` is stable. */
export class HaSetupError extends CodedError<HaSetupErrorCode> {
  override readonly name = 'HaSetupError';
}

/** A state-sync message that could not be decoded: not msgpack, wrong magic or version, a field out of shape. */
export class SyncMessageError extends DpulabError {
  override readonly name = 'SyncMessageError';
  readonly code = 'malformed-sync';

  constructor(message: string) {
    super(message);
  }
}
