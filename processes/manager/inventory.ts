/**
 * The manager's inventory of the cluster and the overlay table it derives from it.
 *
 * It holds the hosts (their DPUs, which one serves them now, hence their tunnel endpoint), the VMs
 * and where they run, and their vNICs (MAC, addresses, segment: fixed by the topology). From that
 * it derives the overlay's MAC/IP-to-tunnel-endpoint table: one entry per vNIC of a VM whose host
 * and tunnel endpoint are known, and each host's endpoint.
 *
 * The table is versioned: `epoch` is the manager's boot (0 at the start of the run, else its boot
 * time in microseconds), `generation` counts the changes within it. Each change records which
 * hosts and vNICs it touched, so a node that holds an older generation of the same epoch can be
 * sent only what changed since (a delta); anything else gets the whole table.
 *
 * At the start of the run the manager knows everything from the topology (it deployed it), and
 * generation 0 is exactly the table every DPU builds from the topology. A manager that restarted
 * knows nothing until the hosts report: until then its table holds only what they said.
 */
import type { VTime } from '../../shared/events.js';
import type { ResolvedTopology, VmSpec } from '../../shared/topology/types.js';
import type { HostTep, OverlayEntry } from '../mgmt/messages.js';
import { tepOf } from '../vds/switching/tep.js';
import type { NodeContext } from '../runtime/types.js';

interface HostRecord {
  readonly host: string;
  readonly dpus: readonly string[];
  /** The DPU serving the host now (null: none, or not known yet). */
  active: string | null;
  standby: string | null;
  /** Whether the manager knows this host's state (from the topology, or from a report since a restart). */
  known: boolean;
}

/** One change of the table: the hosts and vNICs it touched. */
interface Change {
  readonly generation: number;
  readonly hosts: readonly string[];
  readonly vnics: readonly string[];
}

/** What the table holds, a whole or a delta, ready to be sent. */
export interface TableContents {
  readonly hosts: readonly HostTep[];
  readonly vnics: readonly OverlayEntry[];
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The cluster as the manager knows it. */
export class Inventory {
  readonly epoch: number;
  private gen = 0;
  private readonly hosts = new Map<string, HostRecord>();
  private readonly vmSpecs = new Map<string, VmSpec>();
  /** The host each VM runs on, null when not known (a restarted manager before the reports). */
  private readonly vmHost = new Map<string, string | null>();
  private entries = new Map<string, OverlayEntry>();
  private teps = new Map<string, string>();
  private readonly changes: Change[] = [];

  constructor(
    private readonly topology: ResolvedTopology,
    options: { readonly epoch: number; readonly known: boolean },
  ) {
    this.epoch = options.epoch;
    for (const node of [...topology.nodes].sort((a, b) => byString(a.id, b.id))) {
      if (node.kind !== 'host') continue;
      const active = node.spec.dpus.length === 0 ? null : (node.spec.failover.active[0] ?? node.spec.dpus[0] ?? null);
      this.hosts.set(node.id, { host: node.id, dpus: [...node.spec.dpus].sort(byString), active, standby: node.spec.failover.standby[0] ?? null, known: options.known });
      for (const vm of node.spec.vms) {
        this.vmSpecs.set(vm.id, vm);
        this.vmHost.set(vm.id, options.known ? node.id : null);
      }
    }
    const first = this.derive();
    this.entries = first.entries;
    this.teps = first.teps;
  }

  /** The table generation now. */
  get generation(): number {
    return this.gen;
  }

  /** The host a VM runs on, as far as the manager knows. */
  hostOf(vm: string): string | null {
    return this.vmHost.get(vm) ?? null;
  }

  /** Whether the VM exists. */
  hasVm(vm: string): boolean {
    return this.vmSpecs.has(vm);
  }

  /** Whether the manager knows a host's state (always, unless it restarted and the host has not reported yet). */
  knows(host: string): boolean {
    return this.hosts.get(host)?.known ?? false;
  }

  /** The hosts, sorted. */
  hostIds(): string[] {
    return [...this.hosts.keys()];
  }

  /** A VM now runs on `host` (a vMotion was committed). */
  moveVm(ctx: NodeContext, vm: string, host: string, reason: string): void {
    if (!this.vmSpecs.has(vm)) return;
    this.vmHost.set(vm, host);
    this.commit(ctx, reason);
  }

  /** A host now has `active` serving it (a failover), `standby` waiting. */
  setDpus(ctx: NodeContext, host: string, active: string | null, standby: string | null, reason: string): void {
    const record = this.hosts.get(host);
    if (record === undefined) return;
    record.active = active ?? record.active;
    record.standby = standby;
    // Only a report makes a host known again after a restart: it also says which VMs it runs.
    this.commit(ctx, reason);
  }

  /**
   * A host reported (after the manager or the host restarted): its DPUs and the VMs it runs. A VM
   * the inventory places on another host that reported is left there and returned as a conflict.
   */
  hostReport(ctx: NodeContext, host: string, active: string | null, standby: string | null, vms: readonly string[]): string[] {
    const record = this.hosts.get(host);
    if (record === undefined) return [];
    record.active = active ?? record.active;
    record.standby = standby;
    record.known = true;
    const conflicts: string[] = [];
    for (const [vm, where] of this.vmHost) {
      if (where === host && !vms.includes(vm)) this.vmHost.set(vm, null);
    }
    for (const vm of vms) {
      if (!this.vmSpecs.has(vm)) continue;
      const where = this.vmHost.get(vm) ?? null;
      if (where !== null && where !== host && this.knows(where)) conflicts.push(vm);
      else this.vmHost.set(vm, host);
    }
    this.commit(ctx, `report from ${host}`);
    return conflicts.sort(byString);
  }

  /**
   * A host that restarted asks which of its topology VMs it may power on: those the inventory
   * places nowhere (or on it already) are placed on it; those it places on another host run there.
   * Call once every host has reported, or a VM running on a host not heard from yet could be taken.
   * Returns the VMs placed on the host.
   */
  claim(ctx: NodeContext, host: string, candidates: readonly string[]): string[] {
    const own: string[] = [];
    for (const vm of [...candidates].sort(byString)) {
      if (!this.vmSpecs.has(vm)) continue;
      const where = this.vmHost.get(vm) ?? null;
      if (where !== null && where !== host) continue;
      this.vmHost.set(vm, host);
      own.push(vm);
    }
    this.commit(ctx, `${host} powers on ${own.join(', ') || 'nothing'}`);
    return own;
  }

  /** The whole table as it stands. */
  table(): TableContents {
    return { hosts: this.hostTeps([...this.teps.keys()]), vnics: this.vnicEntries([...this.entries.keys()]) };
  }

  /** What changed after generation `since` of this epoch: null when that generation is not this epoch's. */
  delta(since: number): TableContents | null {
    if (since > this.gen || since < 0) return null;
    const hosts = new Set<string>();
    const vnics = new Set<string>();
    for (const change of this.changes) {
      if (change.generation <= since) continue;
      for (const h of change.hosts) hosts.add(h);
      for (const v of change.vnics) vnics.add(v);
    }
    return { hosts: this.hostTeps([...hosts]), vnics: this.vnicEntries([...vnics]) };
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return {
      epoch: this.epoch,
      generation: this.gen,
      hosts: [...this.hosts.values()].map((h) => ({ host: h.host, active: h.active, standby: h.standby, known: h.known, tep: this.teps.get(h.host) ?? null })),
      vms: Object.fromEntries([...this.vmHost].sort(([a], [b]) => byString(a, b))),
    };
  }

  // -------------------------------------------------------------------------------------------

  /** Recomputes the table; a difference is a new generation, recorded as `manager.table`. */
  private commit(ctx: NodeContext, reason: string): void {
    const next = this.derive();
    const hosts = [...new Set([...next.teps.keys(), ...this.teps.keys()])].filter((h) => next.teps.get(h) !== this.teps.get(h)).sort(byString);
    const vnics = [...new Set([...next.entries.keys(), ...this.entries.keys()])]
      .filter((v) => {
        const a = this.entries.get(v);
        const b = next.entries.get(v);
        return a?.host !== b?.host || a?.tep !== b?.tep;
      })
      .filter((v) => next.entries.has(v))
      .sort(byString);
    this.entries = next.entries;
    this.teps = next.teps;
    if (hosts.length === 0 && vnics.length === 0) return;
    this.gen++;
    this.changes.push({ generation: this.gen, hosts, vnics });
    ctx.emit('manager.table', {
      epoch: this.epoch,
      generation: this.gen,
      reason,
      hosts: this.hostTeps(hosts),
      vnics: this.vnicEntries(vnics).map((e) => ({ vnic: e.vnic, vm: e.vm, host: e.host, tep: e.tep })),
    });
  }

  private derive(): { entries: Map<string, OverlayEntry>; teps: Map<string, string> } {
    const teps = new Map<string, string>();
    for (const record of this.hosts.values()) {
      if (!record.known) continue;
      const owner = record.dpus.length === 0 ? record.host : record.active;
      if (owner !== null) teps.set(record.host, tepOf(this.topology, owner).ip);
    }
    const entries = new Map<string, OverlayEntry>();
    for (const [vm, host] of [...this.vmHost].sort(([a], [b]) => byString(a, b))) {
      const tep = host === null ? undefined : teps.get(host);
      if (host === null || tep === undefined) continue;
      for (const v of this.vmSpecs.get(vm)!.vnics) {
        entries.set(v.id, { vnic: v.id, vm, mac: v.mac, ipv4: v.ipv4.split('/')[0]!, ipv6: v.ipv6?.split('/')[0] ?? null, segment: v.segment, host, tep });
      }
    }
    return { entries, teps };
  }

  private hostTeps(hosts: readonly string[]): HostTep[] {
    return [...hosts]
      .sort(byString)
      .flatMap((host) => {
        const tep = this.teps.get(host);
        return tep === undefined ? [] : [{ host, tep }];
      });
  }

  private vnicEntries(vnics: readonly string[]): OverlayEntry[] {
    return [...vnics].sort(byString).flatMap((v) => {
      const e = this.entries.get(v);
      return e === undefined ? [] : [e];
    });
  }
}

/** The manager's boot epoch: 0 at the start of the run, else its boot time in microseconds (never 0). */
export function managerEpoch(bootNs: VTime): number {
  return bootNs === 0 ? 0 : Math.max(1, Math.floor(bootNs / 1000) % 0x1_0000_0000);
}
