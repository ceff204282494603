/**
 * Fault schedules: what the explorer does to a lab in one run, drawn from the run's seed.
 *
 * A schedule is a list of scenario steps. It always starts guest traffic of every kind (at least
 * a ping and a UDP flow between two hosts, which `traffic-recovers` can judge), then draws one to
 * five fault episodes at random times: kills and restarts of any node, wires cut and restored,
 * impairment bursts, user-initiated DPU failovers, vMotions (single, concurrent, back and forth,
 * during a failover), firewall rule changes and memory reservation changes. The run ends once the
 * lab has had its settling time after the last fault plus one second to show its traffic flows.
 *
 * The schedule is written as a scenario file, so `dpulab run --scenario FILE --seed S` replays it.
 */
import { stringify } from 'yaml';
import { RandomStream } from '../../../shared/random.js';
import type { VTime } from '../../../shared/events.js';
import type { ResolvedTopology, VmSpec } from '../../../shared/topology/types.js';
import type { Action, VmotionOptions } from '../../../shared/actions/schema.js';
import type { DfwRuleOutput } from '../../../shared/actions/dfw-rule.js';
import { DEFAULT_SETTLE_NS } from '../../../shared/invariants/index.js';
import { FAULT_KINDS, type FaultKind } from './fault-kinds.js';

/** One step of a schedule: an action at a virtual time. */
export type ScheduleStep = { readonly atNs: VTime } & Action;

/** What a run does to the lab. */
export interface Schedule {
  /** The run's seed: it seeds the schedule and every random stream of the run. */
  readonly seed: number;
  readonly endNs: VTime;
  readonly steps: readonly ScheduleStep[];
}

export { FAULT_KINDS, type FaultKind } from './fault-kinds.js';

/** Actions that start or stop guest traffic or mark the timeline: everything else is a fault. */
const TRAFFIC_ACTIONS = new Set(['flow.start', 'flow.stop', 'note', 'traceflow']);

/** True for a step that disturbs the lab (not traffic, not a note). */
export function isFault(step: ScheduleStep): boolean {
  return !TRAFFIC_ACTIONS.has(step.action);
}

const MS = 1_000_000;
const S = 1_000_000_000;

/** Faults fall in this window of virtual time, after traffic has started. */
const FAULTS_FROM_NS: VTime = 300 * MS;
const FAULTS_UNTIL_NS: VTime = 2_800 * MS;

/** How long after a vMotion starts the explorer expects it to have ended: a 2 GiB VM crosses 25 Gb/s in under a second. */
const VMOTION_EXPECTED_NS: VTime = 1_500 * MS;

/** What a schedule may draw from. */
export interface ScheduleOptions {
  /** Fault kinds to draw from (default: all). */
  readonly faults?: readonly FaultKind[];
  /** The settling time the invariants give the lab after the last fault (default 1 s). */
  readonly settleNs?: VTime;
}

/** The topology's objects a schedule picks from. */
interface Menu {
  readonly nodes: readonly string[];
  readonly wires: readonly string[];
  readonly ethernet: readonly string[];
  readonly hosts: readonly string[];
  /** Hosts with a standby DPU: they can fail over. */
  readonly haHosts: readonly string[];
  readonly vms: readonly (VmSpec & { readonly home: string })[];
  /** The DPU each host starts with as its active. */
  readonly activeDpu: ReadonlyMap<string, string>;
}

function menuOf(topology: ResolvedTopology): Menu {
  const hosts = topology.nodes.flatMap((n) => (n.kind === 'host' ? [n] : []));
  return {
    nodes: topology.nodes.map((n) => n.id),
    wires: topology.wires.map((w) => w.id),
    ethernet: topology.wires.filter((w) => w.kind === 'ethernet').map((w) => w.id),
    hosts: hosts.map((h) => h.id),
    haHosts: hosts.filter((h) => h.spec.failover.standby.length > 0).map((h) => h.id),
    vms: hosts.flatMap((h) => h.spec.vms.filter((vm) => vm.vnics.length > 0).map((vm) => ({ ...vm, home: h.id }))),
    activeDpu: new Map(hosts.flatMap((h) => (h.spec.failover.active[0] ? [[h.id, h.spec.failover.active[0]] as const] : []))),
  };
}

/** Draws from one seeded stream: the same seed and topology always give the same schedule. */
class Draw {
  private readonly random: RandomStream;
  constructor(seed: number) {
    this.random = new RandomStream(seed, 'explore', 'schedule');
  }
  chance(p: number): boolean {
    return this.random.chance(p);
  }
  int(from: number, to: number): number {
    return from + this.random.int(to - from + 1);
  }
  pick<T>(list: readonly T[]): T {
    if (list.length === 0) throw new Error('Nothing to pick from');
    return list[this.random.int(list.length)]!;
  }
  /** A time in [from, to], whole microseconds. */
  time(from: VTime, to: VTime): VTime {
    return Math.round((from + this.random.next() * (to - from)) / 1000) * 1000;
  }
  /** A probability in [from, to], three decimals. */
  probability(from: number, to: number): number {
    return Math.round((from + this.random.next() * (to - from)) * 1000) / 1000;
  }
}

/** Counters for ids the schedule makes up. */
interface Ids {
  flows: number;
  rules: number;
}

/**
 * Draws the schedule of one run.
 *
 * @example
 * const schedule = drawSchedule(loadDefaultLab(), 42);
 * writeFileSync('run-42.yaml', scheduleYaml(schedule, 'explore-42'));
 */
export function drawSchedule(topology: ResolvedTopology, seed: number, options: ScheduleOptions = {}): Schedule {
  const menu = menuOf(topology);
  const draw = new Draw(seed);
  const ids: Ids = { flows: 0, rules: 0 };
  const steps: ScheduleStep[] = [...traffic(draw, menu, ids)];
  const kinds = (options.faults ?? FAULT_KINDS).filter((k) => possible(k, menu));
  if (kinds.length > 0) {
    const episodes = draw.int(1, 5);
    for (let i = 0; i < episodes; i++) steps.push(...episode(draw.pick(kinds), draw, menu, ids, draw.time(FAULTS_FROM_NS, FAULTS_UNTIL_NS)));
  }
  return withEnd({ seed, endNs: 0, steps }, options.settleNs ?? DEFAULT_SETTLE_NS);
}

/** A schedule with its steps sorted and its end placed after the last fault, settling time and one second of traffic. */
export function withEnd(schedule: Schedule, settleNs: VTime = DEFAULT_SETTLE_NS): Schedule {
  const steps = [...schedule.steps].sort((a, b) => a.atNs - b.atNs);
  let last = 0;
  for (const s of steps) {
    let until = s.atNs;
    if (s.action === 'impair') until += s.duration;
    if (s.action === 'vmotion') until += Math.max(VMOTION_EXPECTED_NS, (s.options?.maxPrecopy ?? 0) + 2 * S);
    last = Math.max(last, until);
  }
  // The recovery window opens at the first whole second after settling (flow reports come each
  // second) and lasts one second.
  const endNs = Math.ceil((last + settleNs) / S) * S + S;
  return { seed: schedule.seed, endNs, steps };
}

function possible(kind: FaultKind, menu: Menu): boolean {
  switch (kind) {
    case 'failover':
      return menu.haHosts.length > 0;
    case 'vmotion':
      return menu.hosts.length > 1 && menu.vms.length > 0;
    case 'reserve':
    case 'dfw':
      return menu.vms.length > 0;
    default:
      return menu.nodes.length > 0;
  }
}

function flowStep(at: VTime, id: string, kind: 'ping' | 'tcp' | 'udp', from: string, to: string, ratePps: number): ScheduleStep {
  return { atNs: at, action: 'flow.start', flow: { id, kind, from, to, ratePps } };
}

/** Guest traffic of every kind: a ping and a UDP flow between two hosts, and up to three more. */
function traffic(draw: Draw, menu: Menu, ids: Ids): ScheduleStep[] {
  if (menu.vms.length < 2) return [];
  const steps: ScheduleStep[] = [];
  const across = (): [string, string] => {
    const a = draw.pick(menu.vms);
    const others = menu.vms.filter((v) => v.home !== a.home);
    const b = others.length > 0 ? draw.pick(others) : draw.pick(menu.vms.filter((v) => v.id !== a.id));
    return draw.chance(0.5) ? [a.id, b.id] : [b.id, a.id];
  };
  const [p1, p2] = across();
  steps.push(flowStep(draw.time(100 * MS, 200 * MS), `f${++ids.flows}`, 'ping', p1, p2, 20));
  const [u1, u2] = across();
  steps.push(flowStep(draw.time(100 * MS, 200 * MS), `f${++ids.flows}`, 'udp', u1, u2, draw.pick([50, 100, 200])));
  const more = draw.int(0, 3);
  for (let i = 0; i < more; i++) {
    const a = draw.pick(menu.vms);
    const b = draw.pick(menu.vms.filter((v) => v.id !== a.id));
    steps.push(flowStep(draw.time(100 * MS, 1_500 * MS), `f${++ids.flows}`, draw.pick(['ping', 'tcp', 'tcp', 'udp'] as const), a.id, b.id, draw.pick([10, 50, 100, 200])));
  }
  return steps;
}

function vmotionOptions(draw: Draw): VmotionOptions {
  return { maxPrecopy: draw.pick([1 * S, 1_500 * MS, 2 * S]), onDfwRefused: draw.chance(0.3) ? 'disconnect' : 'abort' };
}

function otherHost(draw: Draw, menu: Menu, host: string): string {
  return draw.pick(menu.hosts.filter((h) => h !== host));
}

/** One fault episode starting at `at`: one to four steps. */
function episode(kind: FaultKind, draw: Draw, menu: Menu, ids: Ids, at: VTime): ScheduleStep[] {
  switch (kind) {
    case 'kill': {
      const node = draw.pick(menu.nodes);
      const steps: ScheduleStep[] = [{ atNs: at, action: 'kill', node }];
      if (draw.chance(0.8)) steps.push({ atNs: at + draw.time(50 * MS, 800 * MS), action: 'restart', node });
      return steps;
    }
    case 'link': {
      const wire = draw.pick(menu.wires);
      const steps: ScheduleStep[] = [{ atNs: at, action: 'link', wire, state: 'down' }];
      if (draw.chance(0.85)) steps.push({ atNs: at + draw.time(10 * MS, 800 * MS), action: 'link', wire, state: 'up' });
      return steps;
    }
    case 'impair': {
      const wire = draw.chance(0.75) && menu.ethernet.length > 0 ? draw.pick(menu.ethernet) : draw.pick(menu.wires);
      const loss = draw.chance(0.7) ? draw.probability(0.01, 0.5) : undefined;
      const duplicate = draw.chance(0.4) ? draw.probability(0.01, 0.3) : undefined;
      const corrupt = draw.chance(0.3) ? draw.probability(0.001, 0.05) : undefined;
      const jitter = draw.chance(0.4) || (loss === undefined && duplicate === undefined && corrupt === undefined) ? draw.time(1_000, 200_000) : undefined;
      return [
        {
          atNs: at,
          action: 'impair',
          wire,
          ...(loss !== undefined ? { loss } : {}),
          ...(duplicate !== undefined ? { duplicate } : {}),
          ...(corrupt !== undefined ? { corrupt } : {}),
          ...(jitter !== undefined ? { jitter } : {}),
          duration: draw.time(20 * MS, 600 * MS),
        },
      ];
    }
    case 'failover':
      return [{ atNs: at, action: 'dpu.failover', host: draw.pick(menu.haHosts) }];
    case 'vmotion':
      return vmotionEpisode(draw, menu, at);
    case 'dfw': {
      const id = `r${++ids.rules}`;
      const steps: ScheduleStep[] = [{ atNs: at, action: 'dfw.rule.add', rule: drawRule(draw, menu, id) }];
      if (draw.chance(0.5)) steps.push({ atNs: at + draw.time(100 * MS, 1_000 * MS), action: 'dfw.rule.remove', rule: id });
      return steps;
    }
    case 'reserve': {
      const vm = draw.pick(menu.vms);
      const steps: ScheduleStep[] = [{ atNs: at, action: 'vm.reserve', vm: vm.id, memoryReservationMiB: draw.pick([0, Math.floor(vm.memoryMiB / 2)]) }];
      if (draw.chance(0.8)) steps.push({ atNs: at + draw.time(100 * MS, 1_000 * MS), action: 'vm.reserve', vm: vm.id, memoryReservationMiB: vm.memoryMiB });
      return steps;
    }
  }
}

/** A vMotion: alone, two at once, there and back again, or with a failover on one of its hosts. */
function vmotionEpisode(draw: Draw, menu: Menu, at: VTime): ScheduleStep[] {
  const vm = draw.pick(menu.vms);
  const to = otherHost(draw, menu, vm.home);
  const first: ScheduleStep = { atNs: at, action: 'vmotion', vm: vm.id, to, options: vmotionOptions(draw) };
  switch (draw.pick(['single', 'concurrent', 'back-and-forth', 'during-failover'] as const)) {
    case 'single':
      return [first];
    case 'concurrent': {
      const others = menu.vms.filter((v) => v.id !== vm.id);
      if (others.length === 0) return [first];
      const second = draw.pick(others);
      return [first, { atNs: at + draw.time(0, 20 * MS), action: 'vmotion', vm: second.id, to: otherHost(draw, menu, second.home), options: vmotionOptions(draw) }];
    }
    case 'back-and-forth':
      return [first, { atNs: at + draw.time(300 * MS, 1_500 * MS), action: 'vmotion', vm: vm.id, to: vm.home, options: vmotionOptions(draw) }];
    case 'during-failover': {
      const when = at + draw.time(0, 600 * MS);
      const host = draw.pick([vm.home, to]);
      const dpu = menu.activeDpu.get(to);
      if (draw.chance(0.5) && menu.haHosts.includes(host)) return [first, { atNs: when, action: 'dpu.failover', host }];
      if (dpu === undefined) return [first];
      const steps: ScheduleStep[] = [first, { atNs: when, action: 'kill', node: dpu }];
      if (draw.chance(0.7)) steps.push({ atNs: when + draw.time(100 * MS, 800 * MS), action: 'restart', node: dpu });
      return steps;
    }
  }
}

function drawRule(draw: Draw, menu: Menu, id: string): DfwRuleOutput {
  const vm = (): string[] => (draw.chance(0.25) ? ['any'] : [draw.pick(menu.vms).id]);
  const protocol = draw.pick(['tcp', 'udp', 'icmp', 'any'] as const);
  const ported = protocol === 'tcp' || protocol === 'udp';
  const port = protocol === 'tcp' ? 5201 : 5202;
  return {
    id,
    priority: draw.int(10, 2000),
    appliedTo: ['any'],
    sources: vm(),
    destinations: vm(),
    service: { protocol, destinationPorts: ported && draw.chance(0.7) ? [{ from: port, to: port }] : [], sourcePorts: [], icmpType: null },
    direction: 'in-out',
    action: draw.pick(['allow', 'allow', 'drop', 'reject'] as const),
  };
}

/** A duration as a scenario file writes it, exactly: `2s`, `150ms`, `12us`, `7ns`. */
export function durationText(ns: VTime): string {
  if (ns % S === 0) return `${ns / S}s`;
  if (ns % MS === 0) return `${ns / MS}ms`;
  if (ns % 1000 === 0) return `${ns / 1000}us`;
  return `${ns}ns`;
}

/** A step as a scenario file writes it: `at` and every duration with a unit. */
function writtenStep(step: ScheduleStep): Record<string, unknown> {
  const { atNs, ...action } = step;
  const out: Record<string, unknown> = { at: durationText(atNs), ...action };
  if (action.action === 'impair') {
    out.duration = durationText(action.duration);
    if (action.jitter !== undefined) out.jitter = durationText(action.jitter);
  }
  if (action.action === 'vmotion' && action.options) {
    const o = action.options;
    out.options = {
      ...o,
      ...(o.maxPrecopy !== undefined ? { maxPrecopy: durationText(o.maxPrecopy) } : {}),
      ...(o.switchoverGoal !== undefined ? { switchoverGoal: durationText(o.switchoverGoal) } : {}),
    };
  }
  return out;
}

/**
 * A schedule as a scenario file, one step a line, with a header saying how to replay it.
 *
 * @param comment lines for the header (what the run found)
 */
export function scheduleYaml(schedule: Schedule, name: string, comment: readonly string[] = []): string {
  const header = comment.map((line) => `# ${line}`.trimEnd()).join('\n');
  const steps = schedule.steps.map((s) => `  - ${stringify(writtenStep(s), { collectionStyle: 'flow', lineWidth: 0 }).trim()}`);
  return `${header}${header ? '\n' : ''}name: ${name}\nend: ${durationText(schedule.endNs)}\nsteps:${steps.length === 0 ? ' []' : `\n${steps.join('\n')}`}\n`;
}

/** How many of a schedule's steps are faults. */
export function faultCount(schedule: Schedule): number {
  return schedule.steps.filter(isFault).length;
}
