import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../../shared/scenario/load.js';
import { loadDefaultLab } from '../../../shared/topology/load.js';
import { DEFAULT_SETTLE_NS } from '../../../shared/invariants/index.js';
import { FAULT_KINDS, drawSchedule, durationText, faultCount, isFault, scheduleYaml, withEnd } from './schedule.js';

const lab = loadDefaultLab();

describe('fault schedule', () => {
  it('fault schedule is the same for the same seed and differs for another', () => {
    expect(drawSchedule(lab, 7)).toEqual(drawSchedule(lab, 7));
    expect(drawSchedule(lab, 8).steps).not.toEqual(drawSchedule(lab, 7).steps);
  });

  it('fault schedule writes a scenario file that loads back to the very same steps and end, against the topology', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const schedule = drawSchedule(lab, seed);
      const scenario = loadScenario(scheduleYaml(schedule, `s${seed}`, ['a comment']), `s${seed}.yaml`, { topology: lab });
      expect(scenario.endNs).toBe(schedule.endNs);
      expect(scenario.steps.map(({ index: _i, ...s }) => s)).toEqual(
        schedule.steps.map(({ atNs, ...action }) => ({ atNs, ...action, ...(action.action === 'vmotion' && action.options ? { options: Object.fromEntries(Object.entries(action.options).filter(([, v]) => v !== undefined)) } : {}) })),
      );
    }
  });

  it('fault schedule always starts a ping and a UDP flow between two hosts and draws faults of every kind over many seeds', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const schedule = drawSchedule(lab, seed);
      const flows = schedule.steps.flatMap((s) => (s.action === 'flow.start' ? [s.flow] : [])).sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(flows.slice(0, 2).map((f) => [f.id, f.kind])).toEqual([
        ['f1', 'ping'],
        ['f2', 'udp'],
      ]);
      const home = (vm: string) => lab.nodes.find((n) => n.kind === 'host' && n.spec.vms.some((v) => v.id === vm))!.id;
      for (const f of flows.slice(0, 2)) expect(home(f.from)).not.toBe(home(f.to));
      expect(faultCount(schedule)).toBeGreaterThan(0);
      for (const s of schedule.steps) if (isFault(s)) seen.add(s.action);
    }
    expect([...seen].sort()).toEqual(['dfw.rule.add', 'dfw.rule.remove', 'dpu.failover', 'impair', 'kill', 'link', 'restart', 'vm.reserve', 'vmotion']);
    expect(FAULT_KINDS).toHaveLength(7);
  });

  it('fault schedule draws only the fault kinds asked for', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const actions = new Set(drawSchedule(lab, seed, { faults: ['link'] }).steps.filter(isFault).map((s) => s.action));
      expect([...actions]).toEqual(['link']);
    }
  });

  it('fault schedule ends after the last fault, the settling time and one more second, on a whole second', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const schedule = drawSchedule(lab, seed, { faults: ['kill', 'link', 'impair'] });
      const last = Math.max(...schedule.steps.map((s) => s.atNs + (s.action === 'impair' ? s.duration : 0)));
      expect(schedule.endNs % 1e9).toBe(0);
      expect(schedule.endNs - last).toBeGreaterThanOrEqual(DEFAULT_SETTLE_NS + 1e9);
      expect(schedule.endNs - last).toBeLessThan(DEFAULT_SETTLE_NS + 2e9);
    }
    expect(withEnd({ seed: 1, endNs: 0, steps: [] }).endNs).toBe(2e9);
  });

  it('duration text writes nanoseconds exactly in the largest unit that divides them', () => {
    expect([2e9, 150e6, 12_000, 7, 1_500_000_000].map(durationText)).toEqual(['2s', '150ms', '12us', '7ns', '1500ms']);
  });
});
