/**
 * The cluster as the event log tells it, after some prefix of the log: which nodes run, what role
 * each DPU has (in its host's words and in its own), which device serves every vNIC, where each VM
 * runs, every vMotion and failover, links, LLDP neighbours, MAC tables, firewalls, VFs, flows,
 * costs and the load on every wire.
 *
 * This file is the state's shape; `fold.ts` is the one function that builds it from events
 * (`applyEvent`). Every view of a run reads this state: the UI (live and replay), the report it
 * downloads, the summary `dpulab run` prints, the lab grader. A state is plain data (JSON in,
 * JSON out), so it can be cloned, sent over a socket and compared in a test.
 */

import type { DecodedEvent } from '../events/typed.js';

/**
 * One recorded event with its payload decoded to plain data: what the fold reads (binary fields
 * are hex strings or bytes; the fold never reads them). The same envelope the UI server sends.
 */
export type ClusterEvent = DecodedEvent;

/** A node's life: started, killed, restarted. */
export interface NodeLife {
  up: boolean;
  incarnation: number;
  startedAt: number;
  exitedAt: number | null;
  /** How its last life ended, null while the first one goes on. */
  exit: { code: number | null; signal: string | null; planned: boolean; reason: string | null } | null;
}

/** When a host last declared a DPU failed (`dpu.failed`). */
export interface DpuFailureView {
  /** `crash`, `linkDown`, `userInitiated` or `failback`. */
  reason: string;
  at: number;
  detectNs: number | null;
  /** The DPU that took over. */
  to: string | null;
}

/**
 * One DPU: its health as its host sees it, the role its host gives it, and the role it runs by its
 * own account. The two roles differ only for the moment a message takes to cross, or while the DPU
 * is dead (it says nothing) or restarting (`pending` until its host names a role).
 */
export interface DpuView {
  /** The host that reported it ('' until its host has spoken). */
  host: string;
  /** The host's view of its health (`dpu.state`): MANAGED, UNAVAILABLE...; '' before the host said. */
  state: string;
  /** Why the state last changed (`boot`, `heartbeat-lost`, `heartbeat-restored`...). */
  reason: string | null;
  /** When the state last changed. */
  since: number;
  misses: number;
  /** The role its host gives it (`dpu.state`, then `dpu.role`): active or standby; null before the host said. */
  role: string | null;
  /** Why the host gave that role (`policy`, a failover reason, `rejoined`). */
  roleReason: string | null;
  roleSince: number;
  /** The role the DPU runs by its own account (`ha.role`): active, standby, pending; null before it said. */
  ownRole: string | null;
  ownRoleSince: number;
  /** The last time its host declared it failed, null if never. */
  failure: DpuFailureView | null;
}

/** A host's high-availability view: which DPU serves its vNICs, and whether they have one. */
export interface HostHaView {
  /** The DPU the host last made active (the one its vNICs are moved to), null before it said. */
  activeDpu: string | null;
  since: number;
  /** Why its vNICs have no datapath (`dpu.failover.impossible`), null while they have one. */
  disconnected: { dpu: string; reason: string; cause: string; since: number } | null;
}

/** One failover (or a rebuild on the same DPU), from the host's decision to its last vNIC restored. */
export interface FailoverView {
  host: string;
  /** `failover`, `rebuild` (the vNICs rebuilt on the DPU that came back) or `impossible`. */
  kind: string;
  from: string;
  /** The DPU taking over; null when impossible. */
  to: string | null;
  /** `crash`, `linkDown`, `userInitiated` or `failback`. */
  reason: string;
  detectNs: number | null;
  startedAt: number;
  /** Null while vNICs are still being restored. */
  endedAt: number | null;
  /** `done`, `impossible` (why in `impossibleReason`), `superseded` (another failover began first); null while under way. */
  result: string | null;
  impossibleReason: string | null;
  totalNs: number | null;
  /** Each vNIC and the mode it runs on the new DPU (from `dpu.failover.done`). */
  vnics: Array<{ vnic: string; mode: string }>;
}

/**
 * The device that serves a vNIC's rings: a virtual function on a DPU (`vf`, UPTv2), or the host's
 * emulated vmxnet3 backend (`backend`: MUX, emulated, or a host without DPUs), whose frames cross
 * `dpu`. This is what the guest driver's view must agree with.
 */
export interface ServingDevice {
  device: 'vf' | 'backend';
  /** The VF's DPU, or the DPU the backend's frames go through; null on a host without DPUs. */
  dpu: string | null;
  /** The VF's index on `dpu`, null for the backend. */
  vf: number | null;
  since: number;
}

/** A vNIC: the mode it runs in, the device that serves it, the host that runs it. */
export interface VnicView {
  vm: string;
  /** The host whose vNIC it is now (its latest `vnic.mode`; a vMotion moves it at the switchover). */
  host: string;
  requested: string;
  active: string;
  reason: string | null;
  since: number;
  serving: ServingDevice;
  /** Why it has no working datapath (`dfw-import-refused`, `no-failover: ...`), null while connected. */
  disconnected: string | null;
}

/** One end of a wire as its node sees it (from `link.state`). */
export interface PortView {
  node: string;
  port: string;
  wire: string;
  up: boolean;
  since: number;
  /** A switch port its spanning tree keeps discarding (`stp.port`): it cuts a loop. */
  blocked?: boolean;
}

/** An LLDP neighbour on a port. */
export interface NeighborView {
  systemName: string | null;
  portId: string;
  chassisId: string;
  since: number;
}

/** A switch MAC table entry (from `mac.learn`, removed by `mac.age`). */
export interface MacView {
  vlan: number;
  mac: string;
  port: string;
  movedFrom: string | null;
  since: number;
}

/** A node's distributed firewall as its events tell it. */
export interface DfwView {
  generation: number;
  /** Ids of the rules added since the last full set, in the order they came. */
  rules: string[];
  /** Rules in force, the default rule included, as the node counted them. */
  count: number;
  /** Rule hits (new connections and untracked packets judged by a rule), by rule id. */
  hits: Record<string, number>;
  /** Connection entries alive: created minus expired. */
  connections: number;
  rejects: number;
}

/** A virtual function's VFIO migration state. */
export interface VfView {
  vf: number;
  vnic: string;
  state: string;
  via: string;
  since: number;
}

/** One side's latest `flow.report`. */
export interface FlowReportView {
  vtime: number;
  /** Sender: the sending VM; receiver: the source address. */
  from: string | null;
  /** Sender: the destination address; receiver: the local address. */
  to: string | null;
  sent: number | null;
  delivered: number | null;
  lost: number | null;
  duplicated: number | null;
  reordered: number | null;
  retransmits: number | null;
  rttNs: { min: number; avg: number; max: number } | null;
  tcpState: string | null;
  closeReason: string | null;
  unreachable: number | null;
  /** The report every flow gives when the run ends. */
  final: boolean;
}

/** A counter sample from a flow report: messages sent (sender) or delivered (receiver) so far. */
export interface FlowSample {
  vtime: number;
  side: 'sender' | 'receiver';
  count: number;
}

/** A guest flow: what was started, and what its two checkers report. */
export interface FlowView {
  id: string;
  kind: string;
  vm: string;
  from: string;
  to: string;
  port: number | null;
  ratePps: number | null;
  /** The host running the sending app (it follows the VM when a vMotion moves it). */
  node: string;
  startedAt: number;
  stoppedAt: number | null;
  sender: FlowReportView | null;
  receiver: FlowReportView | null;
  /** The most recent samples, oldest first (at most {@link MAX_FLOW_SAMPLES}). */
  samples: FlowSample[];
}

/** A node's end-of-run `cost.report`. */
export interface CostView {
  nodeKind: string;
  coreType: string;
  coresAvailable: number;
  coresUsed: number;
  totalCpuNs: number;
  /** Cores used, by vNIC mode. */
  byMode: Record<string, number>;
  byStep: Record<string, { cpuNs: number; frames: number }>;
  /** A DPU's hardware flow offload; null for a host (or a report without it). */
  offload: OffloadView | null;
}

/** Which path a DPU's IP packets took: the eSwitch (hardware) or the Arm slow path, with the Arm CPU of each. */
export interface OffloadView {
  hardwarePackets: number;
  hardwareCpuNs: number;
  slowPathPackets: number;
  slowPathCpuNs: number;
  hitRatio: number;
  installs: number;
  invalidations: number;
}

/** Frames put on a wire: the total and per-bucket counts of the recent past. */
export interface WireLoadView {
  total: number;
  /** [bucket index, frames] for the last {@link LOAD_WINDOW_BUCKETS} buckets with traffic, oldest first. */
  buckets: Array<[number, number]>;
}

/** Where a VM runs: the host its vNICs booted on, then where a vMotion took it. */
export interface VmView {
  host: string;
  /** When it came to run there (boot, its `vmotion.resume` or, after an abort, its `vmotion.done`). */
  since: number;
  /** The `mid` of the migration under way, null between migrations. */
  migration: string | null;
}

/**
 * How far a vMotion got, named after the last of its events: `start`, `precheck`, `handoff` (its
 * vNICs left their VFs for the emulated backend), `precopy`, `throttle`, `stun`, `transfer` (the
 * switchover state went to the destination), `dfw-export`, `dfw-import`, `resume`, `rarp`,
 * `passthrough` (a vNIC has a VF on the destination again), `released` (the source let it go), `done`.
 */
export type VmotionPhase = 'start' | 'precheck' | 'handoff' | 'precopy' | 'throttle' | 'stun' | 'transfer' | 'dfw-export' | 'dfw-import' | 'resume' | 'rarp' | 'passthrough' | 'released' | 'done';

/** One pre-copy round (from `vmotion.precopy.round`). */
export interface PrecopyRoundView {
  round: number;
  vtime: number;
  pagesSent: number;
  pagesDirtied: number;
  bytes: number;
  durationNs: number;
}

/** One step of a vMotion as its events tell it, for the inspector's account of the migration. */
export interface VmotionStepView {
  seq: number;
  vtime: number;
  node: string;
  phase: VmotionPhase;
  detail: string;
}

/** One vMotion, from `vmotion.start` to `vmotion.done`. */
export interface MigrationView {
  mid: string;
  vm: string;
  from: string;
  to: string;
  startedAt: number;
  phase: VmotionPhase;
  phaseSince: number;
  /** Pre-copy rounds, oldest first (at most {@link MAX_PRECOPY_ROUNDS}). */
  rounds: PrecopyRoundView[];
  /** Pre-copy rounds in all (`vmotion.done` says how many; {@link rounds} may keep fewer). */
  roundCount: number;
  /** Every step but the rounds, oldest first (at most {@link MAX_VMOTION_STEPS}). */
  steps: VmotionStepView[];
  endedAt: number | null;
  /** Seq of its `vmotion.done`: migrations end in this order. */
  endedSeq: number | null;
  /** `success`, `success-emulated`, `success-disconnected` or `aborted`, once done. */
  result: string | null;
  reason: string | null;
  switchoverNs: number | null;
  downtimeNs: number | null;
  /** The guest's view of the downtime: its last frame in or out before the stun to its first after the resume. */
  guestDowntimeNs: number | null;
  /** Where the switchover's time went (`vmotion.done`), null until it arrived. */
  breakdown: SwitchoverBreakdownView | null;
}

/** Where a switchover's time went, in ns; the parts add up to the switchover (`docs/vmotion.md`). */
export interface SwitchoverBreakdownView {
  checkpointNs: number;
  transferNs: number;
  commitNs: number;
  restoreNs: number;
  resumeNs: number;
}

/** A note on the timeline. */
export interface NoteView {
  seq: number;
  vtime: number;
  text: string;
}

/** The cluster after some prefix of the event log. */
export interface ClusterState {
  /** Seq of the last event folded in, -1 before any. */
  seq: number;
  /** Virtual time of the last event folded in. */
  vtime: number;
  /** Events folded in. */
  events: number;
  kinds: Record<string, number>;
  nodes: Record<string, NodeLife>;
  /** Keyed by DPU id. */
  dpus: Record<string, DpuView>;
  /** Keyed by host id: hosts that have reported a DPU. */
  hosts: Record<string, HostHaView>;
  /** Failovers, oldest first (at most {@link MAX_FAILOVERS}). */
  failovers: FailoverView[];
  /** Keyed by vNIC id. */
  vnics: Record<string, VnicView>;
  /** Keyed by VM id: see {@link vmHostOf} for VMs not listed yet. */
  vms: Record<string, VmView>;
  /** vMotions by `mid`, in the order they started (at most {@link MAX_MIGRATIONS}). */
  migrations: Record<string, MigrationView>;
  /** Finished vMotions dropped to keep {@link MAX_MIGRATIONS}. */
  migrationsDropped: number;
  /** Keyed by `node:port`. */
  ports: Record<string, PortView>;
  /** node → port → neighbour. */
  lldp: Record<string, Record<string, NeighborView>>;
  /** node → `vlan mac` → entry. */
  macs: Record<string, Record<string, MacView>>;
  dfw: Record<string, DfwView>;
  /** Rule definitions as the management plane pushed them (input.dfw.rule.add), by id. */
  rules: Record<string, unknown>;
  /** node → vf index → state. */
  vfs: Record<string, Record<string, VfView>>;
  flows: Record<string, FlowView>;
  costs: Record<string, CostView>;
  wires: Record<string, WireLoadView>;
  /** The latest notes (at most {@link MAX_NOTES}). */
  notes: NoteView[];
  /** `input.*` events seen: scenario steps and UI actions. */
  inputs: number;
}

/** Width of one wire-load bucket: 10 ms of virtual time. */
export const LOAD_BUCKET_NS = 10_000_000;
/** Buckets a wire's load is averaged over: 100 ms of virtual time. */
export const LOAD_WINDOW_BUCKETS = 10;
/** Samples kept per flow (both sides together). */
export const MAX_FLOW_SAMPLES = 300;
/** Notes kept. */
export const MAX_NOTES = 200;
/** vMotions kept: the oldest finished ones go first. */
export const MAX_MIGRATIONS = 100;
/** Failovers kept: the oldest go first. */
export const MAX_FAILOVERS = 100;
/** Pre-copy rounds kept per vMotion (one that does not converge can run many). */
export const MAX_PRECOPY_ROUNDS = 500;
/** Steps kept per vMotion, besides its rounds (throttling can repeat). */
export const MAX_VMOTION_STEPS = 64;

/** The state before any event. */
export function emptyClusterState(): ClusterState {
  return {
    seq: -1,
    vtime: 0,
    events: 0,
    kinds: {},
    nodes: {},
    dpus: {},
    hosts: {},
    failovers: [],
    vnics: {},
    vms: {},
    migrations: {},
    migrationsDropped: 0,
    ports: {},
    lldp: {},
    macs: {},
    dfw: {},
    rules: {},
    vfs: {},
    flows: {},
    costs: {},
    wires: {},
    notes: [],
    inputs: 0,
  };
}

/** A deep copy: states are plain data. */
export function cloneClusterState(state: ClusterState): ClusterState {
  return structuredClone(state);
}
