import { encode } from '../../shared/codec.js';
import { CONTROLLER_NODE, compareNodeEvents, type NodeEvent, type RecordedEvent, type VTime } from '../../shared/events.js';
import type { EventKind, EventPayloads, EventVolatile, InputRecord } from '../../shared/events/catalogue.js';
import type { ResolvedTopology } from '../../shared/topology/types.js';
import type { GrantedInput } from '../runtime/protocol.js';
import type { NodeInput } from '../runtime/types.js';
import type { Cluster, NodeExit, NodeProcessInfo } from './cluster.js';

/**
 * Something that happens at a virtual time the controller chose: a scenario step, a UI or API
 * action, a fault. It is recorded as an `input.<name>` event whose payload is `record`, and a
 * replay feeds the same records back through the same planner.
 */
export interface TimedInput {
  readonly atNs: VTime;
  /** Recorded as the payload of `input.<record.action>`; must be plain data. */
  readonly record: InputRecord;
}

/** What an input does: inputs queued on nodes, and controller operations (a kill). */
export interface InputPlan {
  readonly deliveries: ReadonlyArray<{ readonly node: string; readonly input: NodeInput }>;
  readonly kill?: string;
  /** A killed node to start again as its next incarnation. */
  readonly restart?: string;
}

/** Where ordered events go: the SQLite writer, or a replay comparator. */
export interface EventSink {
  /** Receives events in seq order. Returning false asks the controller to stop the run early. */
  append(events: readonly RecordedEvent[]): boolean | void;
}

export interface ControllerOptions {
  readonly topology: ResolvedTopology;
  readonly cluster: Cluster;
  readonly sink: EventSink;
  /** The run ends at this virtual time: every node gets an `end` input then. */
  readonly endNs: VTime;
  readonly inputs: readonly TimedInput[];
  /** Maps an input to its effects; validated before the run starts. */
  readonly plan: (record: TimedInput['record']) => InputPlan;
  /** Real-time pacing; absent for batch mode (as fast as possible). */
  readonly pace?: { speed: number };
  readonly onProgress?: (progress: RunProgress) => void;
  /** Wall clock for pacing and progress; the only clock the controller reads. */
  readonly wallClock?: () => number;
  /**
   * Most events allowed in one virtual millisecond (DEFAULT_EVENT_BUDGET_PER_MS when absent,
   * Infinity for none). A run that goes over stops after the window with status `failed`, instead
   * of filling a disk with a switching loop.
   */
  readonly eventBudgetPerMs?: number;
  /**
   * A replay of a run that stopped early: no window goes past the virtual time of the
   * recording's `run.stop` event, the run stops there and records the same stop. The replay does
   * not apply the event budget: the recording says where the run stopped.
   */
  readonly stopAt?: RecordedStop;
}

/**
 * Node instants a cluster that can run them without windows (in-process) runs per call, before
 * the controller records their events and lets signals and the UI in.
 */
const INSTANTS_PER_BATCH = 4096;

/** Why and when a run stopped before its end, as its `run.stop` event says. */
export interface RecordedStop {
  /** The virtual time of the `run.stop` event: everything before it was handled, nothing after. */
  readonly vtime: VTime;
  readonly reason: StopReason;
  readonly detail: string | null;
}

/** `interrupted`: Ctrl-C, SIGTERM, a UI stop; `event-budget`: too many events in a virtual millisecond. */
export type StopReason = 'interrupted' | 'event-budget';

/**
 * Events one virtual millisecond may hold before the run is stopped as runaway. The default lab's
 * busiest millisecond (a vMotion's pre-copy) holds about 3,000; a switching loop without loop
 * prevention makes over 100,000.
 */
export const DEFAULT_EVENT_BUDGET_PER_MS = 50_000;

export interface RunProgress {
  readonly vtime: VTime;
  readonly endNs: VTime;
  readonly events: number;
  readonly windows: number;
}

export interface ControllerResult {
  /** `failed`: the run went over its event budget (see `reason`). */
  readonly status: 'completed' | 'interrupted' | 'failed' | 'stopped-by-sink';
  /** Why a run stopped early, in words; null for a completed run. */
  readonly reason: string | null;
  readonly events: number;
  readonly windows: number;
  readonly virtualTimeNs: VTime;
  readonly nodes: NodeProcessInfo[];
  /** Nodes that died without being asked to. */
  readonly crashed: NodeExit[];
}

/**
 * The controller's run loop: conservative synchronisation in windows.
 *
 * Each window starts at T, the earliest pending message anywhere, and ends at the horizon
 * H = min over nodes of (that node's next message + its smallest outgoing wire latency): no frame
 * sent inside the window can arrive before H, so every node may handle everything before H
 * without waiting for anyone. Events of a window are ordered by (vtime, node, nodeSeq) and get
 * their global seq; inputs enter at window boundaries at the times they are scheduled for.
 */
export class Controller {
  private readonly pending: TimedInput[];
  private readonly minOut = new Map<string, VTime>();
  private readonly seqOf = new Map<string, number[]>();
  private readonly crashed: NodeExit[] = [];
  /** The latest incarnation of each node that has been started again. */
  private readonly incarnations = new Map<string, number>();
  private controllerSeq = 0;
  private inputSeq = 0;
  private seq = 0;
  private windows = 0;
  /** Everything before this virtual time has been handled (or, while paced, has nothing to handle). */
  private vtime: VTime = 0;
  /** Horizon of the window being run, 0 between windows. */
  private running: VTime = 0;
  /** Counts `schedule` calls, so a window planned before one can be planned again. */
  private scheduled = 0;
  private interrupted = false;
  /** Set when the event budget is exceeded: the run stops at the next window boundary. */
  private overBudget: string | null = null;
  private readonly budgetPerMs: number;
  /** Events committed per virtual millisecond, for the budget: the current millisecond only. */
  private budgetMs = -1;
  private budgetCount = 0;
  private paused = false;
  private stepRequested = false;
  private resumeWaiters: Array<() => void> = [];
  private speed: number;
  private paceOrigin: { wall: number; vtime: VTime } | null = null;
  private nodes: NodeProcessInfo[] = [];
  private readonly wallClock: () => number;

  constructor(private readonly options: ControllerOptions) {
    this.pending = [...options.inputs].sort((a, b) => a.atNs - b.atNs);
    this.speed = options.pace?.speed ?? 0;
    this.wallClock = options.wallClock ?? (() => Date.now());
    this.budgetPerMs = options.stopAt ? Infinity : (options.eventBudgetPerMs ?? DEFAULT_EVENT_BUDGET_PER_MS);
    for (const node of options.topology.nodes) {
      let min = Infinity;
      for (const w of options.topology.wires) {
        if (w.a.node === node.id || w.b.node === node.id) min = Math.min(min, w.latencyNs);
      }
      this.minOut.set(node.id, min);
    }
  }

  /** Stops the run at the next window boundary (Ctrl-C, SIGTERM, a UI stop). */
  interrupt(): void {
    this.interrupted = true;
    this.wake();
  }

  /** Real-time mode: stop granting windows until `resume` or `step`. */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.paceOrigin = null;
    this.wake();
  }

  /** While paused: handle the events of the next instant of virtual time, then pause again. */
  step(): void {
    this.stepRequested = true;
    this.wake();
  }

  /** Real-time speed factor (virtual seconds per wall second); 0 means as fast as possible. */
  setSpeed(speed: number): void {
    this.speed = speed;
    this.paceOrigin = null;
  }

  /**
   * The earliest virtual time an input scheduled now can take effect: the current time, or the
   * end of the window being run, whose nodes may already have handled anything earlier.
   */
  earliestInputTime(): VTime {
    return Math.max(this.vtime, this.running);
  }

  /** Schedules an input at a future virtual time (UI and API actions). */
  schedule(input: TimedInput): void {
    const earliest = this.earliestInputTime();
    if (input.atNs < earliest) throw new Error(`Cannot schedule ${input.record.action} at ${input.atNs} ns: the run is already at ${earliest} ns`);
    if (input.atNs >= this.options.endNs) throw new Error(`Cannot schedule ${input.record.action} at ${input.atNs} ns: the run ends at ${this.options.endNs} ns`);
    this.options.plan(input.record);
    const i = this.pending.findIndex((p) => p.atNs > input.atNs);
    this.pending.splice(i < 0 ? this.pending.length : i, 0, input);
    this.scheduled++;
    this.wake();
  }

  /** The current virtual time (the start of the next window). */
  now(): VTime {
    return this.vtime;
  }

  async run(): Promise<ControllerResult> {
    const { cluster, endNs } = this.options;
    for (const input of this.pending) this.options.plan(input.record);
    this.nodes = await cluster.start();
    const startEvents: NodeEvent[] = [];
    const bootInputs = new Map<string, GrantedInput[]>();
    for (const n of this.nodes) {
      const start = this.controllerEvent(0, 'node.start', { node: n.id, kind: n.kind, incarnation: n.incarnation }, { pid: n.pid, mode: cluster.mode });
      startEvents.push(start);
      bootInputs.set(n.id, [this.grantedInput(0, { type: 'boot' }, start.nodeSeq)]);
    }
    let status: ControllerResult['status'] = 'completed';
    /** Events of the window being planned and run: its inputs, then what its nodes report. */
    let windowEvents: NodeEvent[] = startEvents;
    /** Events of the last window run, committed while the next one runs. */
    let uncommitted: NodeEvent[] | null = null;
    let inputs = bootInputs;
    let endDelivered = false;
    const nextOf = new Map<string, VTime>();

    let stop: { reason: StopReason; detail: string | null } | null = null;
    let instantsSinceYield = 0;
    for (;;) {
      // A run stops only here, between windows, before anything of the next window is planned:
      // everything before its virtual time is handled, nothing at or after it. A replay stops at
      // the same virtual time, whatever its windows (they never cross it).
      stop = this.stopRequest();
      if (stop !== null) break;
      // In a batch run between inputs, a cluster holding every node runs their instants from a
      // heap, with no window to plan; the windows below take over at the next input or the end.
      if (cluster.runInstants && inputs.size === 0 && !endDelivered && this.speed <= 0 && !this.paused) {
        // With an event budget, a batch ends at the next virtual millisecond, so a runaway run
        // stops within the millisecond that went over, as it does with windows.
        const budgetEnd = this.budgetPerMs === Infinity ? Infinity : (Math.floor(this.vtime / 1_000_000) + 1) * 1_000_000;
        const until = Math.min(this.pending[0]?.atNs ?? Infinity, endNs, this.options.stopAt?.vtime ?? Infinity, budgetEnd);
        const batch = cluster.runInstants(until, INSTANTS_PER_BATCH);
        if (batch.steps > 0) {
          if (uncommitted !== null) batch.events.unshift(...uncommitted);
          uncommitted = null;
          this.windows += batch.steps;
          this.vtime = Math.max(this.vtime, Math.min(batch.next, until));
          if (!this.commit(batch.events)) {
            status = 'stopped-by-sink';
            break;
          }
          this.options.onProgress?.({ vtime: this.vtime, endNs, events: this.seq, windows: this.windows });
          // Signals and the UI get their turn every INSTANTS_PER_BATCH instants, however the batches fall.
          instantsSinceYield += batch.steps;
          if (instantsSinceYield >= INSTANTS_PER_BATCH) {
            instantsSinceYield = 0;
            await new Promise<void>((resolve) => setImmediate(resolve));
          }
          continue;
        }
      }
      // The earliest thing that can happen anywhere.
      nextOf.clear();
      let T = Infinity;
      for (const id of cluster.alive()) {
        let t = cluster.nextTime(id);
        const queued = inputs.get(id);
        if (queued) for (const i of queued) t = Math.min(t, i.arrival);
        nextOf.set(id, t);
        T = Math.min(T, t);
      }
      const nextInput = this.pending[0] && this.pending[0].atNs < endNs ? this.pending[0].atNs : Infinity;
      T = Math.min(T, nextInput, endDelivered ? Infinity : endNs);
      if (!Number.isFinite(T)) break;
      T = Math.max(T, this.vtime);
      const replayedStop = this.options.stopAt;
      if (replayedStop && T >= replayedStop.vtime) {
        // Nothing happens before the recorded stop any more: the clock reaches it, as it did then.
        this.vtime = Math.max(this.vtime, replayedStop.vtime);
        stop = { reason: replayedStop.reason, detail: replayedStop.detail };
        break;
      }

      // Pause, step and real-time pacing, before the window's inputs are planned: a stop asked
      // for meanwhile is taken at the top of the loop with nothing of this window done.
      if ((this.speed > 0 || this.paused) && uncommitted !== null) {
        // Whoever paces or pauses the run watches it: what ran so far is recorded before waiting.
        const kept = this.commit(uncommitted);
        uncommitted = null;
        if (!kept) {
          status = 'stopped-by-sink';
          break;
        }
      }
      const scheduled = this.scheduled;
      const allowed = await this.paced(T);
      if (this.scheduled !== scheduled || this.interrupted) {
        // An input arrived while we waited for the wall clock: plan this window again around it.
        continue;
      }

      // Inputs due now: record them, plan them; kills happen here, at the boundary. What ran
      // before is recorded first: a restart numbers its node's events after every earlier one.
      if (uncommitted !== null && this.pending.length > 0 && this.pending[0]!.atNs <= T && this.pending[0]!.atNs < endNs) {
        const kept = this.commit(uncommitted);
        uncommitted = null;
        if (!kept) {
          status = 'stopped-by-sink';
          break;
        }
      }
      while (this.pending.length > 0 && this.pending[0]!.atNs <= T && this.pending[0]!.atNs < endNs) {
        const input = this.pending.shift()!;
        const plan = this.options.plan(input.record);
        const event = this.controllerEvent(input.atNs, `input.${input.record.action}`, input.record);
        windowEvents.push(event);
        // A kill of a node that is already gone is recorded and does nothing more.
        if (plan.kill !== undefined && cluster.alive().includes(plan.kill)) {
          const exit = await cluster.kill(plan.kill);
          windowEvents.push(this.exitEvent(input.atNs, exit));
          nextOf.delete(plan.kill);
        }
        // A restart of a node that is running is recorded and does nothing more.
        if (plan.restart !== undefined && !cluster.alive().includes(plan.restart)) {
          const incarnation = (this.incarnations.get(plan.restart) ?? 0) + 1;
          this.incarnations.set(plan.restart, incarnation);
          const info = await cluster.restart(plan.restart, incarnation, this.seqOf.get(plan.restart)?.length ?? 0);
          this.nodes.push(info);
          const start = this.controllerEvent(input.atNs, 'node.start', { node: info.id, kind: info.kind, incarnation }, { pid: info.pid, mode: cluster.mode });
          windowEvents.push(start);
          const list = inputs.get(info.id) ?? [];
          list.push(this.grantedInput(input.atNs, { type: 'boot' }, start.nodeSeq));
          inputs.set(info.id, list);
          nextOf.set(info.id, input.atNs);
        }
        for (const d of plan.deliveries) {
          const list = inputs.get(d.node) ?? [];
          list.push(this.grantedInput(input.atNs, d.input, event.nodeSeq));
          inputs.set(d.node, list);
          nextOf.set(d.node, Math.min(nextOf.get(d.node) ?? Infinity, input.atNs));
        }
      }
      if (!endDelivered && T >= endNs) {
        endDelivered = true;
        for (const id of cluster.alive()) {
          const list = inputs.get(id) ?? [];
          list.push(this.grantedInput(endNs, { type: 'end' }, null));
          inputs.set(id, list);
          nextOf.set(id, Math.min(nextOf.get(id) ?? Infinity, endNs));
        }
      }

      let horizon = Infinity;
      for (const [id, t] of nextOf) horizon = Math.min(horizon, t + (this.minOut.get(id) ?? Infinity));
      // The next input still to come: those due at T are planned above and run in this window, so
      // the window ends after T and a stop taken after it cannot fall between an input's record
      // and its handling (a replay stopping there would not record the input).
      const followingInput = this.pending[0] && this.pending[0].atNs < endNs ? this.pending[0].atNs : Infinity;
      horizon = Math.min(horizon, followingInput);
      if (!endDelivered) horizon = Math.min(horizon, endNs);
      horizon = Math.min(horizon, allowed, this.options.stopAt?.vtime ?? Infinity);
      if (!Number.isFinite(horizon)) horizon = endNs + 1;

      const participants: string[] = [];
      for (const [id, t] of nextOf) if (t < horizon) participants.push(id);
      this.running = horizon;
      // The nodes run this window while the last one's events are ordered and recorded.
      const running = cluster.runWindow(horizon, participants, inputs);
      if (uncommitted !== null) {
        const kept = this.commit(uncommitted);
        uncommitted = null;
        if (!kept) {
          await running;
          this.running = 0;
          status = 'stopped-by-sink';
          break;
        }
      }
      const report = await running;
      this.running = 0;
      this.windows++;
      for (const e of report.events) windowEvents.push(e);
      for (const exit of report.exits) {
        this.crashed.push(exit);
        windowEvents.push(this.exitEvent(T, exit));
      }
      uncommitted = windowEvents;
      windowEvents = [];
      inputs = new Map();
      this.vtime = Math.min(horizon, endNs);
      this.options.onProgress?.({ vtime: this.vtime, endNs, events: this.seq, windows: this.windows });
      if (endDelivered && cluster.alive().every((id) => !Number.isFinite(cluster.nextTime(id)))) break;
    }
    if (uncommitted !== null && status !== 'stopped-by-sink' && !this.commit(uncommitted)) status = 'stopped-by-sink';

    if (stop !== null) {
      status = stop.reason === 'interrupted' ? 'interrupted' : 'failed';
      windowEvents.push(this.controllerEvent(this.vtime, 'run.stop', { reason: stop.reason, detail: stop.detail }));
    }
    // Planned exits at the end, in node order, so they are part of the deterministic log.
    const exits = await cluster.stop();
    const endTime = status === 'completed' ? endNs : this.vtime;
    this.vtime = endTime;
    // A sink that asked to stop (a replay that found its divergence) wants nothing more.
    if (status !== 'stopped-by-sink') this.commit(windowEvents.concat(exits.map((exit) => this.exitEvent(endTime, exit))));
    return {
      status,
      reason: stop === null ? null : stop.detail === null ? stop.reason : stop.detail,
      events: this.seq,
      windows: this.windows,
      virtualTimeNs: endTime,
      nodes: this.nodes,
      crashed: this.crashed,
    };
  }

  /** Whether the run must stop now, and why. */
  private stopRequest(): { reason: StopReason; detail: string | null } | null {
    const replayed = this.options.stopAt;
    if (replayed) return this.vtime >= replayed.vtime ? { reason: replayed.reason, detail: replayed.detail } : null;
    if (this.overBudget !== null) return { reason: 'event-budget', detail: this.overBudget };
    if (this.interrupted) return { reason: 'interrupted', detail: null };
    return null;
  }

  /** Counts events per virtual millisecond; the first millisecond over budget stops the run. */
  private countForBudget(vtime: VTime): void {
    const ms = Math.floor(vtime / 1_000_000);
    if (ms !== this.budgetMs) {
      this.budgetMs = ms;
      this.budgetCount = 0;
    }
    this.budgetCount++;
    if (this.budgetCount === this.budgetPerMs + 1 && this.overBudget === null) {
      this.overBudget =
        `Event budget exceeded: more than ${this.budgetPerMs} events in the virtual millisecond at ${ms} ms ` +
        '(a switching loop or a broadcast storm?); the run was stopped';
    }
  }

  /** Orders a window's events, gives them their seq and resolves their causes; hands them to the sink. */
  private commit(events: NodeEvent[]): boolean {
    if (events.length === 0) return true;
    events.sort(compareNodeEvents);
    const recorded: RecordedEvent[] = [];
    for (const e of events) {
      if (this.budgetPerMs !== Infinity) this.countForBudget(e.vtime);
      const seq = this.seq++;
      let bySeq = this.seqOf.get(e.node);
      if (!bySeq) this.seqOf.set(e.node, (bySeq = []));
      bySeq[e.nodeSeq] = seq;
      const cause = e.cause ? (this.seqOf.get(e.cause.node)?.[e.cause.nodeSeq] ?? null) : null;
      recorded.push({ seq, vtime: e.vtime, node: e.node, kind: e.kind, cause, payload: e.payload, volatile: e.volatile });
    }
    return this.options.sink.append(recorded) !== false;
  }

  private controllerEvent<K extends EventKind>(vtime: VTime, kind: K, payload: EventPayloads[K], volatile?: EventVolatile<K>): NodeEvent {
    return {
      vtime,
      node: CONTROLLER_NODE,
      nodeSeq: this.controllerSeq++,
      kind,
      cause: null,
      payload: encode(payload),
      volatile: volatile ? encode(volatile) : null,
    };
  }

  private exitEvent(vtime: VTime, exit: NodeExit): NodeEvent {
    return this.controllerEvent(
      vtime,
      'node.exit',
      { node: exit.node, incarnation: exit.incarnation, code: exit.code, signal: exit.signal, planned: exit.planned, reason: exit.reason },
    );
  }

  /** An input as queued on a node; `causeSeq` is the controller event behind it (none for `end`). */
  private grantedInput(arrival: VTime, input: NodeInput, causeSeq: number | null): GrantedInput {
    return { arrival, srcSeq: this.inputSeq++, causeSeq, input };
  }

  /**
   * Applies pause, step and real-time pacing to a window starting at T: waits until it may run,
   * and returns the latest horizon it may have (Infinity in batch mode).
   */
  private async paced(T: VTime): Promise<VTime> {
    for (;;) {
      if (this.interrupted) return Infinity;
      if (this.paused && !this.stepRequested) {
        await new Promise<void>((resolve) => this.resumeWaiters.push(resolve));
        continue;
      }
      if (this.paused && this.stepRequested) {
        this.stepRequested = false;
        return T + 1;
      }
      if (this.speed <= 0) return Infinity;
      const wall = this.wallClock();
      this.paceOrigin ??= { wall, vtime: T };
      const allowed = this.paceOrigin.vtime + Math.floor((wall - this.paceOrigin.wall) * 1e6 * this.speed);
      if (allowed > T) return allowed;
      // Nothing to handle yet, but the virtual clock still moves with the wall clock.
      this.vtime = Math.max(this.vtime, allowed);
      const waitMs = Math.min(50, Math.max(1, (T - allowed) / 1e6 / this.speed));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.resumeWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const waiters = this.resumeWaiters;
    this.resumeWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
