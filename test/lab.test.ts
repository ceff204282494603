import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_LABS } from '../shared/lab/builtin/index.js';
import { loadLab } from '../shared/lab/load.js';
import { isActionName } from '../shared/actions/schema.js';
import { dpulab, lastJson, nodeProcesses, ROOT, tempDir } from './support/cli.js';

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
      // A lab run whose tasks fail exits 1, as lab check does.
      expect(result.code, result.stderr).toBe(1);
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

  it("lab run --scenario adds a student's steps to the start: a kill alone passes the failover tasks only", () => {
    const scenario = join(tmp.dir, 'student.yaml');
    writeFileSync(scenario, 'name: student\nend: 4s\nsteps:\n  - { at: 1s, action: kill, node: dpu-02a }\n');
    const db = join(tmp.dir, 'student.db');
    const result = dpulab(['lab', 'run', 'kill-a-dpu', '--scenario', scenario, '--in-process', '--json', '--db', db]);
    expect(result.code, result.stderr).toBe(1);
    const run = lastJson<LabRunJson>(result);
    expect(run.scenario).toBe('kill-a-dpu+student');
    const status = Object.fromEntries(run.grade.tasks.map((t) => [t.id, t.status]));
    // Detection follows from the kill, but stating it is the student's own step: it fails without a note.
    expect(status).toEqual({ kill: 'passed', detection: 'failed', failover: 'passed', 'streams-survive': 'passed', rejoin: 'failed', 'in-sync': 'failed' });
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

  it('lab check --json lists every task with pass or fail and why', () => {
    const db = join(tmp.dir, 'inactive.db');
    expect(dpulab(['lab', 'run', 'passthrough-inactive', '--in-process', '--db', db]).code).toBe(1);
    const result = dpulab(['lab', 'check', 'passthrough-inactive', db, '--json']);
    expect(result.code).toBe(1);
    const grade = lastJson<GradeJson>(result);
    expect(grade).toMatchObject({ lab: 'passthrough-inactive', ok: false, final: true, total: 3, warnings: [] });
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

interface RefusalJson {
  lab: string;
  ok: false;
  refused: true;
  problems: string[];
}

/** A copy of a log with `change` applied to its database, as a forger would with any SQLite tool. */
function tampered(from: string, to: string, change: (db: Database.Database) => void): string {
  copyFileSync(from, to);
  const db = new Database(to);
  try {
    change(db);
  } finally {
    db.close();
  }
  return to;
}

describe('lab check binds a grade to the log', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());
  const solution = join(tmp.dir, 'solution.db');
  const start = join(tmp.dir, 'start.db');
  let solutionFingerprint = '';

  beforeAll(() => {
    const run = dpulab(['lab', 'run', 'kill-a-dpu', '--solution', '--in-process', '--json', '--db', solution]);
    expect(run.code, run.stderr).toBe(0);
    solutionFingerprint = lastJson<{ fingerprint: string }>(run).fingerprint;
    // Without the student's steps every task fails, and lab run says so with exit 1.
    expect(dpulab(['lab', 'run', 'kill-a-dpu', '--in-process', '--db', start]).code).toBe(1);
  });

  it("a grade carries the log's fingerprint and seed, the lab's id, version and digest, and the dpulab versions", () => {
    const result = dpulab(['lab', 'check', 'kill-a-dpu', solution, '--json']);
    expect(result.code, result.stderr).toBe(0);
    const grade = lastJson<GradeJson & Record<string, unknown>>(result);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(grade).toMatchObject({ lab: 'kill-a-dpu', ok: true, fingerprint: solutionFingerprint, seed: 1, labVersion: '1', recordedBy: version, gradedBy: version });
    expect(grade.labSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(dpulab(['lab', 'check', 'kill-a-dpu', solution]).stdout).toContain(`fingerprint ${solutionFingerprint}, seed 1, lab version 1`);
  });

  it('a log with one frame event altered is refused with exit 1, naming the checkpoint it breaks', () => {
    const altered = tampered(solution, join(tmp.dir, 'altered.db'), (db) => {
      const row = db.prepare("SELECT seq, payload FROM events WHERE kind = 'frame.tx' ORDER BY seq LIMIT 1 OFFSET 500").get() as { seq: number; payload: Buffer };
      const payload = Buffer.from(row.payload);
      payload[payload.length - 1]! ^= 1; // one bit of the frame's bytes
      db.prepare('UPDATE events SET payload = ? WHERE seq = ?').run(payload, row.seq);
    });
    const result = dpulab(['lab', 'check', 'kill-a-dpu', altered, '--json']);
    expect(result.code).toBe(1);
    const refusal = lastJson<RefusalJson>(result);
    expect(refusal).toMatchObject({ lab: 'kill-a-dpu', ok: false, refused: true });
    expect(refusal.problems).toEqual([expect.stringMatching(/^Its events do not match its checkpoints and fingerprint, so it was altered after it was recorded \(Events \[0, \d+\) do not match their checkpoint/)]);
    const readable = dpulab(['lab', 'check', 'kill-a-dpu', altered]);
    expect(readable.code).toBe(1);
    expect(readable.stdout).toContain('REFUSED, not graded');
    expect(readable.stdout).not.toContain('tasks passed');
  });

  it('events appended from another run are refused', () => {
    // The solution's failover and rejoin events copied after the end of a run where nothing was done.
    const forged = tampered(start, join(tmp.dir, 'appended.db'), (db) => {
      db.exec(`ATTACH '${solution}' AS other`);
      const next = (db.prepare('SELECT max(seq) + 1 AS n FROM events').get() as { n: number }).n;
      const last = (db.prepare('SELECT max(vtime) AS t FROM events').get() as { t: number }).t;
      db.prepare(
        `INSERT INTO events (seq, vtime, node, kind, cause, payload, volatile)
         SELECT ? + row_number() OVER (ORDER BY seq) - 1, ? + 1, node, kind, NULL, payload, volatile FROM other.events
         WHERE kind IN ('dpu.failed', 'dpu.failover.done', 'dpu.role', 'ha.sync.bulk.end', 'input.note')`,
      ).run(next, last);
      db.prepare('UPDATE runs SET events = (SELECT count(*) FROM events)').run();
    });
    const before = dpulab(['lab', 'check', 'kill-a-dpu', start, '--json']);
    expect(lastJson<GradeJson>(before).passed).toBe(0);
    const result = dpulab(['lab', 'check', 'kill-a-dpu', forged, '--json']);
    expect(result.code).toBe(1);
    expect(lastJson<RefusalJson>(result).problems.join(' ')).toContain('The recomputed fingerprint differs from the run fingerprint');
  });

  it("a plain dpulab run log is refused for a lab: not the lab's starting scenario", () => {
    const plain = join(tmp.dir, 'plain.db');
    expect(dpulab(['run', '--in-process', '--until', '1s', '--db', plain]).code).toBe(0);
    const result = dpulab(['lab', 'check', 'kill-a-dpu', plain, '--json']);
    expect(result.code).toBe(1);
    expect(lastJson<RefusalJson>(result).problems).toEqual([
      "It was not started from lab kill-a-dpu's starting scenario (it ran scenario default): 4 of its 4 starting steps are missing or changed, the first flow.start at 300 ms (step 0)",
      "It ended at 1 s, before the lab's starting scenario ends (4 s)",
    ]);
  });

  it("a run of another lab is refused: a starting step of this lab's is missing", () => {
    const other = join(tmp.dir, 'other-lab.db');
    expect(dpulab(['lab', 'run', 'passthrough-inactive', '--in-process', '--db', other]).code).toBe(1);
    const result = dpulab(['lab', 'check', 'kill-a-dpu', other, '--json']);
    expect(result.code).toBe(1);
    expect(lastJson<RefusalJson>(result).problems[0]).toMatch(/^It was not started from lab kill-a-dpu's starting scenario/);
  });

  it('lab check --all --csv grades a directory of submissions, one row each, refusals with their reason', () => {
    const dir = join(tmp.dir, 'class');
    mkdirSync(dir);
    copyFileSync(solution, join(dir, 'alice.db'));
    copyFileSync(start, join(dir, 'bob.db'));
    tampered(solution, join(dir, 'carol.db'), (db) => db.prepare("UPDATE events SET node = 'esx-01' WHERE seq = (SELECT min(seq) FROM events WHERE kind = 'dpu.failed')").run());
    writeFileSync(join(dir, 'notes.txt'), 'not a submission');
    const result = dpulab(['lab', 'check', 'kill-a-dpu', '--all', dir, '--csv']);
    expect(result.code, result.stderr).toBe(1); // not every submission passed
    const [header, ...rows] = result.stdout.trim().split('\n').map((line) => line.split(','));
    expect(header!.slice(0, 10)).toEqual(['submission', 'status', 'passed', 'total', 'kill', 'detection', 'failover', 'streams-survive', 'rejoin', 'in-sync']);
    const column = (name: string): number => header!.indexOf(name);
    expect(rows.map((r) => [r[0], r[1], r[2]])).toEqual([
      ['alice.db', 'passed', '6'],
      ['bob.db', 'failed', '0'],
      ['carol.db', 'refused', ''],
    ]);
    expect(rows[0]![column('fingerprint')]).toBe(solutionFingerprint);
    expect(rows[1]![column('kill')]).toBe('failed');
    expect(rows[2]!.slice(column('problems')).join(',')).toContain('altered after it was recorded');

    const json = lastJson<{ submissions: Array<{ db: string; status: string }> }>(dpulab(['lab', 'check', 'kill-a-dpu', '--all', dir, '--json']));
    expect(json.submissions.map((s) => s.status)).toEqual(['passed', 'failed', 'refused']);
    expect(dpulab(['lab', 'check', 'kill-a-dpu', '--all', join(tmp.dir, 'nowhere')]).code).toBe(2);
  });
});
