import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventLogReader } from '../processes/controller/log/reader.js';
import { startRun } from '../processes/controller/session.js';
import { decode } from '../shared/codec.js';
import { EVENT_KIND_DESCRIPTIONS, isEventKind, payloadProblems } from '../shared/events/catalogue.js';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { tempDir } from './support/cli.js';

/**
 * A scenario rich in faults for the default lab: kills and restarts of a DPU and a switch, a link
 * cut, a requested failover, mode changes, rules added and removed, traceflows, two vMotions (one
 * while a switch is down), on a topology whose one uplink loses, corrupts, duplicates and delays
 * frames.
 */
const FAULTS = `name: faults
end: 4s
steps:
  - { at: 100ms, action: dfw.rule.add, rule: { id: r1, priority: 10, sources: [web-01], destinations: [web-02], service: { protocol: tcp, destinationPorts: [80] }, action: reject } }
  - { at: 100ms, action: dfw.rule.add, rule: { id: r2, priority: 20, destinations: [db-01], service: { protocol: icmp }, action: drop } }
  - { at: 100ms, action: dfw.rule.add, rule: { id: r3, priority: 30, destinations: [app-01], service: { protocol: udp }, action: reject } }
  - { at: 300ms, action: flow.start, flow: { id: t1, kind: tcp, from: web-01, to: web-02, ratePps: 200 } }
  - { at: 300ms, action: flow.start, flow: { id: t2, kind: tcp, from: web-01, to: web-02, port: 80, ratePps: 10 } }
  - { at: 300ms, action: flow.start, flow: { id: p1, kind: ping, from: app-02, to: db-01, ratePps: 10 } }
  - { at: 300ms, action: flow.start, flow: { id: u1, kind: udp, from: web-02, to: app-01, ratePps: 50 } }
  - { at: 300ms, action: flow.start, flow: { id: p6, kind: ping, from: web-01, to: web-02, ratePps: 10 } }
  - { at: 500ms, action: kill, node: dpu-02a }
  - { at: 700ms, action: link, wire: up-01a-a, state: down }
  - { at: 900ms, action: link, wire: up-01a-a, state: up }
  - { at: 1000ms, action: vnic.mode, vnic: web-01.eth0, mode: emulated }
  - { at: 1100ms, action: vnic.mode, vnic: web-01.eth0, mode: mux }
  - { at: 1200ms, action: note, text: "look here" }
  - { at: 1300ms, action: traceflow, trace: { id: tr1, from: web-01, to: web-02 } }
  - { at: 1300ms, action: traceflow, trace: { id: tr2, from: app-02, to: db-01 } }
  - { at: 1400ms, action: restart, node: dpu-02a }
  - { at: 1500ms, action: dfw.rule.remove, rule: r2 }
  - { at: 1600ms, action: dpu.failover, host: esx-01 }
  - { at: 1700ms, action: vm.reserve, vm: app-01, memoryReservationMiB: 1024 }
  - { at: 2000ms, action: vmotion, vm: web-01, to: esx-02 }
  - { at: 2100ms, action: kill, node: tor-a }
  - { at: 2500ms, action: restart, node: tor-a }
  - { at: 3000ms, action: vmotion, vm: app-02, to: esx-01 }
  - { at: 3500ms, action: flow.stop, flow: t1 }
  - { at: 3500ms, action: kill, node: dpu-01b }
`;

/** The default lab with impairments on one uplink: loss, corruption, duplicates and jitter. */
function impairedLab(): string {
  const lab = parse(DEFAULT_LAB_YAML) as { wires: Array<{ id: string; impairments?: unknown }> };
  lab.wires.find((w) => w.id === 'up-01a-b')!.impairments = { loss: 0.05, corrupt: 0.02, duplicate: 0.02, jitter: '2us' };
  return stringify(lab);
}

interface LogCheck {
  /** How often each kind occurs. */
  readonly kinds: Map<string, number>;
  /** Every event whose kind or payload the catalogue does not describe, as `seq kind: problem`. */
  readonly problems: string[];
  readonly registry: Array<{ kind: string; description: string | null }>;
}

/** Checks every event of a log against the catalogue. */
function checkLog(db: string): LogCheck {
  const reader = EventLogReader.open(db);
  try {
    const kinds = new Map<string, number>();
    const problems: string[] = [];
    for (const e of reader.events()) {
      kinds.set(e.kind, (kinds.get(e.kind) ?? 0) + 1);
      for (const problem of payloadProblems(e.kind, decode(e.payload))) problems.push(`${e.seq} ${e.kind}: ${problem}`);
      const volatile = e.volatile === null ? null : decode(e.volatile);
      if (e.kind === 'node.start' && !(volatile !== null && typeof volatile === 'object' && 'pid' in volatile && 'mode' in volatile)) problems.push(`${e.seq} node.start: volatile lacks pid or mode`);
      if (volatile !== null && e.kind !== 'node.start' && e.kind !== 'node.error') problems.push(`${e.seq} ${e.kind}: volatile data the catalogue does not declare`);
    }
    return { kinds, problems, registry: reader.eventKinds() };
  } finally {
    reader.close();
  }
}

describe('every event a run records is in the catalogue, with the catalogue fields', () => {
  const tmp = tempDir();
  const logs: Record<'default' | 'faults', LogCheck> = {} as Record<'default' | 'faults', LogCheck>;

  beforeAll(async () => {
    const quiet = (): void => {};
    const base = await startRun({ seed: 1, mode: 'in-process', db: join(tmp.dir, 'default.db'), log: quiet }).done;
    logs.default = checkLog(base.db);
    const faults = await startRun({
      seed: 3,
      mode: 'in-process',
      db: join(tmp.dir, 'faults.db'),
      log: quiet,
      topology: { text: impairedLab(), file: 'impaired-lab.yaml' },
      scenario: { text: FAULTS, file: 'faults.yaml' },
    }).done;
    logs.faults = checkLog(faults.db);
  });
  afterAll(() => tmp.remove());

  for (const name of ['default', 'faults'] as const) {
    it(`${name} run: every kind recorded is a catalogue kind`, () => {
      expect([...logs[name].kinds.keys()].filter((k) => !isEventKind(k))).toEqual([]);
    });

    it(`${name} run: every payload has its kind's fields and no other`, () => {
      expect(logs[name].problems.slice(0, 20)).toEqual([]);
    });

    it(`${name} run: the log's event_kinds table is the catalogue`, () => {
      expect(logs[name].registry).toEqual(Object.entries(EVENT_KIND_DESCRIPTIONS).map(([kind, description]) => ({ kind, description })).sort((a, b) => (a.kind < b.kind ? -1 : 1)));
    });
  }

  it('the faults run exercises every action and the faults it was written for', () => {
    const seen = logs.faults.kinds;
    const expected = [
      'input.link', 'input.kill', 'input.restart', 'input.dpu.failover', 'input.note', 'input.flow.start', 'input.flow.stop',
      'input.dfw.rule.add', 'input.dfw.rule.remove', 'input.vnic.mode', 'input.traceflow', 'input.vmotion', 'input.vm.reserve',
      'node.exit', 'link.state', 'lldp.expired', 'team.failover', 'dpu.failed', 'dpu.failover.done', 'vnic.failover', 'ha.sync.bulk.end',
      'dfw.rules', 'dfw.reject', 'traceflow.observe', 'vnic.handoff', 'vmotion.done', 'vm.reserve', 'flow.report', 'frame.drop',
    ];
    expect(expected.filter((k) => !seen.has(k))).toEqual([]);
    // Impairments: frames lost, corrupted and duplicated on the impaired uplink all reach the log as frame.tx fates.
    expect(seen.get('frame.tx')).toBeGreaterThan(1000);
  });
});
