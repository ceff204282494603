import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_CONTENT_SECURITY_POLICY, APP_URL, createAppProtocolHandler, isAppUrl, type ApiChannel } from './app-protocol.js';

describe('dpulab:// app protocol', () => {
  let dir = '';
  const calls: string[] = [];
  const channel: ApiChannel = {
    request: async (method, path, body) => {
      calls.push(`${method} ${path} ${body ?? '-'}`);
      return { status: 200, body: { ok: true } };
    },
  };
  let handler: (request: Request) => Promise<Response>;
  let up = true;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'dpulab-app-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir, 'app.js'), 'void 0;');
    writeFileSync(join(dir, 'secret.db'), 'not served');
    handler = createAppProtocolHandler(dir, () => (up ? channel : null));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('app protocol serves the page and its files under a CSP with no network source, and nothing else', async () => {
    const page = await handler(new Request(APP_URL));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(APP_CONTENT_SECURITY_POLICY);
    expect(APP_CONTENT_SECURITY_POLICY).not.toMatch(/ws:|http:/);
    expect((await handler(new Request('dpulab://app/app.js'))).status).toBe(200);
    for (const url of ['dpulab://app/secret.db', 'dpulab://app/%2e%2e/etc/passwd', 'dpulab://other/index.html']) {
      expect((await handler(new Request(url))).status, url).toBe(404);
    }
  });

  it('app protocol passes API calls to the server channel with the HTTP rules: JSON only, bounded', async () => {
    const ok = await handler(new Request('dpulab://app/api/events?kind=lldp.*'));
    expect(ok.status).toBe(200);
    const posted = await handler(new Request('dpulab://app/api/action', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"record":{"action":"note","text":"x"}}' }));
    expect(posted.status).toBe(200);
    expect(calls).toEqual(['GET /api/events?kind=lldp.* -', 'POST /api/action {"record":{"action":"note","text":"x"}}']);
    const form = await handler(new Request('dpulab://app/api/action', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=1' }));
    expect(form.status).toBe(415);
    const big = await handler(new Request('dpulab://app/api/action', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'x'.repeat(70_000) }));
    expect(big.status).toBe(413);
    expect(calls).toHaveLength(2);
    up = false;
    expect((await handler(new Request('dpulab://app/api/run'))).status).toBe(503);
    up = true;
  });

  it('isAppUrl accepts the app page only', () => {
    expect(isAppUrl('dpulab://app/index.html')).toBe(true);
    expect(isAppUrl('dpulab://evil/')).toBe(false);
    expect(isAppUrl('http://127.0.0.1:7878/')).toBe(false);
    expect(isAppUrl('not a url')).toBe(false);
    expect(isAppUrl(undefined)).toBe(false);
  });
});
