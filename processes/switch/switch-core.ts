import { isMulticastMac } from '../../shared/net/mac.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import { decodeEthernet, ETHERTYPE_LLDP } from '../../shared/net/ethernet.js';
import type { ResolvedTopology, SwitchNode } from '../../shared/topology/types.js';
import { LldpAgent } from '../common/lldp-agent.js';
import { observeTrace, traceOf, type TracedFrame } from '../vds/traceflow.js';
import { MalformedCounter } from '../common/malformed.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { EgressFrame } from './egress-frame.js';
import { MacTable } from './mac-table.js';
import { PortMirror } from './port-mirror.js';
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

  constructor(private readonly node: SwitchNode, topology: ResolvedTopology) {
    const cabled = new Set<string>();
    for (const w of topology.wires) {
      if (w.a.node === node.id) cabled.add(w.a.port);
      if (w.b.node === node.id) cabled.add(w.b.port);
    }
    this.cabled = node.ports.map((p) => p.name).filter((p) => cabled.has(p));
    for (const p of this.cabled) this.counters.set(p, { rxFrames: 0, txFrames: 0, floods: 0, rxDrops: 0, filtered: 0, mirrored: 0 });
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
  }

  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, _channel: Channel): void {
    let eth;
    try {
      eth = decodeEthernet(bytes);
      if (eth.etherType === ETHERTYPE_LLDP) {
        this.lldp.receive(ctx, port, bytes);
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
    if (!isMulticastMac(eth.src)) this.macs.learn(ctx, vlan, eth.src, port);
    const frame = new EgressFrame(bytes, eth);
    const out = isMulticastMac(eth.dst) ? undefined : this.macs.lookup(vlan, eth.dst);
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
      if (p === port || this.mirror.isDestination(p) || !this.vlanPort(p).carries(vlan)) continue;
      if (this.transmit(ctx, p, vlan, frame)) {
        this.counters.get(p)!.floods++;
        flooded.push(p);
      }
    }
    if (trace) this.observe(ctx, trace, port, flooded, vlan, true);
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
    else this.lldp.onTimer(ctx, name, data);
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    if (up) {
      this.lldp.onLinkUp(ctx, port);
    } else {
      this.macs.flushPort(port);
      this.lldp.onLinkDown(ctx, port);
    }
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
    };
  }
}
