import { describe, expect, it } from 'vitest';
import type { MigrationView } from '../../../shared/state/cluster-state.js';
import { vmotionProgress } from './vmotion-stage.js';

function migration(fields: Partial<MigrationView>): MigrationView {
  return { mid: 'app-01/esx-01/1', vm: 'app-01', from: 'esx-01', to: 'esx-02', startedAt: 0, phase: 'start', phaseSince: 0, rounds: [], roundCount: 0, steps: [], endedAt: null, endedSeq: null, result: null, reason: null, switchoverNs: null, downtimeNs: null, ...fields };
}

const round = (n: number, pagesSent: number, pagesDirtied: number) => ({ round: n, vtime: 0, pagesSent, pagesDirtied, bytes: pagesSent * 4096, durationNs: 1 });

describe('vmotionProgress', () => {
  it('vmotionProgress counts the round under way from 1 once the checks passed, with the last round pages', () => {
    expect(vmotionProgress(migration({ phase: 'start' })).text).toBe('precheck');
    expect(vmotionProgress(migration({ phase: 'precheck' })).text).toBe('pre-copy round 1');
    expect(vmotionProgress(migration({ phase: 'handoff' }))).toMatchObject({ stage: 'pre-copy', round: 1, lastRound: null, text: 'pre-copy round 1' });
    const two = vmotionProgress(migration({ phase: 'precopy', rounds: [round(0, 2097152, 8246), round(1, 8246, 32)], roundCount: 2 }));
    expect(two).toMatchObject({ stage: 'pre-copy', round: 3, lastRound: { pagesSent: 8246, pagesDirtied: 32 } });
    expect(two.text).toBe('pre-copy round 3 · 8,246 pages sent, 32 dirtied');
  });

  it('vmotionProgress names the switchover, the handoff on the destination, the end and an abort', () => {
    expect(vmotionProgress(migration({ phase: 'dfw-import', roundCount: 3 })).stage).toBe('switchover');
    expect(vmotionProgress(migration({ phase: 'rarp', roundCount: 3 })).stage).toBe('handoff');
    expect(vmotionProgress(migration({ phase: 'done', result: 'success', roundCount: 3 })).text).toBe('vMotion done (success, 3 rounds)');
    const aborted = vmotionProgress(migration({ phase: 'precheck', result: 'aborted', reason: 'peer-unreachable: no answer from esx-02 for 2000 ms' }));
    expect(aborted).toMatchObject({ stage: 'aborted', text: 'vMotion aborted: peer-unreachable' });
  });
});
