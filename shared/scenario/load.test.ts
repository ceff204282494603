import { describe, expect, test } from 'vitest';
import { loadDefaultLab } from '../topology/load.js';
import { DEFAULT_SCENARIO_FILE, DEFAULT_SCENARIO_YAML, ScenarioError, loadScenario, validateScenarioAgainstTopology } from './load.js';
import type { Scenario } from './types.js';
import { dfwRuleSchema } from '../actions/dfw-rule.js';

const lab = loadDefaultLab();

function scenarioError(run: () => unknown): ScenarioError {
  try {
    run();
  } catch (error) {
    if (error instanceof ScenarioError) return error;
    throw error;
  }
  throw new Error('expected a ScenarioError');
}

function problemLines(text: string, file = 'run.yaml'): string[] {
  return scenarioError(() => loadScenario(text, file)).message.split('\n').slice(1);
}

const FAILOVER = `name: failover
end: 3s
steps:
  - { at: 2s, action: kill, node: dpu-02a }
  - { at: 1s, action: link, wire: up-01a-a, state: down }
  - { at: 2s, action: note, text: "after the kill, same time" }
  - { at: 1.5s, action: link, wire: up-01a-a, state: up }
`;

describe('loadScenario', () => {
  test('the default scenario loads and fits the default lab', () => {
    const scenario = loadScenario(DEFAULT_SCENARIO_YAML, DEFAULT_SCENARIO_FILE);
    expect(scenario.name).toBe('default');
    expect(scenario.endNs).toBe(4e9);
    // Traffic on the overlay, on one host and across segments, rules that allow two services and
    // reject one, and a vMotion of web-01 with a new connection after it.
    const flows = scenario.steps.flatMap((s) => (s.action === 'flow.start' ? [s.flow] : []));
    expect(flows.map((f) => [f.id, f.from, f.to])).toEqual([
      ['web-tcp', 'web-01', 'web-02'],
      ['web-ping', 'web-01', 'app-01'],
      ['app-db-udp', 'app-01', 'db-01'],
      ['web-app-tcp', 'web-02', 'app-01'],
      ['web-db-blocked', 'web-02', 'db-01'],
      ['web01-db-after-move', 'web-01', 'db-01'],
    ]);
    expect(scenario.steps.filter((s) => s.action === 'dfw.rule.add').map((s) => (s.action === 'dfw.rule.add' ? s.rule.action : null))).toEqual(['reject', 'allow', 'allow']);
    expect(scenario.steps.filter((s) => s.action === 'vmotion').map((s) => (s.action === 'vmotion' ? [s.vm, s.to] : null))).toEqual([['web-01', 'esx-02']]);
    expect(() => validateScenarioAgainstTopology(scenario, lab)).not.toThrow();
  });

  test('an impair step loads with durations in ns, and names a bad probability and an unknown wire', () => {
    const scenario = loadScenario(`end: 2s\nsteps:\n  - { at: 1s, action: impair, wire: up-01a-a, loss: 0.2, jitter: 50us, duration: 300ms }\n`, 'burst.yaml', { topology: lab });
    expect(scenario.steps).toEqual([{ atNs: 1e9, index: 0, action: 'impair', wire: 'up-01a-a', loss: 0.2, jitter: 50_000, duration: 300_000_000 }]);
    expect(problemLines(`end: 2s\nsteps:\n  - { at: 1s, action: impair, wire: up-01a-a, loss: 1.5, duration: 1s }\n`)).toEqual(['run.yaml:3:53: steps[0].loss: must be at most 1']);
    const unknown = scenarioError(() => loadScenario(`end: 2s\nsteps:\n  - { at: 1s, action: impair, wire: up-9, duration: 1s }\n`, 'w.yaml', { topology: lab }));
    expect(unknown.message).toContain('w.yaml:3:37: steps[0].wire: no wire "up-9" in topology "default-lab"');
  });

  test('sorts steps by time, keeping file order among equal times, and keeps each step\'s file index', () => {
    const scenario = loadScenario(FAILOVER, 'failover.yaml');
    expect(scenario.steps).toEqual([
      { atNs: 1e9, index: 1, action: 'link', wire: 'up-01a-a', state: 'down' },
      { atNs: 1.5e9, index: 3, action: 'link', wire: 'up-01a-a', state: 'up' },
      { atNs: 2e9, index: 0, action: 'kill', node: 'dpu-02a' },
      { atNs: 2e9, index: 2, action: 'note', text: 'after the kill, same time' },
    ]);
  });

  test('is plain JSON data', () => {
    const scenario = loadScenario(FAILOVER, 'failover.yaml');
    expect(JSON.parse(JSON.stringify(scenario))).toEqual(scenario);
  });

  test('defaults the name to the file name and the steps to none', () => {
    expect(loadScenario('end: 3000000000ns\n', 'runs/quiet.yml')).toEqual({ name: 'quiet', endNs: 3e9, steps: [] });
  });

  test('an unknown action names the line, the field and the actions there are', () => {
    const error = scenarioError(() => loadScenario(FAILOVER.replace('action: note', 'action: nte'), 'failover.yaml'));
    expect(error.code).toBe('invalid-scenario');
    expect(error.file).toBe('failover.yaml');
    expect(error.message).toBe(
      'Invalid scenario in failover.yaml (1 problem)\n' +
        'failover.yaml:6:23: steps[2].action: unknown action "nte" (actions: dfw.rule.add, dfw.rule.remove, dpu.failover, flow.start, flow.stop, impair, kill, link, note, restart, traceflow, vm.reserve, vmotion, vnic.mode) (did you mean "note"?)',
    );
  });

  test('bad durations, bad states, unknown keys and late steps are all reported with their lines', () => {
    const text = `end: 3s
steps:
  - { at: soon, action: note, text: x }
  - { at: 1s, action: link, wire: up-01a-a, state: sideways }
  - { at: 1s, action: kill, node: dpu-02a, signal: 9 }
  - { at: 4s, action: note, text: too late }
  - { at: 1s, text: no action }
`;
    expect(problemLines(text)).toEqual([
      'run.yaml:3:11: steps[0].at: invalid duration "soon": expected a number and a unit (ns, us, ms, s, m, h), e.g. 5us, 1.5s or 1m30s',
      'run.yaml:4:52: steps[1].state: expected one of "up", "down", got "sideways"',
      'run.yaml:5:44: steps[2].signal: unknown key (known keys: at, action, node)',
      'run.yaml:6:11: steps[3].at: 4 s is after the end of the run (end: 3 s)',
      'run.yaml:7:5: steps[4].action: required (one of dfw.rule.add, dfw.rule.remove, dpu.failover, flow.start, flow.stop, impair, kill, link, note, restart, traceflow, vm.reserve, vmotion, vnic.mode)',
    ]);
  });

  test('a missing end is reported, as is a top-level typo', () => {
    expect(problemLines('name: x\nstep: []\n')).toEqual(['run.yaml:1:1: end: required', 'run.yaml:2:1: step: unknown key (did you mean "steps"?)']);
  });

  test('YAML syntax errors are reported with their line', () => {
    const error = scenarioError(() => loadScenario('end: 3s\nsteps:\n  - { at: 1s\n', 'run.yaml'));
    expect(error.problems[0]?.message).toMatch(/^YAML syntax: /);
    expect(error.problems[0]?.line).toBeGreaterThanOrEqual(3);
  });

  test('checks references against a topology when given one', () => {
    expect(() => loadScenario(FAILOVER, 'failover.yaml', { topology: lab })).not.toThrow();
    const error = scenarioError(() => loadScenario(FAILOVER.replace('node: dpu-02a', 'node: dpu-2a'), 'failover.yaml', { topology: lab }));
    expect(error.message.split('\n').slice(1)).toEqual([
      'failover.yaml:4:35: steps[0].node: no node "dpu-2a" in topology "default-lab" (did you mean "dpu-02a"?)',
    ]);
  });
});

describe('validateScenarioAgainstTopology', () => {
  const broken = FAILOVER.replace('node: dpu-02a', 'node: dpu-09z').replace('wire: up-01a-a, state: down', 'wire: up-01x-a, state: down');

  test('reports every unknown wire and node at its line, in file order', () => {
    const scenario = loadScenario(broken, 'failover.yaml');
    const error = scenarioError(() => validateScenarioAgainstTopology(scenario, lab, 'failover.yaml'));
    expect(error.problems).toEqual([
      { path: 'steps[0].node', line: 4, column: 35, message: 'no node "dpu-09z" in topology "default-lab"' },
      { path: 'steps[1].wire', line: 5, column: 35, message: 'no wire "up-01x-a" in topology "default-lab" (did you mean "up-01a-a"?)' },
    ]);
  });

  test('still locates steps after the scenario is copied, and defaults the file name', () => {
    const scenario: Scenario = { ...loadScenario(broken, 'failover.yaml'), endNs: 10e9 };
    const error = scenarioError(() => validateScenarioAgainstTopology(scenario, lab));
    expect(error.file).toBe('failover.yaml');
    expect(error.problems.map((p) => `${p.line}:${p.column}`)).toEqual(['4:35', '5:35']);
  });

  test('reports steps that did not come from a file without a line', () => {
    const scenario: Scenario = { name: 'api', endNs: 1e9, steps: [{ atNs: 0, index: 0, action: 'kill', node: 'nope' }] };
    const error = scenarioError(() => validateScenarioAgainstTopology(scenario, lab, 'api'));
    expect(error.message).toBe('Invalid scenario in api (1 problem)\napi: steps[0].node: no node "nope" in topology "default-lab"');
  });
});

describe('scenario flow, firewall and vNIC steps', () => {
  const lab = loadDefaultLab();
  const text = [
    'name: traffic',
    'end: 2s',
    'steps:',
    '  - { at: 100ms, action: flow.start, flow: { id: f1, kind: tcp, from: web-01, to: web-02, ratePps: 50 } }',
    '  - { at: 200ms, action: dfw.rule.add, rule: { id: no-ssh, action: reject, destinations: [app-01], service: { protocol: tcp, destinationPorts: [22, "8000-8080"] } } }',
    '  - { at: 300ms, action: vnic.mode, vnic: web-01.eth0, mode: mux }',
    '  - { at: 1s, action: flow.stop, flow: f1 }',
    '  - { at: 1s, action: dfw.rule.remove, rule: no-ssh }',
  ].join('\n');

  test('loadScenario fills DFW rule defaults and turns ports into ranges', () => {
    const scenario = loadScenario(text, 'traffic.yaml', { topology: lab });
    const add = scenario.steps.find((s) => s.action === 'dfw.rule.add');
    expect(add).toMatchObject({
      rule: { id: 'no-ssh', priority: 1000, appliedTo: ['any'], sources: ['any'], direction: 'in-out', service: { protocol: 'tcp', destinationPorts: [{ from: 22, to: 22 }, { from: 8000, to: 8080 }], sourcePorts: [], icmpType: null } },
    });
  });

  test('dfwRuleSchema accepts its own output again, as a replay parses recorded inputs', () => {
    const scenario = loadScenario(text, 'traffic.yaml', { topology: lab });
    const add = scenario.steps.find((s) => s.action === 'dfw.rule.add')!;
    const again = dfwRuleSchema.parse(JSON.parse(JSON.stringify((add as { rule: unknown }).rule)));
    expect(again).toEqual((add as { rule: unknown }).rule);
  });

  test('validateScenarioAgainstTopology names an unknown VM, vNIC or rule endpoint with its line', () => {
    const bad = text.replace('from: web-01', 'from: web-09').replace('vnic: web-01.eth0', 'vnic: web-01.eth7').replace('destinations: [app-01]', 'destinations: [app-99]');
    expect(() => loadScenario(bad, 'bad.yaml', { topology: lab })).toThrow(
      /bad\.yaml:4:\d+: steps\[0\]\.flow\.from: no VM "web-09"[\s\S]*bad\.yaml:5:\d+: steps\[1\]\.rule\.destinations\[0\]: no VM or vNIC "app-99"[\s\S]*bad\.yaml:6:\d+: steps\[2\]\.vnic: no vnic "web-01.eth7"/,
    );
  });

  test('a rule endpoint may be an address or CIDR instead of a VM', () => {
    const cidr = text.replace('destinations: [app-01]', 'destinations: [10.0.2.0/24, "fd00:2::/64", any]');
    expect(() => loadScenario(cidr, 'cidr.yaml', { topology: lab })).not.toThrow();
  });
});

describe('validateScenarioAgainstTopology across steps', () => {
  const check = (text: string, after?: Scenario): string[] => {
    const scenario = loadScenario(text, 'run.yaml');
    try {
      validateScenarioAgainstTopology(scenario, lab, 'run.yaml', after ? { after } : {});
      return [];
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      return error.message.split('\n').slice(1);
    }
  };

  test('a flow stopped or a rule removed must have been started or added earlier', () => {
    const lines = check(`end: 2s
steps:
  - { at: 100ms, action: flow.stop, flow: t1 }
  - { at: 200ms, action: flow.start, flow: { id: t1, kind: ping, from: web-01, to: web-02 } }
  - { at: 300ms, action: flow.stop, flow: t1 }
  - { at: 400ms, action: flow.stop, flow: t2 }
  - { at: 500ms, action: dfw.rule.remove, rule: no-ping }
  - { at: 600ms, action: dfw.rule.add, rule: { id: no-ping, destinations: [web-02], service: { protocol: icmp }, action: drop } }
  - { at: 700ms, action: dfw.rule.remove, rule: no-pin }
`);
    expect(lines).toEqual([
      'run.yaml:3:43: steps[0].flow: no flow "t1" is started before this step (a flow.start with id t1 must come earlier)',
      'run.yaml:6:43: steps[3].flow: no flow "t2" is started before this step (a flow.start with id t2 must come earlier)',
      'run.yaml:7:49: steps[4].rule: no rule "no-ping" is added before this step (a dfw.rule.add with id no-ping must come earlier)',
      'run.yaml:9:49: steps[6].rule: no rule "no-pin" is added before this step (a dfw.rule.add with id no-pin must come earlier) (did you mean "no-ping"?)',
    ]);
  });

  test('a scenario added to another may stop what the other started before it, not after', () => {
    const start = loadScenario('end: 2s\nsteps:\n  - { at: 1s, action: flow.start, flow: { id: lab-flow, kind: ping, from: web-01, to: web-02 } }\n', 'start.yaml');
    expect(check('end: 2s\nsteps:\n  - { at: 1.5s, action: flow.stop, flow: lab-flow }\n', start)).toEqual([]);
    expect(check('end: 2s\nsteps:\n  - { at: 0.5s, action: flow.stop, flow: lab-flow }\n', start)).toHaveLength(1);
  });

  test('a vMotion of a VM to the host it runs on is refused at load', () => {
    expect(check('end: 2s\nsteps:\n  - { at: 1s, action: vmotion, vm: web-01, to: esx-01 }\n')).toEqual([
      'run.yaml:3:48: steps[0].to: VM web-01 already runs on esx-01: a vMotion must go to another host',
    ]);
    // After a first vMotion, where the VM is depends on how it went: a move back is accepted.
    expect(check('end: 2s\nsteps:\n  - { at: 1s, action: vmotion, vm: web-01, to: esx-02 }\n  - { at: 1.5s, action: vmotion, vm: web-01, to: esx-01 }\n')).toEqual([]);
  });
});
