/**
 * Small pieces several checkers share: events typed by the catalogue, lookups into the topology,
 * and folds of the few facts many invariants need (which nodes are alive, where each VM runs).
 *
 * Each checker builds its own copies: checkers never share state, so each stays a pure function
 * of the events it observes and can be tested alone.
 */
import { formatDuration } from '../units.js';
import type { VTime } from '../events.js';
import type { HostSpec, ResolvedTopology, VnicSpec } from '../topology/types.js';
import { isEventKind } from '../events/catalogue.js';
import { typedEvent, type TypedEvent } from '../events/typed.js';
import type { CheckedEvent } from './types.js';

/**
 * The event with its payload typed by its kind (the event catalogue), or null for a kind this
 * dpulab does not declare (a log from another version): checkers skip what they cannot read.
 */
export function typed(event: CheckedEvent): TypedEvent | null {
  return isEventKind(event.kind) ? typedEvent(event) : null;
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
    const e = typed(event);
    if (e === null) return false;
    switch (e.kind) {
      case 'input.kill':
        this.killing.add(e.payload.node);
        return false;
      case 'node.start':
        this.alive.add(e.payload.node);
        this.startSeq.set(e.payload.node, e.seq);
        this.startedAt.set(e.payload.node, e.vtime);
        return true;
      case 'node.exit':
        if (e.payload.planned && !this.killing.delete(e.payload.node)) return false;
        this.alive.delete(e.payload.node);
        this.exitedAt.set(e.payload.node, e.vtime);
        return true;
      default:
        return false;
    }
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
    const e = typed(event);
    if (this.liveness.observe(event)) {
      if (e?.kind === 'node.exit') for (const hosts of this.where.values()) hosts.delete(e.payload.node);
      return null;
    }
    if (e === null) return null;
    switch (e.kind) {
      case 'vnic.mode': {
        // A host's boot brings up the VMs it was given: their vNICs report a mode, caused by the start.
        const vm = e.payload.vm;
        if (e.cause !== null && e.cause === this.liveness.startSeq.get(e.node) && !this.hostsOf(vm).has(e.node)) {
          this.set(vm, e.node, 'running');
          return { vm, host: e.node };
        }
        return null;
      }
      case 'vmotion.stun': {
        const vm = e.payload.vm;
        if (this.hostsOf(vm).has(e.node)) {
          this.set(vm, e.node, 'stunned');
          this.stunnedBy.set(`${vm}|${e.node}`, e.payload.mid);
        }
        return null;
      }
      case 'vmotion.resume':
        this.set(e.payload.vm, e.node, 'running');
        return { vm: e.payload.vm, host: e.node };
      case 'vmotion.source.released':
      case 'vmotion.incoming.dropped':
        this.hostsOf(e.payload.vm).delete(e.node);
        return null;
      case 'vmotion.done': {
        // The source ends an aborted migration by thawing the VM it stunned for it (a migration
        // refused at once, say because another is under way, thaws nothing).
        const { vm, mid } = e.payload;
        if (e.payload.result === 'aborted' && e.payload.from === e.node && this.hostsOf(vm).get(e.node) === 'stunned' && this.stunnedBy.get(`${vm}|${e.node}`) === mid) {
          this.set(vm, e.node, 'running');
          return { vm, host: e.node };
        }
        return null;
      }
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
