/**
 * Loading lab files: YAML text → {@link Lab}, or a {@link LabError} naming file, line and field
 * for every problem, exactly as the topology and scenario loaders do (it uses their machinery).
 *
 * A lab's topology, starting scenario and solution are each either embedded as a mapping or a
 * file named relative to the lab file. An embedded part is cut out of the lab text with its
 * positions kept (everything before it blanked), so the topology and scenario loaders report
 * its problems at their real line and column in the lab file.
 */

import type { z } from 'zod';
import { knownIds } from '../actions/topology.js';
import { loadScenario, ScenarioError, validateScenarioAgainstTopology } from '../scenario/load.js';
import type { Scenario } from '../scenario/types.js';
import { DEFAULT_LAB_FILE, DEFAULT_LAB_YAML, fileStem, loadTopology, TopologyError } from '../topology/load.js';
import type { ResolvedTopology } from '../topology/types.js';
import { YamlSource, checkWithSchema, didYouMean, sortProblems } from '../topology/yaml-source.js';
import type { DataPath, PathProblem, SourceProblem } from '../topology/yaml-source.js';
import { LabError } from './errors.js';
import { expandNamedMeasure, type MeasureReference, type NamedMeasureSpec } from './measures.js';
import { CHECK_SCHEMAS, conditionOperatorsSchema, fieldMeasureSchema, labEnvelopeSchema, NAMED_MEASURE_SCHEMAS, scalarSchema, taskSchema } from './schema.js';
import { CHECK_TYPES, type Check, type Condition, type EventMatcher, type Lab, type LabScenario, type LabSource, type LabTask, type Measure } from './types.js';

export { LabError } from './errors.js';
export type { Lab, LabSource, LabTask } from './types.js';

/** How the loader reaches files a lab names. */
export interface LoadLabOptions {
  /**
   * Reads a file named in the lab (`topology: lab-topology.yaml`), relative to the lab file.
   * Throws an Error whose message says why it cannot. Absent: only embedded parts load.
   */
  readonly readFile?: (path: string) => LabSource;
}

/** A topology object a check names, which must exist. */
interface Reference {
  readonly path: DataPath;
  readonly kind: MeasureReference['kind'];
  readonly id: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCheckType(value: unknown): value is Check['type'] {
  return typeof value === 'string' && (CHECK_TYPES as readonly string[]).includes(value);
}

function isMeasureName(value: unknown): value is keyof typeof NAMED_MEASURE_SCHEMAS {
  return typeof value === 'string' && Object.hasOwn(NAMED_MEASURE_SCHEMAS, value);
}

/** Collects problems and the references checks make while a lab is parsed. */
class LabParser {
  readonly problems: PathProblem[] = [];
  readonly references: Reference[] = [];

  /** `where`, `node` and `show` of a matcher, its conditions checked one by one. */
  matcher(fields: { kind: string; node?: string | string[] | undefined; where?: Record<string, unknown> | undefined; show?: string[] | undefined }, path: DataPath): EventMatcher {
    const nodes = fields.node === undefined ? [] : typeof fields.node === 'string' ? [fields.node] : fields.node;
    const nodePaths = typeof fields.node === 'string' ? [[...path, 'node']] : nodes.map((_, i) => [...path, 'node', i]);
    nodes.forEach((id, i) => {
      // The controller records inputs and node lives under its own name.
      if (id !== 'controller') this.references.push({ path: nodePaths[i]!, kind: 'node', id });
    });
    const where: Array<[string, Condition]> = [];
    for (const [key, value] of Object.entries(fields.where ?? {})) {
      const condition = this.condition(value, [...path, 'where', key]);
      if (condition !== null) where.push([key, condition]);
    }
    return { kind: fields.kind, nodes, where, show: fields.show ?? [] };
  }

  /** A condition: a value (equals), a list (one of), or a mapping of operators. */
  condition(value: unknown, path: DataPath): Condition | null {
    if (isRecord(value)) {
      const checked = checkWithSchema(conditionOperatorsSchema, value, path);
      if (!checked.ok) {
        this.problems.push(...checked.problems);
        return null;
      }
      return Object.fromEntries(Object.entries(checked.value).filter(([, v]) => v !== undefined)) as Condition;
    }
    if (Array.isArray(value)) {
      const values: Array<string | number | boolean | null> = [];
      value.forEach((item, i) => {
        const checked = checkWithSchema(scalarSchema, item, [...path, i]);
        if (checked.ok) values.push(checked.value);
        else this.problems.push(...checked.problems);
      });
      if (value.length === 0) this.problems.push({ path, message: 'must have at least 1 item' });
      return { in: values };
    }
    const checked = checkWithSchema(scalarSchema, value, path);
    if (!checked.ok) {
      this.problems.push(...checked.problems);
      return null;
    }
    return { equals: checked.value };
  }

  measure(raw: Record<string, unknown>, path: DataPath): Measure | null {
    if (Object.hasOwn(raw, 'name')) {
      const name = raw.name;
      if (!isMeasureName(name)) {
        const names = Object.keys(NAMED_MEASURE_SCHEMAS);
        const hint = typeof name === 'string' ? didYouMean(name, names) : '';
        this.problems.push({ path: [...path, 'name'], message: `unknown measure ${JSON.stringify(name)} (measures: ${names.join(', ')}, or kind and field without a name)${hint}` });
        return null;
      }
      const checked = checkWithSchema(NAMED_MEASURE_SCHEMAS[name] as z.ZodType<NamedMeasureSpec>, raw, path);
      if (!checked.ok) {
        this.problems.push(...checked.problems);
        return null;
      }
      const { measure, references } = expandNamedMeasure(checked.value);
      for (const ref of references) this.references.push({ path: [...path, ref.field], kind: ref.kind, id: ref.id });
      return measure;
    }
    const checked = checkWithSchema(fieldMeasureSchema, raw, path);
    if (!checked.ok) {
      this.problems.push(...checked.problems);
      return null;
    }
    const m = checked.value;
    const matcher = this.matcher(m, path);
    const unit = m.unit ?? (/Ns$/.test(m.field) ? 'ns' : 'plain');
    return { type: 'field', matcher, field: m.field, pick: m.pick, unit, label: m.label ?? (m.pick === 'sum' ? `the sum of ${m.field} over ${m.kind}` : `the ${m.field} of the ${m.pick} ${m.kind}`) };
  }

  check(raw: unknown, path: DataPath): Check | null {
    if (!isRecord(raw)) {
      this.problems.push({ path, message: 'expected a check such as { type: event, kind: vmotion.done }' });
      return null;
    }
    const type = raw.type;
    if (!isCheckType(type)) {
      if (type === undefined) this.problems.push({ path: [...path, 'type'], message: `required (one of ${CHECK_TYPES.join(', ')})` });
      else {
        const hint = typeof type === 'string' ? didYouMean(type, CHECK_TYPES) : '';
        this.problems.push({ path: [...path, 'type'], message: `unknown check type ${JSON.stringify(type)} (types: ${CHECK_TYPES.join(', ')})${hint}` });
      }
      return null;
    }
    // A check whose shape is wrong still has its conditions checked, so one run shows everything.
    const fail = (problems: PathProblem[]): null => {
      this.problems.push(...problems);
      const where = (fields: unknown, at: DataPath): void => {
        if (isRecord(fields) && isRecord(fields.where)) for (const [key, value] of Object.entries(fields.where)) this.condition(value, [...at, 'where', key]);
      };
      where(raw, path);
      where(raw.first, [...path, 'first']);
      where(raw.then, [...path, 'then']);
      where(raw.measure, [...path, 'measure']);
      return null;
    };
    switch (type) {
      case 'event': {
        const checked = checkWithSchema(CHECK_SCHEMAS.event, raw, path);
        if (!checked.ok) return fail(checked.problems);
        const c = checked.value;
        const atLeast = c.atLeast ?? (c.atMost === 0 ? 0 : 1);
        if (c.atMost !== undefined && c.atMost < atLeast) this.problems.push({ path: [...path, 'atMost'], message: `must be at least atLeast (${atLeast})` });
        return { type, matcher: this.matcher(c, path), atLeast, atMost: c.atMost ?? null, fix: c.fix ?? null };
      }
      case 'no-event': {
        const checked = checkWithSchema(CHECK_SCHEMAS['no-event'], raw, path);
        if (!checked.ok) return fail(checked.problems);
        return { type, matcher: this.matcher(checked.value, path), fix: checked.value.fix ?? null };
      }
      case 'order': {
        const checked = checkWithSchema(CHECK_SCHEMAS.order, raw, path);
        if (!checked.ok) return fail(checked.problems);
        const c = checked.value;
        return { type, first: this.matcher(c.first, [...path, 'first']), then: this.matcher(c.then, [...path, 'then']), fix: c.fix ?? null };
      }
      case 'threshold': {
        const checked = checkWithSchema(CHECK_SCHEMAS.threshold, raw, path);
        if (!checked.ok) return fail(checked.problems);
        const c = checked.value;
        if (c.min !== undefined && c.max !== undefined && c.min > c.max) this.problems.push({ path: [...path, 'max'], message: `must be at least min (${c.min})` });
        const measure = this.measure(c.measure, [...path, 'measure']);
        return measure === null ? null : { type, measure, min: c.min ?? null, max: c.max ?? null, answerWithin: c.answerWithin ?? null, fix: c.fix ?? null };
      }
    }
  }

  task(raw: unknown, index: number): LabTask | null {
    const path = ['tasks', index];
    const checked = checkWithSchema(taskSchema, raw, path);
    if (!checked.ok) {
      this.problems.push(...checked.problems);
      return null;
    }
    const t = checked.value;
    const rawChecks = Array.isArray(t.check) ? t.check.map((c, i) => ({ raw: c, path: [...path, 'check', i] })) : [{ raw: t.check, path: [...path, 'check'] }];
    const checks = rawChecks.map((c) => this.check(c.raw, c.path));
    if (checks.some((c) => c === null)) return null;
    return { id: t.id, text: t.text, hints: t.hints, checks: checks as Check[] };
  }
}

/**
 * The text of an embedded part with its position kept: everything before it blanked (line
 * breaks kept), nothing after it. YAML allows the root of a document to be indented.
 */
function cutOut(source: YamlSource, text: string, key: string): string | null {
  // The file as already parsed: parsing it again per part would be wasted work.
  const range = source.rangeOf([key]);
  if (range === null) return null;
  const [start, end] = range;
  return text.slice(0, start).replace(/[^\n]/g, ' ') + text.slice(start, end);
}

/** The same text without the blank lead and the common indentation: what a run records. */
function tidy(text: string): string {
  const lines = text.replace(/^(?:[ \t\r]*\n)+/, '').split('\n');
  const indents = lines.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length);
  const strip = indents.length === 0 ? 0 : Math.min(...indents);
  return `${lines.map((l) => l.slice(strip)).join('\n').trimEnd()}\n`;
}

/** Problems of a part's own loader, prefixed with the part's key so they read as lab fields. */
function prefixed(key: string, problems: readonly SourceProblem[]): SourceProblem[] {
  return problems.map((p) => ({ ...p, path: p.path === '' ? key : p.path.startsWith('[') ? `${key}${p.path}` : `${key}.${p.path}` }));
}

/** The YAML of the starting scenario when a lab gives none: nothing happens for 3 s. */
export function emptyStartYaml(name: string): string {
  return `name: ${name}\nend: 3s\nsteps: []\n`;
}

/**
 * Parses and checks a lab file: its fields, every task and check, its topology, its starting
 * scenario and its solution (each checked against the topology).
 *
 * Problems in the lab file, embedded parts included, are reported together as one
 * {@link LabError}; a file the lab names that is itself malformed throws its own
 * TopologyError or ScenarioError, which names that file.
 *
 * @throws LabError listing every problem found, located in the lab file
 */
export function loadLab(text: string, fileName: string, options: LoadLabOptions = {}): Lab {
  const source = new YamlSource(text, fileName);
  if (source.syntaxProblems.length > 0) throw new LabError(fileName, source.syntaxProblems);

  const parser = new LabParser();
  const envelope = checkWithSchema(labEnvelopeSchema, source.data);
  if (!envelope.ok) parser.problems.push(...envelope.problems);
  const data = isRecord(source.data) ? source.data : {};
  const name = typeof data.name === 'string' && data.name !== '' ? data.name : fileStem(fileName);

  const tasks: LabTask[] = [];
  const rawTasks = Array.isArray(data.tasks) ? data.tasks : [];
  const seenIds = new Map<string, number>();
  rawTasks.forEach((raw, index) => {
    const id = isRecord(raw) && typeof raw.id === 'string' ? raw.id : null;
    const earlier = id === null ? undefined : seenIds.get(id);
    if (earlier !== undefined) parser.problems.push({ path: ['tasks', index, 'id'], message: `duplicate task id "${id}" (also tasks[${earlier}])` });
    else if (id !== null) seenIds.set(id, index);
    const task = parser.task(raw, index);
    if (task !== null) tasks.push(task);
  });

  // Problems found so far, located; the parts add theirs already located.
  const located: SourceProblem[] = [];
  const flush = (): void => {
    located.push(...parser.problems.splice(0).map((p) => source.locateProblem(p)));
  };
  const stop = (): never => {
    flush();
    throw new LabError(fileName, sortProblems(located));
  };

  /** A part's text: cut out of the lab file, or read from the file it names. */
  const partSource = (key: 'topology' | 'scenario' | 'solution'): { source: LabSource; embedded: boolean } | null => {
    const value = data[key];
    if (isRecord(value)) {
      const cut = cutOut(source, text, key);
      return cut === null ? null : { source: { text: cut, file: fileName }, embedded: true };
    }
    if (typeof value !== 'string' || value === '') return null;
    if (options.readFile === undefined) {
      parser.problems.push({ path: [key], message: `cannot read ${value}: this lab can only embed its ${key} as a mapping here` });
      return null;
    }
    try {
      return { source: options.readFile(value), embedded: false };
    } catch (error) {
      parser.problems.push({ path: [key], message: `cannot read ${value}: ${error instanceof Error ? error.message : String(error)}` });
      return null;
    }
  };

  // The topology: embedded, named, or the default lab.
  let topology: ResolvedTopology | null = null;
  let topologySource: LabSource | null = null;
  if (data.topology === undefined) {
    topology = loadTopology(DEFAULT_LAB_YAML, DEFAULT_LAB_FILE);
  } else {
    const part = partSource('topology');
    if (part !== null) {
      try {
        topology = loadTopology(part.source.text, part.source.file);
        topologySource = part.embedded ? { text: tidy(part.source.text), file: fileName } : part.source;
      } catch (error) {
        if (!(error instanceof TopologyError)) throw error;
        if (!part.embedded) {
          if (located.length + parser.problems.length > 0) stop();
          throw error;
        }
        located.push(...prefixed('topology', error.problems));
      }
    }
  }

  // Scenarios: the start and the solution, each checked against the topology.
  const scenario = (key: 'scenario' | 'solution', after: Scenario | null): LabScenario | null => {
    const part = partSource(key);
    if (part === null) return null;
    try {
      const loaded: Scenario = loadScenario(part.source.text, part.source.file);
      // The solution is added to the start: what the start begins, it may end.
      if (topology !== null) validateScenarioAgainstTopology(loaded, topology, part.source.file, after === null ? {} : { after });
      return { scenario: loaded, source: part.embedded ? { text: tidy(part.source.text), file: fileName } : part.source };
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      if (!part.embedded) {
        if (located.length + parser.problems.length > 0) stop();
        throw error;
      }
      located.push(...prefixed(key, error.problems));
      return null;
    }
  };
  let start: LabScenario | null;
  if (data.scenario === undefined) {
    const yaml = emptyStartYaml(`${name}-start`);
    start = { scenario: loadScenario(yaml, fileName), source: { text: yaml, file: fileName } };
  } else {
    start = scenario('scenario', null);
  }
  const solution = data.solution === undefined ? null : scenario('solution', start?.scenario ?? null);

  // What the checks name must exist.
  if (topology !== null) {
    const known = knownIds(topology);
    for (const ref of parser.references) {
      const ids = ref.kind === 'host' ? known.host : ref.kind === 'vm' ? known.vm : known.node;
      if (!ids.has(ref.id)) parser.problems.push({ path: ref.path, message: `no ${ref.kind === 'vm' ? 'VM' : ref.kind} "${ref.id}" in topology "${topology.name}"${didYouMean(ref.id, ids)}` });
    }
  }

  flush();
  if (located.length > 0 || !envelope.ok || topology === null || start === null) stop();
  const e = envelope.ok ? envelope.value : null;
  return {
    name,
    title: e!.title,
    introduction: e!.introduction,
    file: fileName,
    version: String(e!.version ?? 1),
    seed: e!.seed ?? 1,
    topology: topology!,
    topologySource,
    start: start!,
    solution,
    tasks,
  };
}
