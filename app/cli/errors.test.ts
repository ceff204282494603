import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLogReader } from '../../processes/controller/log/reader.js';
import { EventLogWriteError } from '../../processes/controller/log/errors.js';
import { planInput } from '../../processes/controller/actions.js';
import { loadLab } from '../../shared/lab/load.js';
import { decodeFrame } from '../../shared/net/frame.js';
import { loadScenario } from '../../shared/scenario/load.js';
import { loadDefaultLab, loadTopology } from '../../shared/topology/load.js';
import { parseDuration } from '../../shared/units.js';
import { CliError, exitCodeFor } from './errors.js';

/** What a call throws. */
function thrown(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('Expected the call to throw');
}

const dir = mkdtempSync(join(tmpdir(), 'dpulab-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('exitCodeFor', () => {
  it.each([
    ['a topology', () => loadTopology('hosts: 3\n', 'lab.yaml')],
    ['a scenario', () => loadScenario('name: s\nend: 1s\nsteps: [{ at: 1s, action: fly }]\n', 'scenario.yaml')],
    ['a lab file', () => loadLab('name: l\ntasks: 4\n', 'lab.yaml')],
    ['a database', () => EventLogReader.open(join(dir, 'absent.db'))],
    [
      'a file that is not a database',
      () => {
        writeFileSync(join(dir, 'notes.db'), 'notes\n'.repeat(100));
        return EventLogReader.open(join(dir, 'notes.db'));
      },
    ],
    ['an action', () => planInput(loadDefaultLab(), { action: 'kill', node: 'nobody' })],
    ['a duration', () => parseDuration('5 parsecs')],
    ['a command line', () => thrownCli()],
  ])('exitCodeFor gives 2 for bad input: %s', (_what, call) => {
    expect(exitCodeFor(thrown(call))).toBe(2);
  });

  it.each([
    ['a frame no decoder accepts (never the user: it came off a wire)', () => decodeFrame(new Uint8Array(3))],
    ['a writer called out of order', () => thrownWriter()],
    ['a bug', () => (null as unknown as { x: number }).x],
  ])('exitCodeFor gives 1 for what is not the user: %s', (_what, call) => {
    expect(exitCodeFor(thrown(call))).toBe(1);
  });
});

function thrownCli(): never {
  throw new CliError('--seed: not a number');
}

function thrownWriter(): never {
  throw new EventLogWriteError('bad-state', 'append before beginRun');
}
