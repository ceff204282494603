import type { DpuNode, ResolvedTopology } from '../../shared/topology/types.js';
import type { DfwRuleOutput } from '../../shared/scenario/dfw-rule.js';
import { CostMeter, emitCostReport, type CostMode } from '../common/cost/cost-meter.js';
import type { CostStep } from '../common/cost/parameters.js';
import { allVnics, endpointResolver, type PlacedVnic } from '../common/endpoints.js';
import type { Channel, NodeContext } from '../runtime/types.js';
import { DistributedFirewall } from './dfw/index.js';
import { OVERLAY_TIMER_PREFIX, OverlaySwitch, tepOf, type SwitchAction } from './switching/index.js';
import { buildRarpAnnouncement } from './switching/rarp.js';
import { VfEndpoint } from './vf-endpoint/vf-endpoint.js';
import { captureState, type HaStateView } from './ha/change-tracker.js';
import { commitReplica, type SyncReplica } from './ha/replica.js';
import type { HaDatapathHooks, PromoteReason } from './ha/dpu-ha-agent.js';
import { tryDecodeFrame } from '../../shared/net/frame.js';
import { FlowCache, type FlowKey } from './ipfix/flow-cache.js';
import { IpfixExporter, ipfixEndpoints } from './ipfix/exporter.js';
import { IpfixAgent } from './ipfix/ipfix-agent.js';
import { observeFirewall, SwitchTraceWatcher, type SwitchTraceCall, type TracedFrame } from '../common/traceflow.js';

const DFW_SWEEP_TIMER = 'dfw.sweep';

/**
 * The DPU's datapath: the VFs and vNIC ports towards the host, the distributed firewall on every
 * vNIC, the offloaded switch with its tunnel endpoint and uplinks, and the Arm cost of each step.
 *
 * A frame from a vNIC is filtered `out` before switching; a frame switched towards a vNIC is
 * filtered `in` before it is written into the guest. A reject's answer goes back the way the
 * offending frame came. Only the active DPU of a host serves its vNICs; a standby runs its
 * switch with none until it takes over.
 *
 * Traceflow packets (see `common/traceflow.ts`) are handled like any frame and charged like any
 * frame; on the way, the firewall verdicts and the switch's decisions about them are recorded
 * as `traceflow.observe` events.
 */
export class DpuDatapath implements HaDatapathHooks {
  readonly switch: OverlaySwitch;
  readonly firewall: DistributedFirewall;
  readonly vnicPorts: VfEndpoint;
  readonly cost = new CostMeter({ core: 'arm' });
  /** The vNICs this DPU serves now: its host's while it is active, none while standby. */
  private local: readonly PlacedVnic[] = [];
  /** Every vNIC of the host, served by whichever of its DPUs is active. */
  private readonly hostVnics: readonly PlacedVnic[];
  private readonly ownTep: string;
  /** IPFIX flow records of what the vNICs send, exported to the host's collector. */
  private readonly ipfix: IpfixAgent | null;
  private sweepArmed: number | null = null;
  /** Records traceflow observation points from the switch's decisions. */
  private readonly traces: SwitchTraceWatcher;

  constructor(
    private readonly node: DpuNode,
    topology: ResolvedTopology,
  ) {
    // The HA agent decides the role (promote/demote); until then the DPU serves no vNIC.
    this.hostVnics = allVnics(topology).filter((v) => v.host === node.spec.host);
    const tep = tepOf(topology, node.id);
    this.ownTep = tep.ip;
    this.switch = new OverlaySwitch({ owner: node.id, topology, tep, uplinks: node.spec.uplinks, vnics: [] });
    this.firewall = new DistributedFirewall({ node: node.id, resolve: endpointResolver(topology) });
    this.vnicPorts = new VfEndpoint({ vnics: [] });
    const collector = ipfixEndpoints(topology, node.id);
    const domainId = 1 + topology.nodes.filter((n) => n.kind === 'dpu').findIndex((n) => n.id === node.id);
    this.ipfix = collector ? new IpfixAgent(new FlowCache(), new IpfixExporter({ domainId, ...collector }), 'pcie') : null;
    this.traces = new SwitchTraceWatcher(() => this.switch.inspect().arpPending);
  }

  boot(ctx: NodeContext): void {
    this.apply(ctx, this.switch.boot(ctx));
  }

  /** HA: the state the standby replicates (connection entries, rule generation, learned MACs). */
  capture(now: number): HaStateView {
    return captureState(this.firewall, this.switch, this.local.map((v) => v.id), now);
  }

  /**
   * HA: this DPU becomes active and serves the host's vNICs. On a takeover it commits the
   * replicated connection entries first, so established sessions keep their verdicts, then moves
   * the host's VMs behind its own tunnel endpoint and announces them.
   */
  promote(ctx: NodeContext, replica: SyncReplica, reason: PromoteReason): void {
    if (reason === 'takeover') commitReplica(ctx, replica, this.firewall, this.hostVnics.map((v) => v.id));
    for (const v of this.hostVnics) {
      if (!this.firewall.attached(v.id)) this.firewall.attach({ vnic: v.id, vm: v.vm, mac: v.mac, ipv4: v.ipv4.split('/')[0]!, ipv6: v.ipv6?.split('/')[0] ?? null });
      this.switch.addVnic(v);
      this.vnicPorts.admit(v.id, v.mode === 'uptv2' ? 'emulated' : v.mode);
    }
    this.local = this.hostVnics;
    if (reason === 'takeover') {
      this.switch.controlPlane.updateHostTep(this.node.spec.host, this.ownTep);
      const uplink = this.switch.activeUplink;
      for (const v of this.hostVnics) {
        // Remote tunnel endpoints relearn the VM behind ours...
        this.apply(ctx, this.switch.announce(ctx, v.mac, v.segment));
        // ...and the physical switches learn its MAC on our uplink ("notify switches").
        if (uplink !== null) ctx.send(uplink, buildRarpAnnouncement(v.mac));
      }
    }
  }

  /** HA: this DPU becomes standby and lets go of the host's vNICs. */
  demote(ctx: NodeContext): void {
    for (const v of this.local) {
      this.vnicPorts.evict(ctx, v.id);
      this.switch.removeVnic(v.id);
      this.firewall.detach(v.id);
    }
    this.local = [];
  }

  /** True when no uplink carries traffic (all down): the DPU reports it to its host. */
  allUplinksDown(): boolean {
    return this.switch.activeUplink === null;
  }

  /** A message from the host on a device channel: frames its vNICs sent. */
  fromHost(ctx: NodeContext, channel: Channel, bytes: Uint8Array): void {
    const result = this.vnicPorts.onPcie(ctx, channel, bytes);
    for (const { vnic, frame, mode } of result.framesFromVnic) {
      if (mode === 'uptv2') this.charge('vf-dma', mode, frame.length);
      this.egress(ctx, vnic, frame);
    }
  }

  /** A frame on an uplink. */
  fromUplink(ctx: NodeContext, port: string, frame: Uint8Array): void {
    const call = this.traces.begin('uplink', frame);
    this.apply(ctx, this.switch.fromUplink(ctx, port, frame), call);
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    this.apply(ctx, this.switch.onLink(ctx, port, up));
  }

  /** Handles the datapath's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (name.startsWith(OVERLAY_TIMER_PREFIX)) {
      this.apply(ctx, this.switch.onTimer(ctx, name, data));
      return true;
    }
    if (this.ipfix?.onTimer(ctx, name)) return true;
    if (name === DFW_SWEEP_TIMER) {
      this.sweepArmed = null;
      this.firewall.sweep(ctx);
      this.armSweep(ctx);
      return true;
    }
    return false;
  }

  /** Management-plane pushes. Returns false for an action that is not the datapath's. */
  onAction(ctx: NodeContext, action: string, args: Readonly<Record<string, unknown>>): boolean {
    if (action === 'dfw.rule.add') {
      this.firewall.addRule(ctx, args.rule as DfwRuleOutput);
      return true;
    }
    if (action === 'dfw.rule.remove') {
      this.firewall.removeRule(ctx, String(args.rule));
      return true;
    }
    return false;
  }

  /** Records the Arm cost of the run so far (at the end of the run). */
  report(ctx: NodeContext): void {
    this.ipfix?.finish(ctx);
    emitCostReport(ctx, this.cost, { nodeKind: 'dpu', coresAvailable: this.node.spec.armCores });
  }

  inspect(): unknown {
    return {
      switch: this.switch.inspect(),
      firewall: this.firewall.inspect(),
      vnicPorts: this.vnicPorts.inspect(),
      traceflowWaitingForArp: this.traces.inspect(),
      cost: this.cost.report(1),
    };
  }

  private egress(ctx: NodeContext, vnic: string, frame: Uint8Array): void {
    const call = this.traces.begin('vnic', frame);
    const verdict = this.firewall.filter(ctx, vnic, 'out', frame);
    this.charge(verdict.established ? 'dfw-conntrack' : 'dfw-lookup', this.modeOf(vnic), frame.length);
    this.armSweep(ctx);
    if (call.trace) observeFirewall(ctx, call.trace, vnic, 'out', verdict);
    // A reject is answered to the VM that sent the offending frame.
    if (verdict.reply) this.vnicPorts.toVnic(ctx, vnic, verdict.reply);
    if (verdict.action !== 'allow') return;
    this.observeFlow(ctx, vnic, frame);
    this.apply(ctx, this.switch.fromVnic(ctx, vnic, frame), call);
  }

  /** Counts an IP packet a vNIC sent into its IPFIX flow (ingress interface: the vNIC's index + 1). */
  private observeFlow(ctx: NodeContext, vnic: string, frame: Uint8Array): void {
    if (!this.ipfix) return;
    const decoded = tryDecodeFrame(frame, { verifyChecksums: false });
    if (!decoded.ok) return;
    const f = decoded.frame;
    const ip = f.ipv4 ?? f.ipv6;
    if (!ip) return;
    const ports = f.tcp ?? f.udp;
    const key: FlowKey = {
      srcIp: ip.src,
      dstIp: ip.dst,
      protocol: f.ipv4 ? f.ipv4.protocol : f.tcp ? 6 : f.udp ? 17 : f.icmpv6 ? 58 : 0,
      srcPort: ports?.srcPort ?? 0,
      dstPort: ports?.dstPort ?? 0,
    };
    const ingress = 1 + this.local.findIndex((v) => v.id === vnic);
    this.ipfix.observe(ctx, key, f.length - f.ethernet.headerLength, { ingress, egress: 0 });
  }

  private ingress(ctx: NodeContext, vnic: string, frame: Uint8Array, trace: TracedFrame | null): void {
    const verdict = this.firewall.filter(ctx, vnic, 'in', frame);
    this.charge(verdict.established ? 'dfw-conntrack' : 'dfw-lookup', this.modeOf(vnic), frame.length);
    this.armSweep(ctx);
    if (trace) observeFirewall(ctx, trace, vnic, 'in', verdict);
    // A reject is answered to the sender, as if from the protected VM: switched, not filtered again.
    if (verdict.reply) this.apply(ctx, this.switch.fromVnic(ctx, vnic, verdict.reply));
    if (verdict.action !== 'allow') return;
    this.vnicPorts.toVnic(ctx, vnic, frame);
  }

  /** Performs a switch call's actions; `call` follows traceflow frames through them. */
  private apply(ctx: NodeContext, actions: readonly SwitchAction[], call: SwitchTraceCall = this.traces.begin('none', null)): void {
    for (const action of actions) {
      const mode: CostMode =
        action.kind === 'to-vnic' ? this.modeOf(action.vnic) : action.kind === 'to-uplink' && action.origin.kind === 'vnic' ? this.modeOf(action.origin.vnic) : 'none';
      for (const step of action.steps) this.charge(step, mode, action.kind === 'drop' ? 0 : action.frame.length);
      const trace = this.traces.see(ctx, call, action);
      if (action.kind === 'to-uplink') ctx.send(action.port, action.frame);
      else if (action.kind === 'to-vnic') this.ingress(ctx, action.vnic, action.frame, trace);
    }
    this.traces.end(ctx, call);
  }

  private modeOf(vnic: string): CostMode {
    return this.vnicPorts.modeOf(vnic) ?? 'none';
  }

  private charge(step: CostStep, mode: CostMode, bytes: number): void {
    this.cost.charge(step, mode, bytes);
  }

  /** Keeps one sweep timer at the firewall's next expiry. */
  private armSweep(ctx: NodeContext): void {
    const next = this.firewall.nextExpiry();
    if (next === null || (this.sweepArmed !== null && this.sweepArmed <= next)) return;
    this.sweepArmed = next;
    ctx.setTimer(Math.max(0, next - ctx.now()), DFW_SWEEP_TIMER);
  }
}
