/**
 * A child process of `explore --jobs`: takes tasks from its parent over the IPC channel (a seed
 * to run, a schedule to shrink), answers each with plain data, and leaves when the channel closes.
 */
import { z } from 'zod';
import { exploreOne, setupTopology, shrinkFailure, type ExploreSetup } from './explore.js';
import type { WorkerAnswer } from './pool.js';
import type { Schedule } from './schedule.js';

const taskSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('init'), setup: z.custom<ExploreSetup>((v) => typeof v === 'object' && v !== null) }),
  z.object({ type: z.literal('run'), id: z.number().int(), seed: z.number().int() }),
  z.object({
    type: z.literal('shrink'),
    id: z.number().int(),
    schedule: z.custom<Schedule>((v) => typeof v === 'object' && v !== null && Array.isArray((v as Schedule).steps)),
    invariant: z.string(),
    budget: z.number().int().positive(),
  }),
]);

let setup: ExploreSetup | null = null;
let topology: ReturnType<typeof setupTopology> | null = null;
/** Tasks run one after the other, in the order they came. */
let chain: Promise<void> = Promise.resolve();

function answer(message: WorkerAnswer): void {
  // The explorer may be gone (it failed, or was stopped): an answer to no one is not an error.
  if (process.connected) process.send?.(message, undefined, undefined, () => undefined);
}

process.on('message', (raw) => {
  const parsed = taskSchema.safeParse(raw);
  if (!parsed.success) {
    process.stderr.write(`dpulab explore worker ${process.pid}: ignored a message that is no task\n`);
    return;
  }
  const task = parsed.data;
  if (task.type === 'init') {
    setup = task.setup;
    topology = setupTopology(setup);
    return;
  }
  chain = chain.then(async () => {
    try {
      if (setup === null || topology === null) throw new Error('Explore worker got a task before its setup');
      const result = task.type === 'run' ? await exploreOne(setup, task.seed, topology) : await shrinkFailure(setup, task.schedule, task.invariant, task.budget);
      answer({ type: 'result', id: task.id, result });
    } catch (error) {
      answer({ type: 'failed', id: task.id, message: error instanceof Error ? error.message : String(error) });
    }
  });
});

// The parent closed the channel, or died: nobody wants the answer of the task under way. Leave
// now, so that no worker outlives its explorer (a multi-process run's nodes follow their
// controller through their stdin lifeline).
process.on('disconnect', () => process.exit(0));
