import type { HostNode, ResolvedTopology } from '../../shared/topology/types.js';
import { parseHeartbeat } from '../common/heartbeat.js';
import { MalformedCounter } from '../common/malformed.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { HeartbeatAgent } from './heartbeat-agent.js';
import { HostDatapath } from './host-datapath.js';

/**
 * The x86 hypervisor host: its VMs (guest stacks, guest vmxnet3 drivers), the vmkernel's vNIC
 * backends and, on a host without DPUs, the software switch; and the DPU heartbeat agent.
 */
export class HostCore implements NodeCore {
  private readonly heartbeats: HeartbeatAgent;
  private readonly malformed = new MalformedCounter();
  private readonly datapath: HostDatapath;

  constructor(private readonly node: HostNode, topology: ResolvedTopology) {
    this.heartbeats = new HeartbeatAgent(node, topology);
    this.datapath = new HostDatapath(node, topology);
  }

  onBoot(ctx: NodeContext): void {
    this.heartbeats.start(ctx);
    this.datapath.boot(ctx);
  }

  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, channel: Channel): void {
    switch (channel) {
      case 'mgmt':
        try {
          const beat = parseHeartbeat(bytes);
          if (beat) this.heartbeats.onReply(ctx, port, beat);
        } catch (error) {
          this.malformed.record(ctx, port, error);
        }
        return;
      case 'dma':
      case 'doorbell':
      case 'mailbox':
        this.datapath.fromDpu(ctx, port, channel, bytes);
        return;
      case 'eth':
        this.datapath.fromUplink(ctx, port, bytes);
        return;
    }
  }

  onTimer(ctx: NodeContext, name: string, data: unknown): void {
    if (!this.heartbeats.onTimer(ctx, name, data)) this.datapath.onTimer(ctx, name, data);
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    this.datapath.onLink(ctx, port, up);
  }

  onAction(ctx: NodeContext, action: string, args: Readonly<Record<string, unknown>>): void {
    if (!this.datapath.onAction(ctx, action, args)) ctx.emit('node.error', { message: `Host ${this.node.id} cannot do ${action}`, while: 'action' });
  }

  onEnd(ctx: NodeContext): void {
    this.datapath.end(ctx);
  }

  inspect(): unknown {
    return {
      kind: 'host',
      id: this.node.id,
      x86Cores: this.node.spec.x86Cores,
      vms: this.node.spec.vms.map((vm) => ({ id: vm.id, vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, vnics: vm.vnics.map((v) => ({ id: v.id, mac: v.mac, mode: v.mode })) })),
      dpus: this.heartbeats.table(),
      malformed: this.malformed.counts(),
      datapath: this.datapath.inspect(),
    };
  }
}
