/**
 * The event kind table of `docs/event-log.md`, written from the catalogue so the two cannot drift:
 * `npm run docs:events` rewrites it, and a test fails when the file differs from what the
 * catalogue says.
 */

import { ALL_EVENT_KINDS, EVENT_FIELDS, EVENT_MEANINGS } from './catalogue.js';

/** The line that opens the generated table in the document. */
export const EVENT_KINDS_BEGIN = '<!-- event-kinds:begin (generated from shared/events/catalogue.ts by `npm run docs:events`; do not edit) -->';
/** The line that closes it. */
export const EVENT_KINDS_END = '<!-- event-kinds:end -->';

/** Every kind as a Markdown table: kind, meaning, payload fields (`name?`: some payloads lack it). */
export function eventKindsTable(): string {
  const rows = ALL_EVENT_KINDS.map((kind) => {
    const fields = EVENT_FIELDS[kind].map((f) => `\`${f}\``).join(', ');
    return `| \`${kind}\` | ${EVENT_MEANINGS[kind].replace(/\|/g, '\\|')} | ${fields} |`;
  });
  return ['| kind | meaning | payload fields |', '|---|---|---|', ...rows].join('\n');
}

/**
 * The document with the text between its two markers replaced by {@link eventKindsTable}.
 *
 * @throws Error when the document lacks the markers
 */
export function withEventKindsTable(document: string): string {
  const begin = document.indexOf(EVENT_KINDS_BEGIN);
  const end = document.indexOf(EVENT_KINDS_END);
  if (begin < 0 || end < begin) throw new Error(`The document has no ${EVENT_KINDS_BEGIN} ... ${EVENT_KINDS_END} section`);
  return `${document.slice(0, begin + EVENT_KINDS_BEGIN.length)}\n${eventKindsTable()}\n${document.slice(end)}`;
}
