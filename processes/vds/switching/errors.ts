/**
 * Errors of the distributed switch. They signal misuse by the owner (a wrong id, a topology
 * the addressing plan cannot hold), never bad frames: frames are dropped with a reason instead.
 */
import { DpulabError } from '../../../shared/errors.js';

/** Why the switch refused a request. */
export type SwitchingErrorCode =
  /** An owner id that is neither a DPU nor a host without DPUs of the topology. */
  | 'unknown-owner'
  /** A vNIC id the control plane or the switch does not know. */
  | 'unknown-vnic'
  /** A segment id the topology does not define. */
  | 'unknown-segment'
  /** More TEPs than the addressing plan has room for. */
  | 'too-many-teps'
  /** A vNIC added twice to one switch. */
  | 'duplicate-vnic'
  /** A VNI the owner wants to terminate itself (`ownerVnis`) that a segment uses. */
  | 'vni-taken';

/** A request the switch or its control plane cannot satisfy; `code` is stable, the message is for people. */
export class SwitchingError extends DpulabError {
  override readonly name = 'SwitchingError';

  constructor(
    readonly code: SwitchingErrorCode,
    message: string,
  ) {
    super(message);
  }
}
