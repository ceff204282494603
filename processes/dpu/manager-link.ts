/**
 * A DPU's end of its management cable: the overlay table the manager pushes (applied to the
 * switch's control plane whatever the DPU's HA role, so a standby that takes over already knows
 * where every VM and host is), and its report when it boots after the start of the run or when a
 * restarted manager asks. Without a manager the DPU keeps the last table it applied.
 */
import type { DpuNode, ResolvedTopology } from '../../shared/topology/types.js';
import type { MalformedCounter } from '../common/malformed.js';
import { ManagerClient } from '../mgmt/client.js';
import { takeMgmtFrame } from '../mgmt/messages.js';
import { OverlayTableReceiver } from '../mgmt/table-receiver.js';
import type { NodeContext } from '../runtime/types.js';
import type { ControlPlane } from '../vds/switching/control-plane.js';

/** The DPU's management agent. */
export class DpuManagerLink {
  private readonly client: ManagerClient;
  private readonly tables: OverlayTableReceiver;

  constructor(
    private readonly node: DpuNode,
    topology: ResolvedTopology,
    controlPlane: ControlPlane,
    private readonly malformed: MalformedCounter,
  ) {
    this.client = new ManagerClient(topology, node.id);
    this.tables = new OverlayTableReceiver((hosts, vnics) => controlPlane.applyTable(hosts, vnics));
  }

  /** At the start of the run the manager knows what the DPU holds; a DPU that restarts tells it. */
  boot(ctx: NodeContext): void {
    if (ctx.now() > 0) this.report(ctx);
  }

  /** A frame on the management port. */
  onFrame(ctx: NodeContext, port: string, bytes: Uint8Array): void {
    const message = takeMgmtFrame(ctx, this.malformed, port, bytes);
    if (message === null) return;
    this.client.heard(ctx);
    switch (message.t) {
      case 'table': {
        const held = this.tables.onTable(ctx, message);
        if (held !== null) this.client.send(ctx, { t: 'table.ack', node: this.node.id, ...held });
        return;
      }
      case 'resync':
        this.report(ctx);
        return;
      case 'ack':
      case 'migration.answer':
      case 'switchover.decision':
        this.client.onAnswer(ctx, message);
        return;
      default:
        ctx.emit('frame.malformed', { port, code: 'unexpected-message', offset: 0, message: `A DPU takes no ${message.t} from the manager` });
    }
  }

  /** Handles the link's timers; false for a timer that is not its own. */
  onTimer(ctx: NodeContext, name: string, data: unknown): boolean {
    return this.client.onTimer(ctx, name, data);
  }

  inspect(): unknown {
    return { client: this.client.inspect(), table: this.tables.inspect() };
  }

  private report(ctx: NodeContext): void {
    this.client.request(ctx, 'report', (id) => ({ t: 'dpu.report', id, node: this.node.id, table: this.tables.version }), {
      what: `its report to the manager (it holds overlay table generation ${this.tables.version.generation})`,
      onAnswer: () => true,
    });
  }
}
