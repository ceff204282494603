/**
 * The UI's HTTP and WebSocket server, on 127.0.0.1 only: the bundled renderer under a strict
 * Content-Security-Policy, the JSON API, and `/api/stream` pushing batches of events, states and
 * statuses. Every request is parsed with the zod schemas of `protocol.ts`; a malformed one
 * (a bad field, a path that is not valid percent-encoding) gets 400 naming it and changes nothing.
 *
 * Only whoever was given the address can use it: every launch makes a random token, printed in
 * the address (`/?token=...`, as Jupyter does). Opening that address sets an HttpOnly,
 * SameSite=Strict cookie and drops the token from the address bar; every later request, the
 * stream included, must carry the cookie, an `Authorization: Bearer` header or a `token`
 * parameter, or gets 403. Another local user or process that finds the port cannot drive it.
 *
 * Pages of other origins cannot drive it either: requests must carry this server's Host (no DNS
 * rebinding), POSTs must be `application/json` (no form or no-preflight cross-site request), and
 * the stream only upgrades for this server's own Origin.
 *
 * `/api/capture?wire=ID` (or `vnic=ID`) answers a pcapng stream, chunked, that lasts as long as
 * the live run (`capture-stream.ts`); it is HTTP only, not part of the JSON API.
 *
 * The API itself (`createApiHandler`) does not depend on HTTP: the desktop shell reaches it over
 * IPC instead (`ipc-server.ts`).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DpulabError } from '../../shared/errors.js';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { extname, join } from 'node:path';
import { PACKAGE_ROOT } from '../../processes/controller/package-root.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError, parseRequest } from './errors.js';
import { actionRequestSchema, atQuerySchema, captureQuerySchema, controlSchema, PCAPNG_MEDIA_TYPE, emptyQuerySchema, eventsQuerySchema, nodeParamSchema, seqParamSchema, throughputQuerySchema, type ServerMessage } from '../common/protocol.js';
import { MAX_API_BODY_BYTES, pageContentSecurityPolicy, RENDERER_MEDIA_TYPES } from '../common/page-serving.js';
import type { CaptureSink } from './capture-stream.js';
import type { LabRoutes } from './lab-sessions.js';
import type { UiSession } from './session.js';

/** Where `npm run build` puts the bundled renderer. */
export const DEFAULT_STATIC_DIR = join(PACKAGE_ROOT, 'dist', 'app', 'server', 'static');

/** The page's Content-Security-Policy over HTTP: its own origin and the server's WebSocket. */
export const CONTENT_SECURITY_POLICY = pageContentSecurityPolicy(['ws://127.0.0.1:*']);

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
  /** `http://127.0.0.1:PORT/?token=TOKEN`: the address to open, with its access token. */
  readonly url: string;
  readonly port: number;
  /** This launch's access token. */
  readonly token: string;
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
  /** The access token; a fresh random one when absent (tests give their own). */
  readonly token?: string;
}

/** What the API needs: the session, and the lab routes when it offers labs. */
export interface ApiOptions {
  readonly session: UiSession;
  readonly labs?: LabRoutes;
}

/** One API request, however it arrived: HTTP, or IPC from the desktop shell. */
export interface ApiRequest {
  readonly method: string;
  /** Path and query, e.g. `/api/events?kind=lldp.*`. */
  readonly path: string;
  /** Reads the body as JSON (415 if it is not JSON, 413 if too large, 400 if malformed). */
  readonly body: () => Promise<unknown>;
}

/** An API answer: an HTTP status and a JSON body. */
export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

/** A new random access token (24 bytes, base64url). */
export function newAccessToken(): string {
  return randomBytes(24).toString('base64url');
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
    const type = RENDERER_MEDIA_TYPES[extname(name)];
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
    if (size > MAX_API_BODY_BYTES) throw new ApiError(413, 'too-large', `The body exceeds ${MAX_API_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'bad-json', 'The body is not valid JSON');
  }
}

/** Query parameters as an object: `kind`, `notKind`, `node` and `protocol` may repeat (arrays), the others may not. */
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

/** A path parameter, percent-decoded; malformed encoding (`%E0%A4%A`) is a 400 naming the field. */
function pathParam(encoded: string, field: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new ApiError(400, 'invalid-request', `Invalid ${field}: not valid percent-encoding`, field);
  }
}

/**
 * The JSON API as a function of a request, whatever carries it. Every answer is a status and a
 * JSON body; a refused request is an ApiError's status and body, anything else a 500.
 */
export function createApiHandler(options: ApiOptions): (request: ApiRequest) => Promise<ApiAnswer> {
  const session = options.session;
  const api = async (method: string, url: URL, body: () => Promise<unknown>): Promise<ApiAnswer> => {
    const path = url.pathname;
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
      return { status: 200, body: session.events(parseRequest(eventsQuerySchema, queryObject(url.searchParams, ['kind', 'notKind', 'node', 'protocol']))) };
    }
    if (path === '/api/throughput') {
      get();
      return { status: 200, body: session.throughput(parseRequest(throughputQuerySchema, queryObject(url.searchParams, []))) };
    }
    if (path === '/api/cores') {
      get();
      parseRequest(emptyQuerySchema, queryObject(url.searchParams, []));
      return { status: 200, body: await session.cores() };
    }
    if (path === '/api/invariants') {
      get();
      parseRequest(emptyQuerySchema, queryObject(url.searchParams, []));
      return { status: 200, body: session.invariants() };
    }
    if (path === '/api/state') {
      get();
      const { at } = parseRequest(atQuerySchema, queryObject(url.searchParams, []));
      return { status: 200, body: session.stateAt(at) };
    }
    if (path.startsWith('/api/inspect/')) {
      get();
      const { node } = parseRequest(nodeParamSchema, { node: pathParam(path.slice('/api/inspect/'.length), 'node') });
      const { at } = parseRequest(atQuerySchema, queryObject(url.searchParams, []));
      return { status: 200, body: await session.inspect(node, at) };
    }
    if (path.startsWith('/api/frame/')) {
      get();
      const { seq } = parseRequest(seqParamSchema, { seq: pathParam(path.slice('/api/frame/'.length), 'seq') });
      return { status: 200, body: session.frame(seq) };
    }
    if (path === '/api/control') {
      post();
      const request = parseRequest(controlSchema, await body());
      return { status: 200, body: await session.control(request) };
    }
    if (path === '/api/action') {
      post();
      const { record } = parseRequest(actionRequestSchema, await body());
      return { status: 200, body: session.act(record) };
    }
    if (path === '/api/capture') {
      // A stream, not a JSON answer: the HTTP server serves it itself (startUiServer).
      throw new ApiError(501, 'not-streamed', 'A capture is a stream: ask the HTTP server of dpulab ui (dpulab capture URL --wire ID), or export a recording with dpulab pcap DB');
    }
    const lab = options.labs?.handle(method, path, body);
    if (lab) return lab;
    throw new ApiError(404, 'not-found', `No API ${path}`);
  };
  return async (request) => {
    try {
      let url: URL;
      try {
        url = new URL(request.path, 'http://127.0.0.1');
      } catch {
        throw new ApiError(400, 'invalid-request', 'Invalid path: not a valid URL path', 'path');
      }
      // The access token may ride along as a parameter; it is not part of any query.
      url.searchParams.delete('token');
      return await api(request.method, url, request.body);
    } catch (error) {
      if (error instanceof ApiError) return { status: error.status, body: error.body() };
      return { status: 500, body: { error: error instanceof Error ? error.message : String(error), code: 'internal', field: null } };
    }
  };
}

/** The cookie that carries the access token, one per port (cookies do not tell ports apart). */
function cookieName(port: number): string {
  return `dpulab-token-${port}`;
}

/** Whether two tokens are equal, in time that does not depend on where they differ. */
function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token a request carries: its cookie, an Authorization header, or a `token` parameter. */
function tokensOf(req: IncomingMessage, url: URL, port: number): string[] {
  const found: string[] = [];
  const name = cookieName(port);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) found.push(part.slice(eq + 1).trim());
  }
  const auth = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (auth) found.push(auth[1]!);
  const param = url.searchParams.get('token');
  if (param !== null) found.push(param);
  return found;
}

/** Starts the server; resolves once it listens. */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const files = loadStatic(options.staticDir ?? DEFAULT_STATIC_DIR);
  const session = options.session;
  const token = options.token ?? newAccessToken();
  const handleApi = createApiHandler({ session, ...(options.labs ? { labs: options.labs } : {}) });
  let port = 0;
  const authorized = (req: IncomingMessage, url: URL): boolean => tokensOf(req, url, port).some((t) => sameToken(t, token));
  const allowedHosts = (): string[] => [`127.0.0.1:${port}`, `localhost:${port}`];
  const allowedOrigins = (): string[] => allowedHosts().map((h) => `http://${h}`);

  const server: Server = createServer((req, res) => {
    securityHeaders(res);
    if (!allowedHosts().includes(req.headers.host ?? '')) {
      sendJson(res, 421, { error: 'This server answers only to 127.0.0.1 and localhost', code: 'bad-host', field: null });
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    } catch {
      sendJson(res, 400, { error: 'Invalid path: not a valid URL path', code: 'invalid-request', field: 'path' });
      return;
    }
    if (!authorized(req, url)) {
      if (url.pathname.startsWith('/api/')) {
        sendJson(res, 403, { error: 'This dpulab UI needs its access token: open the address dpulab ui printed', code: 'no-token', field: null });
      } else {
        res.writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
        res.end('This dpulab UI needs its access token: open the address `dpulab ui` printed (it ends in ?token=...).\n');
      }
      return;
    }
    if (url.pathname === '/api/capture') {
      serveCapture(req, res, url);
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      void handleApi({ method: req.method ?? 'GET', path: `${url.pathname}${url.search}`, body: () => readJsonBody(req) }).then(({ status, body }) => sendJson(res, status, body));
      return;
    }
    if (url.searchParams.has('token')) {
      // Opened from the printed address: keep the token in a cookie, drop it from the address bar.
      url.searchParams.delete('token');
      res.writeHead(302, {
        'Set-Cookie': `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`,
        Location: `${url.pathname}${url.search}`,
        'Cache-Control': 'no-store',
      });
      res.end();
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

  /** Open capture streams, each with the function that stops it, ended cleanly on close. */
  const captures = new Map<ServerResponse, () => void>();
  const serveCapture = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    let stop: () => void;
    try {
      if (req.method !== 'GET') throw new ApiError(405, 'method', '/api/capture takes GET');
      url.searchParams.delete('token');
      const query = parseRequest(captureQuerySchema, queryObject(url.searchParams, []));
      const id = query.wire ?? query.vnic!;
      const sink: CaptureSink = {
        write: (bytes) => {
          if (res.destroyed || res.writableEnded) return;
          if (!res.headersSent) {
            // Chunked, as long as the run: no Content-Length. The id is a checked node id, safe in a header.
            res.writeHead(200, { 'Content-Type': PCAPNG_MEDIA_TYPE, 'Content-Disposition': `attachment; filename="${id}.pcapng"`, 'Cache-Control': 'no-store' });
          }
          res.write(bytes);
        },
        backlog: () => res.writableLength,
        drained: () => new Promise<void>((resolve) => (res.writableLength === 0 || res.destroyed ? resolve() : (res.once('drain', resolve), res.once('close', resolve)))),
        end: () => {
          captures.delete(res);
          if (!res.destroyed && !res.writableEnded) res.end();
        },
      };
      stop = session.capture(query, sink);
    } catch (error) {
      if (error instanceof ApiError) sendJson(res, error.status, error.body());
      else sendJson(res, 500, { error: error instanceof Error ? error.message : String(error), code: 'internal', field: null });
      return;
    }
    if (res.writableEnded) return;
    captures.set(res, stop);
    // The reader went away (Wireshark closed, the download cancelled): stop feeding it.
    res.on('close', () => {
      captures.delete(res);
      stop();
    });
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  server.on('upgrade', (req, socket, head) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
    } catch {
      url = new URL('http://127.0.0.1/invalid');
    }
    const origin = req.headers.origin;
    if (url.pathname !== '/api/stream' || !allowedHosts().includes(req.headers.host ?? '') || (origin !== undefined && !allowedOrigins().includes(origin)) || !authorized(req, url)) {
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
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    close: async () => {
      // Captures end as a complete file rather than a cut connection: `dpulab capture` exits 0.
      const finished = [...captures].map(([res, stop]) => {
        stop();
        return new Promise<void>((resolve) => {
          if (res.writableFinished || res.destroyed) resolve();
          res.once('finish', resolve);
          res.once('close', resolve);
          res.end();
        });
      });
      captures.clear();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(finished), new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
      clearTimeout(timer);
      for (const client of wss.clients) client.terminate();
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
