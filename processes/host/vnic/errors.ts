import { CodedError } from '../../../shared/errors.js';

/**
 * Why a host vNIC refused to be driven: a caller bug, never bad input from a wire (messages from
 * the DPU are dropped and counted instead).
 *
 * - `not-booted`: a frame to send or to receive before `boot`.
 * - `already-booted`: `boot` called twice (a restarted host builds new vNICs).
 * - `no-dpu`: something to send across pcie from a vNIC of a host without DPUs.
 * - `not-in-backend`: a vMotion export while a VF serves the vNIC or a hand-off is under way.
 */
export type HostVnicErrorCode = 'not-booted' | 'already-booted' | 'no-dpu' | 'not-in-backend';

/** A host vNIC operation refused; `code` is stable. */
export class HostVnicError extends CodedError<HostVnicErrorCode> {
  override readonly name = 'HostVnicError';
}
