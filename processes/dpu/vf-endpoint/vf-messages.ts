import { z } from 'zod';
import { decode, encode } from '../../../shared/codec.js';
import { validateSharedArea } from '../../../shared/vmxnet3/shared-area.js';
import type { DriverShared } from '../../../shared/vmxnet3/state.js';
import { PcieMessageError, mailboxMessageSchema } from '../../common/pcie.js';

/**
 * The VF-management messages a vNIC's two ends exchange on the pcie wire besides those of
 * `processes/common/pcie.ts`: the `doorbell` channel's register writes, and the two mailbox
 * messages that carry a device's state across a hand-off (`vf.load` towards the DPU, `vf.unbound`
 * back to the host). The `device` field of `vf.bind` is given a shape here too.
 *
 * Why they exist: a VF must carry on from the ring positions the guest already has (its RX
 * buffers are posted at boot, frames flow emulated while the bind is answered), so the state
 * moves when the hand-off actually happens, not when the bind is asked for; and going back to the
 * emulated backend needs the VF's state returned. Every message is a msgpack map parsed with a
 * schema: a malformed one is dropped and counted, never trusted.
 */

const vnic = z.string().min(1);

/** `doorbell` channel: a guest write into the VF's BAR0 (TXPROD, RXPROD, RXPROD2, IMR), offset and 32-bit value. */
export const doorbellMessageSchema = z.object({
  vnic,
  /** The BAR0 offset (`txprodRegister(q)`, `rxprodRegister(q, ring)`, `imrRegister(v)`). */
  register: z.number().int().min(0).max(0xfff),
  value: z.number().int().min(0).max(0xffffffff),
});
/** A register write into a VF's passthrough BAR. */
export type DoorbellMessage = z.infer<typeof doorbellMessageSchema>;

/** Host to DPU: the state of the emulated backend at the hand-off, for the bound VF to resume from (RESUMING). */
const vfLoad = z.object({ op: z.literal('vf.load'), vnic, state: z.unknown() });
/** DPU to host: the VF was released; `state` is its device state saved in STOP_COPY, null when it never ran for the guest. */
const vfUnbound = z.object({ op: z.literal('vf.unbound'), vnic, vf: z.number().int().min(0).nullable(), state: z.unknown() });

/** Every mailbox message: those of `processes/common/pcie.ts` plus `vf.load` and `vf.unbound`. */
export const vfMailboxSchema = z.discriminatedUnion('op', [...mailboxMessageSchema.options, vfLoad, vfUnbound]);
/** A mailbox message of either direction. */
export type VfMailboxMessage = z.infer<typeof vfMailboxSchema>;

/** What `vf.bind` carries in its `device` field: the driver-shared area the VF reads before it activates. */
export interface VfBindDevice {
  shared: DriverShared;
}

/** A device-channel message that could not be parsed (the doorbell channel's counterpart of `PcieMessageError`). */
export class VfMessageError extends Error {
  override readonly name = 'VfMessageError';
  readonly code = 'malformed-pcie';
  constructor(
    readonly channel: 'doorbell' | 'mailbox',
    message: string,
  ) {
    super(message);
  }
}

/** True for the parse errors of device-channel messages (ours and `processes/common/pcie.ts`'s). */
export function isMalformedPcie(error: unknown): error is PcieMessageError | VfMessageError {
  return error instanceof PcieMessageError || error instanceof VfMessageError;
}

function parse<T>(schema: z.ZodType<T>, channel: 'doorbell' | 'mailbox', bytes: Uint8Array): T {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw new VfMessageError(channel, `PCIe ${channel} message of ${bytes.length} bytes is not msgpack`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new VfMessageError(channel, `PCIe ${channel} message field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Encodes a doorbell write. */
export function encodeDoorbell(message: DoorbellMessage): Uint8Array {
  return encode(message);
}

/** Parses a doorbell write; throws `VfMessageError` naming the field. */
export function decodeDoorbell(bytes: Uint8Array): DoorbellMessage {
  return parse(doorbellMessageSchema, 'doorbell', bytes);
}

/** Encodes a mailbox message of either direction. */
export function encodeVfMailbox(message: VfMailboxMessage): Uint8Array {
  return encode(message);
}

/** Parses a mailbox message of either direction; throws `VfMessageError` naming the field. */
export function decodeVfMailbox(bytes: Uint8Array): VfMailboxMessage {
  return parse(vfMailboxSchema, 'mailbox', bytes);
}

/** The driver-shared area in a `vf.bind`'s `device` field, or every problem that makes it unusable. */
export function bindDeviceOf(device: unknown): { shared: DriverShared; problems: [] } | { shared: null; problems: string[] } {
  if (typeof device !== 'object' || device === null || !('shared' in device)) return { shared: null, problems: ['the device field carries no driver-shared area'] };
  const shared = (device as { shared: unknown }).shared;
  const problems = validateSharedArea(shared);
  if (problems.length > 0) return { shared: null, problems };
  return { shared: shared as DriverShared, problems: [] };
}

/**
 * The vNIC a device-channel message concerns, read without trusting the rest of it (so a message
 * with a good `vnic` and a bad field still reaches that vNIC, which drops and counts it), or null
 * when there is none to read.
 */
export function vnicOfMessage(bytes: Uint8Array): string | null {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const id = (raw as Record<string, unknown>).vnic;
  return typeof id === 'string' && id.length > 0 ? id : null;
}
