/**
 * A pcapng capture built event by event: what `dpulab pcap` exports from a finished log and what
 * `dpulab ui` streams while a run goes are the same blocks, made here once. A capture is either
 * of a wire (every Ethernet frame it carried, one interface per direction) or of a vNIC (what the
 * guest sent and received, from the pcie `dma` channel of every host it ran on).
 */
import { DpulabError } from '../../shared/errors.js';
import { eventPayload } from '../../shared/events/typed.js';
import type { RecordedEvent } from '../../shared/events.js';
import { concatBytes } from '../../shared/net/bytes.js';
import { PcapngWriter } from '../../shared/net/pcapng.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { WireRecord } from './log/schema.js';
import { decodeDma, PcieMessageError, vnicOfMessage, type DmaMessage } from '../pcie/messages.js';

/** A wire as a capture names it: its id, kind and two ends. */
export type CapturedWire = Pick<WireRecord, 'id' | 'kind' | 'aNode' | 'aPort' | 'bNode' | 'bPort'>;

/** The wires of a resolved topology, as captures name them. */
export function capturedWires(topology: ResolvedTopology): CapturedWire[] {
  return topology.wires.map((w) => ({ id: w.id, kind: w.kind, aNode: w.a.node, aPort: w.a.port, bNode: w.b.node, bPort: w.b.port }));
}

/** Every vNIC id of a topology, sorted. */
export function topologyVnics(topology: ResolvedTopology): string[] {
  return topology.nodes.flatMap((n) => (n.kind === 'host' ? n.spec.vms.flatMap((vm) => vm.vnics.map((v) => v.id)) : [])).sort();
}

/** A capture asked of something the run does not have: a wire or vNIC id not in its topology. */
export class CaptureTargetError extends DpulabError {
  readonly code = 'unknown-capture-target';
  constructor(
    /** Which kind of target was unknown. */
    readonly field: 'wire' | 'vnic',
    message: string,
  ) {
    super(message, { fromInput: true });
    this.name = 'CaptureTargetError';
  }
}

/** What to capture. */
export type CaptureTarget = { readonly wire: string } | { readonly vnic: string };

/** How many frames a capture has written, and what it read them from. */
export interface CaptureCounts {
  /** Wire: frames written, both directions. vNIC: frames sent plus received. */
  readonly packets: number;
  /** vNIC: frames the guest sent (outbound); 0 for a wire. */
  readonly sent: number;
  /** vNIC: frames the guest received (inbound); 0 for a wire. */
  readonly received: number;
  /** Wire: device-channel messages (doorbells, DMA, mailbox) left out as not Ethernet. */
  readonly skipped: number;
  /** Frames left out because the reader fell behind ({@link PcapngCapture.append} with `drop`). */
  readonly dropped: number;
  /** vNIC: the pcie wires its frames were read from (a VM that moved by vMotion has two). */
  readonly wires: readonly string[];
}

interface Packet {
  readonly at: number;
  readonly seq: number;
  readonly ifIndex: number;
  readonly bytes: Uint8Array;
  readonly direction?: 'inbound' | 'outbound';
  readonly comment?: string;
}

/**
 * Turns `frame.tx` events into pcapng blocks. The section header and interface blocks come out
 * first ({@link header}); then each {@link append} hands out the blocks of the frames those
 * events carried, and {@link finish} the rest.
 *
 * Timestamps are virtual nanoseconds. A wire's frames are written in event order, stamped when
 * they started onto the wire. A vNIC's received frames are stamped at their arrival, which comes
 * after the event that sent them: they wait until the events have passed that time, so that the
 * capture is in time order. That is safe because events come in virtual-time order and a frame
 * never starts before the event that sends it.
 *
 * @example
 * const capture = PcapngCapture.open({ wire: 'up-01a-a' }, capturedWires(topology), topology, `topology ${topology.name}`);
 * out.write(capture.header());
 * run.onEvents((events) => out.write(capture.append(events)));
 */
export class PcapngCapture {
  private readonly writer: PcapngWriter;
  private readonly ifIndex: { readonly 'a>b': number; readonly 'b>a': number } | number;
  private readonly pcie: ReadonlyMap<string, CapturedWire>;
  /** vNIC frames waiting for virtual time to pass their stamp, in no order. */
  private waiting: Packet[] = [];
  private packets = 0;
  private sent = 0;
  private received = 0;
  private skipped = 0;
  private dropped = 0;
  /** Frames dropped since the last one written: the next one written says so. */
  private droppedUnsaid = 0;
  private readonly vnicWires = new Set<string>();
  /** The interface names (wire: one per direction; vNIC: the vNIC). */
  readonly interfaces: readonly string[];

  private constructor(
    readonly target: CaptureTarget,
    wires: readonly CapturedWire[],
    where: string,
  ) {
    this.writer = new PcapngWriter({ application: 'dpulab', comment: 'Timestamps are virtual time since the start of the run' });
    if ('wire' in target) {
      const wire = wires.find((w) => w.id === target.wire);
      if (!wire) throw new CaptureTargetError('wire', `No wire ${target.wire} in ${where} (wires: ${wires.map((w) => w.id).join(', ')})`);
      const names = [`${wire.id} ${wire.aNode}:${wire.aPort} -> ${wire.bNode}:${wire.bPort}`, `${wire.id} ${wire.bNode}:${wire.bPort} -> ${wire.aNode}:${wire.aPort}`] as const;
      this.ifIndex = { 'a>b': this.writer.addInterface(names[0]), 'b>a': this.writer.addInterface(names[1]) };
      this.interfaces = names;
    } else {
      this.ifIndex = this.writer.addInterface(target.vnic, { description: `what the guest sent and received on ${target.vnic}` });
      this.interfaces = [target.vnic];
    }
    this.pcie = new Map(wires.filter((w) => w.kind === 'pcie').map((w) => [w.id, w]));
  }

  /**
   * A capture of a wire or a vNIC of a run whose wires and topology are given; `where` names the
   * run in an error (its log file, or its topology).
   *
   * @throws CaptureTargetError naming the wire or vNIC when the run has no such one
   */
  static open(target: CaptureTarget, wires: readonly CapturedWire[], topology: ResolvedTopology, where: string): PcapngCapture {
    if ('vnic' in target) {
      const vnics = topologyVnics(topology);
      if (!vnics.includes(target.vnic)) throw new CaptureTargetError('vnic', `No vNIC ${target.vnic} in ${where} (vNICs: ${vnics.join(', ')})`);
    }
    return new PcapngCapture(target, wires, where);
  }

  /** The section header and interface blocks: the first bytes of the capture. */
  header(): Uint8Array {
    return this.writer.drain();
  }

  /**
   * Reads events (in seq order, any kinds) and returns the blocks of the frames now due. With
   * `drop`, the frames due are counted and left out (a reader that fell behind), and the next
   * frame written carries a comment saying how many.
   */
  append(events: readonly RecordedEvent[], options: { drop?: boolean } = {}): Uint8Array {
    let now = -1;
    for (const e of events) {
      now = e.vtime;
      if (e.kind !== 'frame.tx') continue;
      const packet = this.packetOf(e);
      if (packet !== null) this.waiting.push(packet);
    }
    return this.write(now, options.drop ?? false);
  }

  /** The blocks of every frame still waiting (the run is over, or the reader goes away). */
  finish(): Uint8Array {
    return this.write(Number.POSITIVE_INFINITY, false);
  }

  /** What has been written so far. */
  counts(): CaptureCounts {
    return { packets: this.packets, sent: this.sent, received: this.received, skipped: this.skipped, dropped: this.dropped, wires: [...this.vnicWires].sort() };
  }

  private packetOf(e: RecordedEvent): Packet | null {
    const tx = eventPayload(e, 'frame.tx');
    if (typeof this.ifIndex !== 'number') {
      if (tx.wire !== (this.target as { wire: string }).wire) return null;
      if (tx.channel !== 'eth' && tx.channel !== 'mgmt') {
        this.skipped++;
        return null;
      }
      return { at: tx.txStart, seq: e.seq, ifIndex: this.ifIndex[tx.dir as 'a>b' | 'b>a'], bytes: tx.bytes };
    }
    const vnic = (this.target as { vnic: string }).vnic;
    if (tx.channel !== 'dma' || !this.pcie.has(tx.wire) || vnicOfMessage(tx.bytes) !== vnic) return null;
    let message: DmaMessage;
    try {
      message = decodeDma(tx.bytes);
    } catch (error) {
      if (error instanceof PcieMessageError) return null; // the receiver dropped and counted it too (pcie.drop)
      throw error;
    }
    if (message.op !== 'tx' && message.op !== 'rx') return null; // ring bookkeeping, no frame
    if (message.op === 'rx' && tx.fate === 'lost') return null; // it never reached the guest
    const wire = this.pcie.get(tx.wire)!;
    const [from, to] = tx.dir === 'a>b' ? [wire.aNode, wire.bNode] : [wire.bNode, wire.aNode];
    this.vnicWires.add(tx.wire);
    const sent = message.op === 'tx';
    return {
      at: sent ? tx.txStart : tx.arrival,
      seq: e.seq,
      ifIndex: this.ifIndex,
      bytes: message.frame,
      direction: sent ? 'outbound' : 'inbound',
      comment: `${sent ? 'sent' : 'received'} via ${from} -> ${to}, ${message.mode}`,
    };
  }

  /** Writes (or drops) the waiting frames stamped at or before `now`, in (stamp, seq) order. */
  private write(now: number, drop: boolean): Uint8Array {
    // A wire's frames go out in event order, as they come; only a vNIC's wait for their stamp.
    const wire = typeof this.ifIndex !== 'number';
    const due = wire ? this.waiting : this.waiting.filter((p) => p.at <= now);
    this.waiting = wire ? [] : this.waiting.filter((p) => p.at > now);
    if (!wire) due.sort((a, b) => a.at - b.at || a.seq - b.seq);
    if (drop) {
      this.dropped += due.length;
      this.droppedUnsaid += due.length;
      return new Uint8Array(0);
    }
    for (const p of due) {
      const gap = this.droppedUnsaid > 0 ? `${this.droppedUnsaid} frames left out before this one: the reader fell behind` : undefined;
      const comment = [gap, p.comment].filter((c) => c !== undefined).join('; ');
      this.droppedUnsaid = 0;
      this.writer.addPacket(p.ifIndex, p.at, p.bytes, { ...(p.direction ? { direction: p.direction } : {}), ...(comment !== '' ? { comment } : {}) });
      this.packets++;
      if (p.direction === 'outbound') this.sent++;
      else if (p.direction === 'inbound') this.received++;
    }
    return due.length > 0 ? this.writer.drain() : new Uint8Array(0);
  }
}

/** Concatenates a capture's header, the blocks of `events` and its end: a whole capture file. */
export function captureAll(capture: PcapngCapture, events: Iterable<RecordedEvent>): Uint8Array {
  const parts = [capture.header()];
  for (const e of events) {
    const bytes = capture.append([e]);
    if (bytes.length > 0) parts.push(bytes);
  }
  parts.push(capture.finish());
  return concatBytes(...parts);
}
