/**
 * The standby DPU's copy of its active's state (conntrackd's "external cache"): built from the
 * sync records as they are applied, kept out of the standby's own firewall and switch, and
 * committed into them when the standby takes over (`commitReplica`).
 *
 * Connection idle timers are kept as absolute expiry times on the standby's clock (the record's
 * remaining time counted from when it was applied), so a commit hands each connection the time it
 * has left at that moment. Entries whose time ran out are left out of exports and dropped.
 */
import type { VTime } from '../../../shared/events.js';
import type { NodeContext } from '../../runtime/types.js';
import { connectionKey } from '../../vds/dfw/conntrack.js';
import { DFW_EXPORT_VERSION } from '../../vds/dfw/export.js';
import type { DfwExport, DfwExportedConnection } from '../../vds/dfw/export.js';
import type { DfwImportSummary, DistributedFirewall } from '../../vds/dfw/firewall.js';
import type { DfwRule, VnicIdentity } from '../../vds/dfw/rule.js';
import type { MacLocation } from '../../vds/switching/mac-learning.js';
import type { SyncRecord } from './sync-records.js';

interface ReplicaConnection {
  readonly connection: DfwExportedConnection;
  /** Absolute, on this DPU's clock. */
  readonly expiresAt: VTime;
  readonly createdAt: VTime;
}

interface ReplicaVnic {
  identity: VnicIdentity;
  rules: readonly DfwRule[];
  readonly connections: Map<string, ReplicaConnection>;
}

/** A learned MAC as the replica holds it. */
export interface ReplicaMac {
  readonly segment: string;
  readonly mac: string;
  readonly location: MacLocation;
}

/** Sizes of a replica, for events and inspectors. */
export interface ReplicaCounts {
  vnics: number;
  connections: number;
  macs: number;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The standby's replica of the active DPU's firewall and switch state. */
export class SyncReplica {
  private gen: number | null = null;
  private ruleSet: readonly DfwRule[] = [];
  private readonly filters = new Map<string, ReplicaVnic>();
  private readonly macs = new Map<string, ReplicaMac>();

  /** Applies records in the order given (the receiver's order), at `now` on this DPU's clock. */
  apply(records: readonly SyncRecord[], now: VTime): void {
    for (const record of records) {
      switch (record.kind) {
        case 'reset':
          this.gen = null;
          this.ruleSet = [];
          this.filters.clear();
          this.macs.clear();
          break;
        case 'rules':
          this.gen = record.generation;
          this.ruleSet = record.rules;
          break;
        case 'vnic': {
          const existing = this.filters.get(record.vnic);
          if (existing === undefined) this.filters.set(record.vnic, { identity: record.identity, rules: record.rules, connections: new Map() });
          else {
            existing.identity = record.identity;
            existing.rules = record.rules;
          }
          break;
        }
        case 'conntrack': {
          let filter = this.filters.get(record.vnic);
          if (filter === undefined) {
            filter = { identity: record.fragment.identity, rules: [], connections: new Map() };
            this.filters.set(record.vnic, filter);
          }
          for (const tuple of record.deleted) filter.connections.delete(connectionKey(tuple));
          for (const c of record.fragment.connections) {
            filter.connections.set(connectionKey(c.tuple), { connection: c, expiresAt: now + c.remainingNs, createdAt: now - c.ageNs });
          }
          break;
        }
        case 'vnic-gone':
          this.filters.delete(record.vnic);
          break;
        case 'mac': {
          const id = `${record.segment}/${record.mac}`;
          if (record.location === null) this.macs.delete(id);
          else this.macs.set(id, { segment: record.segment, mac: record.mac, location: record.location });
          break;
        }
      }
    }
  }

  /**
   * Drops a vNIC's replicated filter: its VM left the host (vMotion), so a takeover must not
   * bring it back. A record about it still in flight recreates the entry until the active's
   * `vnic-gone` arrives; `commitReplica` only imports the vNICs it is given, so that stray is
   * never committed.
   */
  forget(vnic: string): void {
    this.filters.delete(vnic);
  }

  /** The rule generation of the active DPU as last replicated, null before any. */
  get generation(): number | null {
    return this.gen;
  }

  /** The management plane's rules as last replicated. */
  rules(): DfwRule[] {
    return [...this.ruleSet];
  }

  /** The vNICs with a replicated filter, sorted. */
  vnics(): string[] {
    return [...this.filters.keys()].sort(byString);
  }

  /**
   * A vNIC's replicated filter as a firewall export at `now` (for `importVnic`): identity, applied
   * rules, and the connections whose idle time has not run out, with the time they have left.
   * `version` is the importing firewall's (`exportVersion`): the replica is this DPU's own state,
   * not a foreign export. Null for a vNIC the replica does not hold.
   */
  exportOf(vnic: string, now: VTime, version: number = DFW_EXPORT_VERSION): DfwExport | null {
    const filter = this.filters.get(vnic);
    if (filter === undefined) return null;
    const connections = [...filter.connections.keys()]
      .sort(byString)
      .map((key) => filter.connections.get(key)!)
      .filter((c) => c.expiresAt > now)
      .map((c) => ({ ...c.connection, remainingNs: c.expiresAt - now, ageNs: Math.max(0, now - c.createdAt) }));
    return { version, vnic, identity: filter.identity, rules: filter.rules, connections };
  }

  /** The replicated learned MACs, sorted by segment and MAC. */
  macEntries(): ReplicaMac[] {
    return [...this.macs.keys()].sort(byString).map((id) => this.macs.get(id)!);
  }

  /** How much the replica holds (connections whose time ran out included until they are dropped). */
  counts(): ReplicaCounts {
    let connections = 0;
    for (const filter of this.filters.values()) connections += filter.connections.size;
    return { vnics: this.filters.size, connections, macs: this.macs.size };
  }

  /** Drops connections whose idle time ran out by `now`; returns how many. */
  prune(now: VTime): number {
    let dropped = 0;
    for (const vnic of this.vnics()) {
      const connections = this.filters.get(vnic)!.connections;
      for (const key of [...connections.keys()].sort(byString)) {
        if (connections.get(key)!.expiresAt > now) continue;
        connections.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  /** A plain-data view: generation, rule ids, per-vNIC connection counts, MAC entries. */
  inspect(now: VTime): unknown {
    return {
      generation: this.gen,
      rules: this.ruleSet.map((r) => r.id),
      vnics: this.vnics().map((vnic) => ({ vnic, connections: this.exportOf(vnic, now)?.connections.length ?? 0 })),
      macs: this.macEntries(),
    };
  }
}

/**
 * Installs the active's rule set, as replicated, into this DPU's own firewall when it is newer than
 * the firewall's; returns the generation installed, or null when the firewall's was as new.
 *
 * A standby does this as the records arrive, not only at a takeover: a DPU that was down when
 * rules were pushed (and restarted as standby) holds only the topology's rules, and the active's
 * snapshot is the one place that still has the rest. Caught up this way, it judges the next push
 * (a removal of a rule it missed) against the same set as its peer. Generations are comparable
 * because every DPU counts the same pushes; a restarted one counts from 0 and jumps to its
 * peer's.
 */
export function installReplicatedRules(ctx: NodeContext, replica: SyncReplica, firewall: DistributedFirewall): number | null {
  if (replica.generation === null || replica.generation <= firewall.generation) return null;
  firewall.setRules(ctx, replica.rules(), replica.generation);
  return replica.generation;
}

/** What a commit installed. */
export interface CommitSummary {
  /** The rule generation installed from the replica, or null when the firewall's own was as new. */
  readonly generation: number | null;
  readonly vnics: readonly DfwImportSummary[];
  readonly connections: number;
  /** Learned MACs the replica held, for the switch (see `SyncReplica.macEntries`). */
  readonly macs: number;
}

/**
 * The standby takes over: the replica goes into its firewall. The replicated rule set is installed
 * first when it is newer than the firewall's (the standby missed pushes); then every replicated
 * vNIC filter (or those of `vnics`) is imported with its connections, each keeping its state, its
 * rule and the idle time it has left, so established traffic goes on without a rule lookup.
 * Records `ha.sync.commit`.
 */
export function commitReplica(ctx: NodeContext, replica: SyncReplica, firewall: DistributedFirewall, vnics: readonly string[] = replica.vnics()): CommitSummary {
  const now = ctx.now();
  const generation = installReplicatedRules(ctx, replica, firewall);
  const imported: DfwImportSummary[] = [];
  for (const vnic of [...vnics].sort(byString)) {
    const exported = replica.exportOf(vnic, now, firewall.exportVersion);
    if (exported !== null) imported.push(firewall.importVnic(exported, now));
  }
  const connections = imported.reduce((n, s) => n + s.connections, 0);
  const macs = replica.macEntries().length;
  ctx.emit('ha.sync.commit', { vnics: imported.map((s) => s.vnic), connections, generation, macs });
  return { generation, vnics: imported, connections, macs };
}
