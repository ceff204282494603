/// <reference lib="dom" />
/**
 * Packets on the wires, as Packet Tracer's simulation mode draws them: when a person steps
 * through a run (the scrubber one event on, or a paused live run one instant on), each frame put
 * on a wire in that step travels as a dot from its sender to its receiver, coloured by what it
 * carries. What it carries comes from the frame decoder (`shared/net/frame.ts`), the inner frame
 * of a GENEVE tunnel and the frame a pcie `dma` message carries included.
 */
import { hexToBytes } from '../../../shared/net/bytes.js';
import { tryDecodeFrame, type DecodedFrame } from '../../../shared/net/frame.js';
import type { FrameResponse } from '../../common/protocol.js';
import { h } from '../dom.js';

/** What a dot is coloured by. */
export type PacketProtocol = 'tcp' | 'udp' | 'icmp' | 'nd' | 'arp' | 'lldp' | 'ip' | 'pcie' | 'other';

/** Colour of a dot by protocol. */
export const PROTOCOL_COLORS: Record<PacketProtocol, string> = {
  tcp: '#38bdf8',
  udp: '#4ade80',
  icmp: '#fb923c',
  nd: '#e879f9',
  arp: '#facc15',
  lldp: '#cbd5e1',
  ip: '#f472b6',
  pcie: '#94a3b8',
  other: '#f8fafc',
};

/** The protocol a decoded frame carries, the tunnelled frame's when it is a GENEVE tunnel. */
export function frameProtocol(frame: DecodedFrame): PacketProtocol {
  if (frame.geneve?.inner) return frameProtocol(frame.geneve.inner);
  if (frame.tcp) return 'tcp';
  if (frame.udp) return 'udp';
  if (frame.icmp) return 'icmp';
  if (frame.icmpv6) return 'nd';
  if (frame.arp) return 'arp';
  if (frame.lldp) return 'lldp';
  if (frame.ipv4 || frame.ipv6) return 'ip';
  return 'other';
}

/** The protocol of a recorded frame: a doorbell or mailbox message (no Ethernet frame) is `pcie`. */
export function responseProtocol(response: FrameResponse): PacketProtocol {
  if (response.frame === null) return response.channel === 'eth' || response.channel === 'mgmt' ? 'other' : 'pcie';
  const decoded = tryDecodeFrame(hexToBytes(response.frame));
  return decoded.ok ? frameProtocol(decoded.frame) : 'other';
}

/** A point on the canvas, in pixels from its top left corner. */
export interface Point {
  readonly x: number;
  readonly y: number;
}

/** The path a dot takes: from the sender to the receiver, bowed through `via` as the drawn wire is. */
export interface PacketPath {
  readonly from: Point;
  readonly via: Point;
  readonly to: Point;
}

/** Where a dot is at `t` in [0, 1]: a quadratic curve through `via` at its middle. */
export function pointAt(path: PacketPath, t: number): Point {
  // The control point that makes the curve pass through `via` at t = 0.5.
  const cx = 2 * path.via.x - (path.from.x + path.to.x) / 2;
  const cy = 2 * path.via.y - (path.from.y + path.to.y) / 2;
  const u = 1 - t;
  return { x: u * u * path.from.x + 2 * u * t * cx + t * t * path.to.x, y: u * u * path.from.y + 2 * u * t * cy + t * t * path.to.y };
}

/** How long a dot takes from end to end: slow enough to follow with the eye. */
export const PACKET_TRAVEL_MS = 1600;

/** One frame to animate: where it goes and what it is. */
export interface PacketTrip {
  readonly seq: number;
  readonly wire: string;
  readonly from: string;
  readonly to: string;
  readonly protocol: PacketProtocol;
  /** The path at the current zoom; asked again on every frame so a pan or zoom carries the dot along. */
  readonly path: () => PacketPath | null;
}

/**
 * The layer the dots are drawn in, over the graph. Each dot is an element with its frame's seq,
 * wire, ends and protocol and how far it has gone (`data-progress`), so that what is drawn can
 * be read.
 */
export class PacketLayer {
  readonly element: HTMLElement;
  private running = 0;
  /** Bumped by {@link clear}: the animations of an earlier generation stop. */
  private generation = 0;

  constructor() {
    this.element = h('div', { id: 'packet-layer', class: 'packet-layer' });
  }

  /** Sends the dots on their way; each one goes when its trip is over. */
  launch(trips: readonly PacketTrip[]): void {
    for (const trip of trips) this.fly(trip);
  }

  /** Takes every dot away (the view jumped to another moment). */
  clear(): void {
    this.generation++;
    this.element.replaceChildren();
    this.running = 0;
  }

  /** Dots in flight. */
  get inFlight(): number {
    return this.running;
  }

  private fly(trip: PacketTrip): void {
    const dot = h('span', {
      class: `packet-dot protocol-${trip.protocol}`,
      style: `background:${PROTOCOL_COLORS[trip.protocol]}`,
      title: `${trip.protocol} frame (event ${trip.seq}) on ${trip.wire}: ${trip.from} → ${trip.to}`,
      'data-seq': String(trip.seq),
      'data-wire': trip.wire,
      'data-from': trip.from,
      'data-to': trip.to,
      'data-protocol': trip.protocol,
      'data-progress': '0',
    });
    this.element.append(dot);
    this.running++;
    const start = performance.now();
    const generation = this.generation;
    const frame = (now: number): void => {
      if (generation !== this.generation) return;
      const t = Math.min(1, (now - start) / PACKET_TRAVEL_MS);
      const path = trip.path();
      if (path) {
        const p = pointAt(path, t);
        dot.style.transform = `translate(${p.x.toFixed(1)}px, ${p.y.toFixed(1)}px)`;
      }
      dot.setAttribute('data-progress', t.toFixed(3));
      if (t < 1) {
        requestAnimationFrame(frame);
        return;
      }
      // Arrived: it lingers a moment at the receiver, then goes.
      dot.classList.add('arrived');
      window.setTimeout(() => {
        if (generation !== this.generation) return;
        dot.remove();
        this.running--;
      }, 400);
    };
    requestAnimationFrame(frame);
  }
}
