import { describe, expect, test } from 'vitest';
import { emptyClusterState } from '../state/cluster-state.js';
import { gradeEvents, LabGrader, type LabEvent, type LabGrade } from './grader.js';
import { loadLab } from './load.js';

/** A lab with the given tasks (YAML list items) on the default topology. */
function lab(tasks: string): ReturnType<typeof loadLab> {
  return loadLab(`title: t\nintroduction: i\ntasks:\n${tasks}`, 'lab.yaml');
}

let seq = 0;
/** An event at `ms` virtual milliseconds. */
function ev(ms: number, node: string, kind: string, payload: Record<string, unknown>): LabEvent {
  return { seq: seq++, vtime: ms * 1e6, node, kind, payload };
}

function only(grade: LabGrade): LabGrade['tasks'][number] {
  expect(grade.tasks).toHaveLength(1);
  return grade.tasks[0]!;
}

const VMOTION_DONE = `  - id: migrate
    text: Migrate web-01.
    check:
      type: event
      kind: vmotion.done
      where: { vm: web-01, result: success }
      show: [reason]
      fix: migrate web-01 with a vmotion step
`;

describe('event checks', () => {
  test('an event check fails with no event of the kind at all, saying so and how to fix it', () => {
    const task = only(gradeEvents(lab(VMOTION_DONE), [ev(1, 'esx-01', 'vnic.mode', { vnic: 'web-01.eth0' })]));
    expect(task.status).toBe('failed');
    expect(task.reason).toBe('No vmotion.done with vm = web-01 and result = success (no vmotion.done at all): migrate web-01 with a vmotion step');
  });

  test('an event check fails on a near miss, quoting the fields that differ and the ones to show', () => {
    const events = [
      ev(1, 'esx-01', 'vmotion.done', { vm: 'app-01', result: 'success', reason: null }),
      ev(2, 'esx-01', 'vmotion.done', { vm: 'web-01', result: 'aborted', reason: 'no free VF' }),
    ];
    const task = only(gradeEvents(lab(VMOTION_DONE), events));
    expect(task.status).toBe('failed');
    // The aborted vMotion of web-01 is nearer than the successful one of another VM.
    expect(task.reason).toBe('No vmotion.done with vm = web-01 and result = success (nearest: at 2 ms on esx-01, result = aborted, reason = no free VF): migrate web-01 with a vmotion step');
  });

  test('an event check passes on a match and says where and when', () => {
    const task = only(gradeEvents(lab(VMOTION_DONE), [ev(1500, 'esx-02', 'vmotion.done', { vm: 'web-01', result: 'success' })]));
    expect(task).toMatchObject({ status: 'passed', reason: null });
    expect(task.checks[0]!.observed).toBe('vmotion.done with vm = web-01 and result = success at 1.5 s on esx-02');
  });

  test('an event check fails when too few or too many events match, with the counts', () => {
    const counted = lab(`  - id: pings
    text: t
    check: { type: event, kind: flow.start, node: esx-01, atLeast: 2, atMost: 3, fix: start more flows }
`);
    const start = (ms: number): LabEvent => ev(ms, 'esx-01', 'flow.start', {});
    expect(only(gradeEvents(counted, [start(1)])).reason).toBe('Only 1 × flow.start at esx-01, 2 needed: start more flows');
    expect(only(gradeEvents(counted, [start(1), start(2), start(3), start(4)])).reason).toBe('4 × flow.start at esx-01, at most 3 allowed (the first at 1 ms on esx-01): start more flows');
    expect(only(gradeEvents(counted, [start(1), start(2)])).status).toBe('passed');
  });

  test('an event check is pending while the run goes on, failed once it has ended', () => {
    const grader = new LabGrader(lab(VMOTION_DONE));
    expect(only(grader.grade(false, emptyClusterState())).status).toBe('pending');
    expect(only(grader.grade(true, emptyClusterState())).status).toBe('failed');
    grader.feed(ev(1, 'esx-02', 'vmotion.done', { vm: 'web-01', result: 'success' }));
    expect(only(grader.grade(false, emptyClusterState())).status).toBe('passed');
  });

  test('conditions: equals, not, in (also as a list), bounds with durations, exists, contains and nested paths', () => {
    const check = (where: string, payload: Record<string, unknown>): string => only(gradeEvents(lab(`  - { id: c, text: t, check: { type: event, kind: x.y, where: ${where} } }\n`), [ev(1, 'n', 'x.y', payload)])).status;
    expect(check('{ a: 1 }', { a: 1 })).toBe('passed');
    expect(check('{ a: 1 }', { a: '1' })).toBe('failed');
    expect(check('{ a: { not: b } }', { a: 'c' })).toBe('passed');
    expect(check('{ a: { not: b } }', { a: 'b' })).toBe('failed');
    expect(check('{ a: [b, c] }', { a: 'c' })).toBe('passed');
    expect(check('{ a: { in: [b, c] } }', { a: 'd' })).toBe('failed');
    expect(check('{ detectNs: { lte: 400ms } }', { detectNs: 399_999_999 })).toBe('passed');
    expect(check('{ detectNs: { lte: 400ms } }', { detectNs: 400_000_001 })).toBe('failed');
    expect(check('{ n: { gt: 1, lt: 3 } }', { n: 2 })).toBe('passed');
    expect(check('{ n: { gte: 1 } }', { n: '5' })).toBe('failed');
    expect(check('{ reason: { exists: false } }', { reason: null })).toBe('passed');
    expect(check('{ reason: { exists: true } }', {})).toBe('failed');
    expect(check('{ text: { contains: Reservation } }', { text: 'insufficient-memory-reservation' })).toBe('passed');
    expect(check('{ vnics: { contains: web-01.eth0 } }', { vnics: ['app-01.eth0'] })).toBe('failed');
    expect(check('{ byMode.mux.cpuNs: { gte: 300us } }', { byMode: { mux: { cpuNs: 300_000 } } })).toBe('passed');
    expect(check('{ vnics.1.mode: uptv2 }', { vnics: [{ mode: 'emulated' }, { mode: 'uptv2' }] })).toBe('passed');
    expect(check('{ a: null }', {})).toBe('passed');
  });
});

describe('no-event checks', () => {
  const NO_RESET = `  - id: no-reset
    text: t
    check: { type: no-event, kind: flow.stop, where: { flow: web-tcp, reason: [reset, timeout] }, show: [reason], fix: the connection must survive }
`;

  test('a no-event check fails on the first matching event, naming it, when and where', () => {
    const events = [ev(1, 'esx-01', 'flow.stop', { flow: 'web-tcp', reason: 'stopped' }), ev(2500, 'esx-01', 'flow.stop', { flow: 'web-tcp', reason: 'reset' })];
    const task = only(gradeEvents(lab(NO_RESET), events));
    expect(task.status).toBe('failed');
    expect(task.reason).toBe('Unexpected flow.stop with flow = web-tcp and reason in [reset, timeout] at 2.5 s on esx-01 (reason = reset): the connection must survive');
  });

  test('a no-event check passes, live too, while nothing matches', () => {
    const events = [ev(1, 'esx-01', 'flow.stop', { flow: 'web-tcp', reason: 'stopped' })];
    expect(only(gradeEvents(lab(NO_RESET), events, false)).status).toBe('passed');
    expect(only(gradeEvents(lab(NO_RESET), events)).checks[0]!.observed).toBe('no flow.stop with flow = web-tcp and reason in [reset, timeout]');
  });
});

describe('order checks', () => {
  const IMPORT_FIRST = `  - id: import-first
    text: t
    check:
      type: order
      first: { kind: dfw.import, node: [dpu-02a, dpu-02b], where: { vm: web-01, ok: true } }
      then: { kind: vmotion.resume, where: { vm: web-01 } }
      fix: the firewall state must be in place before the VM resumes
`;

  test('an order check fails when the second event came only before the first, quoting it', () => {
    const events = [ev(10, 'esx-02', 'vmotion.resume', { vm: 'web-01' }), ev(20, 'dpu-02a', 'dfw.import', { vm: 'web-01', ok: true })];
    const task = only(gradeEvents(lab(IMPORT_FIRST), events));
    expect(task.status).toBe('failed');
    expect(task.reason).toBe(
      'No vmotion.resume with vm = web-01 after dfw.import at dpu-02a or dpu-02b with vm = web-01 and ok = true at 20 ms on dpu-02a (no vmotion.resume at all after it) (vmotion.resume with vm = web-01 at 10 ms on esx-02 came before it): the firewall state must be in place before the VM resumes',
    );
  });

  test('an order check fails without the first event, explaining what is missing', () => {
    const task = only(gradeEvents(lab(IMPORT_FIRST), [ev(20, 'dpu-01a', 'dfw.import', { vm: 'web-01', ok: true })]));
    expect(task.reason).toBe('No dfw.import at dpu-02a or dpu-02b with vm = web-01 and ok = true (nearest: at 20 ms on dpu-01a, node = dpu-01a): the firewall state must be in place before the VM resumes');
  });

  test('an order check passes when the second comes after the first', () => {
    const events = [ev(10, 'esx-02', 'vmotion.resume', { vm: 'web-01' }), ev(20, 'dpu-02b', 'dfw.import', { vm: 'web-01', ok: true }), ev(30, 'esx-02', 'vmotion.resume', { vm: 'web-01' })];
    const task = only(gradeEvents(lab(IMPORT_FIRST), events));
    expect(task.status).toBe('passed');
    expect(task.checks[0]!.observed).toContain('at 20 ms on dpu-02b, then vmotion.resume with vm = web-01 at 30 ms on esx-02');
  });
});

describe('threshold checks', () => {
  const SWITCHOVER = `  - id: switchover
    text: t
    check: { type: threshold, measure: { name: switchover, vm: web-01 }, max: 500ms, fix: keep the default switchover goal }
`;

  test('a threshold check fails above its maximum, with the value and the bound in units', () => {
    const task = only(gradeEvents(lab(SWITCHOVER), [ev(2000, 'esx-02', 'vmotion.done', { vm: 'web-01', result: 'success', switchoverNs: 734_000_000 })]));
    expect(task.status).toBe('failed');
    expect(task.reason).toBe('The switchover time (stun to resume) of web-01 is 734 ms, more than the 500 ms allowed: keep the default switchover goal');
  });

  test('a threshold check cannot measure without its event, and says which one is missing', () => {
    const task = only(gradeEvents(lab(SWITCHOVER), [ev(2000, 'esx-01', 'vmotion.done', { vm: 'web-01', result: 'aborted', reason: 'precopy did not converge' })]));
    expect(task.reason).toBe('Cannot measure the switchover time (stun to resume) of web-01: no vmotion.done with vm = web-01 and result in [success, success-emulated] (nearest: at 2 s on esx-01, result = aborted, reason = precopy did not converge): keep the default switchover goal');
  });

  test('a threshold check fails below its minimum (cores of a mode from the cost report)', () => {
    const cores = lab(`  - { id: c, text: t, check: { type: threshold, measure: { name: cores, node: esx-01, mode: emulated }, min: 0.0003, fix: stay emulated longer } }\n`);
    const report = ev(4000, 'esx-01', 'cost.report', { coresUsed: 0.0006, byMode: { emulated: { cpuNs: 400_000, cores: 0.0001 } } });
    expect(only(gradeEvents(cores, [report])).reason).toBe('The cores esx-01 used in emulated mode is 0.00010 cores, less than the 0.00030 cores needed: stay emulated longer');
    expect(only(gradeEvents(cores, [])).reason).toBe('Cannot measure the cores esx-01 used in emulated mode: no cost.report at esx-01 (no cost.report at all: every host and DPU records it when the run ends): stay emulated longer');
  });

  test('a flow loss threshold combines the sender and receiver reports and counts a missing receiver as all lost', () => {
    const loss = lab(`  - { id: l, text: t, check: { type: threshold, measure: { name: flow-loss, flow: web-tcp }, max: 0, fix: keep the stream alive } }\n`);
    const sender = ev(3000, 'esx-01', 'flow.report', { flow: 'web-tcp', kind: 'tcp', side: 'sender', sent: 400, delivered: null });
    const receiver = ev(3000, 'esx-02', 'flow.report', { flow: 'web-tcp', kind: 'tcp', side: 'receiver', sent: null, delivered: 397 });
    expect(only(gradeEvents(loss, [sender, receiver])).reason).toBe('The loss of flow web-tcp is 3 messages (sent 400, delivered 397), more than the 0 messages allowed: keep the stream alive');
    expect(only(gradeEvents(loss, [sender])).reason).toContain('is 400 messages (sent 400, delivered 0)');
    expect(only(gradeEvents(loss, [])).reason).toBe('Cannot measure the loss of flow web-tcp: no flow.report from the sender of flow web-tcp: keep the stream alive');
    const ping = ev(3000, 'esx-01', 'flow.report', { flow: 'web-tcp', kind: 'ping', side: 'sender', sent: 20, delivered: 20, lost: 0 });
    expect(only(gradeEvents(loss, [ping])).status).toBe('passed');
  });

  test('a field measure picks the first, last, smallest, largest or the sum of the values', () => {
    const events = [5, 9, 2].map((n, i) => ev(i, 'esx-02', 'dpu.failed', { detectNs: n }));
    const picked = (pick: string): string | null =>
      only(gradeEvents(lab(`  - { id: p, text: t, check: { type: threshold, measure: { kind: dpu.failed, field: detectNs, pick: ${pick}, unit: plain }, max: 0 } }\n`), events)).reason;
    expect(picked('first')).toBe('The detectNs of the first dpu.failed is 5, more than the 0 allowed');
    expect(picked('last')).toContain('is 2,');
    expect(picked('min')).toContain('is 2,');
    expect(picked('max')).toContain('is 9,');
    expect(picked('sum')).toContain('is 16,');
  });

  test('a threshold check with answerWithin needs a note stating the measured value, and does not give the value away', () => {
    const detection = lab(`  - { id: d, text: t, check: { type: threshold, measure: { name: detection, host: esx-02 }, max: 400ms, answerWithin: 1ms, fix: say it in a note } }\n`);
    const failed = ev(1300, 'esx-02', 'dpu.failed', { dpu: 'dpu-02a', reason: 'crash', detectNs: 399_997_984, to: 'dpu-02b' });
    const note = (text: string): LabEvent => ev(3900, 'controller', 'input.note', { action: 'note', text, step: 5 });

    const silent = only(gradeEvents(detection, [failed]));
    expect(silent).toMatchObject({ status: 'failed', reason: 'No note on the timeline states the failover detection time of esx-02: say it in a note' });
    expect(silent.checks[0]!.observed).toBeNull();
    expect(silent.reason).not.toContain('399');

    const wrong = only(gradeEvents(detection, [failed, note('detection took 300 ms')]));
    expect(wrong.reason).toBe('No note on the timeline states the failover detection time of esx-02 within 1 ms (the notes state 300 ms): say it in a note');

    expect(only(gradeEvents(detection, [failed, note('esx-02 gave up on dpu-02a after 399.998 ms')])).status).toBe('passed');
    expect(only(gradeEvents(detection, [failed, note('about 0.4s')])).status).toBe('passed');
    // Live, before the run ends, a missing answer is still pending.
    const grader = new LabGrader(detection);
    grader.feed(failed);
    expect(only(grader.grade(false, emptyClusterState())).status).toBe('pending');
  });
});

describe('tasks', () => {
  test('a task passes only when every check passes, and gives the reason of the first that did not', () => {
    const two = lab(`  - id: both
    text: t
    check:
      - { type: event, kind: a.b, fix: first }
      - { type: event, kind: c.d, fix: second }
`);
    expect(only(gradeEvents(two, [ev(1, 'n', 'c.d', {})])).reason).toBe('No a.b event: first');
    expect(only(gradeEvents(two, [ev(1, 'n', 'a.b', {})])).reason).toBe('No c.d event: second');
    const grade = gradeEvents(two, [ev(1, 'n', 'a.b', {}), ev(2, 'n', 'c.d', {})]);
    expect([grade.passed, grade.total, only(grade).status]).toEqual([1, 1, 'passed']);
  });

  test('the grader reads only the kinds its checks need', () => {
    const grader = new LabGrader(lab(`${VMOTION_DONE}  - { id: d, text: t, check: { type: no-event, kind: dfw.* } }\n`));
    expect(grader.kinds).toEqual(['dfw.*', 'vmotion.done']);
    expect([grader.wants('vmotion.done'), grader.wants('dfw.rule.hit'), grader.wants('frame.tx'), grader.wants('dfw')]).toEqual([true, true, false, false]);
  });
});
