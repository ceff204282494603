/**
 * The desktop shell's UI server: `dpulab ui --ipc` in a child process, spoken to over IPC (see
 * `app/server/ipc-server.ts`), and the switch from one such child to the next ("open database")
 * that keeps the old one serving until the new one is up. Kept free of `electron`: the shell
 * passes in how a child is started (a Node fork in development, an Electron utility process when
 * packaged), so this runs, and is tested, in plain Node.
 */
import { fork } from 'node:child_process';
import { DpulabError } from '../../shared/errors.js';
import type { ApiChannel } from './app-protocol.js';

/** A started child process, whatever started it. */
export interface ChildLink {
  postMessage(message: unknown): void;
  onMessage(listener: (message: unknown) => void): void;
  /** Called once when the child has exited. */
  onExit(listener: (description: string) => void): void;
  /** Asks the child to stop (SIGTERM); `force` kills it. */
  kill(force: boolean): void;
}

/**
 * A child started with Node's `fork` on `execPath` (a Node binary): the development shell's server,
 * and the tests'. Its stdout and stderr go where this process's go.
 */
export function forkLink(script: string, args: readonly string[], execPath: string): ChildLink {
  const child = fork(script, [...args], { execPath, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return {
    postMessage: (m) => {
      if (child.connected) child.send(m as object);
    },
    onMessage: (l) => child.on('message', l),
    onExit: (l) => {
      if (child.exitCode !== null || child.signalCode !== null) l(child.signalCode ?? `code ${String(child.exitCode)}`);
      else child.once('exit', (code, signal) => l(signal ?? `code ${String(code)}`));
    },
    kill: (force) => child.kill(force ? 'SIGKILL' : 'SIGTERM'),
  };
}

/** Longest wait for a new server to say it is ready. */
export const SERVER_START_MS = 30_000;
/** Longest wait for a server to stop when asked, before it is killed. */
const SERVER_STOP_MS = 20_000;

/** The UI server is gone or never came up; the message says why. */
export class UiServerError extends DpulabError {
  readonly code = 'ui-server';
  constructor(message: string) {
    super(message);
    this.name = 'UiServerError';
  }
}

/** One `dpulab ui --ipc` child: API requests, streams, stop. */
export class UiServerChild implements ApiChannel {
  private nextId = 1;
  private readonly pending = new Map<number, (answer: { status: number; body: unknown }) => void>();
  private readonly streams = new Map<number, (message: unknown) => void>();
  private exited: string | null = null;
  private readonly exitWaiters: Array<() => void> = [];

  private constructor(private readonly link: ChildLink) {
    link.onMessage((raw) => {
      const m = raw as { t?: unknown; id?: unknown; status?: unknown; body?: unknown; message?: unknown } | null;
      if (m?.t === 'api' && typeof m.id === 'number' && typeof m.status === 'number') {
        const resolve = this.pending.get(m.id);
        this.pending.delete(m.id);
        resolve?.({ status: m.status, body: m.body });
      } else if (m?.t === 'stream' && typeof m.id === 'number') {
        this.streams.get(m.id)?.(m.message);
      }
    });
    link.onExit((description) => {
      this.exited = description;
      for (const resolve of this.pending.values()) resolve({ status: 503, body: { error: `The UI server stopped (${description})`, code: 'server-gone', field: null } });
      this.pending.clear();
      for (const resolve of this.exitWaiters.splice(0)) resolve();
    });
  }

  /** Starts a child with `start` and resolves once it says it is ready; rejects if it exits first or takes too long. */
  static start(start: () => ChildLink, timeoutMs = SERVER_START_MS): Promise<UiServerChild> {
    const link = start();
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        link.kill(true);
        reject(new UiServerError(`The UI server did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      const child = new UiServerChild(link);
      link.onMessage((raw) => {
        if (settled || (raw as { t?: unknown } | null)?.t !== 'ready') return;
        settled = true;
        clearTimeout(timer);
        resolve(child);
      });
      link.onExit((description) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new UiServerError(`The UI server did not start: it exited (${description})`));
      });
    });
  }

  /** Whether the child has exited. */
  get alive(): boolean {
    return this.exited === null;
  }

  request(method: string, path: string, body: string | null): Promise<{ status: number; body: unknown }> {
    if (this.exited !== null) return Promise.resolve({ status: 503, body: { error: `The UI server stopped (${this.exited})`, code: 'server-gone', field: null } });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.link.postMessage({ t: 'api', id, method, path, body });
    });
  }

  /** Streams the server's messages to `listener` until the returned function is called. */
  subscribe(listener: (message: unknown) => void): () => void {
    const id = this.nextId++;
    this.streams.set(id, listener);
    if (this.exited === null) this.link.postMessage({ t: 'subscribe', id });
    return () => {
      this.streams.delete(id);
      if (this.exited === null) this.link.postMessage({ t: 'unsubscribe', id });
    };
  }

  /** Asks the child to stop and waits for it (killing it after a deadline). */
  async stop(): Promise<void> {
    if (this.exited !== null) return;
    const gone = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    const force = setTimeout(() => this.link.kill(true), SERVER_STOP_MS);
    this.link.kill(false);
    await gone;
    clearTimeout(force);
  }
}

/**
 * The server the window shows, and the switch to another: a new server is started first and
 * replaces the current one only once it is ready; if it fails, the current one goes on serving.
 */
export class UiServerSwitch {
  private current: UiServerChild | null = null;

  /** The server answering now, null before the first one is up. */
  get active(): UiServerChild | null {
    return this.current;
  }

  /** Starts a server with `start`; once it is ready it becomes the active one and the old one stops. */
  async switchTo(start: () => ChildLink, timeoutMs = SERVER_START_MS): Promise<UiServerChild> {
    const next = await UiServerChild.start(start, timeoutMs);
    const old = this.current;
    this.current = next;
    await old?.stop();
    return next;
  }

  /** Stops the active server. */
  async stop(): Promise<void> {
    const old = this.current;
    this.current = null;
    await old?.stop();
  }
}
