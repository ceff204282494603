import type { ManagerNode, ResolvedTopology } from '../../shared/topology/types.js';
import type { NodeAction } from '../../shared/actions/node-actions.js';
import { MalformedCounter } from '../common/malformed.js';
import { MANAGER_MGMT_IP, managerEndpoint, nodeEndpoint, tableReceivers } from '../mgmt/addresses.js';
import { buildMgmtFrame, takeMgmtFrame, type MgmtMessage, type MgmtRequest } from '../mgmt/messages.js';
import type { Channel, NodeContext, NodeCore } from '../runtime/types.js';
import { Inventory, managerEpoch } from './inventory.js';
import { TablePublisher } from './publisher.js';
import { Switchovers, type DecisionAnswer, type MigrationRef } from './switchovers.js';

const RESYNC_TIMER = 'manager.resync';
const RESYNC_FIRST_NS = 20_000_000;
const RESYNC_MAX_NS = 1_000_000_000;

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The management plane of the cluster, as one node: vCenter (the inventory of hosts, DPUs, VMs,
 * and every vMotion) with NSX Manager and its central control plane (the overlay's
 * MAC/IP-to-tunnel-endpoint table, pushed to every DPU, active and standby). It sits at the other
 * end of every host's and DPU's management cable (`processes/mgmt`).
 *
 * - Inventory and tables (`inventory.ts`, `publisher.ts`): every vMotion commit, failover report
 *   and host report that changes where a VM or a host's tunnel endpoint is makes a new generation,
 *   pushed to every receiver until it acknowledges it.
 * - Switchovers (`switchovers.ts`): each migration commits through the manager, decided once.
 * - A restart: the manager knows nothing; it asks every node to report (`resync`), rebuilds its
 *   inventory and the migrations in flight from the reports, and records what it learned
 *   (`manager.resync`). Meanwhile the data plane forwards on the tables it pushed before.
 *
 * It answers every request, so a node's retry is harmless; it never sends a request of its own
 * except the table and the resync, which it repeats until answered.
 */
export class ManagerCore implements NodeCore {
  private readonly malformed = new MalformedCounter();
  private inventory!: Inventory;
  private publisher!: TablePublisher;
  private switchovers!: Switchovers;
  /** Nodes asked to report since a restart, with their retry timer and delay; empty otherwise. */
  private readonly resyncing = new Map<string, { timer: number | null; delayNs: number }>();
  private resyncReported = new Set<string>();
  private resyncDone = true;
  /** Restarted hosts whose report waits for every host's (the latest report of each). */
  private readonly booting = new Map<string, Extract<MgmtMessage, { t: 'host.report' }>>();
  private requests = 0;

  constructor(
    private readonly node: ManagerNode,
    private readonly topology: ResolvedTopology,
  ) {}

  onBoot(ctx: NodeContext): void {
    const restart = ctx.now() > 0;
    const epoch = managerEpoch(ctx.now());
    this.inventory = new Inventory(this.topology, { epoch, known: !restart });
    this.publisher = new TablePublisher(tableReceivers(this.topology), this.inventory, (c, node, message) => this.send(c, node, message), restart ? undefined : { epoch: 0, generation: 0 });
    this.switchovers = new Switchovers({
      known: (host) => this.inventory.knows(host),
      hostOf: (vm) => this.inventory.hostOf(vm),
      decided: (c, migration, decision, reason) => this.decided(c, migration, decision, reason),
    });
    const hosts = this.inventory.hostIds();
    ctx.emit('manager.boot', {
      manager: this.node.id,
      epoch,
      restart,
      hosts,
      dpus: this.node.spec.manages.filter((id) => !hosts.includes(id)),
      generation: this.inventory.generation,
    });
    if (!restart) return;
    // Everything known before died with the previous process: ask every node what it knows.
    this.resyncDone = false;
    this.resyncReported = new Set();
    for (const id of this.node.spec.manages) {
      this.resyncing.set(id, { timer: null, delayNs: RESYNC_FIRST_NS });
      this.askResync(ctx, id);
    }
  }

  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array, _channel: Channel): void {
    const message = takeMgmtFrame(ctx, this.malformed, port, bytes);
    if (message === null) return;
    if ('node' in message && message.node !== port) {
      ctx.emit('frame.malformed', { port, code: 'wrong-node', offset: 0, message: `A ${message.t} from ${port} names node ${message.node}` });
      return;
    }
    this.handle(ctx, port, message);
  }

  onTimer(ctx: NodeContext, name: string, data: unknown): void {
    if (this.publisher.onTimer(ctx, name, data)) return;
    if (name === RESYNC_TIMER) {
      const id = (data as { node: string }).node;
      const r = this.resyncing.get(id);
      if (r === undefined) return;
      r.timer = null;
      r.delayNs = Math.min(RESYNC_MAX_NS, r.delayNs * 2);
      this.askResync(ctx, id);
    }
  }

  onLink(ctx: NodeContext, port: string, up: boolean): void {
    if (!up) return;
    this.publisher.onLinkUp(ctx, port);
    const r = this.resyncing.get(port);
    if (r !== undefined) {
      r.delayNs = RESYNC_FIRST_NS;
      this.askResync(ctx, port);
    }
  }

  onAction(ctx: NodeContext, action: NodeAction): void {
    ctx.emit('node.error', { message: `Manager ${this.node.id} has no action ${action.action}`, while: 'action' });
  }

  onEnd(): void {}

  inspect(): unknown {
    return {
      kind: 'manager',
      id: this.node.id,
      address: MANAGER_MGMT_IP,
      manages: this.node.spec.manages,
      requests: this.requests,
      malformed: this.malformed.counts(),
      inventory: this.inventory?.inspect() ?? null,
      tables: this.publisher?.inspect() ?? null,
      migrations: this.switchovers?.inspect() ?? [],
      resyncing: [...this.resyncing.keys()],
    };
  }

  // -------------------------------------------------------------------------------------------

  private handle(ctx: NodeContext, from: string, message: MgmtMessage): void {
    switch (message.t) {
      case 'host.report':
        return this.hostReport(ctx, message);
      case 'dpu.report':
        this.reported(ctx, from);
        this.answer(ctx, from, message, { t: 'ack', re: message.id, epoch: this.inventory.epoch });
        ctx.emit('manager.report', { node: from, kind: 'dpu', table: message.table });
        this.publisher.onVersion(ctx, from, message.table);
        return;
      case 'host.dpus':
        this.answer(ctx, from, message, { t: 'ack', re: message.id, epoch: this.inventory.epoch });
        this.inventory.setDpus(ctx, message.node, message.active, message.standby, `${message.node} ${message.reason}: ${message.active ?? 'no DPU'} serves it`);
        this.publisher.push(ctx);
        return;
      case 'migration.register':
      case 'switchover.begin': {
        const verdict = message.t === 'migration.register' ? this.switchovers.register(ctx, message) : this.switchovers.begin(ctx, message);
        if (verdict !== null) this.answer(ctx, from, message, { t: 'migration.answer', re: message.id, mid: message.mid, ok: verdict.ok, reason: verdict.reason });
        return;
      }
      case 'switchover.commit':
        return this.decision(ctx, from, message, this.switchovers.commit(ctx, message));
      case 'switchover.abort':
        return this.decision(ctx, from, message, this.switchovers.abort(ctx, message, message.reason));
      case 'switchover.query':
        return this.decision(ctx, from, message, this.switchovers.query(ctx, message));
      case 'table.ack':
        this.publisher.onVersion(ctx, from, { epoch: message.epoch, generation: message.generation });
        return;
      default:
        // Messages only the manager sends: a node that sends one is confused; drop it, counted.
        ctx.emit('frame.malformed', { port: from, code: 'unexpected-message', offset: 0, message: `The manager takes no ${message.t} from ${from}` });
    }
  }

  private hostReport(ctx: NodeContext, message: Extract<MgmtMessage, { t: 'host.report' }>): void {
    const host = message.node;
    // A restarted host forgot its migrations: those not decided yet end, before anything is placed.
    if (message.booting) this.switchovers.onReport(ctx, host, [], true);
    // A restarted host runs nothing yet: its VMs are candidates, placed once every host has spoken.
    const running = message.booting ? [] : message.vms;
    const conflicts = this.inventory.hostReport(ctx, host, message.active, message.standby, running);
    ctx.emit('manager.report', { node: host, kind: 'host', active: message.active, standby: message.standby, vms: message.vms, booting: message.booting, migrations: message.migrations, conflicts });
    if (message.booting) this.booting.set(host, message);
    else this.answer(ctx, host, message, { t: 'ack', re: message.id, epoch: this.inventory.epoch, vms: running.filter((vm) => this.inventory.hostOf(vm) === host) });
    this.switchovers.onReport(ctx, host, message.migrations);
    // A host that switches in software holds a table too.
    if (message.table !== null) this.publisher.onVersion(ctx, host, message.table);
    this.reported(ctx, host);
    this.settleBoots(ctx);
    this.publisher.push(ctx);
  }

  /**
   * Restarted hosts waiting to hear which VMs to power on get their answer once every host has
   * reported (after a restart of the manager, a VM may run on a host that has not reported yet).
   */
  private settleBoots(ctx: NodeContext): void {
    if (!this.inventory.hostIds().every((h) => this.inventory.knows(h))) return;
    for (const host of [...this.booting.keys()].sort(byString)) {
      const message = this.booting.get(host)!;
      this.booting.delete(host);
      const own = this.inventory.claim(ctx, host, message.vms);
      this.answer(ctx, host, message, { t: 'ack', re: message.id, epoch: this.inventory.epoch, vms: own });
    }
  }

  private decision(ctx: NodeContext, from: string, request: MgmtRequest, answer: DecisionAnswer): void {
    this.answer(ctx, from, request, { t: 'switchover.decision', re: request.id, mid: (request as { mid: string }).mid, decision: answer.decision, reason: answer.reason });
  }

  /** A migration was decided: the inventory follows a commit, and both hosts hear it at once. */
  private decided(ctx: NodeContext, migration: MigrationRef, decision: 'committed' | 'aborted', reason: string | null): void {
    if (decision === 'committed') {
      this.inventory.moveVm(ctx, migration.vm, migration.to, `vmotion ${migration.mid}`);
      this.publisher.push(ctx);
    }
    for (const host of [migration.from, migration.to]) {
      if (this.node.spec.manages.includes(host)) this.send(ctx, host, { t: 'switchover.decision', re: null, mid: migration.mid, decision, reason });
    }
  }

  /** Answers a node's request (counted for the inspector). */
  private answer(ctx: NodeContext, to: string, _request: MgmtMessage, answer: MgmtMessage): void {
    this.requests++;
    this.send(ctx, to, answer);
  }

  private send(ctx: NodeContext, node: string, message: MgmtMessage): void {
    ctx.send(node, buildMgmtFrame(managerEndpoint(this.topology, node), nodeEndpoint(this.topology, node), message));
  }

  private askResync(ctx: NodeContext, node: string): void {
    const r = this.resyncing.get(node);
    if (r === undefined) return;
    this.send(ctx, node, { t: 'resync', epoch: this.inventory.epoch });
    if (r.timer !== null) ctx.cancelTimer(r.timer);
    r.timer = ctx.setTimer(r.delayNs, RESYNC_TIMER, { node });
  }

  /** A node reported: no need to ask it again. */
  private reported(ctx: NodeContext, node: string): void {
    const r = this.resyncing.get(node);
    if (r === undefined) return;
    if (r.timer !== null) ctx.cancelTimer(r.timer);
    this.resyncing.delete(node);
    this.resyncReported.add(node);
    this.maybeResynced(ctx);
  }

  /** After a restart, once every host has reported: what the manager rebuilt, in one event. */
  private maybeResynced(ctx: NodeContext): void {
    if (this.resyncDone) return;
    const hosts = this.inventory.hostIds();
    if (!hosts.every((h) => this.inventory.knows(h))) return;
    this.resyncDone = true;
    const vms: Record<string, string | null> = {};
    for (const node of this.topology.nodes) if (node.kind === 'host') for (const vm of node.spec.vms) vms[vm.id] = this.inventory.hostOf(vm.id);
    ctx.emit('manager.resync', {
      epoch: this.inventory.epoch,
      generation: this.inventory.generation,
      hosts,
      reported: [...this.resyncReported].sort(byString),
      vms: Object.fromEntries(Object.entries(vms).sort(([a], [b]) => byString(a, b))),
      migrations: this.switchovers.inspect(),
    });
  }
}
