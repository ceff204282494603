/**
 * The vMotion protocol between two hosts' vMotion agents. Each datagram is a msgpack map in the
 * payload of one vMotion datagram (`processes/vds/vmotion-net.ts`), so it really crosses the
 * emulated network: host → DPU → switches → DPU → host.
 *
 * A datagram belongs to one migration's stream (`stream.ts`): `{ mid, seq, ack, body }`, where
 * `seq` numbers the message of its direction (null for a pure acknowledgement, with no body) and
 * `ack` acknowledges the other direction cumulatively. The bodies:
 *
 * - `prepare` (source → destination, the stream's first message): the VM to receive; the
 *   destination runs the prechecks and answers `verdict`.
 * - `pages`: one batch of memory pages of a pre-copy round (or of the final copy after the stun),
 *   counted and sized, never stored; the stream's acknowledgements tell the source it arrived.
 * - `state` (source → destination, in parts): what moves at the switchover (the guest's stack, the
 *   vNICs' driver and device state, their firewall exports), msgpack split to fit the underlay MTU.
 * - `resumed` (destination → source): the manager committed and the VM runs on the destination.
 * - `abort` (either way): this side gave the migration up before the switchover was decided.
 *
 * A datagram that does not parse is dropped and counted by the receiving host, never trusted.
 */
import { z } from 'zod';
import { decode, encode } from '../../../shared/codec.js';
import { VmotionError } from './errors.js';

/** Pages per `pages` batch: 256 pages of 4 KiB, 1 MiB of guest memory. */
export const PAGES_PER_BATCH = 256;
/** The largest `state` part, in bytes, so a part fits the underlay MTU with its headers. */
export const STATE_PART_BYTES = 1_200;

const check = z.object({ name: z.string(), ok: z.boolean(), detail: z.string() });

const bodySchema = z.discriminatedUnion('t', [
  z.object({
    t: z.literal('prepare'),
    vm: z.string().min(1),
    from: z.string().min(1),
    /** The model of the DPU serving the VM at the source, null on a host without DPUs. */
    dpuModel: z.string().nullable(),
    /** Whether a vNIC of the VM asks for passthrough (then the destination's DPU must be the same model). */
    passthrough: z.boolean(),
  }),
  z.object({ t: z.literal('verdict'), ok: z.boolean(), checks: z.array(check) }),
  z.object({ t: z.literal('pages'), round: z.number().int().min(0), batch: z.number().int().min(0), last: z.boolean(), pages: z.number().int().min(0) }),
  z.object({ t: z.literal('state'), part: z.number().int().min(0), parts: z.number().int().min(1), data: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary') }),
  z.object({ t: z.literal('resumed') }),
  z.object({ t: z.literal('abort'), reason: z.string().min(1) }),
]);

const seq = z.number().int().min(0);

const datagramSchema = z.object({
  mid: z.string().min(1),
  seq: seq.nullable(),
  ack: seq,
  body: bodySchema.nullable(),
});

/** A message of a migration's stream. */
export type VmotionBody = z.infer<typeof bodySchema>;
/** One datagram of a migration's stream: a message with its sequence number, or a pure acknowledgement. */
export type VmotionDatagram = z.infer<typeof datagramSchema>;
/** One precheck the destination ran: its name, whether it passed, and what it found. */
export type PrecheckResult = z.infer<typeof check>;

/** Encodes a datagram. */
export function encodeVmotionDatagram(datagram: VmotionDatagram): Uint8Array {
  return encode(datagram);
}

/** Decodes a datagram; throws VmotionError `malformed-message` naming the field that is wrong. */
export function decodeVmotionDatagram(bytes: Uint8Array): VmotionDatagram {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw new VmotionError('malformed-message', `vMotion datagram of ${bytes.length} bytes is not msgpack`);
  }
  const parsed = datagramSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new VmotionError('malformed-message', `vMotion datagram field ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const datagram = parsed.data;
  if ((datagram.seq === null) !== (datagram.body === null)) throw new VmotionError('malformed-message', `vMotion datagram of ${datagram.mid} has ${datagram.seq === null ? 'a body without a sequence number' : 'a sequence number without a body'}`);
  return datagram;
}

/** Splits the switchover state into `state` messages that each fit the underlay. */
export function stateParts(state: unknown): Array<Extract<VmotionBody, { t: 'state' }>> {
  const bytes = encode(state);
  const parts = Math.max(1, Math.ceil(bytes.length / STATE_PART_BYTES));
  const out: Array<Extract<VmotionBody, { t: 'state' }>> = [];
  for (let part = 0; part < parts; part++) {
    out.push({ t: 'state', part, parts, data: bytes.subarray(part * STATE_PART_BYTES, (part + 1) * STATE_PART_BYTES) });
  }
  return out;
}

/** Collects `state` parts until all have arrived; then `complete` decodes the whole. */
export class StateAssembly {
  private readonly parts = new Map<number, Uint8Array>();
  private expected = 0;

  /** Adds a part; true when every part is in. A part count that changes midway is malformed. */
  add(message: Extract<VmotionBody, { t: 'state' }>): boolean {
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
