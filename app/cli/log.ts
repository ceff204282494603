import { decode } from '../../shared/codec.js';
import { EventLogReader, type EventFilter } from '../../processes/controller/log/reader.js';
import { ALL_EVENT_KINDS } from '../../shared/events/catalogue.js';
import { editDistance } from '../../shared/topology/yaml-source.js';
import { parseDuration } from '../../shared/units.js';
import { CliError } from './errors.js';
import { compactPayload, jsonSafe, printable, table, vtime } from './format.js';

/** Decodes a payload; a damaged one is shown as such rather than stopping the listing. */
function payloadOf(bytes: Uint8Array): unknown {
  try {
    return decode(bytes);
  } catch {
    return `<${bytes.length} undecodable bytes>`;
  }
}

interface LogFlags {
  kind?: string[];
  node?: string[];
  from?: string;
  to?: string;
  limit?: number;
  json?: boolean;
}

function time(option: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseDuration(text);
  } catch (error) {
    throw new CliError(`${option} ${text}: ${(error as Error).message}`);
  }
}

/**
 * Kinds close to a `--kind` no catalogue declares, best first: a few edits away (a typo), or
 * containing what was typed as a part (`failover` finds `dpu.failover.done`).
 */
export function closeKinds(typed: string, known: readonly string[], max = 6): string[] {
  const word = typed.toLowerCase();
  const scored = known.map((kind) => {
    const parts = kind.split('.');
    const distance = Math.min(editDistance(word, kind), ...parts.map((p) => editDistance(word, p) + 1));
    const contains = kind.includes(word) ? 0 : 1;
    return { kind, score: contains === 0 ? 0 : distance };
  });
  const limit = Math.max(2, Math.floor(word.length / 3));
  return scored
    .filter((s) => s.score <= limit)
    .sort((a, b) => a.score - b.score || (a.kind < b.kind ? -1 : 1))
    .slice(0, max)
    .map((s) => s.kind);
}

/**
 * Refuses a `--kind` that no catalogue declares (this dpulab's, or the one the log recorded in
 * its `event_kinds`), which would otherwise print an empty table as if nothing had happened.
 */
function checkKinds(kinds: readonly string[], logKinds: readonly string[]): void {
  const known = [...new Set([...ALL_EVENT_KINDS, ...logKinds])].sort();
  for (const kind of kinds) {
    const prefix = kind.endsWith('.*') ? kind.slice(0, -1) : null;
    if (prefix === null ? known.includes(kind) : known.some((k) => k.startsWith(prefix))) continue;
    const close = closeKinds(prefix === null ? kind : prefix.slice(0, -1), known);
    const hint = close.length > 0 ? `close: ${close.join(', ')}` : 'the kinds are listed in docs/event-log.md';
    throw new CliError(`--kind ${kind}: no event catalogue declares ${prefix === null ? 'this kind' : `a kind under ${prefix}`} (${hint})`);
  }
}

export async function logCommand(db: string, flags: LogFlags): Promise<void> {
  const filter: EventFilter = {
    ...(flags.kind ? { kinds: flags.kind } : {}),
    ...(flags.node ? { nodes: flags.node } : {}),
    ...(flags.from !== undefined ? { fromNs: time('--from', flags.from)! } : {}),
    ...(flags.to !== undefined ? { toNs: time('--to', flags.to)! } : {}),
    ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
  };
  const reader = EventLogReader.open(db);
  try {
    if (flags.kind) checkKinds(flags.kind, reader.eventKinds().map((k) => k.kind));
    if (flags.json) {
      for (const e of reader.events(filter)) {
        const line = { seq: e.seq, vtime: e.vtime, node: e.node, kind: e.kind, cause: e.cause, payload: jsonSafe(payloadOf(e.payload)), volatile: e.volatile ? jsonSafe(payloadOf(e.volatile)) : null };
        process.stdout.write(`${printable(JSON.stringify(line))}\n`);
      }
      return;
    }
    const rows = [['seq', 'vtime', 'node', 'kind', 'cause', 'payload']];
    for (const e of reader.events(filter)) {
      rows.push([String(e.seq), vtime(e.vtime), e.node, e.kind, e.cause === null ? '-' : String(e.cause), compactPayload(payloadOf(e.payload))]);
    }
    process.stdout.write(`${table(rows)}\n`);
  } finally {
    reader.close();
  }
}
