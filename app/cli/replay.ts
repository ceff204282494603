import { verifyReplay } from '../../processes/controller/replay.js';
import { compactPayload, jsonSafe } from './format.js';

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
    const lines = [`dpulab replay ${db} (${verdict.mode}): ${verdict.ok ? 'identical' : 'DIVERGED'}`];
    lines.push(`  ${verdict.replayedEvents} of ${verdict.recordedEvents} events re-executed identically in ${verdict.wallMs} ms`);
    const d = verdict.divergence;
    if (d) {
      lines.push(`  first divergent event: seq ${d.seq} (${d.fields.join(', ')} differ)`);
      if (d.recorded) lines.push(`    recorded:    ${d.recorded.vtime} ns ${d.recorded.node} ${d.recorded.kind} ${compactPayload(d.recorded.payload)}`);
      if (d.replayed) lines.push(`    re-executed: ${d.replayed.vtime} ns ${d.replayed.node} ${d.replayed.kind} ${compactPayload(d.replayed.payload)}`);
    }
    if (!verdict.integrity.ok) {
      lines.push('  the stored events no longer match the stored fingerprint:');
      for (const p of verdict.integrity.problems) lines.push(`    ${p}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (!verdict.ok) process.exitCode = 1;
}
