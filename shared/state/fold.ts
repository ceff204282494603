/**
 * The fold: the one pure function from events to the cluster's state ({@link ClusterState}).
 * Every view of a run reads what it builds: the UI live and in a recording (by snapshots, see
 * `timeline.ts`), the report the UI downloads, the summary `dpulab run` prints, the lab grader.
 *
 * This file folds node lives, links, LLDP, MAC tables, firewalls, VFs, flows, costs, wire loads
 * and notes; `fold-ha.ts` folds DPU roles, failovers and the device serving each vNIC;
 * `fold-vmotion.ts` folds migrations and where each VM runs.
 */
import { emptyClusterState, LOAD_BUCKET_NS, LOAD_WINDOW_BUCKETS, MAX_FLOW_SAMPLES, MAX_NOTES, type ClusterEvent, type ClusterState, type DfwView, type FlowReportView, type FlowView, type OffloadView } from './cluster-state.js';
import { applyHaEvent, HA_KINDS } from './fold-ha.js';
import { applyVmotionEvent, VMOTION_KINDS } from './fold-vmotion.js';
import { inner, num, numOrNull, payloadOf, str, strOrNull, type Payload } from './payload.js';

/** The kinds whose payload {@link applyEvent} reads; the others only count (decode only these). */
export const FOLDED_KINDS: ReadonlySet<string> = new Set([
  'node.start',
  'node.exit',
  'link.state',
  'stp.port',
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
  ...HA_KINDS,
  ...VMOTION_KINDS,
]);

const HA = new Set<string>(HA_KINDS);
const VMOTION = new Set<string>(VMOTION_KINDS);

function dfwOf(state: ClusterState, node: string): DfwView {
  let view = state.dfw[node];
  if (view === undefined) state.dfw[node] = view = { generation: 0, rules: [], count: 0, hits: {}, connections: 0, rejects: 0 };
  return view;
}

function offloadView(value: unknown): OffloadView | null {
  if (typeof value !== 'object' || value === null) return null;
  const o = value as Payload;
  return {
    hardwarePackets: num(o.hardwarePackets),
    hardwareCpuNs: num(o.hardwareCpuNs),
    slowPathPackets: num(o.slowPathPackets),
    slowPathCpuNs: num(o.slowPathCpuNs),
    hitRatio: num(o.hitRatio),
    installs: num(o.installs),
    invalidations: num(o.invalidations),
  };
}

function report(p: Payload, vtime: number): FlowReportView {
  const rtt = p.rttNs as { min?: unknown; avg?: unknown; max?: unknown } | null | undefined;
  return {
    vtime,
    from: strOrNull(p.from),
    to: strOrNull(p.to),
    sent: numOrNull(p.sent),
    delivered: numOrNull(p.delivered),
    lost: numOrNull(p.lost),
    duplicated: numOrNull(p.duplicated),
    reordered: numOrNull(p.reordered),
    retransmits: numOrNull(p.retransmits),
    rttNs: rtt && typeof rtt === 'object' ? { min: num(rtt.min), avg: num(rtt.avg), max: num(rtt.max) } : null,
    tcpState: strOrNull(p.tcpState),
    closeReason: strOrNull(p.closeReason),
    unreachable: numOrNull(p.unreachable),
    final: p.final === true,
  };
}

function flowOf(state: ClusterState, id: string, node: string, p: Payload, vtime: number): FlowView {
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

function addLoad(state: ClusterState, wire: string, vtime: number): void {
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

/** A node starts again as a new process: what its last life held (VFs, tables, firewall) is gone. */
function forgetProcessState(state: ClusterState, node: string): void {
  delete state.vfs[node];
  delete state.dfw[node];
  delete state.macs[node];
  delete state.lldp[node];
}

/**
 * Folds one event into `state`, in place. Events must come in seq order; kinds the fold does not
 * read only count. A payload of an unexpected shape is folded as far as it makes sense, never
 * thrown on: a log from another version still shows.
 */
export function applyEvent(state: ClusterState, event: ClusterEvent): void {
  state.seq = event.seq;
  state.vtime = event.vtime;
  state.events++;
  state.kinds[event.kind] = (state.kinds[event.kind] ?? 0) + 1;
  const p = payloadOf(event);
  const at = event.vtime;
  if (event.kind.startsWith('input.')) state.inputs++;
  if (HA.has(event.kind)) applyHaEvent(state, event, p);
  if (VMOTION.has(event.kind)) applyVmotionEvent(state, event, p);
  switch (event.kind) {
    case 'node.start': {
      const id = str(p.node);
      const previous = state.nodes[id];
      if (previous !== undefined) forgetProcessState(state, id);
      state.nodes[id] = { up: true, incarnation: num(p.incarnation), startedAt: at, exitedAt: null, exit: previous?.exit ?? null };
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
    case 'link.state': {
      const port = str(p.port);
      const blocked = state.ports[`${event.node}:${port}`]?.blocked;
      state.ports[`${event.node}:${port}`] = { node: event.node, port, wire: str(p.wire), up: p.up === true, since: at, ...(blocked === undefined ? {} : { blocked }) };
      break;
    }
    case 'stp.port': {
      const port = str(p.port);
      const key = `${event.node}:${port}`;
      state.ports[key] = { ...(state.ports[key] ?? { node: event.node, port, wire: str(p.wire), up: true, since: at }), blocked: p.state === 'discarding' };
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
      flowOf(state, id, event.node, p, at).node = event.node;
      break;
    }
    case 'flow.stop': {
      const flow = state.flows[str(p.flow)];
      // Only the sending app stops a flow; it runs where its VM runs now.
      if (flow && flow.stoppedAt === null && (flow.node === event.node || flow.vm === strOrNull(p.vm))) {
        flow.stoppedAt = at;
        flow.node = event.node;
      }
      break;
    }
    case 'flow.report': {
      const flow = flowOf(state, str(p.flow), event.node, p, at);
      const side = p.side === 'receiver' ? 'receiver' : 'sender';
      const view = report(p, at);
      flow[side] = view;
      if (side === 'sender') flow.node = event.node;
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
        offload: offloadView(p.offload),
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
    default:
      break;
  }
}

/** Folds events from the empty state. */
export function foldEvents(events: Iterable<ClusterEvent>): ClusterState {
  const state = emptyClusterState();
  for (const e of events) applyEvent(state, e);
  return state;
}
