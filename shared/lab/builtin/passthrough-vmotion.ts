/**
 * Built-in lab "Passthrough vMotion, step by step":
 * a VM with a passthrough vNIC migrated under load, hand-off by hand-off.
 * The text is the lab file as a teacher writes one; `dpulab lab show passthrough-vmotion` prints it.
 */

import type { BuiltinLab } from './types.js';

export const PASSTHROUGH_VMOTION_LAB: BuiltinLab = {
  name: 'passthrough-vmotion',
  file: 'passthrough-vmotion.yaml',
  yaml: `# passthrough-vmotion.yaml: moving a VM whose NIC is a DPU virtual function.
name: passthrough-vmotion
title: Passthrough vMotion, step by step
introduction: |
  \`web-01.eth0\` runs in UPTv2: its rings live in a virtual function of \`dpu-01a\`, not in the
  hypervisor. A VF cannot be copied to another host, so a vMotion of web-01 hands the device
  over to the hypervisor first and back to a VF at the end:

  1. \`vmotion.start\` and the prechecks (capacity, compatible DPU, segment on the destination).
  2. The VF is stopped and its device state (registers, ring indices and generation bits) is
     copied into the host's emulated vmxnet3: \`vnic.handoff\` with direction \`vf-to-emulated\`.
     The guest runs on and notices nothing.
  3. Memory is copied while the guest keeps writing to it, in \`vmotion.precopy.round\`s, until
     what is left fits the switchover goal (500 ms).
  4. \`vmotion.stun\`: the VM stops; the last pages, the firewall state (\`dfw.export\`) and the
     device state move. On the destination, \`dfw.import\` comes **before** \`vmotion.resume\`, so
     that no packet meets a filter without its connections.
  5. \`net.rarp\` tells the physical switches where the VM's MAC is now, and \`vnic.handoff\` with
     direction \`emulated-to-vf\` gives the vNIC a VF on the destination's DPU.
  6. \`vmotion.done\` with the result, \`switchoverNs\` (stun to resume) and \`downtimeNs\`.

  The starting scenario runs a TCP stream \`web-tcp\` and a ping \`web-ping\` from web-01 to web-02
  from 0.3 s to 4.5 s; the run ends at 5 s. Migrate web-01 from \`esx-01\` to \`esx-02\` under that
  load and follow each step in the event log (\`dpulab log DB --kind vmotion.* vnic.handoff\`) or
  in the app's event list and sequence chart.
scenario:
  name: passthrough-vmotion-start
  end: 5s
  steps:
    - { at: 300ms, action: flow.start, flow: { id: web-tcp, kind: tcp, from: web-01, to: web-02, ratePps: 200 } }
    - { at: 300ms, action: flow.start, flow: { id: web-ping, kind: ping, from: web-01, to: web-02, ratePps: 10 } }
    - { at: 4.5s, action: flow.stop, flow: web-tcp }
    - { at: 4.5s, action: flow.stop, flow: web-ping }
solution:
  name: passthrough-vmotion-solution
  end: 5s
  steps:
    - { at: 1s, action: vmotion, vm: web-01, to: esx-02 }
tasks:
  - id: migrate
    text: Migrate \`web-01\` to \`esx-02\` while its traffic runs.
    hints:
      - "A \`vmotion\` step moves a VM: \`{ at: 1s, action: vmotion, vm: web-01, to: esx-02 }\`. In the app, drag web-01 onto esx-02."
      - If it aborts, \`vmotion.done\` says why in \`reason\`.
    check:
      type: event
      kind: vmotion.done
      where: { vm: web-01, to: esx-02, result: success }
      show: [result, reason]
      fix: migrate web-01 to esx-02 with a vmotion step while the flows run
  - id: left-and-regained
    text: >-
      Find when \`web-01.eth0\` left passthrough on the source and when it regained it on the
      destination, and see the destination announce the VM's MAC.
    hints:
      - "\`vnic.handoff\` events carry the direction and the register snapshot that crossed over."
    check:
      - type: order
        first: { kind: vnic.handoff, where: { vm: web-01, direction: vf-to-emulated, host: esx-01 } }
        then: { kind: vnic.handoff, where: { vm: web-01, direction: emulated-to-vf, host: esx-02 } }
        fix: migrate web-01 to esx-02; its vNIC leaves its VF on esx-01 and gets one on esx-02
      - type: event
        kind: net.rarp
        where: { vm: web-01, host: esx-02 }
        fix: the destination announces web-01's MAC once the VM resumes there; migrate web-01 to esx-02
  - id: firewall-before-resume
    text: The destination's DPU imported web-01's firewall state before the VM resumed there.
    hints:
      - "\`dfw.import\` on \`dpu-02a\` (esx-02's active DPU), then \`vmotion.resume\`."
    check:
      type: order
      first: { kind: dfw.import, node: [dpu-02a, dpu-02b], where: { vm: web-01, ok: true } }
      then: { kind: vmotion.resume, where: { vm: web-01, host: esx-02 } }
      fix: migrate web-01 to esx-02; its firewall state must be imported on esx-02's DPU before it resumes
  - id: switchover
    text: The switchover (stun to resume) stayed within the 500 ms goal.
    hints:
      - "\`vmotion.done\` carries \`switchoverNs\`; the pre-copy rounds before it show how the remainder shrank."
    check:
      type: threshold
      measure: { name: switchover, vm: web-01 }
      max: 500ms
      fix: migrate web-01 to esx-02 with the default switchover goal
  - id: stream-survived
    text: The TCP stream survived the move with nothing lost, and was never reset.
    hints:
      - "The stream's final \`flow.report\` events count what was sent and delivered; TCP resends what the switchover dropped."
    check:
      - type: event
        kind: vmotion.done
        where: { vm: web-01, result: success }
        fix: migrate web-01 while web-tcp runs
      - type: threshold
        measure: { name: flow-loss, flow: web-tcp }
        max: 0
        fix: web-tcp must deliver every message; migrate early enough (before 3 s) for it to recover before it stops
      - type: no-event
        kind: flow.stop
        where: { flow: web-tcp, reason: { in: [reset, refused, timeout] } }
        show: [reason]
        fix: the connection died; its firewall state must follow the VM
`,
};
