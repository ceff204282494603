import type { NodeContext } from '../../runtime/types.js';
import type { IpfixExport, IpfixExporter } from './exporter.js';
import type { FlowCache, FlowInterfaces, FlowKey, FlowVerdict } from './flow-cache.js';

/** The name of the agent's timer. */
export const IPFIX_EXPIRE_TIMER = 'ipfix.expire';

/**
 * A DPU's flow export, wired to its node: the owner reports every packet with `observe`, hands
 * the agent its timers with `onTimer` and calls `finish` at the end of the run. The agent keeps
 * one timer armed at the cache's next expiry (none while no flow is open), and exports what each
 * expiry closes through the exporter, out of `port` on the management channel.
 */
export class IpfixAgent {
  private armed = false;

  constructor(
    readonly cache: FlowCache,
    readonly exporter: IpfixExporter,
    private readonly port: string,
  ) {}

  /** Counts one packet (`bytes` of IP) of `key` crossing `interfaces`, now, forwarded or denied by the firewall. */
  observe(ctx: NodeContext, key: FlowKey, bytes: number, interfaces: FlowInterfaces, verdict: FlowVerdict = 'forwarded'): void {
    this.cache.observe(ctx.now(), key, bytes, interfaces, verdict);
    this.arm(ctx);
  }

  /** Handles the agent's timer; returns false for a timer that is not the agent's. */
  onTimer(ctx: NodeContext, name: string): boolean {
    if (name !== IPFIX_EXPIRE_TIMER) return false;
    this.armed = false;
    this.exporter.export(ctx, this.cache.expire(ctx.now()), this.port);
    this.arm(ctx);
    return true;
  }

  /** The run ends (or export stops): every open flow is exported with a forced end. */
  finish(ctx: NodeContext): IpfixExport[] {
    const closed = [...this.cache.expire(ctx.now()), ...this.cache.flush()];
    return this.exporter.export(ctx, closed, this.port);
  }

  /** State for inspectors: open flows and what has been exported. */
  inspect(): { openFlows: ReturnType<FlowCache['openFlows']>; messages: number; records: number } {
    return { openFlows: this.cache.openFlows(), messages: this.exporter.messages, records: this.exporter.records };
  }

  private arm(ctx: NodeContext): void {
    if (this.armed) return;
    const next = this.cache.nextExpiry();
    if (next === null) return;
    this.armed = true;
    ctx.setTimer(Math.max(0, next - ctx.now()), IPFIX_EXPIRE_TIMER);
  }
}
