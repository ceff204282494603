/**
 * The event catalogue: every event kind dpulab records, declared once with its payload type, its
 * fields and one line of meaning.
 *
 * - {@link EventPayloads} maps each kind to the type of its payload. `NodeContext.emit`, the node
 *   runtime and the controller take `(kind, payload)` typed by it, so a misspelt kind or a wrong
 *   field does not compile.
 * - {@link EVENT_MEANINGS} says in one line what each kind means. The recorder copies it into each
 *   database (`event_kinds`), so a log documents itself; `docs/event-log.md` lists it.
 * - {@link EVENT_FIELDS} names each payload's fields for code that cannot see types: the runtime
 *   check of a log ({@link payloadProblems}), the docs and the `event_kinds` table. The compiler
 *   holds it to the payload types.
 *
 * To add a kind: add its payload to {@link EventPayloads}; the compiler then asks for its meaning
 * and its fields. An `input.<action>` kind comes with each scenario action (`shared/scenario`).
 */

import type { NodeKind, VnicMode } from '../topology/types.js';
import type { Action, ActionName } from '../actions/schema.js';
import type { DeviceStatus, InterruptState, RxQueueState, TxQueueState, Vmxnet3Registers } from '../vmxnet3/state.js';

// ---------------------------------------------------------------------------------------------
// Shapes several payloads share

/** A firewall rule as events carry it (a rule object of `dfw.rule.add`, or of a firewall export). */
export interface DfwRuleRecord {
  readonly id: string;
  readonly priority: number;
  readonly appliedTo: readonly string[];
  readonly sources: readonly string[];
  readonly destinations: readonly string[];
  readonly service: {
    readonly protocol: 'tcp' | 'udp' | 'icmp' | 'icmpv6' | 'any';
    readonly destinationPorts: ReadonlyArray<{ readonly from: number; readonly to: number }>;
    readonly sourcePorts: ReadonlyArray<{ readonly from: number; readonly to: number }>;
    readonly icmpType: number | null;
  };
  readonly direction: 'in' | 'out' | 'in-out';
  readonly action: 'allow' | 'drop' | 'reject';
}

/** The 5-tuple of a tracked connection, as its originator sent it. */
export interface ConnectionTupleRecord {
  readonly protocol: string;
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
}

/** A packet's flow as the firewall judged it; ports are null for ICMP, the ICMP type null otherwise. */
export type DfwFlowFields = {
  readonly proto: string;
  readonly src: string;
  readonly dst: string;
  readonly sport: number | null;
  readonly dport: number | null;
  readonly icmpType: number | null;
};

/** The device-private state of a vmxnet3 a hand-off copies (`vnic.handoff`, `vmotion.transfer`). */
export interface HandoffRegisters {
  readonly mac: string;
  readonly status: DeviceStatus;
  readonly registers: Vmxnet3Registers;
  readonly link: number;
  /** The RX filter the device applies; null before the guest activated it. */
  readonly rxFilter: { readonly rxMode: number; readonly multicast: readonly string[]; readonly vlanFilter: readonly number[] } | null;
  readonly features: number | null;
  /** The RSS the device applies (hash types, indirection table); null without RSS or before activation. */
  readonly rss: { readonly hashType: number; readonly indTable: readonly number[] } | null;
  readonly interrupts: InterruptState;
  readonly txQueues: readonly TxQueueState[];
  readonly rxQueues: readonly RxQueueState[];
}

/** The datapath mode a vNIC runs in: a mode, or `no-dpu` while its host has no DPU to serve it. */
export type ActiveVnicMode = VnicMode | 'no-dpu';

/** A virtual function's VFIO migration state (the v2 uapi's names). */
export type VfioStateName = 'ERROR' | 'STOP' | 'RUNNING' | 'STOP_COPY' | 'RESUMING' | 'RUNNING_P2P' | 'PRE_COPY' | 'PRE_COPY_P2P';

/** Why a host moved its vNICs from one DPU to another. */
export type FailoverCause = 'crash' | 'linkDown' | 'userInitiated' | 'failback';

/** Where a traceflow packet was seen. */
export type TraceflowPoint = 'injected' | 'dfw' | 'routed' | 'forwarded' | 'hairpin' | 'encapsulated' | 'physical-switch' | 'decapsulated' | 'delivered' | 'dropped';

/** The manager's decision about a migration's switchover. */
export type SwitchoverDecisionName = 'committed' | 'aborted';

/**
 * Where a vMotion switchover's time went, stun to resume, in ns; the parts add up to the
 * switchover. `checkpointNs`: the stunned VM's checkpoint saved at the source; `transferNs`: the
 * last dirty pages, the firewall export and the device state across the wire; `commitNs`: the
 * destination's DPU adopts the vNICs and the manager commits; `restoreNs`: the checkpoint loaded
 * on the destination; `resumeNs`: the vCPUs restarted (and any wait for a DPU that took over).
 */
export interface SwitchoverBreakdownRecord {
  readonly checkpointNs: number;
  readonly transferNs: number;
  readonly commitNs: number;
  readonly restoreNs: number;
  readonly resumeNs: number;
}

/** How a host takes part in a migration, as it reports it to a manager that restarted. */
export interface MigrationFactRecord {
  readonly mid: string;
  readonly vm: string;
  readonly from: string;
  readonly to: string;
  readonly role: 'source' | 'destination';
  readonly phase: string;
  readonly asked: 'commit' | 'abort' | null;
  readonly reason: string | null;
  readonly decided: SwitchoverDecisionName | null;
}

/** Round-trip times of a ping flow, in virtual nanoseconds. */
export interface RttSummary {
  readonly min: number;
  readonly avg: number;
  readonly max: number;
}

/** A DPU's hardware flow offload at the end of a run: packets and Arm CPU per path (`processes/dpu/offload.ts`). */
export interface OffloadReportPayload {
  /** IP packets switched by the eSwitch, and the Arm CPU they cost (0 with the default parameters). */
  readonly hardwarePackets: number;
  readonly hardwareCpuNs: number;
  /** IP packets that took the Arm slow path, and the Arm CPU they cost. */
  readonly slowPathPackets: number;
  readonly slowPathCpuNs: number;
  /** hardwarePackets / all IP packets (0 when there were none). */
  readonly hitRatio: number;
  readonly installs: number;
  readonly invalidations: number;
  /** Flows still installed. */
  readonly installed: number;
}

/**
 * One side's report of a guest flow (`flow.report`). Fields a side cannot know are null (never
 * absent), so every report has the same shape.
 */
export type FlowReportPayload = {
  readonly flow: string;
  readonly kind: 'ping' | 'tcp' | 'udp';
  readonly side: 'sender' | 'receiver';
  /** The VM that emitted the report. */
  readonly vm: string;
  /** Sender side: the sending VM id. Receiver side: the source address the messages came from. */
  readonly from: string;
  /** Sender side: the destination address. Receiver side: the local address they arrived at. */
  readonly to: string;
  readonly port: number | null;
  /** Messages the sending app handed to its socket (sender; null at the receiver). */
  readonly sent: number | null;
  /** Distinct sequence numbers received (receiver; for ping, distinct replies at the sender). */
  readonly delivered: number | null;
  /** sent - delivered, where one side knows both (ping); null otherwise. */
  readonly lost: number | null;
  readonly duplicated: number | null;
  readonly reordered: number | null;
  /** Highest sequence number received, -1 before any (receiver, and ping sender). */
  readonly highestSeq: number | null;
  /** TCP segments sent again (either side of a TCP flow); null for ping and UDP. */
  readonly retransmits: number | null;
  /** Ping round-trip times; null for other kinds or before the first reply. */
  readonly rttNs: RttSummary | null;
  /** The TCP connection's state (this side's); null for ping and UDP. */
  readonly tcpState: string | null;
  /** Why the TCP connection closed (`closed`, `reset`, `refused`, `timeout`), null while open. */
  readonly closeReason: string | null;
  /** ICMP destination unreachable messages received for the flow (sender). */
  readonly unreachable: number | null;
  /** Messages that were not valid app messages (receiver). */
  readonly malformed: number | null;
  /** True for the report emitted at the end of the run. */
  readonly final: boolean;
};

/** The payload of a `traceflow.observe` event: one point a traceflow packet passed. */
export type TraceflowObservation = {
  readonly trace: string;
  readonly point: TraceflowPoint;
  /** One line for people, e.g. `dfw out on web-02.eth0: rule web-to-db-5201 reject`. */
  readonly summary: string;
  readonly node: string;
  /** The facts of the point, plain data (see docs/traceflow.md). */
  readonly detail: Readonly<Record<string, string | number | boolean | null | readonly string[]>>;
};

/** CPU time and frames charged to one step of the datapath. */
export interface StepCost {
  readonly cpuNs: number;
  readonly frames: number;
}

/** CPU time charged to the frames of one vNIC mode, and the cores that makes over the run. */
export interface ModeCost {
  readonly cpuNs: number;
  readonly cores: number;
}

/** The input an `input.<action>` event records: the scenario step or UI action, and the step's index when it came from a scenario. */
export type InputRecord<A extends ActionName = ActionName> = A extends ActionName
  ? Extract<Action, { readonly action: A }> & { readonly step?: number }
  : never;

/** The kind an input is recorded under: `input.<action>`. */
export type InputEventKind = `input.${ActionName}`;

/** The payload of each `input.<action>` kind. */
export type InputEventPayloads = { readonly [A in ActionName as `input.${A}`]: InputRecord<A> };

// ---------------------------------------------------------------------------------------------
// The payload of every kind

/** The payload of every event kind but the inputs (see {@link EventPayloads}): what node cores and the controller's lifecycle record. */
export interface NodeEventPayloads {
  // --- the controller: node lifecycle
  'node.start': { readonly node: string; readonly kind: NodeKind; readonly incarnation: number };
  'node.exit': { readonly node: string; readonly incarnation: number; readonly code: number | null; readonly signal: string | null; readonly planned: boolean; readonly reason: string | null };
  /** `while`: what the core was handling (a message type, `input`, `action`, `vmotion`). */
  'node.error': { readonly message: string; readonly while: string };
  /** The run stopped before its end, between windows; the exits of the stop follow it. */
  'run.stop': { readonly reason: 'interrupted' | 'event-budget'; readonly detail: string | null };

  // --- wires and ports
  'frame.tx': {
    readonly wire: string;
    readonly dir: string;
    readonly port: string;
    readonly channel: 'eth' | 'mgmt' | 'doorbell' | 'dma' | 'mailbox';
    readonly len: number;
    readonly txStart: number;
    readonly arrival: number;
    readonly fate: 'delivered' | 'lost' | 'corrupted' | 'duplicated';
    readonly bytes: Uint8Array;
    /** Payload bytes the frame stands for beyond `len` and does not carry (a vMotion page batch): the wire was charged `len + elided`. */
    readonly elided?: number;
  };
  /** `detail`: more on the reason (a DPU's overlay drops); `vnic` and `vm`: a frame lost for a VM stunned by its vMotion. */
  'frame.drop': { readonly port: string; readonly reason: string; readonly len: number; readonly detail?: string; readonly vnic?: string; readonly vm?: string };
  'frame.malformed': { readonly port: string; readonly code: string; readonly offset: number; readonly message: string };
  'link.state': { readonly port: string; readonly wire: string; readonly up: boolean };
  'lldp.neighbor': {
    readonly port: string;
    readonly chassisId: string;
    readonly portId: string;
    readonly systemName: string;
    readonly portDescription: string;
    readonly capabilities: readonly string[];
    readonly ttlSeconds: number;
  };
  'lldp.expired': { readonly port: string; readonly chassisId: string; readonly systemName: string; readonly reason: 'ttl' | 'link-down' };

  // --- physical switches
  'mac.learn': { readonly vlan: number; readonly mac: string; readonly port: string; readonly movedFrom: string | null };
  'mac.age': { readonly vlan: number; readonly mac: string; readonly port: string };
  'switch.drop': { readonly port: string; readonly reason: 'vlan-not-allowed' | 'tagged-on-access' | 'mirror-destination' | 'link-down' | 'storm-control'; readonly vlan: number; readonly len: number };
  /** `root`: the root bridge id as 16 hex digits (priority, MAC), as `stp.root` gives it. */
  'stp.port': {
    readonly port: string;
    readonly wire: string;
    readonly role: 'root' | 'designated' | 'alternate' | 'backup' | 'disabled';
    readonly state: 'forwarding' | 'discarding';
    readonly root: string;
    readonly rootCost: number;
  };
  /** `rootPort` null: this switch is the root. Bridge ids as 16 hex digits (priority, MAC). */
  'stp.root': { readonly root: string; readonly rootCost: number; readonly rootPort: string | null; readonly bridge: string };
  'switch.storm': { readonly port: string; readonly state: 'suppressing' | 'cleared'; readonly dropped: number; readonly pps: number; readonly burst: number };

  // --- the host's view of its DPUs, failover
  'dpu.state': { readonly dpu: string; readonly state: 'MANAGED' | 'UNAVAILABLE' | 'UNMANAGED' | 'UNUSED' | 'INVALID'; readonly role: 'active' | 'standby' | null; readonly reason: string };
  'dpu.heartbeat.miss': { readonly dpu: string; readonly seq: number; readonly misses: number };
  'dpu.failed': { readonly dpu: string; readonly reason: FailoverCause; readonly detectNs: number; readonly to: string };
  'dpu.role': { readonly dpu: string; readonly role: 'active' | 'standby'; readonly reason: FailoverCause | 'rejoined' };
  'dpu.failover.done': {
    readonly kind: 'failover' | 'rebuild';
    readonly from: string;
    readonly to: string;
    readonly reason: FailoverCause;
    readonly detectNs: number;
    readonly totalNs: number;
    /**
     * What the DPU that took over did, on its Arm cores, in ns (the Arm slowdown applied): the
     * replica's connections committed, a VF bound and loaded per vNIC, its switch and the tunnels
     * programmed; the items each step worked through. Null for a rebuild.
     */
    readonly takeover: {
      readonly connections: number;
      readonly vnics: number;
      readonly macs: number;
      readonly replicaCommitNs: number;
      readonly vfBindNs: number;
      readonly switchNs: number;
      readonly tunnelNs: number;
      readonly totalNs: number;
    } | null;
    readonly vnics: ReadonlyArray<{ readonly vnic: string; readonly mode: string }>;
  };
  'dpu.failover.impossible': {
    readonly dpu: string;
    readonly reason: 'no-standby' | 'standby-not-managed' | 'standby-uplinks-down' | 'in-progress';
    readonly cause: FailoverCause;
    readonly vnicsDisconnected: boolean;
    readonly vnics: readonly string[];
    readonly message: string;
  };
  'dpu.vnics.reconnected': { readonly dpu: string; readonly reason: 'uplinks-up' | 'dpu-restored'; readonly vnics: readonly string[] };
  'vnic.failover': { readonly vnic: string; readonly vm: string; readonly from: string; readonly to: string; readonly lostTx: number; readonly mode: ActiveVnicMode };

  // --- the distributed firewall
  'dfw.rules': { readonly generation: number; readonly count: number; readonly change: 'set' | 'add' | 'remove'; readonly rule: string | null };
  'dfw.rule.absent': { readonly rule: string; readonly generation: number; readonly count: number };
  'dfw.rule.hit': { readonly vnic: string; readonly rule: string; readonly action: 'allow' | 'drop' | 'reject'; readonly dir: 'in' | 'out' } & DfwFlowFields;
  'dfw.conn.new': {
    readonly vnic: string;
    readonly conn: string;
    readonly rule: string;
    readonly dir: 'in' | 'out';
    readonly proto: string;
    readonly src: string;
    readonly sport: number;
    readonly dst: string;
    readonly dport: number;
    readonly state: string;
  };
  'dfw.conn.state': { readonly vnic: string; readonly conn: string; readonly rule: string; readonly from: string; readonly to: string };
  'dfw.conn.expired': {
    readonly vnic: string;
    readonly conn: string;
    readonly rule: string;
    readonly proto: string;
    readonly state: string;
    readonly reason: 'timeout' | 'reused';
    readonly origPackets: number;
    readonly origBytes: number;
    readonly replyPackets: number;
    readonly replyBytes: number;
  };
  'dfw.reject': {
    readonly vnic: string;
    readonly rule: string;
    readonly dir: 'in' | 'out';
    readonly reply: 'tcp-rst' | 'icmp-unreachable' | 'icmpv6-unreachable' | 'none';
    /** Why no reply was sent, when `reply` is `none`. */
    readonly silentBecause: string | null;
    /** Length of the reply frame, 0 when none. */
    readonly len: number;
  } & DfwFlowFields;
  'dfw.export': {
    readonly node: string;
    readonly vnic: string;
    readonly vm: string;
    readonly version: number;
    readonly rules: readonly DfwRuleRecord[];
    readonly connections: ReadonlyArray<{ readonly tuple: ConnectionTupleRecord; readonly state: string; readonly ruleId: string; readonly remainingNs: number; readonly ageNs: number }>;
  };
  'dfw.import':
    | {
        readonly node: string;
        readonly vnic: string;
        readonly vm: string;
        readonly ok: true;
        readonly version: number;
        readonly rules: readonly string[];
        readonly connections: ReadonlyArray<{ readonly tuple: ConnectionTupleRecord; readonly state: string; readonly remainingNs: number }>;
      }
    | { readonly node: string; readonly vnic: string; readonly vm: string; readonly ok: false; readonly version: number | null; readonly reason: 'dfw-version' | 'dfw-malformed' };

  // --- the overlay and uplinks
  'tep.arp.resolved': { readonly tep: string; readonly mac: string; readonly port: string };
  'tep.arp.failed': { readonly tep: string; readonly dropped: number };
  'team.failover': { readonly from: string | null; readonly to: string | null; readonly reason: 'link-down' | 'link-up' };
  'overlay.relearn': {
    /** The MAC whose announcement taught it; null when the host's own traffic did. */
    readonly mac: string | null;
    readonly segment: string | null;
    readonly host: string;
    readonly from: string;
    readonly to: string;
    readonly vnics: readonly string[];
    readonly why: 'host-traffic' | 'tep-moved' | 'vm-moved';
  };

  // --- virtual functions and vNICs
  'vf.state': { readonly vf: number; readonly vnic: string | null; readonly from: VfioStateName; readonly to: VfioStateName; readonly via: 'arc' | 'error' | 'reset' };
  'vf.checker.violation': { readonly vf: number; readonly vnic: string | null; readonly from: VfioStateName; readonly to: VfioStateName; readonly via: 'arc' | 'error' | 'reset'; readonly problem: string };
  /** `problems` only when loaded device state failed validation. */
  'vf.error': { readonly vf: number; readonly vnic: string | null; readonly from: VfioStateName; readonly to: VfioStateName; readonly reason: string; readonly problems?: readonly string[] };
  'vf.drain': {
    readonly vf: number;
    readonly vnic: string | null;
    readonly completions: ReadonlyArray<{ readonly queue: number; readonly index: number; readonly gen: number; readonly upTo: number; readonly count: number }>;
  };
  'vnic.handoff': {
    readonly vnic: string;
    readonly vm: string;
    readonly direction: 'vf-to-emulated' | 'emulated-to-vf';
    readonly host: string;
    readonly dpu: string | null;
    /** The VF that takes over, for `emulated-to-vf`; null otherwise. */
    readonly vf: number | null;
    readonly cause: 'vmotion' | 'mode';
    readonly registers: HandoffRegisters;
  };
  'vnic.mode': { readonly vnic: string; readonly vm: string; readonly requested: VnicMode; readonly active: ActiveVnicMode; readonly reason: string | null };
  'vnic.checker.violation': { readonly vnic: string; readonly change: string; readonly problems: readonly string[] };
  'pcie.drop': { readonly side: 'host' | 'dpu'; readonly vnic: string | null; readonly channel: 'eth' | 'mgmt' | 'doorbell' | 'dma' | 'mailbox'; readonly reason: string; readonly message: string };
  'vm.reserve': { readonly vm: string; readonly memoryMiB: number; readonly memoryReservationMiB: number };

  // --- vMotion
  'vmotion.start': {
    readonly mid: string;
    readonly vm: string;
    readonly from: string;
    readonly to: string;
    readonly memoryMiB: number;
    readonly dirtyPagesPerSec: number;
    readonly vnics: readonly string[];
    /** Every option resolved: durations in ns. */
    readonly options: { readonly switchoverGoal: number; readonly maxPrecopy: number; readonly throttle: boolean; readonly onDfwRefused: 'abort' | 'disconnect' };
  };
  'vmotion.precheck': { readonly mid: string; readonly vm: string; readonly to: string; readonly ok: boolean; readonly checks: ReadonlyArray<{ readonly name: string; readonly ok: boolean; readonly detail: string }> };
  'vmotion.precopy.round': {
    readonly mid: string;
    readonly vm: string;
    readonly round: number;
    readonly pagesSent: number;
    /** Pages the guest dirtied meanwhile; null when the round ends in an abort. */
    readonly pagesDirtied: number | null;
    readonly bytes: number;
    readonly durationNs: number;
    readonly bytesPerSec: number;
    readonly throttleFactor: number;
    readonly throttleSleepNs: number;
  };
  /** `round`: the pre-copy round the factor applies from (0, the first, when throttling starts at once). */
  'vmotion.throttle': { readonly mid: string; readonly vm: string; readonly round: number; readonly factor: number; readonly sleepNs: number; readonly reason: string };
  /** `checkpointNs`: how long saving the stunned VM's checkpoint takes before the last pages leave (docs/cost-model.md). */
  'vmotion.stun': { readonly mid: string; readonly vm: string; readonly host: string; readonly remainingPages: number; readonly estimatedNs: number; readonly rounds: number; readonly checkpointNs: number };
  'vmotion.transfer': {
    readonly mid: string;
    readonly vm: string;
    readonly to: string;
    readonly parts: number;
    readonly bytes: number;
    readonly vnics: ReadonlyArray<{ readonly vnic: string; readonly mac: string; readonly requested: VnicMode; readonly device: HandoffRegisters; readonly dfw: boolean }>;
  };
  'vmotion.resume': { readonly mid: string; readonly vm: string; readonly host: string; readonly from: string; readonly switchoverNs: number; readonly breakdown: SwitchoverBreakdownRecord };
  'vmotion.source.released': { readonly mid: string; readonly vm: string; readonly to: string };
  'vmotion.incoming.dropped': { readonly mid: string; readonly vm: string; readonly from: string; readonly reason: string };
  /** `vnics` only when the VM arrived (a result starting with `success`). */
  'vmotion.done': {
    readonly mid: string;
    readonly vm: string;
    readonly from: string;
    readonly to: string;
    readonly result: 'success' | 'success-emulated' | 'success-disconnected' | 'aborted';
    readonly reason: string | null;
    readonly rounds: number;
    readonly switchoverNs: number | null;
    /** The host's view: its last frame delivered to the guest on the source to its first on the destination. */
    readonly downtimeNs: number | null;
    /** The guest's view: its last frame in or out before the stun to its first in or out after the resume. */
    readonly guestDowntimeNs: number | null;
    readonly breakdown: SwitchoverBreakdownRecord | null;
    readonly vnics?: ReadonlyArray<{ readonly vnic: string; readonly mode: ActiveVnicMode; readonly reason: string | null }>;
  };
  'vmotion.checker.violation': { readonly vm: string; readonly checker: string; readonly detail: string };
  'vmotion.decision': { readonly mid: string; readonly vm: string; readonly role: 'source' | 'destination'; readonly decision: SwitchoverDecisionName; readonly reason: string | null };
  'vmotion.abort.asked': { readonly mid: string; readonly vm: string; readonly role: 'source'; readonly manager: string; readonly reason: string };
  'net.rarp': { readonly mid: string; readonly vm: string; readonly vnic: string; readonly mac: string; readonly host: string; readonly dpu: string | null };
  'net.announce': { readonly vnic: string; readonly mac: string; readonly round: number; readonly rounds: number; readonly why: 'vmotion' | 'takeover'; readonly carrier: 'geneve' | 'vlan' };

  // --- guests
  'flow.start': {
    readonly flow: string;
    readonly kind: 'ping' | 'tcp' | 'udp';
    readonly vm: string;
    readonly from: string;
    readonly to: string;
    readonly port: number | null;
    readonly ratePps: number;
    readonly payloadBytes: number;
    readonly count: number | null;
  };
  'flow.stop': { readonly flow: string; readonly kind: 'ping' | 'tcp' | 'udp'; readonly vm: string; readonly reason: string; readonly sent: number };
  'flow.report': FlowReportPayload;
  'tcp.state': {
    readonly vm: string;
    /** The flow the connection carries; null for a connection no flow of this VM opened (a listener's). */
    readonly flow: string | null;
    readonly role: string;
    readonly state: string;
    readonly previous: string;
    readonly reason: string | null;
    readonly localIp: string;
    readonly localPort: number;
    readonly remoteIp: string;
    readonly remotePort: number;
  };
  'guest.arp.resolved': { readonly vm: string; readonly vnic: string; readonly ip: string; readonly mac: string; readonly after: 'request' | 'update' };
  'guest.arp.failed': { readonly vm: string; readonly vnic: string; readonly ip: string; readonly probes: number; readonly dropped: number };
  'guest.nd.resolved': { readonly vm: string; readonly vnic: string; readonly ip: string; readonly mac: string; readonly after: 'request' | 'update' };
  'guest.nd.failed': { readonly vm: string; readonly vnic: string; readonly ip: string; readonly probes: number; readonly dropped: number };

  // --- observability
  'cost.report': {
    readonly nodeKind: 'host' | 'dpu';
    readonly coreType: 'x86' | 'arm';
    /** Cores the node has (a host's x86Cores, a DPU's armCores), to read `coresUsed` against. */
    readonly coresAvailable: number;
    readonly elapsedNs: number;
    /** The Arm slowdown applied (1 on x86). */
    readonly factor: number;
    readonly byStep: Readonly<Partial<Record<string, StepCost>>>;
    readonly byMode: Readonly<Partial<Record<string, ModeCost>>>;
    readonly totalCpuNs: number;
    readonly coresUsed: number;
    /** A DPU's hardware flow offload (packets and Arm CPU per path, hit ratio); null for a host. */
    readonly offload: OffloadReportPayload | null;
  };
  'ipfix.export': { readonly sequence: number; readonly records: number; readonly templates: boolean; readonly bytes: number };
  'traceflow.observe': TraceflowObservation;

  // --- DPU high availability
  'ha.role': { readonly dpu: string; readonly from: 'pending' | 'active' | 'standby' | null; readonly to: 'pending' | 'active' | 'standby'; readonly reason: string };
  'ha.uplinks': { readonly dpu: string; readonly allDown: boolean };
  'ha.sync.bulk.start': { readonly bulk: number; readonly reason: string; readonly records: number; readonly messages: number; readonly firstSeq: number; readonly lastSeq: number };
  'ha.sync.bulk.acked': { readonly bulk: number; readonly elapsedNs: number };
  'ha.sync.bulk.end': { readonly bulk: number; readonly messages: number; readonly records: number; readonly seq: number; readonly elapsedNs: number };
  'ha.sync.resend': { readonly count: number; readonly firstSeq: number; readonly lastSeq: number; readonly unacked: number; readonly timeoutNs: number };
  'ha.sync.overflow': { readonly limit: number; readonly firstLostSeq: number };
  'ha.sync.gap': { readonly expected: number; readonly got: number };
  'ha.sync.session': { readonly from: number | null; readonly to: number };
  'ha.sync.request': { readonly reason: 'join' | 'new-session' | 'no-base' | 'owner' };
  'ha.sync.malformed': { readonly side: 'sender' | 'receiver'; readonly message: string };
  'ha.sync.commit': { readonly vnics: readonly string[]; readonly connections: number; readonly generation: number | null; readonly macs: number };

  // --- the management plane (the manager, and its cables at the hosts and DPUs)
  'manager.boot': { readonly manager: string; readonly epoch: number; readonly restart: boolean; readonly hosts: readonly string[]; readonly dpus: readonly string[]; readonly generation: number };
  'manager.table': {
    readonly epoch: number;
    readonly generation: number;
    readonly reason: string;
    readonly hosts: ReadonlyArray<{ readonly host: string; readonly tep: string }>;
    readonly vnics: ReadonlyArray<{ readonly vnic: string; readonly vm: string; readonly host: string; readonly tep: string }>;
  };
  'manager.report':
    | {
        readonly node: string;
        readonly kind: 'host';
        readonly active: string | null;
        readonly standby: string | null;
        readonly vms: readonly string[];
        readonly booting: boolean;
        readonly migrations: readonly MigrationFactRecord[];
        readonly conflicts: readonly string[];
      }
    | { readonly node: string; readonly kind: 'dpu'; readonly table: { readonly epoch: number; readonly generation: number } | null };
  'manager.resync': {
    readonly epoch: number;
    readonly generation: number;
    readonly hosts: readonly string[];
    readonly reported: readonly string[];
    readonly vms: Readonly<Record<string, string | null>>;
    readonly migrations: ReadonlyArray<{ readonly mid: string; readonly vm: string; readonly from: string; readonly to: string; readonly state: string; readonly reason: string | null }>;
  };
  /** `reason` and `fact` (the host whose report said it) for a decision learned from a host after a restart. */
  'manager.migration': { readonly mid: string; readonly vm: string; readonly from: string; readonly to: string; readonly state: 'registered' | 'begun' | SwitchoverDecisionName; readonly reason?: string | null; readonly fact?: string };
  'switchover.decision': { readonly mid: string; readonly vm: string; readonly from: string; readonly to: string; readonly decision: SwitchoverDecisionName; readonly reason: string | null };
  'overlay.table': { readonly epoch: number; readonly generation: number; readonly full: boolean; readonly entries: number; readonly hosts: readonly string[]; readonly vnics: readonly string[] };
  'mgmt.unreachable': { readonly manager: string; readonly sinceNs: number; readonly waiting: readonly string[] };
  'mgmt.waiting': { readonly manager: string; readonly what: string };
  'mgmt.reachable': { readonly manager: string; readonly silentNs: number };
  'host.vms.powered': { readonly host: string; readonly on: readonly string[]; readonly elsewhere: readonly string[]; readonly manager: string | null };
}

/**
 * The payload type of every event kind: the record a node or the controller emits, msgpack-encoded
 * in the log. Plain data only.
 *
 * @example
 * function onStart(p: EventPayloads['node.start']): string { return `${p.node} (${p.kind})`; }
 */
export type EventPayloads = NodeEventPayloads & InputEventPayloads;

/** Every event kind: `node.start`, `frame.tx`, `input.kill`, ... */
export type EventKind = keyof EventPayloads;

/** The payload of one kind. */
export type EventPayload<K extends EventKind> = EventPayloads[K];

/** Every kind but the inputs: what node cores may emit (inputs are the controller's alone). */
export type NodeEventKind = keyof NodeEventPayloads;

/**
 * What a few kinds record outside the fingerprint (the `volatile` column): values that differ from
 * run to run. Every other kind records nothing there.
 */
export interface EventVolatiles {
  'node.start': { readonly pid: number; readonly mode: 'multi-process' | 'in-process' };
  'node.error': { readonly stack: string };
}

/** The volatile record of a kind; `never` for kinds that have none. */
export type EventVolatile<K extends EventKind> = K extends keyof EventVolatiles ? EventVolatiles[K] : never;

// ---------------------------------------------------------------------------------------------
// What each kind means

/** What each input kind records, in a line: `input.<action>` events are the controller's. */
const INPUT_MEANINGS: { readonly [K in InputEventKind]: string } = {
  'input.link': 'Input: a wire was taken down or brought up',
  'input.impair': 'Input: a wire is impaired, both directions, for a while (loss, corruption, duplication and jitter instead of its own; absent ones are 0)',
  'input.kill': 'Input: a node process is killed with SIGKILL',
  'input.restart': 'Input: a killed node is started again',
  'input.dpu.failover': 'Input: a host is asked to fail over to its standby DPU',
  'input.note': 'Input: a note on the timeline',
  'input.flow.start': 'Input: a guest app starts',
  'input.flow.stop': 'Input: a guest app stops',
  'input.dfw.rule.add': 'Input: the management plane pushes a firewall rule',
  'input.dfw.rule.remove': 'Input: the management plane withdraws a firewall rule',
  'input.vnic.mode': 'Input: a vNIC is asked to run in another datapath mode',
  'input.traceflow': 'Input: a marked packet is injected into a vNIC to trace its path',
  'input.vmotion': 'Input: a VM is to migrate to another host',
  'input.vm.reserve': "Input: a VM's memory reservation changes",
};

/**
 * One line per kind saying what it means. The recorder copies it (with the fields) into each
 * database's `event_kinds` table; a kind missing here, or a line for no kind, does not compile.
 */
export const EVENT_MEANINGS: { readonly [K in EventKind]: string } = {
  'node.start': 'The controller started a node, first or again after a kill (volatile: pid, mode)',
  'node.exit': 'A node ended: planned at the end of the run or by a kill, or a crash with its code, signal and reason',
  'node.error': 'A node core failed to handle a message and went on (volatile: stack)',
  'run.stop': 'The run stopped before its end: interrupted (Ctrl-C, SIGTERM, a UI stop) or over its event budget; the planned exits of the stop follow',
  ...INPUT_MEANINGS,
  'frame.tx': 'A frame was put on a wire: when it starts and arrives, and whether it is delivered, lost, corrupted or duplicated',
  'frame.drop': 'A frame could not be sent or was lost at a down port, or a node dropped it on purpose (a DPU that does not relay a vMotion datagram gives reason vmotion-standby, vmotion-unreachable, vmotion-not-local, vmotion-malformed or vmotion-<switch drop reason>; a DPU that decapsulated an overlay frame for no vNIC gives standby or overlay-<switch drop reason>; a host gives vm-stunned for a frame that reached a VM stopped for its vMotion switchover)',
  'frame.malformed': 'A received frame could not be decoded, or failed its frame check sequence (code bad-fcs: the wire corrupted it), and was dropped',
  'link.state': 'A port saw its wire go up or down',
  'lldp.neighbor': 'LLDP learned or changed the neighbour on a port',
  'lldp.expired': 'An LLDP neighbour timed out (reason ttl) or its link went down (reason link-down)',
  'mac.learn': 'A switch learned a MAC on a port or saw it move',
  'mac.age': 'A MAC table entry aged out',
  'switch.drop': 'A physical switch dropped a frame',
  'stp.port': "A switch's spanning tree gave a port another role or state; a discarding port cuts a loop",
  'stp.root': 'A switch changed its view of the spanning tree: the root bridge, its cost to it, its root port',
  'switch.storm': 'Storm control on a switch port started dropping flooded frames, or stopped (with how many it dropped)',
  'dpu.state': 'The host changed its view of a DPU',
  'dpu.heartbeat.miss': 'A DPU did not answer a heartbeat in time',
  'dpu.failed': 'A host declared its active DPU failed (crash, linkDown, userInitiated or failback) and picked the DPU taking over',
  'dpu.role': 'A host gave a DPU a role: active or standby',
  'dpu.failover.done': 'Every vNIC of a host was restored on the new DPU',
  'dpu.failover.impossible': 'A host could not fail over; its vNICs are disconnected when it says so',
  'dpu.vnics.reconnected': 'A host reconnected vNICs that had no DPU',
  'vnic.failover': "A vNIC was rebuilt on another DPU from the host's shadow of its device",
  'dfw.rules': 'A firewall rule set changed: set as a whole, a rule added or removed',
  'dfw.rule.absent': 'A firewall was asked to remove a rule it does not hold (it missed the rule while down): nothing changed',
  'dfw.rule.hit': 'A new connection or untracked packet was judged by a rule, never one judged by its connection entry',
  'dfw.conn.new': 'A connection entry was created',
  'dfw.conn.state': 'A tracked TCP connection changed state',
  'dfw.conn.expired': 'A connection entry timed out or was reused, with its packet and byte counts',
  'dfw.reject': 'A packet was rejected, with a TCP reset, an ICMP or ICMPv6 unreachable, or no reply',
  'dfw.export': "A DPU exported a vNIC's firewall state as its VM left by vMotion: full rule objects and connections",
  'dfw.import': "A DPU imported a vNIC's firewall state as its VM arrived by vMotion, or refused it (dfw-version, dfw-malformed) and left the vNIC unattached",
  'tep.arp.resolved': 'A remote tunnel endpoint was resolved by underlay ARP',
  'tep.arp.failed': 'Underlay ARP for a tunnel endpoint got no reply; waiting frames dropped',
  'team.failover': 'The active uplink of a team changed',
  'overlay.relearn': 'A tunnel endpoint learned that VMs moved behind another endpoint',
  'vf.state': 'A virtual function took a VFIO migration arc, or was reset or put in ERROR',
  'vf.checker.violation': 'A virtual function took an arc that is not a VFIO migration v2 arc',
  'vf.error': 'A VFIO arc was refused or loaded device state failed validation',
  'vf.drain': 'DMA stopped on the way to STOP or STOP_COPY; completions written',
  'vnic.handoff': "A vNIC's device state moved between a DPU VF and the host's emulated vmxnet3, for a vMotion or a mode change",
  'vnic.mode': 'A vNIC runs in a datapath mode, or why not the one it asked for',
  'vnic.checker.violation': "The guest's view of its vNIC differs from the device serving it",
  'pcie.drop': 'A PCIe device-channel message was dropped',
  'vm.reserve': "A VM's memory reservation changed",
  'vmotion.start': 'A vMotion began at the source host',
  'vmotion.precheck': "The prechecks, as the source heard them: the manager's registration (manager), then the destination's (capacity, compatible-dpu, segment-present)",
  'vmotion.precopy.round': 'A pre-copy round of memory pages crossed the network',
  'vmotion.throttle': "The source slows the VM's vCPUs so pre-copy can converge, from the round throttling starts in (0 when at once) and whenever the factor changes",
  'vmotion.stun': 'The VM stopped at the source for the switchover',
  'vmotion.transfer': "The source sent the switchover state: guest stack, each vNIC's driver and emulated device state, firewall exports",
  'vmotion.resume': 'The VM runs again, on the destination',
  'vmotion.source.released': "The source let the migrated VM go, on the manager's commit",
  'vmotion.incoming.dropped': 'The destination gave up a migration it had accepted, before resuming it',
  'vmotion.done': 'A vMotion ended: success, success-emulated, success-disconnected or aborted',
  'vmotion.checker.violation': 'A vMotion invariant broke (no-double-delivery, mac-unchanged, ...)',
  'vmotion.decision': "A host acted on the manager's decision about a switchover, once per host and migration",
  'vmotion.abort.asked': 'After the state left, the source asked the manager to abort (it may not decide alone)',
  'manager.boot': 'The manager started: at the start of the run it knows the topology; after a restart nothing until the nodes report',
  'manager.table': "The manager's overlay table changed: a new generation, pushed to every DPU and software-switching host",
  'manager.report': 'A host or DPU reported to the manager (it restarted, or the manager did)',
  'manager.resync': 'A restarted manager heard from every host: what it rebuilt',
  'manager.migration': 'The manager registered a migration, saw its switchover begin, or learned its decision from a host that acted on it',
  'switchover.decision': "The manager decided a migration's switchover, exactly once per migration id",
  'overlay.table': "A DPU (or a host that switches in software) applied a generation of the manager's overlay table, whatever its HA role",
  'mgmt.unreachable': 'A host or DPU had no answer from the manager for 100 ms: what waits for it, in words',
  'mgmt.waiting': 'A host or DPU asked the manager something while it is unreachable',
  'mgmt.reachable': 'The manager answered again',
  'host.vms.powered': 'A restarted host powered on the VMs the manager places on it and let go those that run elsewhere',
  'net.rarp': "The hypervisor announced a VM's MAC after a vMotion",
  'net.announce': "A DPU announced a VM's MAC (RARP), one round of the announcement schedule after a vMotion or a takeover",
  'flow.start': 'A guest app started',
  'flow.stop': 'A guest app stopped',
  'flow.report': 'A flow checker reports one side of a flow: sender or receiver',
  'tcp.state': 'A guest TCP connection changed state',
  'guest.arp.resolved': "A guest resolved a neighbour's MAC by ARP",
  'guest.arp.failed': 'A guest got no ARP reply for a neighbour; the frames waiting for it are dropped',
  'guest.nd.resolved': "A guest resolved a neighbour's MAC by IPv6 neighbour discovery",
  'guest.nd.failed': 'A guest got no neighbour advertisement; the frames waiting for it are dropped',
  'cost.report': 'CPU a node spent moving frames, by step and by mode, at the end of a run',
  'ipfix.export': 'A DPU exported an IPFIX message to its collector',
  'traceflow.observe': 'A node saw a traceflow packet at a point: injected, dfw, forwarded, hairpin, routed, encapsulated, decapsulated, physical-switch, delivered or dropped',
  'ha.role': 'A DPU changed its HA role',
  'ha.uplinks': "A DPU's uplinks all went down or one came back",
  'ha.sync.bulk.start': 'The active DPU started a full resync to its standby',
  'ha.sync.bulk.acked': 'The standby acknowledged a full resync',
  'ha.sync.bulk.end': 'The standby applied a full resync',
  'ha.sync.resend': 'Unacknowledged sync updates were sent again',
  'ha.sync.overflow': 'The resend queue overflowed; a full resync follows',
  'ha.sync.gap': 'The standby saw a gap in sync sequence numbers',
  'ha.sync.session': 'A sync session restarted',
  'ha.sync.request': 'A standby asked for a full resync',
  'ha.sync.malformed': 'A sync message could not be decoded',
  'ha.sync.commit': 'A DPU taking over committed its replicated state',
};

// ---------------------------------------------------------------------------------------------
// The fields of each kind, for code that cannot see types

/** Every key of any member of a union. */
type KeysOfUnion<T> = T extends unknown ? keyof T : never;
/** The keys one object type requires. */
type RequiredKeysOf<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
/** Keys that some member of a union may lack. */
type SometimesAbsent<T, All = KeysOfUnion<T>> = T extends unknown ? Exclude<All, RequiredKeysOf<T>> : never;
/** Keys every member of a union has. */
type AlwaysPresent<T> = Exclude<KeysOfUnion<T>, SometimesAbsent<T>>;

/** A field as {@link EVENT_FIELDS} writes it: its name, with `?` when a payload may lack it. */
export type FieldSpec<P> = (AlwaysPresent<P> & string) | `${SometimesAbsent<P> & string}?`;

/**
 * The fields of each kind's payload: a name, or `name?` for a field some payloads lack. The
 * compiler checks the names against {@link EventPayloads}, so the runtime check of a log
 * ({@link payloadProblems}) and the docs say what the types say.
 */
export const EVENT_FIELDS = {
  'node.start': ['node', 'kind', 'incarnation'],
  'node.exit': ['node', 'incarnation', 'code', 'signal', 'planned', 'reason'],
  'node.error': ['message', 'while'],
  'run.stop': ['reason', 'detail'],
  'input.link': ['action', 'wire', 'state', 'step?'],
  'input.impair': ['action', 'wire', 'loss?', 'corrupt?', 'duplicate?', 'jitter?', 'duration', 'step?'],
  'input.kill': ['action', 'node', 'step?'],
  'input.restart': ['action', 'node', 'step?'],
  'input.dpu.failover': ['action', 'host', 'step?'],
  'input.note': ['action', 'text', 'step?'],
  'input.flow.start': ['action', 'flow', 'step?'],
  'input.flow.stop': ['action', 'flow', 'step?'],
  'input.dfw.rule.add': ['action', 'rule', 'step?'],
  'input.dfw.rule.remove': ['action', 'rule', 'step?'],
  'input.vnic.mode': ['action', 'vnic', 'mode', 'step?'],
  'input.traceflow': ['action', 'trace', 'step?'],
  'input.vmotion': ['action', 'vm', 'to', 'options?', 'step?'],
  'input.vm.reserve': ['action', 'vm', 'memoryReservationMiB', 'step?'],
  'frame.tx': ['wire', 'dir', 'port', 'channel', 'len', 'txStart', 'arrival', 'fate', 'bytes', 'elided?'],
  'frame.drop': ['port', 'reason', 'len', 'detail?', 'vnic?', 'vm?'],
  'frame.malformed': ['port', 'code', 'offset', 'message'],
  'link.state': ['port', 'wire', 'up'],
  'lldp.neighbor': ['port', 'chassisId', 'portId', 'systemName', 'portDescription', 'capabilities', 'ttlSeconds'],
  'lldp.expired': ['port', 'chassisId', 'systemName', 'reason'],
  'mac.learn': ['vlan', 'mac', 'port', 'movedFrom'],
  'mac.age': ['vlan', 'mac', 'port'],
  'switch.drop': ['port', 'reason', 'vlan', 'len'],
  'stp.port': ['port', 'wire', 'role', 'state', 'root', 'rootCost'],
  'stp.root': ['root', 'rootCost', 'rootPort', 'bridge'],
  'switch.storm': ['port', 'state', 'dropped', 'pps', 'burst'],
  'dpu.state': ['dpu', 'state', 'role', 'reason'],
  'dpu.heartbeat.miss': ['dpu', 'seq', 'misses'],
  'dpu.failed': ['dpu', 'reason', 'detectNs', 'to'],
  'dpu.role': ['dpu', 'role', 'reason'],
  'dpu.failover.done': ['kind', 'from', 'to', 'reason', 'detectNs', 'totalNs', 'takeover', 'vnics'],
  'dpu.failover.impossible': ['dpu', 'reason', 'cause', 'vnicsDisconnected', 'vnics', 'message'],
  'dpu.vnics.reconnected': ['dpu', 'reason', 'vnics'],
  'vnic.failover': ['vnic', 'vm', 'from', 'to', 'lostTx', 'mode'],
  'dfw.rules': ['generation', 'count', 'change', 'rule'],
  'dfw.rule.absent': ['rule', 'generation', 'count'],
  'dfw.rule.hit': ['vnic', 'rule', 'action', 'dir', 'proto', 'src', 'dst', 'sport', 'dport', 'icmpType'],
  'dfw.conn.new': ['vnic', 'conn', 'rule', 'dir', 'proto', 'src', 'sport', 'dst', 'dport', 'state'],
  'dfw.conn.state': ['vnic', 'conn', 'rule', 'from', 'to'],
  'dfw.conn.expired': ['vnic', 'conn', 'rule', 'proto', 'state', 'reason', 'origPackets', 'origBytes', 'replyPackets', 'replyBytes'],
  'dfw.reject': ['vnic', 'rule', 'dir', 'proto', 'src', 'dst', 'sport', 'dport', 'icmpType', 'reply', 'silentBecause', 'len'],
  'dfw.export': ['node', 'vnic', 'vm', 'version', 'rules', 'connections'],
  'dfw.import': ['node', 'vnic', 'vm', 'ok', 'version', 'rules?', 'connections?', 'reason?'],
  'tep.arp.resolved': ['tep', 'mac', 'port'],
  'tep.arp.failed': ['tep', 'dropped'],
  'team.failover': ['from', 'to', 'reason'],
  'overlay.relearn': ['mac', 'segment', 'host', 'from', 'to', 'vnics', 'why'],
  'vf.state': ['vf', 'vnic', 'from', 'to', 'via'],
  'vf.checker.violation': ['vf', 'vnic', 'from', 'to', 'via', 'problem'],
  'vf.error': ['vf', 'vnic', 'from', 'to', 'reason', 'problems?'],
  'vf.drain': ['vf', 'vnic', 'completions'],
  'vnic.handoff': ['vnic', 'vm', 'direction', 'host', 'dpu', 'vf', 'cause', 'registers'],
  'vnic.mode': ['vnic', 'vm', 'requested', 'active', 'reason'],
  'vnic.checker.violation': ['vnic', 'change', 'problems'],
  'pcie.drop': ['side', 'vnic', 'channel', 'reason', 'message'],
  'vm.reserve': ['vm', 'memoryMiB', 'memoryReservationMiB'],
  'vmotion.start': ['mid', 'vm', 'from', 'to', 'memoryMiB', 'dirtyPagesPerSec', 'vnics', 'options'],
  'vmotion.precheck': ['mid', 'vm', 'to', 'ok', 'checks'],
  'vmotion.precopy.round': ['mid', 'vm', 'round', 'pagesSent', 'pagesDirtied', 'bytes', 'durationNs', 'bytesPerSec', 'throttleFactor', 'throttleSleepNs'],
  'vmotion.throttle': ['mid', 'vm', 'round', 'factor', 'sleepNs', 'reason'],
  'vmotion.stun': ['mid', 'vm', 'host', 'remainingPages', 'estimatedNs', 'rounds', 'checkpointNs'],
  'vmotion.transfer': ['mid', 'vm', 'to', 'parts', 'bytes', 'vnics'],
  'vmotion.resume': ['mid', 'vm', 'host', 'from', 'switchoverNs', 'breakdown'],
  'vmotion.source.released': ['mid', 'vm', 'to'],
  'vmotion.incoming.dropped': ['mid', 'vm', 'from', 'reason'],
  'vmotion.done': ['mid', 'vm', 'from', 'to', 'result', 'reason', 'rounds', 'switchoverNs', 'downtimeNs', 'guestDowntimeNs', 'breakdown', 'vnics?'],
  'vmotion.checker.violation': ['vm', 'checker', 'detail'],
  'vmotion.decision': ['mid', 'vm', 'role', 'decision', 'reason'],
  'vmotion.abort.asked': ['mid', 'vm', 'role', 'manager', 'reason'],
  'manager.boot': ['manager', 'epoch', 'restart', 'hosts', 'dpus', 'generation'],
  'manager.table': ['epoch', 'generation', 'reason', 'hosts', 'vnics'],
  'manager.report': ['node', 'kind', 'active?', 'standby?', 'vms?', 'booting?', 'migrations?', 'conflicts?', 'table?'],
  'manager.resync': ['epoch', 'generation', 'hosts', 'reported', 'vms', 'migrations'],
  'manager.migration': ['mid', 'vm', 'from', 'to', 'state', 'reason?', 'fact?'],
  'switchover.decision': ['mid', 'vm', 'from', 'to', 'decision', 'reason'],
  'overlay.table': ['epoch', 'generation', 'full', 'entries', 'hosts', 'vnics'],
  'mgmt.unreachable': ['manager', 'sinceNs', 'waiting'],
  'mgmt.waiting': ['manager', 'what'],
  'mgmt.reachable': ['manager', 'silentNs'],
  'host.vms.powered': ['host', 'on', 'elsewhere', 'manager'],
  'net.rarp': ['mid', 'vm', 'vnic', 'mac', 'host', 'dpu'],
  'net.announce': ['vnic', 'mac', 'round', 'rounds', 'why', 'carrier'],
  'flow.start': ['flow', 'kind', 'vm', 'from', 'to', 'port', 'ratePps', 'payloadBytes', 'count'],
  'flow.stop': ['flow', 'kind', 'vm', 'reason', 'sent'],
  'flow.report': ['flow', 'kind', 'side', 'vm', 'from', 'to', 'port', 'sent', 'delivered', 'lost', 'duplicated', 'reordered', 'highestSeq', 'retransmits', 'rttNs', 'tcpState', 'closeReason', 'unreachable', 'malformed', 'final'],
  'tcp.state': ['vm', 'flow', 'role', 'state', 'previous', 'reason', 'localIp', 'localPort', 'remoteIp', 'remotePort'],
  'guest.arp.resolved': ['vm', 'vnic', 'ip', 'mac', 'after'],
  'guest.arp.failed': ['vm', 'vnic', 'ip', 'probes', 'dropped'],
  'guest.nd.resolved': ['vm', 'vnic', 'ip', 'mac', 'after'],
  'guest.nd.failed': ['vm', 'vnic', 'ip', 'probes', 'dropped'],
  'cost.report': ['nodeKind', 'coreType', 'coresAvailable', 'elapsedNs', 'factor', 'byStep', 'byMode', 'totalCpuNs', 'coresUsed', 'offload'],
  'ipfix.export': ['sequence', 'records', 'templates', 'bytes'],
  'traceflow.observe': ['trace', 'point', 'summary', 'node', 'detail'],
  'ha.role': ['dpu', 'from', 'to', 'reason'],
  'ha.uplinks': ['dpu', 'allDown'],
  'ha.sync.bulk.start': ['bulk', 'reason', 'records', 'messages', 'firstSeq', 'lastSeq'],
  'ha.sync.bulk.acked': ['bulk', 'elapsedNs'],
  'ha.sync.bulk.end': ['bulk', 'messages', 'records', 'seq', 'elapsedNs'],
  'ha.sync.resend': ['count', 'firstSeq', 'lastSeq', 'unacked', 'timeoutNs'],
  'ha.sync.overflow': ['limit', 'firstLostSeq'],
  'ha.sync.gap': ['expected', 'got'],
  'ha.sync.session': ['from', 'to'],
  'ha.sync.request': ['reason'],
  'ha.sync.malformed': ['side', 'message'],
  'ha.sync.commit': ['vnics', 'connections', 'generation', 'macs'],
} as const satisfies { readonly [K in EventKind]: ReadonlyArray<FieldSpec<EventPayloads[K]>> };

/** A field name without its `?`. */
type FieldName<S> = S extends `${infer N}?` ? N : S;
/** Per kind, a payload key {@link EVENT_FIELDS} does not list, written `kind: key`; never when every key is listed. */
type UnlistedField = { [K in EventKind]: `${K}: ${Exclude<KeysOfUnion<EventPayloads[K]>, FieldName<(typeof EVENT_FIELDS)[K][number]>> & string}` }[EventKind];
/** Fails to compile, naming the field, when a payload key is missing from {@link EVENT_FIELDS}. */
type EveryFieldListed<T extends never> = T;
type _EventFieldsComplete = EveryFieldListed<UnlistedField>;

// ---------------------------------------------------------------------------------------------
// Looking kinds up at run time

/** Every event kind, sorted. */
export const ALL_EVENT_KINDS: readonly EventKind[] = (Object.keys(EVENT_MEANINGS) as EventKind[]).sort();

/** Whether a kind (from a log, a filter, a lab file) is one the catalogue declares. */
export function isEventKind(kind: string): kind is EventKind {
  return Object.prototype.hasOwnProperty.call(EVENT_MEANINGS, kind);
}

/** The `event_kinds.description` of a kind: its meaning and its fields (`name?` when some payloads lack it). */
export function describeEventKind(kind: EventKind): string {
  return `${EVENT_MEANINGS[kind]} (payload: ${EVENT_FIELDS[kind].join(', ')})`;
}

/** Every kind with its description, as the recorder writes them to a log's `event_kinds` table. */
export const EVENT_KIND_DESCRIPTIONS: { readonly [K in EventKind]: string } = Object.fromEntries(
  ALL_EVENT_KINDS.map((kind) => [kind, describeEventKind(kind)]),
) as { readonly [K in EventKind]: string };

/**
 * What is wrong with a decoded payload for its kind: a field the catalogue requires that is absent,
 * or a field it does not know. Empty when the payload has the catalogue's fields. For tests and
 * log checks, never the hot path.
 *
 * @example
 * payloadProblems('link.state', { port: 'p0', up: true }); // ['missing field wire']
 */
export function payloadProblems(kind: string, payload: unknown): string[] {
  if (!isEventKind(kind)) return [`unknown event kind ${kind}`];
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return ['payload is not a map'];
  const problems: string[] = [];
  const fields: readonly string[] = EVENT_FIELDS[kind];
  const known = new Set(fields.map((f) => f.replace(/\?$/, '')));
  for (const field of fields) {
    if (!field.endsWith('?') && !(field in payload)) problems.push(`missing field ${field}`);
  }
  for (const key of Object.keys(payload)) if (!known.has(key)) problems.push(`unknown field ${key}`);
  return problems;
}
