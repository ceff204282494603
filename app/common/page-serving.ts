/**
 * What every way of serving the UI page agrees on (the HTTP server, the desktop shell's
 * `dpulab://` protocol and its IPC channel): the page's Content-Security-Policy, the media types
 * of the renderer's files and the largest API body accepted. One place, so the shell and the
 * browser never drift apart in what they allow.
 */

/**
 * The page's Content-Security-Policy: nothing but its own origin, no inline script, no frames.
 * `connect` adds sources the page may connect to beyond itself (the HTTP server's WebSocket).
 */
export function pageContentSecurityPolicy(connect: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self'",
    "font-src 'self'",
    ["connect-src 'self'", ...connect].join(' '),
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Media types of the bundled renderer's files, by extension. */
export const RENDERER_MEDIA_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Largest API request body accepted, whichever way it comes. */
export const MAX_API_BODY_BYTES = 64 * 1024;
