/**
 * What a DPU's takeover costs: the work a standby does, on its Arm cores, when it becomes the
 * active DPU of its host. It commits the replicated firewall state, binds a VF to every vNIC and
 * loads its device state, programs its switch with the host's vNICs and learned MACs, and points
 * the overlay's tunnels at itself (its tunnel endpoint for the host, one announcement per vNIC).
 * The parameters are in ns of one x86 core, as every cost parameter; a DPU's meter multiplies them
 * by the Arm slowdown. `docs/cost-model.md` gives the sources and marks the assumptions.
 */

/** The four parts of a takeover, as `cost.report` and `dpu.failover.done` name them. */
export type TakeoverStep = 'takeover-replica-commit' | 'takeover-vf-bind' | 'takeover-switch' | 'takeover-tunnel';

/** Every takeover step, sorted. */
export const TAKEOVER_STEPS: readonly TakeoverStep[] = ['takeover-replica-commit', 'takeover-switch', 'takeover-tunnel', 'takeover-vf-bind'];

/** A fixed part and a part per item, in ns of one x86 core. */
export interface TakeoverParameter {
  readonly fixedNs: number;
  readonly perItemNs: number;
}

/**
 * The defaults. No public figure gives these: each is an assumption, sized as a control-plane
 * operation (a table install or a device configuration through firmware), not a per-packet one.
 * - replica commit: per connection entry installed into the connection table;
 * - VF bind and state load: per vNIC, a VF configured and its vmxnet3 state loaded;
 * - switch: per vNIC port and per learned MAC programmed;
 * - tunnel: per vNIC announced behind this DPU's tunnel endpoint.
 */
export const TAKEOVER_PARAMETERS: Readonly<Record<TakeoverStep, TakeoverParameter>> = {
  'takeover-replica-commit': { fixedNs: 20_000, perItemNs: 1_000 },
  'takeover-vf-bind': { fixedNs: 10_000, perItemNs: 40_000 },
  'takeover-switch': { fixedNs: 10_000, perItemNs: 2_000 },
  'takeover-tunnel': { fixedNs: 10_000, perItemNs: 5_000 },
};

/** What a takeover has to do: the items each step works through. */
export interface TakeoverWork {
  /** Connection entries in the replica. */
  readonly connections: number;
  /** The host's vNICs (each gets a VF, a switch port and an announcement). */
  readonly vnics: number;
  /** Learned MACs in the replica, programmed into the switch. */
  readonly macs: number;
}

/** A takeover's cost per step, in ns of Arm CPU (the slowdown applied), and their sum. */
export interface TakeoverCost {
  readonly replicaCommitNs: number;
  readonly vfBindNs: number;
  readonly switchNs: number;
  readonly tunnelNs: number;
  readonly totalNs: number;
}

/** The x86 ns of each step for `work`, before any slowdown. */
export function takeoverWorkNs(work: TakeoverWork, p: Readonly<Record<TakeoverStep, TakeoverParameter>> = TAKEOVER_PARAMETERS): Record<TakeoverStep, number> {
  const of = (step: TakeoverStep, items: number): number => p[step].fixedNs + items * p[step].perItemNs;
  return {
    'takeover-replica-commit': of('takeover-replica-commit', work.connections),
    'takeover-vf-bind': of('takeover-vf-bind', work.vnics),
    'takeover-switch': of('takeover-switch', work.vnics + work.macs),
    'takeover-tunnel': of('takeover-tunnel', work.vnics),
  };
}
