/**
 * The UI's API over the IPC channel to the process that started this one (the desktop shell),
 * instead of HTTP: no port is opened, so nothing else on the machine can reach the API at all.
 * The shell serves the page through its own `dpulab://` protocol and passes each `/api/*` request
 * here, and the stream's messages back to the page.
 *
 * The channel is a Node `fork` IPC channel (`process.send`) or, in the packaged app, an Electron
 * utility process's `process.parentPort`. Every message from the parent is parsed with a schema;
 * one that does not parse is answered with an error if it has an id, else dropped.
 */
import { z } from 'zod';
import { MAX_API_BODY_BYTES } from '../common/page-serving.js';
import type { ServerMessage } from '../common/protocol.js';
import { ApiError } from './errors.js';
import { createApiHandler, type ApiOptions } from './http-server.js';

/** What the parent sends. */
export const parentMessageSchema = z.discriminatedUnion('t', [
  /** An API request: method, path with query, body text (null for none). */
  z.object({ t: z.literal('api'), id: z.number().int().nonnegative(), method: z.string().max(16), path: z.string().max(8192), body: z.string().nullable() }),
  /** Open a stream: the child sends its messages as `{t: 'stream', id, message}` until `unsubscribe`. */
  z.object({ t: z.literal('subscribe'), id: z.number().int().nonnegative() }),
  z.object({ t: z.literal('unsubscribe'), id: z.number().int().nonnegative() }),
]);
export type ParentMessage = z.infer<typeof parentMessageSchema>;

/** What the child sends. */
export type ChildMessage =
  | { readonly t: 'ready' }
  | { readonly t: 'api'; readonly id: number; readonly status: number; readonly body: unknown }
  | { readonly t: 'stream'; readonly id: number; readonly message: ServerMessage };

/** The two-way channel to the parent, whichever kind it is. */
export interface ParentChannel {
  send(message: ChildMessage): void;
  onMessage(listener: (message: unknown) => void): void;
}

/** The channel to this process's parent: Electron's `parentPort`, else Node's fork IPC; null for none. */
export function parentChannel(): ParentChannel | null {
  const port = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(e: 'message', l: (e: { data: unknown }) => void): void } }).parentPort;
  if (port) return { send: (m) => port.postMessage(m), onMessage: (l) => port.on('message', (e) => l(e.data)) };
  if (typeof process.send === 'function') {
    return {
      send: (m) => {
        if (process.connected) process.send!(m);
      },
      onMessage: (l) => process.on('message', l),
    };
  }
  return null;
}

/** A running IPC server: stops every stream. */
export interface IpcUiServer {
  close(): void;
}

/** Serves the API on `channel` and says `ready` to the parent. */
export function startIpcServer(options: ApiOptions, channel: ParentChannel): IpcUiServer {
  const handle = createApiHandler(options);
  const streams = new Map<number, () => void>();
  channel.onMessage((raw) => {
    const parsed = parentMessageSchema.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown } | null)?.id;
      if (typeof id === 'number') channel.send({ t: 'api', id, status: 400, body: { error: 'Invalid request: not a dpulab IPC message', code: 'invalid-request', field: null } });
      return;
    }
    const message = parsed.data;
    switch (message.t) {
      case 'api': {
        const body = async (): Promise<unknown> => {
          const text = message.body ?? '';
          if (Buffer.byteLength(text) > MAX_API_BODY_BYTES) throw new ApiError(413, 'too-large', `The body exceeds ${MAX_API_BODY_BYTES} bytes`);
          try {
            return JSON.parse(text);
          } catch {
            throw new ApiError(400, 'bad-json', 'The body is not valid JSON');
          }
        };
        void handle({ method: message.method, path: message.path, body }).then(({ status, body: answer }) => channel.send({ t: 'api', id: message.id, status, body: answer }));
        return;
      }
      case 'subscribe':
        streams.get(message.id)?.();
        streams.set(
          message.id,
          options.session.subscribe((m) => channel.send({ t: 'stream', id: message.id, message: m })),
        );
        return;
      case 'unsubscribe':
        streams.get(message.id)?.();
        streams.delete(message.id);
        return;
    }
  });
  channel.send({ t: 'ready' });
  return {
    close: () => {
      for (const stop of streams.values()) stop();
      streams.clear();
    },
  };
}
