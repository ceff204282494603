/**
 * The fold's high-availability part: each DPU's health and role (as its host states it and as the
 * DPU itself states it), each host's active DPU, failovers from decision to done, and which device
 * serves every vNIC (a VF on which DPU, or the host's emulated backend) as boots, hand-offs,
 * failovers and vMotions move it.
 *
 * Events, by who records them: the host (`dpu.state`, `dpu.heartbeat.miss`, `dpu.role`,
 * `dpu.failed`, `dpu.failover.done`, `dpu.failover.impossible`, `dpu.vnics.reconnected`,
 * `vnic.mode`, `vnic.handoff`, `vnic.failover`) and the DPU (`ha.role`).
 */
import { MAX_FAILOVERS, type ClusterEvent, type ClusterState, type DpuView, type FailoverView, type HostHaView, type ServingDevice, type VnicView } from './cluster-state.js';
import { num, numOrNull, records, str, strings, strOrNull, type Payload } from './payload.js';

/** The kinds this part reads. */
export const HA_KINDS = [
  'dpu.state',
  'dpu.heartbeat.miss',
  'dpu.role',
  'dpu.failed',
  'dpu.failover.done',
  'dpu.failover.impossible',
  'dpu.vnics.reconnected',
  'ha.role',
  'vnic.mode',
  'vnic.handoff',
  'vnic.failover',
] as const;

/** Why a vNIC lost its datapath when its firewall state was refused on a vMotion destination. */
const DFW_REFUSED = 'dfw-import-refused';
/** Prefix of why a vNIC lost its datapath when no DPU could take it over. */
const NO_FAILOVER = 'no-failover: ';

function dpuOf(state: ClusterState, id: string): DpuView {
  let view = state.dpus[id];
  if (view === undefined) {
    state.dpus[id] = view = { host: '', state: '', reason: null, since: 0, misses: 0, role: null, roleReason: null, roleSince: 0, ownRole: null, ownRoleSince: 0, failure: null };
  }
  return view;
}

function hostOf(state: ClusterState, id: string): HostHaView {
  let view = state.hosts[id];
  if (view === undefined) state.hosts[id] = view = { activeDpu: null, since: 0, disconnected: null };
  return view;
}

/**
 * The host names `dpu`'s role. An active one becomes the DPU the host moves its vNICs to when the
 * host decided it (`decided`: `dpu.role`); a role merely reported (`dpu.state`) does so only when
 * the host had none active, as a host with no standby runs every DPU active and serves its vNICs
 * from the first.
 */
function setRole(state: ClusterState, host: string, dpu: string, role: string, reason: string | null, at: number, decided: boolean): void {
  const view = dpuOf(state, dpu);
  view.host = host;
  if (view.role !== role) view.roleSince = at;
  view.role = role;
  view.roleReason = reason;
  if (role !== 'active') return;
  const ha = hostOf(state, host);
  const current = ha.activeDpu === null ? undefined : state.dpus[ha.activeDpu];
  if (decided || current === undefined || current.role !== 'active') {
    if (ha.activeDpu !== dpu) ha.since = at;
    ha.activeDpu = dpu;
  }
}

/** The failover of `host` still restoring vNICs, if any. */
function openFailover(state: ClusterState, host: string): FailoverView | undefined {
  for (let i = state.failovers.length - 1; i >= 0; i--) {
    const f = state.failovers[i]!;
    if (f.host === host) return f.endedAt === null ? f : undefined;
  }
  return undefined;
}

function addFailover(state: ClusterState, failover: FailoverView): void {
  state.failovers.push(failover);
  if (state.failovers.length > MAX_FAILOVERS) state.failovers.splice(0, state.failovers.length - MAX_FAILOVERS);
}

/** A failover under way is moot: the host decided again before it was done. */
function supersede(state: ClusterState, host: string, at: number): void {
  const open = openFailover(state, host);
  if (open) {
    open.endedAt = at;
    open.result = 'superseded';
  }
}

function backend(dpu: string | null, at: number): ServingDevice {
  return { device: 'backend', dpu, vf: null, since: at };
}

/** A vNIC's datapath is back: it forgets why it had none, unless a refused firewall import still holds it. */
function reconnect(vnic: VnicView): void {
  if (vnic.disconnected !== null && vnic.disconnected.startsWith(NO_FAILOVER)) vnic.disconnected = null;
}

/**
 * A vNIC comes (back) to `host`, served by its backend through the host's active DPU: at boot, on
 * a vMotion destination, or back on its source after an aborted vMotion.
 */
export function placeVnic(state: ClusterState, vnic: VnicView, host: string, at: number): void {
  vnic.host = host;
  vnic.serving = backend(state.hosts[host]?.activeDpu ?? null, at);
}

function applyVnicMode(state: ClusterState, event: ClusterEvent, p: Payload): void {
  const id = str(p.vnic);
  const at = event.vtime;
  const host = event.node;
  const active = str(p.active);
  const reason = strOrNull(p.reason);
  let vnic = state.vnics[id];
  if (vnic === undefined) {
    vnic = { vm: str(p.vm), host, requested: '', active: '', reason: null, since: at, serving: backend(null, at), disconnected: null };
    state.vnics[id] = vnic;
    placeVnic(state, vnic, host, at);
  } else if (vnic.host !== host) {
    placeVnic(state, vnic, host, at);
    vnic.disconnected = null;
  }
  vnic.vm = str(p.vm, vnic.vm);
  vnic.requested = str(p.requested);
  vnic.active = active;
  vnic.reason = reason;
  vnic.since = at;
  if (active === 'no-dpu') vnic.serving = backend(null, at);
  else if (active !== 'uptv2' && vnic.serving.device === 'vf') vnic.serving = backend(vnic.serving.dpu, at);
  if (reason === DFW_REFUSED) vnic.disconnected = DFW_REFUSED;
  else if (vnic.disconnected === DFW_REFUSED) vnic.disconnected = null;
  // A VM runs where its vNICs first came up; vMotions move it from there (fold-vmotion.ts).
  if (vnic.vm !== '' && state.vms[vnic.vm] === undefined) state.vms[vnic.vm] = { host, since: at, migration: null };
}

/**
 * Folds one event of {@link HA_KINDS} into `state`. Roles: `dpu.state` carries the role the host
 * gives at that moment, `dpu.role` every change (a failover names the DPU taking over active and
 * the failed one standby); `ha.role` is the DPU's own account.
 */
export function applyHaEvent(state: ClusterState, event: ClusterEvent, p: Payload): void {
  const at = event.vtime;
  switch (event.kind) {
    case 'dpu.state': {
      const id = str(p.dpu);
      const view = dpuOf(state, id);
      view.host = event.node;
      view.state = str(p.state);
      view.reason = strOrNull(p.reason);
      view.since = at;
      view.misses = 0;
      // The role the host gives the DPU at this moment: a change is a new role, for this reason.
      const role = strOrNull(p.role);
      if (role !== null && role !== view.role) setRole(state, event.node, id, role, view.reason, at, false);
      break;
    }
    case 'dpu.heartbeat.miss': {
      const view = state.dpus[str(p.dpu)];
      if (view) view.misses = num(p.misses);
      break;
    }
    case 'dpu.role':
      setRole(state, event.node, str(p.dpu), str(p.role), strOrNull(p.reason), at, true);
      break;
    case 'ha.role': {
      const view = dpuOf(state, str(p.dpu, event.node));
      view.ownRole = strOrNull(p.to);
      view.ownRoleSince = at;
      break;
    }
    case 'dpu.failed': {
      const from = str(p.dpu);
      const to = strOrNull(p.to);
      const reason = str(p.reason);
      const detectNs = numOrNull(p.detectNs);
      dpuOf(state, from).failure = { reason, at, detectNs, to };
      supersede(state, event.node, at);
      hostOf(state, event.node).disconnected = null;
      addFailover(state, { host: event.node, kind: 'failover', from, to, reason, detectNs, startedAt: at, endedAt: null, result: null, impossibleReason: null, totalNs: null, vnics: [] });
      break;
    }
    case 'dpu.failover.done': {
      let failover = openFailover(state, event.node);
      if (failover === undefined) {
        failover = { host: event.node, kind: 'failover', from: '', to: null, reason: '', detectNs: null, startedAt: at, endedAt: null, result: null, impossibleReason: null, totalNs: null, vnics: [] };
        addFailover(state, failover);
      }
      failover.kind = str(p.kind, failover.kind);
      failover.from = str(p.from, failover.from);
      failover.to = strOrNull(p.to) ?? failover.to;
      failover.reason = str(p.reason, failover.reason);
      failover.detectNs = numOrNull(p.detectNs) ?? failover.detectNs;
      failover.totalNs = numOrNull(p.totalNs);
      failover.vnics = records(p.vnics).map((v) => ({ vnic: str(v.vnic), mode: str(v.mode) }));
      failover.endedAt = at;
      failover.result = 'done';
      break;
    }
    case 'dpu.failover.impossible': {
      const dpu = str(p.dpu);
      const reason = str(p.reason);
      const cause = str(p.cause);
      // Refusing a second request leaves the failover under way alone; any other refusal ends it.
      if (reason !== 'in-progress') supersede(state, event.node, at);
      addFailover(state, { host: event.node, kind: 'impossible', from: dpu, to: null, reason: cause, detectNs: null, startedAt: at, endedAt: at, result: 'impossible', impossibleReason: reason, totalNs: null, vnics: [] });
      if (p.vnicsDisconnected === true) {
        hostOf(state, event.node).disconnected = { dpu, reason, cause, since: at };
        for (const id of strings(p.vnics)) {
          const vnic = state.vnics[id];
          if (vnic && vnic.disconnected === null) vnic.disconnected = `${NO_FAILOVER}${reason}`;
        }
      }
      break;
    }
    case 'dpu.vnics.reconnected': {
      const dpu = str(p.dpu);
      hostOf(state, event.node).disconnected = null;
      for (const id of strings(p.vnics)) {
        const vnic = state.vnics[id];
        if (vnic) reconnect(vnic);
      }
      // A DPU that crashed and came back alone gets its vNICs rebuilt on it: a failover onto itself.
      if (p.reason === 'dpu-restored') {
        supersede(state, event.node, at);
        addFailover(state, { host: event.node, kind: 'rebuild', from: dpu, to: dpu, reason: 'crash', detectNs: null, startedAt: at, endedAt: null, result: null, impossibleReason: null, totalNs: null, vnics: [] });
      }
      break;
    }
    case 'vnic.mode':
      applyVnicMode(state, event, p);
      break;
    case 'vnic.handoff': {
      const vnic = state.vnics[str(p.vnic)];
      if (vnic === undefined) break;
      const dpu = strOrNull(p.dpu) ?? vnic.serving.dpu;
      if (p.direction === 'emulated-to-vf') vnic.serving = { device: 'vf', dpu, vf: numOrNull(p.vf), since: at };
      else if (p.direction === 'vf-to-emulated') vnic.serving = backend(dpu, at);
      break;
    }
    case 'vnic.failover': {
      const vnic = state.vnics[str(p.vnic)];
      if (vnic === undefined) break;
      vnic.serving = backend(strOrNull(p.to), at);
      reconnect(vnic);
      break;
    }
    default:
      break;
  }
}
