/**
 * The dpulab TypeScript API for test authors: start a cluster, act on it (`run.act`, the actions
 * of `WRITTEN_ACTIONS`, checked as scenario steps are), await events (`run.onEvents`), read the
 * log. `import { runLab, startRun, verifyReplay, EventLogReader } from 'dpulab'`.
 */
export { prepareRun, runLab, startRun, DEFAULT_END_NS } from './session.js';
export type { EventListener, PreparedRun, RunHandle, RunMode, RunOptions, RunSummary, SourceFile } from './session.js';
export { acceptAction, InputError } from './actions.js';
export { ACTION_NAMES, WRITTEN_ACTIONS } from '../../shared/actions/schema.js';
export type { Action, ActionName, WrittenAction } from '../../shared/actions/schema.js';
export { foldLog } from './cluster-state.js';
export { applyEvent, foldEvents } from '../../shared/state/fold.js';
export { emptyClusterState } from '../../shared/state/cluster-state.js';
export type { ClusterEvent, ClusterState } from '../../shared/state/cluster-state.js';
export { toClusterEvent } from '../../shared/state/recorded.js';
export { runOutcome } from '../../shared/state/summary.js';
export type { CoreUse, DpuOutcome, FlowOutcome, RunOutcome, VmotionOutcome } from '../../shared/state/summary.js';
export { verifyReplay } from './replay.js';
export type { Divergence, EventView, ReplayVerdict } from './replay.js';
export { EventLogReader } from './log/reader.js';
export type { EventFilter } from './log/reader.js';
export { EventLogError } from './log/errors.js';
export { exportWirePcapng } from './pcap-export.js';
export { decode as decodePayload } from '../../shared/codec.js';
export type { RecordedEvent, VTime } from '../../shared/events.js';
export { TopologyError } from '../../shared/topology/errors.js';
export { ScenarioError } from '../../shared/scenario/errors.js';
export { explore, exploreOne, shrinkFailure } from './explore/explore.js';
export type { ExploreOptions, ExploreProgress, ExploreSummary, ExploredRun, ShrunkFailure } from './explore/explore.js';
export { runSchedule } from './explore/runner.js';
export type { ScheduleRunOptions, ScheduleRunResult } from './explore/runner.js';
export { drawSchedule, scheduleYaml, FAULT_KINDS } from './explore/schedule.js';
export type { FaultKind, Schedule, ScheduleStep } from './explore/schedule.js';
export { checkEventLog, OnlineInvariants } from './invariants.js';
export { INVARIANTS, INVARIANT_IDS, InvariantSuite, checkInvariants } from '../../shared/invariants/index.js';
export type { CheckedEvent, Invariant, InvariantContext, InvariantReport, Violation } from '../../shared/invariants/index.js';
