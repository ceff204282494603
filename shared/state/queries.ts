/**
 * Questions every view asks of a {@link ClusterState}, answered one way: where a VM runs, which
 * migration or failover is under way, what role a DPU has, how loaded a wire is.
 */
import { LOAD_BUCKET_NS, LOAD_WINDOW_BUCKETS, type ClusterState, type FailoverView, type MigrationView, type WireLoadView } from './cluster-state.js';

/** Where a VM runs at this point of the run: where it booted or a vMotion took it, else `topologyHost`. */
export function vmHostOf(state: ClusterState, vm: string, topologyHost: string): string {
  return state.vms[vm]?.host ?? topologyHost;
}

/** The vMotion under way for a VM, or null. */
export function migrationUnderWay(state: ClusterState, vm: string): MigrationView | null {
  const mid = state.vms[vm]?.migration;
  return mid ? (state.migrations[mid] ?? null) : null;
}

/** The latest vMotion of a VM (under way or finished), or null. */
export function lastMigration(state: ClusterState, vm: string): MigrationView | null {
  let last: MigrationView | null = null;
  for (const migration of Object.values(state.migrations)) if (migration.vm === vm) last = migration;
  return last;
}

/** The latest failover of a host (under way or finished, `impossible` ones included), or null. */
export function lastFailover(state: ClusterState, host: string): FailoverView | null {
  for (let i = state.failovers.length - 1; i >= 0; i--) if (state.failovers[i]!.host === host) return state.failovers[i]!;
  return null;
}

/**
 * A DPU's role as its host states it; before the host has spoken, as the DPU states it; before
 * either, `policyRole` (the topology's). The host decides roles, so its word wins.
 */
export function dpuRoleOf(state: ClusterState, dpu: string, policyRole: string | null = null): string | null {
  const view = state.dpus[dpu];
  const own = view?.ownRole === 'active' || view?.ownRole === 'standby' ? view.ownRole : null;
  return view?.role ?? own ?? policyRole;
}

/**
 * Frames per second of virtual time a wire carried over the {@link LOAD_WINDOW_BUCKETS} buckets
 * ending at `vtime`.
 */
export function wireFramesPerSecond(load: WireLoadView | undefined, vtime: number): number {
  if (!load) return 0;
  const bucket = Math.floor(vtime / LOAD_BUCKET_NS);
  let frames = 0;
  for (const [index, count] of load.buckets) if (index > bucket - LOAD_WINDOW_BUCKETS && index <= bucket) frames += count;
  return frames / ((LOAD_WINDOW_BUCKETS * LOAD_BUCKET_NS) / 1e9);
}
