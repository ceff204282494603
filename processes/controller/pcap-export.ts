import { decode } from '../../shared/codec.js';
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
