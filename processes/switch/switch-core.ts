import { isMulticastMac } from '../../shared/net/mac.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import { decodeEthernet, ETHERTYPE_LLDP } from '../../shared/net/ethernet.js';
import { isBpduFrame } from '../../shared/net/stp.js';
import type { ResolvedTopology, SwitchNode } from '../../shared/topology/types.js';
import { LldpAgent } from '../common/lldp-agent.js';
import { observeTrace, traceOf, type TracedFrame } from '../vds/traceflow.js';
import { MalformedCounter } from '../common/malformed.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { EgressFrame } from './egress-frame.js';
import { MacTable } from './mac-table.js';
import { PortMirror } from './port-mirror.js';
import { pathCostOf, SpanningTree, type StpPortSetup } from './spanning-tree.js';
import { StormControl } from './storm-control.js';
import { VlanPort } from './vlan-port.js';
import type { SwitchDropReason } from './vlan-port.js';

interface PortCounters {
  rxFrames: number;
  txFrames: number;
  floods: number;
  /** Received frames dropped (VLAN filtering, mirror destination). */
  rxDrops: number;
  /** Received frames not forwarded because their destination is behind the port they came in on. */
  filtered: number;
  /** Mirror copies sent out of this port (a mirror destination); also counted in txFrames. */
  mirrored: number;
  /** Received frames discarded because the spanning tree blocks the port. */
  stpDiscarded: number;
  /** Frames that would have been flooded, dropped by storm control. */
  stormDropped: number;
}

/**
 * A physical top-of-rack switch: an 802.1Q learning bridge. Each port is an access port or a
 * trunk (by default a trunk for every VLAN with native VLAN 1, which forwards every frame
 * unchanged); MACs are learned per VLAN with aging; unknown and broadcast frames flood within
 * their VLAN; frames get tagged or untagged on egress by the port's mode; port mirroring sends
 * copies out of destination ports. LLDP runs on every cabled port, and frames to the LLDP group
 * address are consumed, never forwarded nor mirrored. Records `switch.drop` for every frame
 * dropped by VLAN filtering, on a mirror destination or towards a down port. A frame carrying a
 * traceflow mark (also inside GENEVE) is recorded as `traceflow.observe` point `physical-switch`
 * with the ports it left on, or `dropped` with the switch's reason.
 *
 * With `stp`, a rapid spanning tree runs on the ports that face other switches running one
 * (`spanning-tree.ts`): a port it blocks neither forwards nor learns. Storm control
 * (`storm-control.ts`) bounds what each port may flood. BPDUs are consumed, never forwarded.
 */
export class SwitchCore implements NodeCore {
  private readonly lldp: LldpAgent;
  private readonly macs: MacTable;
  private readonly malformed = new MalformedCounter();
  private readonly cabled: readonly string[];
  private readonly counters = new Map<string, PortCounters>();
  private readonly vlanPorts = new Map<string, VlanPort>();
  private readonly mirror: PortMirror;
  private readonly drops = new Map<SwitchDropReason, number>();
  private readonly stp: SpanningTree | null;
  private readonly storm: StormControl;
  /** BPDUs received by a switch that runs no spanning tree (consumed, as every bridge does). */
  private bpdusIgnored = 0;

  constructor(private readonly node: SwitchNode, topology: ResolvedTopology) {
    const cabled = new Set<string>();
    for (const w of topology.wires) {
      if (w.a.node === node.id) cabled.add(w.a.port);
      if (w.b.node === node.id) cabled.add(w.b.port);
    }
    this.cabled = node.ports.map((p) => p.name).filter((p) => cabled.has(p));
    for (const p of this.cabled) this.counters.set(p, { rxFrames: 0, txFrames: 0, floods: 0, rxDrops: 0, filtered: 0, mirrored: 0, stpDiscarded: 0, stormDropped: 0 });
    this.storm = new StormControl(node.spec.stormControl ?? null);
    this.stp = node.spec.stp ? new SpanningTree(node.spec.stp, node.ports[0]!.mac, stpPorts(node, topology), { portBlocked: (port) => this.macs.flushPort(port), topologyChanged: (except) => this.macs.flushAllBut(except) }) : null;
    for (const p of node.ports) this.vlanPorts.set(p.name, VlanPort.fromSpec(node.spec, p.name));
    this.mirror = new PortMirror(node.spec.mirror ?? []);
    this.macs = new MacTable(node.spec.macAgingNs);
    this.lldp = new LldpAgent(
      { systemName: node.id, systemDescription: `dpulab top-of-rack switch, ${node.ports.length} ports`, capabilities: ['bridge'], chassisMac: node.ports[0]!.mac },
      node.ports.filter((p) => cabled.has(p.name)),
    );
  }

  onBoot(ctx: NodeContext): void {
    this.lldp.start(ctx);
    this.stp?.start(ctx);
  }

  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, _channel: Channel): void {
    let eth;
    try {
      eth = decodeEthernet(bytes);
      if (eth.etherType === ETHERTYPE_LLDP) {
        this.lldp.receive(ctx, port, bytes);
        return;
      }
      if (isBpduFrame(bytes)) {
        if (this.stp?.receive(ctx, port, bytes) !== true) this.bpdusIgnored++;
        return;
      }
    } catch (error) {
      this.malformed.record(ctx, port, error);
      return;
    }
    const counters = this.counters.get(port);
    if (counters) counters.rxFrames++;
    // Mirrors copy what the port received, before any filtering, as a SPAN session does.
    for (const destination of this.mirror.rxCopies(port)) this.sendCopy(ctx, destination, bytes);

    const trace = traceOf(bytes);
    const ingress = this.vlanPort(port);
    const taggedVid = eth.vlan?.vid ?? null;
    if (this.mirror.isDestination(port)) {
      this.drop(ctx, port, 'mirror-destination', taggedVid ?? ingress.untaggedVlan, bytes.length, trace);
      return;
    }
    const verdict = ingress.classify(taggedVid);
    if (verdict.drop !== undefined) {
      this.drop(ctx, port, verdict.drop, taggedVid ?? ingress.untaggedVlan, bytes.length, trace);
      return;
    }
    const vlan = verdict.vlan;
    if (this.stp !== null && !this.stp.forwards(port)) {
      // A blocked port is how the tree breaks a loop: it neither forwards nor learns, silently.
      if (counters) counters.stpDiscarded++;
      if (trace) this.observeBlocked(ctx, trace, port, vlan);
      return;
    }
    const out = isMulticastMac(eth.dst) ? undefined : this.macs.lookup(vlan, eth.dst);
    if (out === undefined && !this.storm.admit(ctx, port)) {
      // Dropped before learning: the frames of a storm must not move MACs back and forth.
      if (counters) counters.stormDropped++;
      if (trace) this.drop(ctx, port, 'storm-control', vlan, bytes.length, trace);
      return;
    }
    if (!isMulticastMac(eth.src)) this.macs.learn(ctx, vlan, eth.src, port);
    const frame = new EgressFrame(bytes, eth);
    if (out !== undefined) {
      if (out === port) {
        if (counters) counters.filtered++;
        if (trace) this.observeFiltered(ctx, trace, port, vlan);
      } else if (!this.transmit(ctx, out, vlan, frame)) {
        this.drop(ctx, out, 'link-down', vlan, bytes.length, trace);
      } else if (trace) {
        this.observe(ctx, trace, port, [out], vlan, false);
      }
      return;
    }
    const flooded: string[] = [];
    for (const p of this.cabled) {
      if (p === port || this.mirror.isDestination(p) || !this.vlanPort(p).carries(vlan) || (this.stp !== null && !this.stp.forwards(p))) continue;
      if (this.transmit(ctx, p, vlan, frame)) {
        this.counters.get(p)!.floods++;
        flooded.push(p);
      }
    }
    if (trace) this.observe(ctx, trace, port, flooded, vlan, true);
  }

  /** A traceflow copy received on a port the spanning tree blocks: it goes no further. */
  private observeBlocked(ctx: NodeContext, trace: TracedFrame, port: string, vlan: number): void {
    observeTrace(ctx, trace.id, 'dropped', `not forwarded by physical switch ${this.node.id}: port ${port} is blocked by the spanning tree, vlan ${vlan}`, {
      where: 'physical-switch',
      reason: 'stp-discarding',
      rule: null,
      port,
      vlan,
    });
  }

  /** A traceflow copy that goes no further: its destination was learned on the port it came in on (not a drop for the switch). */
  private observeFiltered(ctx: NodeContext, trace: TracedFrame, port: string, vlan: number): void {
    observeTrace(ctx, trace.id, 'dropped', `not forwarded by physical switch ${this.node.id}: destination learned on ingress port ${port}, vlan ${vlan}`, {
      where: 'physical-switch',
      reason: 'filtered',
      rule: null,
      port,
      vlan,
    });
  }

  /** Records that a traceflow frame went through: in on `inPort`, out on `outPorts` (learned, or flooded). */
  private observe(ctx: NodeContext, trace: TracedFrame, inPort: string, outPorts: string[], vlan: number, flooded: boolean): void {
    const tunnel = trace.tunnel;
    const what = tunnel ? `GENEVE vni ${tunnel.vni} ${tunnel.srcTep} > ${tunnel.dstTep}` : `${trace.srcIp} > ${trace.dstIp}`;
    const out = outPorts.length > 0 ? outPorts.join(', ') : 'no port';
    observeTrace(ctx, trace.id, 'physical-switch', `${flooded ? 'flooded' : 'forwarded'} ${what} from ${inPort} to ${out}, vlan ${vlan}`, {
      inPort,
      outPorts,
      vlan,
      flooded,
      vni: tunnel?.vni ?? null,
      srcTep: tunnel?.srcTep ?? null,
      dstTep: tunnel?.dstTep ?? null,
    });
  }

  private vlanPort(port: string): VlanPort {
    let vp = this.vlanPorts.get(port);
    if (!vp) {
      vp = VlanPort.fromSpec(this.node.spec, port);
      this.vlanPorts.set(port, vp);
    }
    return vp;
  }

  /** Sends a frame of `vlan` out of `port`, tagged or not as the port says; false if the link is down. */
  private transmit(ctx: NodeContext, port: string, vlan: number, frame: EgressFrame): boolean {
    if (!ctx.linkUp(port)) return false;
    const vp = this.vlanPort(port);
    const bytes = vp.tagsOnEgress(vlan) ? frame.tagged(vlan) : frame.untagged();
    ctx.send(port, bytes);
    const counters = this.counters.get(port);
    if (counters) counters.txFrames++;
    for (const destination of this.mirror.txCopies(port)) this.sendCopy(ctx, destination, bytes);
    return true;
  }

  /** Sends a mirror copy, unmodified, if the destination port is cabled and up. */
  private sendCopy(ctx: NodeContext, destination: string, bytes: Uint8Array): void {
    const counters = this.counters.get(destination);
    if (!counters || !ctx.linkUp(destination)) return;
    ctx.send(destination, bytes);
    counters.txFrames++;
    counters.mirrored++;
  }

  /** Counts and records a dropped frame: `port` is where it was dropped (the egress port for `link-down`). */
  private drop(ctx: NodeContext, port: string, reason: SwitchDropReason, vlan: number, len: number, trace: TracedFrame | null): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    const counters = this.counters.get(port);
    if (counters && reason !== 'link-down') counters.rxDrops++;
    ctx.emit('switch.drop', { port, reason, vlan, len });
    if (trace) {
      observeTrace(ctx, trace.id, 'dropped', `dropped by physical switch ${this.node.id} on ${port}: ${reason}, vlan ${vlan}`, {
        where: 'physical-switch',
        reason,
        rule: null,
        port,
        vlan,
      });
    }
  }

  onTimer(ctx: NodeContext, name: string, data: unknown): void {
    if (name === 'mac.sweep') this.macs.sweep(ctx);
    else if (name === 'stp.hello') this.stp?.onHello(ctx);
    else this.lldp.onTimer(ctx, name, data);
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    if (up) {
      this.lldp.onLinkUp(ctx, port);
    } else {
      this.macs.flushPort(port);
      this.lldp.onLinkDown(ctx, port);
    }
    this.stp?.onLink(ctx, port, up);
  }

  onAction(ctx: NodeContext, action: NodeAction): void {
    ctx.emit('node.error', { message: `Switch ${this.node.id} has no action ${action.action}`, while: 'action' });
  }

  onEnd(): void {}

  inspect(): unknown {
    return {
      kind: 'switch',
      id: this.node.id,
      ports: this.cabled.map((p) => ({ port: p, ...this.vlanPort(p).config, ...this.counters.get(p) })),
      macTable: this.macs.table(),
      mirror: this.mirror.sessions.map((s) => ({ ...s, sources: [...s.sources] })),
      drops: Object.fromEntries([...this.drops].sort(([a], [b]) => (a < b ? -1 : 1))),
      lldp: this.lldp.table(),
      malformed: this.malformed.counts(),
      stp: this.stp?.inspect() ?? null,
      stormControl: this.storm.inspect(),
      bpdusIgnored: this.bpdusIgnored,
    };
  }
}

/**
 * The ports of a switch that run its spanning tree: those cabled to another switch that runs one
 * too. Ports to DPUs and hosts (and to switches without a tree) are edge ports: always forwarding.
 */
function stpPorts(node: SwitchNode, topology: ResolvedTopology): StpPortSetup[] {
  const stpSwitches = new Set(topology.nodes.filter((n) => n.kind === 'switch' && n.spec.stp).map((n) => n.id));
  const out: StpPortSetup[] = [];
  node.ports.forEach((p, i) => {
    const wire = topology.wires.find((w) => (w.a.node === node.id && w.a.port === p.name) || (w.b.node === node.id && w.b.port === p.name));
    if (!wire) return;
    const peer = wire.a.node === node.id && wire.a.port === p.name ? wire.b.node : wire.a.node;
    if (!stpSwitches.has(peer)) return;
    out.push({ name: p.name, wire: wire.id, number: i + 1, mac: p.mac, pathCost: pathCostOf(wire.bandwidthBps) });
  });
  return out;
}
