/**
 * The vMotion protocol between two hosts' vMotion agents. Each message is a msgpack map in the
 * payload of one vMotion datagram (`processes/vds/vmotion-net.ts`), so it really crosses the
 * emulated network: host → DPU → switches → DPU → host.
 *
 * - `prepare` (source → destination): the VM to receive; the destination runs the prechecks and
 *   answers `verdict`.
 * - `pages` / `ack`: one batch of memory pages of a pre-copy round (or of the final copy after the
 *   stun), counted and sized, never stored; the destination acknowledges every batch.
 * - `state` (source → destination, in parts): what moves at the switchover (the guest's stack, the
 *   vNICs' driver and device state, their firewall exports), msgpack split to fit the underlay MTU.
 * - `resumed` (destination → source): the VM runs on the destination; the source lets it go.
 * - `abort` (either way): the migration ends; the side that hears it cleans up.
 *
 * A message that does not parse is dropped and counted by the receiving host, never trusted.
 */
import { z } from 'zod';
import { decode, encode } from '../../../shared/codec.js';
import { VmotionError } from './errors.js';

/** Pages per `pages` batch: 256 pages of 4 KiB, 1 MiB of guest memory. */
export const PAGES_PER_BATCH = 256;
/** The largest `state` part, in bytes, so a part fits the underlay MTU with its headers. */
export const STATE_PART_BYTES = 1_200;

const mid = z.string().min(1);

const check = z.object({ name: z.string(), ok: z.boolean(), detail: z.string() });

const messageSchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('prepare'),
    mid,
    vm: z.string().min(1),
    from: z.string().min(1),
    /** The model of the DPU serving the VM at the source, null on a host without DPUs. */
    dpuModel: z.string().nullable(),
    /** Whether a vNIC of the VM asks for passthrough (then the destination's DPU must be the same model). */
    passthrough: z.boolean(),
  }),
  z.object({ t: z.literal('verdict'), mid, ok: z.boolean(), checks: z.array(check) }),
  z.object({ t: z.literal('pages'), mid, round: z.number().int().min(0), seq: z.number().int().min(0), last: z.boolean(), pages: z.number().int().min(0) }),
  z.object({ t: z.literal('ack'), mid, round: z.number().int().min(0), seq: z.number().int().min(0), pages: z.number().int().min(0) }),
  z.object({ t: z.literal('state'), mid, part: z.number().int().min(0), parts: z.number().int().min(1), data: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary') }),
  z.object({ t: z.literal('resumed'), mid }),
  z.object({ t: z.literal('abort'), mid, reason: z.string().min(1) }),
]);

/** A vMotion protocol message. */
export type VmotionMessage = z.infer<typeof messageSchema>;
/** One precheck the destination ran: its name, whether it passed, and what it found. */
export type PrecheckResult = z.infer<typeof check>;

/** Encodes a protocol message. */
export function encodeVmotionMessage(message: VmotionMessage): Uint8Array {
  return encode(message);
}

/** Decodes a protocol message; throws VmotionError `malformed-message` naming the field that is wrong. */
export function decodeVmotionMessage(bytes: Uint8Array): VmotionMessage {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw new VmotionError('malformed-message', `vMotion message of ${bytes.length} bytes is not msgpack`);
  }
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new VmotionError('malformed-message', `vMotion message field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Splits the switchover state into `state` messages that each fit the underlay. */
export function stateParts(id: string, state: unknown): VmotionMessage[] {
  const bytes = encode(state);
  const parts = Math.max(1, Math.ceil(bytes.length / STATE_PART_BYTES));
  const out: VmotionMessage[] = [];
  for (let part = 0; part < parts; part++) {
    out.push({ t: 'state', mid: id, part, parts, data: bytes.subarray(part * STATE_PART_BYTES, (part + 1) * STATE_PART_BYTES) });
  }
  return out;
}

/** Collects `state` parts until all have arrived; then `complete` decodes the whole. */
export class StateAssembly {
  private readonly parts = new Map<number, Uint8Array>();
  private expected = 0;

  /** Adds a part; true when every part is in. A part count that changes midway is malformed. */
  add(message: Extract<VmotionMessage, { t: 'state' }>): boolean {
    if (this.expected !== 0 && this.expected !== message.parts) throw new VmotionError('malformed-message', `vMotion state part ${message.part} says ${message.parts} parts, earlier parts said ${this.expected}`);
    if (message.part >= message.parts) throw new VmotionError('malformed-message', `vMotion state part ${message.part} of ${message.parts} is out of range`);
    this.expected = message.parts;
    this.parts.set(message.part, message.data);
    return this.parts.size === this.expected;
  }

  /** The decoded state; throws VmotionError when the bytes do not decode. */
  complete(): unknown {
    const total = [...this.parts.values()].reduce((n, p) => n + p.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (let part = 0; part < this.expected; part++) {
      const data = this.parts.get(part)!;
      bytes.set(data, at);
      at += data.length;
    }
    try {
      return decode(bytes);
    } catch {
      throw new VmotionError('malformed-message', `vMotion state of ${total} bytes in ${this.expected} parts is not msgpack`);
    }
  }
}
