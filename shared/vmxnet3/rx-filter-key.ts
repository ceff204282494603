import { decodeEthernet } from '../net/ethernet.js';
import { FrameError } from '../net/errors.js';

/** What a vmxnet3 device's RX filter looks at: the destination MAC and the 802.1Q VLAN, if any. */
export interface RxFilterKey {
  readonly dst: string;
  readonly vlan: number | null;
}

/**
 * Reads a frame's RX filter key, as the device does before writing it into a guest buffer.
 * Returns null for a frame too short or malformed to have one (the caller counts the drop).
 */
export function rxFilterKey(frame: Uint8Array): RxFilterKey | null {
  try {
    const eth = decodeEthernet(frame);
    return { dst: eth.dst, vlan: eth.vlan?.vid ?? null };
  } catch (error) {
    if (error instanceof FrameError) return null;
    throw error;
  }
}
