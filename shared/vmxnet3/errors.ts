/**
 * The one error the vmxnet3 model throws.
 *
 * A device that is driven wrongly (a descriptor with the wrong generation bit, a doorbell past the
 * ring, a register that does not exist) is a bug in whoever drives it or a corrupted hand-off, not
 * something to paper over: the model throws, with a stable `code` the callers count and test by.
 */
import { CodedError } from '../errors.js';

/**
 * Why an operation on the device or the driver was refused.
 *
 * - `unknown-register`: no register at that BAR offset (or not 8-byte aligned).
 * - `read-only-register`: a write to a register the guest may only read (ICR, DCR, PTCR).
 * - `bad-value`: a register value that is not a 32-bit unsigned integer, or a value the register rejects.
 * - `unknown-command`: a command code the device does not implement.
 * - `bad-shared-area`: the driver-shared area fails validation (magic, MTU, queue counts, ring sizes...).
 * - `no-shared-area`: ACTIVATE or an UPDATE command before the device read any driver-shared area.
 * - `inactive`: the device (or driver) was not activated, or was reset.
 * - `already-active`: ACTIVATE on an active device.
 * - `quiesced`: DMA while the guest quiesced the device or the hypervisor drained it for a hand-off.
 * - `bad-queue`: a queue (or interrupt vector, or RX ring) number out of range.
 * - `queue-stopped`: the queue stopped after an error; only RESET or ACTIVATE restart it.
 * - `bad-gen`: a descriptor's generation bit does not match what its owner expects.
 * - `bad-doorbell`: a producer index outside the ring, one that would overrun it, or a descriptor no doorbell announced.
 * - `out-of-order`: a descriptor or completion that is not the next one on its ring.
 * - `bad-completion`: a completion for descriptors that were never produced or consumed.
 * - `ring-full`: the driver has no free descriptor left.
 * - `bad-ring-size`: a ring size that is not a multiple of 32 in range.
 * - `bad-snapshot`: a hand-off copy that does not describe a consistent device.
 * - `not-probed`: a driver operation before `probe`.
 * - `bad-rss`: an RSS key too short for what it must hash.
 */
export type Vmxnet3ErrorCode =
  | 'unknown-register'
  | 'read-only-register'
  | 'bad-value'
  | 'unknown-command'
  | 'bad-shared-area'
  | 'no-shared-area'
  | 'inactive'
  | 'already-active'
  | 'quiesced'
  | 'bad-queue'
  | 'queue-stopped'
  | 'bad-gen'
  | 'bad-doorbell'
  | 'out-of-order'
  | 'bad-completion'
  | 'ring-full'
  | 'bad-ring-size'
  | 'bad-snapshot'
  | 'not-probed'
  | 'bad-rss';

/** An operation the vmxnet3 device or driver model refuses; `code` is stable, `problems` lists details. */
export class Vmxnet3Error extends CodedError<Vmxnet3ErrorCode> {
  override readonly name = 'Vmxnet3Error';
  /** Every problem found, for validations that look at many fields (shared area, snapshot). */
  readonly problems: readonly string[];

  constructor(code: Vmxnet3ErrorCode, message: string, problems: readonly string[] = []) {
    super(code, message);
    this.problems = problems;
  }
}
