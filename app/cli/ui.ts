import { dirname, join } from 'node:path';
import { fileNamePart } from '../../shared/file-name.js';
import { prepareRun, startRun } from '../../processes/controller/session.js';
import { parseDuration } from '../../shared/units.js';
import { LabSessions } from '../server/lab-sessions.js';
import { LiveSession } from '../server/live-session.js';
import { ReplaySession } from '../server/replay-session.js';
import { startUiServer, type UiServer } from '../server/http-server.js';
import { parentChannel, startIpcServer } from '../server/ipc-server.js';
import type { UiSession } from '../server/session.js';
import { CliError } from './errors.js';
import { readSource } from './run.js';

/**
 * A live run in the UI lasts at least this long unless `--until` says otherwise: half a minute of
 * virtual time to look around, pause and act (pausing stops it), without a forgotten tab writing
 * hundreds of MB: the default lab records about 51 MB in 30 virtual seconds (92 MB in 60).
 */
export const DEFAULT_UI_RUN_NS = 30 * 1_000_000_000;

interface UiFlags {
  port: number;
  db?: string;
  record?: string;
  overwrite?: boolean;
  scenario?: string;
  seed: number;
  until?: string;
  inProcess?: boolean;
  speed: number;
  /** Hold virtual time at 0 until resumed, instead of until the first page opens. */
  paused?: boolean;
  lab?: string;
  ipc?: boolean;
}

function defaultRecordPath(topology: string, seed: number): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return join(process.cwd(), 'runs', `${fileNamePart(topology)}-seed${seed}-ui-${stamp}-${process.pid}.db`);
}

function liveSession(topologyPath: string | undefined, flags: UiFlags): UiSession {
  let untilNs: number | undefined;
  if (flags.until !== undefined) {
    try {
      untilNs = parseDuration(flags.until);
    } catch (error) {
      throw new CliError(`--until ${flags.until}: ${(error as Error).message}`);
    }
  }
  const scenario = flags.scenario ? readSource(flags.scenario, 'scenario') : undefined;
  const prepared = prepareRun({
    ...(topologyPath ? { topology: readSource(topologyPath, 'topology') } : {}),
    ...(scenario ? { scenario } : {}),
    seed: flags.seed,
    ...(untilNs !== undefined ? { untilNs } : {}),
  });
  const db = flags.record ?? defaultRecordPath(prepared.topology.name, prepared.seed);
  const run = startRun(
    {
      db,
      overwrite: flags.overwrite ?? false,
      mode: flags.inProcess ? 'in-process' : 'multi-process',
      readWhileRunning: true,
      ...(flags.speed > 0 ? { pace: { speed: flags.speed } } : {}),
      log: (line) => process.stderr.write(`${line}\n`),
    },
    untilNs === undefined ? { ...prepared, endNs: Math.max(prepared.endNs, DEFAULT_UI_RUN_NS) } : prepared,
  );
  process.on('exit', () => run.killNow());
  process.stderr.write(`dpulab ui: recording to ${db}\n`);
  // Nothing plays before anyone looks: time starts when the first page opens (or on resume).
  return new LiveSession(run, flags.speed, flags.paused ? 'paused' : 'first-client');
}

/**
 * `dpulab ui`: serves the browser UI on 127.0.0.1, over a live run of the lab (the default) or a
 * recorded run (`--db`). Runs until SIGINT or SIGTERM (or until the process that forked it goes
 * away), then stops the run and closes every socket.
 */
export async function uiCommand(topologyPath: string | undefined, flags: UiFlags): Promise<void> {
  if (flags.db !== undefined && (topologyPath !== undefined || flags.scenario !== undefined || flags.record !== undefined || flags.until !== undefined || flags.paused)) {
    throw new CliError('--db opens a recorded run: it takes no topology, --scenario, --record, --until or --paused');
  }
  if (flags.lab !== undefined && (topologyPath !== undefined || flags.scenario !== undefined)) {
    throw new CliError('--lab runs the topology and starting scenario of the lab: it takes no topology or --scenario');
  }
  // Any session can give way to a lab run (or, over a recording, grade it against a lab).
  const labRuns = {
    mode: flags.inProcess ? ('in-process' as const) : ('multi-process' as const),
    speed: flags.speed,
    dir: flags.record !== undefined ? dirname(flags.record) : join(process.cwd(), 'runs'),
    ...(flags.lab !== undefined && flags.record !== undefined ? { firstDb: flags.record } : {}),
    log: (line: string) => process.stderr.write(`${line}\n`),
  };
  const initial: UiSession | null = flags.db !== undefined ? new ReplaySession(flags.db) : flags.lab !== undefined ? null : liveSession(topologyPath, flags);
  const session = new LabSessions(initial, labRuns, flags.db ?? null);
  if (flags.lab !== undefined) {
    try {
      await session.open(flags.lab);
    } catch (error) {
      await session.close();
      throw error;
    }
  }
  let server: { close(): Promise<void> | void };
  if (flags.ipc) {
    // The desktop shell: the API over the IPC channel to it, and no port at all.
    const channel = parentChannel();
    if (channel === null) {
      await session.close();
      throw new CliError('--ipc serves the desktop shell that started this process: there is none');
    }
    server = startIpcServer({ session, labs: session }, channel);
  } else {
    let http: UiServer;
    try {
      http = await startUiServer({ session, labs: session, port: flags.port });
    } catch (error) {
      await session.close();
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`Port ${flags.port} is in use: pass --port 0 for any free port`);
      throw error;
    }
    server = http;
    process.stdout.write(`dpulab ui: ${http.url}\n`);
  }

  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number): void => {
      if (stopping) {
        // A second signal: no more waiting.
        process.exit(code);
      }
      stopping = true;
      void (async () => {
        await server.close();
        await session.close();
        resolve(code);
      })();
    };
    process.on('SIGINT', () => stop(130));
    process.on('SIGTERM', () => stop(143));
    process.on('disconnect', () => stop(0));
  });
  process.exitCode = await stopped;
  if (process.connected) process.disconnect();
}
