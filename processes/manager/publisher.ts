/**
 * The manager's push of the overlay table to every node that switches VM traffic: every DPU,
 * active and standby (a standby that takes over must already know where everything is), and every
 * host that switches in software.
 *
 * For each receiver it keeps the version the receiver last acknowledged. A receiver behind gets
 * what it lacks: a delta from its generation when it holds one of this epoch, else the whole table,
 * in parts that fit the MTU. Unacknowledged, it is sent again after 20 ms, 40 ms ... at most 1 s
 * apart; at once when its management cable comes back up. A receiver whose version is not known (a
 * restarted manager, before the node reported) gets nothing until it reports.
 */
import type { NodeContext } from '../runtime/types.js';
import { TABLE_ENTRIES_PER_PART, type MgmtMessage, type TableVersion } from '../mgmt/messages.js';
import type { Inventory, TableContents } from './inventory.js';

/** Timer of the publisher's retries. */
export const TABLE_RETRY_TIMER = 'manager.table.retry';
const RETRY_FIRST_NS = 20_000_000;
const RETRY_MAX_NS = 1_000_000_000;

interface Receiver {
  readonly node: string;
  /** The version it acknowledged last; null when it holds none (the whole table is due); undefined when not known. */
  acked: TableVersion | null | undefined;
  timer: number | null;
  delayNs: number;
  sent: number;
}

/** Sends each receiver the table it lacks, until it says it has it. */
export class TablePublisher {
  private readonly receivers = new Map<string, Receiver>();

  constructor(
    receivers: readonly string[],
    private readonly inventory: Inventory,
    private readonly send: (ctx: NodeContext, node: string, message: MgmtMessage) => void,
    /** What every receiver holds at the start: the topology's table (epoch 0, generation 0), or not known (a restart). */
    initial: TableVersion | undefined,
  ) {
    for (const node of receivers) this.receivers.set(node, { node, acked: initial, timer: null, delayNs: RETRY_FIRST_NS, sent: 0 });
  }

  /** The table changed, or might have: every receiver behind gets what it lacks. */
  push(ctx: NodeContext): void {
    for (const r of this.receivers.values()) this.pushTo(ctx, r, true);
  }

  /** A receiver says which version it holds, null for none (an acknowledgement, or its report after a restart). */
  onVersion(ctx: NodeContext, node: string, version: TableVersion | null): void {
    const r = this.receivers.get(node);
    if (r === undefined) return;
    r.acked = version;
    if (this.behind(r)) this.pushTo(ctx, r, true);
    else this.settle(ctx, r);
  }

  /** A receiver's management cable came back up: try it at once. */
  onLinkUp(ctx: NodeContext, node: string): void {
    const r = this.receivers.get(node);
    if (r !== undefined) this.pushTo(ctx, r, true);
  }

  /** Handles the publisher's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    if (name !== TABLE_RETRY_TIMER) return false;
    const r = this.receivers.get((data as { node: string }).node);
    if (r === undefined) return true;
    r.timer = null;
    r.delayNs = Math.min(RETRY_MAX_NS, r.delayNs * 2);
    this.pushTo(ctx, r, false);
    return true;
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return [...this.receivers.values()].map((r) => ({ node: r.node, acked: r.acked, sent: r.sent, retrying: r.timer !== null }));
  }

  private behind(r: Receiver): boolean {
    const a = r.acked;
    if (a === undefined) return false;
    return a === null || a.epoch !== this.inventory.epoch || a.generation < this.inventory.generation;
  }

  /** Sends what `r` lacks and arms its retry (from the first delay when `fresh`), unless it is up to date or not known. */
  private pushTo(ctx: NodeContext, r: Receiver, fresh: boolean): void {
    if (!this.behind(r)) {
      this.settle(ctx, r);
      return;
    }
    const a = r.acked;
    const delta = a !== null && a !== undefined && a.epoch === this.inventory.epoch ? this.inventory.delta(a.generation) : null;
    this.transmit(ctx, r.node, delta ?? this.inventory.table(), delta === null ? null : a!.generation);
    r.sent++;
    if (fresh) r.delayNs = RETRY_FIRST_NS;
    if (r.timer !== null) ctx.cancelTimer(r.timer);
    r.timer = ctx.setTimer(r.delayNs, TABLE_RETRY_TIMER, { node: r.node });
  }

  private settle(ctx: NodeContext, r: Receiver): void {
    if (r.timer !== null) ctx.cancelTimer(r.timer);
    r.timer = null;
    r.delayNs = RETRY_FIRST_NS;
  }

  private transmit(ctx: NodeContext, node: string, contents: TableContents, base: number | null): void {
    const chunks: Array<TableContents['vnics']> = [];
    for (let i = 0; i < contents.vnics.length; i += TABLE_ENTRIES_PER_PART) chunks.push(contents.vnics.slice(i, i + TABLE_ENTRIES_PER_PART));
    if (chunks.length === 0) chunks.push([]);
    chunks.forEach((vnics, part) => {
      this.send(ctx, node, {
        t: 'table',
        epoch: this.inventory.epoch,
        generation: this.inventory.generation,
        base,
        part,
        parts: chunks.length,
        hosts: part === 0 ? [...contents.hosts] : [],
        vnics: [...vnics],
      });
    });
  }
}
