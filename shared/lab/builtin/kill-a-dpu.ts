/**
 * Built-in lab "Kill a DPU":
 * DPU failover: kill the active DPU, measure detection, bring it back as standby.
 * The text is the lab file as a teacher writes one; `dpulab lab show kill-a-dpu` prints it.
 */

import type { BuiltinLab } from './types.js';

export const KILL_A_DPU_LAB: BuiltinLab = {
  name: 'kill-a-dpu',
  file: 'kill-a-dpu.yaml',
  yaml: `# kill-a-dpu.yaml: DPU high availability, by breaking it.
name: kill-a-dpu
title: Kill a DPU
introduction: |
  \`esx-02\` has two DPUs: \`dpu-02a\` is active and serves the host's vNICs, \`dpu-02b\` stands by
  with a synced copy of the firewall's connection table. The host sends each DPU a heartbeat
  every 100 ms over PCIe; three unanswered in a row and the DPU is declared \`UNAVAILABLE\`.

  When the active DPU fails, the standby takes over the uplinks, the tunnel endpoint, the
  virtual functions and the connection table, and established connections carry on without a
  new firewall rule lookup. A failed DPU that boots again rejoins as standby: failback is off by
  default (\`docs/dpu-ha.md\`).

  The starting scenario runs two TCP streams through \`esx-02\` from 0.3 s: \`web-tcp\` (web-01 to
  web-02) and \`web-app-tcp\` (web-02 to app-01). Both stop at 3.5 s; the run ends at 4 s.

  Kill the active DPU's process while the streams run, measure how long the host took to notice,
  check that nothing was lost, then bring the DPU back.
scenario:
  name: kill-a-dpu-start
  end: 4s
  steps:
    - { at: 300ms, action: flow.start, flow: { id: web-tcp, kind: tcp, from: web-01, to: web-02, ratePps: 200 } }
    - { at: 300ms, action: flow.start, flow: { id: web-app-tcp, kind: tcp, from: web-02, to: app-01, ratePps: 100 } }
    - { at: 3.5s, action: flow.stop, flow: web-tcp }
    - { at: 3.5s, action: flow.stop, flow: web-app-tcp }
solution:
  name: kill-a-dpu-solution
  end: 4s
  steps:
    - { at: 1s, action: kill, node: dpu-02a }
    - { at: 2s, action: restart, node: dpu-02a }
    - { at: 3.9s, action: note, text: "esx-02 declared dpu-02a failed 399.998 ms after its last heartbeat answer" }
tasks:
  - id: kill
    text: Kill \`dpu-02a\`, the active DPU of \`esx-02\`, while the streams run.
    hints:
      - "A \`kill\` step sends SIGKILL to a node's process: \`{ at: 1s, action: kill, node: dpu-02a }\`. In the app: Actions tab, Kill a node."
    check:
      type: event
      kind: dpu.failed
      node: esx-02
      where: { dpu: dpu-02a, reason: crash, to: dpu-02b }
      show: [reason]
      fix: kill dpu-02a while the streams run (they run from 0.3 s to 3.5 s)
  - id: detection
    text: Measure how long \`esx-02\` took to declare \`dpu-02a\` failed, and say it in a note on the timeline. It must stay within three missed heartbeats plus one interval, 400 ms.
    hints:
      - "\`dpu.failed\` carries \`detectNs\`: from the failed DPU's last answered heartbeat to the host's decision (\`dpulab log DB --kind dpu.failed\`). \`dpu.heartbeat.miss\` events show the misses."
      - "The same steps and seed give the same run: add a note stating what you measured and run again, \`{ at: 3.9s, action: note, text: 'detection took 123.456 ms' }\`."
    check:
      type: threshold
      measure: { name: detection, host: esx-02 }
      max: 400ms
      answerWithin: 1ms
      fix: kill dpu-02a, read detectNs in its dpu.failed event, and state it in a note step (within 1 ms)
  - id: failover
    text: The standby took over every vNIC of \`esx-02\`.
    hints:
      - "\`dpu.failover.done\` lists the vNICs and the mode each runs in on the new DPU."
    check:
      type: event
      kind: dpu.failover.done
      node: esx-02
      where: { from: dpu-02a, to: dpu-02b }
      show: [from, to]
      fix: kill dpu-02a so that esx-02 fails over to dpu-02b
  - id: streams-survive
    text: Both TCP streams survived the failover with nothing lost.
    hints:
      - TCP resends what the dead DPU dropped; look at \`retransmits\` in the flows' final \`flow.report\` events.
    check:
      - type: event
        kind: dpu.failover.done
        node: esx-02
        fix: kill dpu-02a while the streams run, so that they go through a failover
      - type: threshold
        measure: { name: flow-loss, flow: web-tcp }
        max: 0
        fix: the stream must outlive the failover; kill dpu-02a early enough (before 2.5 s) for TCP to recover before it stops
      - type: threshold
        measure: { name: flow-loss, flow: web-app-tcp }
        max: 0
        fix: the stream must outlive the failover; kill dpu-02a early enough (before 2.5 s) for TCP to recover before it stops
  - id: rejoin
    text: Start \`dpu-02a\` again. It must rejoin as **standby**, not take the host back.
    hints:
      - "A \`restart\` step boots a killed node as a new incarnation. In the app: Actions tab, Restart."
      - "\`dpu.role\` events say which role the host gives each DPU, and why."
    check:
      type: event
      kind: dpu.role
      node: esx-02
      where: { dpu: dpu-02a, role: standby, reason: rejoined }
      show: [role, reason]
      fix: restart dpu-02a once esx-02 has failed over to dpu-02b
  - id: in-sync
    text: The rejoined standby holds a full copy of the active's state again.
    hints:
      - A standby that joins asks the active for a snapshot (\`ha.sync.request\`) and records \`ha.sync.bulk.end\` once it has applied it.
    check:
      type: event
      kind: ha.sync.bulk.end
      node: dpu-02a
      fix: restart dpu-02a early enough (before 3.5 s) for it to sync with dpu-02b before the run ends
`,
};
