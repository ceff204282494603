import { parse } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_LAB_YAML } from '../shared/topology/load.js';
import { runScenario, tempDir } from './support/cli.js';
import { payloads } from './support/events.js';
import type { RunSummary } from '../processes/controller/session.js';

/** What `dpulab run --json` prints last: the run summary. */
type RunJson = RunSummary;

/** The default lab as YAML data, for a test to change before it runs. */
interface LabData {
  hosts: Array<{ vms: Array<Record<string, unknown>> }>;
}

describe('losses nobody could see are on the record', () => {
  const tmp = tempDir();
  afterAll(() => tmp.remove());

  function run(name: string, steps: unknown[], end: string, edit?: (lab: LabData) => void): RunJson {
    let lab: LabData | undefined;
    if (edit) {
      lab = parse(DEFAULT_LAB_YAML) as LabData;
      edit(lab);
    }
    return runScenario<RunJson>(tmp.dir, name, end, steps, { lab, seed: 2 });
  }

  it('every frame that reaches a stunned VM is dropped with a frame.drop (vm-stunned), one per frame the flow lost', () => {
    // A small VM migrates in about 100 ms; a frame every 200 us meets its stun of about a millisecond.
    const small = (lab: LabData): void => {
      const web01 = lab.hosts.flatMap((h) => h.vms).find((v) => v.id === 'web-01')!;
      Object.assign(web01, { memoryMiB: 256, memoryReservationMiB: 256 });
    };
    const result = run(
      'stun',
      [
        { at: '100ms', action: 'flow.start', flow: { id: 'burst', kind: 'udp', from: 'web-02', to: 'web-01', ratePps: 5000 } },
        { at: '200ms', action: 'vmotion', vm: 'web-01', to: 'esx-02' },
        { at: '700ms', action: 'flow.stop', flow: 'burst' },
      ],
      '800ms',
      small,
    );
    expect(result.vmotions.map((v) => v.result)).toEqual(['success']);
    const burst = result.flows.find((f) => f.flow === 'burst')!;
    expect(burst.lost).toBeGreaterThan(0);
    // Dropped at the source while it is stopped, or at the destination while the switchover is
    // decided; or, once the source's DPU has let the vNIC go during the switchover, there, as a frame
    // for a MAC it no longer serves. Every lost frame is one of those drops.
    const drops = payloads(result.db, ['frame.drop']);
    const stunned = drops.filter((e) => e.p.reason === 'vm-stunned');
    expect(stunned.every((e) => e.p.vm === 'web-01' && e.p.vnic === 'web-01.eth0' && e.p.len > 0)).toBe(true);
    // (Only web-01 moves here, so a VM MAC (VMware's 00:50:56) the DPU cannot route is web-01's.)
    const unserved = drops.filter((e) => e.p.reason === 'overlay-no-route' && /^no-route: 00:50:56:/.test(String(e.p.detail)));
    expect(stunned.length + unserved.length).toBe(burst.lost);
    // They fall between the stun and the resume.
    const stun = payloads(result.db, ['vmotion.stun'])[0]!.vtime;
    const resume = payloads(result.db, ['vmotion.resume'])[0]!.vtime;
    expect([...stunned, ...unserved].every((e) => e.vtime >= stun && e.vtime <= resume)).toBe(true);
  });

  it('a guest that dirties memory faster than half the link is throttled from round 0, and vmotion.throttle says so before the first round ends', () => {
    const hot = (lab: LabData): void => {
      const web01 = lab.hosts.flatMap((h) => h.vms).find((v) => v.id === 'web-01')!;
      web01.dirtyPagesPerSec = 500_000;
    };
    const result = run('throttle', [{ at: '100ms', action: 'vmotion', vm: 'web-01', to: 'esx-02' }], '6s', hot);
    const throttles = payloads(result.db, ['vmotion.throttle']);
    const rounds = payloads(result.db, ['vmotion.precopy.round']);
    expect(rounds[0]!.p.throttleFactor).toBeLessThan(1);
    expect(throttles[0]!.p).toMatchObject({ round: 0, factor: rounds[0]!.p.throttleFactor });
    expect(throttles[0]!.vtime).toBeLessThan(rounds[0]!.vtime);
  });
});
