/** Variants of the default lab that the multi-process tests run, written as topology YAML. */
import { parse, stringify } from 'yaml';
import { DEFAULT_LAB_YAML } from '../../shared/topology/load.js';

/** The parts of a topology file these variants change. */
type LabYaml = { hosts: Array<Record<string, unknown> & { id: string }>; dpus?: Array<{ id: string; host: string }>; wires: Array<{ id: string; a: string; b: string }> };

/**
 * A lab without DPUs: each host is cabled where its active DPU was (p0 to vmnic0, p1 to vmnic1)
 * and switches on x86; the standby DPUs' cables are gone. `yaml` is the default lab unless given.
 */
export function labWithoutDpus(yaml: string = DEFAULT_LAB_YAML): string {
  const lab = parse(yaml) as LabYaml;
  const activeOf = new Map<string, string>();
  for (const host of lab.hosts) {
    const failover = host.failover as { active: string[] } | undefined;
    activeOf.set(failover?.active[0] ?? lab.dpus!.filter((d) => d.host === host.id).map((d) => d.id).sort()[0]!, host.id);
    delete host.failover;
    host.uplinks = ['vmnic0', 'vmnic1'];
  }
  delete lab.dpus;
  lab.wires = lab.wires.flatMap((w) => {
    const [node, port] = w.a.split(':') as [string, string];
    if (!node.startsWith('dpu-')) return [w];
    const host = activeOf.get(node);
    return host ? [{ ...w, a: `${host}:${port === 'p0' ? 'vmnic0' : 'vmnic1'}` }] : [];
  });
  return stringify(lab);
}
