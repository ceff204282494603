import { describe, expect, test } from 'vitest';
import { ScenarioError } from '../scenario/load.js';
import { TopologyError } from '../topology/load.js';
import { BUILTIN_LABS } from './builtin/index.js';
import { combineScenarios } from './combine.js';
import { LabError, loadLab, type LoadLabOptions } from './load.js';

function labError(text: string, options: LoadLabOptions = {}): LabError {
  try {
    loadLab(text, 'lab.yaml', options);
  } catch (error) {
    if (error instanceof LabError) return error;
    throw error;
  }
  throw new Error('expected a LabError');
}

/** The problem lines of a lab's error report (after the summary line). */
function problems(text: string, options: LoadLabOptions = {}): string[] {
  return labError(text, options).message.split('\n').slice(1);
}

const HEAD = 'title: A lab\nintroduction: Read this.\n';
const TASK = 'tasks:\n  - { id: t, text: Do it., check: { type: event, kind: note.x } }\n';

describe('loadLab', () => {
  test('every built-in lab loads, with a solution and tasks that name things its topology has', () => {
    for (const builtin of BUILTIN_LABS) {
      const lab = loadLab(builtin.yaml, builtin.file);
      expect(lab.name).toBe(builtin.name);
      expect(lab.solution).not.toBeNull();
      expect(lab.tasks.length).toBeGreaterThan(2);
      for (const task of lab.tasks) expect(task.hints.length, `${lab.name} ${task.id}`).toBeGreaterThan(0);
    }
  });

  test('a minimal lab runs the default topology with an empty 3 s start', () => {
    const lab = loadLab(HEAD + TASK, 'labs/mini.yaml');
    expect(lab.name).toBe('mini');
    expect(lab.topology.name).toBe('default-lab');
    expect(lab.topologySource).toBeNull();
    expect(lab.start.scenario).toMatchObject({ endNs: 3e9, steps: [] });
    expect(lab.tasks[0]!.checks[0]).toEqual({ type: 'event', matcher: { kind: 'note.x', nodes: [], where: [], show: [] }, atLeast: 1, atMost: null, fix: null });
  });

  test('a malformed lab names file, line and field for every problem', () => {
    const text = `title: A lab
introduction: Read this.
sed: 4
tasks:
  - id: one
    text: Do it.
    hints: [fine]
    check:
      type: evnet
      kind: vmotion.done
  - id: two
    text: Do it.
    check:
      - { type: event, kind: Vmotion, where: { n: { gte: soon } } }
      - { type: threshold, measure: { name: switchover }, max: 500ms }
      - { type: threshold, measure: { kind: dpu.failed, field: detectNs, pick: median }, max: 1s }
  - id: one
    text: Again.
    check: { type: no-event, kind: a.b, node: esx-09, colour: red }
`;
    expect(problems(text)).toEqual([
      'lab.yaml:3:1: sed: unknown key (did you mean "seed"?)',
      'lab.yaml:9:13: tasks[0].check.type: unknown check type "evnet" (types: event, no-event, order, threshold) (did you mean "event"?)',
      'lab.yaml:14:30: tasks[1].check[0].kind: expected an event kind such as vmotion.done, or a prefix such as dfw.*, got "Vmotion"',
      'lab.yaml:14:58: tasks[1].check[0].where.n.gte: expected a number or a duration such as 400ms: invalid duration "soon": expected a number and a unit (ns, us, ms, s, m, h), e.g. 5us, 1.5s or 1m30s',
      'lab.yaml:15:37: tasks[1].check[1].measure.vm: required',
      'lab.yaml:16:80: tasks[1].check[2].measure.pick: expected one of "first", "last", "min", "max", "sum", got "median"',
      'lab.yaml:17:9: tasks[2].id: duplicate task id "one" (also tasks[0])',
      'lab.yaml:19:55: tasks[2].check.colour: unknown key (known keys: type, kind, node, where, show, fix)',
    ]);
  });

  test('checks may name only nodes, hosts and VMs the topology has', () => {
    const text = `${HEAD}tasks:
  - id: t
    text: t
    check:
      - { type: event, kind: dpu.failed, node: [esx-02, esx-2] }
      - { type: threshold, measure: { name: switchover, vm: web01 }, max: 1s }
      - { type: threshold, measure: { name: detection, host: dpu-02a }, max: 1s }
      - { type: event, kind: input.note, node: controller }
`;
    expect(problems(text)).toEqual([
      'lab.yaml:7:57: tasks[0].check[0].node[1]: no node "esx-2" in topology "default-lab" (did you mean "esx-02"?)',
      'lab.yaml:8:61: tasks[0].check[1].measure.vm: no VM "web01" in topology "default-lab" (did you mean "web-01"?)',
      'lab.yaml:9:62: tasks[0].check[2].measure.host: no host "dpu-02a" in topology "default-lab"',
    ]);
  });

  test('an embedded topology is checked by the topology loader and its problems located in the lab file', () => {
    const text = `${HEAD}topology:
  name: tiny
  hosts:
    - id: h1
      vms:
        - { id: v1, vnics: [{ segment: nowhere, ipv4: 10.0.0.1/24 }] }
${TASK}`;
    const lines = problems(text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^lab\.yaml:8:40: topology\.hosts\[0\]\.vms\[0\]\.vnics\[0\]\.segment: /);
  });

  test('an embedded scenario is checked against the topology, its problems located in the lab file', () => {
    const text = `${HEAD}scenario:
  end: 2s
  steps:
    - { at: 1s, action: kill, node: dpu-09 }
solution:
  end: 3s
  steps:
    - { at: 4s, action: note, text: late }
${TASK}`;
    expect(problems(text)).toEqual([
      'lab.yaml:6:37: scenario.steps[0].node: no node "dpu-09" in topology "default-lab"',
      'lab.yaml:10:13: solution.steps[0].at: 4 s is after the end of the run (end: 3 s)',
    ]);
  });

  test('parts named by file are read through the reader, relative to the lab file, and their own errors name them', () => {
    const files: Record<string, string> = {
      'start.yaml': 'end: 2s\nsteps:\n  - { at: 1s, action: note, text: hi }\n',
      'bad-start.yaml': 'end: 2s\nsteps:\n  - { at: 1s, action: kil, node: dpu-01a }\n',
      'bad-topology.yaml': 'name: x\nhosts: 3\n',
    };
    const readFile = (path: string): { text: string; file: string } => {
      const text = files[path];
      if (text === undefined) throw new Error('ENOENT');
      return { text, file: `labs/${path}` };
    };
    const lab = loadLab(`${HEAD}scenario: start.yaml\n${TASK}`, 'labs/l.yaml', { readFile });
    expect(lab.start.source.file).toBe('labs/start.yaml');
    expect(lab.start.scenario.steps).toHaveLength(1);

    expect(problems(`${HEAD}scenario: missing.yaml\n${TASK}`, { readFile })).toEqual(['lab.yaml:3:11: scenario: cannot read missing.yaml: ENOENT']);
    expect(problems(`${HEAD}scenario: start.yaml\n${TASK}`)).toEqual(['lab.yaml:3:11: scenario: cannot read start.yaml: this lab can only embed its scenario as a mapping here']);
    expect(() => loadLab(`${HEAD}scenario: bad-start.yaml\n${TASK}`, 'lab.yaml', { readFile })).toThrow(ScenarioError);
    expect(() => loadLab(`${HEAD}scenario: bad-start.yaml\n${TASK}`, 'lab.yaml', { readFile })).toThrow(/labs\/bad-start\.yaml:3:23: steps\[0\]\.action: unknown action "kil"/);
    expect(() => loadLab(`${HEAD}topology: bad-topology.yaml\n${TASK}`, 'lab.yaml', { readFile })).toThrow(TopologyError);
  });

  test('YAML syntax errors are located', () => {
    expect(problems('title: [unclosed\n')[0]).toMatch(/^lab\.yaml:\d+:\d+: YAML syntax: /);
  });
});

describe('combineScenarios', () => {
  test('adds the steps to the start in time order, numbers them on, and runs to the later end', () => {
    const lab = loadLab(`${HEAD}scenario:\n  end: 2s\n  steps:\n    - { at: 1s, action: note, text: start }\n${TASK}`, 'l.yaml');
    const added = loadLab(`${HEAD}scenario:\n  name: mine\n  end: 3s\n  steps:\n    - { at: 1s, action: note, text: mine }\n    - { at: 500ms, action: note, text: early }\n${TASK}`, 'm.yaml').start;
    const combined = combineScenarios(lab, added, 'student scenario');
    expect(combined.scenario.name).toBe('l+mine');
    expect(combined.scenario.endNs).toBe(3e9);
    expect(combined.scenario.steps.map((s) => [s.atNs, s.index, s.action === 'note' ? s.text : ''])).toEqual([
      [5e8, 2, 'early'],
      [1e9, 0, 'start'],
      [1e9, 1, 'mine'],
    ]);
    expect(combined.text).toContain('\n---\n');
    expect(combineScenarios(lab, null).scenario).toMatchObject({ name: 'l', endNs: 2e9 });
  });
});
