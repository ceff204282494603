import { encode } from '../../shared/codec.js';
import type { LocalEventId, NodeEvent, VTime } from '../../shared/events.js';
import type { EventVolatile, NodeEventKind, NodeEventPayloads } from '../../shared/events/catalogue.js';
import { parseNodeAction } from '../../shared/actions/node-actions.js';
import { RandomStream } from '../../shared/random.js';
import { elidedBytes } from '../../shared/net/elided.js';
import type { Impairments, ResolvedTopology } from '../../shared/topology/types.js';
import { MessageQueue } from './queue.js';
import type { Channel, NodeContext, NodeCore, NodeInput, OutboundFrame, QueuedMessage } from './types.js';

/** Per-frame overhead on an Ethernet wire: preamble and start delimiter (8) plus inter-frame gap (12). */
const ETHERNET_OVERHEAD_BYTES = 20;

/**
 * Message sequence numbers of a restarted node start far above those of its earlier lives, so a
 * message from a dead incarnation still queued somewhere can never tie with a new one.
 */
const SRC_SEQ_PER_INCARNATION = 1e12;

/**
 * How much later a PCIe TLP arrives when its link replays it (a lost or damaged one): an
 * assumption of the order of PCIe's replay timer, which the specification sizes in microseconds
 * from the link's width, speed and payload size.
 */
const PCIE_REPLAY_NS = 2_000;

/** One end of a wire as seen from the node that transmits on it. */
interface PortState {
  readonly port: string;
  readonly wire: string;
  readonly direction: 'a>b' | 'b>a';
  /** The direction as a number (see `WireDirection` in protocol.ts). */
  readonly directionId: number;
  readonly peerNode: string;
  readonly peerPort: string;
  readonly latencyNs: VTime;
  readonly bandwidthBps: number;
  readonly ethernet: boolean;
  /** A PCIe link: it delivers every frame once, intact and in order, whatever its impairments. */
  readonly inOrder: boolean;
  readonly impairments: Impairments;
  /** A burst of impairments (`impair` action) in force until `until`, replacing the wire's own. */
  burst: { readonly impairments: Impairments; readonly until: VTime } | null;
  /** The wire direction's own random stream: impairments never disturb the node's stream. */
  readonly random: RandomStream;
  up: boolean;
  /** When the transmitter is free again: frames queue behind each other at the wire's bandwidth. */
  busyUntil: VTime;
  /** The latest arrival given so far (kept for an in-order link). */
  lastArrival: VTime;
  txFrames: number;
  txBytes: number;
  drops: number;
}

export interface NodeRuntimeOptions {
  readonly topology: ResolvedTopology;
  readonly nodeId: string;
  readonly seed: number;
  /** 0 for the first life of a node, +1 for each restart. */
  readonly incarnation: number;
  /** First `nodeSeq` this incarnation uses, so event ids stay unique across restarts. */
  readonly nodeSeqBase: number;
  readonly core: NodeCore;
}

/** What a node did in one window: its events and the frames it put on its wires. */
export interface WindowResult {
  readonly events: NodeEvent[];
  readonly out: OutboundFrame[];
}

/**
 * Runs one node core in virtual time: owns its message queue, its timers, its random stream and
 * the transmit side of its wires (bandwidth, latency, impairments, link state).
 *
 * The shell (one OS process, or the in-process cluster) delivers messages and asks it to run a
 * window: every message that arrives strictly before the horizon is handled in
 * (arrival, source node, source sequence) order. Nothing here reads a clock or does I/O.
 */
export class NodeRuntime {
  readonly nodeId: string;
  private readonly core: NodeCore;
  private readonly queue = new MessageQueue<QueuedMessage>();
  private readonly ports = new Map<string, PortState>();
  private readonly random: RandomStream;
  private readonly cancelledTimers = new Set<number>();
  private readonly ctx: NodeContext;
  private now: VTime = 0;
  private nodeSeq: number;
  private srcSeq: number;
  private nextTimerId = 1;
  private ended = false;
  /** Cause of the message being handled. */
  private cause: LocalEventId | null = null;
  /** Last event the core emitted while handling the current message. */
  private lastEmitted: LocalEventId | null = null;
  private events: NodeEvent[] = [];
  private out: OutboundFrame[] = [];

  constructor(options: NodeRuntimeOptions) {
    this.nodeId = options.nodeId;
    this.core = options.core;
    this.nodeSeq = options.nodeSeqBase;
    this.srcSeq = options.incarnation * SRC_SEQ_PER_INCARNATION;
    this.random = new RandomStream(options.seed, 'node', options.nodeId, String(options.incarnation));
    options.topology.wires.forEach((wire, wireIndex) => {
      for (const [self, peer, direction] of [
        [wire.a, wire.b, 'a>b'],
        [wire.b, wire.a, 'b>a'],
      ] as const) {
        if (self.node !== options.nodeId) continue;
        this.ports.set(self.port, {
          port: self.port,
          wire: wire.id,
          direction,
          directionId: wireIndex * 2 + (direction === 'a>b' ? 0 : 1),
          peerNode: peer.node,
          peerPort: peer.port,
          latencyNs: wire.latencyNs,
          bandwidthBps: wire.bandwidthBps,
          ethernet: wire.kind === 'ethernet',
          inOrder: wire.kind === 'pcie',
          impairments: wire.impairments,
          burst: null,
          random: new RandomStream(options.seed, 'wire', wire.id, direction, String(options.incarnation)),
          up: true,
          busyUntil: 0,
          lastArrival: 0,
          txFrames: 0,
          txBytes: 0,
          drops: 0,
        });
      }
    });
    this.ctx = this.makeContext();
  }

  /** Queues a message (a frame from a peer, an input from the controller). */
  deliver(message: QueuedMessage): void {
    this.queue.push(message);
  }

  /**
   * Whether a message arriving at `arrival` can still be handled in order: not before the last
   * message this node handled. A frame from the past would make the node's history change after
   * the fact; the shell drops it instead (only a stranger on a wire can send one).
   */
  accepts(arrival: VTime): boolean {
    return arrival >= this.now;
  }

  /** Arrival time of the next message this node will handle, or Infinity. */
  nextTime(): VTime {
    return this.ended ? Infinity : this.queue.peekTime();
  }

  /** The smallest latency of this node's outgoing wires: no frame it sends arrives sooner. */
  minOutLatency(): VTime {
    let min = Infinity;
    for (const p of this.ports.values()) min = Math.min(min, p.latencyNs);
    return min;
  }

  /** Handles every queued message that arrives strictly before `horizon`. */
  runWindow(horizon: VTime): WindowResult {
    this.events = [];
    this.out = [];
    while (!this.ended && this.queue.peekTime() < horizon) {
      const message = this.queue.pop()!;
      if (message.type === 'timer' && this.cancelledTimers.delete(message.timerId)) continue;
      this.now = message.arrival;
      this.cause = message.cause;
      this.lastEmitted = null;
      try {
        this.handle(message);
      } catch (error) {
        // A core bug must not take the node down mid-run: record it and go on with the next message.
        const err = error instanceof Error ? error : new Error(String(error));
        this.emit('node.error', { message: err.message, while: message.type }, { stack: err.stack ?? '' });
      }
    }
    const result = { events: this.events, out: this.out };
    this.events = [];
    this.out = [];
    return result;
  }

  /** A plain-data view of the runtime and its core, for inspectors. */
  inspect(): unknown {
    const ports = [...this.ports.values()].map((p) => ({
      port: p.port,
      wire: p.wire,
      up: p.up,
      txFrames: p.txFrames,
      txBytes: p.txBytes,
      drops: p.drops,
    }));
    return { node: this.nodeId, now: this.now, ports, core: this.core.inspect() };
  }

  private handle(message: QueuedMessage): void {
    switch (message.type) {
      case 'frame': {
        const port = this.ports.get(message.port);
        if (port && !port.up) {
          // The cable went down while the frame was in flight.
          port.drops++;
          this.emit('frame.drop', { port: message.port, reason: 'link-down', len: message.bytes.length });
          return;
        }
        if (message.corrupted === true) {
          // What a NIC's frame check sequence catches: dropped, counted as malformed, never decoded.
          if (port) port.drops++;
          this.emit('frame.malformed', { port: message.port, code: 'bad-fcs', offset: 0, message: 'Frame check sequence does not match: the frame was corrupted on the wire' });
          return;
        }
        this.core.onFrame(this.ctx, message.port, message.bytes, message.channel);
        return;
      }
      case 'timer':
        this.core.onTimer(this.ctx, message.name, message.data);
        return;
      case 'input':
        this.handleInput(message.input);
        return;
    }
  }

  private handleInput(input: NodeInput): void {
    switch (input.type) {
      case 'boot':
        this.core.onBoot(this.ctx);
        return;
      case 'end':
        this.core.onEnd(this.ctx);
        this.ended = true;
        return;
      case 'link': {
        const port = this.ports.get(input.port);
        if (!port) {
          this.emit('node.error', { message: `No wire on port ${input.port}`, while: 'input' });
          return;
        }
        if (port.up === input.up) return;
        port.up = input.up;
        this.emit('link.state', { port: input.port, wire: port.wire, up: input.up });
        this.core.onLink(this.ctx, input.port, input.up);
        return;
      }
      case 'impair': {
        const port = this.ports.get(input.port);
        if (!port) {
          this.emit('node.error', { message: `No wire on port ${input.port}`, while: 'input' });
          return;
        }
        port.burst = { impairments: input.impairments, until: this.now + input.durationNs };
        return;
      }
      case 'action': {
        // The arguments crossed the control channel: read them before the core trusts their types.
        const checked = parseNodeAction(input.action, input.args);
        if (checked.ok) this.core.onAction(this.ctx, checked.action);
        else this.emit('node.error', { message: checked.message, while: 'action' });
        return;
      }
    }
  }

  private emit<K extends NodeEventKind>(kind: K, payload: NodeEventPayloads[K], volatile?: EventVolatile<K>): LocalEventId {
    const id = { node: this.nodeId, nodeSeq: this.nodeSeq++ };
    this.events.push({
      vtime: this.now,
      node: this.nodeId,
      nodeSeq: id.nodeSeq,
      kind,
      cause: this.cause,
      payload: encode(payload),
      volatile: volatile ? encode(volatile) : null,
    });
    return id;
  }

  private transmit(portName: string, bytes: Uint8Array, channel: Channel): boolean {
    const port = this.ports.get(portName);
    if (!port || !port.up) {
      if (port) port.drops++;
      this.emit('frame.drop', { port: portName, reason: port ? 'link-down' : 'no-wire', len: bytes.length });
      return false;
    }
    // A frame that stands for a longer one (a vMotion page batch, shared/net/elided.ts) occupies the wire for its full length.
    const elided = elidedBytes(bytes);
    const wireBytes = bytes.length + elided + (port.ethernet ? ETHERNET_OVERHEAD_BYTES : 0);
    const txStart = Math.max(this.now, port.busyUntil);
    const txEnd = txStart + Math.ceil((wireBytes * 8 * 1e9) / port.bandwidthBps);
    port.busyUntil = txEnd;
    port.txFrames++;
    port.txBytes += bytes.length + elided;

    if (port.burst !== null && this.now >= port.burst.until) port.burst = null;
    const imp = port.burst?.impairments ?? port.impairments;
    // The draws, always in this order on the port's own stream: loss, duplication, damage, jitter.
    const lossDrawn = port.random.chance(imp.loss);
    const duplicateDrawn = !lossDrawn && port.random.chance(imp.duplicate);
    const damageDrawn = !lossDrawn && port.random.chance(imp.corrupt) && bytes.length > 0;
    const damageAt = damageDrawn ? port.random.int(bytes.length) : -1;
    const flip = damageDrawn ? 1 + port.random.int(255) : 0;
    const jitter = imp.jitterNs > 0 ? port.random.int(imp.jitterNs + 1) : 0;
    let arrival = txEnd + port.latencyNs + jitter;
    // A PCIe link's data link layer (LCRC, sequence numbers, ACK/NAK) replays a lost or damaged
    // TLP and discards a duplicate: the frame arrives once, intact, later. Jitter may reorder
    // frames on a network wire (a path through a network), never here: PCIe keeps posted writes in
    // order, so a descriptor never overtakes its doorbell.
    if (port.inOrder) arrival = Math.max(arrival + (lossDrawn || damageDrawn ? PCIE_REPLAY_NS : 0), port.lastArrival);
    const lost = lossDrawn && !port.inOrder;
    const duplicated = duplicateDrawn && !port.inOrder;
    const corruptedAt = damageDrawn && !port.inOrder ? damageAt : null;
    let onWire = bytes;
    if (corruptedAt !== null) {
      // A copy: the sender's bytes (often a Buffer, whose slice() is a view) stay as it wrote them.
      onWire = new Uint8Array(bytes);
      onWire[corruptedAt] = onWire[corruptedAt]! ^ flip;
    }
    port.lastArrival = arrival;

    const txEvent = this.emit('frame.tx', {
      wire: port.wire,
      dir: port.direction,
      port: portName,
      channel,
      len: bytes.length,
      txStart,
      arrival,
      fate: lost ? 'lost' : corruptedAt !== null ? 'corrupted' : duplicated ? 'duplicated' : 'delivered',
      bytes: onWire,
      ...(elided > 0 ? { elided } : {}),
    });
    if (lost) return true;
    const copies = duplicated ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.out.push({
        wire: port.wire,
        direction: port.directionId,
        toNode: port.peerNode,
        toPort: port.peerPort,
        arrival,
        srcSeq: this.srcSeq++,
        channel,
        bytes: onWire,
        cause: txEvent,
        ...(corruptedAt !== null ? { corrupted: true } : {}),
      });
    }
    return true;
  }

  private makeContext(): NodeContext {
    return {
      nodeId: this.nodeId,
      now: () => this.now,
      random: () => this.random.next(),
      setTimer: (delayNs, name, data) => {
        if (!(delayNs >= 0) || !Number.isInteger(delayNs)) throw new Error(`Timer ${name} needs a whole, non-negative delay, got ${delayNs}`);
        const timerId = this.nextTimerId++;
        this.queue.push({
          type: 'timer',
          arrival: this.now + delayNs,
          src: this.nodeId,
          srcSeq: this.srcSeq++,
          cause: this.lastEmitted ?? this.cause,
          timerId,
          name,
          data,
        });
        return timerId;
      },
      cancelTimer: (id) => {
        this.cancelledTimers.add(id);
      },
      send: (port, bytes, channel = 'eth') => this.transmit(port, bytes, channel),
      linkUp: (port) => this.ports.get(port)?.up ?? false,
      emit: (kind, payload, volatile) => {
        this.lastEmitted = this.emit(kind, payload, volatile);
      },
    };
  }
}
