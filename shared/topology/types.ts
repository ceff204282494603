import type { VTime } from '../events.js';

/**
 * The resolved topology: what every process works from once a topology file has been parsed,
 * validated and expanded (implicit pcie wires added, ports and MACs assigned, defaults filled).
 * Lists are sorted by id so that iterating them never depends on file order.
 */
export interface ResolvedTopology {
  readonly name: string;
  readonly nodes: readonly ResolvedNode[];
  readonly wires: readonly ResolvedWire[];
  readonly segments: readonly SegmentSpec[];
}

export type NodeKind = 'host' | 'dpu' | 'switch' | 'manager';

/**
 * The GENEVE VNI of the vMotion network (host-to-host vMotion datagrams tunnelled between DPUs,
 * see `processes/vds/vmotion-net.ts`): the highest 24-bit VNI, kept out of every segment so a
 * tunnelled vMotion datagram is never taken for a VM's frame. It lives here, with the types,
 * so that node processes get it without the topology loader (its schema and the YAML parser).
 */
export const VMOTION_VNI = 16_777_215;

export interface PortSpec {
  /** Port name, unique on its node: `p0` on a DPU, `swp3` on a switch, a DPU id on a host. */
  readonly name: string;
  /** Locally administered MAC of the port, derived from node and port names. */
  readonly mac: string;
}

interface NodeBase {
  readonly id: string;
  readonly ports: readonly PortSpec[];
}

export interface HostNode extends NodeBase {
  readonly kind: 'host';
  readonly spec: HostSpec;
}
export interface DpuNode extends NodeBase {
  readonly kind: 'dpu';
  readonly spec: DpuSpec;
}
export interface SwitchNode extends NodeBase {
  readonly kind: 'switch';
  readonly spec: SwitchSpec;
}
export interface ManagerNode extends NodeBase {
  readonly kind: 'manager';
  readonly spec: ManagerSpec;
}
export type ResolvedNode = HostNode | DpuNode | SwitchNode | ManagerNode;

export interface HostSpec {
  readonly id: string;
  readonly x86Cores: number;
  /** DPU ids on this host, sorted. Empty: a classic host with a software switch on x86. */
  readonly dpus: readonly string[];
  readonly heartbeat: { readonly intervalNs: VTime; readonly misses: number };
  /** A DPU whose pcie link drops is UNAVAILABLE at once (PCIe surprise-down); false: only missed heartbeats tell. */
  readonly pcieSurpriseDown: boolean;
  /** DPU HA policy: active uplinks all on one DPU, standby on another; empty standby: no failover. */
  readonly failover: {
    readonly active: readonly string[];
    readonly standby: readonly string[];
    /** Return to the preferred DPU once it is healthy again; false: it rejoins as standby. */
    readonly failback: boolean;
  };
  readonly vms: readonly VmSpec[];
  /** The management plane this host answers to (its `mgmt` port is cabled to it), null without one. */
  readonly manager: string | null;
}

export interface DpuSpec {
  readonly id: string;
  readonly host: string;
  readonly model: string;
  readonly armCores: number;
  /** Uplink port names, in explicit failover order. */
  readonly uplinks: readonly string[];
  /** Initial HA role, from the host's failover policy. */
  readonly role: 'active' | 'standby';
  /** Virtual functions the DPU offers (default 16). */
  readonly vfs: number;
  /** The DFW export version the DPU writes and the only one it imports (default 1). */
  readonly dfwExportVersion: number;
  /** The management plane this DPU answers to (its RJ-45 `mgmt` port is cabled to it), null without one. */
  readonly manager: string | null;
}

/**
 * The management plane of the cluster (vCenter with NSX Manager and its central control plane):
 * one node with one port per host and DPU it manages, each cabled to that node's `mgmt` port by an
 * implicit wire `mgmt-<node>` (the out-of-band management network).
 */
export interface ManagerSpec {
  readonly id: string;
  /** The hosts and DPUs it manages, sorted: every one of the topology. */
  readonly manages: readonly string[];
}

export interface SwitchSpec {
  readonly id: string;
  readonly ports: readonly string[];
  readonly macAgingNs: VTime;
  /**
   * The VLAN mode of every port, keyed by port name, in port order. The loader fills in every
   * port (default: a trunk allowing VLANs 1-4094, native VLAN 1); a topology built by hand may
   * leave it out or leave ports out, with that same default.
   */
  readonly portConfig?: Readonly<Record<string, SwitchPortVlans>>;
  /** Port mirroring sessions, in file order; absent or empty: none. */
  readonly mirror?: readonly MirrorSession[];
  /** The rapid spanning tree this switch runs on ports that face switches running one; absent or null: none. */
  readonly stp?: StpSpec | null;
  /** Broadcast, multicast and unknown-unicast limit per port; absent or null: none. */
  readonly stormControl?: StormControlSpec | null;
}

/** A switch's spanning tree settings (802.1D-2004 defaults: hello 2 s, max age 20 s, forward delay 15 s). */
export interface StpSpec {
  /** Bridge priority, a multiple of 4096 from 0 to 61440; lowest becomes root (default 32768). */
  readonly priority: number;
  readonly helloNs: VTime;
  readonly maxAgeNs: VTime;
  readonly forwardDelayNs: VTime;
}

/**
 * Storm control on every port of a switch: frames that would be flooded (broadcast, multicast,
 * unknown unicast) are admitted by a token bucket of `pps` per second holding at most `burst`;
 * the rest are dropped and counted, and `switch.storm` says when suppression starts and ends.
 */
export interface StormControlSpec {
  readonly pps: number;
  readonly burst: number;
}

/** An inclusive range of VLAN ids. */
export interface VlanRange {
  readonly first: number;
  readonly last: number;
}

/**
 * How a switch port handles 802.1Q tags. An access port carries one VLAN, untagged. A trunk
 * carries the `allowed` VLANs tagged, except its `native` VLAN, which it carries untagged (and
 * only if `native` is allowed).
 */
export type SwitchPortVlans =
  | { readonly mode: 'access'; readonly vlan: number }
  | {
      readonly mode: 'trunk';
      /** Sorted, merged, non-overlapping ranges. */
      readonly allowed: readonly VlanRange[];
      readonly native: number;
    };

/**
 * A port mirroring (SPAN) session: copies of the frames received (`rx`), sent (`tx`) or both on
 * the source ports go out of the destination port, unmodified. The destination port carries
 * nothing else.
 */
export interface MirrorSession {
  readonly name: string;
  readonly sources: readonly string[];
  readonly direction: 'rx' | 'tx' | 'both';
  readonly destination: string;
}

export type VnicMode = 'uptv2' | 'mux' | 'emulated';

export interface VnicSpec {
  readonly id: string;
  readonly mac: string;
  readonly segment: string;
  /** CIDR, e.g. 10.0.1.11/24 */
  readonly ipv4: string;
  readonly ipv6: string | null;
  readonly mode: VnicMode;
}

export interface VmSpec {
  readonly id: string;
  readonly host: string;
  readonly vcpus: number;
  readonly memoryMiB: number;
  readonly memoryReservationMiB: number;
  readonly hardwareVersion: number;
  /** Guest vmxnet3 driver version (major), UPTv2 needs 7 or later. */
  readonly driverVersion: number;
  /** Guest page writes per second, all into the hot set (`workingSetMiB`): vMotion re-sends what they dirtied. */
  readonly dirtyPagesPerSec: number;
  /** The hot set the writes land in: however long a round, no more of it than this is dirty (default all of memory). */
  readonly workingSetMiB: number;
  /** Pages of the cold remainder (memory outside the hot set) dirtied per second (default 0). */
  readonly coldDirtyPagesPerSec: number;
  readonly vnics: readonly VnicSpec[];
}

export interface SegmentSpec {
  readonly id: string;
  readonly kind: 'overlay' | 'vlan';
  /** GENEVE VNI for overlay segments, null for VLAN segments. */
  readonly vni: number | null;
  /** 802.1Q VLAN id for VLAN segments, null for overlay segments. */
  readonly vlan: number | null;
  readonly ipv4Subnet: string;
  readonly ipv6Subnet: string | null;
  /** Distributed-router gateway address on this segment, if routed. */
  readonly gateway4: string | null;
  readonly gateway6: string | null;
}

/**
 * `ethernet`: a cable of the data network (uplinks, inter-switch links); `pcie`: a host to one of
 * its DPUs; `mgmt`: an out-of-band management cable from a host's or DPU's `mgmt` port to the
 * manager (implicit, `mgmt-<node>`).
 */
export type WireKind = 'ethernet' | 'pcie' | 'mgmt';

export interface WireEnd {
  readonly node: string;
  readonly port: string;
}

export interface Impairments {
  /** Probabilities in [0, 1]. */
  readonly loss: number;
  readonly corrupt: number;
  readonly duplicate: number;
  /** Extra delay drawn uniformly in [0, jitterNs]. */
  readonly jitterNs: VTime;
}

export interface ResolvedWire {
  readonly id: string;
  readonly kind: WireKind;
  readonly a: WireEnd;
  readonly b: WireEnd;
  /** One-way latency; always >= 1 ns, it is the wire's lookahead. */
  readonly latencyNs: VTime;
  readonly bandwidthBps: number;
  readonly impairments: Impairments;
}
