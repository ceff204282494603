/**
 * A pcapng writer (draft-ietf-opsawg-pcapng): captures of emulated wires that open in Wireshark
 * and tshark. One section header, one interface description per captured interface (linktype 1,
 * Ethernet, nanosecond timestamps), and one enhanced packet block per frame.
 *
 * Everything is written little-endian; the byte-order magic in the section header tells readers.
 * No npm package offered a maintained, browser-safe writer, and the format is small.
 */
import { checkRange, concatBytes, utf8Encode } from './bytes.js';
import { EncodeError } from './errors.js';

/** LINKTYPE_ETHERNET: frames start with an Ethernet header, no FCS. */
export const LINKTYPE_ETHERNET = 1;

const BLOCK_SECTION_HEADER = 0x0a0d0d0a;
const BLOCK_INTERFACE_DESCRIPTION = 0x00000001;
const BLOCK_ENHANCED_PACKET = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_END = 0;
const OPT_COMMENT = 1;
const SHB_HARDWARE = 2;
const SHB_OS = 3;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_DESCRIPTION = 3;
const IF_TSRESOL = 9;
const EPB_FLAGS = 2;

/** if_tsresol value 9: timestamps count 10^-9 s, matching the emulator's nanosecond virtual time. */
const TSRESOL_NANOSECONDS = 9;

/** Section-wide options. */
export interface PcapngSectionOptions {
  /** shb_userappl: the application that wrote the file. */
  readonly application?: string;
  /** shb_os. */
  readonly os?: string;
  /** shb_hardware. */
  readonly hardware?: string;
  readonly comment?: string;
}

/** Per-interface options. */
export interface PcapngInterfaceOptions {
  /** if_description, e.g. which wire and direction this is. */
  readonly description?: string;
  /** Largest number of bytes captured per packet; 0 (default) means no limit. */
  readonly snapLength?: number;
  /** Default LINKTYPE_ETHERNET. */
  readonly linkType?: number;
}

/** Per-packet options. */
export interface PcapngPacketOptions {
  /** opt_comment, shown by Wireshark in the packet details (e.g. a drop reason). */
  readonly comment?: string;
  /** epb_flags direction bits: whether the frame was received or sent on the interface. */
  readonly direction?: 'inbound' | 'outbound';
  /** The frame's length on the wire if `bytes` is a truncated capture; default bytes.length. */
  readonly originalLength?: number;
}

interface OptionValue {
  readonly code: number;
  readonly value: Uint8Array;
}

function optionsLength(options: readonly OptionValue[]): number {
  if (options.length === 0) return 0;
  let total = 4; // opt_endofopt
  for (const option of options) total += 4 + pad4(option.value.length);
  return total;
}

function pad4(length: number): number {
  return (length + 3) & ~3;
}

function writeOptions(view: DataView, out: Uint8Array, at: number, options: readonly OptionValue[]): number {
  if (options.length === 0) return at;
  let p = at;
  for (const option of options) {
    checkRange('option length', option.value.length, 0, 0xffff);
    view.setUint16(p, option.code, true);
    view.setUint16(p + 2, option.value.length, true);
    out.set(option.value, p + 4);
    p += 4 + pad4(option.value.length); // padding bytes are already zero
  }
  view.setUint16(p, OPT_END, true);
  view.setUint16(p + 2, 0, true);
  return p + 4;
}

function textOption(code: number, text: string | undefined): OptionValue[] {
  return text === undefined ? [] : [{ code, value: utf8Encode(text) }];
}

/**
 * Builds a block: type, total length, body, options, total length again. The body writer gets
 * the view and the offset where the body starts (8).
 */
function block(type: number, bodyLength: number, options: readonly OptionValue[], writeBody: (view: DataView, out: Uint8Array) => void): Uint8Array {
  const total = 12 + pad4(bodyLength) + optionsLength(options);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  writeBody(view, out);
  writeOptions(view, out, 8 + pad4(bodyLength), options);
  view.setUint32(total - 4, total, true);
  return out;
}

/**
 * Accumulates a pcapng capture. Blocks are produced as they are added; `drain()` hands out what
 * was produced since the last drain (for streaming to a file), `toBytes()` returns it without
 * forgetting it (for small captures and tests).
 */
export class PcapngWriter {
  private pending: Uint8Array[] = [];
  private interfaces = 0;
  private packets = 0;

  /** Starts a section; the section header block is the first thing written. */
  constructor(options: PcapngSectionOptions = {}) {
    const shbOptions = [
      ...textOption(OPT_COMMENT, options.comment),
      ...textOption(SHB_HARDWARE, options.hardware),
      ...textOption(SHB_OS, options.os),
      ...textOption(SHB_USERAPPL, options.application),
    ];
    this.pending.push(
      block(BLOCK_SECTION_HEADER, 16, shbOptions, (view) => {
        view.setUint32(8, BYTE_ORDER_MAGIC, true);
        view.setUint16(12, 1, true); // major version
        view.setUint16(14, 0, true); // minor version
        // Section length unknown (-1): the writer streams and never seeks back.
        view.setUint32(16, 0xffffffff, true);
        view.setUint32(20, 0xffffffff, true);
      }),
    );
  }

  /** Declares an interface named `name` (if_name) and returns its index for addPacket. */
  addInterface(name: string, options: PcapngInterfaceOptions = {}): number {
    const linkType = checkRange('linkType', options.linkType ?? LINKTYPE_ETHERNET, 0, 0xffff);
    const snapLength = checkRange('snapLength', options.snapLength ?? 0, 0, 0xffffffff);
    const idbOptions = [
      { code: IF_NAME, value: utf8Encode(name) },
      ...textOption(IF_DESCRIPTION, options.description),
      { code: IF_TSRESOL, value: new Uint8Array([TSRESOL_NANOSECONDS]) },
    ];
    this.pending.push(
      block(BLOCK_INTERFACE_DESCRIPTION, 8, idbOptions, (view) => {
        view.setUint16(8, linkType, true);
        view.setUint16(10, 0, true); // reserved
        view.setUint32(12, snapLength, true);
      }),
    );
    return this.interfaces++;
  }

  /**
   * Adds a frame captured on interface `ifIndex` at `timestampNs` nanoseconds (virtual time, or
   * Unix time for real captures). Numbers must be safe integers; use a bigint beyond 2^53 ns.
   */
  addPacket(ifIndex: number, timestampNs: number | bigint, bytes: Uint8Array, options: PcapngPacketOptions = {}): void {
    checkRange('ifIndex', ifIndex, 0, this.interfaces - 1);
    let high: number;
    let low: number;
    if (typeof timestampNs === 'bigint') {
      if (timestampNs < 0n || timestampNs >= 1n << 64n) {
        throw new EncodeError('out-of-range', 'timestampNs', `Field timestampNs is ${timestampNs}, expected 0 to 2^64-1`);
      }
      high = Number(timestampNs >> 32n);
      low = Number(timestampNs & 0xffffffffn);
    } else {
      checkRange('timestampNs', timestampNs, 0, Number.MAX_SAFE_INTEGER);
      high = Math.floor(timestampNs / 0x100000000);
      low = timestampNs % 0x100000000;
    }
    const originalLength = checkRange('originalLength', options.originalLength ?? bytes.length, bytes.length, 0xffffffff);
    const epbOptions: OptionValue[] = [...textOption(OPT_COMMENT, options.comment)];
    if (options.direction !== undefined) {
      const flags = new Uint8Array(4);
      new DataView(flags.buffer).setUint32(0, options.direction === 'inbound' ? 1 : 2, true);
      epbOptions.push({ code: EPB_FLAGS, value: flags });
    }
    // The body is the 20 fixed bytes plus the packet; block() pads it to 4 bytes.
    this.pending.push(
      block(BLOCK_ENHANCED_PACKET, 20 + bytes.length, epbOptions, (view, out) => {
        view.setUint32(8, ifIndex, true);
        view.setUint32(12, high, true);
        view.setUint32(16, low, true);
        view.setUint32(20, bytes.length, true);
        view.setUint32(24, originalLength, true);
        out.set(bytes, 28);
      }),
    );
    this.packets++;
  }

  /** Number of interfaces declared so far. */
  get interfaceCount(): number {
    return this.interfaces;
  }

  /** Number of packets added so far. */
  get packetCount(): number {
    return this.packets;
  }

  /** Returns the bytes produced since the last drain and forgets them. */
  drain(): Uint8Array {
    const out = concatBytes(...this.pending);
    this.pending = [];
    return out;
  }

  /** Returns the bytes produced since the last drain (the whole file if never drained), keeping them. */
  toBytes(): Uint8Array {
    const out = concatBytes(...this.pending);
    this.pending = [out];
    return out;
  }
}
