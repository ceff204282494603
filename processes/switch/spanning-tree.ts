import { bridgeIdText, decodeRstBpduFrame, encodeRstBpduFrame, type BridgeId, type RstBpdu, type StpRole } from '../../shared/net/stp.js';
import type { MacAddress } from '../../shared/net/mac.js';
import type { StpSpec } from '../../shared/topology/types.js';
import type { NodeContext } from '../runtime/types.js';

/**
 * A rapid spanning tree (after IEEE 802.1D-2004 clause 17, RSTP) on a switch's ports that face
 * other switches running one: the switches elect a root bridge (lowest priority, then lowest
 * MAC), each keeps one root port towards it, one designated port per link forwards, and every
 * other port (alternate, backup) discards, so the forwarding ports form a tree and a broadcast
 * cannot circle a loop.
 *
 * What is modelled: RST BPDUs as real frames; port roles from priority vectors (root id, root
 * path cost, designated bridge, designated port); the proposal/agreement handshake (a designated
 * port that is discarding proposes; the neighbour's root port syncs its own designated ports to
 * discarding and agrees; the proposer then forwards at once), with forwarding after twice the
 * forward delay when no agreement comes; received information aging out after three hello times;
 * topology changes flushing learned MACs and travelling with the TC flag. What is not: learning
 * as a state of its own (ports go from discarding to forwarding), port priorities other than the
 * default, edge-port auto-detection (ports to DPUs and hosts are edge ports from the topology).
 *
 * Every change of a port's role or state is recorded as `stp.port`, every change of the root as
 * `stp.root`.
 */

/** A port's role in the tree. Backup: a second port of this bridge on the same segment. */
export type PortRole = 'root' | 'designated' | 'alternate' | 'backup' | 'disabled';
/** Whether a port forwards (and learns) or discards everything but BPDUs. */
export type PortState = 'forwarding' | 'discarding';

/** A spanning-tree port of the switch: one that faces another switch running a spanning tree. */
export interface StpPortSetup {
  readonly name: string;
  /** The wire on it, for events. */
  readonly wire: string;
  /** 1-based port number, part of the port id. */
  readonly number: number;
  /** The port's MAC, the source of its BPDUs. */
  readonly mac: MacAddress;
  /** Path cost of the link (802.1D-2004 Table 17-3: 20 Tb/s divided by the link speed). */
  readonly pathCost: number;
}

/** What the switch does when the tree changes. */
export interface TreeListener {
  /** A port stopped forwarding: what was learned on it is stale. */
  portBlocked(port: string): void;
  /** The topology changed: forget what was learned on every port but `except`. */
  topologyChanged(except: string | null): void;
}

/** A priority vector, compared field by field, lowest best. */
interface Vector {
  readonly root: string;
  readonly cost: number;
  readonly bridge: string;
  readonly port: number;
}

function compare(a: Vector, b: Vector): number {
  if (a.root !== b.root) return a.root < b.root ? -1 : 1;
  if (a.cost !== b.cost) return a.cost - b.cost;
  if (a.bridge !== b.bridge) return a.bridge < b.bridge ? -1 : 1;
  return a.port - b.port;
}

interface PortInfo {
  readonly setup: StpPortSetup;
  readonly portId: number;
  role: PortRole;
  state: PortState;
  /** Since when the port has been designated and discarding (for the forward-delay fallback). */
  proposingSince: number | null;
  /** The best information received on the port, and when. */
  received: { vector: Vector; at: number; bridge: BridgeId } | null;
  up: boolean;
}

const NS_PER_S = 1e9;
/** Default port priority (802.1D-2004 17.13.10): 128, the high four bits of the port id. */
const PORT_PRIORITY = 0x80;

/** Path cost of a link of `bps` bits per second (802.1D-2004 Table 17-3: 20,000,000,000,000 / bps). */
export function pathCostOf(bps: number): number {
  return Math.max(1, Math.min(200_000_000, Math.round(20e12 / bps)));
}

export class SpanningTree {
  private readonly bridge: BridgeId;
  private readonly id: string;
  private readonly ports = new Map<string, PortInfo>();
  private rootVector: Vector;
  private rootPort: string | null = null;
  /** Until when received topology changes are not acted on again (one per hello time). */
  private tcUntil = -1;

  constructor(
    private readonly spec: StpSpec,
    bridgeMac: MacAddress,
    ports: readonly StpPortSetup[],
    private readonly listener: TreeListener,
  ) {
    this.bridge = { priority: spec.priority, mac: bridgeMac };
    this.id = bridgeIdText(this.bridge);
    this.rootVector = { root: this.id, cost: 0, bridge: this.id, port: 0 };
    for (const setup of [...ports].sort((a, b) => a.number - b.number)) {
      this.ports.set(setup.name, { setup, portId: (PORT_PRIORITY << 8) | (setup.number & 0x0fff), role: 'disabled', state: 'discarding', proposingSince: null, received: null, up: false });
    }
  }

  /** Whether `port` passes frames. Ports outside the tree (edge ports) always do. */
  forwards(port: string): boolean {
    const info = this.ports.get(port);
    return info === undefined || info.state === 'forwarding';
  }

  /** Whether `port` takes part in the tree. */
  has(port: string): boolean {
    return this.ports.has(port);
  }

  /** At boot: every cabled port whose link is up starts designated and discarding, and proposes. */
  start(ctx: NodeContext): void {
    for (const info of this.ports.values()) info.up = ctx.linkUp(info.setup.name);
    this.recompute(ctx, null);
    ctx.setTimer(this.spec.helloNs, 'stp.hello');
  }

  /** Handles a BPDU received on `port`; returns false if the port is not in the tree. */
  receive(ctx: NodeContext, port: string, bytes: Uint8Array): boolean {
    const info = this.ports.get(port);
    if (info === undefined) return false;
    const bpdu = decodeRstBpduFrame(bytes);
    const vector: Vector = { root: bridgeIdText(bpdu.root), cost: bpdu.rootPathCost, bridge: bridgeIdText(bpdu.bridge), port: bpdu.portId };
    info.received = { vector, at: ctx.now(), bridge: bpdu.bridge };
    if (bpdu.topologyChange) this.topologyChange(ctx, port);
    this.recompute(ctx, port);
    if (info.role === 'root' && bpdu.proposal) {
      // Sync: no other port may forward towards the new root before it is agreed downstream.
      for (const other of this.ports.values()) {
        if (other !== info && other.role === 'designated' && other.state === 'forwarding') this.setState(ctx, other, 'discarding');
      }
      this.sendBpdu(ctx, info, { agreement: true });
    } else if ((info.role === 'alternate' || info.role === 'backup') && bpdu.proposal) {
      // A discarding port is in sync by nature: it agrees, and the proposer may forward.
      this.sendBpdu(ctx, info, { agreement: true });
    } else if (info.role === 'designated' && bpdu.agreement && vector.root === this.rootVector.root && info.state === 'discarding') {
      this.setState(ctx, info, 'forwarding');
    } else if (info.role === 'designated' && compare(vector, this.designatedVector(info)) > 0) {
      // The neighbour has worse information than ours: tell it now rather than at the next hello.
      this.sendBpdu(ctx, info, {});
    }
    return true;
  }

  /** `stp.hello`: BPDUs on designated ports, aged information dropped, the forward-delay fallback. */
  onHello(ctx: NodeContext): void {
    const now = ctx.now();
    let aged = false;
    for (const info of this.ports.values()) {
      if (info.received !== null && now - info.received.at >= 3 * this.spec.helloNs) {
        info.received = null;
        aged = true;
      }
    }
    if (aged) this.recompute(ctx, null);
    for (const info of this.ports.values()) {
      if (info.role !== 'designated') continue;
      if (info.state === 'discarding' && info.proposingSince !== null && now - info.proposingSince >= 2 * this.spec.forwardDelayNs) {
        this.setState(ctx, info, 'forwarding');
      }
      this.sendBpdu(ctx, info, {});
    }
    ctx.setTimer(this.spec.helloNs, 'stp.hello');
  }

  /** A port's link changed: down ports leave the tree, up ports join it as designated. */
  onLink(ctx: NodeContext, port: string, up: boolean): void {
    const info = this.ports.get(port);
    if (info === undefined) return;
    info.up = up;
    if (!up) info.received = null;
    this.recompute(ctx, null);
  }

  /** The tree as this switch sees it, for inspectors. */
  inspect(): unknown {
    return {
      bridge: this.id,
      root: this.rootVector.root,
      rootCost: this.rootVector.cost,
      rootPort: this.rootPort,
      ports: [...this.ports.values()].map((p) => ({ port: p.setup.name, role: p.role, state: p.state, pathCost: p.setup.pathCost, designatedBridge: p.received?.vector.bridge ?? null })),
    };
  }

  /** The vector this bridge would send on `info` as its designated port. */
  private designatedVector(info: PortInfo): Vector {
    return { root: this.rootVector.root, cost: this.rootVector.cost, bridge: this.id, port: info.portId };
  }

  /** Port role selection (802.1D-2004 17.21.25): the root, the root port, every port's role. */
  private recompute(ctx: NodeContext, from: string | null): void {
    let best: Vector = { root: this.id, cost: 0, bridge: this.id, port: 0 };
    let bestPort: PortInfo | null = null;
    let bestVia: Vector | null = null;
    for (const info of this.ports.values()) {
      if (!info.up || info.received === null || info.received.vector.bridge === this.id) continue;
      const r = info.received.vector;
      const candidate: Vector = { root: r.root, cost: r.cost + info.setup.pathCost, bridge: r.bridge, port: r.port };
      const tie = bestPort !== null && compare(candidate, bestVia!) === 0 && info.portId < bestPort.portId;
      if (compare(candidate, best) < 0 || tie) {
        best = candidate;
        bestPort = info;
        bestVia = candidate;
      }
    }
    const oldRoot = this.rootVector.root;
    const oldCost = this.rootVector.cost;
    const oldRootPort = this.rootPort;
    this.rootVector = bestPort === null ? { root: this.id, cost: 0, bridge: this.id, port: 0 } : { root: best.root, cost: best.cost, bridge: best.bridge, port: best.port };
    this.rootPort = bestPort?.setup.name ?? null;
    if (oldRoot !== this.rootVector.root || oldCost !== this.rootVector.cost || oldRootPort !== this.rootPort) {
      ctx.emit('stp.root', { root: this.rootVector.root, rootCost: this.rootVector.cost, rootPort: this.rootPort, bridge: this.id });
    }
    for (const info of this.ports.values()) {
      let role: PortRole;
      if (!info.up) role = 'disabled';
      else if (info === bestPort) role = 'root';
      else if (info.received === null) role = 'designated';
      else if (info.received.vector.bridge === this.id) role = info.received.vector.port < info.portId ? 'backup' : 'designated';
      else role = compare(info.received.vector, this.designatedVector(info)) < 0 ? 'alternate' : 'designated';
      this.setRole(ctx, info, role, from);
    }
  }

  private setRole(ctx: NodeContext, info: PortInfo, role: PortRole, from: string | null): void {
    const changed = info.role !== role;
    info.role = role;
    if (role === 'root') {
      if (info.state !== 'forwarding') this.setState(ctx, info, 'forwarding', changed);
      else if (changed) this.emitPort(ctx, info);
      info.proposingSince = null;
    } else if (role === 'designated') {
      if (changed) {
        // A new designated port starts discarding and proposes: it forwards once agreed.
        info.proposingSince = ctx.now();
        if (info.state !== 'discarding') this.setState(ctx, info, 'discarding', true);
        else this.emitPort(ctx, info);
        if (info.setup.name !== from || info.received === null) this.sendBpdu(ctx, info, {});
      }
    } else {
      info.proposingSince = null;
      if (info.state !== 'discarding') this.setState(ctx, info, 'discarding', changed);
      else if (changed) this.emitPort(ctx, info);
    }
  }

  private setState(ctx: NodeContext, info: PortInfo, state: PortState, emit = true): void {
    if (info.state === state) return;
    info.state = state;
    if (state === 'discarding') {
      if (info.role === 'designated') info.proposingSince = ctx.now();
      this.listener.portBlocked(info.setup.name);
    } else {
      info.proposingSince = null;
      // A port that starts forwarding changes the topology: what others learned may be wrong now.
      this.topologyChange(ctx, info.setup.name);
    }
    if (emit) this.emitPort(ctx, info);
  }

  private emitPort(ctx: NodeContext, info: PortInfo): void {
    ctx.emit('stp.port', { port: info.setup.name, wire: info.setup.wire, role: info.role, state: info.state, root: this.rootVector.root, rootCost: this.rootVector.cost });
  }

  /**
   * A topology change, seen here (a port started forwarding) or heard on `port` (a BPDU with the
   * TC flag): what was learned elsewhere may be wrong now, so it is flushed and the neighbours
   * told. Acted on once per hello time, which also stops it from echoing around.
   */
  private topologyChange(ctx: NodeContext, port: string): void {
    if (ctx.now() < this.tcUntil) return;
    this.tcUntil = ctx.now() + this.spec.helloNs;
    this.listener.topologyChanged(port);
    for (const info of this.ports.values()) {
      if (info.up && info.setup.name !== port && (info.role === 'root' || info.role === 'designated')) this.sendBpdu(ctx, info, { topologyChange: true });
    }
  }

  private sendBpdu(ctx: NodeContext, info: PortInfo, flags: { agreement?: boolean; topologyChange?: boolean }): void {
    if (!info.up || !ctx.linkUp(info.setup.name)) return;
    const role: StpRole = info.role === 'root' ? 'root' : info.role === 'designated' ? 'designated' : info.role === 'disabled' ? 'unknown' : 'alternate';
    const bpdu: RstBpdu = {
      topologyChange: flags.topologyChange ?? false,
      proposal: info.role === 'designated' && info.state === 'discarding',
      role,
      learning: info.state === 'forwarding',
      forwarding: info.state === 'forwarding',
      agreement: flags.agreement ?? false,
      root: this.rootBridge(),
      rootPathCost: this.rootVector.cost,
      bridge: this.bridge,
      portId: info.portId,
      messageAge: 0,
      maxAge: this.spec.maxAgeNs / NS_PER_S,
      helloTime: this.spec.helloNs / NS_PER_S,
      forwardDelay: this.spec.forwardDelayNs / NS_PER_S,
    };
    ctx.send(info.setup.name, encodeRstBpduFrame(info.setup.mac, bpdu));
  }

  /** The root's bridge id, back from its text (priority, then MAC). */
  private rootBridge(): BridgeId {
    const text = this.rootVector.root;
    const mac = text.slice(4).match(/../g)!.join(':');
    return { priority: parseInt(text.slice(0, 4), 16), mac };
  }
}
