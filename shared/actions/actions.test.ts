import { describe, expect, test } from 'vitest';
import { loadDefaultLab } from '../topology/load.js';
import { loadScenario, ScenarioError } from '../scenario/load.js';
import { parseNodeAction } from './node-actions.js';

const lab = loadDefaultLab();

/** The located problems of a scenario holding one step (on line 3), checked against the default lab. */
function problemsOf(step: string): string[] {
  try {
    loadScenario(`end: 3s\nsteps:\n  - ${step}\n`, 'drift.yaml', { topology: lab });
  } catch (error) {
    if (error instanceof ScenarioError) return error.message.split('\n').slice(1);
    throw error;
  }
  return [];
}

/**
 * Each row is an action that used to load (or to be refused) against what the node that carries it
 * out does: the guest stack, the firewall, the controller's planner. Every one is now decided at
 * load, at its line and field.
 */
const DRIFTS: ReadonlyArray<readonly [string, string, RegExp | null]> = [
  ['a UDP datagram larger than one unfragmented packet', '{ at: 1s, action: flow.start, flow: { id: u, kind: udp, from: web-01, to: web-02, payloadBytes: 2000 } }', /drift\.yaml:3:\d+: steps\[0\]\.flow\.payloadBytes: must be from 18 to 1400 for a udp flow/],
  ['a ping larger than one unfragmented packet', '{ at: 1s, action: flow.start, flow: { id: p, kind: ping, from: web-01, to: web-02, payloadBytes: 1401 } }', /steps\[0\]\.flow\.payloadBytes: must be from 18 to 1400 for a ping flow/],
  ['a TCP app message the guest takes but the loader refused', '{ at: 1s, action: flow.start, flow: { id: t, kind: tcp, from: web-01, to: web-02, payloadBytes: 100000 } }', null],
  ['a message shorter than its own header', '{ at: 1s, action: flow.start, flow: { id: web-tcp, kind: tcp, from: web-01, to: web-02, payloadBytes: 20 } }', /steps\[0\]\.flow\.payloadBytes: must be from 24 to 1048576 for a tcp flow \(the message header of flow web-tcp takes 24\)/],
  ['a port on a ping', '{ at: 1s, action: flow.start, flow: { id: p, kind: ping, from: web-01, to: web-02, port: 7 } }', /steps\[0\]\.flow\.port: a ping flow has no port/],
  ['a flow id too long for the message header', `{ at: 1s, action: flow.start, flow: { id: ${'f'.repeat(65)}, kind: udp, from: web-01, to: web-02 } }`, /steps\[0\]\.flow\.id: must be at most 64 bytes long/],
  ['a rate so low its sleep overflows a timer', '{ at: 1s, action: flow.start, flow: { id: u, kind: udp, from: web-01, to: web-02, ratePps: 1e-300 } }', /steps\[0\]\.flow\.ratePps: must be at least 0.000001/],
  ['a flow to an address that does not parse', '{ at: 1s, action: flow.start, flow: { id: u, kind: udp, from: web-01, to: 10.0.1.300 } }', /steps\[0\]\.flow\.to: "10\.0\.1\.300" is no VM, vNIC or IP address of topology "default-lab"/],
  ['a flow to a CIDR prefix', '{ at: 1s, action: flow.start, flow: { id: u, kind: udp, from: web-01, to: 10.0.1.0/24 } }', /steps\[0\]\.flow\.to: "10\.0\.1\.0\/24" is no VM, vNIC or IP address/],
  ['a flow to a vNIC, which the guest took for an address', '{ at: 1s, action: flow.start, flow: { id: u, kind: udp, from: web-01, to: web-02.eth0 } }', null],
  ['a failover asked of a switch', '{ at: 1s, action: dpu.failover, host: tor-a }', /drift\.yaml:3:\d+: steps\[0\]\.host: no host "tor-a" in topology "default-lab"/],
  ['a trace towards any', '{ at: 1s, action: traceflow, trace: { id: t, from: web-01, to: any } }', /steps\[0\]\.trace\.to: "any" is no VM, vNIC or IP address/],
  ['a rule source that is no address', '{ at: 1s, action: dfw.rule.add, rule: { id: r, sources: [10.0.0.300], action: drop } }', /steps\[0\]\.rule\.sources\[0\]: "10\.0\.0\.300" is neither an IPv4 or IPv6 address nor a CIDR prefix/],
  ['a rule applied to an address, which no filter carries', '{ at: 1s, action: dfw.rule.add, rule: { id: r, appliedTo: 10.0.1.11, action: drop } }', /steps\[0\]\.rule\.appliedTo: expected any or a VM or vNIC id, got "10\.0\.1\.11"/],
  ['a rule id that no dfw.rule.remove can name', '{ at: 1s, action: dfw.rule.add, rule: { id: "no ping", action: drop } }', /steps\[0\]\.rule\.id: expected a rule id of letters, digits/],
  ['a reservation above the memory of the VM', '{ at: 1s, action: vm.reserve, vm: web-01, memoryReservationMiB: 4096 }', /steps\[0\]\.memoryReservationMiB: must not exceed the memory of VM web-01 \(2048 MiB\), got 4096/],
];

describe('actions decided at load', () => {
  test.each(DRIFTS)('action drift: %s', (_what, step, expected) => {
    const problems = problemsOf(step);
    if (expected === null) expect(problems).toEqual([]);
    else expect(problems.join('\n')).toMatch(expected);
  });
});

describe('parseNodeAction', () => {
  test('parseNodeAction reads what the planner sends and names the field of what it did not', () => {
    const good = parseNodeAction('vm.reserve', { vm: 'web-01', memoryReservationMiB: 2048 });
    expect(good).toEqual({ ok: true, action: { action: 'vm.reserve', args: { vm: 'web-01', memoryReservationMiB: 2048 } } });
    expect(parseNodeAction('flow.start', { flow: { id: 'u', kind: 'udp', from: 'web-01', to: 'web-02' } })).toEqual({
      ok: false,
      message: 'Action flow.start: args.flow.to: expected an IPv4 or IPv6 address',
    });
    expect(parseNodeAction('vm.reserve', { vm: 'web-01', memoryReservationMiB: '2048' })).toEqual({ ok: false, message: 'Action vm.reserve: args.memoryReservationMiB: expected an integer, got "2048"' });
    expect(parseNodeAction('teleport', {})).toEqual({ ok: false, message: 'Unknown action teleport' });
  });
});
