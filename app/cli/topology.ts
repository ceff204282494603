/**
 * `dpulab topology show [default]`: prints the embedded default lab's YAML, the topology a bare
 * `dpulab run` uses, as a start for a topology file of one's own.
 */
import type { Command } from 'commander';
import { DEFAULT_LAB_YAML } from '../../shared/topology/load.js';
import { CliError } from './errors.js';

/** The built-in topologies by name: only the default lab for now. */
const BUILTIN_TOPOLOGIES: Readonly<Record<string, string>> = { default: DEFAULT_LAB_YAML };

function showCommand(name: string): void {
  const yaml = BUILTIN_TOPOLOGIES[name];
  if (yaml === undefined) throw new CliError(`No built-in topology ${name} (built-in: ${Object.keys(BUILTIN_TOPOLOGIES).join(', ')})`);
  process.stdout.write(yaml.endsWith('\n') ? yaml : `${yaml}\n`);
}

/** Fills in the `topology` command and its subcommands (from `program.command('topology')`, to inherit its settings). */
export function topologyCommand(topology: Command): Command {
  topology.description('Built-in topologies');
  topology
    .command('show')
    .description('Print a built-in topology as YAML (the default lab, with comments): `dpulab topology show > mine.yaml`, edit, `dpulab run mine.yaml`')
    .argument('[name]', 'built-in topology', 'default')
    .action(showCommand);
  return topology;
}
