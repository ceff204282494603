/**
 * The UI's HTTP and WebSocket server, on 127.0.0.1 only: the bundled renderer under a strict
 * Content-Security-Policy, the JSON API, and `/api/stream` pushing batches of events, states and
 * statuses. Every request is parsed with the zod schemas of `protocol.ts`; a malformed one gets
 * 400 naming the field and changes nothing.
 *
 * Pages of other origins cannot drive it: requests must carry this server's Host (no DNS
 * rebinding), POSTs must be `application/json` (no form or no-preflight cross-site request), and
 * the stream only upgrades for this server's own Origin.
 */
import { DpulabError } from '../../shared/errors.js';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join } from 'node:path';
import { PACKAGE_ROOT } from '../../processes/controller/package-root.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, parseRequest } from './errors.js';
import { actionRequestSchema, atQuerySchema, controlSchema, emptyQuerySchema, eventsQuerySchema, nodeParamSchema, seqParamSchema, type ServerMessage } from '../common/protocol.js';
import type { LabRoutes } from './lab-sessions.js';
import type { UiSession } from './session.js';

/** Where `npm run build` puts the bundled renderer. */
export const DEFAULT_STATIC_DIR = join(PACKAGE_ROOT, 'dist', 'app', 'server', 'static');

/** The page's Content-Security-Policy: nothing but this origin, no inline script, no frames. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self' ws://127.0.0.1:*",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Largest request body accepted. */
const MAX_BODY_BYTES = 64 * 1024;

/** The bundled renderer is missing: the project was not built. */
export class StaticFilesError extends DpulabError {
  readonly code = 'no-static-files';
  constructor(dir: string) {
    super(`The UI is not built: no index.html in ${dir} (run npm run build)`);
    this.name = 'StaticFilesError';
  }
}

/** A running UI server. */
export interface UiServer {
  /** `http://127.0.0.1:PORT/` */
  readonly url: string;
  readonly port: number;
  /** Closes every socket and the listener. */
  close(): Promise<void>;
}

/** What to serve, and where. */
export interface UiServerOptions {
  readonly session: UiSession;
  /** 0: any free port. */
  readonly port: number;
  readonly staticDir?: string;
  /** `/api/lab` (the lab panel), when the session offers labs. */
  readonly labs?: LabRoutes;
}

function loadStatic(dir: string): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new StaticFilesError(dir);
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (type) files.set(`/${name}`, { type, body: readFileSync(join(dir, name)) });
  }
  if (!files.has('/index.html')) throw new StaticFilesError(dir);
  files.set('/', files.get('/index.html')!);
  return files;
}

function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('X-Frame-Options', 'DENY');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new ApiError(415, 'not-json', 'Send the body as application/json');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'too-large', `The body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'bad-json', 'The body is not valid JSON');
  }
}

/** Query parameters as an object: `kind` and `node` may repeat (arrays), the others may not. */
function queryObject(params: URLSearchParams, repeatable: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    if (repeatable.includes(key)) out[key] = values.flatMap((v) => v.split(',')).filter((v) => v !== '');
    else if (values.length > 1) throw new ApiError(400, 'invalid-request', `Invalid ${key}: given more than once`, key);
    else out[key] = values[0];
  }
  return out;
}

/** Starts the server; resolves once it listens. */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const files = loadStatic(options.staticDir ?? DEFAULT_STATIC_DIR);
  const session = options.session;
  let port = 0;
  const allowedHosts = (): string[] => [`127.0.0.1:${port}`, `localhost:${port}`];
  const allowedOrigins = (): string[] => allowedHosts().map((h) => `http://${h}`);

  async function api(req: IncomingMessage, url: URL): Promise<{ status: number; body: unknown }> {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const get = (): void => {
      if (method !== 'GET' && method !== 'HEAD') throw new ApiError(405, 'method', `${path} takes GET`);
    };
    const post = (): void => {
      if (method !== 'POST') throw new ApiError(405, 'method', `${path} takes POST`);
    };
    if (path === '/api/run') {
      get();
      parseRequest(emptyQuerySchema, queryObject(url.searchParams, []));
      return { status: 200, body: session.info() };
    }
    if (path === '/api/events') {
      get();
      return { status: 200, body: session.events(parseRequest(eventsQuerySchema, queryObject(url.searchParams, ['kind', 'node']))) };
    }
    if (path === '/api/state') {
      get();
      const { at } = parseRequest(atQuerySchema, queryObject(url.searchParams, []));
      return { status: 200, body: session.stateAt(at) };
    }
    if (path.startsWith('/api/inspect/')) {
      get();
      const { node } = parseRequest(nodeParamSchema, { node: decodeURIComponent(path.slice('/api/inspect/'.length)) });
      const { at } = parseRequest(atQuerySchema, queryObject(url.searchParams, []));
      return { status: 200, body: await session.inspect(node, at) };
    }
    if (path.startsWith('/api/frame/')) {
      get();
      const { seq } = parseRequest(seqParamSchema, { seq: path.slice('/api/frame/'.length) });
      return { status: 200, body: session.frame(seq) };
    }
    if (path === '/api/control') {
      post();
      const request = parseRequest(controlSchema, await readJsonBody(req));
      return { status: 200, body: await session.control(request) };
    }
    if (path === '/api/action') {
      post();
      const { record } = parseRequest(actionRequestSchema, await readJsonBody(req));
      return { status: 200, body: session.act(record) };
    }
    const lab = options.labs?.handle(method, path, () => readJsonBody(req));
    if (lab) return lab;
    throw new ApiError(404, 'not-found', `No API ${path}`);
  }

  const server: Server = createServer((req, res) => {
    securityHeaders(res);
    if (!allowedHosts().includes(req.headers.host ?? '')) {
      sendJson(res, 421, { error: 'This server answers only to 127.0.0.1 and localhost', code: 'bad-host', field: null });
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (url.pathname.startsWith('/api/')) {
      api(req, url).then(
        ({ status, body }) => sendJson(res, status, body),
        (error: unknown) => {
          if (error instanceof ApiError) sendJson(res, error.status, error.body());
          else sendJson(res, 500, { error: error instanceof Error ? error.message : String(error), code: 'internal', field: null });
        },
      );
      return;
    }
    const file = files.get(url.pathname);
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(file ? 405 : 404, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(file ? 'Method not allowed' : 'Not found');
      return;
    }
    res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': file.body.length, 'Cache-Control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const origin = req.headers.origin;
    if (url.pathname !== '/api/stream' || !allowedHosts().includes(req.headers.host ?? '') || (origin !== undefined && !allowedOrigins().includes(origin))) {
      socket.write('HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\n');
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const send = (message: ServerMessage): void => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
      };
      const unsubscribe = session.subscribe(send);
      ws.on('close', unsubscribe);
      ws.on('error', unsubscribe);
      // The stream is one-way: anything a client sends is ignored.
      ws.on('message', () => undefined);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
