import { verifyReplay, type ReplayVerdict } from '../../processes/controller/replay.js';
import { compactPayload, jsonSafe, printable, vtime } from './format.js';

interface ReplayFlags {
  verify?: boolean;
  inProcess?: boolean;
  multiProcess?: boolean;
  json?: boolean;
}

export async function replayCommand(db: string, flags: ReplayFlags): Promise<void> {
  const mode = flags.inProcess ? 'in-process' : flags.multiProcess ? 'multi-process' : undefined;
  const verdict = await verifyReplay(db, mode ? { mode } : {});
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(jsonSafe(verdict))}\n`);
  } else {
    const lines = [`dpulab replay ${db} (${verdict.mode}): ${headline(verdict)}`];
    if (verdict.outcome === 'incomplete') {
      const why = verdict.recordedStatus === 'failed' ? `it failed: ${verdict.exitReason ?? 'no reason recorded'}` : 'its controller died, or it is still being written';
      lines.push(`  the run never finished (${why}); its log ends at ${vtime(verdict.lastVtime ?? 0)}`);
      lines.push(`  ${verdict.replayedEvents} of ${verdict.recordedEvents} recorded events re-executed identically in ${verdict.wallMs} ms`);
      lines.push(`  the stored events verify against their checkpoints up to event ${verdict.integrity.verifiedThrough}`);
    } else {
      lines.push(`  ${verdict.replayedEvents} of ${verdict.recordedEvents} events re-executed identically in ${verdict.wallMs} ms`);
    }
    const d = verdict.divergence;
    if (d) {
      lines.push(`  first divergent event: seq ${d.seq} (${d.fields.join(', ')} differ)`);
      if (d.recorded) lines.push(`    recorded:    ${d.recorded.vtime} ns ${d.recorded.node} ${d.recorded.kind} ${compactPayload(d.recorded.payload)}`);
      if (d.replayed) lines.push(`    re-executed: ${d.replayed.vtime} ns ${d.replayed.node} ${d.replayed.kind} ${compactPayload(d.replayed.payload)}`);
    }
    if (verdict.outcome === 'incomplete' ? !verdict.integrity.checkpointsOk : !verdict.integrity.ok) {
      lines.push('  the stored events no longer match the stored fingerprint:');
      for (const p of verdict.integrity.problems) lines.push(`    ${p}`);
    }
    process.stdout.write(`${lines.map(printable).join('\n')}\n`);
  }
  if (!verdict.ok) process.exitCode = 1;
}

/** The verdict in a few words: what a script greps for and a person reads first. */
function headline(verdict: ReplayVerdict): string {
  switch (verdict.outcome) {
    case 'identical':
      return 'identical';
    case 'diverged':
      return 'DIVERGED';
    case 'incomplete':
      return 'incomplete';
    case 'stopped': {
      const stop = verdict.stop!;
      const where = `${vtime(stop.vtime)} (event ${stop.seq})`;
      return stop.reason === 'interrupted'
        ? `identical up to its stop: interrupted at ${where}`
        : `identical up to its stop: failed at ${where}: ${stop.detail ?? stop.reason}`;
    }
  }
}
