/**
 * The scenario that runs with the default lab when no scenario file is given: traffic across
 * the overlay between hosts, inter-VM traffic on one host (hairpin through the DPU), routed
 * traffic between segments, firewall rules that allow two services and reject one, a DPU that
 * dies and comes back, and a vMotion of a passthrough VM under load.
 */

/** The file name the default scenario is reported under. */
export const DEFAULT_SCENARIO_FILE = 'default-scenario.yaml';

/** The default scenario for the default lab (see `shared/topology/default-lab.ts`). */
export const DEFAULT_SCENARIO_YAML = `# default-scenario.yaml: what happens to the default lab when you give dpulab no scenario.
#
# Each step runs at a virtual time ('at'); steps at the same time run in file order.
# Actions: flow.start / flow.stop (guest apps), dfw.rule.add / dfw.rule.remove (the management
# plane pushes firewall rules to every DPU), vnic.mode, vm.reserve, vmotion, link (wire up/down),
# kill and restart (a node's process), dpu.failover, traceflow, note (a mark on the timeline).

name: default
end: 4s            # the run ends here unless --until overrides it

steps:
  # The web tier may not open TCP 5201 on the database: rejected with a TCP reset.
  - at: 200ms
    action: dfw.rule.add
    rule: { id: web-to-db-5201, priority: 100, sources: [web-01, web-02], destinations: [db-01], service: { protocol: tcp, destinationPorts: [5201] }, action: reject }
  # What web-01 may do: its TCP stream to web-02 and its ping to app-01. These rules judge each
  # connection once; after that its connection entry carries it, also across the vMotion below.
  - at: 200ms
    action: dfw.rule.add
    rule: { id: web-01-stream, priority: 50, sources: [web-01], destinations: [web-02], service: { protocol: tcp, destinationPorts: [5201] }, action: allow }
  - at: 200ms
    action: dfw.rule.add
    rule: { id: web-01-ping, priority: 50, sources: [web-01], destinations: [app-01], service: { protocol: icmp }, action: allow }

  # Overlay between hosts: web-01 (esx-01) to web-02 (esx-02), both UPTv2.
  - { at: 500ms, action: flow.start, flow: { id: web-tcp, kind: tcp, from: web-01, to: web-02, ratePps: 200 } }
  - { at: 500ms, action: flow.start, flow: { id: web-ping, kind: ping, from: web-01, to: app-01, ratePps: 10 } }
  # Same host: app-01 to db-01 on esx-01 hairpins through dpu-01a; the ping is routed there too.
  - { at: 500ms, action: flow.start, flow: { id: app-db-udp, kind: udp, from: app-01, to: db-01, ratePps: 100 } }
  # Routed: web-02 (web segment) to app-01 (app segment) through the distributed router.
  - { at: 500ms, action: flow.start, flow: { id: web-app-tcp, kind: tcp, from: web-02, to: app-01, ratePps: 100 } }
  # Blocked by the rule above.
  - { at: 1s, action: flow.start, flow: { id: web-db-blocked, kind: tcp, from: web-02, to: db-01, ratePps: 10 } }

  - { at: 1s, action: note, text: "steady state: flows running, web-db-blocked rejected" }

  # esx-02's active DPU dies (its process is killed): the host misses 3 heartbeats, fails over to
  # dpu-02b, which takes the vNICs, the tunnel endpoint and the synced connection table; the TCP
  # flows to and from web-02 carry on. Later dpu-02a boots again and rejoins as standby.
  - { at: 1.2s, action: kill, node: dpu-02a }
  - { at: 2s, action: restart, node: dpu-02a }

  # vMotion of web-01 (UPTv2) to esx-02 while its TCP stream and its ping run: the VF hands its
  # state to the hypervisor's emulated vmxnet3, memory is pre-copied across the network, the VM is
  # stunned, its firewall state moves to dpu-02b before it resumes there, esx-02 announces it
  # (RARP) and hands the vNIC to a dpu-02b VF: passthrough again. See docs/vmotion.md.
  - { at: 2.2s, action: vmotion, vm: web-01, to: esx-02 }
  # A new connection from the moved VM is judged by the rules on its new DPU: rejected.
  - { at: 3.2s, action: flow.start, flow: { id: web01-db-after-move, kind: tcp, from: web-01, to: db-01, ratePps: 10 } }
  - { at: 3.6s, action: flow.stop, flow: web-tcp }

  # Try these next (uncomment):
  # - { at: 1s, action: link, wire: up-01a-a, state: down }    # dpu-01a loses its tor-a uplink
  # - { at: 1.5s, action: link, wire: up-01a-a, state: up }
  # - { at: 2s, action: dpu.failover, host: esx-01 }           # ask esx-01 to fail over
`;
