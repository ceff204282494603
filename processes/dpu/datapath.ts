import type { DpuNode, ResolvedTopology } from '../../shared/topology/types.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import { FrameError } from '../../shared/net/errors.js';
import { CostMeter, emitCostReport, type CostMode } from '../common/cost/cost-meter.js';
import type { CostStep } from '../common/cost/parameters.js';
import { takeoverWorkNs, TAKEOVER_STEPS } from '../common/cost/takeover.js';
import { allVnics, endpointResolver, type PlacedVnic } from '../vds/endpoints.js';
import { encodeMailbox, type DpuTakeoverReport, type MailboxMessage, type VnicMoveRequest, type VnicPlacement, type VnicRefusal } from '../pcie/messages.js';
import { parseVmotionFrame, VMOTION_VNI, type VmotionDatagram } from '../vds/vmotion-net.js';
import type { Channel, NodeContext } from '../runtime/types.js';
import { DfwImportError, DistributedFirewall, parseDfwExport, type DfwExport } from '../vds/dfw/index.js';
import type { VnicIdentity } from '../vds/dfw/rule.js';
import { OVERLAY_TIMER_PREFIX, OverlaySwitch, STANDBY_FOR_TEP, tepOf, type SwitchAction, type TunnelledFrame } from '../vds/switching/index.js';
import { buildRarpAnnouncement, ETHERTYPE_RARP } from '../vds/switching/rarp.js';
import { VfEndpoint } from './vf-endpoint/vf-endpoint.js';
import { announceGapNs, DEFAULT_ANNOUNCE_SCHEDULE } from './announce.js';
import { FlowOffload, offloadKey } from './offload.js';
import { normalizeMac } from '../../shared/net/mac.js';
import { captureState, type HaStateView } from './ha/change-tracker.js';
import { commitReplica, installReplicatedRules, type SyncReplica } from './ha/replica.js';
import type { HaDatapathHooks, PromoteReason } from './ha/dpu-ha-agent.js';
import { tryDecodeFrame } from '../../shared/net/frame.js';
import { IPV6_HEADER_LENGTH } from '../../shared/net/ipv6.js';
import { FlowCache, type FlowKey, type FlowVerdict } from './ipfix/flow-cache.js';
import { IpfixInterfaces } from './ipfix/interfaces.js';
import { IpfixExporter, ipfixEndpoints } from './ipfix/exporter.js';
import { IpfixAgent } from './ipfix/ipfix-agent.js';
import { observeFirewall, SwitchTraceWatcher, type SwitchTraceCall, type TracedFrame } from '../vds/traceflow.js';


/**
 * Why a DPU did not relay a vMotion datagram (`frame.drop` reason): a standby (or a DPU without a
 * role yet) relays nothing; the destination host has no DPU to tunnel to; a tunnelled datagram for
 * a host this DPU does not serve; the inner frame of the vMotion VNI is no vMotion datagram; or the
 * switch refused to tunnel it (`vmotion-` and its drop reason: `no-uplink`, `mtu`, ...).
 */
export type VmotionDropReason = 'vmotion-standby' | 'vmotion-unreachable' | 'vmotion-not-local' | 'vmotion-malformed' | `vmotion-${string}`;

/** The timer of the next round of a vNIC's announcements. */
const ANNOUNCE_TIMER = 'dpu.announce';

/** Why a VM's MAC is announced: it arrived by vMotion, or this DPU took over its host. */
type AnnounceReason = 'vmotion' | 'takeover';

/** What the DPU relayed on the vMotion network, for inspectors. */
export interface VmotionRelayCounters {
  /** Datagrams from the host tunnelled towards another host's DPU (or sent back, for the host itself). */
  fromHost: number;
  /** Tunnelled datagrams handed to the host. */
  toHost: number;
  drops: Record<string, number>;
}

/** How a datapath is built besides its node and topology. */
export interface DpuDatapathOptions {
  /**
   * The standby's replica of its active (the HA agent's `replicaNow`): a vNIC released while
   * standby is forgotten there too, so a takeover does not bring it back.
   */
  readonly replica?: () => SyncReplica;
}

function identityOf(v: PlacedVnic): VnicIdentity {
  return { vnic: v.id, vm: v.vm, mac: v.mac, ipv4: v.ipv4.split('/')[0]!, ipv6: v.ipv6?.split('/')[0] ?? null };
}

function byId(a: PlacedVnic, b: PlacedVnic): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The version field of an export that could not be read, if it has one. */
function versionOf(blob: unknown): number | null {
  const version = typeof blob === 'object' && blob !== null ? (blob as { version?: unknown }).version : undefined;
  return typeof version === 'number' ? version : null;
}

/** The timer that sends a takeover's report to the host, when the work is done and then again until acknowledged. */
const TAKEOVER_REPORT_TIMER = 'dpu.takeover.report';
/** How often an unacknowledged takeover report is sent again, and how many times in all (1 s): a pcie mailbox may lose it. */
const TAKEOVER_REPORT_RESEND_NS = 20_000_000;
const TAKEOVER_REPORT_SENDS = 50;

/**
 * The DPU's datapath: the VFs and vNIC ports towards the host, the distributed firewall on every
 * vNIC, the offloaded switch with its tunnel endpoint and uplinks, and the Arm cost of each step.
 *
 * A frame from a vNIC is filtered `out` before switching; a frame switched towards a vNIC is
 * filtered `in` before it is written into the guest. A reject's answer goes back the way the
 * offending frame came. Only the active DPU of a host serves its vNICs; a standby runs its
 * switch with none until it takes over.
 *
 * Traceflow packets (see `vds/traceflow.ts`) are handled like any frame and charged like any
 * frame; on the way, the firewall verdicts and the switch's decisions about them are recorded
 * as `traceflow.observe` events.
 *
 * vMotion: the host's vNICs change at run time. `vnic.release` (the VM leaves) takes a vNIC off
 * the VF endpoint, the switch and the firewall, with its firewall state exported on request;
 * `vnic.adopt` (the VM arrives) imports that state first and refuses, attaching nothing, an export
 * of a version this DPU does not read. A standby only keeps its list of the host's vNICs current,
 * for a later takeover. The host's vMotion datagrams (pcie `mgmt`) are tunnelled on the vMotion VNI
 * to the DPU serving the destination host, which hands them to its host (`vds/vmotion-net.ts`).
 */
export class DpuDatapath implements HaDatapathHooks {
  readonly switch: OverlaySwitch;
  readonly firewall: DistributedFirewall;
  readonly vnicPorts: VfEndpoint;
  readonly cost = new CostMeter({ core: 'arm' });
  /** Whether this DPU serves its host's vNICs (HA active) now. */
  private serving = false;
  /** Every vNIC of the host, sorted by id, served by whichever of its DPUs is active; vMotion adds and removes some. */
  private hostVnics: readonly PlacedVnic[];
  /** The host's vNICs this DPU has attached (filter, switch port, VF endpoint entry): none while standby. */
  private readonly attached = new Set<string>();
  private readonly ownTep: string;
  private readonly topology: ResolvedTopology;
  private readonly replica: (() => SyncReplica) | null;
  private readonly vmotion: VmotionRelayCounters = { fromHost: 0, toHost: 0, drops: {} };
  /** IPFIX flow records of what the vNICs send, exported to the host's collector. */
  private readonly ipfix: IpfixAgent | null;
  /** The stable interface indices IPFIX records name (null without IPFIX). */
  private readonly ifIndex: IpfixInterfaces | null;
  /** The eSwitch: flows whose later packets run in hardware (`offload.ts`). */
  readonly offload = new FlowOffload();
  /** While a frame from an uplink is handled: whether every vNIC it reached took the hardware path (null: none reached). */
  private uplinkPath: boolean | null = null;
  /** Per vNIC, the number of its latest announcement chain: a timer of an older chain does nothing. */
  private readonly announceChains = new Map<string, number>();
  /** Records traceflow observation points from the switch's decisions. */
  private readonly traces: SwitchTraceWatcher;
  /** Takeovers this DPU made since it booted: the sequence number of the next report. */
  private takeovers = 0;
  /** The last takeover's report, resent until the host acknowledges it, and its timer. */
  private takeover: { report: DpuTakeoverReport; timer: number | null; sends: number } | null = null;

  constructor(
    private readonly node: DpuNode,
    topology: ResolvedTopology,
    options: DpuDatapathOptions = {},
  ) {
    // The HA agent decides the role (promote/demote); until then the DPU serves no vNIC.
    this.topology = topology;
    this.replica = options.replica ?? null;
    this.hostVnics = allVnics(topology).filter((v) => v.host === node.spec.host);
    const tep = tepOf(topology, node.id);
    this.ownTep = tep.ip;
    this.switch = new OverlaySwitch({ owner: node.id, topology, tep, uplinks: node.spec.uplinks, vnics: [], ownerVnis: [VMOTION_VNI] });
    this.firewall = new DistributedFirewall({ node: node.id, resolve: endpointResolver(topology), exportVersion: node.spec.dfwExportVersion });
    this.vnicPorts = new VfEndpoint({ vnics: [], vfCount: node.spec.vfs });
    const collector = ipfixEndpoints(topology, node.id);
    const domainId = 1 + topology.nodes.filter((n) => n.kind === 'dpu').findIndex((n) => n.id === node.id);
    this.ipfix = collector ? new IpfixAgent(new FlowCache(), new IpfixExporter({ domainId, ...collector }), 'pcie') : null;
    this.ifIndex = collector ? new IpfixInterfaces(topology, node) : null;
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
    // The host's vNICs are what the host said last (`vnic.inventory`, sent before it names a DPU
    // active, and vMotion's adopt and release since): the host is their source of truth. The
    // replica only brings their connections; a vNIC it lacks (adopted less than a sync flush ago)
    // is served all the same, one it names that the host no longer has is not.
    const committed = reason === 'takeover' ? commitReplica(ctx, replica, this.firewall, this.hostVnics.map((v) => v.id)) : null;
    for (const v of this.hostVnics) this.serve(v);
    this.serving = true;
    if (reason === 'takeover') {
      this.switch.controlPlane.updateHostTep(this.node.spec.host, this.ownTep);
      // Every VM is announced from here on the announcement schedule: remote tunnel endpoints
      // relearn it behind ours (GENEVE), the physical switches learn a VLAN segment's VM.
      for (const v of this.hostVnics) this.announceVnic(ctx, v.id, 1, 'takeover');
      this.chargeTakeover(ctx, { connections: committed!.connections, vnics: this.hostVnics.length, macs: committed!.macs });
    }
  }

  /**
   * The takeover's work on this DPU's Arm cores: each step charged to the cost meter, done one
   * after the other on one core (an assumption: the DPU's control plane is one thread), so the
   * host hears of it (`dpu.takeover`) when their sum has passed.
   */
  private chargeTakeover(ctx: NodeContext, work: { connections: number; vnics: number; macs: number }): void {
    const x86 = takeoverWorkNs(work);
    const arm = Object.fromEntries(TAKEOVER_STEPS.map((step) => [step, this.cost.chargeWork(step, 'none', x86[step])])) as Record<(typeof TAKEOVER_STEPS)[number], number>;
    const report: DpuTakeoverReport = {
      op: 'dpu.takeover',
      seq: ++this.takeovers,
      ...work,
      replicaCommitNs: arm['takeover-replica-commit'],
      vfBindNs: arm['takeover-vf-bind'],
      switchNs: arm['takeover-switch'],
      tunnelNs: arm['takeover-tunnel'],
      totalNs: TAKEOVER_STEPS.reduce((n, step) => n + arm[step], 0),
    };
    this.stopTakeoverReport(ctx);
    this.takeover = { report, timer: ctx.setTimer(Math.max(1, report.totalNs), TAKEOVER_REPORT_TIMER), sends: 0 };
  }

  /** Sends the takeover report (again), until acknowledged or {@link TAKEOVER_REPORT_SENDS} times. */
  private sendTakeoverReport(ctx: NodeContext): void {
    const t = this.takeover;
    if (t === null) return;
    t.timer = null;
    this.reply(ctx, t.report);
    if (++t.sends < TAKEOVER_REPORT_SENDS) t.timer = ctx.setTimer(TAKEOVER_REPORT_RESEND_NS, TAKEOVER_REPORT_TIMER);
  }

  private stopTakeoverReport(ctx: NodeContext): void {
    if (this.takeover?.timer != null) ctx.cancelTimer(this.takeover.timer);
    this.takeover = null;
  }

  /** HA: the standby's replica changed; a rule set newer than its own goes into its firewall. */
  replicated(ctx: NodeContext, replica: SyncReplica): void {
    installReplicatedRules(ctx, replica, this.firewall);
  }

  /** HA: this DPU becomes standby and lets go of the host's vNICs. */
  demote(ctx: NodeContext): void {
    this.stopTakeoverReport(ctx);
    this.offload.invalidateAll();
    for (const v of this.local) {
      this.vnicPorts.evict(ctx, v.id);
      this.switch.removeVnic(v.id);
      this.firewall.detach(v.id);
    }
    this.attached.clear();
    this.serving = false;
  }

  /** The vNICs this DPU serves now: the host's it has attached (all of them while active, none while standby). */
  private get local(): readonly PlacedVnic[] {
    return this.hostVnics.filter((v) => this.attached.has(v.id));
  }

  /** Starts serving a vNIC of the host: its filter (connections kept if it has one), its switch port, its VF endpoint entry. */
  private serve(v: PlacedVnic): void {
    if (this.attached.has(v.id)) return;
    this.firewall.attach(identityOf(v));
    this.switch.addVnic(v);
    this.vnicPorts.admit(v.id, v.mode === 'uptv2' ? 'emulated' : v.mode);
    this.attached.add(v.id);
  }

  /**
   * `vnic.inventory`: the host says which vNICs it has now (when it names this DPU active, and when
   * this DPU rejoins). The list replaces this DPU's own; an active DPU starts serving the vNICs it
   * lacked and stops serving those the host no longer has.
   */
  private inventory(ctx: NodeContext, placements: readonly VnicPlacement[]): void {
    const listed = placements.filter((p) => this.switch.controlPlane.hasSegment(p.segment)).map((p): PlacedVnic => ({ ...p, host: this.node.spec.host }));
    const ids = new Set(listed.map((v) => v.id));
    for (const v of this.local) if (!ids.has(v.id)) this.unserve(ctx, v.id);
    this.hostVnics = listed.sort(byId);
    if (!this.serving) return;
    for (const v of this.hostVnics) this.serve(v);
    this.firewall.armSweep(ctx);
  }

  /** True when no uplink carries traffic (all down): the DPU reports it to its host. */
  allUplinksDown(): boolean {
    return this.switch.activeUplink === null;
  }

  /** A message from the host on a device channel: frames its vNICs sent, VF management, vNIC moves. */
  fromHost(ctx: NodeContext, channel: Channel, bytes: Uint8Array): void {
    const result = this.vnicPorts.onPcie(ctx, channel, bytes);
    for (const { vnic, frame, mode } of result.framesFromVnic) {
      if (mode === 'uptv2') this.charge('vf-dma', mode, frame.length);
      this.egress(ctx, vnic, frame);
    }
    for (const move of result.vnicMoves) {
      if (move.op === 'vnic.release') this.release(ctx, move.vnic, move.export, move.note === true);
      else if (move.op === 'vnic.inventory') this.inventory(ctx, move.vnics);
      else this.adopt(ctx, move);
    }
    for (const seq of result.takeoverAcks) if (this.takeover?.report.seq === seq) this.stopTakeoverReport(ctx);
  }

  /** A frame on an uplink; a vMotion datagram tunnelled to this DPU goes on to the host. */
  fromUplink(ctx: NodeContext, port: string, frame: Uint8Array): void {
    const call = this.traces.begin('uplink', frame);
    const before = this.cost.totalCpuNs;
    this.uplinkPath = null;
    this.apply(ctx, this.switch.fromUplink(ctx, port, frame), call, frame.length, { ingress: this.ifIndex?.uplink(port) ?? 0, frame: null });
    if (this.uplinkPath !== null) this.offload.count(this.uplinkPath, this.cost.totalCpuNs - before);
    this.uplinkPath = null;
    for (const tunnelled of this.switch.takeTunnelled()) this.vmotionFromTunnel(ctx, tunnelled);
  }

  /**
   * A vMotion datagram the host sent on pcie `mgmt` (`parseVmotionFrame` read it): the active DPU
   * tunnels it in GENEVE on the vMotion VNI to the tunnel endpoint serving the destination host
   * (after underlay ARP if need be), out of the active uplink; one for the host itself goes back
   * at once. A standby drops it (`vmotion-standby`), as it drops anything it cannot send.
   */
  vmotionFromHost(ctx: NodeContext, datagram: VmotionDatagram, frame: Uint8Array): void {
    if (!this.serving) return this.dropVmotion(ctx, 'pcie', 'vmotion-standby', frame.length);
    if (datagram.to === this.node.spec.host) {
      this.vmotion.fromHost++;
      this.vmotion.toHost++;
      ctx.send('pcie', frame, 'mgmt');
      return;
    }
    const tep = this.switch.controlPlane.hostTep(datagram.to);
    const destination = this.topology.nodes.find((n) => n.id === datagram.to);
    // A host without DPUs switches in software, and its switch does not terminate the vMotion VNI.
    if (tep === undefined || destination?.kind !== 'host' || destination.spec.dpus.length === 0) {
      return this.dropVmotion(ctx, 'pcie', 'vmotion-unreachable', frame.length);
    }
    const actions = this.switch.tunnel(ctx, tep, VMOTION_VNI, frame);
    this.apply(ctx, actions);
    const refused = actions.find((a) => a.kind === 'drop');
    if (refused?.kind === 'drop') this.dropVmotion(ctx, 'pcie', `vmotion-${refused.reason}`, frame.length);
    else this.vmotion.fromHost++;
  }

  /**
   * A frame that arrived on the vMotion VNI: to the host on pcie `mgmt` when this DPU is active
   * and the datagram is for its host's vmknic. The sender's tunnel endpoint is learned on the way
   * (its host may have failed over to another DPU).
   */
  private vmotionFromTunnel(ctx: NodeContext, tunnelled: TunnelledFrame): void {
    for (const step of tunnelled.steps) this.charge(step, 'none', tunnelled.frame.length);
    let datagram: VmotionDatagram | null;
    try {
      datagram = parseVmotionFrame(this.topology, tunnelled.frame);
    } catch (error) {
      if (!(error instanceof FrameError)) throw error;
      datagram = null;
    }
    if (datagram === null) return this.dropVmotion(ctx, tunnelled.port, 'vmotion-malformed', tunnelled.frame.length);
    this.switch.learnHostTep(ctx, datagram.from, tunnelled.tep);
    if (!this.serving) return this.dropVmotion(ctx, tunnelled.port, 'vmotion-standby', tunnelled.frame.length);
    if (datagram.to !== this.node.spec.host) return this.dropVmotion(ctx, tunnelled.port, 'vmotion-not-local', tunnelled.frame.length);
    this.vmotion.toHost++;
    ctx.send('pcie', tunnelled.frame, 'mgmt');
  }

  private dropVmotion(ctx: NodeContext, port: string, reason: VmotionDropReason, len: number): void {
    this.vmotion.drops[reason] = (this.vmotion.drops[reason] ?? 0) + 1;
    ctx.emit('frame.drop', { port, reason, len });
  }

  /**
   * `vnic.release`: the vNIC's VM leaves the host. The active DPU exports its firewall state when
   * asked (`dfw.export`), takes it off the VF endpoint, the switch and the firewall and out of the
   * host's vNICs, and answers `vnic.released`; a vNIC it does not serve is refused
   * (`unknown-vnic`). A standby, or any DPU told only to note it, forgets it (vNIC list and HA
   * replica) and answers nothing.
   */
  private release(ctx: NodeContext, vnic: string, wantExport: boolean, note: boolean): void {
    const placed = this.hostVnics.find((v) => v.id === vnic);
    if (!this.serving || note) {
      if (this.local.some((v) => v.id === vnic)) this.unserve(ctx, vnic);
      this.hostVnics = this.hostVnics.filter((v) => v.id !== vnic);
      this.replica?.().forget(vnic);
      return;
    }
    if (placed === undefined) return this.refuse(ctx, vnic, 'unknown-vnic', `DPU ${this.node.id} serves no vNIC ${vnic}`);
    let exported: DfwExport | null = null;
    if (wantExport) {
      exported = this.firewall.exportVnic(vnic, ctx.now());
      ctx.emit('dfw.export', {
        node: this.node.id,
        vnic,
        vm: exported.identity.vm,
        version: exported.version,
        rules: exported.rules,
        connections: exported.connections.map((c) => ({ tuple: c.tuple, state: c.state, ruleId: c.ruleId, remainingNs: c.remainingNs, ageNs: c.ageNs })),
      });
    }
    this.unserve(ctx, vnic);
    this.hostVnics = this.hostVnics.filter((v) => v.id !== vnic);
    this.reply(ctx, { op: 'vnic.released', vnic, export: exported });
  }

  /** Stops serving a vNIC: off the VF endpoint (a VF still bound goes back as on `vf.unbind`), the switch and the firewall. */
  private unserve(ctx: NodeContext, vnic: string): void {
    this.invalidateOffload(vnic);
    this.vnicPorts.retire(ctx, vnic);
    this.switch.removeVnic(vnic);
    this.firewall.detach(vnic);
    this.attached.delete(vnic);
  }

  /**
   * `vnic.adopt`: the vNIC's VM arrives on the host. The active DPU imports the firewall export
   * first when one is given (`dfw.import`); one it cannot read (another version, damaged) is
   * refused and nothing is attached (fail closed). Then the vNIC gets its filter, its switch port
   * (its MAC is local from now on) and its VF endpoint entry (emulated until the host binds a VF),
   * joins the host's vNICs, and the answer is `vnic.adopted`. Adopting a vNIC already served here
   * (the host asks again after a failover, or repeats itself) imports the export into it and
   * answers the same: the host's state for it is the newest. A standby, or any DPU told only to
   * note it (another active DPU of a host without failover), only adds it to the host's vNICs, so a
   * takeover serves it (the HA sync brings its connections), and answers nothing.
   */
  private adopt(ctx: NodeContext, message: Extract<VnicMoveRequest, { op: 'vnic.adopt' }>): void {
    const { vnic, placement } = message;
    const placed: PlacedVnic = { ...placement, host: this.node.spec.host };
    const controlPlane = this.switch.controlPlane;
    if (!this.serving || message.note === true) {
      if (placement.id !== vnic || !controlPlane.hasSegment(placement.segment)) return;
      this.place(placed, controlPlane.hostTep(this.node.spec.host) ?? this.ownTep);
      return;
    }
    if (placement.id !== vnic) return this.refuse(ctx, vnic, 'bad-placement', `The placement of vNIC ${vnic} names vNIC ${placement.id}`);
    if (!controlPlane.hasSegment(placement.segment)) return this.refuse(ctx, vnic, 'bad-placement', `vNIC ${vnic} is placed on segment ${placement.segment}, which the topology does not define`);
    let imported = 0;
    if (message.export !== null) {
      const now = ctx.now();
      try {
        const data = parseDfwExport(message.export, this.firewall.exportVersion);
        if (data.vnic !== vnic) throw new DfwImportError('malformed', `Firewall export is malformed: it is vNIC ${data.vnic}'s, not ${vnic}'s`);
        imported = this.firewall.importVnic(data, now).connections;
        ctx.emit('dfw.import', {
          node: this.node.id,
          vnic,
          vm: placement.vm,
          ok: true,
          version: data.version,
          rules: data.rules.map((r) => r.id),
          connections: data.connections.filter((c) => c.remainingNs > 0).map((c) => ({ tuple: c.tuple, state: c.state, remainingNs: c.remainingNs })),
        });
      } catch (error) {
        if (!(error instanceof DfwImportError)) throw error;
        const reason: VnicRefusal = error.code === 'unknown-version' ? 'dfw-version' : 'dfw-malformed';
        ctx.emit('dfw.import', { node: this.node.id, vnic, vm: placement.vm, ok: false, version: versionOf(message.export), reason });
        // Fail closed: a vNIC this DPU took over meanwhile is not served without its state either.
        if (this.attached.has(vnic)) this.unserve(ctx, vnic);
        return this.refuse(ctx, vnic, reason, error.message);
      }
    }
    this.serve(placed);
    this.place(placed, this.ownTep);
    this.firewall.armSweep(ctx);
    this.reply(ctx, { op: 'vnic.adopted', vnic, imported });
  }

  /** Adds (or replaces) a vNIC in the host's list and puts it on this host, behind `tep`, in the control plane. */
  private place(placed: PlacedVnic, tep: string): void {
    this.hostVnics = [...this.hostVnics.filter((v) => v.id !== placed.id), placed].sort(byId);
    if (this.switch.controlPlane.vnic(placed.id) !== undefined) this.switch.controlPlane.update(placed.id, { host: placed.host, tep });
  }

  private refuse(ctx: NodeContext, vnic: string, reason: VnicRefusal, message: string): void {
    this.reply(ctx, { op: 'vnic.refused', vnic, reason, message });
  }

  private reply(ctx: NodeContext, message: MailboxMessage): void {
    ctx.send('pcie', encodeMailbox(message), 'mailbox');
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    this.apply(ctx, this.switch.onLink(ctx, port, up));
  }

  /** Handles the datapath's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (name === TAKEOVER_REPORT_TIMER) {
      this.sendTakeoverReport(ctx);
      return true;
    }
    if (name.startsWith(OVERLAY_TIMER_PREFIX)) {
      this.apply(ctx, this.switch.onTimer(ctx, name, data));
      return true;
    }
    if (this.ipfix?.onTimer(ctx, name)) return true;
    if (name === ANNOUNCE_TIMER) {
      const { vnic, round, why, chain } = data as { vnic: string; round: number; why: AnnounceReason; chain: number };
      // A newer chain (the VM arrived again, another takeover) replaced this one.
      if (this.announceChains.get(vnic) === chain) this.announceVnic(ctx, vnic, round, why);
      return true;
    }
    return this.firewall.onTimer(ctx, name);
  }

  /** Management-plane pushes. Returns false for an action that is not the datapath's. */
  onAction(ctx: NodeContext, action: NodeAction): boolean {
    switch (action.action) {
      case 'dfw.rule.add':
        this.firewall.addRule(ctx, action.args.rule);
        // A new rule may judge any connection differently: every offloaded flow goes back to software.
        this.offload.invalidateAll();
        return true;
      case 'dfw.rule.remove':
        this.firewall.removeRule(ctx, action.args.rule);
        this.offload.invalidateAll();
        return true;
      default:
        return false;
    }
  }

  /** Records the Arm cost of the run so far (at the end of the run). */
  report(ctx: NodeContext): void {
    this.ipfix?.finish(ctx);
    emitCostReport(ctx, this.cost, { nodeKind: 'dpu', coresAvailable: this.node.spec.armCores, offload: this.offload.report() });
  }

  inspect(): unknown {
    return {
      serving: this.serving,
      hostVnics: this.hostVnics.map((v) => v.id),
      vmotion: { fromHost: this.vmotion.fromHost, toHost: this.vmotion.toHost, drops: Object.fromEntries(Object.keys(this.vmotion.drops).sort().map((k) => [k, this.vmotion.drops[k]])) },
      switch: this.switch.inspect(),
      firewall: this.firewall.inspect(),
      vnicPorts: this.vnicPorts.inspect(),
      traceflowWaitingForArp: this.traces.inspect(),
      cost: this.cost.report(1),
      offload: this.offload.report(),
    };
  }

  private egress(ctx: NodeContext, vnic: string, frame: Uint8Array): void {
    const before = this.cost.totalCpuNs;
    const call = this.traces.begin('vnic', frame);
    this.offload.usePort(vnic, this.modeOf(vnic));
    const key = offloadKey(frame, vnic, 'out');
    const verdict = this.firewall.filter(ctx, vnic, 'out', frame);
    const offloadable = verdict.action === 'allow' && verdict.established;
    let hardware = key !== null && this.offload.has(key);
    if (key !== null && hardware && !offloadable) {
      this.offload.evict(key);
      hardware = false;
    }
    // Traceflow packets always take the slow path: the Arm datapath is what records their observations.
    if (call.trace) hardware = false;
    if (hardware) this.charge('eswitch', this.modeOf(vnic), frame.length);
    else this.charge(verdict.established ? 'dfw-conntrack' : 'dfw-lookup', this.modeOf(vnic), frame.length);
    this.firewall.armSweep(ctx);
    if (call.trace) observeFirewall(ctx, call.trace, vnic, 'out', verdict);
    const from = this.ifIndex?.vnic(vnic) ?? 0;
    // A reject is answered to the VM that sent the offending frame.
    if (verdict.reply) this.toVnic(ctx, vnic, verdict.reply);
    if (verdict.action !== 'allow') {
      if (key !== null) this.offload.count(false, this.cost.totalCpuNs - before);
      return this.observeFlow(ctx, frame, from, 0, 'denied');
    }
    this.apply(ctx, this.switch.fromVnic(ctx, vnic, frame), call, 0, { ingress: from, frame }, hardware);
    if (key !== null) {
      this.offload.count(hardware, this.cost.totalCpuNs - before);
      // The first packet the connection tracker finds established installs the flow: the next one runs in hardware.
      if (!hardware && offloadable && !call.trace) this.offload.install(key);
    }
    // A RARP from a vNIC is the hypervisor announcing a VM that just arrived. The switch floods it
    // like the vNIC's own broadcast: in GENEVE to every tunnel endpoint on an overlay segment
    // (never raw on the underlay, where only tunnel endpoints' MACs appear), tagged on a VLAN
    // segment. It is the first round of the announcement schedule; this DPU sends the others.
    if (frame.length >= 14 && ((frame[12]! << 8) | frame[13]!) === ETHERTYPE_RARP) this.scheduleAnnounce(ctx, vnic, 1, 'vmotion');
  }

  /**
   * Announces vNIC `vnic`'s MAC, round `round` of the announcement schedule (`announce.ts`): a RARP
   * switched as if the vNIC sent it (so it reaches the same places as the hypervisor's first one),
   * recorded as `net.announce`, and the next round scheduled. Nothing when this DPU no longer
   * serves the vNIC (it moved on, or this DPU was demoted).
   */
  private announceVnic(ctx: NodeContext, vnic: string, round: number, why: AnnounceReason): void {
    const placed = this.local.find((v) => v.id === vnic);
    if (placed === undefined) return;
    const mac = normalizeMac(placed.mac);
    this.apply(ctx, this.switch.fromVnic(ctx, vnic, buildRarpAnnouncement(mac)));
    const overlay = this.topology.segments.find((s) => s.id === placed.segment)?.kind === 'overlay';
    ctx.emit('net.announce', { vnic, mac, round, rounds: DEFAULT_ANNOUNCE_SCHEDULE.rounds, why, carrier: overlay ? 'geneve' : 'vlan' });
    this.scheduleAnnounce(ctx, vnic, round, why);
  }

  /** Arms the round after `round` of vNIC `vnic`'s announcements, replacing any chain it had. */
  private scheduleAnnounce(ctx: NodeContext, vnic: string, round: number, why: AnnounceReason): void {
    const gap = announceGapNs(round);
    const chain = (this.announceChains.get(vnic) ?? 0) + 1;
    this.announceChains.set(vnic, chain);
    if (gap !== null) ctx.setTimer(gap, ANNOUNCE_TIMER, { vnic, round: round + 1, why, chain });
  }

  /**
   * Counts an IP packet into its IPFIX flow: the interfaces it came in on and went out of
   * (`IpfixInterfaces`), its IP length (the IPv4 total length, or the IPv6 payload length plus
   * the fixed header: never the Ethernet header or padding, RFC 7012 octetDeltaCount) and what
   * the firewall did with it.
   */
  private observeFlow(ctx: NodeContext, frame: Uint8Array, ingress: number, egress: number, verdict: FlowVerdict): void {
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
    const octets = f.ipv4 ? f.ipv4.totalLength : IPV6_HEADER_LENGTH + f.ipv6!.payloadLength;
    this.ipfix.observe(ctx, key, octets, { ingress, egress }, verdict);
  }

  /**
   * Filters a frame switched towards a vNIC and delivers it when allowed; true when the firewall
   * allowed it. `hardware`: the packet runs in the eSwitch (no Arm charge for the filter).
   */
  private ingress(ctx: NodeContext, vnic: string, frame: Uint8Array, trace: TracedFrame | null, hardware = false): { allowed: boolean; established: boolean } {
    const verdict = this.firewall.filter(ctx, vnic, 'in', frame);
    if (!hardware) this.charge(verdict.established ? 'dfw-conntrack' : 'dfw-lookup', this.modeOf(vnic), frame.length);
    this.firewall.armSweep(ctx);
    if (trace) observeFirewall(ctx, trace, vnic, 'in', verdict);
    // A reject is answered to the sender, as if from the protected VM: switched, not filtered again.
    if (verdict.reply) this.apply(ctx, this.switch.fromVnic(ctx, vnic, verdict.reply));
    if (verdict.action !== 'allow') return { allowed: false, established: verdict.established };
    this.toVnic(ctx, vnic, frame);
    return { allowed: true, established: verdict.established };
  }

  /** Drops the offloaded flows of vNIC `vnic` and those from or to its addresses (it leaves or arrives). */
  private invalidateOffload(vnic: string): void {
    const placed = this.hostVnics.find((v) => v.id === vnic);
    const addresses = placed ? [placed.ipv4.split('/')[0]!, ...(placed.ipv6 ? [placed.ipv6.split('/')[0]!] : [])] : [];
    this.offload.invalidateVnic(vnic, addresses);
  }

  /** Hands a frame to a vNIC; one the VF endpoint cannot deliver (no RX buffer, no VF, ...) is a logged drop. */
  private toVnic(ctx: NodeContext, vnic: string, frame: Uint8Array): void {
    if (this.vnicPorts.toVnic(ctx, vnic, frame)) return;
    ctx.emit('frame.drop', { port: vnic, reason: `vnic-${this.vnicPorts.lastDrop ?? 'dropped'}`, len: frame.length, vnic });
  }

  /**
   * Performs a switch call's actions; `call` follows traceflow frames through them. With `meter`,
   * each IP packet is counted into its IPFIX flow once per interface it leaves by: the vNIC's own
   * frame (`meter.frame`) when it came from a vNIC, else the frame the switch delivers (a tunnelled
   * frame decapsulated, so the record names the VMs, never the tunnel endpoints).
   */
  private apply(
    ctx: NodeContext,
    actions: readonly SwitchAction[],
    call: SwitchTraceCall = this.traces.begin('none', null),
    arrivedLen = 0,
    meter: { readonly ingress: number; readonly frame: Uint8Array | null } | null = null,
    hardware = false,
  ): void {
    for (const action of actions) {
      const mode: CostMode =
        action.kind === 'to-vnic' ? this.modeOf(action.vnic) : action.kind === 'to-uplink' && action.origin.kind === 'vnic' ? this.modeOf(action.origin.vnic) : 'none';
      // A frame from an uplink for a vNIC runs in hardware when its flow towards that vNIC is installed.
      const fromUplink = action.kind === 'to-vnic' && meter !== null && meter.frame === null;
      if (fromUplink) this.offload.usePort(action.vnic, mode);
      const key = fromUplink && call.trace === null ? offloadKey(action.frame, action.vnic, 'in') : null;
      const inHardware = hardware || (key !== null && this.offload.has(key));
      if (inHardware) {
        if (!hardware && action.kind === 'to-vnic') this.charge('eswitch', mode, action.frame.length);
      } else {
        for (const step of action.steps) this.charge(step, mode, action.kind === 'drop' ? 0 : action.frame.length);
      }
      const trace = this.traces.see(ctx, call, action);
      if (action.kind === 'to-uplink') {
        ctx.send(action.port, action.frame);
        if (meter?.frame) this.observeFlow(ctx, meter.frame, meter.ingress, this.ifIndex?.uplink(action.port) ?? 0, 'forwarded');
      } else if (action.kind === 'to-vnic') {
        const { allowed, established } = this.ingress(ctx, action.vnic, action.frame, trace, inHardware);
        if (key !== null) {
          if (inHardware && !(allowed && established)) this.offload.evict(key);
          else if (!inHardware && allowed && established) this.offload.install(key);
          this.uplinkPath = (this.uplinkPath ?? true) && inHardware;
        }
        if (meter) this.observeFlow(ctx, meter.frame ?? action.frame, meter.ingress, allowed ? (this.ifIndex?.vnic(action.vnic) ?? 0) : 0, allowed ? 'forwarded' : 'denied');
      } else if (action.steps.includes('decap')) this.overlayDrop(ctx, action, arrivedLen);
      else if (action.reason === 'standby-uplink' && action.detail === STANDBY_FOR_TEP) ctx.emit('frame.drop', { port: action.port ?? '', reason: 'standby-uplink', len: arrivedLen, detail: action.detail });
    }
    this.traces.end(ctx, call);
  }

  /**
   * An overlay frame that came through our tunnel endpoint and went to no vNIC is a loss someone
   * may look for: a standby (or a DPU without a role yet) serves nothing and discards it (reason
   * `standby`); an active one found no vNIC for it (`overlay-` and the switch's reason).
   */
  private overlayDrop(ctx: NodeContext, action: Extract<SwitchAction, { kind: 'drop' }>, len: number): void {
    const detail = action.detail === undefined ? action.reason : `${action.reason}: ${action.detail}`;
    ctx.emit('frame.drop', { port: action.port ?? '', reason: this.serving ? `overlay-${action.reason}` : 'standby', len, detail });
  }

  private modeOf(vnic: string): CostMode {
    return this.vnicPorts.modeOf(vnic) ?? 'none';
  }

  private charge(step: CostStep, mode: CostMode, bytes: number): void {
    this.cost.charge(step, mode, bytes);
  }
}
