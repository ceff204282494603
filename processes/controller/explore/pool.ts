/**
 * `explore --jobs J`: J child processes, each running whole runs in-process (or driving its own
 * node processes with `--multi-process`), fed one task at a time. The parent keeps no state a
 * child could change: a task is a seed, or a schedule to shrink, and its answer is plain data.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { DpulabError } from '../../../shared/errors.js';
import { PACKAGE_ROOT } from '../package-root.js';
import type { ExploredRun, ExploreSetup, ShrunkSteps } from './types.js';
import type { Schedule } from './schedule.js';

/** What a worker is asked. */
export type WorkerTask =
  | { readonly type: 'init'; readonly setup: ExploreSetup }
  | { readonly type: 'run'; readonly id: number; readonly seed: number }
  | { readonly type: 'shrink'; readonly id: number; readonly schedule: Schedule; readonly invariant: string; readonly budget: number };

/** What a worker answers. */
export const workerAnswerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('result'), id: z.number().int(), result: z.unknown() }),
  z.object({ type: z.literal('failed'), id: z.number().int(), message: z.string() }),
]);
export type WorkerAnswer = z.infer<typeof workerAnswerSchema>;

/** A worker that died, or answered something that is not an answer. */
export class ExploreWorkerError extends DpulabError {
  readonly code = 'explore-worker';
  constructor(message: string) {
    super(message);
    this.name = 'ExploreWorkerError';
  }
}

/** The compiled worker program. */
function workerPath(): string {
  const path = join(PACKAGE_ROOT, 'dist', 'processes', 'controller', 'explore', 'worker.js');
  if (!existsSync(path)) throw new ExploreWorkerError(`The explorer's worker is not built (${path}); run npm run build`);
  return path;
}

interface Pending {
  readonly task: WorkerTask & { readonly id: number };
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** A pool of worker processes, each busy with one task at a time. */
export class WorkerPool {
  private readonly workers: { child: ChildProcess; busy: Pending | null; exited: boolean }[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(size: number, setup: ExploreSetup) {
    const path = workerPath();
    for (let i = 0; i < size; i++) {
      const child = fork(path, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      const worker = { child, busy: null as Pending | null, exited: false };
      child.send({ type: 'init', setup } satisfies WorkerTask);
      child.on('message', (raw) => this.answer(worker, raw));
      child.on('exit', (code, signal) => {
        worker.exited = true;
        const pending = worker.busy;
        worker.busy = null;
        if (pending) pending.reject(new ExploreWorkerError(`Explore worker ${child.pid ?? '?'} died (${signal ?? `code ${String(code)}`}) during task ${pending.task.id}`));
        if (!this.closed) {
          // The others carry on; what was queued waits for them.
          this.dispatch();
          if (this.workers.every((w) => w.exited)) for (const p of this.queue.splice(0)) p.reject(new ExploreWorkerError('Every explore worker died'));
        }
      });
      this.workers.push(worker);
    }
  }

  /** Runs the run of `seed` in a worker. */
  run(seed: number): Promise<ExploredRun & { readonly schedule: Schedule }> {
    return this.submit({ type: 'run', id: this.nextId++, seed }) as Promise<ExploredRun & { readonly schedule: Schedule }>;
  }

  /** Shrinks a failing schedule in a worker. */
  shrink(schedule: Schedule, invariant: string, budget: number): Promise<ShrunkSteps> {
    return this.submit({ type: 'shrink', id: this.nextId++, schedule, invariant, budget }) as Promise<ShrunkSteps>;
  }

  /** Stops every worker: closes their channel (they leave at once), then kills what remains after two seconds. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new ExploreWorkerError('The explorer stopped'));
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exited) return resolve();
            const timer = setTimeout(() => w.child.kill('SIGKILL'), 2000);
            w.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (w.child.connected) w.child.disconnect();
            else w.child.kill('SIGTERM');
          }),
      ),
    );
  }

  private submit(task: WorkerTask & { readonly id: number }): Promise<unknown> {
    if (this.closed) return Promise.reject(new ExploreWorkerError('The explorer stopped'));
    return new Promise((resolve, reject) => {
      this.queue.push({ task, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch(): void {
    for (const w of this.workers) {
      if (w.busy || w.exited || this.queue.length === 0) continue;
      const next = this.queue.shift()!;
      w.busy = next;
      w.child.send(next.task);
    }
  }

  private answer(worker: { busy: Pending | null }, raw: unknown): void {
    const parsed = workerAnswerSchema.safeParse(raw);
    const pending = worker.busy;
    if (!pending) return;
    worker.busy = null;
    if (!parsed.success || parsed.data.id !== pending.task.id) pending.reject(new ExploreWorkerError(`Explore worker answered task ${pending.task.id} with something else`));
    else if (parsed.data.type === 'failed') pending.reject(new ExploreWorkerError(parsed.data.message));
    else pending.resolve(parsed.data.result);
    this.dispatch();
  }
}
