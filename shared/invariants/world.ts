/**
 * Small pieces several checkers share: lookups into the topology, reading payload fields, and
 * folds of the few facts many invariants need (which nodes are alive, where each VM runs).
 *
 * Each checker builds its own copies: checkers never share state, so each stays a pure function
 * of the events it observes and can be tested alone.
 */
import { formatDuration } from '../units.js';
import type { VTime } from '../events.js';
import type { HostSpec, ResolvedTopology, VnicSpec } from '../topology/types.js';
import type { CheckedEvent } from './types.js';

/** A decoded payload as a record; anything else reads as an empty one. */
export function fields(event: CheckedEvent): Readonly<Record<string, unknown>> {
  const p = event.payload;
  return typeof p === 'object' && p !== null && !Array.isArray(p) ? (p as Record<string, unknown>) : {};
}

/** A string field, or null. */
export function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** A number field, or null. */
export function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/** Durations in messages. */
export function ms(ns: VTime): string {
  return formatDuration(ns);
}

/** What the checkers look up in the topology, indexed once. */
export class TopologyIndex {
  /** Host of each node that belongs to one: a DPU's host, a host itself. */
  private readonly hostOfNode = new Map<string, string>();
  readonly hosts = new Map<string, HostSpec>();
  readonly vnics = new Map<string, VnicSpec & { readonly vm: string; readonly host: string }>();
  /** The VM each IPv4 address (without prefix) belongs to. */
  readonly vmOfIp = new Map<string, string>();
  /** Every vNIC of a VM, by VM id. */
  readonly vnicsOfVm = new Map<string, string[]>();
  /** Uplink ports of each DPU. */
  readonly uplinks = new Map<string, readonly string[]>();
  /** MAC of every port, by `node:port`. */
  readonly portMac = new Map<string, string>();
  /** Kind of every node. */
  readonly kindOf = new Map<string, string>();

  constructor(readonly topology: ResolvedTopology) {
    for (const node of topology.nodes) {
      this.kindOf.set(node.id, node.kind);
      for (const port of node.ports) this.portMac.set(`${node.id}:${port.name}`, port.mac.toLowerCase());
      if (node.kind === 'host') {
        this.hostOfNode.set(node.id, node.id);
        this.hosts.set(node.id, node.spec);
        for (const vm of node.spec.vms) {
          this.vnicsOfVm.set(vm.id, vm.vnics.map((v) => v.id));
          for (const vnic of vm.vnics) {
            this.vnics.set(vnic.id, { ...vnic, vm: vm.id, host: node.id });
            this.vmOfIp.set(vnic.ipv4.split('/')[0]!, vm.id);
          }
        }
      } else if (node.kind === 'dpu') {
        this.hostOfNode.set(node.id, node.spec.host);
        this.uplinks.set(node.id, node.spec.uplinks);
      }
    }
  }

  /** The host a node belongs to (a DPU's host, a host itself), or null (a switch). */
  hostOf(node: string): string | null {
    return this.hostOfNode.get(node) ?? null;
  }

  /** The DPUs of a host, sorted. */
  dpusOf(host: string): readonly string[] {
    return this.hosts.get(host)?.dpus ?? [];
  }

  /** The DPU a host starts with as its active (the first of its policy's active list), or null without DPUs. */
  initialActive(host: string): string | null {
    return this.hosts.get(host)?.failover.active[0] ?? null;
  }

  /** How long a host may take to declare a DPU failed: (misses + 1) heartbeat intervals. */
  detectionBound(host: string): VTime {
    const hb = this.hosts.get(host)?.heartbeat;
    return hb ? (hb.misses + 1) * hb.intervalNs : 0;
  }
}

/**
 * Which nodes run now, folded from `node.start` and `node.exit`. A node dies when a scenario
 * kills it (`input.kill`, then its `node.exit`) or when it exits unasked (`planned: false`). The
 * planned exits the controller records when the run ends are not deaths: at the end of the run
 * the lab is as it was.
 */
export class Liveness {
  private readonly alive = new Set<string>();
  private readonly killing = new Set<string>();
  /** Seq of each node's latest `node.start`. */
  readonly startSeq = new Map<string, number>();
  /** When each node last started and last exited. */
  readonly startedAt = new Map<string, VTime>();
  readonly exitedAt = new Map<string, VTime>();

  /** Folds one event; true when it changed a node's life. */
  observe(event: CheckedEvent): boolean {
    if (event.kind !== 'node.start' && event.kind !== 'node.exit' && event.kind !== 'input.kill') return false;
    const p = fields(event);
    const node = str(p.node);
    if (node === null) return false;
    if (event.kind === 'input.kill') {
      this.killing.add(node);
      return false;
    }
    if (event.kind === 'node.start') {
      this.alive.add(node);
      this.startSeq.set(node, event.seq);
      this.startedAt.set(node, event.vtime);
      return true;
    }
    if (p.planned !== false && !this.killing.delete(node)) return false;
    this.alive.delete(node);
    this.exitedAt.set(node, event.vtime);
    return true;
  }

  isAlive(node: string): boolean {
    return this.alive.has(node);
  }
}

/** What a host does with a VM: runs it, or holds it stunned for a switchover. */
export type VmPresence = 'running' | 'stunned';

/**
 * Where each VM is, folded from the events that move it: a host runs the VMs it boots (the
 * `vnic.mode` events caused by its `node.start`), a source holds a VM stunned from `vmotion.stun`,
 * lets it go at `vmotion.source.released` and runs it again when that migration aborts; a destination runs it
 * from `vmotion.resume` and lets it go at `vmotion.incoming.dropped`; a host that dies holds nothing.
 */
export class VmPlacement {
  private readonly where = new Map<string, Map<string, VmPresence>>();
  /** The migration that stunned each VM on each host (`vm|host`), so only its abort thaws it. */
  private readonly stunnedBy = new Map<string, string>();
  private readonly liveness = new Liveness();

  /**
   * Folds one event. Returns the VM and host when the event made a host run a VM (boot, resume,
   * the thaw of an abort), so a checker can look at where else it runs.
   */
  observe(event: CheckedEvent): { vm: string; host: string } | null {
    if (this.liveness.observe(event)) {
      const node = str(fields(event).node);
      if (event.kind === 'node.exit' && node !== null) for (const hosts of this.where.values()) hosts.delete(node);
      return null;
    }
    if (event.kind === 'node.exit' || event.kind === 'node.start' || event.kind === 'input.kill') return null;
    const p = fields(event);
    const vm = str(p.vm);
    if (vm === null) return null;
    switch (event.kind) {
      case 'vnic.mode':
        // A host's boot brings up the VMs it was given: their vNICs report a mode, caused by the start.
        if (event.cause !== null && event.cause === this.liveness.startSeq.get(event.node) && !this.hostsOf(vm).has(event.node)) {
          this.set(vm, event.node, 'running');
          return { vm, host: event.node };
        }
        return null;
      case 'vmotion.stun':
        if (this.hostsOf(vm).has(event.node)) {
          this.set(vm, event.node, 'stunned');
          this.stunnedBy.set(`${vm}|${event.node}`, str(p.mid) ?? '');
        }
        return null;
      case 'vmotion.resume':
        this.set(vm, event.node, 'running');
        return { vm, host: event.node };
      case 'vmotion.source.released':
      case 'vmotion.incoming.dropped':
        this.hostsOf(vm).delete(event.node);
        return null;
      case 'vmotion.done':
        // The source ends an aborted migration by thawing the VM it stunned for it (a migration
        // refused at once, say because another is under way, thaws nothing).
        if (p.result === 'aborted' && str(p.from) === event.node && this.hostsOf(vm).get(event.node) === 'stunned' && this.stunnedBy.get(`${vm}|${event.node}`) === str(p.mid)) {
          this.set(vm, event.node, 'running');
          return { vm, host: event.node };
        }
        return null;
      default:
        return null;
    }
  }

  /** Hosts holding the VM, with how. */
  presence(vm: string): ReadonlyMap<string, VmPresence> {
    return this.hostsOf(vm);
  }

  /** The hosts running the VM (not stunned), sorted. */
  runningOn(vm: string): string[] {
    return [...this.hostsOf(vm)].filter(([, p]) => p === 'running').map(([h]) => h).sort();
  }

  private hostsOf(vm: string): Map<string, VmPresence> {
    let hosts = this.where.get(vm);
    if (!hosts) this.where.set(vm, (hosts = new Map()));
    return hosts;
  }

  private set(vm: string, host: string, presence: VmPresence): void {
    this.hostsOf(vm).set(host, presence);
  }
}
