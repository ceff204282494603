/**
 * YAML source files with located problems: the one place that turns "something is wrong at
 * `wires[3].b`" into `lab.yaml:23:12: wires[3].b: ...`. Topology and scenario loaders both use it.
 *
 * A problem is found in one of three ways (YAML syntax, zod shape checks, semantic checks) and
 * always carries a data path; the path is mapped back to the YAML node that holds the value, or
 * to its nearest existing parent when the value is missing (a required key points at its map).
 */

import { LineCounter, isMap, isNode, isScalar, isSeq, parseDocument, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { z } from 'zod';

/** A path into the parsed data: mapping keys and list indices, as zod reports them. */
export type DataPath = readonly (string | number)[];

/** One thing wrong with a source file, located to the line and column of the offending node. */
export interface SourceProblem {
  /** Data path in display form, e.g. `wires[3].b`; empty for the whole document. */
  readonly path: string;
  /** 1-based line; 0 when the location is unknown (data that did not come from a file). */
  readonly line: number;
  /** 1-based column; 0 when the location is unknown. */
  readonly column: number;
  /** What is wrong, as a lower-case fragment without trailing period. */
  readonly message: string;
}

/** A problem found by a semantic check, before it is located in the file. */
export interface PathProblem {
  readonly path: DataPath;
  readonly message: string;
  /** Point at the mapping key rather than its value (unknown keys). Default: the value. */
  readonly at?: 'key' | 'value';
}

/** A 1-based line and column. */
export interface SourcePosition {
  readonly line: number;
  readonly column: number;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Alias uses a document may make once expanded. Aliases that refer to aliases multiply (a "billion
 * laughs" bomb); past this the document is refused instead of filling memory.
 */
export const MAX_ALIAS_COUNT = 1000;

/** A data path as a map key: numbers (list indices) and strings (keys) stay apart. */
function pathKey(path: DataPath): string {
  return JSON.stringify(path);
}

/** Renders a data path for people: `wires[3].b`, `hosts[0].vms[1].vnics[0].ipv4`. */
export function formatPath(path: DataPath): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (IDENTIFIER.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

/** Renders one problem as `file:line:column: path: message`, leaving out what is unknown or empty. */
export function formatProblem(fileName: string, problem: SourceProblem): string {
  const where = problem.line > 0 ? `${fileName}:${problem.line}:${problem.column}` : fileName;
  return problem.path === '' ? `${where}: ${problem.message}` : `${where}: ${problem.path}: ${problem.message}`;
}

/**
 * Renders a whole report: a summary line (`Invalid topology in lab.yaml (2 problems)`) followed
 * by one line per problem. Used as the message of the loaders' error classes.
 */
export function formatProblemReport(what: string, fileName: string, problems: readonly SourceProblem[]): string {
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return [`Invalid ${what} in ${fileName} (${count})`, ...problems.map((p) => formatProblem(fileName, p))].join('\n');
}

/** Orders problems by position (unknown positions first), keeping discovery order on ties, and drops exact repeats. */
export function sortProblems(problems: readonly SourceProblem[]): SourceProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${p.line}:${p.column}:${p.path}:${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort((a, b) => a.line - b.line || a.column - b.column);
}

/** Edit distance counting an adjacent transposition as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The known name closest to `name` if it is a likely typo: the same but for case, one edit
 * (a transposition counts as one) in a name of three characters or more, or two edits in a
 * name of eight or more.
 */
export function closestName(name: string, known: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    if (candidate.toLowerCase() === name.toLowerCase()) return candidate;
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = name.length >= 8 ? 2 : name.length >= 3 ? 1 : 0;
  return best !== null && bestDistance <= limit ? best : null;
}

/** ` (did you mean "x"?)` when a known name is close to `name`, else the empty string. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const near = closestName(name, known);
  return near === null ? '' : ` (did you mean "${near}"?)`;
}

/** Describes a parsed value in a message: `"abc"`, `42`, `a list`, `an empty value`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
};

/** True for `z.int()`, which reports a non-number as expecting a plain number. */
function integerSchema(inst: unknown): boolean {
  return inst instanceof z.ZodNumber && inst.format === 'safeint';
}

function rawPathKey(path: readonly PropertyKey[] | undefined): string {
  return JSON.stringify((path ?? []).map((p) => (typeof p === 'symbol' ? String(p) : p)));
}

/**
 * Builds zod's per-parse error map: short lower-case messages in the house style ("required",
 * "expected an integer, got \"two\"", "must be at least 1"). Schema-level messages still win.
 * Unknown keys are reported per key later; here the map only records which keys were allowed.
 */
function errorMap(allowedKeys: Map<string, readonly string[]>): z.core.$ZodErrorMap {
  return (issue) => {
    const input = issue.input;
    switch (issue.code) {
      case 'invalid_type':
        if (input === undefined) return 'required';
        return `expected ${EXPECTED_NAMES[integerSchema(issue.inst) ? 'int' : issue.expected] ?? issue.expected}, got ${describeValue(input)}`;
      case 'invalid_union':
        if (input === undefined) return 'required';
        return `invalid value ${describeValue(input)}`;
      case 'invalid_value': {
        const values = issue.values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
        const expected = values.length === 1 ? values[0] : `one of ${values.join(', ')}`;
        const hint = typeof input === 'string' ? didYouMean(input, issue.values.map(String)) : '';
        return `expected ${expected}, got ${describeValue(input)}${hint}`;
      }
      case 'too_small': {
        const min = String(issue.minimum);
        if (issue.origin === 'array') return `must have at least ${min} item${min === '1' ? '' : 's'}`;
        if (issue.origin === 'string') return min === '1' ? 'must not be empty' : `must be at least ${min} characters`;
        return issue.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
      }
      case 'too_big': {
        const max = String(issue.maximum);
        if (issue.origin === 'array') return `must have at most ${max} items`;
        if (issue.origin === 'string') return `must be at most ${max} characters`;
        return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
      }
      case 'unrecognized_keys':
        if (issue.inst instanceof z.ZodObject) allowedKeys.set(rawPathKey(issue.path), Object.keys(issue.inst.shape));
        return 'unknown key';
      default:
        return undefined;
    }
  };
}

/** Turns zod issues into path problems, one per unknown key, with a hint when a key looks like a typo. */
function zodIssueProblems(issues: readonly z.core.$ZodIssue[], base: DataPath, allowedKeys: Map<string, readonly string[]>): PathProblem[] {
  const problems: PathProblem[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))];
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys.get(rawPathKey(issue.path)) ?? [];
      for (const key of issue.keys) {
        const hint = didYouMean(key, allowed);
        const list = allowed.length > 0 && hint === '' ? ` (known keys: ${allowed.join(', ')})` : hint;
        problems.push({ path: [...path, key], message: `unknown key${list}`, at: 'key' });
      }
    } else {
      problems.push({ path, message: issue.message });
    }
  }
  return problems;
}

/** The outcome of checking data against a schema: the parsed value, or the problems found. */
export type CheckResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: PathProblem[] };

/**
 * Checks `data` (found at `base` in the document) against a zod schema, with the house error
 * messages and one problem per unknown key. Problem paths are absolute (prefixed with `base`).
 */
export function checkWithSchema<S extends z.ZodType>(schema: S, data: unknown, base: DataPath = []): CheckResult<z.output<S>> {
  const allowedKeys = new Map<string, readonly string[]>();
  const result = schema.safeParse(data, { error: errorMap(allowedKeys) });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, problems: zodIssueProblems(result.error.issues, base, allowedKeys) };
}

/**
 * A parsed YAML file that can say where any data path is. Syntax errors are kept as located
 * problems; when there are any, `data` is null and callers should report them and stop.
 */
export class YamlSource {
  /** The file name used in every message. */
  readonly fileName: string;
  /** Problems found by the YAML parser (syntax, duplicate keys, several documents). */
  readonly syntaxProblems: readonly SourceProblem[];
  /** The document as plain data, or null when it has syntax errors. */
  readonly data: unknown;
  private readonly doc: Document.Parsed;
  private readonly lines: LineCounter;
  private nodes: Map<string, { node: unknown; key?: YamlNode }> | null = null;

  constructor(text: string, fileName: string) {
    this.fileName = fileName;
    this.lines = new LineCounter();
    // The parser's own duplicate-key check compares each key with every earlier one (quadratic
    // in a map's size); `duplicateKeys` does the same in one pass.
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: false });
    const problems: SourceProblem[] = this.doc.errors.map((error) => {
      const { line, column } = this.position(error.pos[0]);
      const message = error.message.replace(/\s+/g, ' ').trim();
      return { path: '', line, column, message: `YAML syntax: ${message.charAt(0).toLowerCase()}${message.slice(1)}` };
    });
    if (problems.length === 0) problems.push(...this.duplicateKeys(), ...this.unresolvedAliases());
    let data: unknown = null;
    if (problems.length === 0) {
      try {
        data = this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
      } catch (error) {
        // The only other way toJS fails: aliases that expand beyond the limit (an alias bomb).
        const first = this.firstAlias();
        problems.push({
          path: '',
          line: first?.line ?? 1,
          column: first?.column ?? 1,
          message: `YAML aliases: they expand to too much (more than ${MAX_ALIAS_COUNT} alias uses): ${error instanceof Error ? error.message.toLowerCase() : 'refused'}`,
        });
      }
    }
    this.syntaxProblems = problems;
    this.data = problems.length > 0 ? null : data;
  }

  /** Every key of a mapping written a second time, at the repeat, in one pass over the document. */
  private duplicateKeys(): SourceProblem[] {
    const problems: SourceProblem[] = [];
    visit(this.doc, {
      Map: (_key, map) => {
        const seen = new Set<string>();
        for (const pair of map.items) {
          if (!isScalar(pair.key)) continue;
          const key = `${typeof pair.key.value}:${String(pair.key.value)}`;
          if (seen.has(key) && pair.key.range) {
            const { line, column } = this.position(pair.key.range[0]);
            problems.push({ path: '', line, column, message: 'YAML syntax: map keys must be unique' });
          }
          seen.add(key);
        }
      },
    });
    return problems;
  }

  /** Every alias without an anchor before it. */
  private unresolvedAliases(): SourceProblem[] {
    const problems: SourceProblem[] = [];
    visit(this.doc, {
      Alias: (_key, alias) => {
        if (alias.resolve(this.doc) !== undefined) return;
        const { line, column } = this.position(alias.range?.[0] ?? 0);
        problems.push({ path: '', line, column, message: `YAML alias: *${alias.source} has no anchor &${alias.source} before it` });
      },
    });
    return problems;
  }

  private firstAlias(): SourcePosition | null {
    let first: SourcePosition | null = null;
    visit(this.doc, {
      Alias: (_key, alias) => {
        first = this.position(alias.range?.[0] ?? 0);
        return visit.BREAK;
      },
    });
    return first;
  }

  /** The 1-based line and column of a character offset in the text. */
  position(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }

  /**
   * Where the value at `path` is written; with `at: 'key'`, where its key is. Falls back to the
   * nearest enclosing node that exists, then to the start of the file.
   */
  locate(path: DataPath, at: 'key' | 'value' = 'value'): SourcePosition {
    if (at === 'key' && path.length > 0) {
      const key = this.keyAt(path);
      if (key?.range) return this.position(key.range[0]);
    }
    for (let n = path.length; n >= 0; n--) {
      const node = this.nodeAt(path.slice(0, n));
      if (isNode(node) && node.range) return this.position(node.range[0]);
    }
    return { line: 1, column: 1 };
  }

  /** The character range of the value at `path` (start, end), or null when it is not in the file. */
  rangeOf(path: DataPath): readonly [number, number] | null {
    const node = this.nodeAt(path);
    return isNode(node) && node.range ? [node.range[0], node.range[1]] : null;
  }

  /** Locates a semantic or schema problem in this file. */
  locateProblem(problem: PathProblem): SourceProblem {
    const { line, column } = this.locate(problem.path, problem.at);
    return { path: formatPath(problem.path), line, column, message: problem.message };
  }

  private nodeAt(path: DataPath): unknown {
    if (path.length === 0) return this.doc.contents;
    return this.index().get(pathKey(path))?.node;
  }

  private keyAt(path: DataPath): YamlNode | undefined {
    return this.index().get(pathKey(path))?.key;
  }

  /**
   * Every node of the document by its data path, built once on the first lookup: locating a
   * problem is then a map lookup, so a file with many problems is located in linear time.
   */
  private index(): Map<string, { node: unknown; key?: YamlNode }> {
    if (this.nodes !== null) return this.nodes;
    const nodes = new Map<string, { node: unknown; key?: YamlNode }>();
    const walk = (node: unknown, path: (string | number)[]): void => {
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isScalar(pair.key)) continue;
          const child = [...path, String(pair.key.value)];
          const key = pathKey(child);
          // The first occurrence wins, as it does when a duplicate key is reported.
          if (!nodes.has(key)) nodes.set(key, { node: pair.value, key: pair.key });
          walk(pair.value, child);
        }
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => {
          const child = [...path, i];
          nodes.set(pathKey(child), { node: item });
          walk(item, child);
        });
      }
      // An alias is not followed: what it points at is located where it is written.
    };
    walk(this.doc.contents, []);
    this.nodes = nodes;
    return nodes;
  }
}
