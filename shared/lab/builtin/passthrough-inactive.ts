/**
 * Built-in lab "Why is passthrough inactive?":
 * a VM whose passthrough stays inactive, diagnosed and fixed while it runs.
 * The text is the lab file as a teacher writes one; `dpulab lab show passthrough-inactive` prints it.
 */

import type { BuiltinLab } from './types.js';

export const PASSTHROUGH_INACTIVE_LAB: BuiltinLab = {
  name: 'passthrough-inactive',
  file: 'passthrough-inactive.yaml',
  yaml: `# passthrough-inactive.yaml: a VM that asks for passthrough and does not get it.
name: passthrough-inactive
title: Why is passthrough inactive?
introduction: |
  UPTv2 hands a guest's vmxnet3 rings to a DPU virtual function. The DPU then reads and writes
  the guest's memory by DMA, behind the hypervisor's back, so the hypervisor can never page that
  memory out or move it: a VM gets passthrough only when it meets every requirement (hardware
  version, driver version, memory, a free virtual function). When one is missing, the vNIC runs
  emulated, and the host says why.

  \`app-02\` on \`esx-02\` asks for UPTv2 on \`app-02.eth0\`, but something is wrong with its
  configuration. The starting scenario runs a TCP stream, \`app-tcp\`, from app-02 to app-01 from
  0.2 s to 2.7 s; the run ends at 3 s.

  Find the reason (the inspector shows each vNIC's asked mode, running mode and why; the
  events record it too), then fix the VM while it runs.
scenario:
  name: passthrough-inactive-start
  end: 3s
  steps:
    - { at: 200ms, action: flow.start, flow: { id: app-tcp, kind: tcp, from: app-02, to: app-01, ratePps: 200 } }
    - { at: 2.7s, action: flow.stop, flow: app-tcp }
solution:
  name: passthrough-inactive-solution
  end: 3s
  steps:
    - { at: 500ms, action: note, text: "app-02.eth0 runs emulated: insufficient-memory-reservation (4096 of 8192 MiB reserved)" }
    - { at: 1s, action: vm.reserve, vm: app-02, memoryReservationMiB: 8192 }
tasks:
  - id: diagnose
    text: >-
      Find out why \`app-02.eth0\` runs emulated, and write what you found as a note on the
      timeline. The note must name the reason the host gives.
    hints:
      - "Click app-02 in the topology, or look for the vnic.mode events of app-02.eth0: \`dpulab log DB --kind vnic.mode\`."
      - "A \`note\` step marks the timeline: \`{ at: 500ms, action: note, text: ... }\`. In the app: Actions tab, Note."
    check:
      type: event
      kind: input.note
      where: { text: { contains: reservation } }
      fix: put a note on the timeline that names the reason esx-02 gives in the vnic.mode event of app-02.eth0
  - id: fix
    text: Fix the VM's configuration while it runs, so that \`app-02.eth0\` gets passthrough.
    hints:
      - "The VM's memory is 8192 MiB; the inspector of esx-02 shows the vNIC's requirements."
      - "A \`vm.reserve\` step changes a VM's memory reservation: \`{ at: 1s, action: vm.reserve, vm: app-02, memoryReservationMiB: ... }\`."
    check:
      type: event
      kind: vnic.mode
      node: esx-02
      where: { vnic: app-02.eth0, active: uptv2 }
      show: [active, reason]
      fix: app-02.eth0 still does not run in uptv2; change app-02's memory reservation with a vm.reserve step
  - id: seamless
    text: The switch to passthrough was seamless for the guest. \`app-tcp\` lost nothing and the guest's view of its vNIC never disagreed with the device serving it.
    hints:
      - "The host checks the guest's ring view against the device after every hand-off and records \`vnic.checker.violation\` when they differ."
    check:
      - type: event
        kind: vnic.handoff
        node: esx-02
        where: { vnic: app-02.eth0, direction: emulated-to-vf }
        fix: fix app-02's configuration first, so that its vNIC is handed to a virtual function
      - type: threshold
        measure: { name: flow-loss, flow: app-tcp }
        max: 0
        fix: app-tcp must deliver every message; fix the VM while the stream runs and early enough (before 2.2 s) for it to finish
      - type: no-event
        kind: vnic.checker.violation
        node: esx-02
        show: [vnic, change]
        fix: the guest noticed the hand-off, which must never happen
`,
};
