import type { ResolvedTopology } from '../../shared/topology/types.js';
import { captureAll, PcapngCapture } from './capture.js';
import { EventLogReader } from './log/reader.js';

export { CaptureTargetError } from './capture.js';

export interface WireCapture {
  readonly bytes: Uint8Array;
  readonly packets: number;
  /** Interface names, one per direction of the wire. */
  readonly interfaces: string[];
  /** Frames on non-Ethernet device channels (doorbells, DMA, mailbox), not exported. */
  readonly skipped: number;
}

/** Opens a log and builds the capture of `target` from all its `frame.tx` events. */
function exportCapture(db: string, target: { wire: string } | { vnic: string }): { bytes: Uint8Array; capture: PcapngCapture } {
  const reader = EventLogReader.open(db);
  try {
    const topology = JSON.parse(reader.run().topologyJson) as ResolvedTopology;
    const capture = PcapngCapture.open(target, reader.wires(), topology, db);
    return { bytes: captureAll(capture, reader.events({ kinds: ['frame.tx'] })), capture };
  } finally {
    reader.close();
  }
}

/**
 * Builds a pcapng capture of everything a wire carried, from the `frame.tx` events of a log:
 * one interface per direction (named after its ends), nanosecond timestamps in virtual time
 * (the instant the frame started onto the wire).
 *
 * @throws CaptureTargetError naming the wire when the log has no such wire
 */
export function exportWirePcapng(db: string, wireId: string): WireCapture {
  const { bytes, capture } = exportCapture(db, { wire: wireId });
  const counts = capture.counts();
  return { bytes, packets: counts.packets, interfaces: [...capture.interfaces], skipped: counts.skipped };
}

export interface VnicCapture {
  readonly bytes: Uint8Array;
  /** Frames the guest sent (outbound) and received (inbound). */
  readonly sent: number;
  readonly received: number;
  /** The hosts' pcie wires the frames were read from (a VM that moved by vMotion has two). */
  readonly wires: string[];
}

/**
 * Builds a pcapng capture of what a guest sent and received on one vNIC, as a capture inside the
 * VM would show it: the Ethernet frames of the `dma` device channel of every pcie wire (`tx`
 * carries what the guest, or its emulated backend, hands the DPU; `rx` what the DPU delivers), in
 * every datapath mode and on every host the VM ran on. One interface named after the vNIC;
 * direction flags say sent (outbound, stamped when it left onto PCIe) or received (inbound,
 * stamped at its arrival); each packet's comment names the path and the mode. A received frame
 * the wire lost never reached the guest and is left out.
 *
 * @throws CaptureTargetError naming the vNIC when the run's topology has no such vNIC
 */
export function exportVnicPcapng(db: string, vnicId: string): VnicCapture {
  const { bytes, capture } = exportCapture(db, { vnic: vnicId });
  const counts = capture.counts();
  return { bytes, sent: counts.sent, received: counts.received, wires: [...counts.wires] };
}
