/**
 * Scenarios: what happens to the lab, and when. A scenario is a list of steps at virtual times;
 * each step is one action (take a link down, kill a node, mark the timeline). The resolved form
 * here is plain JSON data: it is stored in the run log and replayed from it.
 *
 * To add an action: add its interface to {@link ScenarioAction}, then the compiler asks for its
 * schema and references in `actions.ts`, and for its plan in the controller.
 */

import type { VTime } from '../events.js';
import type { DfwRuleOutput } from './dfw-rule.js';

/** Takes a wire down (both ends see carrier loss) or brings it back up. */
export interface LinkAction {
  readonly action: 'link';
  readonly wire: string;
  readonly state: 'up' | 'down';
}

/** Kills a node's process abruptly, as a power loss or crash would. */
export interface KillAction {
  readonly action: 'kill';
  readonly node: string;
}

/** Starts a killed node's process again: it boots as a new incarnation. */
export interface RestartAction {
  readonly action: 'restart';
  readonly node: string;
}

/**
 * Impairs a wire, both directions, for a while: its loss, corruption and duplication
 * probabilities and its jitter are these instead of the topology's until `duration` has passed
 * (fields left out count as 0: a burst of loss alone is a clean wire otherwise). Jitter reorders
 * frames. Drawn from each direction's own seeded stream, so a run replays exactly.
 */
export interface ImpairAction {
  readonly action: 'impair';
  readonly wire: string;
  /** Probability in [0, 1] that a frame is lost. */
  readonly loss?: number;
  /** Probability in [0, 1] that one byte of a frame is flipped. */
  readonly corrupt?: number;
  /** Probability in [0, 1] that a frame arrives twice. */
  readonly duplicate?: number;
  /** Extra delay drawn uniformly in [0, jitter] ns per frame. */
  readonly jitter?: VTime;
  /** How long the burst lasts, in ns. */
  readonly duration: VTime;
}

/** Asks a host to fail over from its active DPU to its standby (reason `userInitiated`). */
export interface DpuFailoverAction {
  readonly action: 'dpu.failover';
  readonly host: string;
}

/** Marks the timeline with a remark; changes nothing in the lab. */
export interface NoteAction {
  readonly action: 'note';
  readonly text: string;
}

/** What a guest app sends, from which VM to where, how fast. */
export interface FlowSpec {
  readonly id: string;
  readonly kind: 'ping' | 'tcp' | 'udp';
  /** The VM that sends. */
  readonly from: string;
  /** An IPv4 or IPv6 address, or a VM id (its first vNIC's IPv4 address). */
  readonly to: string;
  /** TCP or UDP destination port; defaults to the receivers' listeners (5201 TCP, 5202 UDP). */
  readonly port?: number;
  /** Messages per second. */
  readonly ratePps?: number;
  /** Payload size of each message. */
  readonly payloadBytes?: number;
  /** Stop after this many messages. */
  readonly count?: number;
}

/** Starts a guest app in a VM. */
export interface FlowStartAction {
  readonly action: 'flow.start';
  readonly flow: FlowSpec;
}

/** Stops a guest app (TCP closes its connection). */
export interface FlowStopAction {
  readonly action: 'flow.stop';
  readonly flow: string;
}

/** Pushes a rule to every DPU (and every host without a DPU). */
export interface DfwRuleAddAction {
  readonly action: 'dfw.rule.add';
  readonly rule: DfwRuleOutput;
}

/** Withdraws a rule by id. */
export interface DfwRuleRemoveAction {
  readonly action: 'dfw.rule.remove';
  readonly rule: string;
}

/** Asks for another datapath mode for a vNIC; UPTv2 still needs its requirements. */
export interface VnicModeAction {
  readonly action: 'vnic.mode';
  readonly vnic: string;
  readonly mode: 'uptv2' | 'mux' | 'emulated';
}

/** What a `vmotion` step may tune; every field has a default (see `docs/vmotion.md`). */
export interface VmotionOptions {
  /** Pre-copy stops once the rest of memory can cross within this many ns (500 ms). */
  readonly switchoverGoal?: VTime;
  /** Pre-copy that has not met the goal after this many ns aborts (60 s). */
  readonly maxPrecopy?: VTime;
  /** Whether the vCPUs may be slowed down when the guest dirties memory faster than the link carries (yes). */
  readonly throttle?: boolean;
  /**
   * When the destination DPU refuses the firewall export (it does not know its version):
   * `abort` the migration, the VM carries on at the source (default); or `disconnect`: finish the
   * move and leave the vNIC disconnected on the destination (fail closed).
   */
  readonly onDfwRefused?: 'abort' | 'disconnect';
}

/**
 * Migrates a running VM to another host (vMotion): its passthrough vNICs hand their VF state to the
 * hypervisor's emulated vmxnet3, memory is pre-copied across the network, the VM is stunned, its
 * firewall state and device state move, it resumes on the destination, which announces it (RARP)
 * and hands the vNICs to a destination VF. See `docs/vmotion.md`.
 */
export interface VmotionAction {
  readonly action: 'vmotion';
  readonly vm: string;
  /** The destination host. */
  readonly to: string;
  readonly options?: VmotionOptions;
}

/** Sets how much of a VM's memory is reserved (UPTv2 needs all of it); its vNICs reconsider their mode. */
export interface VmReserveAction {
  readonly action: 'vm.reserve';
  readonly vm: string;
  readonly memoryReservationMiB: number;
}

/** The packet a traceflow injects: what it is, from which vNIC, towards what. */
export interface TraceflowSpec {
  /** Names the trace in every observation (`traceflow.observe` events) and in the packet's mark. */
  readonly id: string;
  /** The VM (its first vNIC) or the vNIC the packet leaves from, as if its guest sent it. */
  readonly from: string;
  /** A VM id (its first vNIC's IPv4 address), a vNIC id (its IPv4 address), or an IPv4 or IPv6 address. */
  readonly to: string;
  /** What the packet is: an ICMP echo request (default), a TCP SYN or a UDP datagram. */
  readonly protocol?: 'icmp' | 'tcp' | 'udp';
  /** TCP or UDP destination port; defaults to the guests' listeners (5201 TCP, 5202 UDP). */
  readonly port?: number;
}

/**
 * Injects one marked packet into a vNIC and records every point that observes it on its way
 * (firewalls, switches, tunnels, physical switches, the destination vNIC). See `docs/traceflow.md`.
 */
export interface TraceflowAction {
  readonly action: 'traceflow';
  readonly trace: TraceflowSpec;
}

/** Every action a scenario step can take, discriminated by `action`. */
export type ScenarioAction =
  | LinkAction
  | ImpairAction
  | KillAction
  | RestartAction
  | DpuFailoverAction
  | NoteAction
  | FlowStartAction
  | FlowStopAction
  | DfwRuleAddAction
  | DfwRuleRemoveAction
  | VnicModeAction
  | TraceflowAction
  | VmotionAction
  | VmReserveAction;

/** The name of an action: `link`, `kill`, `note`. */
export type ScenarioActionName = ScenarioAction['action'];

/** One step: an action at a virtual time. `index` is its position in the file's `steps:` list. */
export type ScenarioStep = { readonly atNs: VTime; readonly index: number } & ScenarioAction;

/** A resolved scenario: steps sorted by time (file order among equal times). */
export interface Scenario {
  readonly name: string;
  /** The run ends at this virtual time unless the caller overrides it (`--until`). */
  readonly endNs: VTime;
  readonly steps: readonly ScenarioStep[];
}
