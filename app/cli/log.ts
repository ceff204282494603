import { decode } from '../../shared/codec.js';
import { EventLogReader, type EventFilter } from '../../processes/controller/log/reader.js';
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
