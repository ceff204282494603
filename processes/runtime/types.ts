import type { LocalEventId, VTime } from '../../shared/events.js';
import type { Impairments } from '../../shared/topology/types.js';
import type { EventVolatile, NodeEventKind, NodeEventPayloads } from '../../shared/events/catalogue.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';

/**
 * What a wire carries besides Ethernet. Ethernet wires carry `eth` only; pcie wires carry the
 * private management network (`mgmt`, Ethernet frames between the x86 hypervisor and the DPU's)
 * and the device channels (`doorbell`, `dma`, `mailbox`).
 */
export type Channel = 'eth' | 'mgmt' | 'doorbell' | 'dma' | 'mailbox';
export const CHANNELS: readonly Channel[] = ['eth', 'mgmt', 'doorbell', 'dma', 'mailbox'];

/**
 * An input the controller injects into a node at a virtual time it chose: a scenario step, a UI
 * action, the boot of the node, the end of the run. Inputs are recorded, so a replay injects the
 * same inputs at the same times. An action's arguments are unchecked here (they crossed the
 * control channel); the runtime reads them with `parseNodeAction` before the core sees them.
 */
export type NodeInput =
  | { readonly type: 'boot' }
  | { readonly type: 'end' }
  | { readonly type: 'link'; readonly port: string; readonly up: boolean }
  /** The port's impairments become these for `durationNs`, then the wire's own again. */
  | { readonly type: 'impair'; readonly port: string; readonly impairments: Impairments; readonly durationNs: VTime }
  | { readonly type: 'action'; readonly action: string; readonly args: Readonly<Record<string, unknown>> };

/** Everything a node core may do to the world. It is the only door to time, randomness and I/O. */
export interface NodeContext {
  readonly nodeId: string;
  /** Current virtual time in ns. */
  now(): VTime;
  /** A float in [0, 1) from this node's seeded stream. */
  random(): number;
  /** Calls `core.onTimer(name, data)` after `delayNs` (>= 0); returns an id for `cancelTimer`. */
  setTimer(delayNs: VTime, name: string, data?: unknown): number;
  cancelTimer(id: number): void;
  /**
   * Transmits bytes out of a port, serialised at the wire's bandwidth and delivered after its
   * latency. Returns false (and counts a drop) when the port has no wire or the link is down.
   */
  send(port: string, bytes: Uint8Array, channel?: Channel): boolean;
  /** Whether the port's wire is up. */
  linkUp(port: string): boolean;
  /**
   * Records an event of a kind the catalogue declares (`shared/events/catalogue.ts`), with the
   * payload its kind says; plain data (msgpack). `volatile` is left out of the fingerprint.
   * Inputs (`input.*`) are the controller's: a core never emits them.
   */
  emit<K extends NodeEventKind>(kind: K, payload: NodeEventPayloads[K], volatile?: EventVolatile<K>): void;
}

/**
 * A node's deterministic core: state plus handlers, no I/O. The same core runs inside its own OS
 * process (behind ZeroMQ wires) or with all the others in one process; both give the same events.
 */
export interface NodeCore {
  /** The node boots (at the run's start, or when a killed node is started again). */
  onBoot(ctx: NodeContext): void;
  /** A frame arrived on a port. */
  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, channel: Channel): void;
  onTimer(ctx: NodeContext, name: string, data: unknown): void;
  /** A port's link went up or down. */
  onLink(ctx: NodeContext, port: string, up: boolean): void;
  /**
   * A controller action addressed to this node (scenario step, UI or API action), its arguments
   * already checked against the node's schema of them (`shared/actions/node-actions.ts`).
   */
  onAction(ctx: NodeContext, action: NodeAction): void;
  /** The run ends at this instant: emit final reports. */
  onEnd(ctx: NodeContext): void;
  /** A plain-data view of the state, for inspectors and snapshots. */
  inspect(): unknown;
}

/** A message waiting in a node's queue, ordered by (arrival, src, srcSeq). */
export type QueuedMessage =
  | (MessageKey & {
      readonly type: 'frame';
      readonly port: string;
      readonly channel: Channel;
      readonly bytes: Uint8Array;
      /** The wire corrupted it: its frame check sequence would not match (see `OutboundFrame.corrupted`). */
      readonly corrupted?: boolean;
    })
  | (MessageKey & { readonly type: 'timer'; readonly timerId: number; readonly name: string; readonly data: unknown })
  | (MessageKey & { readonly type: 'input'; readonly input: NodeInput });

export interface MessageKey {
  readonly arrival: VTime;
  /** The node that scheduled it (itself for timers, `controller` for inputs). */
  readonly src: string;
  readonly srcSeq: number;
  /** The event that caused it (a `frame.tx`, an input, the event before a timer was set). */
  readonly cause: LocalEventId | null;
}

/** A frame leaving this node, to be carried by the wire to its peer. */
export interface OutboundFrame {
  readonly wire: string;
  /** The directed wire it leaves on: 2 x the wire's index in the topology, +1 from `b` to `a`. */
  readonly direction: number;
  readonly toNode: string;
  readonly toPort: string;
  readonly arrival: VTime;
  readonly srcSeq: number;
  readonly channel: Channel;
  readonly bytes: Uint8Array;
  readonly cause: LocalEventId;
  /**
   * The wire's impairment flipped a byte. Frames carry no FCS here; this flag is what the
   * receiver's frame check sequence would find, so the receiver drops the frame as a NIC does.
   */
  readonly corrupted?: boolean;
}
