/**
 * A vMotion as the canvas tells it at a glance: which of the four stages a person follows
 * (pre-copy round N, switchover, handoff, done or aborted) and the last round's pages, from the
 * one fold's migration state. The inspector keeps the fine-grained phase.
 */
import type { MigrationView, VmotionPhase } from '../../../shared/state/cluster-state.js';

/** The stages drawn on the canvas, in the order a migration goes through them. */
export type VmotionStage = 'precheck' | 'pre-copy' | 'switchover' | 'handoff' | 'done' | 'aborted';

/** Which stage each phase belongs to. */
const STAGE_OF: Record<VmotionPhase, VmotionStage> = {
  start: 'precheck',
  // The checks passed (a failed one ends the migration): the memory copy starts right after them,
  // or after a passthrough vNIC's VF handed its state to the backend.
  precheck: 'pre-copy',
  handoff: 'pre-copy',
  precopy: 'pre-copy',
  throttle: 'pre-copy',
  stun: 'switchover',
  transfer: 'switchover',
  'dfw-export': 'switchover',
  'dfw-import': 'switchover',
  // Resumed on the destination: the vNICs go back to a VF there.
  resume: 'handoff',
  rarp: 'handoff',
  passthrough: 'handoff',
  released: 'handoff',
  done: 'done',
};

/** What the canvas draws for a migration. */
export interface VmotionProgress {
  readonly stage: VmotionStage;
  /** During pre-copy, the round under way, from 1; otherwise the rounds done. */
  readonly round: number;
  /** Pages sent and dirtied in the last round done; null before the first one ends. */
  readonly lastRound: { readonly pagesSent: number; readonly pagesDirtied: number } | null;
  /** One line: `pre-copy round 2 · 8,246 pages sent, 32 dirtied`. */
  readonly text: string;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** The stage, round and pages of a migration, and the line that says them. */
export function vmotionProgress(migration: MigrationView): VmotionProgress {
  const done = Math.max(migration.roundCount, migration.rounds.length);
  const last = migration.rounds[migration.rounds.length - 1];
  const lastRound = last ? { pagesSent: last.pagesSent, pagesDirtied: last.pagesDirtied } : null;
  const pages = lastRound ? ` · ${count(lastRound.pagesSent)} pages sent, ${count(lastRound.pagesDirtied)} dirtied` : '';
  if (migration.result !== null) {
    const aborted = migration.result === 'aborted';
    const text = aborted ? `vMotion aborted${migration.reason ? `: ${migration.reason.split(':')[0]}` : ''}` : `vMotion done (${migration.result}, ${done} rounds)`;
    return { stage: aborted ? 'aborted' : 'done', round: done, lastRound, text };
  }
  const stage = STAGE_OF[migration.phase];
  if (stage === 'pre-copy') return { stage, round: done + 1, lastRound, text: `pre-copy round ${done + 1}${pages}` };
  if (stage === 'precheck') return { stage, round: 0, lastRound, text: 'precheck' };
  return { stage, round: done, lastRound, text: `${stage} after ${done} rounds${pages}` };
}
