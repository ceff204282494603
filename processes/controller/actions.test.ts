import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseNodeAction } from '../../shared/actions/node-actions.js';
import { loadScenario, ScenarioError } from '../../shared/scenario/load.js';
import { loadDefaultLab } from '../../shared/topology/load.js';
import { compileRule } from '../vds/dfw/rule.js';
import { resolveFlowSpec } from '../host/guest/flow-spec.js';
import type { InputRecord } from '../../shared/events/catalogue.js';
import { acceptAction, InputError, planInput } from './actions.js';

const lab = loadDefaultLab();

/** The records a one-step scenario loads to, or null when the loader refuses it. */
function loaded(step: Record<string, unknown>): InputRecord | null {
  try {
    const scenario = loadScenario(JSON.stringify({ end: '3s', steps: [{ at: '1s', ...step }] }), 'p.yaml', { topology: lab });
    const { atNs: _at, index, ...action } = scenario.steps[0]!;
    return { ...action, step: index } as InputRecord;
  } catch (error) {
    if (error instanceof ScenarioError) return null;
    throw error;
  }
}

/** Whether every node an input is delivered to takes it: its runtime's parse, then what its core would refuse. */
function nodesTake(record: InputRecord): boolean {
  for (const { input } of planInput(lab, record).deliveries) {
    if (input.type !== 'action') continue;
    const checked = parseNodeAction(input.action, input.args);
    if (!checked.ok) return false;
    try {
      if (checked.action.action === 'flow.start') resolveFlowSpec(checked.action.args.flow);
      if (checked.action.action === 'dfw.rule.add') compileRule(checked.action.args.rule);
    } catch {
      return false;
    }
  }
  return true;
}

const flowArbitrary = fc.record(
  {
    id: fc.constantFrom('f', 'web-tcp', 'x'.repeat(64), 'y'.repeat(65)),
    kind: fc.constantFrom('ping', 'tcp', 'udp'),
    from: fc.constantFrom('web-01', 'app-02'),
    to: fc.constantFrom('web-02', 'db-01.eth0', '10.0.1.12', 'fd00:1::12', '10.0.1.300', 'any', '10.0.1.0/24'),
    port: fc.integer({ min: -1, max: 70_000 }),
    ratePps: fc.constantFrom(1e-300, 1e-6, 0.5, 100, 1e6, 2e6),
    payloadBytes: fc.integer({ min: 0, max: 1_100_000 }),
    count: fc.integer({ min: 0, max: 10 }),
  },
  { requiredKeys: ['id', 'kind', 'from', 'to'] },
);

const termArbitrary = fc.constantFrom('any', 'web-01', 'db-01.eth0', '10.0.2.0/24', 'fd00:2::21', '10.0.0.300', '10.0.0.1/33', 'nobody');

describe('planInput', () => {
  it('planInput gives every host a flow it takes whenever the flow loads', () => {
    fc.assert(
      fc.property(flowArbitrary, (flow) => {
        const record = loaded({ action: 'flow.start', flow });
        if (record !== null) expect(nodesTake(record)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('planInput gives every firewall a rule it installs whenever the rule loads', () => {
    fc.assert(
      fc.property(fc.array(termArbitrary, { maxLength: 3 }), fc.array(termArbitrary, { maxLength: 3 }), fc.array(termArbitrary, { maxLength: 2 }), (sources, destinations, appliedTo) => {
        const record = loaded({ action: 'dfw.rule.add', rule: { id: 'r', sources, destinations, appliedTo, action: 'drop' } });
        if (record !== null) expect(nodesTake(record)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('planInput sends a flow towards a vNIC to its address, which is what the guest sends to', () => {
    const plan = planInput(lab, { action: 'flow.start', flow: { id: 'u', kind: 'udp', from: 'web-01', to: 'web-02.eth0' } });
    expect(plan.deliveries.map((d) => d.input)).toContainEqual({ type: 'action', action: 'flow.start', args: { flow: { id: 'u', kind: 'udp', from: 'web-01', to: '10.0.1.12' } } });
  });

  it('planInput takes the carrier of a killed box\'s cables away at their far ends, but a killed DPU\'s PCIe link stays up', () => {
    const links = (record: InputRecord) => planInput(lab, record).deliveries.map((d) => `${d.node}:${(d.input as { port: string }).port}`).sort();
    // dpu-02a: its uplinks at the ToRs and its management cable at the manager, not esx-02's pcie port.
    expect(links({ action: 'kill', node: 'dpu-02a' })).toEqual(['tor-a:swp3', 'tor-b:swp3', 'vcenter:dpu-02a'].sort());
    // A killed host takes its DPUs' PCIe links down with it.
    expect(links({ action: 'kill', node: 'esx-02' })).toEqual(expect.arrayContaining(['dpu-02a:pcie', 'dpu-02b:pcie']));
    expect(links({ action: 'link', wire: 'pcie-dpu-02a', state: 'down' })).toEqual(['dpu-02a:pcie', 'esx-02:dpu-02a']);
  });

  it('planInput refuses a recorded input the topology cannot carry out, naming the field', () => {
    const record = { action: 'vm.reserve', vm: 'web-01', memoryReservationMiB: 99_999 } as InputRecord;
    expect(() => planInput(lab, record)).toThrow(InputError);
    expect(() => planInput(lab, record)).toThrow('Action vm.reserve: memoryReservationMiB: must not exceed the memory of VM web-01 (2048 MiB), got 99999');
  });
});

describe('acceptAction', () => {
  it('acceptAction reads durations with units and records them in ns, as a scenario step does', () => {
    expect(acceptAction(lab, { action: 'vmotion', vm: 'web-01', to: 'esx-02', options: { switchoverGoal: '200ms' } })).toEqual({
      action: 'vmotion',
      vm: 'web-01',
      to: 'esx-02',
      options: { switchoverGoal: 200_000_000 },
    });
  });

  it('acceptAction names the path of the field at fault', () => {
    try {
      acceptAction(lab, { action: 'flow.start', flow: { id: 'u', kind: 'udp', from: 'web-01', to: 'web-02', payloadBytes: 2000 } });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      expect((error as InputError).path).toEqual(['flow', 'payloadBytes']);
    }
  });
});
