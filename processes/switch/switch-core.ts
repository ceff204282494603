import { isMulticastMac } from '../../shared/net/mac.js';
import { decodeEthernet, ETHERTYPE_LLDP } from '../../shared/net/ethernet.js';
import type { ResolvedTopology, SwitchNode } from '../../shared/topology/types.js';
import { LldpAgent } from '../common/lldp-agent.js';
import { MalformedCounter } from '../common/malformed.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { MacTable } from './mac-table.js';

interface PortCounters {
  rxFrames: number;
  txFrames: number;
  floods: number;
}

/**
 * A physical top-of-rack switch: a learning bridge with MAC aging and flooding, link state, and
 * LLDP on every cabled port. Frames to the LLDP group address are consumed, never forwarded.
 */
export class SwitchCore implements NodeCore {
  private readonly lldp: LldpAgent;
  private readonly macs: MacTable;
  private readonly malformed = new MalformedCounter();
  private readonly cabled: readonly string[];
  private readonly counters = new Map<string, PortCounters>();

  constructor(private readonly node: SwitchNode, topology: ResolvedTopology) {
    const cabled = new Set<string>();
    for (const w of topology.wires) {
      if (w.a.node === node.id) cabled.add(w.a.port);
      if (w.b.node === node.id) cabled.add(w.b.port);
    }
    this.cabled = node.ports.map((p) => p.name).filter((p) => cabled.has(p));
    for (const p of this.cabled) this.counters.set(p, { rxFrames: 0, txFrames: 0, floods: 0 });
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
    const vlan = eth.vlan?.vid ?? 0;
    if (!isMulticastMac(eth.src)) this.macs.learn(ctx, vlan, eth.src, port);
    const out = isMulticastMac(eth.dst) ? undefined : this.macs.lookup(vlan, eth.dst);
    if (out !== undefined) {
      if (out !== port) this.transmit(ctx, out, bytes);
      return;
    }
    for (const p of this.cabled) {
      if (p === port) continue;
      if (this.transmit(ctx, p, bytes)) this.counters.get(p)!.floods++;
    }
  }

  private transmit(ctx: NodeContext, port: string, bytes: Uint8Array): boolean {
    if (!ctx.linkUp(port)) return false;
    ctx.send(port, bytes);
    this.counters.get(port)!.txFrames++;
    return true;
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

  onAction(ctx: NodeContext, action: string): void {
    ctx.emit('node.error', { message: `Switch ${this.node.id} has no action ${action}`, while: 'action' });
  }

  onEnd(): void {}

  inspect(): unknown {
    return {
      kind: 'switch',
      id: this.node.id,
      ports: this.cabled.map((p) => ({ port: p, ...this.counters.get(p) })),
      macTable: this.macs.table(),
      lldp: this.lldp.table(),
      malformed: this.malformed.counts(),
    };
  }
}
