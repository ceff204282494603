/**
 * The fold's vMotion part: the phase of each migration, its steps and pre-copy rounds, and where
 * its VM runs. A VM moves to its destination at `vmotion.resume` (it runs there from that
 * instant) and is back at its source when an aborted `vmotion.done` says so.
 */
import { MAX_MIGRATIONS, MAX_PRECOPY_ROUNDS, MAX_VMOTION_STEPS, type ClusterEvent, type ClusterState, type MigrationView, type PrecopyRoundView, type SwitchoverBreakdownView, type VmotionPhase } from './cluster-state.js';
import { placeVnic } from './fold-ha.js';
import { num, numOrNull, str, strOrNull, type Payload } from './payload.js';

/** The kinds this part reads (`vnic.handoff` is read by the HA part too). */
export const VMOTION_KINDS = [
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
] as const;

/** The migration an event belongs to: by its `mid`, or (events without one) the VM's migration under way. */
function migrationOf(state: ClusterState, p: Payload): MigrationView | undefined {
  const mid = strOrNull(p.mid);
  if (mid !== null) return state.migrations[mid];
  const current = state.vms[str(p.vm)]?.migration;
  return current ? state.migrations[current] : undefined;
}

/** Records a step; the phase follows it until the migration is done (later RARPs do not reopen it). */
function step(migration: MigrationView, event: ClusterEvent, phase: VmotionPhase, detail: string): void {
  if (migration.endedAt === null || phase === 'done') {
    migration.phase = phase;
    migration.phaseSince = event.vtime;
  }
  migration.steps.push({ seq: event.seq, vtime: event.vtime, node: event.node, phase, detail });
  if (migration.steps.length > MAX_VMOTION_STEPS) migration.steps.splice(1, migration.steps.length - MAX_VMOTION_STEPS);
}

/** Makes room for one more migration: the oldest finished one goes. */
function pruneMigrations(state: ClusterState): void {
  const mids = Object.keys(state.migrations);
  if (mids.length < MAX_MIGRATIONS) return;
  const oldest = mids.find((mid) => state.migrations[mid]!.endedAt !== null) ?? mids[0]!;
  delete state.migrations[oldest];
  state.migrationsDropped++;
}

/** A VM comes to run on `host` (a resume, or an abort leaving it at its source). */
function place(state: ClusterState, vm: string, host: string, at: number, migration: string | null): void {
  const view = state.vms[vm];
  if (view === undefined) state.vms[vm] = { host, since: at, migration };
  else {
    if (view.host !== host) view.since = at;
    view.host = host;
    view.migration = migration;
  }
}

/** Folds one event of {@link VMOTION_KINDS} into `state`. */
export function applyVmotionEvent(state: ClusterState, event: ClusterEvent, p: Payload): void {
  const at = event.vtime;
  if (event.kind === 'vmotion.start') {
    const mid = str(p.mid);
    const vm = str(p.vm);
    const from = str(p.from, event.node);
    pruneMigrations(state);
    const migration: MigrationView = {
      mid,
      vm,
      from,
      to: str(p.to),
      startedAt: at,
      phase: 'start',
      phaseSince: at,
      rounds: [],
      roundCount: 0,
      steps: [],
      endedAt: null,
      endedSeq: null,
      result: null,
      reason: null,
      switchoverNs: null,
      downtimeNs: null,
      guestDowntimeNs: null,
      breakdown: null,
    };
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
      migration.roundCount++;
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
      migration.guestDowntimeNs = numOrNull(p.guestDowntimeNs);
      migration.breakdown = breakdownOf(p.breakdown);
      migration.roundCount = num(p.rounds, migration.roundCount);
      migration.endedAt = at;
      migration.endedSeq = event.seq;
      step(migration, event, 'done', `${migration.result}${migration.reason ? `: ${migration.reason}` : ''}`);
      const host = migration.result === 'aborted' ? migration.from : str(p.to, migration.to);
      place(state, migration.vm, host, at, null);
      // An abort after the destination restored the vNICs leaves them on the source, as they were.
      for (const vnic of Object.values(state.vnics)) if (vnic.vm === migration.vm && vnic.host !== host) placeVnic(state, vnic, host, at);
      break;
    }
    default:
      break;
  }
}

/** A `breakdown` field read back, or null when it is missing or not a breakdown. */
function breakdownOf(value: unknown): SwitchoverBreakdownView | null {
  if (typeof value !== 'object' || value === null) return null;
  const b = value as Record<string, unknown>;
  return { checkpointNs: num(b['checkpointNs']), transferNs: num(b['transferNs']), commitNs: num(b['commitNs']), restoreNs: num(b['restoreNs']), resumeNs: num(b['resumeNs']) };
}
