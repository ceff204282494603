/**
 * A generated topology of 100 nodes for the start-up benchmark: 32 hosts (`esx-01`..`esx-32`),
 * each with an active DPU (`dpu-NNa`) and a standby DPU (`dpu-NNb`), and 4 switches.
 *
 *   sw1 ---- sw2        every a-DPU: p0 to sw1, p1 to sw2
 *    |        |         every b-DPU: p0 to sw3, p1 to sw4
 *   sw4 ---- sw3        switches joined in a ring on their last two ports
 *
 * No VMs: the benchmark measures process start-up, not traffic.
 */

/** Hosts in the generated topology; each brings two DPUs. */
export const BIG_HOSTS = 32;
/** Switches in the generated topology. */
export const BIG_SWITCHES = 4;
/** Nodes the generated topology resolves to: hosts, their DPUs and the switches. */
export const BIG_NODES = BIG_HOSTS * 3 + BIG_SWITCHES;

const two = (n: number): string => String(n).padStart(2, '0');

/** The topology YAML text: 32 dual-DPU hosts, 4 switches in a ring, every DPU dual-homed. */
export function bigTopologyYaml(): string {
  // Ports 1..32 face the DPUs; ports 33 and 34 join the ring.
  const ringPortA = BIG_HOSTS + 1;
  const ringPortB = BIG_HOSTS + 2;
  const lines: string[] = ['name: bench-100', '', 'hosts:'];
  for (let h = 1; h <= BIG_HOSTS; h++) {
    const nn = two(h);
    lines.push(`  - { id: esx-${nn}, failover: { active: [dpu-${nn}a], standby: [dpu-${nn}b] } }`);
  }
  lines.push('', 'dpus:');
  for (let h = 1; h <= BIG_HOSTS; h++) {
    const nn = two(h);
    lines.push(`  - { id: dpu-${nn}a, host: esx-${nn} }`, `  - { id: dpu-${nn}b, host: esx-${nn} }`);
  }
  lines.push('', 'switches:');
  for (let s = 1; s <= BIG_SWITCHES; s++) lines.push(`  - { id: sw${s}, ports: ${ringPortB} }`);
  lines.push('', 'wires:');
  for (let h = 1; h <= BIG_HOSTS; h++) {
    const nn = two(h);
    lines.push(
      `  - { id: up-${nn}a-0, a: dpu-${nn}a:p0, b: sw1:swp${h} }`,
      `  - { id: up-${nn}a-1, a: dpu-${nn}a:p1, b: sw2:swp${h} }`,
      `  - { id: up-${nn}b-0, a: dpu-${nn}b:p0, b: sw3:swp${h} }`,
      `  - { id: up-${nn}b-1, a: dpu-${nn}b:p1, b: sw4:swp${h} }`,
    );
  }
  for (let s = 1; s <= BIG_SWITCHES; s++) {
    const next = (s % BIG_SWITCHES) + 1;
    lines.push(`  - { id: ring-${s}-${next}, a: sw${s}:swp${ringPortA}, b: sw${next}:swp${ringPortB} }`);
  }
  return `${lines.join('\n')}\n`;
}
