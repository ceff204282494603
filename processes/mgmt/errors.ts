import { DpulabError } from '../../shared/errors.js';

/** A management-network lookup named something the topology does not have: a caller's bug or a topology that does not fit. */
export class MgmtSetupError extends DpulabError {
  override readonly name = 'MgmtSetupError';
  constructor(
    readonly code: 'unknown-node' | 'not-managed' | 'too-many-nodes',
    message: string,
  ) {
    super(message);
  }
}

/** A management message that could not be decoded: it is dropped and counted by the receiver, never trusted. */
export class MgmtMessageError extends DpulabError {
  override readonly name = 'MgmtMessageError';
  readonly code = 'malformed-mgmt';
  constructor(message: string) {
    super(message);
  }
}
