/**
 * Built-in lab "Micro-segmentation follows the VM":
 * firewall rules and connection state that follow a migrating VM.
 * The text is the lab file as a teacher writes one; `dpulab lab show microsegmentation` prints it.
 */

import type { BuiltinLab } from './types.js';

export const MICROSEGMENTATION_LAB: BuiltinLab = {
  name: 'microsegmentation',
  file: 'microsegmentation.yaml',
  yaml: `# microsegmentation.yaml: the firewall state follows the VM.
name: microsegmentation
title: Micro-segmentation follows the VM
introduction: |
  Every vNIC has its own stateful firewall filter, run by the DPU that serves it. Rules say which
  new connections may open; the connection table lets the packets of an established connection
  through without consulting the rules again (\`docs/dfw.md\`).

  When a VM moves to another host, its filter moves with it: the source DPU exports the rules
  and every connection entry with its state and remaining timeout (\`dfw.export\`), the
  destination DPU imports them (\`dfw.import\`) before the VM resumes. Established sessions keep
  flowing without a new rule lookup, and new connections are judged by the destination's
  rules.

  The starting scenario runs a TCP stream \`web-tcp\` from \`web-01\` to \`web-02\` (port 5201) from
  0.3 s to 4.5 s. At 3.5 s, web-01 tries to open a new TCP connection to \`db-01\` on port 5201
  (\`db-probe\`). The run ends at 5 s. Nothing forbids it yet: the default rule allows everything.

  Write the rule, move web-01 to \`esx-02\`, and show that the old session survived while the new
  one was refused by the destination's DPU.
scenario:
  name: microsegmentation-start
  end: 5s
  steps:
    - { at: 300ms, action: flow.start, flow: { id: web-tcp, kind: tcp, from: web-01, to: web-02, ratePps: 200 } }
    - { at: 3.5s, action: flow.start, flow: { id: db-probe, kind: tcp, from: web-01, to: db-01, ratePps: 10 } }
    - { at: 4.5s, action: flow.stop, flow: web-tcp }
solution:
  name: microsegmentation-solution
  end: 5s
  steps:
    - at: 500ms
      action: dfw.rule.add
      rule: { id: web-01-not-db, priority: 100, sources: [web-01], destinations: [db-01], service: { protocol: tcp, destinationPorts: [5201] }, action: reject }
    - { at: 1s, action: vmotion, vm: web-01, to: esx-02 }
tasks:
  - id: rule
    text: Push a firewall rule that forbids \`web-01\` to open TCP port 5201 on \`db-01\`, and only that.
    hints:
      - "A \`dfw.rule.add\` step pushes a rule to every DPU: sources, destinations, service \`{ protocol: tcp, destinationPorts: [5201] }\`, action \`drop\` or \`reject\`."
      - "The rule must not catch \`web-tcp\` (web-01 to web-02), which is already open anyway."
    check:
      type: event
      kind: dfw.rule.hit
      where: { src: 10.0.1.11, dst: 10.0.2.21, dport: 5201, action: [drop, reject] }
      show: [rule, action]
      fix: push a dfw.rule.add that drops or rejects TCP 5201 from web-01 to db-01 before db-probe starts at 3.5 s
  - id: move
    text: Migrate \`web-01\` to \`esx-02\` while \`web-tcp\` runs; its firewall state goes with it.
    hints:
      - "A \`vmotion\` step, or drag web-01 onto esx-02 in the app."
    check:
      - type: event
        kind: vmotion.done
        where: { vm: web-01, to: esx-02, result: success }
        show: [result, reason]
        fix: migrate web-01 to esx-02 with a vmotion step before 3.5 s
      - type: order
        first: { kind: dfw.export, node: dpu-01a, where: { vm: web-01 } }
        then: { kind: dfw.import, node: [dpu-02a, dpu-02b], where: { vm: web-01, ok: true } }
        fix: migrate web-01 to esx-02; dpu-01a exports its filter and esx-02's DPU imports it
  - id: session-survived
    text: The established \`web-tcp\` session survived the move, lost nothing, and was not judged by the rules again on the destination.
    hints:
      - "A packet of a tracked connection never causes \`dfw.rule.hit\`: only the first packet of a new connection does."
    check:
      - type: event
        kind: vmotion.done
        where: { vm: web-01, result: success }
        fix: migrate web-01 while web-tcp runs
      - type: threshold
        measure: { name: flow-loss, flow: web-tcp }
        max: 0
        fix: web-tcp must deliver every message; do not block web-01 to web-02, and migrate before 3.5 s
      - type: no-event
        kind: dfw.rule.hit
        node: [dpu-02a, dpu-02b]
        where: { vnic: web-01.eth0, dst: 10.0.1.12, dport: 5201 }
        show: [rule, action]
        fix: the established session was judged again on the destination, so its connection entry did not move with web-01
  - id: refused-on-destination
    text: The new connection to \`db-01\` at 3.5 s was refused by the rule on esx-02's DPU, where web-01 now runs.
    hints:
      - "\`dfw.rule.hit\` names the DPU that judged a packet (its node) and the rule."
    check:
      type: event
      kind: dfw.rule.hit
      node: [dpu-02a, dpu-02b]
      where: { vnic: web-01.eth0, dst: 10.0.2.21, dport: 5201, action: [drop, reject] }
      show: [rule, action]
      fix: db-probe (at 3.5 s) must be refused on esx-02's DPU; push the rule and migrate web-01 before then
`,
};
