import { ETHERNET_MIN_FRAME_LENGTH, ETHERTYPE_VLAN, VLAN_TAG_LENGTH } from '../../shared/net/ethernet.js';
import type { EthernetHeader } from '../../shared/net/ethernet.js';

/** Offset of the TPID of an 802.1Q tag: right after the two MACs. */
const TAG_OFFSET = 12;

/**
 * A received frame as it leaves the switch: untagged, or tagged with a VLAN. Each form is built
 * once per received frame, however many ports it is flooded to, and a form equal to what was
 * received is the received bytes themselves (a frame that needs no retagging is never copied).
 * Nothing past the tag is touched: the frame keeps its payload and its padding.
 */
export class EgressFrame {
  private untaggedBytes: Uint8Array | undefined;
  private readonly taggedBytes = new Map<number, Uint8Array>();

  constructor(
    readonly received: Uint8Array,
    private readonly header: EthernetHeader,
  ) {}

  /** The frame without an 802.1Q tag, padded to the 60-byte minimum if removing the tag made it shorter. */
  untagged(): Uint8Array {
    if (!this.header.vlan) return this.received;
    if (!this.untaggedBytes) {
      const bytes = this.received;
      const length = Math.max(bytes.length - VLAN_TAG_LENGTH, ETHERNET_MIN_FRAME_LENGTH);
      const out = new Uint8Array(length);
      out.set(bytes.subarray(0, TAG_OFFSET), 0);
      out.set(bytes.subarray(TAG_OFFSET + VLAN_TAG_LENGTH), TAG_OFFSET);
      this.untaggedBytes = out;
    }
    return this.untaggedBytes;
  }

  /**
   * The frame tagged with `vlan`. A received tag keeps its priority and drop-eligible bits (only
   * its VLAN id changes, as for a priority-tagged frame); an untagged frame gets priority 0.
   */
  tagged(vlan: number): Uint8Array {
    const tag = this.header.vlan;
    if (tag && tag.vid === vlan) return this.received;
    let out = this.taggedBytes.get(vlan);
    if (!out) {
      const bytes = this.received;
      const tci = ((tag?.pcp ?? 0) << 13) | (tag?.dei ? 0x1000 : 0) | vlan;
      if (tag) {
        out = bytes.slice();
      } else {
        out = new Uint8Array(bytes.length + VLAN_TAG_LENGTH);
        out.set(bytes.subarray(0, TAG_OFFSET), 0);
        out.set(bytes.subarray(TAG_OFFSET), TAG_OFFSET + VLAN_TAG_LENGTH);
        out[TAG_OFFSET] = ETHERTYPE_VLAN >>> 8;
        out[TAG_OFFSET + 1] = ETHERTYPE_VLAN & 0xff;
      }
      out[TAG_OFFSET + 2] = tci >>> 8;
      out[TAG_OFFSET + 3] = tci & 0xff;
      this.taggedBytes.set(vlan, out);
    }
    return out;
  }
}
