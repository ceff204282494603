/**
 * The scenario that runs with the default lab when no scenario file is given: a quiet run,
 * long enough for heartbeats, LLDP and MAC learning to settle, with commented examples of the
 * disruptive steps to try next.
 */

/** The file name the default scenario is reported under. */
export const DEFAULT_SCENARIO_FILE = 'default-scenario.yaml';

/** The default scenario for the default lab (see `shared/topology/default-lab.ts`). */
export const DEFAULT_SCENARIO_YAML = `# default-scenario.yaml: what happens to the default lab when you give dpulab no scenario.
#
# Each step runs at a virtual time ('at'); steps at the same time run in file order.
# Actions: link (wire up/down), kill (a node's process), note (a mark on the timeline).

name: default
end: 3s            # the run ends here unless --until overrides it

steps:
  - { at: 1s, action: note, text: "steady state: every DPU up, heartbeats answered" }

  # Try these next (uncomment):
  # - { at: 1s, action: link, wire: up-01a-a, state: down }    # dpu-01a loses its tor-a uplink
  # - { at: 1.5s, action: link, wire: up-01a-a, state: up }
  # - { at: 2s, action: kill, node: dpu-02a }                  # esx-02 fails over to dpu-02b
`;
