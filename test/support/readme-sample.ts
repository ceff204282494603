/**
 * The sample output in README.md, made by the code: one real `dpulab run --in-process` of the
 * default lab, its summary as the CLI prints it, with the two tables whose rows are long or
 * differ from run to run (node pids, the count of every event kind) left out. `npm run
 * docs:readme` rewrites the README's block with it; `test/readme.test.ts` checks the block is
 * current.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DPULAB_BIN } from './cli.js';

/** The line before the sample's code fence in README.md. */
export const SAMPLE_BEGIN = '<!-- sample output: npm run docs:readme writes the block below from a real run; do not edit it by hand -->';
/** The line after it. */
export const SAMPLE_END = '<!-- end of sample output -->';

/** The command the sample shows, as a user types it (the database path is relative). */
export const SAMPLE_ARGS = ['run', '--in-process', '--db', 'runs/default-lab-seed1.db'] as const;

/** The tables of the run summary the sample leaves out, by their header's first cell. */
const LEFT_OUT = new Set(['node', 'event kind']);

/** A run summary without the tables in {@link LEFT_OUT}: each is a block of lines after a blank line. */
function abridged(output: string): string {
  const blocks = output.trimEnd().split('\n\n');
  const kept = blocks.filter((block) => !LEFT_OUT.has(block.trimStart().split(/\s{2,}/)[0] ?? ''));
  return kept.join('\n\n');
}

/**
 * Runs the default lab in-process in a scratch directory and returns its summary, abridged.
 *
 * @throws Error with the CLI's stderr when the run fails
 */
export function sampleOutput(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dpulab-readme-'));
  try {
    const result = spawnSync(process.execPath, [DPULAB_BIN, ...SAMPLE_ARGS], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    if (result.status !== 0) throw new Error(`dpulab ${SAMPLE_ARGS.join(' ')} exited ${String(result.status)}: ${result.stderr}`);
    return abridged(result.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The README's sample block (between the markers, without the fence), or null when it has none. */
export function readmeSample(readme: string): string | null {
  const begin = readme.indexOf(SAMPLE_BEGIN);
  const end = readme.indexOf(SAMPLE_END);
  if (begin < 0 || end < begin) return null;
  const fenced = readme.slice(begin + SAMPLE_BEGIN.length, end).trim();
  return fenced.replace(/^```[a-z]*\n/, '').replace(/\n```$/, '');
}

/**
 * The README with its sample block replaced by `sample`.
 *
 * @throws Error when the README lacks the markers
 */
export function withReadmeSample(readme: string, sample: string): string {
  const begin = readme.indexOf(SAMPLE_BEGIN);
  const end = readme.indexOf(SAMPLE_END);
  if (begin < 0 || end < begin) throw new Error(`README.md has no sample block: it needs the lines ${SAMPLE_BEGIN} and ${SAMPLE_END}`);
  return `${readme.slice(0, begin)}${SAMPLE_BEGIN}\n\`\`\`\n${sample}\n\`\`\`\n${readme.slice(end)}`;
}

/** The one figure of the sample that depends on the machine, not the code: the wall time. */
export function withoutWallTime(sample: string): string {
  return sample.replace(/ in \d+ ms wall$/m, ' in (wall) ms wall');
}
