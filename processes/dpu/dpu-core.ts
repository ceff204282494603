import { decodeEthernet, ETHERTYPE_LLDP } from '../../shared/net/ethernet.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import type { DpuNode, ResolvedTopology } from '../../shared/topology/types.js';
import { LldpAgent } from '../common/lldp-agent.js';
import { MalformedCounter } from '../common/malformed.js';
import { parseVmotionFrame } from '../vds/vmotion-net.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { DpuDatapath } from './datapath.js';
import { DpuHaAgent } from './ha/dpu-ha-agent.js';
import { DpuManagerLink } from './manager-link.js';
import { NODE_MGMT_PORT } from '../mgmt/addresses.js';

/**
 * A DPU running ESXi on its Arm cores: uplinks to the physical switches, a pcie link to its host.
 * It runs LLDP on its uplinks, its HA agent (heartbeat answers, roles, state sync with its peer)
 * and its datapath (`datapath.ts`): the host's vNICs, the offloaded switch and firewall, and the
 * relay of the host's vMotion datagrams.
 */
export class DpuCore implements NodeCore {
  private readonly lldp: LldpAgent;
  private readonly malformed = new MalformedCounter();
  private readonly uplinks: ReadonlySet<string>;
  private readonly datapath: DpuDatapath;
  private readonly ha: DpuHaAgent;
  /** The management cable's agent; null in a topology without a manager. */
  private readonly manager: DpuManagerLink | null;

  constructor(
    private readonly node: DpuNode,
    private readonly topology: ResolvedTopology,
  ) {
    this.datapath = new DpuDatapath(node, topology, { replica: () => this.ha.replicaNow });
    this.ha = new DpuHaAgent({ topology, dpu: node.id, hooks: this.datapath });
    this.uplinks = new Set(node.spec.uplinks);
    this.manager = node.spec.manager === null ? null : new DpuManagerLink(node, topology, this.datapath.switch.controlPlane, this.malformed);
    const uplinkPorts = node.ports.filter((p) => this.uplinks.has(p.name));
    this.lldp = new LldpAgent(
      {
        systemName: node.id,
        systemDescription: `dpulab DPU ${node.spec.model}, ${node.spec.armCores} Arm cores, host ${node.spec.host}`,
        capabilities: ['bridge', 'router'],
        chassisMac: uplinkPorts[0]?.mac ?? node.ports[0]!.mac,
      },
      uplinkPorts,
    );
  }

  onBoot(ctx: NodeContext): void {
    this.lldp.start(ctx);
    this.datapath.boot(ctx);
    this.ha.boot(ctx);
    this.manager?.boot(ctx);
  }

  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, channel: Channel): void {
    if (port === NODE_MGMT_PORT && this.manager !== null) {
      this.manager.onFrame(ctx, port, bytes);
      return;
    }
    try {
      if (channel === 'mgmt') {
        // The host's vMotion datagrams go on to the destination host's DPU; the rest is
        // heartbeats from the host and HA sync from the peer DPU (relayed by the host).
        const vmotion = parseVmotionFrame(this.topology, bytes);
        if (vmotion !== null) this.datapath.vmotionFromHost(ctx, vmotion, bytes);
        else this.ha.onMgmtFrame(ctx, bytes);
        return;
      }
      if (channel === 'dma' || channel === 'doorbell' || channel === 'mailbox') {
        this.datapath.fromHost(ctx, channel, bytes);
        return;
      }
      if (!this.uplinks.has(port)) return;
      if (decodeEthernet(bytes).etherType === ETHERTYPE_LLDP) this.lldp.receive(ctx, port, bytes);
      else this.datapath.fromUplink(ctx, port, bytes);
    } catch (error) {
      this.malformed.record(ctx, port, error);
    }
  }

  onTimer(ctx: NodeContext, name: string, data: unknown): void {
    if (this.ha.onTimer(ctx, name)) return;
    if (this.manager?.onTimer(ctx, name, data)) return;
    if (!this.lldp.onTimer(ctx, name, data)) this.datapath.onTimer(ctx, name, data);
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    if (port === NODE_MGMT_PORT) return;
    if (up) this.lldp.onLinkUp(ctx, port);
    else this.lldp.onLinkDown(ctx, port);
    this.datapath.onLink(ctx, port, up);
    this.ha.onUplinks(ctx, this.datapath.allUplinksDown());
  }

  onAction(ctx: NodeContext, action: NodeAction): void {
    if (!this.datapath.onAction(ctx, action)) ctx.emit('node.error', { message: `DPU ${this.node.id} cannot do ${action.action}`, while: 'action' });
  }

  onEnd(ctx: NodeContext): void {
    this.datapath.report(ctx);
  }

  inspect(): unknown {
    return {
      kind: 'dpu',
      id: this.node.id,
      host: this.node.spec.host,
      role: this.node.spec.role,
      model: this.node.spec.model,
      armCores: this.node.spec.armCores,
      lldp: this.lldp.table(),
      malformed: this.malformed.counts(),
      datapath: this.datapath.inspect(),
      ha: this.ha.inspect(),
      manager: this.manager?.inspect() ?? null,
    };
  }
}
