import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { foldLog } from '../processes/controller/cluster-state.js';
import { runScenario, tempDir } from './support/cli.js';
import { payloads } from './support/events.js';
import type { RunSummary } from '../processes/controller/session.js';

interface LabData {
  hosts: Array<{ id: string; vms: Array<Record<string, unknown>> }>;
}

/** Messages per second of a flow's sender between its reports, as the throughput chart reads them. */
function senderRates(db: string, flow: string): Map<number, number> {
  const samples = foldLog(db).flows[flow]!.samples.filter((s) => s.side === 'sender');
  const rates = new Map<number, number>();
  for (let i = 1; i < samples.length; i++) rates.set(samples[i]!.vtime, (samples[i]!.count - samples[i - 1]!.count) / ((samples[i]!.vtime - samples[i - 1]!.vtime) / 1e9));
  return rates;
}

describe('a throttled vMotion slows its guest', () => {
  const tmp = tempDir();
  let throttled: RunSummary;
  let free: RunSummary;

  /**
   * web-01 with 4 GiB whose guest writes a million pages a second into a 256 MiB working set:
   * faster than half the link carries, so pre-copy throttles its vCPUs from the first round. It
   * sends 2,000 UDP datagrams a second to web-02 from 100 ms; with `migrate` it moves at 1.05 s.
   */
  function run(name: string, migrate: boolean): RunSummary {
    const lab = parse(DEFAULT_LAB_YAML) as LabData;
    const web01 = lab.hosts.find((h) => h.id === 'esx-01')!.vms.find((v) => v['id'] === 'web-01')!;
    Object.assign(web01, { memoryMiB: 4096, memoryReservationMiB: 4096, dirtyPagesPerSec: 1_000_000, workingSetMiB: 256 });
    const steps: unknown[] = [{ at: '100ms', action: 'flow.start', flow: { id: 'feed', kind: 'udp', from: 'web-01', to: 'web-02', ratePps: 2000 } }];
    if (migrate) steps.push({ at: '1050ms', action: 'vmotion', vm: 'web-01', to: 'esx-02' });
    return runScenario<RunSummary>(tmp.dir, name, '4s', steps, { lab, seed: 3 });
  }

  beforeAll(() => {
    throttled = run('throttled', true);
    free = run('free', false);
  });
  afterAll(() => tmp.remove());

  it('the migration throttles from its first round, converges on the working set and succeeds', () => {
    expect(throttled.vmotions).toMatchObject([{ vm: 'web-01', result: 'success' }]);
    const throttle = payloads(throttled.db, ['vmotion.throttle']);
    expect(throttle[0]!.p).toMatchObject({ vm: 'web-01', round: 0 });
    expect(throttle[0]!.p.factor).toBeLessThan(0.5);
    // What a round leaves dirty never exceeds the 256 MiB working set.
    for (const round of payloads(throttled.db, ['vmotion.precopy.round'])) expect(round.p.pagesDirtied!).toBeLessThanOrEqual((256 * 1024 * 1024) / 4096);
  });

  it("the guest's app sends less while its vCPUs are throttled, as the throughput chart shows", () => {
    const stun = payloads(throttled.db, ['vmotion.stun'])[0]!.vtime;
    expect(stun).toBeGreaterThan(2e9);
    // The report at 2 s covers 1 s to 2 s, a second the vCPUs spent throttled (the migration began at 1.05 s).
    const slowed = senderRates(throttled.db, 'feed').get(2e9)!;
    const normal = senderRates(free.db, 'feed').get(2e9)!;
    expect(normal).toBeGreaterThan(1900);
    expect(slowed).toBeLessThan(0.75 * normal);
    // Before the migration the two runs sent alike.
    expect(senderRates(throttled.db, 'feed').get(1e9)).toBe(senderRates(free.db, 'feed').get(1e9));
  });
});
