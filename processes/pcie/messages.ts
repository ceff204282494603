import { DpulabError } from '../../shared/errors.js';
import { z } from 'zod';
import { decode, encode } from '../../shared/codec.js';
import { parseCidr } from '../../shared/net/ip.js';
import { parseMac } from '../../shared/net/mac.js';
import { validateSharedArea } from '../../shared/vmxnet3/shared-area.js';
import type { DriverShared } from '../../shared/vmxnet3/state.js';
import type { DfwExport } from '../vds/dfw/export.js';

/**
 * The host-DPU protocol on the device channels of a pcie wire (see docs/datapath.md): `dma`
 * carries a vNIC's frames and ring bookkeeping across PCIe, `doorbell` register writes into a VF's
 * BAR0, `mailbox` VF management, device-state hand-offs (`vf.load`, `vf.unbound`) and the release
 * and adoption of a vNIC on vMotion. One codec and one error type: every message is a msgpack map
 * parsed with a schema, and a malformed one is dropped and counted, never trusted.
 *
 * Why device state travels in `vf.load` and `vf.unbound`: a VF must carry on from the ring
 * positions the guest already has (its RX buffers are posted at boot, frames flow emulated while
 * the bind is answered), so the state moves when the hand-off actually happens, not when the bind
 * is asked for; and going back to the emulated backend needs the VF's state returned.
 */

const ring = { queue: z.number().int().min(0).max(15), index: z.number().int().min(0).max(8191), gen: z.union([z.literal(0), z.literal(1)]) };
const vnic = z.string().min(1);
const frame = z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'expected binary');

function parses(read: (text: string) => unknown): (text: string) => boolean {
  return (text) => {
    try {
      read(text);
      return true;
    } catch {
      return false;
    }
  };
}

/** An interface address with its prefix length, `10.0.1.11/24`, of one family. */
function cidr(family: 4 | 6) {
  return z.string().refine((text) => text.includes('/') && parses(parseCidr)(text) && parseCidr(text).family === family, `expected an IPv${family} address with its prefix length`);
}

/**
 * Where a vNIC arriving by vMotion lives: what `PlacedVnic` (`processes/vds/endpoints.ts`) holds
 * but the host, which is the receiving DPU's own.
 */
export const vnicPlacementSchema = z.object({
  id: vnic,
  vm: z.string().min(1),
  mac: z.string().refine(parses(parseMac), 'expected a MAC address'),
  segment: z.string().min(1),
  ipv4: cidr(4),
  ipv6: cidr(6).nullable(),
  mode: z.enum(['uptv2', 'mux', 'emulated']),
});
/** A vNIC's placement, as `vnic.adopt` carries it. */
export type VnicPlacement = z.infer<typeof vnicPlacementSchema>;

/**
 * A DFW export (`processes/vds/dfw/export.ts`) or null. Only its being a map is checked here: the
 * importing firewall validates the rest (version first) and refuses what it cannot read.
 */
const dfwExport = z.custom<DfwExport | null>((v) => v === null || (typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)), 'expected a DFW export (a map) or null');

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

const hostDpuMailboxMessages = [
  /** Host to DPU: give this vNIC a VF, configured for this MAC and MTU. */
  z.object({ op: z.literal('vf.bind'), vnic, mac: z.string(), mtu: z.number().int(), device: z.unknown() }),
  /** DPU to host: the VF now serves the vNIC. */
  z.object({ op: z.literal('vf.bound'), vnic, vf: z.number().int().min(0) }),
  /** DPU to host: no VF could be given, and why. */
  z.object({ op: z.literal('vf.refused'), vnic, reason: z.string() }),
  /** Host to DPU: release the vNIC's VF. */
  z.object({ op: z.literal('vf.unbind'), vnic }),
  /**
   * Host to DPU (vMotion source): stop serving the vNIC, its VM is leaving; with `export`, answer
   * with its firewall state. Only the DPU serving the host's vNICs answers (`vnic.released` or
   * `vnic.refused`); with `note` (sent to every other DPU of the host) the DPU only forgets the vNIC.
   */
  z.object({ op: z.literal('vnic.release'), vnic, export: z.boolean(), note: z.literal(true).optional() }),
  /** DPU to host: the vNIC is no longer served here; its firewall export if one was asked for, else null. */
  z.object({ op: z.literal('vnic.released'), vnic, export: dfwExport }),
  /**
   * Host to DPU (vMotion destination): serve this vNIC, importing its firewall state first when
   * `export` is given. Only the DPU serving the host's vNICs answers (`vnic.adopted` or
   * `vnic.refused`). With `note` (sent to every other DPU of the host: a standby, or another active
   * DPU of a host without failover) the DPU only adds the vNIC to its list of the host's vNICs, for
   * a later takeover: it attaches nothing and answers nothing.
   */
  z.object({ op: z.literal('vnic.adopt'), vnic, placement: vnicPlacementSchema, export: dfwExport, note: z.literal(true).optional() }),
  /**
   * Host to DPU: every vNIC the host has now, in full. The host is the source of truth for its
   * vNICs: it sends this to a DPU it is about to name active (before the heartbeat that does) and
   * to a DPU that rejoins, so a takeover serves exactly these, whatever the HA replica says.
   * No answer.
   */
  z.object({ op: z.literal('vnic.inventory'), vnics: z.array(vnicPlacementSchema) }),
  /** DPU to host: the vNIC is served here now, with `imported` connections from the export. */
  z.object({ op: z.literal('vnic.adopted'), vnic, imported: z.number().int().min(0) }),
  /**
   * DPU to host: a release or adopt was refused and nothing changed (`dfw-version`, `dfw-malformed`,
   * `bad-placement`, `unknown-vnic`), with a message for people.
   */
  z.object({ op: z.literal('vnic.refused'), vnic, reason: z.string(), message: z.string() }),
] as const;


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

const ns = z.number().int().min(0);
/**
 * DPU to host: this DPU finished taking over the host's vNICs (it became active) and says what the
 * work cost its Arm cores, step by step (`processes/common/cost/takeover.ts`), with the items each
 * step worked through. Sent when the work is done and again every 20 ms until acknowledged.
 */
const dpuTakeover = z.object({
  op: z.literal('dpu.takeover'),
  seq: z.number().int().min(1),
  connections: ns,
  vnics: ns,
  macs: ns,
  replicaCommitNs: ns,
  vfBindNs: ns,
  switchNs: ns,
  tunnelNs: ns,
  totalNs: ns,
});
/** Host to DPU: the takeover report `seq` arrived; stop sending it. */
const dpuTakeoverAck = z.object({ op: z.literal('dpu.takeover.ack'), seq: z.number().int().min(1) });

/** Every mailbox message, both directions. */
export const mailboxMessageSchema = z.discriminatedUnion('op', [...hostDpuMailboxMessages, vfLoad, vfUnbound, dpuTakeover, dpuTakeoverAck]);
/** A DPU's takeover report, as `dpu.takeover` carries it. */
export type DpuTakeoverReport = z.infer<typeof dpuTakeover>;
/** A mailbox message of either direction. */
export type MailboxMessage = z.infer<typeof mailboxMessageSchema>;

/** The host's requests that move a vNIC off or onto a DPU (vMotion, failover); the DPU's datapath handles them. */
export type VnicMoveRequest = Extract<MailboxMessage, { op: 'vnic.release' | 'vnic.adopt' | 'vnic.inventory' }>;

/**
 * A DPU's answer about a vNIC, as the host core decoded it. The host listens only to the DPU it
 * asked to serve (`dpu`, the port the answer came in on): another DPU of the host never answers
 * for the vNICs it does not serve.
 */
export type DpuVnicReply =
  | { readonly op: 'vnic.released'; readonly vnic: string; readonly export: unknown }
  | { readonly op: 'vnic.adopted'; readonly vnic: string }
  | { readonly op: 'vnic.refused'; readonly vnic: string; readonly reason: string; readonly message: string };

/** Why a DPU refused a `vnic.release` or `vnic.adopt` (the `reason` of `vnic.refused`). */
export type VnicRefusal = 'dfw-version' | 'dfw-malformed' | 'bad-placement' | 'unknown-vnic';

/** What `vf.bind` carries in its `device` field: the driver-shared area the VF reads before it activates. */
export interface VfBindDevice {
  shared: DriverShared;
}

/** A device-channel message that could not be parsed: names the channel and the field. */
export class PcieMessageError extends DpulabError {
  override readonly name = 'PcieMessageError';
  readonly code = 'malformed-pcie';
  constructor(
    readonly channel: 'dma' | 'doorbell' | 'mailbox',
    message: string,
  ) {
    super(message);
  }
}

function parse<T>(schema: z.ZodType<T>, channel: PcieMessageError['channel'], bytes: Uint8Array): T {
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

/** Encodes a doorbell write. */
export function encodeDoorbell(message: DoorbellMessage): Uint8Array {
  return encode(message);
}

/** Parses a doorbell write; throws `PcieMessageError` naming the field. Checked by hand (see decodeDma). */
export function decodeDoorbell(bytes: Uint8Array): DoorbellMessage {
  const m = mapOf('doorbell', bytes);
  return { vnic: vnicField('doorbell', m), register: intField('doorbell', m, 'register', 0, 0xfff), value: intField('doorbell', m, 'value', 0, 0xffffffff) };
}

/** Encodes a mailbox message of either direction. */
export function encodeMailbox(message: MailboxMessage): Uint8Array {
  return encode(message);
}

/** Parses a mailbox message of either direction; throws `PcieMessageError` naming the field. */
export function decodeMailbox(bytes: Uint8Array): MailboxMessage {
  return parse(mailboxMessageSchema, 'mailbox', bytes);
}

/** Encodes a `dma` message. */
export function encodeDma(message: DmaMessage): Uint8Array {
  return encode(message);
}

/** Parses a `dma` message; throws `PcieMessageError` naming the field. */
export function decodeDma(bytes: Uint8Array): DmaMessage {
  // Every frame of a vNIC crosses as one of these: checked by hand, field by field, with the
  // schema's rules and in its key order (dmaMessageSchema stays the reference; a test holds them
  // to the same answers).
  const m = mapOf('dma', bytes);
  const op = m.op;
  const vnic = vnicField('dma', m);
  switch (op) {
    case 'tx':
    case 'rx': {
      const mode = m.mode;
      if (mode !== 'uptv2' && mode !== 'mux' && mode !== 'emulated') fail('dma', 'mode', 'expected one of "uptv2"|"mux"|"emulated"');
      const queue = intField('dma', m, 'queue', 0, 15);
      const index = intField('dma', m, 'index', 0, 8191);
      const gen = genField('dma', m, 'gen');
      if (!(m.frame instanceof Uint8Array)) fail('dma', 'frame', 'expected binary');
      return { op, vnic, mode, queue, index, gen, frame: m.frame };
    }
    case 'txcomp':
      return { op, vnic, queue: intField('dma', m, 'queue', 0, 15), index: intField('dma', m, 'index', 0, 8191), gen: genField('dma', m, 'gen') };
    case 'rxfill':
      return { op, vnic, queue: intField('dma', m, 'queue', 0, 15), rxRing: genField('dma', m, 'rxRing'), index: intField('dma', m, 'index', 0, 8191) };
    default:
      return fail('dma', 'op', 'expected one of "tx"|"rx"|"txcomp"|"rxfill"');
  }
}

function fail(channel: PcieMessageError['channel'], field: string, problem: string): never {
  throw new PcieMessageError(channel, `PCIe ${channel} message field ${field}: ${problem}`);
}

/** The msgpack map a hot message is, or PcieMessageError. */
function mapOf(channel: PcieMessageError['channel'], bytes: Uint8Array): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = decode(bytes);
  } catch {
    throw new PcieMessageError(channel, `PCIe ${channel} message of ${bytes.length} bytes is not msgpack`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) fail(channel, '(root)', 'expected a map');
  return raw as Record<string, unknown>;
}

function vnicField(channel: PcieMessageError['channel'], m: Record<string, unknown>): string {
  const vnic = m.vnic;
  if (typeof vnic !== 'string' || vnic.length === 0) fail(channel, 'vnic', 'expected a non-empty string');
  return vnic;
}

function intField(channel: PcieMessageError['channel'], m: Record<string, unknown>, field: string, min: number, max: number): number {
  const value = m[field];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) fail(channel, field, `expected an integer from ${min} to ${max}`);
  return value;
}

function genField(channel: PcieMessageError['channel'], m: Record<string, unknown>, field: string): 0 | 1 {
  const value = m[field];
  if (value !== 0 && value !== 1) fail(channel, field, 'expected 0 or 1');
  return value;
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
