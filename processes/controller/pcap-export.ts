import { decode } from '../../shared/codec.js';
import { DpulabError } from '../../shared/errors.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import { decodeDma, PcieMessageError, vnicOfMessage, type DmaMessage } from '../pcie/messages.js';
import { PcapngWriter } from '../../shared/net/pcapng.js';
import { EventLogError } from './log/errors.js';
import { EventLogReader } from './log/reader.js';

/** The `frame.tx` payload fields a capture needs. */
interface FrameTx {
  wire: string;
  dir: 'a>b' | 'b>a';
  channel: string;
  txStart: number;
  bytes: Uint8Array;
}

export interface WireCapture {
  readonly bytes: Uint8Array;
  readonly packets: number;
  /** Interface names, one per direction of the wire. */
  readonly interfaces: string[];
  /** Frames on non-Ethernet device channels (doorbells, DMA, mailbox), not exported. */
  readonly skipped: number;
}

/**
 * Builds a pcapng capture of everything a wire carried, from the `frame.tx` events of a log:
 * one interface per direction (named after its ends), nanosecond timestamps in virtual time
 * (the instant the frame started onto the wire).
 */
export function exportWirePcapng(db: string, wireId: string): WireCapture {
  const reader = EventLogReader.open(db);
  try {
    const wire = reader.wires().find((w) => w.id === wireId);
    if (!wire) {
      const known = reader.wires().map((w) => w.id).join(', ');
      throw new EventLogError('not-found', db, `No wire ${wireId} in ${db} (wires: ${known})`);
    }
    const writer = new PcapngWriter();
    const names = {
      'a>b': `${wire.id} ${wire.aNode}:${wire.aPort} -> ${wire.bNode}:${wire.bPort}`,
      'b>a': `${wire.id} ${wire.bNode}:${wire.bPort} -> ${wire.aNode}:${wire.aPort}`,
    };
    const ifIndex = { 'a>b': writer.addInterface(names['a>b']), 'b>a': writer.addInterface(names['b>a']) };
    let packets = 0;
    let skipped = 0;
    for (const e of reader.events({ kinds: ['frame.tx'] })) {
      const tx = decode(e.payload) as FrameTx;
      if (tx.wire !== wireId) continue;
      if (tx.channel !== 'eth' && tx.channel !== 'mgmt') {
        skipped++;
        continue;
      }
      writer.addPacket(ifIndex[tx.dir], tx.txStart, tx.bytes);
      packets++;
    }
    return { bytes: writer.toBytes(), packets, interfaces: [names['a>b'], names['b>a']], skipped };
  } finally {
    reader.close();
  }
}

/** A capture asked of something the run does not have: a vNIC id that is not in its topology. */
export class CaptureTargetError extends DpulabError {
  readonly code = 'unknown-capture-target';
  constructor(message: string) {
    super(message, { fromInput: true });
    this.name = 'CaptureTargetError';
  }
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
  const reader = EventLogReader.open(db);
  try {
    const topology = JSON.parse(reader.run().topologyJson) as ResolvedTopology;
    const vnics = topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.flatMap((vm) => vm.vnics.map((v) => v.id)) : [])).sort();
    if (!vnics.includes(vnicId)) throw new CaptureTargetError(`No vNIC ${vnicId} in ${db} (vNICs: ${vnics.join(', ')})`);
    const pcie = new Map(reader.wires().filter((w) => w.kind === 'pcie').map((w) => [w.id, w]));
    const packets: Array<{ at: number; seq: number; bytes: Uint8Array; direction: 'inbound' | 'outbound'; comment: string }> = [];
    const wires = new Set<string>();
    for (const e of reader.events({ kinds: ['frame.tx'] })) {
      const tx = decode(e.payload) as FrameTx & { arrival: number; fate: string };
      if (tx.channel !== 'dma' || !pcie.has(tx.wire) || vnicOfMessage(tx.bytes) !== vnicId) continue;
      let message: DmaMessage;
      try {
        message = decodeDma(tx.bytes);
      } catch (error) {
        if (error instanceof PcieMessageError) continue; // the receiver dropped and counted it too (pcie.drop)
        throw error;
      }
      if (message.op !== 'tx' && message.op !== 'rx') continue; // ring bookkeeping, no frame
      if (message.op === 'rx' && tx.fate === 'lost') continue;
      const wire = pcie.get(tx.wire)!;
      const [from, to] = tx.dir === 'a>b' ? [wire.aNode, wire.bNode] : [wire.bNode, wire.aNode];
      wires.add(tx.wire);
      packets.push({
        at: message.op === 'tx' ? tx.txStart : tx.arrival,
        seq: e.seq,
        bytes: message.frame,
        direction: message.op === 'tx' ? 'outbound' : 'inbound',
        comment: `${message.op === 'tx' ? 'sent' : 'received'} via ${from} -> ${to}, ${message.mode}`,
      });
    }
    // Received frames are stamped at their arrival, which may come after later sends.
    packets.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const writer = new PcapngWriter();
    const ifIndex = writer.addInterface(vnicId, { description: `what the guest sent and received on ${vnicId}` });
    for (const p of packets) writer.addPacket(ifIndex, p.at, p.bytes, { direction: p.direction, comment: p.comment });
    const sent = packets.filter((p) => p.direction === 'outbound').length;
    return { bytes: writer.toBytes(), sent, received: packets.length - sent, wires: [...wires].sort() };
  } finally {
    reader.close();
  }
}
