/**
 * `dpulab explore`: runs many seeded fault schedules, judges each run by the invariants, saves
 * the failing ones and shrinks the first failure of each broken invariant. See `docs/explore.md`.
 */
import { join } from 'node:path';
import { INVARIANTS } from '../../shared/invariants/index.js';
import { explore, type ExploreProgress, type ExploreSummary } from '../../processes/controller/explore/explore.js';
import { FAULT_KINDS, type FaultKind } from '../../processes/controller/explore/schedule.js';
import { CliError } from './errors.js';
import { table, vtime } from './format.js';
import { readSource } from './run.js';

interface ExploreFlags {
  runs: number;
  seed: number;
  faults?: string;
  jobs: number;
  out?: string;
  json?: boolean;
  multiProcess?: boolean;
  shrink: boolean;
  shrinkBudget: number;
}

/** `--faults kill,link`: known kinds only, named in the error otherwise. */
export function parseFaults(text: string): FaultKind[] {
  const kinds = text.split(',').map((k) => k.trim()).filter((k) => k !== '');
  if (kinds.length === 0) throw new CliError(`--faults ${text}: expected a comma-separated list of ${FAULT_KINDS.join(', ')}`);
  for (const k of kinds) {
    if (!(FAULT_KINDS as readonly string[]).includes(k)) throw new CliError(`--faults: unknown fault kind "${k}" (kinds: ${FAULT_KINDS.join(', ')})`);
  }
  return kinds as FaultKind[];
}

function defaultOut(seed: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return join(process.cwd(), 'runs', `explore-seed${seed}-${stamp}-${process.pid}`);
}

export async function exploreCommand(topologyPath: string | undefined, flags: ExploreFlags): Promise<void> {
  const faults = flags.faults !== undefined ? parseFaults(flags.faults) : undefined;
  const out = flags.out ?? defaultOut(flags.seed);
  const terminal = process.stderr.isTTY === true;
  const summary = await explore({
    ...(topologyPath ? { topology: readSource(topologyPath, 'topology') } : {}),
    runs: flags.runs,
    seed: flags.seed,
    ...(faults ? { faults } : {}),
    jobs: flags.jobs,
    out,
    mode: flags.multiProcess ? 'multi-process' : 'in-process',
    shrink: flags.shrink,
    shrinkBudget: flags.shrinkBudget,
    ...(terminal ? { onProgress: (p: ExploreProgress) => process.stderr.write(`${progressLine(p)}\n`) } : {}),
  });
  if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`${readableSummary(summary, flags, out)}\n`);
  if (summary.failingRuns.length > 0) process.exitCode = 1;
}

/** One line per run (and per shrinking run) on a terminal. */
function progressLine(p: ExploreProgress): string {
  if (p.phase === 'run') {
    const verdict = p.broken.length === 0 ? 'ok' : `BROKEN ${p.broken.join(', ')}`;
    return `run ${String(p.done).padStart(String(p.total).length)}/${p.total}  seed ${p.seed}  ${(p.wallMs / 1000).toFixed(1)} s  ${verdict}`;
  }
  return `shrink ${p.invariant} (seed ${p.seed}): ${p.runs} runs, ${p.steps} steps left`;
}

function readableSummary(s: ExploreSummary, flags: ExploreFlags, out: string): string {
  const lines: string[] = [];
  const broken = Object.entries(s.violationsByInvariant).filter(([, n]) => n > 0);
  lines.push(`dpulab explore: ${s.runs} runs from seed ${s.seed}, ${flags.multiProcess ? 'multi-process' : 'in-process'}, ${flags.jobs} job${flags.jobs === 1 ? '' : 's'}: ${s.failingRuns.length === 0 ? 'every invariant held' : `${s.failingRuns.length} runs broke ${broken.length} invariants`}`);
  lines.push(`  ${s.faultsDrawn} faults drawn, ${s.eventsChecked} events checked, ${vtime(s.virtualTimeNs)} virtual in ${(s.wallMs / 1000).toFixed(1)} s wall`);
  lines.push('');
  lines.push(table([['invariant', 'runs broken'], ...INVARIANTS.map((i) => [i.id, String(s.violationsByInvariant[i.id] ?? 0)])]).replace(/^/gm, '  '));
  if (s.failingRuns.length > 0) {
    lines.push('');
    lines.push(`  failing runs saved in ${out}: ${s.failingRuns.map((r) => r.seed).join(', ')}`);
  }
  for (const f of s.shrunk) {
    lines.push('');
    lines.push(`  ${f.invariant}: seed ${f.seed}, shrunk from ${f.originalSteps} to ${f.steps} steps in ${f.runs} runs${f.minimal ? '' : ' (budget spent)'}`);
    lines.push(`    first broken at seq ${f.violation.event.seq}, ${vtime(f.violation.event.vtime)}, ${f.violation.event.node}, ${f.violation.event.kind}`);
    lines.push(`    ${f.violation.message}`);
    lines.push(`    replay: ${f.replay}`);
  }
  return lines.join('\n');
}
