import { describe, expect, it } from 'vitest';
import { loadDefaultLab } from '../../shared/topology/load.js';
import { TestContext } from '../runtime/testing.js';
import { HostCore } from './host-core.js';

/** esx-01 of the default lab (dpu-01a active, dpu-01b standby), booted at 1 s on a context the test drives. */
function bootedHost(pcieSurpriseDown = true): { core: HostCore; ctx: TestContext } {
  const topology = loadDefaultLab();
  const found = topology.nodes.find((n) => n.id === 'esx-01');
  if (found?.kind !== 'host') throw new Error('The default lab has no host esx-01');
  const node = { ...found, spec: { ...found.spec, pcieSurpriseDown } };
  const core = new HostCore(node, topology);
  const ctx = new TestContext('esx-01', { clock: { now: 1_000_000_000 } });
  core.onBoot(ctx);
  return { core, ctx };
}

function kinds(ctx: TestContext, kind: string): Array<Readonly<Record<string, unknown>>> {
  return ctx.events.filter((e) => e.kind === kind).map((e) => e.payload);
}

function haOf(core: HostCore): unknown {
  return (core.inspect() as { ha: unknown }).ha;
}

describe('HostCore PCIe surprise-down', () => {
  it('fails over to the standby the instant the pcie link of the active DPU drops', () => {
    const { core, ctx } = bootedHost();
    ctx.events.length = 0;
    core.onLink(ctx, 'dpu-01a', false);
    expect(kinds(ctx, 'dpu.state')).toEqual([{ dpu: 'dpu-01a', state: 'UNAVAILABLE', role: 'active', reason: 'pcie-surprise-down' }]);
    expect(kinds(ctx, 'dpu.failed')).toMatchObject([{ dpu: 'dpu-01a', reason: 'crash', to: 'dpu-01b' }]);
    expect(kinds(ctx, 'dpu.heartbeat.miss')).toEqual([]);
    expect(haOf(core)).toMatchObject({ active: 'dpu-01b', standby: 'dpu-01a' });
  });

  it('does not declare the DPU lost again when its heartbeats then run out', () => {
    const { core, ctx } = bootedHost();
    core.onLink(ctx, 'dpu-01a', false);
    ctx.events.length = 0;
    // Nothing answers on the dead link: fire the heartbeat ticks of the next half second.
    const end = ctx.clock.now + 500_000_000;
    for (let timer = ctx.takeDue(end); timer !== undefined; timer = ctx.takeDue(end)) {
      ctx.clock.now = timer.at;
      core.onTimer(ctx, timer.name, timer.data);
    }
    expect(kinds(ctx, 'dpu.heartbeat.miss').filter((p) => p['dpu'] === 'dpu-01a').length).toBeGreaterThanOrEqual(3);
    // (The test answers no heartbeat of dpu-01b either: only dpu-01a's news is looked at.)
    expect(kinds(ctx, 'dpu.state').filter((p) => p['dpu'] === 'dpu-01a')).toEqual([]);
    expect(kinds(ctx, 'dpu.failed').filter((p) => p['dpu'] === 'dpu-01a')).toEqual([]);
  });

  it('loses only the standby when the standby link drops: the vNICs stay where they are', () => {
    const { core, ctx } = bootedHost();
    ctx.events.length = 0;
    core.onLink(ctx, 'dpu-01b', false);
    expect(kinds(ctx, 'dpu.state')).toEqual([{ dpu: 'dpu-01b', state: 'UNAVAILABLE', role: 'standby', reason: 'pcie-surprise-down' }]);
    expect(kinds(ctx, 'dpu.failed')).toEqual([]);
    expect(haOf(core)).toMatchObject({ active: 'dpu-01a', standby: 'dpu-01b' });
  });

  it('waits for the heartbeats when the host has pcieSurpriseDown off', () => {
    const { core, ctx } = bootedHost(false);
    ctx.events.length = 0;
    core.onLink(ctx, 'dpu-01a', false);
    expect(kinds(ctx, 'dpu.state')).toEqual([]);
    expect(kinds(ctx, 'dpu.failed')).toEqual([]);
    const end = ctx.clock.now + 500_000_000;
    for (let timer = ctx.takeDue(end); timer !== undefined; timer = ctx.takeDue(end)) {
      ctx.clock.now = timer.at;
      core.onTimer(ctx, timer.name, timer.data);
    }
    expect(kinds(ctx, 'dpu.state').filter((p) => p['dpu'] === 'dpu-01a')).toEqual([{ dpu: 'dpu-01a', state: 'UNAVAILABLE', role: 'active', reason: 'heartbeat-lost' }]);
    expect(kinds(ctx, 'dpu.failed')).toMatchObject([{ dpu: 'dpu-01a', reason: 'crash', to: 'dpu-01b' }]);
  });

  it('leaves the DPUs alone when a link other than a pcie one drops', () => {
    const { core, ctx } = bootedHost();
    ctx.events.length = 0;
    core.onLink(ctx, 'mgmt', false);
    expect(kinds(ctx, 'dpu.state')).toEqual([]);
  });
});
