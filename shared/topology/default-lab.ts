/**
 * The default lab, embedded so that `dpulab` runs with no files at all and so that the browser
 * UI can show it without a file system. It doubles as the annotated example of the format.
 */

/** The file name the default lab is reported under in messages and recorded runs. */
export const DEFAULT_LAB_FILE = 'default-lab.yaml';

/**
 * Two ESXi-style hosts, each with an active and a standby DPU, dual-homed to two top-of-rack
 * switches, running a few VMs on two overlay segments.
 */
export const DEFAULT_LAB_YAML = `# default-lab.yaml: the lab dpulab runs when you give it no topology file.
#
#          tor-a swp8 ============ swp8 tor-b        (inter-switch link)
#      swp1..swp4 |                      | swp1..swp4
#                 +-- p0 of every DPU    +-- p1 of every DPU
#
#        dpu-01a   dpu-01b            dpu-02a   dpu-02b
#            |       |                |       |          (PCIe, implicit)
#            +-esx-01+                +-esx-02+
#
# Every DPU has two uplinks, p0 to tor-a and p1 to tor-b. Each host has one active and one
# standby DPU: if the active DPU dies, the standby takes over its VMs' network offload.
#
# Out of band, every host's management NIC and every DPU's RJ-45 management port is cabled to
# vcenter (implicit wires mgmt-<node>), the management plane: it keeps the inventory, pushes the
# overlay's MAC-to-tunnel-endpoint table to every DPU and decides every vMotion's switchover.
# Durations take a unit (100ns, 5us, 200ms, 1.5s, 2m); bandwidths are bits per second (25Gbps).

name: default-lab

# Logical networks the VMs attach to. Overlay segments are carried in GENEVE between the
# DPUs' tunnel endpoints (the VNI tells them apart); the gateways are the distributed router,
# present on every DPU, so traffic between web and app is routed without leaving the host.
segments:
  - id: web
    kind: overlay
    vni: 5001
    ipv4Subnet: 10.0.1.0/24
    ipv6Subnet: fd00:1::/64
    gateway4: 10.0.1.1
    gateway6: fd00:1::1
  - id: app
    kind: overlay
    vni: 5002
    ipv4Subnet: 10.0.2.0/24
    ipv6Subnet: fd00:2::/64
    gateway4: 10.0.2.1
    gateway6: fd00:2::1

# The x86 servers. A host's NICs are its DPUs (listed under dpus: below); the host reaches
# each over an implicit PCIe wire named pcie-<dpu>.
hosts:
  - id: esx-01
    x86Cores: 32
    # The host declares a DPU dead after 'misses' heartbeats in a row go unanswered.
    heartbeat: { interval: 100ms, misses: 3 }
    # DPU high availability: all uplinks active on one DPU, the other stands by.
    failover: { active: [dpu-01a], standby: [dpu-01b] }
    vms:
      # UPTv2 (Uniform Passthrough) gives the guest's vmxnet3 a passthrough datapath to the
      # DPU. It needs hardware version 20, driver 7 and memory fully reserved, which the
      # defaults give; each is spelled out on web-01 for reference.
      - id: web-01
        vcpus: 2
        memoryMiB: 2048
        memoryReservationMiB: 2048
        hardwareVersion: 20
        driverVersion: 7
        dirtyPagesPerSec: 1000        # guest pages written per second: drives vMotion pre-copy
        vnics:
          - { segment: web, ipv4: 10.0.1.11/24, ipv6: fd00:1::11/64, mode: uptv2 }
      - id: app-01
        vcpus: 4
        memoryMiB: 8192
        dirtyPagesPerSec: 3000
        vnics:
          - { segment: app, ipv4: 10.0.2.11/24, ipv6: fd00:2::11/64, mode: uptv2 }
      # MUX mode: the hypervisor multiplexes the VNIC onto the DPU; offloaded, not passthrough.
      - id: db-01
        vcpus: 8
        memoryMiB: 16384
        dirtyPagesPerSec: 8000
        vnics:
          - { segment: app, ipv4: 10.0.2.21/24, ipv6: fd00:2::21/64, mode: mux }

  - id: esx-02
    x86Cores: 32
    # No failover block: the first of its DPUs by id (dpu-02a) is active, the others standby.
    vms:
      - id: web-02
        vcpus: 2
        memoryMiB: 4096
        vnics:
          - { segment: web, ipv4: 10.0.1.12/24, ipv6: fd00:1::12/64, mode: uptv2 }
      # Asks for UPTv2 but only half its memory is reserved: passthrough stays inactive and the
      # vNIC runs emulated (the classic path through the hypervisor), with the reason logged.
      - id: app-02
        vcpus: 4
        memoryMiB: 8192
        memoryReservationMiB: 4096
        dirtyPagesPerSec: 3000
        vnics:
          - { segment: app, ipv4: 10.0.2.12/24, ipv6: fd00:2::12/64, mode: uptv2 }

# The SmartNICs. Defaults: model bluefield-2, 8 Arm cores, uplinks [p0, p1]. Each DPU also has
# a pcie port, wired to its host implicitly.
dpus:
  - { id: dpu-01a, host: esx-01, model: bluefield-2, armCores: 8, uplinks: [p0, p1] }
  - { id: dpu-01b, host: esx-01 }
  - { id: dpu-02a, host: esx-02 }
  - { id: dpu-02b, host: esx-02 }

# The management plane (vCenter with NSX Manager): a process of its own, at the other end of a
# management cable from every host and DPU. Defaults: latency 20us, bandwidth 1Gbps.
manager: { id: vcenter }

# Physical top-of-rack switches. 'ports: 8' means swp1..swp8. MAC aging defaults to 300s.
switches:
  - { id: tor-a, ports: 8 }
  - { id: tor-b, ports: 8 }

# Ethernet cables, 'node:port' at each end. Defaults: latency 5us, bandwidth 25Gbps, and no
# impairments (loss, corrupt, duplicate, jitter) - add them here or flip links in a scenario.
wires:
  - { id: up-01a-a, a: dpu-01a:p0, b: tor-a:swp1 }
  - { id: up-01a-b, a: dpu-01a:p1, b: tor-b:swp1 }
  - { id: up-01b-a, a: dpu-01b:p0, b: tor-a:swp2 }
  - { id: up-01b-b, a: dpu-01b:p1, b: tor-b:swp2 }
  - { id: up-02a-a, a: dpu-02a:p0, b: tor-a:swp3 }
  - { id: up-02a-b, a: dpu-02a:p1, b: tor-b:swp3 }
  - { id: up-02b-a, a: dpu-02b:p0, b: tor-a:swp4 }
  - { id: up-02b-b, a: dpu-02b:p1, b: tor-b:swp4 }
  # Inter-switch link, so that traffic can cross between the two fabrics.
  - { id: isl-ab, a: tor-a:swp8, b: tor-b:swp8, latency: 1us, bandwidth: 100Gbps }
`;
