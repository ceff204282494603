/**
 * Loading a topology file: YAML text → {@link ResolvedTopology}, or a {@link TopologyError}
 * listing every problem with its file, line, column and field path.
 *
 * Three passes, each collecting rather than stopping: YAML syntax (a file that does not parse
 * stops here), the shape of every entry (zod, entry by entry), then resolution (references,
 * uniqueness, expansion). Problems from the last two are reported together.
 */

import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML } from './default-lab.js';
import { TopologyError } from './errors.js';
import { resolveTopology } from './resolve.js';
import type { Entry, TopologyEntries } from './resolve.js';
import { DROPPABLE_KEYS, dpuSchema, hostSchema, managerSchema, segmentSchema, switchSchema, topologyEnvelopeSchema, wireSchema } from './schema.js';
import type { ResolvedTopology } from './types.js';
import { YamlSource, checkWithSchema, sortProblems } from './yaml-source.js';
import type { PathProblem } from './yaml-source.js';
import type { z } from 'zod';

export { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML } from './default-lab.js';
export { TopologyError } from './errors.js';

/** The file name without directories and its `.yaml`/`.yml` extension: the default topology name. */
export function fileStem(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? fileName;
  return base.replace(/\.ya?ml$/i, '') || base;
}

/**
 * Parses, checks and resolves a topology file. `fileName` is only used in messages and as the
 * default `name`; nothing is read from disk.
 *
 * @throws TopologyError listing every problem found, located in the file
 */
export function loadTopology(text: string, fileName: string): ResolvedTopology {
  const source = new YamlSource(text, fileName);
  if (source.syntaxProblems.length > 0) throw new TopologyError(fileName, source.syntaxProblems);

  const problems: PathProblem[] = [];
  const envelope = checkWithSchema(topologyEnvelopeSchema, source.data);
  if (!envelope.ok) problems.push(...envelope.problems);
  const data: Record<string, unknown> = isRecord(source.data) ? source.data : {};
  const invalidIds = new Set<string>();

  /**
   * Checks each entry of a top-level list on its own, so one bad entry hides nothing else. An
   * entry whose only faults are unknown keys or droppable keys is resolved without them.
   */
  const entriesOf = <K extends keyof typeof DROPPABLE_KEYS, S extends z.ZodType>(key: K, schema: S): Entry<z.output<S>>[] => {
    const list = data[key];
    if (!Array.isArray(list)) return [];
    const droppable: ReadonlySet<string> = new Set(DROPPABLE_KEYS[key]);
    const entries: Entry<z.output<S>>[] = [];
    list.forEach((item: unknown, index) => {
      const checked = checkWithSchema(schema, item, [key, index]);
      if (checked.ok) {
        entries.push({ index, value: checked.value });
        return;
      }
      problems.push(...checked.problems);
      const salvaged = salvage(item, checked.problems, 2, droppable);
      const retried = salvaged === null ? null : checkWithSchema(schema, salvaged, [key, index]);
      if (retried?.ok) entries.push({ index, value: retried.value });
      else if (isRecord(item) && typeof item.id === 'string') invalidIds.add(item.id);
    });
    return entries;
  };

  let manager: Entry<z.output<typeof managerSchema>> | null = null;
  if (data.manager !== undefined) {
    const checked = checkWithSchema(managerSchema, data.manager, ['manager']);
    if (checked.ok) manager = { index: 0, value: checked.value };
    else {
      problems.push(...checked.problems);
      if (isRecord(data.manager) && typeof data.manager.id === 'string') invalidIds.add(data.manager.id);
    }
  }

  const entries: TopologyEntries = {
    name: typeof data.name === 'string' && data.name !== '' ? data.name : fileStem(fileName),
    segments: entriesOf('segments', segmentSchema),
    hosts: entriesOf('hosts', hostSchema),
    dpus: entriesOf('dpus', dpuSchema),
    switches: entriesOf('switches', switchSchema),
    wires: entriesOf('wires', wireSchema),
    manager,
    invalidIds,
  };
  const resolution = resolveTopology(entries);
  problems.push(...resolution.problems);
  if (problems.length > 0) throw new TopologyError(fileName, sortProblems(problems.map((p) => source.locateProblem(p))));
  return resolution.topology;
}

/** Loads the embedded default lab (see `default-lab.ts`). */
export function loadDefaultLab(): ResolvedTopology {
  return loadTopology(DEFAULT_LAB_YAML, DEFAULT_LAB_FILE);
}

/**
 * The entry without the keys its problems are about, if every such key is unknown or droppable;
 * null when a problem concerns the entry itself or a key that other entries depend on.
 */
function salvage(item: unknown, problems: readonly PathProblem[], depth: number, droppable: ReadonlySet<string>): Record<string, unknown> | null {
  if (!isRecord(item)) return null;
  const drop = new Set<string>();
  for (const problem of problems) {
    const key = problem.path[depth];
    if (typeof key !== 'string') return null;
    const unknownKey = problem.at === 'key' && problem.path.length === depth + 1;
    if (!unknownKey && !droppable.has(key)) return null;
    drop.add(key);
  }
  return Object.fromEntries(Object.entries(item).filter(([key]) => !drop.has(key)));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
