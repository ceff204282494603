/**
 * Property-based fuzzing of the three file loaders (topology, scenario, lab) with fast-check:
 * every mutant of a real file either loads or is refused with the loader's own error, whose
 * every problem names the file, a line and a column (what the CLI prints before exiting 2), and
 * no mutant takes more CPU time than a bound that grows linearly with its size. The bound is
 * generous (a loaded 2-core machine stays far inside it); what it catches is work that grows
 * faster than the input, as the quadratic duplicate-key check and problem locating once did.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTIN_LABS } from './lab/builtin/index.js';
import { LabError } from './lab/errors.js';
import { loadLab } from './lab/load.js';
import { DEFAULT_SCENARIO_YAML, loadScenario, ScenarioError } from './scenario/load.js';
import { DEFAULT_LAB_YAML, loadTopology, TopologyError } from './topology/load.js';

/** CPU milliseconds any load may take, plus CPU milliseconds per KiB of input. */
const BASE_CPU_MS = 2_000;
const CPU_MS_PER_KB = 20;

interface Loader {
  readonly what: string;
  readonly file: string;
  readonly seed: string;
  readonly load: (text: string) => unknown;
}

const LOADERS: readonly Loader[] = [
  { what: 'topology', file: 'fuzz-topology.yaml', seed: DEFAULT_LAB_YAML, load: (text) => loadTopology(text, 'fuzz-topology.yaml') },
  { what: 'scenario', file: 'fuzz-scenario.yaml', seed: DEFAULT_SCENARIO_YAML, load: (text) => loadScenario(text, 'fuzz-scenario.yaml') },
  { what: 'lab', file: 'fuzz-lab.yaml', seed: BUILTIN_LABS[3]!.yaml, load: (text) => loadLab(text, 'fuzz-lab.yaml') },
];

/** Values that YAML and the schemas find awkward. */
const AWKWARD = ['~', 'null', '[]', '{}', '-1', '0', '1e400', '0x1F', '-0', '.inf', '"', "'", '*nowhere', '&a', '!!binary AAAA', '%YAML 1.1', '@', '`', '|', '>', '? x', '- - -', ': :', '\t', '\u0000', '\u202e', 'é', '💥', 'a'.repeat(300), '9'.repeat(40), 'tor-a:swp1', '1us', '100Gbps', '10.0.0.0/33'];

/** One edit of a text's lines. */
type Edit =
  | { op: 'delete'; at: number }
  | { op: 'duplicate'; at: number }
  | { op: 'swap'; at: number; with: number }
  | { op: 'value'; at: number; value: string }
  | { op: 'insert'; at: number; column: number; text: string }
  | { op: 'indent'; at: number; by: number }
  | { op: 'truncate'; at: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
  fc.record({ op: fc.constant('value' as const), at: fc.nat(), value: fc.oneof(fc.constantFrom(...AWKWARD), fc.string({ maxLength: 12 })) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), column: fc.nat(), text: fc.oneof(fc.constantFrom(...AWKWARD), fc.string({ unit: 'binary', maxLength: 8 })) }),
  fc.record({ op: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyEdit(lines: string[], edit: Edit): string[] {
  if (lines.length === 0) return lines;
  const at = edit.at % lines.length;
  const out = [...lines];
  const line = out[at]!;
  switch (edit.op) {
    case 'delete':
      out.splice(at, 1);
      break;
    case 'duplicate':
      out.splice(at, 0, line);
      break;
    case 'swap': {
      const other = edit.with % lines.length;
      out[at] = out[other]!;
      out[other] = line;
      break;
    }
    case 'value': {
      // The value after the line's first `: `, or the whole line when it has none.
      const colon = line.indexOf(': ');
      out[at] = colon >= 0 ? `${line.slice(0, colon + 2)}${edit.value}` : edit.value;
      break;
    }
    case 'insert': {
      const column = edit.column % (line.length + 1);
      out[at] = `${line.slice(0, column)}${edit.text}${line.slice(column)}`;
      break;
    }
    case 'indent':
      out[at] = edit.by >= 0 ? `${' '.repeat(edit.by)}${line}` : line.replace(new RegExp(`^ {0,${-edit.by}}`), '');
      break;
    case 'truncate':
      out.length = at;
      break;
  }
  return out;
}

/** Loads `text`, checks the outcome, and returns the CPU milliseconds it took. */
function loadAndCheck(loader: Loader, text: string): void {
  const before = process.cpuUsage();
  let error: unknown = null;
  try {
    loader.load(text);
  } catch (caught) {
    error = caught;
  }
  const used = process.cpuUsage(before);
  const cpuMs = (used.user + used.system) / 1000;
  const kb = Buffer.byteLength(text) / 1024;
  expect(cpuMs, `${loader.what} of ${kb.toFixed(1)} KiB took ${cpuMs.toFixed(0)} ms of CPU`).toBeLessThanOrEqual(BASE_CPU_MS + CPU_MS_PER_KB * kb);
  if (error === null) return;
  // The loader's own error, nothing else: the CLI turns exactly these into exit 2.
  const known = error instanceof TopologyError || error instanceof ScenarioError || error instanceof LabError;
  expect(known, `${loader.what}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`).toBe(true);
  const refused = error as TopologyError | ScenarioError | LabError;
  expect(refused.problems.length).toBeGreaterThan(0);
  const lines = refused.message.split('\n');
  expect(lines[0]).toMatch(/^Invalid (topology|scenario|lab) in \S+ \(\d+ problems?\)$/);
  for (const problem of refused.problems) {
    expect(problem.line, `${refused.file}: ${problem.message}`).toBeGreaterThanOrEqual(1);
    expect(problem.column).toBeGreaterThanOrEqual(1);
  }
  for (const line of lines.slice(1)) expect(line.startsWith(`${refused.file}:`), line).toBe(true);
}

describe('loader fuzzing', () => {
  for (const loader of LOADERS) {
    it(`${loader.what} loader: every mutant loads or is refused naming file, line and column, in bounded time`, () => {
      expect(() => loader.load(loader.seed)).not.toThrow();
      fc.assert(
        fc.property(fc.array(editArb, { minLength: 1, maxLength: 4 }), (edits) => {
          const text = edits.reduce((lines, edit) => applyEdit(lines, edit), loader.seed.split('\n')).join('\n');
          loadAndCheck(loader, text);
        }),
        { numRuns: 120, seed: 16 },
      );
    }, 120_000);

    it(`${loader.what} loader: a line repeated thousands of times is handled in time linear in the size`, () => {
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 15_000, max: 22_000 }), fc.boolean(), (at, times, distinct) => {
          const lines = loader.seed.split('\n');
          const keyed = lines.map((line, i) => [line, i] as const).filter(([line]) => /^\s*[\w-]+: /.test(line));
          const [line, index] = keyed[at % keyed.length]!;
          // The same key again and again, or a new key each time (each an unknown key to report).
          const copies = Array.from({ length: times }, (_, n) => (distinct ? line.replace(/^(\s*)([\w-]+):/, `$1$2${n}:`) : line));
          loadAndCheck(loader, [...lines.slice(0, index + 1), ...copies, ...lines.slice(index + 1)].join('\n'));
        }),
        { numRuns: 2, seed: 16 },
      );
    }, 180_000);
  }
});
