/**
 * The shape of a topology file, as zod schemas. This is the syntax layer: types, ranges, unit
 * parsing, defaults that need no context, unknown keys. Everything that needs to look at more
 * than one entry (references, uniqueness, subnets, failover policy) lives in `resolve.ts`.
 *
 * The top level is checked with {@link topologyEnvelopeSchema}, whose lists hold unchecked
 * entries; each entry is then checked on its own with the entry schema. A broken entry thus
 * never hides the problems of its neighbours, and the valid ones still get semantic checks.
 */

import { z } from 'zod';
import { AddressError } from '../net/errors.js';
import { parseCidr } from '../net/ip.js';
import type { Cidr, IpFamily } from '../net/ip.js';
import { normalizeMac } from '../net/mac.js';
import type { MacAddress } from '../net/mac.js';
import { NS_PER_MS, NS_PER_S, NS_PER_US, UnitError, formatDuration, parseBandwidth, parseDuration } from '../units.js';
import type { MirrorSession, SegmentSpec, SwitchPortVlans, VlanRange, VnicMode } from './types.js';
import { describeValue, didYouMean } from './yaml-source.js';

/** Ids of nodes, segments, VMs and ports: letters, digits, `.`, `_`, `-`; no `:` (it separates node and port). */
export const NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/** Wire ids may also contain `:`, as the default id `dpu-01a:p0--tor-a:swp1` does. */
export const WIRE_ID_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._:-]*[A-Za-z0-9])?$/;

/** A name as used for ids and references (see {@link NAME_PATTERN}). */
export function nameSchema(what = 'a name') {
  return z.string().regex(NAME_PATTERN, {
    error: (issue) => `expected ${what} of letters, digits, ".", "_" or "-", got ${describeValue(issue.input)}`,
  });
}

/**
 * A duration written with a unit (`5us`, `1.5s`) or `0`, parsed to integer nanoseconds.
 * `minNs` rejects shorter durations; `why` is appended to that message.
 */
export function durationSchema(options: { minNs?: number; why?: string } = {}) {
  const { minNs, why = '' } = options;
  return z
    .union([z.string(), z.number()], {
      error: (issue) => (issue.input === undefined ? undefined : `expected a duration such as 5us or 1.5s, got ${describeValue(issue.input)}`),
    })
    .transform((input, ctx) => {
      let ns: number;
      try {
        ns = parseDuration(input);
      } catch (error) {
        if (!(error instanceof UnitError)) throw error;
        ctx.issues.push({ code: 'custom', message: error.fragment, input });
        return z.NEVER;
      }
      if (minNs !== undefined && ns < minNs) {
        ctx.issues.push({ code: 'custom', message: `must be at least ${formatDuration(minNs)}, got ${describeValue(input)}${why}`, input });
        return z.NEVER;
      }
      return ns;
    });
}

/** A bandwidth (`25Gbps`, `10G`, `1e9`), parsed to bits per second. */
export function bandwidthSchema() {
  return z
    .union([z.string(), z.number()], {
      error: (issue) => (issue.input === undefined ? undefined : `expected a bandwidth such as 25Gbps, got ${describeValue(issue.input)}`),
    })
    .transform((input, ctx) => {
      try {
        return parseBandwidth(input);
      } catch (error) {
        if (!(error instanceof UnitError)) throw error;
        ctx.issues.push({ code: 'custom', message: error.fragment, input });
        return z.NEVER;
      }
    });
}

/**
 * A parsed address as `shared/net` sees it (canonical `address`, `network`, `prefixLength`; a
 * bare address gets the host prefix), plus what only the file says: whether a prefix was written.
 */
export interface WrittenIp extends Cidr {
  /** The prefix length as written, or null when the text had none. */
  readonly prefix: number | null;
  /** The text as written (trimmed), for messages. */
  readonly text: string;
}

/** Parses `address` or `address/prefix` of `family`; null if it is not one. */
function parseWrittenIp(text: string, family: IpFamily): WrittenIp | null {
  let cidr: Cidr;
  try {
    cidr = parseCidr(text);
  } catch (error) {
    if (error instanceof AddressError) return null;
    throw error;
  }
  if (cidr.family !== family) return null;
  return { ...cidr, prefix: text.includes('/') ? cidr.prefixLength : null, text };
}

/** An IP address of `family`; `prefix` says whether a `/len` suffix is required, optional or forbidden. */
function ipSchema(family: IpFamily, prefix: 'required' | 'optional' | 'forbidden', example: string) {
  const v = family === 4 ? 'IPv4' : 'IPv6';
  const what = prefix === 'required' ? `an ${v} subnet` : prefix === 'forbidden' ? `an ${v} address` : `an ${v} address or CIDR`;
  return z.string().transform((text, ctx): WrittenIp => {
    const parsed = parseWrittenIp(text.trim(), family);
    const ok = parsed !== null && (prefix === 'optional' || (prefix === 'required') === (parsed.prefix !== null));
    if (!ok || parsed === null) {
      ctx.issues.push({ code: 'custom', message: `expected ${what} such as ${example}, got ${describeValue(text)}`, input: text });
      return z.NEVER;
    }
    return parsed;
  });
}

/** A MAC address in either accepted spelling, as canonical text. */
const macSchema = z.string().transform((text, ctx): MacAddress => {
  try {
    return normalizeMac(text.trim());
  } catch (error) {
    if (!(error instanceof AddressError)) throw error;
    ctx.issues.push({ code: 'custom', message: `expected a MAC such as 00:50:56:00:00:01, got ${describeValue(text)}`, input: text });
    return z.NEVER;
  }
});

/** Defaults for wires, PCIe, heartbeats and switches, in one place for the schema, docs and tests. */
export const TOPOLOGY_DEFAULTS = {
  wireLatencyNs: 5 * NS_PER_US,
  wireBandwidthBps: 25e9,
  pcieLatencyNs: NS_PER_US,
  pcieBandwidthBps: 64e9,
  heartbeatIntervalNs: 100 * NS_PER_MS,
  heartbeatMisses: 3,
  macAgingNs: 300 * NS_PER_S,
  /** Virtual functions of a DPU (the VF pool's size). */
  dpuVfs: 16,
  /** The DFW export format a DPU writes and reads: version 1, the only one the firewall defines today. */
  dpuDfwExportVersion: 1,
  /** Bridge priority: 32768, the 802.1D-2004 default (Table 17-2). */
  stpPriority: 32768,
  /** Spanning tree timers: the 802.1D-2004 defaults (Table 17-1). */
  stpHelloNs: 2 * NS_PER_S,
  stpMaxAgeNs: 20 * NS_PER_S,
  stpForwardDelayNs: 15 * NS_PER_S,
  /**
   * Storm control, flooded frames per second per port and the burst allowed: an assumption, far
   * above what a lab floods (ARP, RARP, neighbour discovery) and far below the line rate a loop
   * reaches. Switches leave the level to the operator (e.g. `storm-control broadcast level`).
   */
  stormControlPps: 1_000,
  stormControlBurst: 100,
  /**
   * The management network's cables: one switched hop of 1 GbE, the common speed of ESXi management
   * ports and of a DPU's RJ-45 port. The latency is an assumption (a switch and two short cables).
   */
  mgmtLatencyNs: 20 * NS_PER_US,
  mgmtBandwidthBps: 1e9,
} as const;

/** A `node:port` wire end. */
const endpointSchema = z.string().transform((text, ctx) => {
  const match = /^([^:\s]+):([^:\s]+)$/.exec(text.trim());
  if (!match || !NAME_PATTERN.test(match[1] ?? '') || !NAME_PATTERN.test(match[2] ?? '')) {
    ctx.issues.push({ code: 'custom', message: `expected "node:port" such as dpu-01a:p0, got ${describeValue(text)}`, input: text });
    return z.NEVER;
  }
  return { node: match[1] ?? '', port: match[2] ?? '', text: text.trim() };
});

const LOOKAHEAD = " (a wire's latency is its lookahead)";

/** A probability in [0, 1]. */
const probabilitySchema = z.number().min(0).max(1);

const positiveInt = () => z.int().min(1);

/** The GENEVE VNI of the vMotion network, reserved: see `types.ts`. */
export { VMOTION_VNI } from './types.js';

/** VNIC datapath modes; see `VnicMode` in types.ts. */
export const VNIC_MODES = ['uptv2', 'mux', 'emulated'] as const satisfies readonly VnicMode[];

/** Segment kinds; see `SegmentSpec` in types.ts. */
export const SEGMENT_KINDS = ['overlay', 'vlan'] as const satisfies readonly SegmentSpec['kind'][];

/** One entry of `segments:`. VNI/VLAN consistency with `kind` is checked in resolve. */
export const segmentSchema = z.strictObject({
  id: nameSchema('a segment id'),
  kind: z.enum(SEGMENT_KINDS),
  vni: z.int().min(1).max(16_777_215).optional(),
  vlan: z.int().min(1).max(4094).optional(),
  ipv4Subnet: ipSchema(4, 'required', '10.0.1.0/24'),
  ipv6Subnet: ipSchema(6, 'required', 'fd00:1::/64').optional(),
  gateway4: ipSchema(4, 'forbidden', '10.0.1.1').optional(),
  gateway6: ipSchema(6, 'forbidden', 'fd00:1::1').optional(),
});

/** One entry of a VM's `vnics:`. Missing id and MAC are derived in resolve. */
export const vnicSchema = z.strictObject({
  id: nameSchema('a VNIC id').optional(),
  segment: nameSchema('a segment id'),
  mac: macSchema.optional(),
  ipv4: ipSchema(4, 'optional', '10.0.1.11/24'),
  ipv6: ipSchema(6, 'optional', 'fd00:1::11/64').optional(),
  /** vSphere's default for a vmxnet3 VNIC is emulated; UPTv2 and MUX are opt-in per VNIC. */
  mode: z.enum(VNIC_MODES).default('emulated'),
});

/** One entry of a host's `vms:`. Sizes default to a small, fully reserved server VM. */
export const vmSchema = z.strictObject({
  id: nameSchema('a VM id'),
  vcpus: positiveInt().default(2),
  memoryMiB: positiveInt().default(4096),
  /** Defaults to `memoryMiB` (fully reserved, as UPT requires) in resolve. */
  memoryReservationMiB: z.int().min(0).optional(),
  hardwareVersion: positiveInt().default(20),
  driverVersion: positiveInt().default(7),
  /** Guest pages dirtied per second, drives vMotion pre-copy convergence. */
  dirtyPagesPerSec: z.number().min(0).default(2000),
  /** The hot set the guest's writes land in (re-dirtied round after round); defaults to all of `memoryMiB`. */
  workingSetMiB: positiveInt().optional(),
  /** Pages of the rest of memory (the cold remainder) dirtied per second. */
  coldDirtyPagesPerSec: z.number().min(0).default(0),
  vnics: z.array(vnicSchema).default([]),
});

/** One entry of `hosts:`. */
export const hostSchema = z.strictObject({
  id: nameSchema('a host id'),
  x86Cores: positiveInt().default(32),
  heartbeat: z
    .strictObject({
      interval: durationSchema({ minNs: 1 }).default(TOPOLOGY_DEFAULTS.heartbeatIntervalNs),
      misses: positiveInt().default(TOPOLOGY_DEFAULTS.heartbeatMisses),
    })
    .prefault({}),
  /**
   * Whether the host treats its pcie link to a DPU going down (a PCIe surprise-down) as that DPU's
   * failure at once; false: it waits for the heartbeats to miss (docs/dpu-ha.md).
   */
  pcieSurpriseDown: z.boolean().default(true),
  /** Omitted lists are completed in resolve from the host's DPUs (sorted by id). */
  failover: z
    .strictObject({
      active: z.array(nameSchema('a DPU id')).optional(),
      standby: z.array(nameSchema('a DPU id')).optional(),
      /** Go back to the preferred DPU once it is healthy again (default: no automatic failback). */
      failback: z.boolean().optional(),
    })
    .optional(),
  /** Ethernet ports of a classic host (one without DPUs), e.g. `[vmnic0, vmnic1]`. */
  uplinks: z.array(nameSchema('a port name')).optional(),
  /** The implicit host–DPU PCIe wires of this host. */
  pcie: z
    .strictObject({
      latency: durationSchema({ minNs: 1, why: LOOKAHEAD }).default(TOPOLOGY_DEFAULTS.pcieLatencyNs),
      bandwidth: bandwidthSchema().default(TOPOLOGY_DEFAULTS.pcieBandwidthBps),
    })
    .prefault({}),
  vms: z.array(vmSchema).default([]),
});

/** One entry of `dpus:`. */
export const dpuSchema = z.strictObject({
  id: nameSchema('a DPU id'),
  host: nameSchema('a host id').optional(),
  model: z.string().min(1).default('bluefield-2'),
  armCores: positiveInt().default(8),
  /** Ethernet uplinks in failover order. */
  uplinks: z.array(nameSchema('a port name')).min(1).default(['p0', 'p1']),
  /** Virtual functions the DPU offers to UPTv2 vNICs; 0 makes every UPTv2 vNIC run emulated (`no-free-vf`). */
  vfs: z.int().min(0).default(TOPOLOGY_DEFAULTS.dpuVfs),
  /** The DFW export version this DPU writes on vMotion and the only one it imports (fail closed on any other). */
  dfwExportVersion: positiveInt().default(TOPOLOGY_DEFAULTS.dpuDfwExportVersion),
});

/** The VLAN ids a port can carry: 0 means "priority tag only" and 4095 is reserved (IEEE 802.1Q). */
export const VLAN_ID_MIN = 1;
export const VLAN_ID_MAX = 4094;

/** The native VLAN of a trunk and the VLANs it allows when the file does not say: the switch default. */
export const DEFAULT_NATIVE_VLAN = 1;
export const ALL_VLANS: readonly VlanRange[] = [{ first: VLAN_ID_MIN, last: VLAN_ID_MAX }];

/** Switch port VLAN modes; see `SwitchPortVlans` in types.ts. */
export const SWITCH_PORT_MODES = ['access', 'trunk'] as const satisfies readonly SwitchPortVlans['mode'][];

/** Mirror directions; see `MirrorSession` in types.ts. */
export const MIRROR_DIRECTIONS = ['rx', 'tx', 'both'] as const satisfies readonly MirrorSession['direction'][];

const vlanIdSchema = () => z.int().min(VLAN_ID_MIN).max(VLAN_ID_MAX);

/** One item of a trunk's `allowed:` list: a VLAN id (`10`) or an inclusive range (`100-199`). */
const vlanRangeSchema = z
  .union([z.number(), z.string()], {
    error: (issue) => (issue.input === undefined ? undefined : `expected a VLAN id such as 10 or a range such as 100-199, got ${describeValue(issue.input)}`),
  })
  .transform((input, ctx): VlanRange => {
    const match = typeof input === 'number' ? null : /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(input);
    const first = typeof input === 'number' ? input : Number(match?.[1] ?? Number.NaN);
    const last = typeof input === 'number' ? input : Number(match?.[2] ?? match?.[1] ?? Number.NaN);
    const inRange = (n: number): boolean => Number.isInteger(n) && n >= VLAN_ID_MIN && n <= VLAN_ID_MAX;
    if (!inRange(first) || !inRange(last)) {
      ctx.issues.push({ code: 'custom', message: `expected a VLAN id from ${VLAN_ID_MIN} to ${VLAN_ID_MAX} or a range such as 100-199, got ${describeValue(input)}`, input });
      return z.NEVER;
    }
    if (first > last) {
      ctx.issues.push({ code: 'custom', message: `range ${describeValue(input)} ends before it starts`, input });
      return z.NEVER;
    }
    return { first, last };
  });

/** An access port: one VLAN, untagged. */
const accessPortSchema = z.strictObject({
  mode: z.literal('access'),
  vlan: vlanIdSchema(),
});

/** A trunk port: tagged VLANs (default all), untagged frames in the native VLAN (default 1). */
const trunkPortSchema = z.strictObject({
  mode: z.literal('trunk'),
  allowed: z.array(vlanRangeSchema).min(1).default([...ALL_VLANS]),
  native: vlanIdSchema().default(DEFAULT_NATIVE_VLAN),
});

/** One value of a switch's `portConfig:` map, told apart by `mode`. */
export const switchPortSchema = z.discriminatedUnion('mode', [accessPortSchema, trunkPortSchema], {
  error: (issue) => {
    const input = issue.input;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
    const mode: unknown = (input as Record<string, unknown>).mode;
    if (mode === undefined) return 'required (access or trunk)';
    const hint = typeof mode === 'string' ? didYouMean(mode, SWITCH_PORT_MODES) : '';
    return `expected "access" or "trunk", got ${describeValue(mode)}${hint}`;
  },
});

/** One entry of a switch's `mirror:` list: a port mirroring (SPAN) session. */
export const mirrorSchema = z.strictObject({
  name: nameSchema('a mirror session name'),
  sources: z.array(nameSchema('a port name')).min(1),
  /** Frames received on the sources, sent by them, or both (the usual switch default). */
  direction: z.enum(MIRROR_DIRECTIONS).default('both'),
  destination: nameSchema('a port name'),
});

/** A switch's `stp:` settings, 802.1D-2004 defaults (17.13, Table 17-1). */
export const stpSchema = z.strictObject({
  priority: z
    .int()
    .min(0)
    .max(61440)
    .refine((n) => n % 4096 === 0, { error: 'must be a multiple of 4096 (0, 4096, ..., 61440)' })
    .default(TOPOLOGY_DEFAULTS.stpPriority),
  hello: durationSchema({ minNs: 1 }).default(TOPOLOGY_DEFAULTS.stpHelloNs),
  maxAge: durationSchema({ minNs: 1 }).default(TOPOLOGY_DEFAULTS.stpMaxAgeNs),
  forwardDelay: durationSchema({ minNs: 1 }).default(TOPOLOGY_DEFAULTS.stpForwardDelayNs),
});

/** A switch's `stormControl:` settings. */
export const stormControlSchema = z.strictObject({
  pps: z.int().min(1).default(TOPOLOGY_DEFAULTS.stormControlPps),
  burst: z.int().min(1).default(TOPOLOGY_DEFAULTS.stormControlBurst),
});

/** One entry of `switches:`. `ports: 8` means `swp1`..`swp8`. */
export const switchSchema = z.strictObject({
  id: nameSchema('a switch id'),
  ports: z.union([z.int().min(1).max(4096), z.array(nameSchema('a port name')).min(1)], {
    error: (issue) =>
      issue.input === undefined ? undefined : `expected a port count such as 8 or a list of port names, got ${describeValue(issue.input)}`,
  }),
  /** Forwarding-table aging; 300 s is the common switch and Linux bridge default. */
  macAging: durationSchema({ minNs: 1 }).default(TOPOLOGY_DEFAULTS.macAgingNs),
  /** VLAN mode per port; ports left out are trunks for every VLAN with native VLAN 1. */
  portConfig: z.record(z.string(), switchPortSchema).optional(),
  /** Port mirroring sessions. */
  mirror: z.array(mirrorSchema).optional(),
  /**
   * Rapid spanning tree on the ports that face other switches running one: `true` for the
   * defaults, or the bridge priority and timers. A loop among switches is refused without it.
   */
  stp: z.union([z.boolean(), stpSchema]).optional(),
  /** Broadcast, multicast and unknown-unicast frames admitted per port; `false` turns it off. */
  stormControl: z.union([z.literal(false), stormControlSchema]).optional(),
});

/**
 * The `manager:` map: the cluster's management plane (vCenter and NSX Manager) as a node of its
 * own. Every host and DPU gets an implicit management cable to it (`mgmt-<node>`) with this
 * latency and bandwidth.
 */
export const managerSchema = z.strictObject({
  id: nameSchema('a manager id'),
  latency: durationSchema({ minNs: 1, why: LOOKAHEAD }).default(TOPOLOGY_DEFAULTS.mgmtLatencyNs),
  bandwidth: bandwidthSchema().default(TOPOLOGY_DEFAULTS.mgmtBandwidthBps),
});

/** One entry of `wires:` (Ethernet only; PCIe wires are implicit). */
export const wireSchema = z.strictObject({
  id: z
    .string()
    .regex(WIRE_ID_PATTERN, { error: (issue) => `expected a wire id of letters, digits, ".", "_", ":" or "-", got ${describeValue(issue.input)}` })
    .optional(),
  a: endpointSchema,
  b: endpointSchema,
  latency: durationSchema({ minNs: 1, why: LOOKAHEAD }).default(TOPOLOGY_DEFAULTS.wireLatencyNs),
  bandwidth: bandwidthSchema().default(TOPOLOGY_DEFAULTS.wireBandwidthBps),
  impairments: z
    .strictObject({
      loss: probabilitySchema.default(0),
      corrupt: probabilitySchema.default(0),
      duplicate: probabilitySchema.default(0),
      jitter: durationSchema().default(0),
    })
    .prefault({}),
});

/**
 * Keys of each list's entries that a broken value can be dropped from, so that the rest of the
 * entry is still resolved: their defaults cannot cause problems elsewhere. Unknown keys are
 * always dropped. A broken key not listed here (an id, a reference, a port list) takes the
 * whole entry out of resolution instead, rather than risk misleading follow-on problems.
 */
export const DROPPABLE_KEYS = {
  segments: ['gateway4', 'gateway6'],
  hosts: ['x86Cores', 'heartbeat', 'pcieSurpriseDown', 'failover', 'pcie', 'vms'],
  dpus: ['model', 'armCores', 'vfs', 'dfwExportVersion'],
  switches: ['macAging', 'portConfig', 'mirror'],
  wires: ['id', 'latency', 'bandwidth', 'impairments'],
} as const satisfies Record<string, readonly string[]>;

/** The top level, with list entries left unchecked (each is checked with its own schema). */
export const topologyEnvelopeSchema = z.strictObject({
  /** Defaults to the file name without its extension. */
  name: z.string().min(1).optional(),
  segments: z.array(z.unknown()).default([]),
  hosts: z.array(z.unknown()).min(1),
  dpus: z.array(z.unknown()).default([]),
  switches: z.array(z.unknown()).default([]),
  wires: z.array(z.unknown()).default([]),
  /** Checked on its own with {@link managerSchema}. */
  manager: z.unknown().optional(),
});

/** The whole file in one schema: for documentation, editors and tools; the loader checks entry by entry. */
export const topologyFileSchema = topologyEnvelopeSchema.extend({
  segments: z.array(segmentSchema).default([]),
  hosts: z.array(hostSchema).min(1),
  dpus: z.array(dpuSchema).default([]),
  switches: z.array(switchSchema).default([]),
  wires: z.array(wireSchema).default([]),
  manager: managerSchema.optional(),
});

/** A checked `segments:` entry. */
export type SegmentEntry = z.output<typeof segmentSchema>;
/** A checked `hosts:` entry. */
export type HostEntry = z.output<typeof hostSchema>;
/** A checked VM entry. */
export type VmEntry = z.output<typeof vmSchema>;
/** A checked VNIC entry. */
export type VnicEntry = z.output<typeof vnicSchema>;
/** A checked `dpus:` entry. */
export type DpuEntry = z.output<typeof dpuSchema>;
/** A checked `switches:` entry. */
export type SwitchEntry = z.output<typeof switchSchema>;
/** A checked `wires:` entry. */
export type WireEntry = z.output<typeof wireSchema>;
/** A checked `manager:` map. */
export type ManagerEntry = z.output<typeof managerSchema>;
/** A checked topology file. */
export type TopologyFile = z.output<typeof topologyFileSchema>;
