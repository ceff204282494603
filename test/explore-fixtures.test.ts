/**
 * Regression fixtures: the failures `dpulab explore --runs 200 --seed 1` found on the cores as
 * they were when issue 11 was filed, each shrunk to its smallest schedule
 * (`test/fixtures/explore/shrunk-<invariant>-seed-<S>.yaml`, replayable with the command in its
 * header).
 *
 * `brokenToday: true` asserts that the invariant still breaks, at the same kind of event: the bug
 * is still there. Once a core fix lands, flip its line to `false` and the same test asserts the
 * invariant holds on that schedule from then on. The management plane (processes/manager) fixed
 * the first four.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSchedule } from '../processes/controller/explore/runner.js';
import { ROOT } from './support/cli.js';

const DIR = join(ROOT, 'test', 'fixtures', 'explore');

interface Fixture {
  readonly file: string;
  readonly brokenToday: boolean;
  /** What the schedule does and which fix should make it hold. */
  readonly bug: string;
}

const FIXTURES: readonly Fixture[] = [
  {
    file: 'shrunk-traffic-recovers-seed-15.yaml',
    brokenToday: false,
    bug: 'a failover on each host (user-initiated here) black-holes the ping for good: remote DPUs keep tunnelling to the demoted DPUs (issue 11, points 2 and 3: the manager pushes overlay tables to every DPU)',
  },
  {
    file: 'shrunk-drops-logged-seed-15.yaml',
    brokenToday: false,
    bug: 'the same schedule: a demoted (standby) DPU discards the overlay frames still tunnelled to it without frame.drop (issue 11, point 5)',
  },
  {
    file: 'shrunk-vf-arcs-seed-5.yaml',
    brokenToday: false,
    bug: 'a VF released by a vMotion is left in STOP_COPY and later bound again from RUNNING with no vf.state for the reset (issue 11, point 5)',
  },
  {
    file: 'shrunk-dfw-before-resume-seed-4.yaml',
    brokenToday: false,
    bug: "a user-initiated failover on the source during pre-copy: the VM resumes on the destination with no dfw.import there, its connection table lost (the switchover's firewall export does not survive the source's failover)",
  },
  {
    file: 'shrunk-vmotion-ends-once-seed-25.yaml',
    brokenToday: false,
    bug: "a 16 GiB VM with maxPrecopy 2 s: its first pre-copy round alone takes 5.5 s, and maxPrecopy is only checked between rounds, so the migration outlives its limit",
  },
  {
    file: 'shrunk-no-core-error-seed-41.yaml',
    brokenToday: false,
    bug: 'a DPU misses a rule added while it was down, no one resyncs its rules when it comes back, and removing the rule then throws in its core (node.error) (issue 11, point 3). Written by hand from the shrunk run once scenarios refused removing a rule never added',
  },
  {
    file: 'shrunk-traffic-recovers-seed-42.yaml',
    brokenToday: false,
    bug: "esx-02's pcie wire to its active DPU dpu-02a goes down (the host fails over to dpu-02b) and comes back: the UDP flow to web-02 (esx-02) never recovers, dpu-02b receiving its GENEVE frames and delivering none (found by explore --runs 200 after the fixes above). The host waited for three missed heartbeats, 350 ms after the link was back; it now fails over at the PCIe surprise-down itself",
  },
  {
    file: 'shrunk-drops-logged-seed-42.yaml',
    brokenToday: false,
    bug: "the same schedule: dpu-02b discards those overlay frames for web-02 without frame.drop: its VF wrote at the ring position of dpu-02a's, which the completions lost on the dead link had moved past the guest's (fixed by the same surprise-down failover)",
  },
  {
    file: 'shrunk-ring-view-seed-42.yaml',
    brokenToday: false,
    bug: "the same schedule: when dpu-02a's pcie wire comes back, web-02.eth0's hand-off from dpu-02a's VF to the backend finds the VF's RX completions ahead of the host's shadow (vnic.checker.violation): the VF went on writing while its completions were lost on the link (fixed by the same surprise-down failover, before the VF writes anything more)",
  },
  {
    file: 'shrunk-no-core-error-seed-61.yaml',
    brokenToday: false,
    bug: "a jitter burst on the pcie wire of dpu-02a reordered a TX descriptor ahead of its doorbell; the VF refused it (pcie.drop) and its ring stayed stuck at that slot, so web-02 sent nothing from then on; the vMotion hand-off copied the stuck index into the emulated backend, which threw on the guest's next descriptor (node.error). Fixed: a PCIe link keeps its frames in order whatever its jitter, as PCIe keeps posted writes in order",
  },
  {
    file: 'shrunk-traffic-recovers-seed-113.yaml',
    brokenToday: false,
    bug: "a corruption burst on esx-01's pcie wire flipped a bit of a doorbell in the sender's own buffer (a Buffer's slice() is a view, not a copy), so the recorded frame lied, the VF refused the write, and app-01's TX ring stayed stuck (found by explore --runs 200). Fixed: corruption works on a copy, and a PCIe link replays a damaged TLP instead of delivering it",
  },
  {
    file: 'shrunk-drops-logged-seed-114.yaml',
    brokenToday: false,
    bug: "esx-02's pcie wire to dpu-02a down (failover to dpu-02b), then dpu-02b's uplink a and the inter-switch link down: tor-b floods dpu-02b's GENEVE frames for app-01 to dpu-01a's standby uplink, which discarded them without frame.drop (found by explore --runs 200). Fixed: a frame for the DPU's own tunnel endpoint discarded on its standby uplink is a logged frame.drop (standby-uplink). On this shrunk schedule the underlay stays partitioned between the hosts' active uplinks, so traffic-recovers breaks on it, as a real team without beacon probing would not recover either",
  },
];

/** The invariant and seed a fixture's file name gives. */
function parse(file: string): { invariant: string; seed: number } {
  const match = /^shrunk-(.+)-seed-(\d+)\.yaml$/.exec(file);
  if (!match) throw new Error(`Fixture ${file} is not named shrunk-<invariant>-seed-<S>.yaml`);
  return { invariant: match[1]!, seed: Number(match[2]) };
}

describe('explore fixtures', () => {
  it('explore fixtures: every file has its line in the table, and every line its file', () => {
    expect(readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()).toEqual(FIXTURES.map((f) => f.file).sort());
  });

  for (const fixture of FIXTURES) {
    const { invariant, seed } = parse(fixture.file);
    it(`explore fixture ${fixture.file} ${fixture.brokenToday ? 'still breaks' : 'keeps'} ${invariant}`, { timeout: 180_000 }, async () => {
      const text = readFileSync(join(DIR, fixture.file), 'utf8');
      // The header says which event broke it when the fixture was found: the same kind must break it again.
      const kind = /^# seq \d+ at [^(]+\((\S+)\)/m.exec(text)?.[1];
      const result = await runSchedule({ scenario: { text, file: fixture.file }, seed, ...(fixture.brokenToday ? { stopOn: invariant } : {}) });
      const found = result.violations.filter((v) => v.invariant === invariant);
      if (fixture.brokenToday) {
        expect(found.length, fixture.bug).toBeGreaterThan(0);
        expect(found[0]!.event.kind).toBe(kind);
      } else {
        expect(found, fixture.bug).toEqual([]);
      }
    });
  }
});
