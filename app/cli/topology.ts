/**
 * `dpulab topology show [default]`: prints the embedded default lab's YAML, the topology a bare
 * `dpulab run` uses, as a start for a topology file of one's own.
 */
import { DEFAULT_LAB_YAML } from '../../shared/topology/load.js';
import { CliError } from './errors.js';

/** The built-in topologies by name: only the default lab for now. */
const BUILTIN_TOPOLOGIES: Readonly<Record<string, string>> = { default: DEFAULT_LAB_YAML };

/** `dpulab topology show [NAME]`: a built-in topology's YAML on stdout; exit 2 naming the built-in ones for another name. */
export function showCommand(name: string): void {
  const yaml = BUILTIN_TOPOLOGIES[name];
  if (yaml === undefined) throw new CliError(`No built-in topology ${name} (built-in: ${Object.keys(BUILTIN_TOPOLOGIES).join(', ')})`);
  process.stdout.write(yaml.endsWith('\n') ? yaml : `${yaml}\n`);
}
