import type { HostNode, ResolvedTopology, VmSpec } from '../../shared/topology/types.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import { CostMeter, emitCostReport, type CostMode } from '../common/cost/cost-meter.js';
import type { CostStep } from '../common/cost/parameters.js';
import { allVnics, endpointResolver } from '../vds/endpoints.js';
import type { Channel, NodeContext } from '../runtime/types.js';
import { DistributedFirewall } from '../vds/dfw/index.js';
import { OVERLAY_TIMER_PREFIX, OverlaySwitch, tepOf, type ControlPlane, type SwitchAction } from '../vds/switching/index.js';
import { FlowError } from './guest/flow-spec.js';
import { GuestStack, type GuestStackOptions } from './guest/stack.js';
import { HostVnic, vnicOfPcieMessage, type VnicMigrationState } from './vnic/host-vnic.js';
import { DeliveryLog } from './vmotion/delivery-log.js';
import { VmotionError } from './vmotion/errors.js';
import { Vmxnet3Device } from '../../shared/vmxnet3/device.js';
import { Vmxnet3Driver } from '../../shared/vmxnet3/driver.js';
import { decodeMailbox, type DpuTakeoverReport, type DpuVnicReply } from '../pcie/messages.js';
import type { VTime } from '../../shared/events.js';
import type { DpuHaManager, FailoverPlan } from './ha/failover.js';
import {
  buildTraceflowPacket,
  observeFirewall,
  observeTrace,
  planTraceflow,
  SwitchTraceWatcher,
  traceOf,
  type SwitchTraceCall,
  type TraceflowRequest,
  type TracedFrame,
} from '../vds/traceflow.js';


/**
 * The host's networking: every VM's guest stack and vNICs, the vNICs' datapath towards the
 * active DPU (or, on a host without DPUs, the software switch and firewall on x86), and the
 * x86 cost of each step.
 *
 * Traceflow: the `traceflow` action injects a marked packet into a vNIC exactly as its guest
 * would send it; a marked frame arriving for a guest is recorded as delivered and not handed to
 * the guest's stack (so nothing answers it). See `vds/traceflow.ts`.
 */
export class HostDatapath {
  readonly cost = new CostMeter({ core: 'x86' });
  /** vNICs by id, in id order. */
  private readonly vnics = new Map<string, HostVnic>();
  /** Guest stacks by VM id, in id order. */
  private readonly stacks = new Map<string, GuestStack>();
  /** The VM of each vNIC. */
  private readonly vmOf = new Map<string, string>();
  /** The VMs this host runs now (vMotion moves them), by id in id order. */
  private readonly vms = new Map<string, VmSpec>();
  /** Stunned VMs (vMotion): their guest timers wait here, frames for them are dropped. */
  private readonly frozen = new Map<string, Array<{ name: string; data: unknown }>>();
  /** Per VM, when a frame was last delivered to its guest and digests of the latest ones. */
  private readonly deliveries = new Map<string, DeliveryLog>();
  /** Called with a DPU's answer to a vNIC release or adopt (vMotion), and the DPU that answered. */
  onDpuVnicReply: ((ctx: NodeContext, dpu: string, reply: DpuVnicReply) => void) | null = null;
  /** Called with a DPU's takeover report (`dpu.takeover`), and the DPU that sent it. */
  onTakeoverReport: ((ctx: NodeContext, dpu: string, report: DpuTakeoverReport) => void) | null = null;
  /** The VM a vNIC belongs to when it is arriving by vMotion and not resumed yet (the vMotion agent knows), else null. */
  arrivingVm: ((vnic: string) => string | null) | null = null;
  /** Called after every device-channel message for a vNIC (the vMotion agent waits for hand-offs). */
  onVnicMessage: ((ctx: NodeContext, vm: string) => void) | null = null;
  /** The software switch and firewall of a host without DPUs. */
  private readonly softSwitch: OverlaySwitch | null = null;
  private readonly firewall: DistributedFirewall | null = null;
  /** Follows traceflow frames through the software switch. */
  private readonly traces: SwitchTraceWatcher | null = null;
  /** VMs of the topology kept off at a restart until the manager says they are this host's. */
  private readonly parked = new Map<string, VmSpec>();
  /** vNICs moved by a failover whose new VF is not serving yet. */
  private readonly restoring = new Set<string>();
  private ha: DpuHaManager | null = null;

  constructor(
    private readonly host: HostNode,
    private readonly topology: ResolvedTopology,
  ) {
    const activeDpu = host.spec.failover.active[0] ?? host.spec.dpus[0] ?? null;
    const vms = [...host.spec.vms].sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const vm of vms) this.addVm(vm, activeDpu);
    if (host.spec.dpus.length === 0) {
      const local = allVnics(topology).filter((v) => v.host === host.id);
      const uplinks = host.ports.map((p) => p.name);
      const softSwitch = new OverlaySwitch({ owner: host.id, topology, tep: tepOf(topology, host.id), uplinks, vnics: local });
      this.softSwitch = softSwitch;
      this.traces = new SwitchTraceWatcher(() => softSwitch.inspect().arpPending);
      this.firewall = new DistributedFirewall({ node: host.id, resolve: endpointResolver(topology) });
      for (const v of local) this.firewall.attach({ vnic: v.id, vm: v.vm, mac: v.mac, ipv4: v.ipv4.split('/')[0]!, ipv6: v.ipv6?.split('/')[0] ?? null });
    }
  }

  /**
   * Boots the host: its software switch and its VMs' vNICs and guest stacks. With `keepOff` the
   * VMs stay off (parked) until `powerOn`: a host that restarts waits for the manager to say which
   * of its topology VMs are still its own (one may have moved away before the restart).
   */
  boot(ctx: NodeContext, keepOff = false): void {
    if (keepOff) {
      for (const id of this.vmIds()) {
        this.parked.set(id, this.vms.get(id)!);
        this.removeVm(id);
      }
    }
    for (const vnic of this.vnics.values()) vnic.boot(ctx);
    if (this.softSwitch) this.apply(ctx, this.softSwitch.boot(ctx));
    for (const stack of this.stacks.values()) stack.boot(ctx);
  }

  /** The VMs kept off at boot, in id order. */
  parkedVms(): string[] {
    return [...this.parked.keys()];
  }

  /**
   * Powers on the parked VMs named in `vms`, served by `dpu`; the other parked VMs are let go (they
   * run elsewhere). Returns the VMs powered on.
   */
  powerOn(ctx: NodeContext, vms: readonly string[], dpu: string | null): string[] {
    const on: string[] = [];
    for (const [id, spec] of this.parked) {
      if (!vms.includes(id)) continue;
      this.addVm(spec, dpu);
      for (const vnic of this.vnicsOf(id)) vnic.boot(ctx);
      this.stacks.get(id)!.boot(ctx);
      on.push(id);
    }
    this.parked.clear();
    this.sortMaps();
    return on;
  }

  /** Builds a VM's vNICs (served by `dpu`) and guest stack; nothing runs until they boot. */
  private addVm(vm: VmSpec, dpu: string | null): void {
    this.vms.set(vm.id, vm);
    for (const vnic of vm.vnics) {
      this.vnics.set(vnic.id, new HostVnic({ vm, vnic, dpu, requested: vnic.mode }));
      this.vmOf.set(vnic.id, vm.id);
    }
    this.stacks.set(vm.id, new GuestStack(this.stackOptions(vm)));
  }

  /** A message from a DPU on a device channel (the port is named after the DPU). */
  fromDpu(ctx: NodeContext, port: string, channel: Channel, bytes: Uint8Array): void {
    const takeover = channel === 'mailbox' ? takeoverReport(bytes) : null;
    if (takeover) {
      this.onTakeoverReport?.(ctx, port, takeover);
      return;
    }
    const reply = channel === 'mailbox' ? vnicMoveReply(bytes) : null;
    if (reply) {
      this.onDpuVnicReply?.(ctx, port, reply);
      return;
    }
    const id = vnicOfPcieMessage(channel, bytes);
    const vnic = id === null ? undefined : this.vnics.get(id);
    if (!vnic) {
      // A VM arriving by vMotion is still stopped until the manager commits: its DPU already serves
      // the vNIC, and what it hands up meanwhile is lost as at the source.
      const arriving = id === null ? null : (this.arrivingVm?.(id) ?? null);
      if (id !== null && arriving !== null && channel === 'dma') ctx.emit('frame.drop', { port, reason: 'vm-stunned', len: bytes.length, vnic: id, vm: arriving });
      else ctx.emit('frame.malformed', { port, code: 'unknown-vnic', offset: 0, message: `PCIe ${channel} message for no vNIC of this host` });
      return;
    }
    const vm = this.vmOf.get(vnic.id)!;
    const frozen = this.frozen.get(vm);
    if (frozen && channel === 'dma') {
      // A stunned VM takes nothing: the frame is lost, as on a real switchover, and said so.
      this.deliveryLog(vm).droppedWhileStunned++;
      ctx.emit('frame.drop', { port, reason: 'vm-stunned', len: bytes.length, vnic: vnic.id, vm });
      return;
    }
    this.deliver(ctx, vnic, vnic.onPcie(ctx, channel, bytes, port));
    if (this.restoring.has(vnic.id) && vnic.settled) {
      this.restoring.delete(vnic.id);
      this.ha?.onRestored(ctx, vnic.id, vnic.mode);
    }
    this.onVnicMessage?.(ctx, vm);
  }

  /**
   * A DPU failed (or is being left): move every vNIC of the plan to the DPU taking over, rebuilt
   * from the host's shadow of its device state; tell the HA manager as each one is restored.
   */
  failover(ctx: NodeContext, plan: FailoverPlan, ha: DpuHaManager): void {
    this.ha = ha;
    for (const id of plan.vnics) {
      const vnic = this.vnics.get(id);
      if (!vnic) continue;
      const result = vnic.failover(ctx, plan.to);
      this.charge(result.steps, vnic.mode, 0);
      if (result.settled) ha.onRestored(ctx, id, vnic.mode);
      else this.restoring.add(id);
    }
  }

  /** The control plane of the software switch of a host without DPUs (the manager pushes its table); null with DPUs. */
  softControlPlane(): ControlPlane | null {
    return this.softSwitch?.controlPlane ?? null;
  }

  /** A frame on an uplink of a host without DPUs. */
  fromUplink(ctx: NodeContext, port: string, frame: Uint8Array): void {
    if (this.softSwitch) this.apply(ctx, this.softSwitch.fromUplink(ctx, port, frame), this.traces!.begin('uplink', frame));
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    if (this.softSwitch) this.apply(ctx, this.softSwitch.onLink(ctx, port, up));
  }

  /** Handles the datapath's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (name.startsWith('guest.')) {
      const vm = (data as { vm?: unknown } | null)?.vm;
      const frozen = typeof vm === 'string' ? this.frozen.get(vm) : undefined;
      if (frozen) {
        frozen.push({ name, data });
        return true;
      }
      for (const stack of this.stacks.values()) if (stack.onTimer(ctx, name, data)) return true;
      return true;
    }
    if (name.startsWith(OVERLAY_TIMER_PREFIX) && this.softSwitch) {
      this.apply(ctx, this.softSwitch.onTimer(ctx, name, data));
      return true;
    }
    return this.firewall?.onTimer(ctx, name) ?? false;
  }

  /** Guest apps, vNIC modes and (without DPUs) firewall rules. False for other actions. */
  onAction(ctx: NodeContext, action: NodeAction): boolean {
    switch (action.action) {
      case 'flow.start': {
        // Every host hears it (VMs move): the one running the VM acts.
        const { flow } = action.args;
        this.stacks.get(flow.from)?.startFlow(ctx, flow);
        return true;
      }
      case 'flow.stop':
        // Every host hears it; only the one whose VM runs the flow acts.
        for (const stack of this.stacks.values()) {
          try {
            stack.stopFlow(ctx, action.args.flow);
          } catch (error) {
            if (!(error instanceof FlowError && error.code === 'unknown-flow')) throw error;
          }
        }
        return true;
      case 'vnic.mode':
        this.vnics.get(action.args.vnic)?.setRequested(ctx, action.args.mode);
        return true;
      case 'vm.reserve':
        this.reserve(ctx, action.args.vm, action.args.memoryReservationMiB);
        return true;
      case 'dfw.rule.add':
        this.firewall?.addRule(ctx, action.args.rule);
        return this.firewall !== null;
      case 'dfw.rule.remove':
        this.firewall?.removeRule(ctx, action.args.rule);
        return this.firewall !== null;
      case 'traceflow':
        this.traceflow(ctx, action.args.trace);
        return true;
      default:
        return false;
    }
  }

  /** The end of the run: final flow reports and the x86 cost. */
  end(ctx: NodeContext): void {
    for (const stack of this.stacks.values()) stack.onEnd(ctx);
    emitCostReport(ctx, this.cost, { nodeKind: 'host', coresAvailable: this.host.spec.x86Cores });
  }

  // --- VMs coming and going (vMotion) --------------------------------------------------------

  /** The VM's spec when this host runs it, else undefined. */
  vm(id: string): VmSpec | undefined {
    return this.vms.get(id);
  }

  /** The ids of the VMs this host runs, in id order. */
  vmIds(): string[] {
    return [...this.vms.keys()];
  }

  /** The vNICs of a VM this host runs, in the VM's order. */
  vnicsOf(vm: string): HostVnic[] {
    const spec = this.vms.get(vm);
    return spec ? spec.vnics.map((v) => this.vnics.get(v.id)!) : [];
  }

  /** The active DPU the host's vNICs are served by, null on a host without DPUs. */
  servingDpu(): string | null {
    for (const vnic of this.vnics.values()) return vnic.servingDpu;
    return this.host.spec.failover.active[0] ?? this.host.spec.dpus[0] ?? null;
  }

  /** Stuns a VM: its guest stops (timers wait), frames for it are lost. */
  freeze(vm: string): void {
    if (!this.frozen.has(vm)) this.frozen.set(vm, []);
  }

  /** vMotion's throttle of a VM's vCPUs (run a quantum, sleep), or null to let them run freely. */
  throttleVm(ctx: NodeContext, vm: string, throttle: { readonly quantumNs: VTime; readonly sleepNs: VTime } | null): void {
    this.stacks.get(vm)?.setThrottle(ctx.now(), throttle);
  }

  /** Lets a stunned VM run again (a vMotion aborted after the stun): the timers that came meanwhile fire now. */
  thaw(ctx: NodeContext, vm: string): void {
    const waiting = this.frozen.get(vm);
    if (!waiting) return;
    this.frozen.delete(vm);
    const stack = this.stacks.get(vm);
    for (const timer of waiting) stack?.onTimer(ctx, timer.name, timer.data);
  }

  /** When a frame was last delivered to the VM's guest, and digests of the latest frames. */
  deliveryLog(vm: string): DeliveryLog {
    let log = this.deliveries.get(vm);
    if (!log) {
      log = new DeliveryLog();
      this.deliveries.set(vm, log);
    }
    return log;
  }

  /** The guest's stack state of a (stunned) VM, for the switchover. */
  exportGuest(vm: string, now: VTime): unknown {
    const stack = this.stacks.get(vm);
    if (!stack) throw new Error(`No VM ${vm} on host ${this.host.id}`);
    return stack.exportState(now);
  }

  /** The VM left (vMotion done): its stack, vNICs and bookkeeping go. */
  removeVm(vm: string): void {
    const spec = this.vms.get(vm);
    if (!spec) return;
    for (const v of spec.vnics) {
      this.vnics.delete(v.id);
      this.vmOf.delete(v.id);
      this.restoring.delete(v.id);
    }
    this.stacks.delete(vm);
    this.vms.delete(vm);
    this.frozen.delete(vm);
    this.deliveries.delete(vm);
  }

  /**
   * A VM arrives by vMotion and resumes here: its vNICs are rebuilt from their driver and device
   * state (emulated, served by `dpu`), its guest stack from its exported state, timers re-armed.
   */
  arriveVm(ctx: NodeContext, spec: VmSpec, vnics: readonly VnicMigrationState[], guest: unknown, dpu: string | null): void {
    const vm: VmSpec = { ...spec, host: this.host.id };
    const stack = GuestStack.restore(this.stackOptions(vm), guest, ctx);
    this.vms.set(vm.id, vm);
    for (const state of vnics) {
      const vnic = vm.vnics.find((v) => v.id === state.vnic);
      if (!vnic) throw new Error(`vNIC ${state.vnic} is not one of VM ${vm.id}`);
      this.vnics.set(vnic.id, HostVnic.arrive(ctx, { vm, vnic, dpu, requested: state.requested }, state));
      this.vmOf.set(vnic.id, vm.id);
    }
    this.stacks.set(vm.id, stack);
    this.sortMaps();
  }

  /**
   * The guest of a VM that just resumed here announces its addresses (gratuitous ARP, unsolicited
   * NA), as a Linux guest does when its paravirtual driver tells it it moved (NETDEV_NOTIFY_PEERS).
   */
  announceGuest(ctx: NodeContext, vm: string): void {
    this.stacks.get(vm)?.announce(ctx);
  }

  /**
   * Checks that what arrived by vMotion would run here (`arriveVm` with it would not throw), without
   * building anything: throws GuestStateError, Vmxnet3Error or VmotionError naming what is wrong.
   */
  checkArrival(spec: VmSpec, vnics: readonly VnicMigrationState[], guest: unknown): void {
    const vm: VmSpec = { ...spec, host: this.host.id };
    GuestStack.check(this.stackOptions(vm), guest);
    for (const state of vnics) {
      if (!vm.vnics.some((v) => v.id === state.vnic)) throw new VmotionError('malformed-state', `vNIC ${state.vnic} is not one of VM ${vm.id}`);
      Vmxnet3Driver.restore(state.driver);
      Vmxnet3Device.restore(state.device);
    }
  }

  /** Sends a frame on a vNIC as if its guest sent it (the hypervisor's RARP after a vMotion). */
  sendAsGuest(ctx: NodeContext, vnicId: string, frame: Uint8Array): 'sent' | 'local' | 'held' | 'dropped' {
    return this.transmit(ctx, vnicId, frame);
  }

  /** The `vm.reserve` action: a VM's memory reservation changes and its vNICs reconsider their mode. */
  private reserve(ctx: NodeContext, vmId: string, memoryReservationMiB: number): void {
    const spec = this.vms.get(vmId);
    if (!spec) return;
    const vm: VmSpec = { ...spec, memoryReservationMiB };
    this.vms.set(vmId, vm);
    ctx.emit('vm.reserve', { vm: vmId, memoryMiB: vm.memoryMiB, memoryReservationMiB });
    for (const vnic of this.vnicsOf(vmId)) vnic.updateVm(ctx, vm);
  }

  private stackOptions(vm: VmSpec): GuestStackOptions {
    return { vm, segments: this.topology.segments, transmit: (vnic, frame, ctx) => this.transmit(ctx, vnic, frame) };
  }

  /** Keeps the VM, vNIC and stack maps in id order, so iteration (and the event order) is deterministic. */
  private sortMaps(): void {
    for (const map of [this.vms, this.vnics, this.stacks] as Array<Map<string, unknown>>) {
      const entries = [...map].sort(([a], [b]) => (a < b ? -1 : 1));
      map.clear();
      for (const [k, v] of entries) map.set(k, v);
    }
  }

  inspect(): unknown {
    return {
      vnics: [...this.vnics.values()].map((v) => v.inspect()),
      guests: [...this.stacks].map(([vm, stack]) => ({ vm, ...(stack.inspect() as object) })),
      softSwitch: this.softSwitch?.inspect() ?? null,
      firewall: this.firewall?.inspect() ?? null,
      cost: this.cost.report(1),
    };
  }

  /**
   * The `traceflow` action: builds the marked packet from the vNIC's MAC and address towards the
   * destination (its VM's MAC on the same segment, the distributed router's otherwise) and sends
   * it on the vNIC as the guest would. A packet the guest could not address is recorded as
   * dropped at the source. Only the host running the vNIC acts.
   */
  private traceflow(ctx: NodeContext, request: TraceflowRequest): void {
    const vnic = this.vnics.get(request.vnic);
    // Every host hears it (VMs move): the one running the vNIC acts.
    if (!vnic) return;
    const plan = planTraceflow(this.topology, request);
    const vm = this.vmOf.get(vnic.id) ?? null;
    if (!plan.ok) {
      observeTrace(ctx, request.id, 'dropped', `not sent by ${vnic.id}: ${plan.message}`, { where: 'source', reason: plan.reason, rule: null, vnic: vnic.id, vm });
      return;
    }
    const f = plan.fields;
    const port = f.protocol === 'icmp' ? null : f.dstPort;
    const what = `${f.protocol}${port !== null ? ` port ${port}` : ''}`;
    observeTrace(ctx, request.id, 'injected', `injected into ${vnic.id} (${vnic.mode}): ${what} ${f.srcIp} > ${f.dstIp} via ${f.dstMac}`, {
      vnic: vnic.id,
      vm,
      mode: vnic.mode,
      protocol: f.protocol,
      srcIp: f.srcIp,
      dstIp: f.dstIp,
      srcMac: f.srcMac,
      dstMac: f.dstMac,
      port,
    });
    const outcome = this.transmit(ctx, vnic.id, buildTraceflowPacket(f));
    if (outcome === 'dropped') {
      observeTrace(ctx, request.id, 'dropped', `dropped by ${vnic.id}: its TX ring is full`, { where: 'vnic', reason: 'tx-ring-full', rule: null, vnic: vnic.id, vm });
    }
  }

  /** A guest sent a frame on one of its vNICs; returns what became of it. */
  private transmit(ctx: NodeContext, vnicId: string, frame: Uint8Array): 'sent' | 'local' | 'held' | 'dropped' {
    const vnic = this.vnics.get(vnicId);
    if (!vnic) return 'dropped';
    const result = vnic.transmit(ctx, frame);
    this.charge(result.steps, vnic.mode, frame.length);
    const vm = this.vmOf.get(vnicId);
    if (vm !== undefined && result.outcome !== 'dropped') this.deliveryLog(vm).sent(ctx.now());
    if (result.outcome === 'local') this.softEgress(ctx, vnicId, result.frame);
    return result.outcome;
  }

  /** Frames written into a guest's RX ring go to its stack; a traceflow frame ends here instead. */
  private deliver(ctx: NodeContext, vnic: HostVnic, result: { frames: Uint8Array[]; steps: CostStep[] }): void {
    this.charge(result.steps, vnic.mode, result.frames.reduce((n, f) => n + f.length, 0));
    const vm = this.vmOf.get(vnic.id) ?? '';
    const stack = this.stacks.get(vm);
    if (result.frames.length > 0) this.deliveryLog(vm).delivered(ctx, result.frames);
    for (const frame of result.frames) {
      const trace = traceOf(frame);
      if (trace) {
        observeTrace(ctx, trace.id, 'delivered', `delivered to ${vnic.id} of ${vm} (${vnic.mode})`, { vnic: vnic.id, vm, mode: vnic.mode, router: false, dstIp: trace.dstIp });
        continue;
      }
      stack?.receive(ctx, vnic.id, frame);
    }
  }

  private softEgress(ctx: NodeContext, vnic: string, frame: Uint8Array): void {
    const firewall = this.firewall!;
    const call = this.traces!.begin('vnic', frame);
    const verdict = firewall.filter(ctx, vnic, 'out', frame);
    this.charge([verdict.established ? 'dfw-conntrack' : 'dfw-lookup'], 'no-dpu', frame.length);
    this.firewall?.armSweep(ctx);
    if (call.trace) observeFirewall(ctx, call.trace, vnic, 'out', verdict);
    if (verdict.reply) this.softDeliver(ctx, vnic, verdict.reply);
    if (verdict.action === 'allow') this.apply(ctx, this.softSwitch!.fromVnic(ctx, vnic, frame), call);
  }

  private softIngress(ctx: NodeContext, vnic: string, frame: Uint8Array, trace: TracedFrame | null): void {
    const verdict = this.firewall!.filter(ctx, vnic, 'in', frame);
    this.charge([verdict.established ? 'dfw-conntrack' : 'dfw-lookup'], 'no-dpu', frame.length);
    this.firewall?.armSweep(ctx);
    if (trace) observeFirewall(ctx, trace, vnic, 'in', verdict);
    if (verdict.reply) this.apply(ctx, this.softSwitch!.fromVnic(ctx, vnic, verdict.reply));
    if (verdict.action === 'allow') this.softDeliver(ctx, vnic, frame);
  }

  private softDeliver(ctx: NodeContext, vnicId: string, frame: Uint8Array): void {
    const vnic = this.vnics.get(vnicId);
    if (vnic) this.deliver(ctx, vnic, vnic.receiveLocal(ctx, frame));
  }

  /** Performs the software switch's actions; `call` follows traceflow frames through them. */
  private apply(ctx: NodeContext, actions: readonly SwitchAction[], call: SwitchTraceCall = this.traces!.begin('none', null)): void {
    for (const action of actions) {
      this.charge(action.steps, 'no-dpu', action.kind === 'drop' ? 0 : action.frame.length);
      const trace = this.traces!.see(ctx, call, action);
      if (action.kind === 'to-uplink') ctx.send(action.port, action.frame);
      else if (action.kind === 'to-vnic') this.softIngress(ctx, action.vnic, action.frame, trace);
    }
    this.traces!.end(ctx, call);
  }

  private charge(steps: readonly CostStep[], mode: CostMode, bytes: number): void {
    for (const step of steps) this.cost.charge(step, mode, bytes);
  }
}

/** A DPU's takeover report, or null for any other (or malformed) mailbox message. */
function takeoverReport(bytes: Uint8Array): DpuTakeoverReport | null {
  try {
    const message = decodeMailbox(bytes);
    return message.op === 'dpu.takeover' ? message : null;
  } catch {
    return null;
  }
}

/** A DPU's answer to a vNIC release or adopt, or null for any other (or malformed) mailbox message. */
function vnicMoveReply(bytes: Uint8Array): DpuVnicReply | null {
  let message;
  try {
    message = decodeMailbox(bytes);
  } catch {
    return null;
  }
  switch (message.op) {
    case 'vnic.released':
      return { op: message.op, vnic: message.vnic, export: message.export };
    case 'vnic.adopted':
      return { op: message.op, vnic: message.vnic };
    case 'vnic.refused':
      return { op: message.op, vnic: message.vnic, reason: message.reason, message: message.message };
    default:
      return null;
  }
}
