/**
 * A node's end of the overlay table the manager pushes (a DPU, or a host that switches in
 * software): parts are collected until a generation is whole, then applied to the node's control
 * plane, and the version the node holds is acknowledged.
 *
 * Every node starts (at the start of the run or after a restart) with the table the topology
 * gives, which is the manager's first table: version (epoch 0, generation 0). A whole table
 * (`base` null) is applied whatever the node holds; a delta only on top of the generation it
 * follows, in the same epoch. Anything else is not applied, and the acknowledgement tells the
 * manager what the node holds, so it sends what fits. Applying is idempotent: the entries say
 * where each vNIC and host is now, never what changed.
 *
 * When the manager is gone the node keeps the last table it applied: the data plane forwards on it.
 */
import type { NodeContext } from '../runtime/types.js';
import type { HostTep, MgmtMessage, OverlayEntry, TableVersion } from './messages.js';

/** What a node does with a whole table generation: apply it, and say what changed. */
export type ApplyTable = (hosts: readonly HostTep[], vnics: readonly OverlayEntry[]) => { readonly hosts: readonly string[]; readonly vnics: readonly string[] };

type TableMessage = Extract<MgmtMessage, { t: 'table' }>;

/** The overlay table a node holds, and the generation on its way. */
export class OverlayTableReceiver {
  private held: TableVersion = { epoch: 0, generation: 0 };
  private assembly: { readonly epoch: number; readonly generation: number; readonly base: number | null; readonly parts: Map<number, TableMessage> } | null = null;
  private applied = 0;

  constructor(private readonly apply: ApplyTable) {}

  /** The version applied last. */
  get version(): TableVersion {
    return this.held;
  }

  /**
   * A part of a table. Returns the version to acknowledge (the one held after this part), or null
   * while parts of the generation are still missing.
   */
  onTable(ctx: NodeContext, message: TableMessage): TableVersion | null {
    const fits = message.base === null || (message.epoch === this.held.epoch && message.base === this.held.generation);
    // Epochs are the manager's boot times: a later incarnation has a larger one.
    const newer = message.epoch > this.held.epoch || (message.epoch === this.held.epoch && message.generation > this.held.generation);
    if (!fits || !newer) return this.held;
    const a = this.assembly;
    if (a === null || a.epoch !== message.epoch || a.generation !== message.generation || a.base !== message.base) {
      this.assembly = { epoch: message.epoch, generation: message.generation, base: message.base, parts: new Map() };
    }
    const assembly = this.assembly!;
    assembly.parts.set(message.part, message);
    if (assembly.parts.size < message.parts) return null;
    const parts = [...assembly.parts.keys()].sort((x, y) => x - y).map((p) => assembly.parts.get(p)!);
    this.assembly = null;
    const changed = this.apply(
      parts.flatMap((p) => p.hosts),
      parts.flatMap((p) => p.vnics),
    );
    this.held = { epoch: message.epoch, generation: message.generation };
    this.applied++;
    ctx.emit('overlay.table', {
      epoch: message.epoch,
      generation: message.generation,
      full: message.base === null,
      entries: parts.reduce((n, p) => n + p.vnics.length, 0),
      hosts: [...changed.hosts],
      vnics: [...changed.vnics],
    });
    return this.held;
  }

  /** A plain-data view for inspectors. */
  inspect(): unknown {
    return { epoch: this.held.epoch, generation: this.held.generation, applied: this.applied, assembling: this.assembly === null ? null : { generation: this.assembly.generation, parts: this.assembly.parts.size } };
  }
}
