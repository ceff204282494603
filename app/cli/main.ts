/**
 * `dpulab`: the headless command line, the contract every test and script relies on.
 *
 * Exit codes: 0 success; 1 the run or check did not pass (a node crashed, a replay diverged);
 * 2 bad input (usage, a topology, scenario or database that cannot be used).
 */
import { Command, CommanderError, Option } from 'commander';
import { DPULAB_VERSION } from '../../processes/controller/package-root.js';
import { collect, integer, nonNegative, nonNegativeInteger, port, positive, positiveInteger } from './options.js';
import { FAULT_KINDS } from '../../processes/controller/explore/fault-kinds.js';

// Each subcommand is loaded when it runs (the bundle keeps each in a chunk of its own): the
// command line is parsed with commander alone, and `dpulab log` never loads the controller.
/** A subcommand's action; commander hands it the arguments and flags it parsed. */
type Action = (...args: never[]) => void | Promise<void>;

/** An action that loads its module first. */
function lazy(load: () => Promise<Action>): (...args: unknown[]) => Promise<void> {
  return async (...args) => {
    const action = (await load()) as (...parsed: unknown[]) => void | Promise<void>;
    await action(...args);
  };
}

// A reader that goes away (`dpulab log DB | head`) is not an error: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const program = new Command()
  .name('dpulab')
  .description('Emulates x86 hypervisor hosts with DPUs: one OS process per box, ZeroMQ wires, a replayable SQLite event log')
  .version(DPULAB_VERSION)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('run')
  .description('Run a topology (the embedded default lab when none is given) and record every event')
  .argument('[topology]', 'topology YAML file')
  .option('--scenario <file>', 'scenario YAML file (default: the default lab scenario, or none)')
  .option('--seed <n>', 'seed of every random stream', integer, 1)
  .option('--db <file>', 'event log to write (default: runs/<topology>-seed<n>-<time>.db)')
  .option('--overwrite', 'replace an existing dpulab event log at --db')
  .option('--until <duration>', 'end the run at this virtual time (e.g. 2s, 500ms)')
  .option('--in-process', 'run every node core in this process instead of one process per node')
  .option('--realtime', 'pace virtual time to the wall clock')
  .addOption(new Option('--speed <factor>', 'with --realtime: virtual seconds per wall second').argParser(positive).default(1))
  .option('--json', 'print one JSON object on stdout, last')
  .option('--capture <id>', 'write the pcapng of this wire or vNIC (up-01a-a, web-01.eth0) as the run goes, to the -o FILE after it (repeatable)', collect, [])
  .option('-o, --output <file>', 'with --capture: the pcapng file of the capture before it', collect, [])
  .action(lazy(async () => (await import('./run.js')).runCommand));

program
  .command('replay')
  .description('Re-execute a recorded run from its seed and inputs and compare it event by event')
  .argument('<db>', 'event log')
  .option('--verify', 'compare with the recording (the only mode for now; implied)')
  .option('--in-process', 're-execute in one process whatever mode the run was recorded in')
  .option('--multi-process', 're-execute with one process per node whatever mode the run was recorded in')
  .option('--json', 'print one JSON object on stdout, last')
  .action(lazy(async () => (await import('./replay.js')).replayCommand));

program
  .command('log')
  .description('Show the events of a recorded run')
  .argument('<db>', 'event log')
  .option('--kind <kinds...>', 'event kinds, exact or prefix.* (e.g. lldp.* node.exit)')
  .option('--node <nodes...>', 'node ids')
  .option('--from <time>', 'from this virtual time (e.g. 1s)')
  .option('--to <time>', 'before this virtual time')
  .option('--limit <n>', 'at most this many events', integer)
  .option('--json', 'one JSON object per line, payload decoded')
  .action(lazy(async () => (await import('./log.js')).logCommand));

program
  .command('pcap')
  .description("Export as pcapng the frames a wire carried (one interface per direction), or what a guest sent and received on a vNIC")
  .argument('<db>', 'event log')
  .option('--wire <id>', 'wire id (see dpulab log DB --kind frame.tx, or the topology)')
  .option('--vnic <id>', "vNIC id (web-01.eth0): the guest's frames, from the pcie dma channel")
  .requiredOption('-o, --output <file>', 'pcapng file to write')
  .action(lazy(async () => (await import('./pcap.js')).pcapCommand));

program
  .command('capture')
  .description("Stream a wire's frames, or what a guest sent and received on a vNIC, as pcapng from a running dpulab ui, while the run goes")
  .argument('<url>', 'the address dpulab ui printed, with its token (http://127.0.0.1:PORT/?token=...)')
  .option('--wire <id>', 'wire id (up-01a-a)')
  .option('--vnic <id>', "vNIC id (web-01.eth0): the guest's frames")
  .option('-o, --output <file>', 'pcapng file to write (default: stdout, e.g. | wireshark -k -i -)')
  .action(lazy(async () => (await import('./capture.js')).captureCommand));

program
  .command('ui')
  .description('Serve the browser UI on 127.0.0.1: a live run of the lab, or a recorded run with --db')
  .argument('[topology]', 'topology YAML file (live mode; default: the embedded default lab)')
  .addOption(new Option('--port <n>', 'port on 127.0.0.1 (0: any free port)').argParser(port).default(7878))
  .option('--db <file>', 'open a recorded run read-only instead of starting one')
  .option('--record <file>', 'live mode: event log to write (default: runs/<topology>-seed<n>-ui-<time>.db)')
  .option('--overwrite', 'live mode: replace an existing dpulab event log at --record')
  .option('--scenario <file>', 'live mode: scenario YAML file (default: the default lab scenario)')
  .option('--seed <n>', 'live mode: seed of every random stream', integer, 1)
  .option('--until <duration>', 'live mode: end the run at this virtual time (default: the scenario end, at least 30s)')
  .option('--paused', 'live mode: hold virtual time at 0 until resumed (default: it starts when the first page opens)')
  .option('--in-process', 'live mode: run every node core in this process instead of one process per node')
  .addOption(new Option('--speed <factor>', 'live mode: virtual seconds per wall second (0: as fast as possible)').argParser(nonNegative).default(1))
  .option('--lab <lab>', 'start in a lab (built-in name or lab file), paused at 0; with --db, grade the recording against it')
  .addOption(new Option('--ipc', 'serve the desktop shell that started this process over IPC instead of HTTP').hideHelp())
  .action(lazy(async () => (await import('./ui.js')).uiCommand));

program
  .command('explore')
  .description('Run seeded fault schedules, check every invariant on each run, save and shrink the failing ones')
  .argument('[topology]', 'topology YAML file (default: the embedded default lab)')
  .option('--runs <n>', 'number of runs', positiveInteger, 20)
  .option('--seed <n>', 'seed of the first run; run i uses seed + i', integer, 1)
  .option('--faults <list>', `fault kinds to draw, comma-separated (${FAULT_KINDS.join(', ')}; default all)`)
  .option('--jobs <n>', 'child processes running runs in parallel', positiveInteger, 1)
  .option('--out <dir>', 'where failing and shrunk scenarios go (default: runs/explore-seed<n>-<time>)')
  .option('--multi-process', 'one process per node in every run, instead of every core in one process')
  .option('--no-shrink', 'save failing runs without shrinking them')
  .option('--shrink-budget <n>', 'most runs shrinking one failure may take', positiveInteger, 120)
  .option('--json', 'print one JSON object on stdout, last')
  .action(lazy(async () => (await import('./explore.js')).exploreCommand));

const lab = program.command('lab').description('Lab exercises: a topology, a starting scenario and tasks checked on the event log');
lab
  .command('list')
  .description('List the built-in labs')
  .option('--json', 'one JSON object')
  .action(lazy(async () => (await import('./lab.js')).listCommand));
lab
  .command('show')
  .description("Print a lab's file (a built-in lab's YAML, to read or adapt)")
  .argument('<lab>', 'built-in lab name or lab file')
  .action(lazy(async () => (await import('./lab.js')).showCommand));
lab
  .command('run')
  .description('Run a lab: its starting scenario plus the steps of --scenario (or of its --solution), then grade the run')
  .argument('<lab>', 'built-in lab name or lab file')
  .option('--solution', "add the lab's reference solution to the starting scenario")
  .option('--scenario <file>', 'scenario whose steps are added to the starting scenario (the run lasts until the later end)')
  .option('--seed <n>', "seed of every random stream (default: the lab's)", nonNegativeInteger)
  .option('--db <file>', 'event log to write (default: runs/lab-<name>-seed<n>-<time>.db)')
  .option('--overwrite', 'replace an existing dpulab event log at --db')
  .option('--in-process', 'run every node core in this process instead of one process per node')
  .option('--json', 'print one JSON object on stdout, last: the run summary and the grade')
  .action(lazy(async () => (await import('./lab.js')).runCommand));
lab
  .command('check')
  .description("Grade a recorded run against a lab's tasks (exit 0 when every task passes); a log that was altered or is not a run of the lab is refused (exit 1)")
  .argument('<lab>', 'built-in lab name or lab file')
  .argument('[db]', 'event log of the run')
  .option('--all <dir>', "grade every event log (*.db) in a directory: a class's submissions")
  .option('--csv', 'with --all: one CSV row per submission')
  .option('--json', 'one JSON object: every task with its status and why')
  .action(lazy(async () => (await import('./lab.js')).checkCommand));

program
  .command('topology')
  .description('Built-in topologies')
  .command('show')
  .description('Print a built-in topology as YAML (the default lab, with comments): dpulab topology show > mine.yaml, edit, dpulab run mine.yaml')
  .argument('[name]', 'built-in topology', 'default')
  .action(lazy(async () => (await import('./topology.js')).showCommand));

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : 2;
  } else {
    const { exitCodeFor, reportError } = await import('./errors.js');
    reportError(error);
    process.exitCode = exitCodeFor(error);
  }
}
