import type { HostNode, ResolvedTopology } from '../../shared/topology/types.js';
import { parseHeartbeat } from '../common/heartbeat.js';
import { MalformedCounter } from '../common/malformed.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { HeartbeatAgent } from './heartbeat-agent.js';

/**
 * The x86 hypervisor host: its VMs and the vmkernel services that talk to its DPUs. For now it
 * runs the DPU heartbeat agent; the VMs, their vNICs and the vMotion agent grow here.
 */
export class HostCore implements NodeCore {
  private readonly heartbeats: HeartbeatAgent;
  private readonly malformed = new MalformedCounter();

  constructor(private readonly node: HostNode, topology: ResolvedTopology) {
    this.heartbeats = new HeartbeatAgent(node, topology);
  }

  onBoot(ctx: NodeContext): void {
    this.heartbeats.start(ctx);
  }

  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, channel: Channel): void {
    if (channel !== 'mgmt') return;
    try {
      const beat = parseHeartbeat(bytes);
      if (beat) this.heartbeats.onReply(ctx, port, beat);
    } catch (error) {
      this.malformed.record(ctx, port, error);
    }
  }

  onTimer(ctx: NodeContext, name: string, data: unknown): void {
    this.heartbeats.onTimer(ctx, name, data);
  }

  onLink(): void {}

  onAction(ctx: NodeContext, action: string): void {
    ctx.emit('node.error', { message: `Host ${this.node.id} has no action ${action}`, while: 'action' });
  }

  onEnd(): void {}

  inspect(): unknown {
    return {
      kind: 'host',
      id: this.node.id,
      x86Cores: this.node.spec.x86Cores,
      vms: this.node.spec.vms.map((vm) => ({ id: vm.id, vcpus: vm.vcpus, memoryMiB: vm.memoryMiB, vnics: vm.vnics.map((v) => ({ id: v.id, mac: v.mac, mode: v.mode })) })),
      dpus: this.heartbeats.table(),
      malformed: this.malformed.counts(),
    };
  }
}
