import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { runScenario, tempDir } from './support/cli.js';
import { payloads } from './support/events.js';
import type { RunSummary } from '../processes/controller/session.js';

/** The default lab as YAML data, for a test to change before it runs. */
interface LabData {
  hosts: Array<{ id: string; vms: Array<Record<string, unknown>> }>;
}

const MIGRATING = ['web-01', 'app-01', 'db-01'];
/** dpu-01a's uplinks: 25 Gb/s each. */
const UPLINK_BYTES_PER_SEC = 25e9 / 8;

describe('vMotion traffic on the wires: three concurrent migrations from esx-01', () => {
  const tmp = tempDir();
  let loaded: RunSummary;
  let quiet: RunSummary;

  /**
   * The default lab with smaller VMs on esx-01 and a fourth one, web-03, that stays and pings
   * web-02 on esx-02 across dpu-01a's uplink; with `migrate`, the three others leave for esx-02 at
   * 500 ms, all at once.
   */
  function run(name: string, migrate: boolean): RunSummary {
    const lab = parse(DEFAULT_LAB_YAML) as LabData;
    const esx01 = lab.hosts.find((h) => h.id === 'esx-01')!;
    for (const vm of esx01.vms) if (vm['id'] !== 'web-01') vm['memoryMiB'] = 1024;
    esx01.vms.push({ id: 'web-03', vcpus: 2, memoryMiB: 1024, vnics: [{ segment: 'web', ipv4: '10.0.1.13/24', mode: 'uptv2' }] });
    const steps: unknown[] = [{ at: '200ms', action: 'flow.start', flow: { id: 'probe', kind: 'ping', from: 'web-03', to: 'web-02', ratePps: 1000 } }];
    if (migrate) for (const vm of MIGRATING) steps.push({ at: '500ms', action: 'vmotion', vm, to: 'esx-02' });
    return runScenario<RunSummary>(tmp.dir, name, '4s', steps, { lab, seed: 3 });
  }

  beforeAll(() => {
    loaded = run('loaded', true);
    quiet = run('quiet', false);
  });
  afterAll(() => tmp.remove());

  it('all three succeed, and their rounds together never carry more than the uplinks do', () => {
    expect(loaded.vmotions.map((m) => [m.vm, m.result]).sort()).toEqual(MIGRATING.map((vm) => [vm, 'success']).sort());
    const firsts = payloads(loaded.db, ['vmotion.precopy.round']).filter((e) => e.p.round === 0);
    expect(firsts).toHaveLength(3);
    // The first rounds run at the same time: together they move what one 25 Gb/s uplink carries at
    // most (the team sends on one), each a share of it, as their acknowledgements measured.
    const start = Math.min(...firsts.map((e) => e.vtime - e.p.durationNs));
    const end = Math.max(...firsts.map((e) => e.vtime));
    const bytes = firsts.reduce((n, e) => n + e.p.bytes, 0);
    expect(bytes / ((end - start) / 1e9)).toBeLessThanOrEqual(2 * UPLINK_BYTES_PER_SEC);
    for (const e of firsts) expect(e.p.bytesPerSec).toBeLessThan(UPLINK_BYTES_PER_SEC);
    expect(firsts.reduce((n, e) => n + e.p.bytesPerSec, 0)).toBeLessThanOrEqual(2 * UPLINK_BYTES_PER_SEC);
  });

  it("dpu-01a's uplinks are charged the pages' bytes, never more per 10 ms than their rate allows", () => {
    const tx = payloads(loaded.db, ['frame.tx'], ['dpu-01a']).filter((e) => e.p.wire.startsWith('up-01a'));
    const elided = tx.reduce((n, e) => n + (e.p.elided ?? 0), 0);
    // Every page of the three VMs crossed (4 GiB), as frames standing for their bytes.
    expect(elided).toBeGreaterThanOrEqual(4 * 1024 ** 3);
    const buckets = new Map<string, number>();
    for (const e of tx) {
      const key = `${e.p.wire} ${Math.floor(e.p.txStart / 10_000_000)}`;
      buckets.set(key, (buckets.get(key) ?? 0) + e.p.len + (e.p.elided ?? 0));
    }
    // One batch (1 MiB) may straddle a bucket boundary.
    for (const bytes of buckets.values()) expect(bytes).toBeLessThanOrEqual(UPLINK_BYTES_PER_SEC * 0.01 + 2 * 1024 ** 2);
  });

  it("web-03's pings across the same uplink wait behind the migrations' pages", () => {
    const probe = (s: RunSummary) => s.flows.find((f) => f.flow === 'probe')!;
    expect(probe(loaded).delivered).toBeGreaterThan(0);
    expect(probe(loaded).rttNs!.max).toBeGreaterThan(10 * probe(quiet).rttNs!.max);
    expect(probe(loaded).rttNs!.avg).toBeGreaterThan(probe(quiet).rttNs!.avg);
  });
});
