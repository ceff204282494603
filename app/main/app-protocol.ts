/**
 * The desktop shell's `dpulab://app/` protocol: the page and its `/api/*` calls, served by the
 * shell itself instead of an HTTP server. Static files come from the bundled renderer's folder
 * (read once, by name: no path can reach another file); API calls go to the UI server child over
 * IPC. Kept free of `electron` so that it runs, and is tested, in plain Node.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { MAX_API_BODY_BYTES, pageContentSecurityPolicy, RENDERER_MEDIA_TYPES } from '../common/page-serving.js';

/** The scheme and the one host the shell serves. */
export const APP_SCHEME = 'dpulab';
export const APP_HOST = 'app';
/** The page's address. */
export const APP_URL = `${APP_SCHEME}://${APP_HOST}/`;

/**
 * The page's Content-Security-Policy in the shell: nothing but the app itself. No `ws:` source:
 * the stream comes over IPC through the preload.
 */
export const APP_CONTENT_SECURITY_POLICY = pageContentSecurityPolicy();

/** Where API calls go: the UI server child, or none while it starts. */
export interface ApiChannel {
  request(method: string, path: string, body: string | null): Promise<{ status: number; body: unknown }>;
}

/** Whether a URL is the shell's own page (a frame, a navigation, an IPC sender). */
export function isAppUrl(url: string | undefined): boolean {
  if (url === undefined) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}

function headers(type: string): Record<string, string> {
  return {
    'Content-Type': type,
    'Content-Security-Policy': APP_CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: headers('application/json; charset=utf-8') });
}

/**
 * The protocol handler: `dpulab://app/...` to a Response. `api()` gives the channel to the
 * current UI server (null while none is up: 503).
 */
export function createAppProtocolHandler(staticDir: string, api: () => ApiChannel | null): (request: Request) => Promise<Response> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of readdirSync(staticDir)) {
    const type = RENDERER_MEDIA_TYPES[extname(name)];
    if (type) files.set(`/${name}`, { type, body: readFileSync(join(staticDir, name)) });
  }
  const index = files.get('/index.html');
  if (index) files.set('/', index);

  return async (request) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return json(400, { error: 'Invalid address', code: 'invalid-request', field: 'path' });
    }
    if (url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST) return json(404, { error: 'Not found', code: 'not-found', field: null });
    if (url.pathname.startsWith('/api/')) {
      const channel = api();
      if (channel === null) return json(503, { error: 'The UI server is starting', code: 'starting', field: null });
      let body: string | null = null;
      if (request.method === 'POST') {
        // The same rules as over HTTP: JSON only, and not too much of it.
        if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) return json(415, { error: 'Send the body as application/json', code: 'not-json', field: null });
        body = await request.text();
        if (Buffer.byteLength(body) > MAX_API_BODY_BYTES) return json(413, { error: `The body exceeds ${MAX_API_BODY_BYTES} bytes`, code: 'too-large', field: null });
      }
      const answer = await channel.request(request.method, `${url.pathname}${url.search}`, body);
      return json(answer.status, answer.body);
    }
    const file = files.get(url.pathname);
    if (!file) return new Response('Not found', { status: 404, headers: headers('text/plain; charset=utf-8') });
    if (request.method !== 'GET' && request.method !== 'HEAD') return new Response('Method not allowed', { status: 405, headers: headers('text/plain; charset=utf-8') });
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(file.body), { status: 200, headers: headers(file.type) });
  };
}
