import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { YamlSource, checkWithSchema, closestName, formatPath, formatProblem, sortProblems } from './yaml-source.js';

const TEXT = `top:
  list:
    - { a: 1, b: two }
    - c: 3
      d:
  alias: &x { e: 5 }
  again: *x
`;

describe('formatPath', () => {
  test('renders keys, indices and odd keys', () => {
    expect(formatPath(['wires', 3, 'b'])).toBe('wires[3].b');
    expect(formatPath([])).toBe('');
    expect(formatPath(['labels', 'rack a', 0])).toBe('labels["rack a"][0]');
  });
});

describe('YamlSource.locate', () => {
  const source = new YamlSource(TEXT, 'x.yaml');

  test('finds the value of a path, in flow and block collections', () => {
    expect(source.locate(['top', 'list', 0, 'b'])).toEqual({ line: 3, column: 18 });
    expect(source.locate(['top', 'list', 1, 'c'])).toEqual({ line: 4, column: 10 });
    expect(source.locate(['top', 'list', 1])).toEqual({ line: 4, column: 7 });
  });

  test('finds the key of a path when asked', () => {
    expect(source.locate(['top', 'list', 1, 'c'], 'key')).toEqual({ line: 4, column: 7 });
  });

  test('falls back to the nearest node that exists', () => {
    expect(source.locate(['top', 'list', 0, 'missing'])).toEqual({ line: 3, column: 7 });
    expect(source.locate(['top', 'list', 7, 'x'])).toEqual({ line: 3, column: 5 });
    expect(source.locate(['top', 'again', 'e'])).toEqual({ line: 7, column: 10 });
    expect(source.locate(['nothing'])).toEqual({ line: 1, column: 1 });
  });

  test('points an empty value at its key when the value has no position of its own', () => {
    const { line } = source.locate(['top', 'list', 1, 'd']);
    expect(line).toBe(5);
  });
});

describe('YamlSource', () => {
  test('reports syntax errors as located problems and gives no data', () => {
    const source = new YamlSource('a: 1\na: 2\n', 'dup.yaml');
    expect(source.data).toBeNull();
    expect(source.syntaxProblems).toEqual([{ path: '', line: 2, column: 1, message: 'YAML syntax: map keys must be unique' }]);
  });

  test('gives plain data when the text parses', () => {
    expect(new YamlSource(TEXT, 'x.yaml').data).toMatchObject({ top: { again: { e: 5 } } });
  });
});

describe('checkWithSchema', () => {
  const schema = z.strictObject({ id: z.string(), size: z.int().min(1), kind: z.enum(['a', 'b']).optional() });

  test('gives house-style messages with absolute paths', () => {
    const result = checkWithSchema(schema, { size: 0.5, kind: 'c', sise: 1 }, ['things', 2]);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toEqual([
      { path: ['things', 2, 'id'], message: 'required' },
      { path: ['things', 2, 'size'], message: 'expected an integer, got 0.5' },
      { path: ['things', 2, 'kind'], message: 'expected one of "a", "b", got "c"' },
      { path: ['things', 2, 'sise'], message: 'unknown key (did you mean "size"?)', at: 'key' },
    ]);
  });

  test('passes parsed values through', () => {
    expect(checkWithSchema(schema, { id: 'x', size: 2 })).toEqual({ ok: true, value: { id: 'x', size: 2 } });
  });
});

describe('closestName', () => {
  test.each([
    ['modle', 'model'],
    ['dpu', 'dpus'],
    ['Hosts', 'hosts'],
    ['mac_aging', 'macAging'],
    ['zzz', null],
    ['dpu-09z', null],
  ])('suggests for %j: %j', (name, expected) => {
    expect(closestName(name, ['model', 'dpus', 'hosts', 'macAging', 'dpu-01a'])).toBe(expected);
  });
});

describe('problem reports', () => {
  test('sorting orders by position and drops repeats', () => {
    const p = (line: number, column: number, message = 'm') => ({ path: 'x', line, column, message });
    expect(sortProblems([p(3, 1), p(1, 9), p(1, 2), p(1, 2)])).toEqual([p(1, 2), p(1, 9), p(3, 1)]);
  });

  test('a problem without a position or path prints what it has', () => {
    expect(formatProblem('f.yaml', { path: '', line: 0, column: 0, message: 'm' })).toBe('f.yaml: m');
    expect(formatProblem('f.yaml', { path: 'a.b', line: 2, column: 3, message: 'm' })).toBe('f.yaml:2:3: a.b: m');
  });
});

describe('YamlSource hostile documents', () => {
  test('an alias bomb is refused as a located problem, not expanded', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(9).fill(i === 1 ? '*a' : `*l${i - 1}`).join(', ')}]`);
    const source = new YamlSource(`${levels.join('\n')}\n`, 'bomb.yaml');
    expect(source.data).toBeNull();
    expect(source.syntaxProblems).toEqual([
      expect.objectContaining({ line: 2, column: 10, message: expect.stringMatching(/^YAML aliases: they expand to too much \(more than 1000 alias uses\)/) }),
    ]);
  });

  test('an alias without an anchor is a located problem', () => {
    const source = new YamlSource('a: 1\nb: *nowhere\n', 'x.yaml');
    expect(source.syntaxProblems).toEqual([{ path: '', line: 2, column: 4, message: 'YAML alias: *nowhere has no anchor &nowhere before it' }]);
  });

  test('a repeated key is found in every mapping, nested and flow ones too', () => {
    const source = new YamlSource('a: 1\nb: { c: 1, c: 2 }\nd:\n  - e: 1\n    e: 2\na: 3\n', 'x.yaml');
    expect(source.syntaxProblems.map((p) => `${p.line}:${p.column} ${p.message}`)).toEqual([
      '6:1 YAML syntax: map keys must be unique',
      '2:12 YAML syntax: map keys must be unique',
      '5:5 YAML syntax: map keys must be unique',
    ]);
  });
});
