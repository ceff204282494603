/**
 * Built-in lab "What the DPU takes off the host":
 * the same traffic in each vNIC mode, and the cores each one costs.
 * The text is the lab file as a teacher writes one; `dpulab lab show dpu-offload` prints it.
 */

import type { BuiltinLab } from './types.js';

export const DPU_OFFLOAD_LAB: BuiltinLab = {
  name: 'dpu-offload',
  file: 'dpu-offload.yaml',
  yaml: `# dpu-offload.yaml: what the DPU takes off the host.
name: dpu-offload
title: What the DPU takes off the host
introduction: |
  On a host with a DPU, a vNIC reaches the network in one of three ways:

  - **UPTv2** (Uniform Passthrough): the guest's vmxnet3 driver talks straight to a virtual
    function of the DPU. The hypervisor is out of the datapath: the host's x86 cores only run
    the guest driver and write a doorbell register.
  - **MUX**: the hypervisor keeps a thin backend that tags each frame with its vNIC and hands
    it to the DPU; no copy, no device model.
  - **Emulated**: the hypervisor emulates the vmxnet3 device and copies every frame on x86.

  In all three modes the DPU's Arm cores do the switching, the distributed firewall and the
  GENEVE tunnel. dpulab charges every step of every frame to the core that does it, and at the
  end of the run each host and each DPU records what it spent in a \`cost.report\` event, broken
  down by vNIC mode (\`docs/cost-model.md\` explains the model and its public anchors).

  The starting scenario runs one TCP flow, \`bulk\`, from \`web-01\` (on \`esx-01\`) to \`web-02\` (on
  \`esx-02\`) at 1000 messages per second, from 0.2 s until it stops at 3.6 s. The run ends at 4 s.
  \`web-01.eth0\` starts in UPTv2.

  Run the same traffic in each mode in turn, then compare the cores each mode used on \`esx-01\`
  and on \`dpu-01a\`: the table that \`dpulab lab run\` prints, or the Charts tab of the app.
  How many times more x86 CPU does an emulated vNIC cost than a passthrough one for the same
  frames? Does the DPU's Arm load change with the mode?
scenario:
  name: dpu-offload-start
  end: 4s
  steps:
    - { at: 200ms, action: flow.start, flow: { id: bulk, kind: tcp, from: web-01, to: web-02, ratePps: 1000 } }
    - { at: 3.6s, action: flow.stop, flow: bulk }
solution:
  name: dpu-offload-solution
  end: 4s
  steps:
    - { at: 1.2s, action: vnic.mode, vnic: web-01.eth0, mode: mux }
    - { at: 2.2s, action: vnic.mode, vnic: web-01.eth0, mode: emulated }
    - { at: 3.2s, action: vnic.mode, vnic: web-01.eth0, mode: uptv2 }
tasks:
  - id: mux
    text: Switch \`web-01.eth0\` to **MUX** while \`bulk\` runs, and leave it there for about a second.
    hints:
      - "A \`vnic.mode\` step asks for another mode: \`{ at: 1.2s, action: vnic.mode, vnic: web-01.eth0, mode: mux }\`. In the app: Actions tab, vNIC mode."
      - The host records a \`vnic.mode\` event each time the mode a vNIC runs in changes; its \`active\` field says which one.
    check:
      - type: event
        kind: vnic.mode
        node: esx-01
        where: { vnic: web-01.eth0, requested: mux, active: mux }
        fix: switch web-01.eth0 to mux with a vnic.mode step while the bulk flow runs
      - type: threshold
        measure: { name: cores, node: esx-01, mode: mux }
        min: 0.0001
        fix: leave web-01.eth0 in mux for about a second while bulk runs (it stops at 3.6 s)
  - id: emulated
    text: Then switch it to **emulated**, again for about a second of traffic.
    hints:
      - "Same action, \`mode: emulated\`. The guest does not notice: its driver keeps its rings."
    check:
      - type: event
        kind: vnic.mode
        node: esx-01
        where: { vnic: web-01.eth0, requested: emulated, active: emulated }
        fix: switch web-01.eth0 to emulated with a vnic.mode step while the bulk flow runs
      - type: threshold
        measure: { name: cores, node: esx-01, mode: emulated }
        min: 0.0003
        fix: leave web-01.eth0 emulated for about a second while bulk runs (it stops at 3.6 s)
  - id: back-to-passthrough
    text: Give \`web-01\` its passthrough back before the flow stops.
    hints:
      - "Ask for \`uptv2\` again. The host binds a virtual function and hands the device state over: look for \`vnic.handoff\` with direction \`emulated-to-vf\`."
    check:
      type: order
      first: { kind: vnic.mode, node: esx-01, where: { vnic: web-01.eth0, requested: emulated, active: emulated } }
      then: { kind: vnic.mode, node: esx-01, where: { vnic: web-01.eth0, active: uptv2 } }
      fix: after the emulated stretch, ask for uptv2 again with a vnic.mode step
  - id: arm-side
    text: >-
      Look at the other side of the bargain: \`dpu-01a\` switched, filtered and tunnelled
      web-01's frames in every mode, whatever the host did. Its Arm cores handled only each
      flow's first packets in each mode; its eSwitch did the rest in hardware.
    hints:
      - "\`dpulab log DB --kind cost.report\` shows each node's report; \`byMode\` splits the CPU time by vNIC mode, \`offload\` counts the packets the eSwitch switched."
      - "A mode change moves the vNIC's frames to another port into the eSwitch, so its flows take the slow path again for their first packets."
    check:
      type: event
      kind: cost.report
      node: dpu-01a
      where: { byMode.mux.cpuNs: { gte: 1us }, byMode.emulated.cpuNs: { gte: 1us } }
      fix: run bulk's traffic in both mux and emulated mode, so that dpu-01a's Arm cores take its first packets in both
`,
};
