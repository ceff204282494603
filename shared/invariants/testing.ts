/**
 * For tests: small hand-written event logs on the default lab, built step by step, and a helper
 * that runs one invariant over them.
 */
import { loadDefaultLab } from '../topology/load.js';
import type { ResolvedTopology } from '../topology/types.js';
import type { VTime } from '../events.js';
import type { CheckedEvent, Invariant, Violation } from './types.js';

/** The default lab, resolved once. */
export const LAB: ResolvedTopology = loadDefaultLab();

/** Milliseconds to ns. */
export function msNs(ms: number): VTime {
  return Math.round(ms * 1_000_000);
}

/**
 * Builds a log: events get consecutive seqs; `at` sets the virtual time of the next ones.
 *
 * @example
 * const log = new LogBuilder().boot();
 * log.at(500).emit('esx-01', 'vmotion.start', { mid: 'm1', vm: 'web-01', from: 'esx-01', to: 'esx-02', vnics: ['web-01.eth0'] });
 */
export class LogBuilder {
  readonly events: CheckedEvent[] = [];
  private now: VTime = 0;
  private readonly startSeq = new Map<string, number>();

  constructor(readonly topology: ResolvedTopology = LAB) {}

  /** Sets the virtual time, in milliseconds, of the events that follow. */
  at(ms: number): this {
    this.now = msNs(ms);
    return this;
  }

  /** The virtual time of the next events. */
  get time(): VTime {
    return this.now;
  }

  /** Appends an event; returns it (its seq is the log's next). */
  emit(node: string, kind: string, payload: Record<string, unknown>, cause: number | null = null): CheckedEvent {
    const e = { seq: this.events.length, vtime: this.now, node, kind, cause, payload };
    this.events.push(e);
    return e;
  }

  /** A controller input: `input.<action>`. */
  input(action: string, fields: Record<string, unknown>): CheckedEvent {
    return this.emit('controller', `input.${action}`, { action, ...fields });
  }

  /** Starts a node (a restart when it ran before); a host brings up its topology VMs. */
  start(node: string, incarnation = 0): CheckedEvent {
    const kind = this.topology.nodes.find((n) => n.id === node)?.kind ?? 'switch';
    const e = this.emit('controller', 'node.start', { node, kind, incarnation });
    this.startSeq.set(node, e.seq);
    return e;
  }

  /** The VMs a host brings up at boot: one `vnic.mode` per vNIC, caused by its start. */
  bootVms(host: string): void {
    const spec = this.topology.nodes.find((n) => n.id === host);
    if (spec?.kind !== 'host') return;
    for (const vm of spec.spec.vms) {
      for (const vnic of vm.vnics) this.emit(host, 'vnic.mode', { vnic: vnic.id, vm: vm.id, requested: vnic.mode, active: vnic.mode, reason: null }, this.startSeq.get(host) ?? null);
    }
  }

  /** Kills a node: `input.kill` and its `node.exit`. */
  kill(node: string, incarnation = 0): CheckedEvent {
    this.input('kill', { node });
    return this.emit('controller', 'node.exit', { node, incarnation, code: null, signal: 'SIGKILL', planned: true, reason: null });
  }

  /** The run ends at `ms`: the controller's planned exit of every node still running, as it records them. */
  end(ms: number): this {
    this.at(ms);
    for (const n of this.topology.nodes) this.emit('controller', 'node.exit', { node: n.id, incarnation: 0, code: 0, signal: null, planned: true, reason: null });
    return this;
  }

  /** Every node of the lab starts at 0 and hosts bring up their VMs. */
  boot(): this {
    this.at(0);
    for (const n of this.topology.nodes) this.start(n.id);
    for (const n of this.topology.nodes) if (n.kind === 'host') this.bootVms(n.id);
    return this;
  }
}

/** Runs one invariant over events and returns every violation, ending the run at `endNs`. */
export function violationsOf(invariant: Invariant, events: readonly CheckedEvent[], endNs: VTime, topology: ResolvedTopology = LAB, settleNs?: VTime): Violation[] {
  const monitor = invariant.start({ topology, ...(settleNs !== undefined ? { settleNs } : {}) });
  const out: Violation[] = [];
  for (const e of events) out.push(...monitor.observe(e));
  out.push(...monitor.finish(endNs));
  return out;
}
