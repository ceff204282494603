/**
 * What the active DPU has to tell its standby: the difference between its state now and what it
 * last sent. The state is captured as plain data with the firewall's own export (`captureState`);
 * the tracker turns two captures into sync records.
 *
 * A connection is sent when it is new, when its state, rule or TCP close tracking changed, and when
 * its idle timer was pushed back by more than `refreshNs` since it was last sent (so the standby's
 * copy never expires much earlier than the original; byte and packet counters ride along but do not
 * by themselves cause a send). Connections that disappear (expired, removed) are sent as deletions.
 */
import type { VTime } from '../../../shared/events.js';
import { connectionKey } from '../../vds/dfw/conntrack.js';
import type { ConnectionTuple } from '../../vds/dfw/conntrack.js';
import { DFW_EXPORT_VERSION } from '../../vds/dfw/export.js';
import type { DfwExport, DfwExportedConnection } from '../../vds/dfw/export.js';
import type { DistributedFirewall } from '../../vds/dfw/firewall.js';
import { DFW_DEFAULT_RULE_ID } from '../../vds/dfw/rule.js';
import type { DfwRule } from '../../vds/dfw/rule.js';
import type { LearnedMac, MacLocation } from '../../vds/switching/mac-learning.js';
import type { OverlaySwitch } from '../../vds/switching/overlay-switch.js';
import { HaSetupError } from './errors.js';
import type { ConntrackRecord, SyncRecord } from './sync-records.js';

/** The replicated state of a DPU at one instant, plain data. */
export interface HaStateView {
  /** The firewall's rule generation. */
  readonly generation: number;
  /** The management plane's rules in force, in evaluation order, without the default rule. */
  readonly rules: readonly DfwRule[];
  /** Every vNIC filter's export, sorted by vNIC. */
  readonly vnics: readonly DfwExport[];
  /** The switch's learned MAC tables, by segment. */
  readonly macs: Readonly<Record<string, readonly LearnedMac[]>>;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Captures what the standby needs from an active DPU's firewall and switch at `now`: the rule set,
 * the export of each of `vnics` that has a filter, and the learned MAC tables (none without a switch).
 */
export function captureState(firewall: DistributedFirewall, sw: OverlaySwitch | null, vnics: readonly string[], now: VTime): HaStateView {
  return {
    generation: firewall.generation,
    rules: firewall.ruleSet().filter((r) => r.id !== DFW_DEFAULT_RULE_ID),
    vnics: [...vnics]
      .sort(byString)
      .filter((v) => firewall.attached(v))
      .map((v) => firewall.exportVnic(v, now)),
    macs: sw === null ? {} : sw.inspect(now).macTables,
  };
}

/** Options of a tracker. */
export interface ChangeTrackerOptions {
  /** A connection whose idle timer moved later by more than this is sent again (default 1 s). */
  readonly refreshNs?: VTime;
  /** Connections per `conntrack` record at most (default 16). */
  readonly connectionsPerRecord?: number;
}

interface SentConnection {
  readonly tuple: ConnectionTuple;
  readonly fingerprint: string;
  readonly expiresAt: VTime;
}

interface SentVnic {
  readonly filter: string;
  readonly connections: Map<string, SentConnection>;
}

/** What a connection's record says besides its timer and counters: a change of it is always sent. */
function fingerprintOf(c: DfwExportedConnection): string {
  return JSON.stringify([c.state, c.ruleId, c.direction, c.close]);
}

function locationKey(location: MacLocation): string {
  return location.kind === 'vnic' ? `vnic ${location.vnic}` : location.kind === 'tep' ? `tep ${location.tep}` : `uplink ${location.port}`;
}

/** Turns successive captures of the active DPU's state into the sync records that bring a replica along. */
export class ChangeTracker {
  private readonly refreshNs: VTime;
  private readonly perRecord: number;
  private generation: number | null = null;
  private vnics = new Map<string, SentVnic>();
  private macs = new Map<string, { segment: string; mac: string; key: string }>();

  constructor(options: ChangeTrackerOptions = {}) {
    this.refreshNs = options.refreshNs ?? 1_000_000_000;
    this.perRecord = options.connectionsPerRecord ?? 16;
    if (!Number.isSafeInteger(this.refreshNs) || this.refreshNs < 0) throw new HaSetupError('bad-option', `refreshNs must be a non-negative integer, not ${this.refreshNs}`);
    if (!Number.isSafeInteger(this.perRecord) || this.perRecord < 1) throw new HaSetupError('bad-option', `connectionsPerRecord must be a positive integer, not ${this.perRecord}`);
  }

  /** Everything, as if nothing had been sent: the records of a bulk. What follows is relative to it. */
  snapshot(state: HaStateView, now: VTime): SyncRecord[] {
    this.generation = null;
    this.vnics = new Map();
    this.macs = new Map();
    return this.changes(state, now);
  }

  /** The records that bring a replica from the last capture sent to `state`, in a fixed order. */
  changes(state: HaStateView, now: VTime): SyncRecord[] {
    const out: SyncRecord[] = [];
    if (state.generation !== this.generation) {
      out.push({ kind: 'rules', generation: state.generation, rules: state.rules });
      this.generation = state.generation;
    }
    const seen = new Set<string>();
    for (const exported of [...state.vnics].sort((a, b) => byString(a.vnic, b.vnic))) {
      seen.add(exported.vnic);
      this.vnicChanges(exported, now, out);
    }
    for (const vnic of [...this.vnics.keys()].sort(byString)) {
      if (seen.has(vnic)) continue;
      this.vnics.delete(vnic);
      out.push({ kind: 'vnic-gone', vnic });
    }
    this.macChanges(state.macs, out);
    return out;
  }

  private vnicChanges(exported: DfwExport, now: VTime, out: SyncRecord[]): void {
    const filter = JSON.stringify([exported.identity, exported.rules]);
    let sent = this.vnics.get(exported.vnic);
    if (sent === undefined || sent.filter !== filter) {
      out.push({ kind: 'vnic', vnic: exported.vnic, identity: exported.identity, rules: exported.rules });
      sent = { filter, connections: sent?.connections ?? new Map() };
      this.vnics.set(exported.vnic, sent);
    }
    const upserts: DfwExportedConnection[] = [];
    const current = new Set<string>();
    for (const c of exported.connections) {
      const key = connectionKey(c.tuple);
      current.add(key);
      const fingerprint = fingerprintOf(c);
      const expiresAt = now + c.remainingNs;
      const previous = sent.connections.get(key);
      if (previous !== undefined && previous.fingerprint === fingerprint && expiresAt - previous.expiresAt <= this.refreshNs) continue;
      upserts.push(c);
      sent.connections.set(key, { tuple: c.tuple, fingerprint, expiresAt });
    }
    const deleted: ConnectionTuple[] = [];
    for (const key of [...sent.connections.keys()].sort(byString)) {
      if (current.has(key)) continue;
      deleted.push(sent.connections.get(key)!.tuple);
      sent.connections.delete(key);
    }
    if (upserts.length === 0 && deleted.length === 0) return;
    const record = (connections: DfwExportedConnection[], gone: ConnectionTuple[]): ConntrackRecord => ({
      kind: 'conntrack',
      vnic: exported.vnic,
      fragment: { version: DFW_EXPORT_VERSION, vnic: exported.vnic, identity: exported.identity, rules: [], connections },
      deleted: gone,
    });
    out.push(record(upserts.slice(0, this.perRecord), deleted));
    for (let i = this.perRecord; i < upserts.length; i += this.perRecord) out.push(record(upserts.slice(i, i + this.perRecord), []));
  }

  private macChanges(tables: HaStateView['macs'], out: SyncRecord[]): void {
    const current = new Map<string, { segment: string; mac: string; location: MacLocation }>();
    for (const segment of Object.keys(tables).sort(byString)) {
      for (const entry of tables[segment] ?? []) current.set(`${segment}/${entry.mac}`, { segment, mac: entry.mac, location: entry.location });
    }
    for (const id of [...current.keys()].sort(byString)) {
      const entry = current.get(id)!;
      const key = locationKey(entry.location);
      if (this.macs.get(id)?.key === key) continue;
      this.macs.set(id, { segment: entry.segment, mac: entry.mac, key });
      out.push({ kind: 'mac', segment: entry.segment, mac: entry.mac, location: { ...entry.location } });
    }
    for (const id of [...this.macs.keys()].sort(byString)) {
      if (current.has(id)) continue;
      const gone = this.macs.get(id)!;
      this.macs.delete(id);
      out.push({ kind: 'mac', segment: gone.segment, mac: gone.mac, location: null });
    }
  }
}
