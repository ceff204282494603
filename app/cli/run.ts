import { readInputFile } from '../lab/input-file.js';
import { prepareRun, startRun, type RunSummary, type SourceFile } from '../../processes/controller/session.js';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { parseDuration } from '../../shared/units.js';
import { CliError, exitCodeFor, reportError } from './errors.js';
import { table, vtime } from './format.js';
import { INVARIANTS } from '../../shared/invariants/index.js';
import { pairCaptures, RunCaptures } from './run-captures.js';

interface RunFlags {
  scenario?: string;
  seed: number;
  db?: string;
  overwrite?: boolean;
  until?: string;
  inProcess?: boolean;
  realtime?: boolean;
  speed: number;
  json?: boolean;
  capture?: string[];
  output?: string[];
}

/**
 * Reads a file named on the command line: a regular file of UTF-8 text within the size limit,
 * else an InputFileError naming it (exit 2).
 */
export function readSource(path: string, what: string): SourceFile {
  return { text: readInputFile(path, `${what} file`), file: path };
}

export async function runCommand(topologyPath: string | undefined, flags: RunFlags): Promise<void> {
  const requests = pairCaptures(flags.capture ?? [], flags.output ?? []);
  const untilNs = flags.until !== undefined ? parseUntil(flags.until) : undefined;
  const options = {
    ...(topologyPath ? { topology: readSource(topologyPath, 'topology') } : {}),
    ...(flags.scenario ? { scenario: readSource(flags.scenario, 'scenario') } : {}),
    seed: flags.seed,
    ...(flags.db ? { db: flags.db } : {}),
    overwrite: flags.overwrite ?? false,
    ...(untilNs !== undefined ? { untilNs } : {}),
    mode: flags.inProcess ? ('in-process' as const) : ('multi-process' as const),
    ...(flags.realtime ? { pace: { speed: flags.speed } } : {}),
  };
  // Every file is validated before a single process starts.
  const prepared = prepareRun(options);
  const captures = new RunCaptures(prepared.topology, requests);
  const progress = !flags.json && process.stderr.isTTY ? new ProgressLine() : null;
  const handle = startRun({ ...options, ...(progress ? { onProgress: (p) => progress.update(p.vtime, p.endNs, p.events) } : {}) }, prepared);

  let signals = 0;
  let stoppedBy: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    stoppedBy ??= signal;
    if (signals === 1) {
      process.stderr.write(`\ndpulab: ${signal}: stopping the run (again to kill it now)\n`);
      handle.interrupt();
    } else {
      handle.killNow();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => handle.killNow());
  captures.follow(handle);

  let summary: RunSummary;
  try {
    summary = await handle.done;
  } catch (error) {
    for (const line of captures.finish()) process.stderr.write(`${line}\n`);
    reportError(error);
    process.stderr.write(`dpulab: the run was stopped; what was recorded is in ${handle.db}, marked failed\n`);
    process.exitCode = exitCodeFor(error);
    return;
  }
  progress?.clear();
  for (const line of captures.finish()) process.stderr.write(`${line}\n`);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    process.stdout.write(`${readableSummary(summary)}\n`);
  }
  // The shell convention for a command stopped by a signal: 128 + its number.
  if (summary.status === 'interrupted') process.exitCode = stoppedBy === 'SIGTERM' ? 143 : 130;
  else if (summary.status === 'failed' || summary.crashed.length > 0 || summary.invariants.broken.length > 0) process.exitCode = 1;
}

function parseUntil(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new CliError(`--until ${text}: ${(error as Error).message}`);
  }
}

/** A one-line progress indicator on a terminal, redrawn at most ten times a second. */
class ProgressLine {
  private last = 0;

  update(vtimeNs: number, endNs: number, events: number): void {
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const done = Math.min(width, Math.round((vtimeNs / Math.max(1, endNs)) * width));
    process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${vtime(vtimeNs)} / ${vtime(endNs)}  ${events} events `);
  }

  clear(): void {
    process.stderr.write('\r\x1b[K');
  }
}

/** What a person wants to see after a run: what ran, what happened, where the log is. */
function readableSummary(s: RunSummary): string {
  const lines: string[] = [];
  lines.push(`dpulab run: ${s.topology} / ${s.scenario}, seed ${s.seed}, ${s.mode}: ${s.status}`);
  lines.push(`  ${s.events} events in ${s.windows} windows, ${vtime(s.virtualTimeNs)} virtual in ${s.wallMs} ms wall`);
  if (s.status === 'failed' && s.reason !== null) lines.push(`  ! ${s.reason}`);
  lines.push(`  fingerprint ${s.fingerprint}`);
  lines.push(`  event log   ${s.db}`);
  lines.push('');
  lines.push(table([['node', 'kind', 'pid'], ...s.nodes.map((n) => [n.id, n.kind, String(n.pid)])]).replace(/^/gm, '  '));
  const counts = new Map<string, number>();
  const reader = EventLogReader.open(s.db);
  try {
    for (const e of reader.events()) counts.set(e.kind, (counts.get(e.kind) ?? 0) + 1);
  } finally {
    reader.close();
  }
  lines.push('');
  lines.push(table([['event kind', 'count'], ...[...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, n]) => [k, String(n)])]).replace(/^/gm, '  '));
  if (s.flows.length > 0) {
    lines.push('');
    lines.push(
      table([
        ['flow', 'kind', 'from', 'to', 'sent', 'delivered', 'lost', 'dup', 'reord', 'retrans', 'end state'],
        ...s.flows.map((f) => [f.flow, f.kind, f.from, f.to, String(f.sent), String(f.delivered), String(f.lost), String(f.duplicated), String(f.reordered), String(f.retransmits), f.tcpState ?? (f.kind === 'ping' ? `rtt ${vtime(f.rttNs?.avg ?? 0)}` : '-')]),
      ]).replace(/^/gm, '  '),
    );
  }
  if (s.vmotions.length > 0) {
    lines.push('');
    lines.push(
      table([
        ['vmotion', 'from', 'to', 'result', 'rounds', 'switchover', 'downtime', 'guest downtime', 'reason'],
        ...s.vmotions.map((m) => [m.vm, m.from, m.to, m.result, String(m.rounds), m.switchoverNs === null ? '-' : vtime(m.switchoverNs), m.downtimeNs === null ? '-' : vtime(m.downtimeNs), m.guestDowntimeNs === null ? '-' : vtime(m.guestDowntimeNs), m.reason ?? '-']),
      ]).replace(/^/gm, '  '),
    );
    for (const m of s.vmotions) {
      const b = m.breakdown;
      if (b === null) continue;
      lines.push(`  ${m.vm} switchover: checkpoint ${vtime(b.checkpointNs)}, transfer ${vtime(b.transferNs)}, commit ${vtime(b.commitNs)}, restore ${vtime(b.restoreNs)}, resume ${vtime(b.resumeNs)}`);
    }
  }
  if (s.dpus.length > 0) {
    lines.push('');
    lines.push(
      table([
        ['dpu', 'host', 'role', 'its own', 'host sees'],
        ...s.dpus.map((d) => [d.dpu, d.host, d.role ?? '-', d.ownRole ?? '-', d.state || '-']),
      ]).replace(/^/gm, '  '),
    );
  }
  if (s.cores.length > 0) {
    lines.push('');
    lines.push('  cores used by networking (CPU time / virtual time)');
    const modes = [...new Set(s.cores.flatMap((c) => Object.keys(c.byMode)))].sort();
    lines.push(
      table([
        ['node', 'cores', 'total', ...modes],
        ...s.cores.map((c) => [c.node, c.coreType, c.coresUsed.toFixed(5), ...modes.map((m) => (c.byMode[m] === undefined ? '-' : c.byMode[m]!.toFixed(5)))]),
      ]).replace(/^/gm, '  '),
    );
    const offloading = s.cores.filter((c) => c.offload !== null && c.offload.hardwarePackets + c.offload.slowPathPackets > 0);
    if (offloading.length > 0) {
      lines.push('');
      lines.push('  hardware flow offload (IP packets per path, Arm CPU of each)');
      lines.push(
        table([
          ['dpu', 'hit ratio', 'eSwitch pkts', 'eSwitch Arm ns', 'slow-path pkts', 'slow-path Arm ns', 'installs', 'invalidations'],
          ...offloading.map((c) => {
            const o = c.offload!;
            return [c.node, `${(o.hitRatio * 100).toFixed(1)}%`, String(o.hardwarePackets), String(o.hardwareCpuNs), String(o.slowPathPackets), String(o.slowPathCpuNs), String(o.installs), String(o.invalidations)];
          }),
        ]).replace(/^/gm, '  '),
      );
    }
  }
  for (const c of s.crashed) lines.push(`\n  ! node ${c.node} ${c.reason ?? 'exited'} during the run`);
  lines.push('');
  if (s.invariants.broken.length === 0) {
    lines.push(`  invariants: all ${INVARIANTS.length} hold over ${s.invariants.events} events`);
  } else {
    lines.push(`  invariants: ${s.invariants.broken.length} of ${INVARIANTS.length} broken (${s.invariants.violations} violations)`);
    for (const v of s.invariants.broken) {
      lines.push(`  ! ${v.invariant}: first broken at seq ${v.event.seq}, ${vtime(v.event.vtime)}, ${v.event.node}, ${v.event.kind}`);
      lines.push(`      ${v.message}`);
    }
  }
  lines.push('');
  lines.push(`  next: dpulab log ${s.db} --kind lldp.neighbor    dpulab replay ${s.db} --verify`);
  return lines.join('\n');
}
