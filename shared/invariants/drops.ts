/**
 * `drops-logged`: every frame dropped anywhere is logged with a reason.
 *
 * A frame that leaves a node is a `frame.tx`; its `fate` already logs a loss on the wire. What
 * happens when it arrives is logged by the receiver, whose events carry the `frame.tx` as their
 * cause. The check follows each frame to its receiver and asks for at least one *disposition*
 * there: a frame sent on (`frame.tx`), or a logged drop (`frame.drop`, `switch.drop`,
 * `pcie.drop`, `frame.malformed`, a firewall verdict, a traceflow observation).
 *
 * Where silence is a drop, and where it is not (so the check is sound: it never blames a node
 * for a frame that rightly ends there):
 * - **Physical switches** forward or flood everything except link-local control frames
 *   (`01:80:c2:00:00:0x`, LLDP). A unicast frame whose destination the switch learned on the very
 *   port it came in on is filtered, as 802.1D says, and needs no record; the check folds each
 *   switch's MAC table from `mac.learn` and `mac.age` to tell. Anything else that goes nowhere is a
 *   silent drop, unless the port's drops are logged once for all: storm control suppressing its
 *   floods (`switch.storm`) or the spanning tree discarding on it (`stp.port`).
 * - **DPUs** terminate many frames on their uplinks (LLDP, underlay ARP, broadcasts of others).
 *   The check judges only overlay traffic addressed to the DPU: a GENEVE frame whose inner frame
 *   is unicast, to a MAC the DPU owns (an uplink's MAC, or the source MAC of GENEVE frames it has
 *   sent: its tunnel endpoint's). It must reach a vNIC, the host (vMotion) or a logged drop; a
 *   standby that discards it silently breaks the invariant.
 * - **Hosts** deliver frames to their guests without an event, so silence there is the normal
 *   case and is not judged.
 * - A frame whose receiver dies (or restarts) before it arrives is lost with the node, which
 *   `node.exit` records; a corrupted frame is not judged, nor is anything a node sent on because
 *   of one (a switch forwards a damaged frame it cannot tell is damaged; its bytes lie); a frame
 *   still in flight at the end of the run is not judged.
 */
import type { VTime } from '../events.js';
import { ETHERTYPE_IPV4, ETHERTYPE_LLDP, ETHERTYPE_TRANSPARENT_ETHERNET, ETHERTYPE_VLAN } from '../net/ethernet.js';
import { GENEVE_UDP_PORT } from '../net/geneve.js';
import type { ResolvedTopology, SwitchPortVlans } from '../topology/types.js';
import { NONE, refOf, type Invariant, type InvariantContext, type InvariantMonitor, type Violation } from './types.js';
import type { TypedEvent } from '../events/typed.js';
import { Liveness, TopologyIndex, typed } from './world.js';

/** Event kinds that account for a received frame: it went on, or its loss was logged. */
export const DISPOSITION_KINDS: ReadonlySet<string> = new Set([
  'frame.tx',
  'frame.drop',
  'switch.drop',
  'pcie.drop',
  'frame.malformed',
  'dfw.reject',
  'dfw.rule.hit',
  'traceflow.observe',
]);

/** The parts of an Ethernet frame the check needs. */
interface FrameHead {
  readonly dst: string;
  readonly vlan: number | null;
  readonly etherType: number;
  /** Offset of the payload after the Ethernet (and VLAN) header. */
  readonly payload: number;
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

function macAt(b: Uint8Array, o: number): string {
  return `${HEX[b[o]!]}:${HEX[b[o + 1]!]}:${HEX[b[o + 2]!]}:${HEX[b[o + 3]!]}:${HEX[b[o + 4]!]}:${HEX[b[o + 5]!]}`;
}

/** Frame bytes from a payload: binary, or hex text (as the UI sends them). */
function bytesOf(value: unknown): Uint8Array | null {
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'string' && /^[0-9a-f]*$/i.test(value) && value.length % 2 === 0) {
    const out = new Uint8Array(value.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(value.slice(2 * i, 2 * i + 2), 16);
    return out;
  }
  return null;
}

function head(bytes: Uint8Array): FrameHead | null {
  if (bytes.length < 14) return null;
  let etherType = (bytes[12]! << 8) | bytes[13]!;
  let vlan: number | null = null;
  let payload = 14;
  if (etherType === ETHERTYPE_VLAN) {
    if (bytes.length < 18) return null;
    vlan = ((bytes[14]! << 8) | bytes[15]!) & 0x0fff;
    etherType = (bytes[16]! << 8) | bytes[17]!;
    payload = 18;
  }
  return { dst: macAt(bytes, 0), vlan, etherType, payload };
}

/** The inner frame's destination MAC of a GENEVE frame, or null when the frame is not one. */
function geneveInnerDst(bytes: Uint8Array, h: FrameHead): string | null {
  if (h.etherType !== ETHERTYPE_IPV4) return null;
  const ip = h.payload;
  if (bytes.length < ip + 20 || bytes[ip]! >> 4 !== 4 || bytes[ip + 9] !== 17) return null;
  const udp = ip + (bytes[ip]! & 0x0f) * 4;
  if (bytes.length < udp + 8 || ((bytes[udp + 2]! << 8) | bytes[udp + 3]!) !== GENEVE_UDP_PORT) return null;
  const geneve = udp + 8;
  if (bytes.length < geneve + 8) return null;
  if (((bytes[geneve + 2]! << 8) | bytes[geneve + 3]!) !== ETHERTYPE_TRANSPARENT_ETHERNET) return null;
  const inner = geneve + 8 + (bytes[geneve]! & 0x3f) * 4;
  if (bytes.length < inner + 14) return null;
  return macAt(bytes, inner);
}

function isMulticast(mac: string): boolean {
  return (parseInt(mac.slice(0, 2), 16) & 1) === 1;
}

/** The VLAN an untagged frame belongs to on a switch port. */
function nativeVlan(config: SwitchPortVlans | undefined): number {
  if (!config) return 1;
  return config.mode === 'access' ? config.vlan : config.native;
}

/** A frame on its way, to be judged once the receiver has had its instant to handle it. */
interface InFlight {
  readonly tx: TypedEvent<'frame.tx'>;
  readonly receiver: string;
  readonly port: string;
  readonly arrival: VTime;
  readonly what: string;
  /** For a switch: the VLAN and destination to look up in its table at arrival. */
  readonly lookup: { readonly vlan: number; readonly dst: string } | null;
}

/** Frames in flight, earliest arrival first (ties: the frame sent first). */
class ArrivalHeap {
  private items: InFlight[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): InFlight | undefined {
    return this.items[0];
  }

  clear(): void {
    this.items = [];
  }

  push(f: InFlight): void {
    const a = this.items;
    a.push(f);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): InFlight | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(x: InFlight, y: InFlight): boolean {
  return x.arrival < y.arrival || (x.arrival === y.arrival && x.tx.seq < y.tx.seq);
}

/** Which node and port receive each direction of each wire. */
function receivers(topology: ResolvedTopology): Map<string, { node: string; port: string; ethernet: boolean }> {
  const map = new Map<string, { node: string; port: string; ethernet: boolean }>();
  for (const w of topology.wires) {
    map.set(`${w.id}|a>b`, { node: w.b.node, port: w.b.port, ethernet: w.kind === 'ethernet' });
    map.set(`${w.id}|b>a`, { node: w.a.node, port: w.a.port, ethernet: w.kind === 'ethernet' });
  }
  return map;
}

/** `drops-logged`: see the file comment for what is judged and why that is sound. */
export const dropsLogged: Invariant = {
  id: 'drops-logged',
  meaning: 'Every frame dropped anywhere is logged with a reason: a frame reaching a switch, or overlay traffic reaching its DPU, is sent on or logged as dropped',
  start(context: InvariantContext): InvariantMonitor {
    const index = new TopologyIndex(context.topology);
    const ends = receivers(context.topology);
    const switchPorts = new Map<string, Readonly<Record<string, SwitchPortVlans>>>();
    const mirrorDestinations = new Set<string>();
    for (const node of context.topology.nodes) {
      if (node.kind !== 'switch') continue;
      switchPorts.set(node.id, node.spec.portConfig ?? {});
      for (const session of node.spec.mirror ?? []) mirrorDestinations.add(`${node.id}:${session.destination}`);
    }
    const liveness = new Liveness();
    /** The MACs each DPU owns: its uplinks' and its tunnel endpoint's, learned from what it sends. */
    const ownMacs = new Map<string, Set<string>>();
    for (const [dpu, uplinks] of index.uplinks) ownMacs.set(dpu, new Set(uplinks.flatMap((u) => index.portMac.get(`${dpu}:${u}`) ?? [])));
    /** Each switch's MAC table: `vlan|mac` to port. */
    const tables = new Map<string, Map<string, string>>();
    /** Frames corrupted on a wire, and every frame sent on because of one: their bytes cannot be trusted. */
    const tainted = new Set<number>();
    /** Frames being watched, by `frame.tx` seq, and those whose receiver logged a disposition. */
    const watched = new Map<number, string>();
    const accounted = new Set<number>();
    /**
     * Switch ports (`node:port`) whose drops are logged once for all: storm control suppressing
     * floods (`switch.storm`), or the spanning tree discarding (`stp.port`).
     */
    const silenced = new Set<string>();
    const pending = new ArrivalHeap();
    /** Earliest arrival among `pending`, so most events cost one comparison. */
    let nextArrival = Infinity;

    function table(sw: string): Map<string, string> {
      let t = tables.get(sw);
      if (!t) tables.set(sw, (t = new Map()));
      return t;
    }

    function judge(f: InFlight): Violation | null {
      watched.delete(f.tx.seq);
      if (accounted.delete(f.tx.seq)) return null;
      const exited = liveness.exitedAt.get(f.receiver);
      if (exited !== undefined && exited >= f.tx.vtime && exited <= f.arrival) return null;
      if (!liveness.isAlive(f.receiver)) return null;
      if (silenced.has(`${f.receiver}:${f.port}`)) return null;
      if (f.lookup !== null && table(f.receiver).get(`${f.lookup.vlan}|${f.lookup.dst}`) === f.port) return null;
      return {
        invariant: 'drops-logged',
        message: `${f.receiver} dropped a frame without a record: ${f.what} sent by ${f.tx.node} on ${f.tx.payload.wire} (frame.tx seq ${f.tx.seq}) reached port ${f.port} at ${f.arrival} ns and was neither sent on nor logged as dropped`,
        event: refOf(f.tx),
      };
    }

    function settle(before: VTime): Violation[] {
      if (before <= nextArrival) return [];
      const out: Violation[] = [];
      while (pending.size > 0 && pending.peek()!.arrival < before) {
        const v = judge(pending.pop()!);
        if (v) out.push(v);
      }
      nextArrival = pending.size > 0 ? pending.peek()!.arrival : Infinity;
      return out;
    }

    /** A frame to watch, or null when its receiver may rightly keep silent. */
    function watch(e: TypedEvent<'frame.tx'>): InFlight | null {
      const p = e.payload;
      const end = ends.get(`${p.wire}|${p.dir}`);
      const arrival = p.arrival;
      if (!end || !end.ethernet || p.channel !== 'eth') return null;
      const bytes = bytesOf(p.bytes);
      const h = bytes === null ? null : head(bytes);
      if (bytes === null || h === null) return null;
      // A DPU sending overlay traffic shows its tunnel endpoint's MAC (corrupted bytes lie).
      const own = ownMacs.get(e.node);
      if (own !== undefined && p.fate !== 'corrupted' && geneveInnerDst(bytes, h) !== null) own.add(macAt(bytes, 6));
      if (p.fate !== 'delivered' && p.fate !== 'duplicated') return null;
      const kind = index.kindOf.get(end.node);
      if (kind === 'switch') {
        if (h.etherType === ETHERTYPE_LLDP || h.dst.startsWith('01:80:c2:00:00:0')) return null;
        if (mirrorDestinations.has(`${end.node}:${end.port}`)) return null;
        const vlan = h.vlan ?? nativeVlan(switchPorts.get(end.node)?.[end.port]);
        const what = `a frame to ${h.dst} (ethertype 0x${h.etherType.toString(16)}, vlan ${vlan})`;
        return { tx: e, receiver: end.node, port: end.port, arrival, what, lookup: isMulticast(h.dst) ? null : { vlan, dst: h.dst } };
      }
      if (kind === 'dpu') {
        if (!(index.uplinks.get(end.node) ?? []).includes(end.port)) return null;
        if (!ownMacs.get(end.node)?.has(h.dst)) return null;
        const inner = geneveInnerDst(bytes, h);
        if (inner === null || isMulticast(inner)) return null;
        return { tx: e, receiver: end.node, port: end.port, arrival, what: `a GENEVE frame for ${inner}`, lookup: null };
      }
      return null;
    }

    return {
      observe(event) {
        const out = settle(event.vtime);
        liveness.observe(event);
        // Only the receiver's events count: a timer the sender set right after sending also names the frame as its cause.
        if (event.cause !== null && watched.get(event.cause) === event.node && DISPOSITION_KINDS.has(event.kind)) accounted.add(event.cause);
        const e = typed(event);
        switch (e?.kind) {
          case 'frame.tx': {
            if (e.payload.fate === 'corrupted' || (e.cause !== null && tainted.has(e.cause))) {
              tainted.add(e.seq);
              break;
            }
            const f = watch(e);
            if (f) {
              pending.push(f);
              watched.set(e.seq, f.receiver);
              nextArrival = pending.peek()!.arrival;
            }
            break;
          }
          case 'mac.learn':
            table(e.node).set(`${e.payload.vlan}|${e.payload.mac.toLowerCase()}`, e.payload.port);
            break;
          case 'mac.age':
            table(e.node).delete(`${e.payload.vlan}|${e.payload.mac.toLowerCase()}`);
            break;
          case 'switch.storm':
            if (e.payload.state === 'suppressing') silenced.add(`${e.node}:${e.payload.port}`);
            else silenced.delete(`${e.node}:${e.payload.port}`);
            break;
          case 'stp.port':
            if (e.payload.state === 'discarding') silenced.add(`${e.node}:${e.payload.port}`);
            else silenced.delete(`${e.node}:${e.payload.port}`);
            break;
          case 'node.start':
            tables.delete(e.payload.node);
            for (const key of silenced) if (key.startsWith(`${e.payload.node}:`)) silenced.delete(key);
            break;
          default:
            break;
        }
        return out.length === 0 ? NONE : out;
      },
      finish(endNs) {
        // Frames arriving after the end were never handled: only those before it are judged.
        const out = settle(endNs);
        pending.clear();
        tainted.clear();
        watched.clear();
        accounted.clear();
        silenced.clear();
        return out;
      },
    };
  },
};
