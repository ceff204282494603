import { DpulabError } from '../../../shared/errors.js';

/** Why an IPFIX exporter or flow cache refused its options. */
export type IpfixOptionErrorCode = 'bad-option';

/**
 * A flow cache or exporter option out of range (a timeout of 0, a message size too small for one
 * record). A configuration mistake, raised at construction rather than found while exporting.
 */
export class IpfixOptionError extends DpulabError {
  override readonly name = 'IpfixOptionError';
  /** Stable reason. */
  readonly code: IpfixOptionErrorCode = 'bad-option';
  /** The option that was refused, e.g. `idleTimeoutNs`. */
  readonly option: string;

  constructor(option: string, message: string) {
    super(message);
    this.option = option;
  }
}
