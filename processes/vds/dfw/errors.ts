/**
 * Errors the distributed firewall raises. Each carries a stable `code`: callers branch on it
 * (a failed import keeps the vNIC disconnected), messages are for people.
 */
import { CodedError, DpulabError } from '../../../shared/errors.js';

/** Why a rule was refused. */
export type DfwRuleErrorCode =
  | 'bad-id'
  | 'duplicate-id'
  | 'reserved-id'
  | 'bad-priority'
  | 'bad-address'
  | 'bad-port'
  | 'bad-service';

/** A rule pushed to the firewall cannot be installed; the rule set in force is left unchanged. */
export class DfwRuleError extends CodedError<DfwRuleErrorCode> {
  override readonly name = 'DfwRuleError';
  /** The id of the offending rule. */
  readonly ruleId: string;

  constructor(code: DfwRuleErrorCode, ruleId: string, message: string) {
    super(code, message);
    this.ruleId = ruleId;
  }
}

/** Why an exported filter state could not be imported: `unknown-version` for a blob from a newer or older format, `malformed` for anything else. */
export type DfwImportErrorCode = 'unknown-version' | 'malformed';

/**
 * An exported filter state (the state that moves with a VM on vMotion) could not be imported.
 * Nothing of it was applied; the caller keeps the vNIC disconnected (fail closed).
 */
export class DfwImportError extends CodedError<DfwImportErrorCode> {
  override readonly name = 'DfwImportError';
}

/** A vNIC the firewall has no filter for was named: the caller must `attach` it first. */
export class DfwVnicError extends DpulabError {
  override readonly name = 'DfwVnicError';
  /** Stable reason. */
  readonly code = 'unknown-vnic';
  /** The vNIC that was named. */
  readonly vnic: string;

  constructor(vnic: string) {
    super(`No firewall filter is attached for vNIC ${vnic}`);
    this.vnic = vnic;
  }
}
