import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyClusterState } from '../../shared/state/cluster-state.js';
import { ApiError } from './errors.js';
import { CONTENT_SECURITY_POLICY, startUiServer, type UiServer } from './http-server.js';
import type { CaptureQuery, ControlRequest, EventsQuery, RunStatus } from '../common/protocol.js';
import type { CaptureSink } from './capture-stream.js';
import type { UiSession } from './session.js';

/** The access token the tests' server is started with. */
const TOKEN = 'test-token-0123456789';

const STATUS: RunStatus = { state: 'running', vtime: 5, paused: false, speed: 1, achieved: null, events: 0, until: null, message: null };

/** A session that records what reached it; its captures are held in `captures` for the test to feed. */
function fakeSession(): UiSession & { calls: string[]; captures: Array<{ query: CaptureQuery; sink: CaptureSink; stopped: boolean }> } {
  const calls: string[] = [];
  const captures: Array<{ query: CaptureQuery; sink: CaptureSink; stopped: boolean }> = [];
  return {
    calls,
    captures,
    capture: (query: CaptureQuery, sink: CaptureSink) => {
      if (query.vnic === 'web-09.eth0') throw new ApiError(400, 'unknown-capture-target', 'Invalid vnic: No vNIC web-09.eth0 in topology t (vNICs: web-01.eth0)', 'vnic');
      const entry = { query, sink, stopped: false };
      captures.push(entry);
      sink.write(new Uint8Array([1, 2, 3, 4]));
      return () => {
        entry.stopped = true;
      };
    },
    mode: 'live',
    info: () => ({ mode: 'live', run: { id: 'r', topology: 't', scenario: null, seed: 1, runMode: 'in-process', db: 'x.db', endNs: 10, fingerprint: null }, topology: { name: 't', nodes: [], wires: [], segments: [] }, status: STATUS, actions: ['note'] }),
    status: () => STATUS,
    events: (query: EventsQuery) => {
      calls.push(`events ${JSON.stringify(query)}`);
      return { events: [], total: 0, more: false };
    },
    stateAt: () => emptyClusterState(),
    inspect: async (node: string) => {
      throw new ApiError(404, 'no-node', `No node ${node}`, 'node');
    },
    frame: () => {
      throw new ApiError(404, 'no-event', 'No event', 'seq');
    },
    throughput: () => ({ bucketNs: 10_000_000, untilNs: 0, flows: [] }),
    cores: async () => ({ vtime: 0, nodes: [] }),
    invariants: () => ({ invariants: [{ id: 'vm-one-host', meaning: 'A VM runs on one host at a time' }], checked: 3, final: false, violations: [] }),
    control: async (request: ControlRequest) => {
      calls.push(`control ${request.op}`);
      return STATUS;
    },
    act: (record) => {
      calls.push(`act ${String(record.action)}`);
      return { scheduled: { atNs: 5, record: { action: 'note', text: String(record.text) } } };
    },
    subscribe: () => () => undefined,
    close: async () => undefined,
  };
}

/** Polls `check` every 10 ms for up to 2 s. */
async function until(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200; i++) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return check();
}

describe('UI server', () => {
  let server: UiServer;
  let session: ReturnType<typeof fakeSession>;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dpulab-static-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    session = fakeSession();
    server = await startUiServer({ session, port: 0, staticDir: dir, token: TOKEN });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A request with the access token, as the page sends it after opening the printed address. */
  const get = (path: string, init: RequestInit = {}) => fetch(new URL(path, server.url), { ...init, headers: { Authorization: `Bearer ${TOKEN}`, ...(init.headers as Record<string, string> | undefined) } });
  const post = (path: string, body: unknown, type = 'application/json') => get(path, { method: 'POST', headers: { 'Content-Type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('ui server listens on 127.0.0.1 and serves the page under its content security policy', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${TOKEN}`);
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect((await get('/nothing.js')).status).toBe(404);
  });

  it('ui server answers a malformed request with 400 naming the field, and the session never sees it', async () => {
    const before = session.calls.length;
    const cases: Array<[Promise<Response>, string]> = [
      [get('/api/events?limit=-3'), 'limit'],
      [get('/api/events?kind=LLDP!'), 'kind.0'],
      [get('/api/events?from=1&from=2'), 'from'],
      [get('/api/events?colour=red'), 'colour'],
      [post('/api/control', { op: 'rewind' }), 'op'],
      [post('/api/control', { op: 'until' }), 'atNs'],
      [post('/api/action', { record: { text: 'no action' } }), 'record.action'],
      [post('/api/action', { nothing: true }), 'record'],
      [get('/api/frame/abc'), 'seq'],
    ];
    for (const [request, field] of cases) {
      const response = await request;
      const body = (await response.json()) as { field: string; error: string };
      expect({ status: response.status, field: body.field }).toEqual({ status: 400, field });
      expect(body.error).toMatch(/^Invalid /);
    }
    expect(session.calls.length).toBe(before);
  });

  it('ui server refuses other hosts, non-JSON posts and bad JSON', async () => {
    const before = session.calls.length;
    expect((await post('/api/action', 'record=1', 'application/x-www-form-urlencoded')).status).toBe(415);
    expect((await post('/api/action', '{not json')).status).toBe(400);
    expect((await get('/api/control')).status).toBe(405);
    // A page on another name resolving to 127.0.0.1 (DNS rebinding) gets nothing.
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(new URL('/api/run', server.url), { headers: { Host: `attacker.example:${server.port}`, Authorization: `Bearer ${TOKEN}` } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(rebound).toBe(421);
    expect(session.calls.length).toBe(before);
  });

  it('ui server passes well-formed calls to the session', async () => {
    expect((await post('/api/action', { record: { action: 'note', text: 'hi' } })).status).toBe(200);
    expect((await post('/api/control', { op: 'speed', speed: 2 })).status).toBe(200);
    const events = await get('/api/events?kind=lldp&kind=dfw.*&node=tor-a&order=desc');
    expect(events.status).toBe(200);
    expect(session.calls.slice(-3)).toEqual(['act note', 'control speed', `events ${JSON.stringify({ limit: 200, kind: ['lldp', 'dfw.*'], node: ['tor-a'], housekeeping: '1', order: 'desc', bytes: '0' })}`]);
    const missing = await get('/api/inspect/nope');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { field: string }).field).toBe('node');
  });

  it('ui server answers a malformed path with 400, not 500', async () => {
    for (const [path, field] of [['/api/inspect/%E0%A4%A', 'node'], ['/api/frame/%ZZ', 'seq']] as const) {
      const response = await get(path);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { field: string }).field).toBe(field);
    }
  });

  it('ui server serves nothing without its access token, and trades the printed address for a cookie', async () => {
    const before = session.calls.length;
    expect((await fetch(new URL('/', server.url))).status).toBe(403);
    expect((await fetch(new URL('/api/run', server.url))).status).toBe(403);
    expect((await fetch(new URL('/api/run', server.url), { headers: { Authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(403);
    const refused = await fetch(new URL('/api/action', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ record: { action: 'note', text: 'x' } }) });
    expect(refused.status).toBe(403);
    expect(session.calls.length).toBe(before);

    // The printed address: a redirect that drops the token from the address bar and sets the cookie.
    const opened = await fetch(server.url, { redirect: 'manual' });
    expect(opened.status).toBe(302);
    expect(opened.headers.get('location')).toBe('/');
    const cookie = opened.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^dpulab-token-${server.port}=${TOKEN}; HttpOnly; SameSite=Strict; Path=/$`));
    const withCookie = await fetch(new URL('/api/run', server.url), { headers: { Cookie: cookie.split(';')[0]! } });
    expect(withCookie.status).toBe(200);
  });

  it('ui server upgrades the stream only with the access token', async () => {
    const upgrade = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = request(new URL('/api/stream', server.url), { headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', ...headers } });
        req.on('upgrade', (res, socket) => {
          socket.destroy();
          resolve(res.statusCode ?? 0);
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await upgrade({})).toBe(403);
    expect(await upgrade({ Cookie: `dpulab-token-${server.port}=${TOKEN}` })).toBe(101);
  });

  it('ui server streams a capture as pcapng, chunked, until the session ends it, and stops feeding a reader that went away', async () => {
    const response = await get('/api/capture?wire=up-01a-a');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/x-pcapng');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="up-01a-a.pcapng"');
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    const reader = response.body!.getReader();
    // The header the session wrote arrives before the session ends the stream.
    expect([...((await reader.read()).value ?? [])]).toEqual([1, 2, 3, 4]);
    const capture = session.captures.at(-1)!;
    expect(capture.query).toEqual({ wire: 'up-01a-a' });
    capture.sink.write(new Uint8Array([5, 6]));
    capture.sink.end();
    const rest: number[] = [];
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) rest.push(...chunk.value);
    expect(rest).toEqual([5, 6]);

    const gone = new AbortController();
    const second = await get('/api/capture?vnic=web-01.eth0', { signal: gone.signal });
    expect(second.status).toBe(200);
    gone.abort();
    expect(await until(() => session.captures.at(-1)!.stopped)).toBe(true);
  });

  it('ui server refuses a capture of nothing, of two things, of an unknown vNIC or without the token, with nothing started', async () => {
    const before = session.captures.length;
    const cases: Array<[string, number, string | null]> = [
      ['/api/capture', 400, 'wire'],
      ['/api/capture?wire=a&vnic=b', 400, 'wire'],
      ['/api/capture?wire=bad id', 400, 'wire'],
      ['/api/capture?port=3', 400, 'port'],
      ['/api/capture?vnic=web-09.eth0', 400, 'vnic'],
    ];
    for (const [path, status, field] of cases) {
      const response = await get(path);
      expect({ path, status: response.status, field: ((await response.json()) as { field: string | null }).field }).toEqual({ path, status, field });
    }
    expect((await fetch(new URL('/api/capture?wire=up-01a-a', server.url))).status).toBe(403);
    expect((await get('/api/capture?wire=up-01a-a', { method: 'POST' })).status).toBe(405);
    expect(session.captures.length).toBe(before);
  });

  it('ui server answers /api/invariants from the session and refuses query parameters there', async () => {
    const ok = await get('/api/invariants');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ invariants: [{ id: 'vm-one-host', meaning: 'A VM runs on one host at a time' }], checked: 3, final: false, violations: [] });
    expect((await get('/api/invariants?at=3')).status).toBe(400);
  });
});
