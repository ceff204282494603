import type { HostNode, ResolvedTopology } from '../../shared/topology/types.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import { hostRelay, mgmtRelayTable, type MgmtRelayTable } from '../pcie/mgmt-network.js';
import { DpuHaManager, type FailoverDecision } from './ha/failover.js';
import { parseHaHeartbeat } from '../pcie/ha-heartbeat.js';
import { MalformedCounter } from '../common/malformed.js';
import { buildVmotionFrame, parseVmotionFrame } from '../vds/vmotion-net.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { HeartbeatAgent } from './heartbeat-agent.js';
import { HostDatapath } from './host-datapath.js';
import { VmotionAgent, VMOTION_TIMER_PREFIX, type DpuVnicReply } from './vmotion/agent.js';
import { decodeVmotionDatagram, encodeVmotionDatagram } from './vmotion/messages.js';
import { PRECOPY_DEFAULTS } from './vmotion/precopy.js';

/** The guest page size vMotion moves: a batch of N pages stands for N times this on the wire. */
const PAGE_BYTES = PRECOPY_DEFAULTS.pageBytes;
import { HostManagerLink } from './manager-link.js';
import { NODE_MGMT_PORT } from '../mgmt/addresses.js';
import { VmotionError } from './vmotion/errors.js';
import { encodeMailbox } from '../pcie/messages.js';
import { buildRarpAnnouncement } from '../vds/switching/rarp.js';

/**
 * The x86 hypervisor host: its VMs (guest stacks, guest vmxnet3 drivers), the vmkernel's vNIC
 * backends and, on a host without DPUs, the software switch; and the DPU heartbeat agent.
 */
export class HostCore implements NodeCore {
  private readonly heartbeats: HeartbeatAgent;
  private readonly malformed = new MalformedCounter();
  private readonly datapath: HostDatapath;
  private readonly ha: DpuHaManager;
  private readonly relay: MgmtRelayTable;
  /**
   * Called for every vMotion datagram addressed to this host's vMotion vmknic that its DPU hands
   * up on `mgmt` (`vds/vmotion-net.ts`); null drops them.
   */
  vmotionHandler: ((ctx: NodeContext, fromHost: string, payload: Uint8Array) => void) | null = null;
  private readonly vmotion: VmotionAgent;
  /** The management cable's agent; null in a topology without a manager. */
  private readonly manager: HostManagerLink | null;

  constructor(
    private readonly node: HostNode,
    private readonly topology: ResolvedTopology,
  ) {
    this.ha = new DpuHaManager(node.spec, { failback: node.spec.failover.failback });
    this.relay = mgmtRelayTable(topology, node.id);
    this.heartbeats = new HeartbeatAgent(node, topology, {
      roleOf: (dpu) => this.ha.roleOf(dpu),
      onState: (ctx, dpu, state) => {
        // A DPU back in service hears first which vNICs the host has now, whatever it booted with.
        if (state === 'MANAGED') this.sendInventory(ctx, dpu);
        this.apply(ctx, this.ha.onDpuState(ctx, dpu, state));
      },
    });
    this.datapath = new HostDatapath(node, topology);
    this.manager =
      node.spec.manager === null
        ? null
        : new HostManagerLink(
            node,
            topology,
            {
              dpus: () => ({ active: this.ha.active, standby: this.ha.standby }),
              vms: () => this.datapath.vmIds(),
              parked: () => this.datapath.parkedVms(),
              powerOn: (ctx, vms) => this.powerOn(ctx, vms),
              migrations: () => this.vmotion.facts(),
              onDecision: (ctx, mid, decision, reason) => this.vmotion.onDecision(ctx, mid, decision, reason),
            },
            this.malformed,
            this.datapath.softControlPlane(),
          );
    this.vmotion = this.vmotionAgent(topology);
  }

  /** The vMotion agent, wired to this host's datapath, DPUs and vMotion network. */
  private vmotionAgent(topology: ResolvedTopology): VmotionAgent {
    const agent = new VmotionAgent({
      node: this.node,
      topology,
      datapath: this.datapath,
      manager: this.manager,
      send: (ctx, to, datagram) => this.sendVmotion(ctx, to, encodeVmotionDatagram(datagram), datagram.body?.t === 'pages' ? datagram.body.pages * PAGE_BYTES : 0),
      dpus: () => {
        const active = this.ha.active;
        return { active, others: this.node.spec.dpus.filter((d) => d !== active) };
      },
      release: (ctx, dpu, vnic, exportState, note) => void ctx.send(dpu, encodeMailbox({ op: 'vnic.release', vnic, export: exportState, ...(note ? { note } : {}) }), 'mailbox'),
      adopt: (ctx, dpu, vm, vnic, dfw, note) => {
        const spec = vm.vnics.find((v) => v.id === vnic)!;
        const placement = { id: spec.id, vm: vm.id, mac: spec.mac, segment: spec.segment, ipv4: spec.ipv4, ipv6: spec.ipv6, mode: spec.mode };
        ctx.send(dpu, encodeMailbox({ op: 'vnic.adopt', vnic, placement, export: (dfw ?? null) as never, ...(note ? { note } : {}) }), 'mailbox');
      },
      rarp: (mac) => buildRarpAnnouncement(mac),
      vmsChanged: (ctx) => this.ha.setVnics(ctx, this.datapath.vmIds().flatMap((vm) => this.datapath.vnicsOf(vm).map((v) => v.id))),
    });
    this.vmotionHandler = (ctx, fromHost, payload) => {
      try {
        agent.onDatagram(ctx, fromHost, decodeVmotionDatagram(payload));
      } catch (error) {
        if (!(error instanceof VmotionError)) throw error;
        agent.countMalformed();
        ctx.emit('frame.malformed', { port: this.ha.active ?? '', code: error.code, offset: 0, message: `from ${fromHost}: ${error.message}` });
      }
    };
    this.datapath.onVnicMessage = (ctx, vm) => agent.onVnicMessage(ctx, vm);
    this.datapath.arrivingVm = (vnic) => agent.arrivingVmOf(vnic);
    this.datapath.onDpuVnicReply = (ctx, dpu, reply: DpuVnicReply) => agent.onDpuReply(ctx, dpu, reply);
    this.datapath.onTakeoverReport = (ctx, dpu, report) => {
      // Acknowledged whether or not a failover waits for it, so the DPU stops sending it.
      ctx.send(dpu, encodeMailbox({ op: 'dpu.takeover.ack', seq: report.seq }), 'mailbox');
      this.ha.onTakeover(ctx, dpu, report);
    };
    return agent;
  }

  /**
   * Sends a vMotion datagram (at most `VMOTION_MAX_PAYLOAD` bytes) to another host's vMotion
   * vmknic: out of the `mgmt` channel of the pcie port of the DPU serving this host now, which
   * tunnels it to the destination host's DPU. False when no DPU serves the host (none, or every
   * one failed) or its wire is down. A host without DPUs cannot send: its software switch does not
   * carry the vMotion network. `elided`: the bytes of page contents the datagram stands for, which
   * every wire on the way charges but no frame carries (`shared/net/elided.ts`).
   */
  sendVmotion(ctx: NodeContext, toHost: string, payload: Uint8Array, elided = 0): boolean {
    const dpu = this.ha.active;
    if (dpu === null || this.ha.vnicsDisconnected) return false;
    return ctx.send(dpu, buildVmotionFrame(this.topology, this.node.id, toHost, payload, elided), 'mgmt');
  }

  /**
   * Carries out what the HA manager decided: move the vNICs to the DPU taking over. The new active
   * hears the host's vNICs first (the host is their source of truth, not the HA replica, which may
   * lack one adopted less than a sync flush ago), then its role, then the vNICs' requests for VFs,
   * in that order on its pcie wire.
   */
  private apply(ctx: NodeContext, decision: FailoverDecision): void {
    if (decision.kind !== 'failover' && decision.kind !== 'rebuild') return;
    this.sendInventory(ctx, decision.plan.to);
    this.heartbeats.probe(ctx, decision.plan.to);
    this.datapath.failover(ctx, decision.plan, this.ha);
    this.vmotion.onFailover(ctx, decision.plan.to);
    // Every DPU of the cluster must learn this host's new tunnel endpoint: the manager tells them.
    if (decision.kind === 'failover') this.manager?.failedOver(ctx, decision.plan.to, this.ha.standby, decision.plan.reason);
  }

  /**
   * Tells a DPU every vNIC this host has now (`vnic.inventory`): the vNICs of the VMs it runs, but a
   * stunned VM's whose state has left for another host (its DPU released them).
   */
  private sendInventory(ctx: NodeContext, dpu: string): void {
    const released = new Set(this.vmotion.releasedVms());
    const vnics = this.datapath.vmIds().filter((id) => !released.has(id)).flatMap((id) => {
      const vm = this.datapath.vm(id)!;
      return vm.vnics.map((v) => ({ id: v.id, vm: vm.id, mac: v.mac, segment: v.segment, ipv4: v.ipv4, ipv6: v.ipv6, mode: v.mode }));
    });
    ctx.send(dpu, encodeMailbox({ op: 'vnic.inventory', vnics }), 'mailbox');
  }

  onBoot(ctx: NodeContext): void {
    this.heartbeats.start(ctx);
    // A host that restarts keeps its VMs off until the manager says which are still its own.
    this.datapath.boot(ctx, ctx.now() > 0 && this.manager !== null);
    this.manager?.boot(ctx);
  }

  /** The manager answered a restarted host: power on its VMs, let go those that run elsewhere. */
  private powerOn(ctx: NodeContext, vms: readonly string[]): void {
    const parked = this.datapath.parkedVms();
    const on = this.datapath.powerOn(ctx, vms, this.ha.active);
    ctx.emit('host.vms.powered', { host: this.node.id, on, elsewhere: parked.filter((vm) => !on.includes(vm)), manager: this.manager?.id ?? null });
    this.ha.setVnics(ctx, this.datapath.vmIds().flatMap((vm) => this.datapath.vnicsOf(vm).map((v) => v.id)));
    for (const dpu of this.node.spec.dpus) this.sendInventory(ctx, dpu);
  }

  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, channel: Channel): void {
    if (port === NODE_MGMT_PORT && this.manager !== null) {
      this.manager.onFrame(ctx, port, bytes);
      return;
    }
    switch (channel) {
      case 'mgmt':
        try {
          // The host bridges its DPUs' private network: HA sync between them passes through.
          const route = hostRelay(this.relay, port, bytes);
          if (route.action === 'forward') {
            ctx.send(route.port, bytes, 'mgmt');
            return;
          }
          if (route.action === 'drop') {
            ctx.emit('frame.drop', { port, reason: route.reason, len: bytes.length });
            return;
          }
          const vmotion = parseVmotionFrame(this.topology, bytes);
          if (vmotion !== null) {
            this.vmotionHandler?.(ctx, vmotion.from, vmotion.payload);
            return;
          }
          const beat = parseHaHeartbeat(bytes);
          if (!beat) return;
          // A DPU coming back must be MANAGED before its flags are read.
          if (beat.type === 'reply') this.heartbeats.onReply(ctx, port, beat);
          this.apply(ctx, this.ha.onHeartbeat(ctx, port, beat));
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
    if (name.startsWith(VMOTION_TIMER_PREFIX)) {
      this.vmotion.onTimer(ctx, name, data);
      return;
    }
    if (this.manager?.onTimer(ctx, name, data)) return;
    if (!this.heartbeats.onTimer(ctx, name, data)) this.datapath.onTimer(ctx, name, data);
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    if (port === NODE_MGMT_PORT) return;
    // The host names its pcie ports after its DPUs: a link lost there is a PCIe surprise-down.
    if (!up) this.heartbeats.onLinkDown(ctx, port);
    this.datapath.onLink(ctx, port, up);
  }

  onAction(ctx: NodeContext, action: NodeAction): void {
    if (action.action === 'dpu.failover') {
      this.apply(ctx, this.ha.failover(ctx, 'userInitiated'));
      return;
    }
    if (action.action === 'vmotion') {
      this.vmotion.onAction(ctx, action.args);
      return;
    }
    if (!this.datapath.onAction(ctx, action)) ctx.emit('node.error', { message: `Host ${this.node.id} cannot do ${action.action}`, while: 'action' });
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
      ha: this.ha.inspect(),
      vmotion: this.vmotion.inspect(),
      manager: this.manager?.inspect() ?? null,
    };
  }
}
