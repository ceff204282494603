// Rewrites the event kind table of docs/event-log.md from the catalogue (`npm run docs:events`).
// It reads the compiled catalogue, so the script builds first.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withEventKindsTable } from '../dist/shared/events/docs.js';

const file = fileURLToPath(new URL('../docs/event-log.md', import.meta.url));
const before = readFileSync(file, 'utf8');
const after = withEventKindsTable(before);
if (after !== before) writeFileSync(file, after);
process.stdout.write(after === before ? 'docs/event-log.md: event kinds already current\n' : 'docs/event-log.md: event kinds rewritten\n');
