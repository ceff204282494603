import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_LABS } from '../shared/lab/builtin/index.js';
import { loadLab } from '../shared/lab/load.js';
import { isActionName } from '../shared/actions/schema.js';
import { dpulab, lastJson, nodeProcesses, tempDir } from './support/cli.js';

interface TaskJson {
  id: string;
  status: 'passed' | 'failed' | 'pending';
  reason: string | null;
  checks: Array<{ type: string; status: string; reason: string | null; observed: string | null }>;
}

interface GradeJson {
  lab: string;
  db: string;
  ok: boolean;
  final: boolean;
  passed: number;
  total: number;
  tasks: TaskJson[];
  warnings: string[];
}

interface LabRunJson {
  db: string;
  status: string;
  lab: string;
  scenario: string;
  grade: GradeJson;
}

/** Whether the actions a lab's solution takes exist in this build (vMotion is built alongside). */
function solutionRunnable(yaml: string): boolean {
  const actions = [...yaml.matchAll(/action: ([a-z.]+)/g)].map((m) => m[1]!);
  return actions.every((a) => isActionName(a) || ['allow', 'drop', 'reject'].includes(a));
}
const vmotionAvailable = isActionName('vmotion');

describe('built-in labs', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  for (const builtin of BUILTIN_LABS) {
    const lab = loadLab(builtin.yaml, builtin.file);
    const needsVmotion = builtin.yaml.includes('action: vmotion');

    it.skipIf((needsVmotion && !vmotionAvailable) || !solutionRunnable(builtin.yaml))(`lab ${builtin.name}: the reference solution passes every task, and lab check agrees`, () => {
      const db = join(tmp.dir, `${builtin.name}-solution.db`);
      const result = dpulab(['lab', 'run', builtin.name, '--solution', '--in-process', '--json', '--db', db]);
      expect(result.code, result.stderr).toBe(0);
      const run = lastJson<LabRunJson>(result);
      expect(run.status).toBe('completed');
      const failing = run.grade.tasks.filter((t) => t.status !== 'passed').map((t) => `${t.id}: ${t.reason}`);
      expect(failing).toEqual([]);
      expect(run.grade).toMatchObject({ ok: true, final: true, passed: lab.tasks.length, total: lab.tasks.length, warnings: [] });

      const check = dpulab(['lab', 'check', builtin.name, db, '--json']);
      expect(check.code, check.stderr).toBe(0);
      expect(lastJson<GradeJson>(check).tasks.map((t) => t.status)).toEqual(lab.tasks.map(() => 'passed'));
    });

    it(`lab ${builtin.name}: a run with no user actions fails every task, each with the advice of the check that failed`, () => {
      const db = join(tmp.dir, `${builtin.name}-nothing.db`);
      const result = dpulab(['lab', 'run', builtin.name, '--in-process', '--json', '--db', db]);
      expect(result.code, result.stderr).toBe(0);
      const grade = lastJson<LabRunJson>(result).grade;
      expect(grade.passed).toBe(0);
      for (const task of grade.tasks) {
        const spec = lab.tasks.find((t) => t.id === task.id)!;
        const failed = task.checks.findIndex((c) => c.status === 'failed');
        const fix = spec.checks[failed]!.fix;
        expect(task.status, task.id).toBe('failed');
        // What is missing, then what to do about it, in the lab author's words.
        expect(fix, `${builtin.name} ${task.id} has advice`).not.toBeNull();
        expect(task.reason, task.id).toMatch(/^[A-Z]/);
        expect(task.reason!.endsWith(`: ${fix}`), `${task.id}: ${task.reason}`).toBe(true);
      }
      const check = dpulab(['lab', 'check', builtin.name, db]);
      expect(check.code).toBe(1);
      expect(check.stdout).toContain(`0 of ${lab.tasks.length} tasks passed`);
      expect(check.stdout).toMatch(/FAILED/);
    });
  }
});

describe('dpulab lab', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('lab list names every built-in lab with its title', () => {
    const result = dpulab(['lab', 'list', '--json']);
    expect(result.code).toBe(0);
    const { labs } = lastJson<{ labs: Array<{ name: string; title: string; tasks: number }> }>(result);
    expect(labs.map((l) => l.name)).toEqual(['dpu-offload', 'passthrough-vmotion', 'microsegmentation', 'kill-a-dpu', 'passthrough-inactive']);
    expect(labs.every((l) => l.title.length > 0 && l.tasks > 0)).toBe(true);
  });

  it('lab show prints a lab file that loads as it is', () => {
    const result = dpulab(['lab', 'show', 'kill-a-dpu']);
    expect(result.code).toBe(0);
    writeFileSync(join(tmp.dir, 'copy.yaml'), result.stdout);
    expect(loadLab(result.stdout, 'copy.yaml').tasks.map((t) => t.id)).toContain('detection');
  });

  it("lab run --scenario adds a student's steps to the start: a kill without a restart passes the failover tasks only", () => {
    const scenario = join(tmp.dir, 'student.yaml');
    writeFileSync(scenario, 'name: student\nend: 4s\nsteps:\n  - { at: 1s, action: kill, node: dpu-02a }\n');
    const db = join(tmp.dir, 'student.db');
    const result = dpulab(['lab', 'run', 'kill-a-dpu', '--scenario', scenario, '--in-process', '--json', '--db', db]);
    expect(result.code, result.stderr).toBe(0);
    const run = lastJson<LabRunJson>(result);
    expect(run.scenario).toBe('kill-a-dpu+student');
    const status = Object.fromEntries(run.grade.tasks.map((t) => [t.id, t.status]));
    expect(status).toEqual({ kill: 'passed', detection: 'passed', failover: 'passed', 'streams-survive': 'passed', rejoin: 'failed', 'in-sync': 'failed' });
    expect(run.grade.tasks.find((t) => t.id === 'rejoin')!.reason).toBe(
      'No dpu.role at esx-02 with dpu = dpu-02a and role = standby and reason = rejoined (nearest: at 1.301 s on esx-02, reason = crash, role = standby): restart dpu-02a once esx-02 has failed over to dpu-02b',
    );
    // The starting scenario's steps and the student's are all recorded inputs, numbered apart.
    const inputs = dpulab(['log', db, '--kind', 'input.*', '--json']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; payload: { step: number } });
    expect(inputs.map((i) => [i.kind, i.payload.step])).toEqual([
      ['input.flow.start', 0],
      ['input.flow.start', 1],
      ['input.kill', 4],
      ['input.flow.stop', 2],
      ['input.flow.stop', 3],
    ]);
    // A lab run is an ordinary run: it re-executes exactly from its recorded inputs.
    expect(dpulab(['replay', db, '--verify', '--in-process']).code).toBe(0);
  });

  it('lab check --json lists every task with pass or fail and why, and warns about a run of another lab', () => {
    const db = join(tmp.dir, 'other.db');
    expect(dpulab(['run', '--in-process', '--until', '1s', '--db', db]).code).toBe(0);
    const result = dpulab(['lab', 'check', 'passthrough-inactive', db, '--json']);
    expect(result.code).toBe(1);
    const grade = lastJson<GradeJson>(result);
    expect(grade).toMatchObject({ lab: 'passthrough-inactive', ok: false, final: true, total: 3 });
    expect(grade.warnings).toEqual([expect.stringContaining('was not started from lab passthrough-inactive')]);
    expect(grade.tasks.map((t) => [t.id, t.status])).toEqual([
      ['diagnose', 'failed'],
      ['fix', 'failed'],
      ['seamless', 'failed'],
    ]);
    expect(grade.tasks[1]!.reason).toContain('nearest: at 0 s on esx-02, active = emulated, reason = insufficient-memory-reservation');
  });

  it('a lab file from disk runs with a topology and scenarios named relative to it', () => {
    const dir = join(tmp.dir, 'course');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'start.yaml'), 'end: 1s\nsteps:\n  - { at: 100ms, action: flow.start, flow: { id: p, kind: ping, from: web-01, to: web-02, ratePps: 20 } }\n');
    writeFileSync(join(dir, 'solution.yaml'), 'end: 1s\nsteps:\n  - { at: 300ms, action: note, text: done }\n');
    writeFileSync(
      join(dir, 'mine.yaml'),
      `title: Mine
introduction: "A **small** lab."
scenario: start.yaml
solution: solution.yaml
tasks:
  - id: note
    text: Leave a note.
    hints: [Use a note step.]
    check: { type: event, kind: input.note, fix: add a note step }
  - id: pings
    text: Pings arrive.
    check: { type: threshold, measure: { name: flow-loss, flow: p }, max: 1, fix: keep the ping running }
`,
    );
    const result = dpulab(['lab', 'run', join(dir, 'mine.yaml'), '--solution', '--in-process', '--json', '--db', join(tmp.dir, 'mine.db')]);
    expect(result.code, result.stderr).toBe(0);
    expect(lastJson<LabRunJson>(result).grade).toMatchObject({ lab: 'mine', ok: true });
  });

  it('a malformed lab file is refused with exit code 2, naming file, line and field', () => {
    const file = join(tmp.dir, 'broken.yaml');
    writeFileSync(file, 'title: Broken\nintroduction: x\ntasks:\n  - id: a\n    text: t\n    check: { type: threshold, measure: { name: cores, node: esx-01, mode: turbo }, max: 1 }\n');
    const result = dpulab(['lab', 'check', file, join(tmp.dir, 'none.db')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${file}:6:75: tasks[0].check.measure.mode: expected one of "uptv2", "mux", "emulated", "no-dpu", "none", got "turbo"`);
    expect(dpulab(['lab', 'run', 'no-such-lab']).stderr).toContain('No lab no-such-lab: not a built-in lab, and no such file');
    expect(dpulab(['lab', 'run', 'kill-a-dpu', '--solution', '--scenario', file]).code).toBe(2);
  });

  it('leaves no node process behind', () => {
    expect(nodeProcesses()).toEqual([]);
  });
});
