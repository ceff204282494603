import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ALL_EVENT_KINDS, EVENT_FIELDS } from './catalogue.js';
import { eventKindsTable, withEventKindsTable } from './docs.js';

const EVENT_LOG_DOC = fileURLToPath(new URL('../../docs/event-log.md', import.meta.url));

describe('docs/event-log.md event kinds', () => {
  it('event kind table is the one the catalogue writes (npm run docs:events rewrites it)', () => {
    const document = readFileSync(EVENT_LOG_DOC, 'utf8');
    expect(withEventKindsTable(document), 'docs/event-log.md lists other event kinds than shared/events/catalogue.ts: run npm run docs:events').toBe(document);
  });

  it('event kind table has one row per kind, with every field', () => {
    const rows = eventKindsTable().split('\n').slice(2);
    expect(rows).toHaveLength(ALL_EVENT_KINDS.length);
    const vmotionDone = rows.find((r) => r.startsWith('| `vmotion.done` |'))!;
    for (const field of EVENT_FIELDS['vmotion.done']) expect(vmotionDone).toContain(`\`${field}\``);
  });

  it('event kind table rewrite refuses a document without its markers', () => {
    expect(() => withEventKindsTable('# no table here\n')).toThrow(/event-kinds:begin/);
  });
});
