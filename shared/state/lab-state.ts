/**
 * The lab as the UI shows it, folded from events: which nodes are up, what each host thinks of
 * its DPUs, which mode every vNIC runs in, which links are down, who is cabled to whom, what the
 * switches learned, the firewall's rules and hits, the VFs' migration states, every flow's
 * counters, the load on every wire, where each VM runs and every vMotion's phase and pre-copy rounds.
 *
 * Pure and browser-safe: the same fold runs wherever it is needed, and a state is plain data
 * (JSON in, JSON out), so it can be cloned, sent over a socket and compared in a test.
 */

/** One event as the UI sees it: the recorded fields with the payload decoded to plain JSON. */
export interface UiEvent {
  readonly seq: number;
  readonly vtime: number;
  readonly node: string;
  readonly kind: string;
  /** Seq of the event that caused this one, or null. */
  readonly cause: number | null;
  /** The decoded payload; binary fields are hex strings (frame bytes are left out of streams). */
  readonly payload: unknown;
}

/** A node's life: started, killed, restarted. */
export interface NodeLife {
  up: boolean;
  incarnation: number;
  startedAt: number;
  exitedAt: number | null;
  /** How its last life ended, null while the first one goes on. */
  exit: { code: number | null; signal: string | null; planned: boolean; reason: string | null } | null;
}

/** What a host thinks of one of its DPUs (from `dpu.state` and heartbeat misses). */
export interface DpuView {
  host: string;
  state: string;
  role: string;
  reason: string | null;
  since: number;
  misses: number;
}

/** The datapath mode a vNIC runs in (from `vnic.mode`). */
export interface VnicView {
  vm: string;
  host: string;
  requested: string;
  active: string;
  reason: string | null;
  since: number;
}

/** One end of a wire as its node sees it (from `link.state`). */
export interface PortView {
  node: string;
  port: string;
  wire: string;
  up: boolean;
  since: number;
}

/** An LLDP neighbour on a port. */
export interface NeighborView {
  systemName: string | null;
  portId: string;
  chassisId: string;
  since: number;
}

/** A switch MAC table entry (from `mac.learn`, removed by `mac.age`). */
export interface MacView {
  vlan: number;
  mac: string;
  port: string;
  movedFrom: string | null;
  since: number;
}

/** A node's distributed firewall as its events tell it. */
export interface DfwView {
  generation: number;
  /** Ids of the rules added since the last full set, in the order they came. */
  rules: string[];
  /** Rules in force, the default rule included, as the node counted them. */
  count: number;
  /** Rule hits (new connections and untracked packets judged by a rule), by rule id. */
  hits: Record<string, number>;
  /** Connection entries alive: created minus expired. */
  connections: number;
  rejects: number;
}

/** A virtual function's VFIO migration state. */
export interface VfView {
  vf: number;
  vnic: string;
  state: string;
  via: string;
  since: number;
}

/** One side's latest `flow.report`. */
export interface FlowReportView {
  vtime: number;
  sent: number | null;
  delivered: number | null;
  lost: number | null;
  duplicated: number | null;
  reordered: number | null;
  retransmits: number | null;
  rttNs: { min: number; avg: number; max: number } | null;
  tcpState: string | null;
  final: boolean;
}

/** A counter sample from a flow report: messages sent (sender) or delivered (receiver) so far. */
export interface FlowSample {
  vtime: number;
  side: 'sender' | 'receiver';
  count: number;
}

/** A guest flow: what was started, and what its two checkers report. */
export interface FlowView {
  id: string;
  kind: string;
  vm: string;
  from: string;
  to: string;
  port: number | null;
  ratePps: number | null;
  /** The host running the sending app. */
  node: string;
  startedAt: number;
  stoppedAt: number | null;
  sender: FlowReportView | null;
  receiver: FlowReportView | null;
  /** The most recent samples, oldest first (at most {@link MAX_FLOW_SAMPLES}). */
  samples: FlowSample[];
}

/** A node's end-of-run `cost.report`. */
export interface CostView {
  nodeKind: string;
  coreType: string;
  coresAvailable: number;
  coresUsed: number;
  totalCpuNs: number;
  /** Cores used, by vNIC mode. */
  byMode: Record<string, number>;
  byStep: Record<string, { cpuNs: number; frames: number }>;
}

/** Frames put on a wire: the total and per-bucket counts of the recent past. */
export interface WireLoadView {
  total: number;
  /** [bucket index, frames] for the last {@link LOAD_WINDOW_BUCKETS} buckets with traffic, oldest first. */
  buckets: Array<[number, number]>;
}

/** Where a VM runs once a vMotion has moved it or is moving it; a VM not listed runs on its topology host. */
export interface VmView {
  host: string;
  /** When it came to run there (its `vmotion.resume` or, after an abort, its `vmotion.done`). */
  since: number;
  /** The `mid` of the migration under way, null between migrations. */
  migration: string | null;
}

/**
 * How far a vMotion got, named after the last of its events: `start`, `precheck`, `handoff` (its
 * vNICs left their VFs for the emulated backend), `precopy`, `throttle`, `stun`, `transfer` (the
 * switchover state went to the destination), `dfw-export`, `dfw-import`, `resume`, `rarp`, `passthrough` (a vNIC has a VF on the destination again),
 * `released` (the source let it go), `done`.
 */
export type VmotionPhase = 'start' | 'precheck' | 'handoff' | 'precopy' | 'throttle' | 'stun' | 'transfer' | 'dfw-export' | 'dfw-import' | 'resume' | 'rarp' | 'passthrough' | 'released' | 'done';

/** One pre-copy round (from `vmotion.precopy.round`). */
export interface PrecopyRoundView {
  round: number;
  vtime: number;
  pagesSent: number;
  pagesDirtied: number;
  bytes: number;
  durationNs: number;
}

/** One step of a vMotion as its events tell it, for the inspector's account of the migration. */
export interface VmotionStepView {
  seq: number;
  vtime: number;
  node: string;
  phase: VmotionPhase;
  detail: string;
}

/** One vMotion, from `vmotion.start` to `vmotion.done`. */
export interface MigrationView {
  mid: string;
  vm: string;
  from: string;
  to: string;
  startedAt: number;
  phase: VmotionPhase;
  phaseSince: number;
  /** Pre-copy rounds, oldest first (at most {@link MAX_PRECOPY_ROUNDS}). */
  rounds: PrecopyRoundView[];
  /** Every step but the rounds, oldest first (at most {@link MAX_VMOTION_STEPS}). */
  steps: VmotionStepView[];
  endedAt: number | null;
  /** `success`, `success-emulated`, `success-disconnected` or `aborted`, once done. */
  result: string | null;
  reason: string | null;
  switchoverNs: number | null;
  downtimeNs: number | null;
}

/** A note on the timeline. */
export interface NoteView {
  seq: number;
  vtime: number;
  text: string;
}

/** The lab after some prefix of the event log. */
export interface LabState {
  /** Seq of the last event folded in, -1 before any. */
  seq: number;
  /** Virtual time of the last event folded in. */
  vtime: number;
  /** Events folded in. */
  events: number;
  kinds: Record<string, number>;
  nodes: Record<string, NodeLife>;
  /** Keyed by DPU id. */
  dpus: Record<string, DpuView>;
  /** Keyed by vNIC id. */
  vnics: Record<string, VnicView>;
  /** Keyed by `node:port`. */
  ports: Record<string, PortView>;
  /** node → port → neighbour. */
  lldp: Record<string, Record<string, NeighborView>>;
  /** node → `vlan mac` → entry. */
  macs: Record<string, Record<string, MacView>>;
  dfw: Record<string, DfwView>;
  /** Rule definitions as the management plane pushed them (input.dfw.rule.add), by id. */
  rules: Record<string, unknown>;
  /** node → vf index → state. */
  vfs: Record<string, Record<string, VfView>>;
  flows: Record<string, FlowView>;
  costs: Record<string, CostView>;
  wires: Record<string, WireLoadView>;
  /** The latest notes (at most {@link MAX_NOTES}). */
  notes: NoteView[];
  /** VMs a vMotion has moved or is moving, by VM id: see {@link vmHostOf}. */
  vms: Record<string, VmView>;
  /** vMotions by `mid`, in the order they started (at most {@link MAX_MIGRATIONS}). */
  migrations: Record<string, MigrationView>;
  /** `input.*` events seen: scenario steps and UI actions. */
  inputs: number;
}

/** Width of one wire-load bucket: 10 ms of virtual time. */
export const LOAD_BUCKET_NS = 10_000_000;
/** Buckets a wire's load is averaged over: 100 ms of virtual time. */
export const LOAD_WINDOW_BUCKETS = 10;
/** Samples kept per flow (both sides together). */
export const MAX_FLOW_SAMPLES = 300;
/** Notes kept. */
export const MAX_NOTES = 200;
/** vMotions kept: the oldest finished ones go first. */
export const MAX_MIGRATIONS = 100;
/** Pre-copy rounds kept per vMotion (one that does not converge can run many). */
export const MAX_PRECOPY_ROUNDS = 500;
/** Steps kept per vMotion, besides its rounds (throttling can repeat). */
export const MAX_VMOTION_STEPS = 64;

/** The state before any event. */
export function emptyLabState(): LabState {
  return {
    seq: -1,
    vtime: 0,
    events: 0,
    kinds: {},
    nodes: {},
    dpus: {},
    vnics: {},
    ports: {},
    lldp: {},
    macs: {},
    dfw: {},
    rules: {},
    vfs: {},
    flows: {},
    costs: {},
    wires: {},
    notes: [],
    vms: {},
    migrations: {},
    inputs: 0,
  };
}

/** A deep copy: states are plain data. */
export function cloneLabState(state: LabState): LabState {
  return structuredClone(state);
}

type Payload = Readonly<Record<string, unknown>>;

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : value === null || value === undefined ? fallback : String(value);
}

function strOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : fallback;
}

function numOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function payloadOf(event: UiEvent): Payload {
  const p = event.payload;
  return p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Payload) : {};
}

function inner<T>(outer: Record<string, Record<string, T>>, key: string): Record<string, T> {
  let table = outer[key];
  if (table === undefined) outer[key] = table = {};
  return table;
}

function dfwOf(state: LabState, node: string): DfwView {
  let view = state.dfw[node];
  if (view === undefined) state.dfw[node] = view = { generation: 0, rules: [], count: 0, hits: {}, connections: 0, rejects: 0 };
  return view;
}

function report(p: Payload, vtime: number): FlowReportView {
  const rtt = p.rttNs as { min?: unknown; avg?: unknown; max?: unknown } | null | undefined;
  return {
    vtime,
    sent: numOrNull(p.sent),
    delivered: numOrNull(p.delivered),
    lost: numOrNull(p.lost),
    duplicated: numOrNull(p.duplicated),
    reordered: numOrNull(p.reordered),
    retransmits: numOrNull(p.retransmits),
    rttNs: rtt && typeof rtt === 'object' ? { min: num(rtt.min), avg: num(rtt.avg), max: num(rtt.max) } : null,
    tcpState: strOrNull(p.tcpState),
    final: p.final === true,
  };
}

function flowOf(state: LabState, id: string, node: string, p: Payload, vtime: number): FlowView {
  let flow = state.flows[id];
  if (flow === undefined) {
    state.flows[id] = flow = {
      id,
      kind: str(p.kind),
      vm: str(p.vm ?? p.from),
      from: str(p.from),
      to: str(p.to),
      port: numOrNull(p.port),
      ratePps: numOrNull(p.ratePps),
      node,
      startedAt: vtime,
      stoppedAt: null,
      sender: null,
      receiver: null,
      samples: [],
    };
  }
  return flow;
}

function addLoad(state: LabState, wire: string, vtime: number): void {
  let load = state.wires[wire];
  if (load === undefined) state.wires[wire] = load = { total: 0, buckets: [] };
  load.total++;
  const bucket = Math.floor(vtime / LOAD_BUCKET_NS);
  const last = load.buckets[load.buckets.length - 1];
  if (last !== undefined && last[0] === bucket) last[1]++;
  else load.buckets.push([bucket, 1]);
  const oldest = bucket - LOAD_WINDOW_BUCKETS + 1;
  let drop = 0;
  while (drop < load.buckets.length && load.buckets[drop]![0] < oldest) drop++;
  if (drop > 0) load.buckets.splice(0, drop);
}

/**
 * Frames per second of virtual time a wire carried over the {@link LOAD_WINDOW_BUCKETS} buckets
 * ending at `vtime`.
 */
export function wireFramesPerSecond(load: WireLoadView | undefined, vtime: number): number {
  if (!load) return 0;
  const bucket = Math.floor(vtime / LOAD_BUCKET_NS);
  let frames = 0;
  for (const [index, count] of load.buckets) if (index > bucket - LOAD_WINDOW_BUCKETS && index <= bucket) frames += count;
  return frames / ((LOAD_WINDOW_BUCKETS * LOAD_BUCKET_NS) / 1e9);
}

/** The kinds whose payload {@link applyEvent} reads; the others only count. */
export const FOLDED_KINDS: ReadonlySet<string> = new Set([
  'node.start',
  'node.exit',
  'dpu.state',
  'dpu.heartbeat.miss',
  'vnic.mode',
  'link.state',
  'lldp.neighbor',
  'lldp.expired',
  'mac.learn',
  'mac.age',
  'input.dfw.rule.add',
  'input.note',
  'dfw.rules',
  'dfw.rule.hit',
  'dfw.conn.new',
  'dfw.conn.expired',
  'dfw.reject',
  'vf.state',
  'flow.start',
  'flow.stop',
  'flow.report',
  'cost.report',
  'frame.tx',
  'vmotion.start',
  'vmotion.precheck',
  'vmotion.precopy.round',
  'vmotion.throttle',
  'vmotion.stun',
  'vmotion.transfer',
  'vmotion.resume',
  'vmotion.source.released',
  'vmotion.incoming.dropped',
  'vmotion.done',
  'vnic.handoff',
  'dfw.export',
  'dfw.import',
  'net.rarp',
]);

/**
 * Folds one event into `state`, in place. Events must come in seq order; kinds the UI does not
 * track only count. A payload of an unexpected shape is folded as far as it makes sense, never
 * thrown on: a log from another version still shows.
 */
export function applyEvent(state: LabState, event: UiEvent): void {
  state.seq = event.seq;
  state.vtime = event.vtime;
  state.events++;
  state.kinds[event.kind] = (state.kinds[event.kind] ?? 0) + 1;
  const p = payloadOf(event);
  const at = event.vtime;
  if (event.kind.startsWith('input.')) state.inputs++;
  switch (event.kind) {
    case 'node.start': {
      const id = str(p.node);
      state.nodes[id] = { up: true, incarnation: num(p.incarnation), startedAt: at, exitedAt: null, exit: state.nodes[id]?.exit ?? null };
      break;
    }
    case 'node.exit': {
      const id = str(p.node);
      const life = state.nodes[id] ?? { up: true, incarnation: num(p.incarnation), startedAt: 0, exitedAt: null, exit: null };
      life.up = false;
      life.exitedAt = at;
      life.exit = { code: numOrNull(p.code), signal: strOrNull(p.signal), planned: p.planned === true, reason: strOrNull(p.reason) };
      state.nodes[id] = life;
      break;
    }
    case 'dpu.state': {
      const id = str(p.dpu);
      state.dpus[id] = { host: event.node, state: str(p.state), role: str(p.role), reason: strOrNull(p.reason), since: at, misses: 0 };
      break;
    }
    case 'dpu.heartbeat.miss': {
      const view = state.dpus[str(p.dpu)];
      if (view) view.misses = num(p.misses);
      break;
    }
    case 'vnic.mode': {
      const id = str(p.vnic);
      state.vnics[id] = { vm: str(p.vm), host: event.node, requested: str(p.requested), active: str(p.active), reason: strOrNull(p.reason), since: at };
      break;
    }
    case 'link.state': {
      const port = str(p.port);
      state.ports[`${event.node}:${port}`] = { node: event.node, port, wire: str(p.wire), up: p.up === true, since: at };
      break;
    }
    case 'lldp.neighbor':
      inner(state.lldp, event.node)[str(p.port)] = { systemName: strOrNull(p.systemName), portId: str(p.portId), chassisId: str(p.chassisId), since: at };
      break;
    case 'lldp.expired': {
      const table = state.lldp[event.node];
      if (table) delete table[str(p.port)];
      break;
    }
    case 'mac.learn': {
      const vlan = num(p.vlan);
      const mac = str(p.mac);
      inner(state.macs, event.node)[`${vlan} ${mac}`] = { vlan, mac, port: str(p.port), movedFrom: strOrNull(p.movedFrom), since: at };
      break;
    }
    case 'mac.age': {
      const table = state.macs[event.node];
      if (table) delete table[`${num(p.vlan)} ${str(p.mac)}`];
      break;
    }
    case 'input.dfw.rule.add': {
      const rule = p.rule as { id?: unknown } | undefined;
      if (rule && typeof rule === 'object') state.rules[str(rule.id)] = rule;
      break;
    }
    case 'dfw.rules': {
      const view = dfwOf(state, event.node);
      view.generation = num(p.generation);
      view.count = num(p.count);
      const rule = strOrNull(p.rule);
      if (p.change === 'set') view.rules = [];
      else if (p.change === 'add' && rule !== null && !view.rules.includes(rule)) view.rules.push(rule);
      else if (p.change === 'remove' && rule !== null) view.rules = view.rules.filter((r) => r !== rule);
      break;
    }
    case 'dfw.rule.hit': {
      const view = dfwOf(state, event.node);
      const rule = str(p.rule);
      view.hits[rule] = (view.hits[rule] ?? 0) + 1;
      break;
    }
    case 'dfw.conn.new':
      dfwOf(state, event.node).connections++;
      break;
    case 'dfw.conn.expired': {
      const view = dfwOf(state, event.node);
      view.connections = Math.max(0, view.connections - 1);
      break;
    }
    case 'dfw.reject':
      dfwOf(state, event.node).rejects++;
      break;
    case 'vf.state': {
      const vf = num(p.vf);
      inner(state.vfs, event.node)[String(vf)] = { vf, vnic: str(p.vnic), state: str(p.to), via: str(p.via), since: at };
      break;
    }
    case 'flow.start': {
      const id = str(p.flow);
      const previous = state.flows[id];
      // A flow id started again is a new flow: its old counters do not carry over.
      if (previous && previous.stoppedAt !== null) delete state.flows[id];
      flowOf(state, id, event.node, p, at);
      break;
    }
    case 'flow.stop': {
      const flow = state.flows[str(p.flow)];
      if (flow && flow.node === event.node && flow.stoppedAt === null) flow.stoppedAt = at;
      break;
    }
    case 'flow.report': {
      const flow = flowOf(state, str(p.flow), event.node, p, at);
      const side = p.side === 'receiver' ? 'receiver' : 'sender';
      const view = report(p, at);
      flow[side] = view;
      const count = side === 'sender' ? view.sent : view.delivered;
      if (count !== null) {
        flow.samples.push({ vtime: at, side, count });
        if (flow.samples.length > MAX_FLOW_SAMPLES) flow.samples.splice(0, flow.samples.length - MAX_FLOW_SAMPLES);
      }
      break;
    }
    case 'cost.report': {
      const byMode: Record<string, number> = {};
      const modes = p.byMode && typeof p.byMode === 'object' ? (p.byMode as Record<string, { cores?: unknown }>) : {};
      for (const mode of Object.keys(modes).sort()) byMode[mode] = num(modes[mode]?.cores);
      const steps = p.byStep && typeof p.byStep === 'object' ? (p.byStep as Record<string, { cpuNs?: unknown; frames?: unknown }>) : {};
      const byStep: Record<string, { cpuNs: number; frames: number }> = {};
      for (const step of Object.keys(steps).sort()) byStep[step] = { cpuNs: num(steps[step]?.cpuNs), frames: num(steps[step]?.frames) };
      state.costs[event.node] = {
        nodeKind: str(p.nodeKind),
        coreType: str(p.coreType),
        coresAvailable: num(p.coresAvailable),
        coresUsed: num(p.coresUsed),
        totalCpuNs: num(p.totalCpuNs),
        byMode,
        byStep,
      };
      break;
    }
    case 'frame.tx':
      addLoad(state, str(p.wire), at);
      break;
    case 'input.note':
      state.notes.push({ seq: event.seq, vtime: at, text: str(p.text) });
      if (state.notes.length > MAX_NOTES) state.notes.splice(0, state.notes.length - MAX_NOTES);
      break;
    case 'vmotion.start':
    case 'vmotion.precheck':
    case 'vmotion.precopy.round':
    case 'vmotion.throttle':
    case 'vmotion.stun':
    case 'vmotion.transfer':
    case 'vmotion.resume':
    case 'vmotion.source.released':
    case 'vmotion.incoming.dropped':
    case 'vmotion.done':
    case 'vnic.handoff':
    case 'dfw.export':
    case 'dfw.import':
    case 'net.rarp':
      applyVmotionEvent(state, event, p);
      break;
    default:
      break;
  }
}

/** The migration an event belongs to: by its `mid`, or (events without one) the VM's migration under way. */
function migrationOf(state: LabState, p: Payload): MigrationView | undefined {
  const mid = strOrNull(p.mid);
  if (mid !== null) return state.migrations[mid];
  const current = state.vms[str(p.vm)]?.migration;
  return current ? state.migrations[current] : undefined;
}

/** Records a step; the phase follows it until the migration is done (later RARPs do not reopen it). */
function step(migration: MigrationView, event: UiEvent, phase: VmotionPhase, detail: string): void {
  if (migration.endedAt === null || phase === 'done') {
    migration.phase = phase;
    migration.phaseSince = event.vtime;
  }
  migration.steps.push({ seq: event.seq, vtime: event.vtime, node: event.node, phase, detail });
  if (migration.steps.length > MAX_VMOTION_STEPS) migration.steps.splice(1, migration.steps.length - MAX_VMOTION_STEPS);
}

/** Makes room for one more migration: the oldest finished one goes. */
function pruneMigrations(state: LabState): void {
  const mids = Object.keys(state.migrations);
  if (mids.length < MAX_MIGRATIONS) return;
  const oldest = mids.find((mid) => state.migrations[mid]!.endedAt !== null) ?? mids[0]!;
  delete state.migrations[oldest];
}

/** A VM comes to run on `host` (a resume, or an abort leaving it at its source). */
function place(state: LabState, vm: string, host: string, at: number, migration: string | null): void {
  const view = state.vms[vm];
  if (view === undefined) state.vms[vm] = { host, since: at, migration };
  else {
    if (view.host !== host) view.since = at;
    view.host = host;
    view.migration = migration;
  }
}

/**
 * Folds the vMotion events: the phase of each migration, its pre-copy rounds, and where its VM
 * runs. A VM moves to its destination at `vmotion.resume` (it runs there from that instant) and is
 * back at its source when an aborted `vmotion.done` says so.
 */
function applyVmotionEvent(state: LabState, event: UiEvent, p: Payload): void {
  const at = event.vtime;
  if (event.kind === 'vmotion.start') {
    const mid = str(p.mid);
    const vm = str(p.vm);
    const from = str(p.from, event.node);
    pruneMigrations(state);
    const migration: MigrationView = { mid, vm, from, to: str(p.to), startedAt: at, phase: 'start', phaseSince: at, rounds: [], steps: [], endedAt: null, result: null, reason: null, switchoverNs: null, downtimeNs: null };
    state.migrations[mid] = migration;
    step(migration, event, 'start', `${vm} from ${from} to ${migration.to}`);
    const view = state.vms[vm];
    if (view) view.migration = mid;
    else state.vms[vm] = { host: from, since: 0, migration: mid };
    return;
  }
  const migration = migrationOf(state, p);
  if (!migration) return;
  switch (event.kind) {
    case 'vmotion.precheck': {
      const failed = Array.isArray(p.checks) ? (p.checks as Array<{ name?: unknown; ok?: unknown }>).filter((c) => c && c.ok === false).map((c) => str(c.name)) : [];
      step(migration, event, 'precheck', p.ok === false ? `failed: ${failed.join(', ') || 'refused'}` : 'passed');
      break;
    }
    case 'vnic.handoff':
      if (p.direction === 'vf-to-emulated') step(migration, event, 'handoff', `${str(p.vnic)}: VF → emulated backend on ${str(p.host, event.node)}`);
      else if (p.direction === 'emulated-to-vf') step(migration, event, 'passthrough', `${str(p.vnic)}: emulated backend → ${str(p.dpu)} VF ${str(p.vf, '?')} on ${str(p.host, event.node)}`);
      break;
    case 'vmotion.precopy.round': {
      const round: PrecopyRoundView = { round: num(p.round), vtime: at, pagesSent: num(p.pagesSent), pagesDirtied: num(p.pagesDirtied), bytes: num(p.bytes), durationNs: num(p.durationNs) };
      migration.rounds.push(round);
      if (migration.rounds.length > MAX_PRECOPY_ROUNDS) migration.rounds.splice(0, migration.rounds.length - MAX_PRECOPY_ROUNDS);
      migration.phase = 'precopy';
      migration.phaseSince = at;
      break;
    }
    case 'vmotion.throttle':
      step(migration, event, 'throttle', `vCPUs slowed (factor ${str(p.factor, '?')})`);
      break;
    case 'vmotion.stun':
      step(migration, event, 'stun', `stunned on ${str(p.host, event.node)}, ${num(p.remainingPages)} pages left`);
      break;
    case 'vmotion.transfer':
      step(migration, event, 'transfer', `switchover state sent to ${str(p.to, migration.to)}: ${num(p.parts)} parts, ${num(p.bytes)} bytes`);
      break;
    case 'dfw.export':
      step(migration, event, 'dfw-export', `${str(p.vnic)}: firewall state exported by ${event.node}`);
      break;
    case 'dfw.import':
      step(migration, event, 'dfw-import', `${str(p.vnic)}: firewall state ${p.ok === false ? `refused by ${event.node} (${str(p.reason)})` : `imported by ${event.node}`}`);
      break;
    case 'vmotion.resume': {
      const host = str(p.host, event.node);
      step(migration, event, 'resume', `runs on ${host}, switchover ${num(p.switchoverNs)} ns`);
      place(state, migration.vm, host, at, migration.mid);
      break;
    }
    case 'net.rarp':
      step(migration, event, 'rarp', `${str(p.vnic)} announced through ${str(p.dpu)}`);
      break;
    case 'vmotion.source.released':
      step(migration, event, 'released', `${event.node} let it go`);
      break;
    case 'vmotion.incoming.dropped':
      step(migration, event, migration.phase, `${event.node} gave the incoming VM up: ${str(p.reason)}`);
      break;
    case 'vmotion.done': {
      migration.result = str(p.result);
      migration.reason = strOrNull(p.reason);
      migration.switchoverNs = numOrNull(p.switchoverNs);
      migration.downtimeNs = numOrNull(p.downtimeNs);
      migration.endedAt = at;
      step(migration, event, 'done', `${migration.result}${migration.reason ? `: ${migration.reason}` : ''}`);
      place(state, migration.vm, migration.result === 'aborted' ? migration.from : str(p.to, migration.to), at, null);
      break;
    }
    default:
      break;
  }
}

/** Where a VM runs at this point of the run: where a vMotion took it, else `topologyHost`. */
export function vmHostOf(state: LabState, vm: string, topologyHost: string): string {
  return state.vms[vm]?.host ?? topologyHost;
}

/** The vMotion under way for a VM, or null. */
export function migrationUnderWay(state: LabState, vm: string): MigrationView | null {
  const mid = state.vms[vm]?.migration;
  return mid ? (state.migrations[mid] ?? null) : null;
}

/** The latest vMotion of a VM (under way or finished), or null. */
export function lastMigration(state: LabState, vm: string): MigrationView | null {
  let last: MigrationView | null = null;
  for (const migration of Object.values(state.migrations)) if (migration.vm === vm) last = migration;
  return last;
}

/** Folds events from the empty state. */
export function foldEvents(events: Iterable<UiEvent>): LabState {
  const state = emptyLabState();
  for (const e of events) applyEvent(state, e);
  return state;
}
