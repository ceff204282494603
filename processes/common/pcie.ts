import { z } from 'zod';
import { decode, encode } from '../../shared/codec.js';

/**
 * Messages on the device channels of a pcie wire (see docs/datapath.md): `dma` carries a vNIC's
 * frames and ring bookkeeping across PCIe, `doorbell` register writes into a VF's BAR, `mailbox`
 * VF management and device-state commands. Each is a msgpack map, parsed with a schema: a
 * malformed one is dropped and counted, never trusted.
 */

const ring = { queue: z.number().int().min(0).max(15), index: z.number().int().min(0).max(8191), gen: z.union([z.literal(0), z.literal(1)]) };
const vnic = z.string().min(1);
const frame = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary');

export const dmaMessageSchema = z.discriminatedUnion('op', [
  /** Host to DPU: a frame the guest put in TX slot `index` (UPTv2), or the backend hands over (MUX, emulated). */
  z.object({ op: z.literal('tx'), vnic, mode: z.enum(['uptv2', 'mux', 'emulated']), ...ring, frame }),
  /** DPU to host: a frame for the vNIC; with UPTv2 the VF has written RX completion `index`. */
  z.object({ op: z.literal('rx'), vnic, mode: z.enum(['uptv2', 'mux', 'emulated']), ...ring, frame }),
  /** DPU to host: the VF completed TX descriptors up to `index` (UPTv2). */
  z.object({ op: z.literal('txcomp'), vnic, ...ring }),
  /** Host to DPU: the guest posted RX buffers up to `index` on `rxRing` (UPTv2). */
  z.object({ op: z.literal('rxfill'), vnic, queue: ring.queue, rxRing: z.union([z.literal(0), z.literal(1)]), index: ring.index }),
]);
export type DmaMessage = z.infer<typeof dmaMessageSchema>;

export const mailboxMessageSchema = z.discriminatedUnion('op', [
  /** Host to DPU: give this vNIC a VF, configured for this MAC and MTU. */
  z.object({ op: z.literal('vf.bind'), vnic, mac: z.string(), mtu: z.number().int(), device: z.unknown() }),
  /** DPU to host: the VF now serves the vNIC. */
  z.object({ op: z.literal('vf.bound'), vnic, vf: z.number().int().min(0) }),
  /** DPU to host: no VF could be given, and why. */
  z.object({ op: z.literal('vf.refused'), vnic, reason: z.string() }),
  /** Host to DPU: release the vNIC's VF. */
  z.object({ op: z.literal('vf.unbind'), vnic }),
]);
export type MailboxMessage = z.infer<typeof mailboxMessageSchema>;

/** A device-channel message that could not be parsed. */
export class PcieMessageError extends Error {
  readonly code = 'malformed-pcie';
  constructor(
    readonly channel: 'dma' | 'mailbox',
    message: string,
  ) {
    super(message);
    this.name = 'PcieMessageError';
  }
}

function parse<T>(schema: z.ZodType<T>, channel: 'dma' | 'mailbox', bytes: Uint8Array): T {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw new PcieMessageError(channel, `PCIe ${channel} message of ${bytes.length} bytes is not msgpack`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new PcieMessageError(channel, `PCIe ${channel} message field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

export function encodeDma(message: DmaMessage): Uint8Array {
  return encode(message);
}

/** Parses a `dma` message; throws PcieMessageError naming the field. */
export function decodeDma(bytes: Uint8Array): DmaMessage {
  return parse(dmaMessageSchema, 'dma', bytes);
}

export function encodeMailbox(message: MailboxMessage): Uint8Array {
  return encode(message);
}

/** Parses a `mailbox` message; throws PcieMessageError naming the field. */
export function decodeMailbox(bytes: Uint8Array): MailboxMessage {
  return parse(mailboxMessageSchema, 'mailbox', bytes);
}
