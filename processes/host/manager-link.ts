/**
 * A host's end of its management cable to the manager (vCenter): its reports, its failovers, the
 * switchover requests of its vMotion agent, the decisions the manager pushes, and, on a host that
 * switches in software, the overlay table the manager pushes to it.
 *
 * - The host reports (its DPUs, the VMs it runs, the migrations it takes part in and the decisions
 *   it acted on) when it boots after the start of the run and whenever a restarted manager asks.
 * - A failover is reported at once; without a manager it still happens (the DPU is dead), and the
 *   host says that peers learn the new tunnel endpoint when the manager answers again, or from the
 *   new DPU's own announcements.
 * - Every request is retried until answered (`ManagerClient`).
 */
import type { HostNode, ResolvedTopology } from '../../shared/topology/types.js';
import type { MalformedCounter } from '../common/malformed.js';
import { ManagerClient } from '../mgmt/client.js';
import { takeMgmtFrame, type MigrationFact, type TableVersion } from '../mgmt/messages.js';
import { OverlayTableReceiver } from '../mgmt/table-receiver.js';
import type { NodeContext } from '../runtime/types.js';
import type { ControlPlane } from '../vds/switching/control-plane.js';
import { tepOf } from '../vds/switching/tep.js';
import { VMOTION_MANAGER_WAIT_NS, type DecisionAsk, type MigrationRef, type SwitchoverDecision, type VmotionManager } from './vmotion/agent.js';

/** What the link asks of its host. */
export interface HostFacts {
  /** The DPU serving the host now and the one standing by. */
  dpus(): { readonly active: string | null; readonly standby: string | null };
  /** The VMs the host runs (a stunned one leaving by vMotion included). */
  vms(): string[];
  /** The topology VMs a restarted host keeps off until the manager says which are its own. */
  parked(): string[];
  /** The manager answered which of them are the host's: power those on, let the others go. */
  powerOn(ctx: NodeContext, vms: readonly string[]): void;
  /** The migrations the host takes part in and the decisions it acted on. */
  migrations(): MigrationFact[];
  /** The manager pushed a decision. */
  onDecision(ctx: NodeContext, mid: string, decision: SwitchoverDecision, reason: string | null): void;
}

/** The host's management agent; also the vMotion agent's way to the manager. */
export class HostManagerLink implements VmotionManager {
  readonly id: string;
  private readonly client: ManagerClient;
  /** The overlay table of a host that switches in software; null on a host with DPUs (they hold it). */
  private readonly tables: OverlayTableReceiver | null;

  constructor(
    private readonly host: HostNode,
    private readonly topology: ResolvedTopology,
    private readonly facts: HostFacts,
    private readonly malformed: MalformedCounter,
    softControlPlane: ControlPlane | null,
  ) {
    this.client = new ManagerClient(topology, host.id);
    this.id = this.client.manager.node;
    this.tables = softControlPlane === null ? null : new OverlayTableReceiver((hosts, vnics) => softControlPlane.applyTable(hosts, vnics));
  }

  /**
   * At the start of the run the manager knows the host; a host that restarts reports, and powers on
   * only the VMs the manager places on it (one may have moved away before the restart).
   */
  boot(ctx: NodeContext): void {
    if (ctx.now() > 0) this.report(ctx);
  }

  /** The host failed over: the manager moves its tunnel endpoint in every DPU's table. */
  failedOver(ctx: NodeContext, active: string | null, standby: string | null, reason: string): void {
    const tep = active === null ? null : tepOf(this.topology, active).ip;
    this.client.request(ctx, 'dpus', (id) => ({ t: 'host.dpus', id, node: this.host.id, active, standby, reason }), {
      what:
        active === null
          ? `the news that no DPU serves ${this.host.id}`
          : `the failover of ${this.host.id} to ${active}: peers learn its tunnel endpoint ${tep} when ${this.id} answers again, or from ${active}'s announcements`,
      onAnswer: () => true,
    });
  }

  /** A frame on the management port. */
  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array): void {
    const message = takeMgmtFrame(ctx, this.malformed, port, bytes);
    if (message === null) return;
    this.client.heard(ctx);
    switch (message.t) {
      case 'ack':
      case 'migration.answer':
        this.client.onAnswer(ctx, message);
        return;
      case 'switchover.decision':
        if (message.re !== null) this.client.onAnswer(ctx, message);
        else if (message.decision !== 'pending') this.facts.onDecision(ctx, message.mid, message.decision, message.reason);
        return;
      case 'resync':
        this.report(ctx);
        return;
      case 'table':
        if (this.tables === null) return;
        {
          const held = this.tables.onTable(ctx, message);
          if (held !== null) this.client.send(ctx, { t: 'table.ack', node: this.host.id, ...held });
        }
        return;
      default:
        ctx.emit('frame.malformed', { port, code: 'unexpected-message', offset: 0, message: `A host takes no ${message.t} from the manager` });
    }
  }

  /** Handles the link's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    return this.client.onTimer(ctx, name, data);
  }

  // --- the vMotion agent's requests -----------------------------------------------------------

  announce(ctx: NodeContext, what: 'register' | 'begin', ref: MigrationRef, answered: (ctx: NodeContext, ok: boolean, reason: string | null) => void, unreachable: (ctx: NodeContext) => void): void {
    this.client.request(ctx, `${ref.mid}/${what}`, (id) => ({ t: what === 'register' ? 'migration.register' : 'switchover.begin', id, node: this.host.id, ...ref }), {
      what: what === 'register' ? `the registration of migration ${ref.mid}` : `the switchover of migration ${ref.mid}, before ${ref.vm} stops`,
      deadlineNs: VMOTION_MANAGER_WAIT_NS,
      onAnswer: (c, answer) => {
        if (answer.t !== 'migration.answer') return false;
        answered(c, answer.ok, answer.reason);
        return true;
      },
      onGiveUp: unreachable,
    });
  }

  decide(ctx: NodeContext, ref: MigrationRef, ask: DecisionAsk, decided: (ctx: NodeContext, decision: SwitchoverDecision, reason: string | null) => void): void {
    const what =
      ask.kind === 'commit'
        ? `the decision on migration ${ref.mid} (${this.host.id} is ready to resume ${ref.vm})`
        : ask.kind === 'abort'
          ? `the decision on migration ${ref.mid} (${this.host.id} asks to abort: ${ask.reason})`
          : `the decision on migration ${ref.mid} (${ref.vm} is stopped until it comes)`;
    this.client.request(
      ctx,
      `${ref.mid}/decision`,
      (id) => {
        const base = { id, node: this.host.id, ...ref };
        if (ask.kind === 'commit') return { t: 'switchover.commit', ...base };
        if (ask.kind === 'abort') return { t: 'switchover.abort', ...base, reason: ask.reason };
        return { t: 'switchover.query', ...base };
      },
      {
        what,
        onAnswer: (c, answer) => {
          if (answer.t !== 'switchover.decision' || answer.decision === 'pending') return false;
          decided(c, answer.decision, answer.reason);
          return true;
        },
      },
    );
  }

  forget(ctx: NodeContext, mid: string): void {
    for (const key of ['register', 'begin', 'decision']) this.client.cancel(ctx, `${mid}/${key}`);
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return { client: this.client.inspect(), table: this.tables?.inspect() ?? null };
  }

  private report(ctx: NodeContext): void {
    const table: TableVersion | null = this.tables?.version ?? null;
    const parked = this.facts.parked();
    this.client.request(
      ctx,
      'report',
      (id) => {
        const { active, standby } = this.facts.dpus();
        const booting = this.facts.parked().length > 0;
        return { t: 'host.report', id, node: this.host.id, active, standby, vms: [...this.facts.vms(), ...this.facts.parked()], booting, migrations: this.facts.migrations(), table };
      },
      {
        what: parked.length > 0 ? `the word of ${this.id} on which of ${parked.join(', ')} ${this.host.id} may power on` : `the report of ${this.host.id} to ${this.id}`,
        onAnswer: (c, answer) => {
          if (answer.t === 'ack' && this.facts.parked().length > 0) this.facts.powerOn(c, answer.vms ?? this.facts.parked());
          return true;
        },
      },
    );
  }
}
