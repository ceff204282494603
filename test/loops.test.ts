/**
 * Switching loops: refused at load unless the switches run a spanning tree; with one, the tree
 * blocks a port and traffic flows, and reconverges when a link of the tree is cut; storm control
 * bounds what a loop floods even if nothing else does; the event budget stops what is left.
 * In-process runs (the same cores as node processes), plus the CLI for the refusal.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decode } from '../shared/codec.js';
import type { RecordedEvent } from '../shared/events.js';
import { DEFAULT_LAB_YAML, loadTopology } from '../shared/topology/load.js';
import type { ResolvedTopology } from '../shared/topology/types.js';
import { planInput } from '../processes/controller/actions.js';
import { Controller, DEFAULT_EVENT_BUDGET_PER_MS, type TimedInput } from '../processes/controller/controller.js';
import { InProcessCluster } from '../processes/controller/in-process.js';
import { dpulab, tempDir } from './support/cli.js';

/** The default lab with a second link between its switches: a loop. */
const LOOP_YAML = `${DEFAULT_LAB_YAML}  - { id: isl-ab2, a: tor-a:swp7, b: tor-b:swp7 }\n`;
/** The same, both switches running a spanning tree, tor-a preferred as root. */
const STP_YAML = LOOP_YAML.replace('- { id: tor-a, ports: 8 }', '- { id: tor-a, ports: 8, stp: { priority: 4096 } }').replace('- { id: tor-b, ports: 8 }', '- { id: tor-b, ports: 8, stp: true }');

const PING = { atNs: 1_000_000, record: { action: 'flow.start', flow: { id: 'p', kind: 'ping', from: 'web-01', to: 'web-02', ratePps: 1000 } } } as TimedInput;

async function run(topology: ResolvedTopology, endNs: number, inputs: TimedInput[] = [], eventBudgetPerMs?: number): Promise<{ events: RecordedEvent[]; status: string; reason: string | null }> {
  const events: RecordedEvent[] = [];
  const controller = new Controller({
    topology,
    cluster: new InProcessCluster(topology, 1),
    sink: { append: (batch) => void events.push(...batch) },
    endNs,
    inputs,
    plan: (record) => planInput(topology, record),
    ...(eventBudgetPerMs !== undefined ? { eventBudgetPerMs } : {}),
  });
  const result = await controller.run();
  return { events, status: result.status, reason: result.reason };
}

const payloads = (events: RecordedEvent[], kind: string): Array<Record<string, unknown>> =>
  events.filter((e) => e.kind === kind).map((e) => ({ node: e.node, vtime: e.vtime, ...(decode(e.payload) as Record<string, unknown>) }));

/** The last stp.port state of every switch port. */
function portStates(events: RecordedEvent[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of payloads(events, 'stp.port')) out[`${String(p.node)}:${String(p.port)}`] = `${String(p.role)} ${String(p.state)}`;
  return out;
}

describe('switching loops', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  it('a loop among switches without a spanning tree is refused at load, naming its wires', () => {
    const file = join(tmp.dir, 'loop.yaml');
    writeFileSync(file, LOOP_YAML);
    const result = dpulab(['run', file, '--in-process', '--until', '1ms', '--db', join(tmp.dir, 'loop.db')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/loop\.yaml:\d+:\d+: wires\[9\]: this wire closes a switching loop through tor-a, tor-b \(wires isl-ab, isl-ab2\)/);
    expect(result.stderr).toContain('run a spanning tree on tor-a, tor-b (stp: true)');

    // A ring of three, one switch without a tree: that one is named.
    const ring = DEFAULT_LAB_YAML.replace('- { id: tor-b, ports: 8 }', '- { id: tor-b, ports: 8, stp: true }\n  - { id: tor-c, ports: 4, stp: true }').replace('- { id: tor-a, ports: 8 }', '- { id: tor-a, ports: 8 }') + '  - { id: bc, a: tor-b:swp7, b: tor-c:swp1 }\n  - { id: ca, a: tor-c:swp2, b: tor-a:swp7 }\n';
    expect(() => loadTopology(ring, 'ring.yaml')).toThrow(/wires\[10\]: this wire closes a switching loop through tor-a, tor-b, tor-c \(wires bc, isl-ab, ca\).*run a spanning tree on tor-a \(stp: true\)/);
  });

  it('with a spanning tree the loop is cut at one port, and traffic flows', async () => {
    const { events } = await run(loadTopology(STP_YAML, 'stp.yaml'), 60_000_000, [PING]);
    expect(portStates(events)).toEqual({
      'tor-a:swp7': 'designated forwarding',
      'tor-a:swp8': 'designated forwarding',
      'tor-b:swp7': 'alternate discarding',
      'tor-b:swp8': 'root forwarding',
    });
    const roots = payloads(events, 'stp.root');
    expect(roots.filter((r) => r.node === 'tor-b').at(-1)).toMatchObject({ rootPort: 'swp8', rootCost: 200 });
    // Bounded: a broadcast crosses the switches once; no storm, nothing suppressed.
    expect(payloads(events, 'switch.storm')).toEqual([]);
    const reports = payloads(events, 'flow.report').filter((r) => r.flow === 'p' && r.side === 'sender');
    expect(reports.length).toBeGreaterThan(0);
  });

  it('when a link of the tree is cut, the alternate port takes over and traffic keeps flowing', async () => {
    const cut: TimedInput = { atNs: 20_000_000, record: { action: 'link', wire: 'isl-ab', state: 'down' } };
    const { events } = await run(loadTopology(STP_YAML, 'stp.yaml'), 60_000_000, [PING, cut]);
    expect(portStates(events)['tor-b:swp7']).toBe('root forwarding');
    expect(portStates(events)['tor-b:swp8']).toBe('disabled discarding');
    // The ping goes on across the cut: every request sent up to 10 ms before the end got its reply.
    const report = payloads(events, 'flow.report').filter((r) => r.flow === 'p' && r.side === 'sender').at(-1) as { sent: number; delivered: number } | undefined;
    expect(report).toBeDefined();
    expect(report!.sent).toBeGreaterThan(50);
    expect(report!.sent - report!.delivered).toBeLessThanOrEqual(2);
  });

  it('storm control bounds what a loop floods when no spanning tree cuts it, and the event budget stops the rest', async () => {
    // The loader refuses this loop; built by hand, as a misconfigured network would be.
    const resolved = loadTopology(STP_YAML, 'stp.yaml');
    const noTree: ResolvedTopology = { ...resolved, nodes: resolved.nodes.map((n) => (n.kind === 'switch' ? { ...n, spec: { ...n.spec, stp: null } } : n)) };
    const ping = { atNs: 1_000_000, record: { action: 'flow.start', flow: { id: 'p', kind: 'ping', from: 'web-01', to: 'web-02', ratePps: 10 } } } as TimedInput;
    const bounded = await run(noTree, 5_000_000, [ping]);
    expect(bounded.status).toBe('completed');
    expect(payloads(bounded.events, 'switch.storm').some((s) => s.state === 'suppressing')).toBe(true);
    // Floods are held to the storm-control rate; what still circles is unicast to MACs the loop
    // taught the switches on the wrong ports, which storm control does not see.
    const perMs = new Map<number, number>();
    for (const e of bounded.events) perMs.set(Math.floor(e.vtime / 1e6), (perMs.get(Math.floor(e.vtime / 1e6)) ?? 0) + 1);
    expect(Math.max(...perMs.values())).toBeLessThan(DEFAULT_EVENT_BUDGET_PER_MS);

    // Without storm control the same loop goes over the default budget in its first millisecond.

    const unbounded: ResolvedTopology = { ...noTree, nodes: noTree.nodes.map((n) => (n.kind === 'switch' ? { ...n, spec: { ...n.spec, stormControl: null } } : n)) };
    const stopped = await run(unbounded, 5_000_000, [ping]);
    expect(stopped.status).toBe('failed');
    expect(stopped.reason).toMatch(/^Event budget exceeded: more than 50000 events in the virtual millisecond at 0 ms/);
    expect(payloads(stopped.events, 'run.stop')).toEqual([expect.objectContaining({ reason: 'event-budget' })]);
  });
});
