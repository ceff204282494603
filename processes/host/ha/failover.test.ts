import { describe, expect, it } from 'vitest';
import { DpuHaManager } from './failover.js';
import type { FailoverDecision } from './failover.js';
import type { HaHeartbeat } from '../../pcie/ha-heartbeat.js';
import { hostContext, labHost, reply } from './testing.js';

const MS = 1_000_000;
const VNICS = ['app-01.eth0', 'db-01.eth0', 'web-01.eth0'];

/** Both DPUs answer every 100 ms heartbeat 20 µs after it was sent, from `from` up to `to` (exclusive). */
function healthyBeats(manager: DpuHaManager, ctx: ReturnType<typeof hostContext>, from: number, to: number, dpus: readonly string[] = ['dpu-01a', 'dpu-01b'], fields: Partial<HaHeartbeat> = {}): void {
  for (let t = from; t < to; t += 100 * MS) {
    for (const dpu of dpus) {
      ctx.clock.now = t + 20_000;
      manager.onHeartbeat(ctx, dpu, reply(fields));
    }
  }
}

function plan(decision: FailoverDecision): { from: string; to: string; reason: string; detectNs: number; vnics: readonly string[] } {
  if (decision.kind !== 'failover' && decision.kind !== 'rebuild') throw new Error(`Expected a plan, got ${decision.kind}`);
  return decision.plan;
}

/** A takeover report as a DPU sends it (`dpu.takeover`). */
const TAKEOVER = { connections: 4, vnics: 3, macs: 2, replicaCommitNs: 36_000, vfBindNs: 195_000, switchNs: 30_000, tunnelNs: 37_500, totalNs: 298_500 };

describe('DpuHaManager', () => {
  it('DpuHaManager fails over to the standby when the active stops answering, and records the detection and the total time', () => {
    const ctx = hostContext();
    const manager = new DpuHaManager(labHost());
    expect([manager.roleOf('dpu-01a'), manager.roleOf('dpu-01b')]).toEqual(['active', 'standby']);
    healthyBeats(manager, ctx, 0, 1000 * MS);
    // dpu-01a answered last at 900.02 ms; the agent declares it UNAVAILABLE at the third miss.
    ctx.clock.now = 1300 * MS;
    const decision = manager.onDpuState(ctx, 'dpu-01a', 'UNAVAILABLE');
    expect(plan(decision)).toEqual({ from: 'dpu-01a', to: 'dpu-01b', reason: 'crash', detectNs: 1300 * MS - 900 * MS - 20_000, vnics: VNICS });
    expect(ctx.events.filter((e) => e.kind === 'dpu.failed').map((e) => e.payload)).toEqual([{ dpu: 'dpu-01a', reason: 'crash', detectNs: 399_980_000, to: 'dpu-01b' }]);
    expect([manager.roleOf('dpu-01a'), manager.roleOf('dpu-01b')]).toEqual(['standby', 'active']);
    expect(manager.pending).toEqual(VNICS);

    ctx.clock.now = 1301 * MS;
    expect(manager.onRestored(ctx, 'db-01.eth0', 'mux')).toBe(false);
    expect(manager.onRestored(ctx, 'db-01.eth0', 'mux')).toBe(false);
    expect(manager.onRestored(ctx, 'nobody', 'mux')).toBe(false);
    ctx.clock.now = 1305 * MS;
    expect(manager.onRestored(ctx, 'web-01.eth0', 'uptv2')).toBe(false);
    ctx.clock.now = 1306 * MS;
    // Every vNIC is restored, but the new active has not reported its takeover work yet.
    expect(manager.onRestored(ctx, 'app-01.eth0', 'uptv2')).toBe(false);
    expect(ctx.events.filter((e) => e.kind === 'dpu.failover.done')).toEqual([]);
    // A report from another DPU is not this failover's.
    expect(manager.onTakeover(ctx, 'dpu-01a', TAKEOVER)).toBe(false);
    ctx.clock.now = 1307 * MS;
    expect(manager.onTakeover(ctx, 'dpu-01b', TAKEOVER)).toBe(true);
    expect(ctx.events.filter((e) => e.kind === 'dpu.failover.done').map((e) => e.payload)).toEqual([
      {
        kind: 'failover',
        from: 'dpu-01a',
        to: 'dpu-01b',
        reason: 'crash',
        detectNs: 399_980_000,
        totalNs: 1307 * MS - 900 * MS - 20_000,
        takeover: TAKEOVER,
        vnics: [
          { vnic: 'app-01.eth0', mode: 'uptv2' },
          { vnic: 'db-01.eth0', mode: 'mux' },
          { vnic: 'web-01.eth0', mode: 'uptv2' },
        ],
      },
    ]);
    expect(manager.pending).toEqual([]);
  });

  it('DpuHaManager fails over when the active reports all its uplinks down, detected at the report', () => {
    const ctx = hostContext();
    const manager = new DpuHaManager(labHost());
    healthyBeats(manager, ctx, 0, 500 * MS);
    ctx.clock.now = 450 * MS;
    const decision = manager.onHeartbeat(ctx, 'dpu-01a', reply({ type: 'status', uplinksDown: true }));
    expect(plan(decision)).toMatchObject({ from: 'dpu-01a', to: 'dpu-01b', reason: 'linkDown', detectNs: 50 * MS - 20_000 });
    // Its later replies saying the same thing change nothing.
    ctx.clock.now = 500 * MS;
    expect(manager.onHeartbeat(ctx, 'dpu-01a', reply({ uplinksDown: true }))).toEqual({ kind: 'none' });
  });

  it('DpuHaManager fails over on request but refuses a second request while the first is not done', () => {
    const ctx = hostContext();
    const manager = new DpuHaManager(labHost());
    healthyBeats(manager, ctx, 0, 300 * MS);
    expect(plan(manager.failover(ctx))).toMatchObject({ from: 'dpu-01a', to: 'dpu-01b', reason: 'userInitiated' });
    expect(manager.failover(ctx)).toEqual({ kind: 'impossible', dpu: 'dpu-01b', reason: 'in-progress', vnics: [] });
    expect(manager.active).toBe('dpu-01b');
    expect(manager.vnicsDisconnected).toBe(false);
  });

  it('DpuHaManager without a standby disconnects the vNICs, says so, and rebuilds them when the DPU comes back', () => {
    const ctx = hostContext();
    const manager = new DpuHaManager(labHost({ failover: { active: ['dpu-01a'], standby: [], failback: false } }));
    healthyBeats(manager, ctx, 0, 300 * MS, ['dpu-01a']);
    ctx.clock.now = 600 * MS;
    expect(manager.onDpuState(ctx, 'dpu-01a', 'UNAVAILABLE')).toEqual({ kind: 'impossible', dpu: 'dpu-01a', reason: 'no-standby', vnics: VNICS });
    const [event] = ctx.events.filter((e) => e.kind === 'dpu.failover.impossible').map((e) => e.payload);
    expect(event).toMatchObject({ dpu: 'dpu-01a', reason: 'no-standby', cause: 'crash', vnicsDisconnected: true, vnics: VNICS });
    expect(event!.message).toBe('No failover of host esx-01 from DPU dpu-01a (crash): the policy has no standby DPU; its 3 vNIC(s) are disconnected');
    expect(manager.vnicsDisconnected).toBe(true);
    expect(ctx.events.some((e) => e.kind === 'dpu.failed')).toBe(false);

    ctx.clock.now = 2000 * MS;
    const decision = manager.onDpuState(ctx, 'dpu-01a', 'MANAGED');
    expect(decision.kind).toBe('rebuild');
    expect(plan(decision)).toMatchObject({ from: 'dpu-01a', to: 'dpu-01a', reason: 'crash' });
    expect(manager.vnicsDisconnected).toBe(false);
    // Its first answer carries a new boot epoch: expected after it was UNAVAILABLE, not another crash.
    expect(manager.onHeartbeat(ctx, 'dpu-01a', reply({ epoch: 1_990_000 }))).toEqual({ kind: 'none' });
    for (const vnic of VNICS) manager.onRestored(ctx, vnic, 'emulated');
    expect(ctx.events.find((e) => e.kind === 'dpu.failover.done')?.payload).toMatchObject({ kind: 'rebuild', from: 'dpu-01a', to: 'dpu-01a', totalNs: 2000 * MS - 200 * MS - 20_000 });
  });

  it('DpuHaManager without a standby rebuilds the vNICs on a DPU that restarted between two heartbeats', () => {
    const ctx = hostContext();
    const manager = new DpuHaManager(labHost({ failover: { active: ['dpu-01a'], standby: [], failback: false } }));
    healthyBeats(manager, ctx, 0, 300 * MS, ['dpu-01a']);
    ctx.clock.now = 300 * MS + 20_000;
    const decision = manager.onHeartbeat(ctx, 'dpu-01a', reply({ epoch: 250_000 }));
    expect(decision.kind).toBe('rebuild');
    expect(plan(decision)).toMatchObject({ from: 'dpu-01a', to: 'dpu-01a', reason: 'crash', detectNs: 100 * MS });
    expect(ctx.events.map((e) => e.kind)).toEqual(['dpu.failover.impossible', 'dpu.vnics.reconnected']);
    expect(manager.vnicsDisconnected).toBe(false);
    expect(manager.onHeartbeat(ctx, 'dpu-01a', reply({ epoch: 250_000 }))).toEqual({ kind: 'none' });
  });

  it('DpuHaManager waits for a standby that is down, then fails over to it when it comes back', () => {
    const ctx = hostContext();
    const manager = new DpuHaManager(labHost());
    healthyBeats(manager, ctx, 0, 300 * MS);
    ctx.clock.now = 400 * MS;
    manager.onDpuState(ctx, 'dpu-01b', 'UNAVAILABLE');
    ctx.clock.now = 600 * MS;
    expect(manager.onDpuState(ctx, 'dpu-01a', 'UNAVAILABLE')).toMatchObject({ kind: 'impossible', reason: 'standby-not-managed' });
    expect(manager.active).toBe('dpu-01a');
    ctx.clock.now = 900 * MS;
    const decision = manager.onDpuState(ctx, 'dpu-01b', 'MANAGED');
    expect(plan(decision)).toMatchObject({ from: 'dpu-01a', to: 'dpu-01b', reason: 'crash', detectNs: 600 * MS - 200 * MS - 20_000 });
    expect(manager.active).toBe('dpu-01b');
  });

  it('DpuHaManager keeps a recovered DPU as standby unless failback is on, and then fails back once it is in sync', () => {
    for (const failback of [false, true]) {
      const ctx = hostContext();
      const manager = new DpuHaManager(labHost(), { failback });
      healthyBeats(manager, ctx, 0, 300 * MS);
      ctx.clock.now = 600 * MS;
      manager.onDpuState(ctx, 'dpu-01a', 'UNAVAILABLE');
      for (const vnic of VNICS) manager.onRestored(ctx, vnic, 'emulated');
      manager.onTakeover(ctx, 'dpu-01b', TAKEOVER);
      ctx.clock.now = 5000 * MS;
      expect(manager.onDpuState(ctx, 'dpu-01a', 'MANAGED')).toEqual({ kind: 'none' });
      expect(ctx.events.filter((e) => e.kind === 'dpu.role').at(-1)?.payload).toEqual({ dpu: 'dpu-01a', role: 'standby', reason: 'rejoined' });
      // Back, but its replica is not complete yet: no failback either way.
      expect(manager.onHeartbeat(ctx, 'dpu-01a', reply({ role: 'standby', epoch: 0 }))).toEqual({ kind: 'none' });
      const synced = manager.onHeartbeat(ctx, 'dpu-01a', reply({ role: 'standby', synced: true, epoch: 0 }));
      if (!failback) {
        expect(synced).toEqual({ kind: 'none' });
        expect(manager.roleOf('dpu-01a')).toBe('standby');
      } else {
        expect(plan(synced)).toMatchObject({ from: 'dpu-01b', to: 'dpu-01a', reason: 'failback' });
        expect(manager.roleOf('dpu-01a')).toBe('active');
      }
    }
  });

  it('DpuHaManager treats a new boot epoch on the active as a crash even when no heartbeat was missed', () => {
    const ctx = hostContext();
    const manager = new DpuHaManager(labHost());
    healthyBeats(manager, ctx, 0, 300 * MS, ['dpu-01a', 'dpu-01b'], { epoch: 0 });
    ctx.clock.now = 350 * MS;
    const decision = manager.onHeartbeat(ctx, 'dpu-01a', reply({ epoch: 320_000 }));
    expect(plan(decision)).toMatchObject({ from: 'dpu-01a', to: 'dpu-01b', reason: 'crash', detectNs: 150 * MS - 20_000 });
    // The standby restarting changes nothing.
    expect(manager.onHeartbeat(ctx, 'dpu-01a', reply({ epoch: 330_000 }))).toEqual({ kind: 'none' });
  });
});
