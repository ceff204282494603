import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyClusterState } from '../../shared/state/cluster-state.js';
import { ApiError } from './errors.js';
import { CONTENT_SECURITY_POLICY, startUiServer, type UiServer } from './http-server.js';
import type { ControlRequest, EventsQuery, RunStatus } from '../common/protocol.js';
import type { UiSession } from './session.js';

const STATUS: RunStatus = { state: 'running', vtime: 5, paused: false, speed: 1, events: 0, until: null, message: null };

/** A session that records what reached it. */
function fakeSession(): UiSession & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
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

describe('UI server', () => {
  let server: UiServer;
  let session: ReturnType<typeof fakeSession>;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dpulab-static-'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
    session = fakeSession();
    server = await startUiServer({ session, port: 0, staticDir: dir });
  });

  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: unknown, type = 'application/json') => fetch(new URL(path, server.url), { method: 'POST', headers: { 'Content-Type': type }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('ui server listens on 127.0.0.1 and serves the page under its content security policy', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    expect((await fetch(new URL('/nothing.js', server.url))).status).toBe(404);
  });

  it('ui server answers a malformed request with 400 naming the field, and the session never sees it', async () => {
    const before = session.calls.length;
    const cases: Array<[Promise<Response>, string]> = [
      [fetch(new URL('/api/events?limit=-3', server.url)), 'limit'],
      [fetch(new URL('/api/events?kind=LLDP!', server.url)), 'kind.0'],
      [fetch(new URL('/api/events?from=1&from=2', server.url)), 'from'],
      [fetch(new URL('/api/events?colour=red', server.url)), 'colour'],
      [post('/api/control', { op: 'rewind' }), 'op'],
      [post('/api/control', { op: 'until' }), 'atNs'],
      [post('/api/action', { record: { text: 'no action' } }), 'record.action'],
      [post('/api/action', { nothing: true }), 'record'],
      [fetch(new URL('/api/frame/abc', server.url)), 'seq'],
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
    expect((await fetch(new URL('/api/control', server.url))).status).toBe(405);
    // A page on another name resolving to 127.0.0.1 (DNS rebinding) gets nothing.
    const rebound = await new Promise<number>((resolve, reject) => {
      const req = request(new URL('/api/run', server.url), { headers: { Host: `attacker.example:${server.port}` } }, (res) => {
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
    const events = await fetch(new URL('/api/events?kind=lldp&kind=dfw.*&node=tor-a&order=desc', server.url));
    expect(events.status).toBe(200);
    expect(session.calls.slice(-3)).toEqual(['act note', 'control speed', `events ${JSON.stringify({ limit: 200, kind: ['lldp', 'dfw.*'], node: ['tor-a'], order: 'desc', bytes: '0' })}`]);
    const missing = await fetch(new URL('/api/inspect/nope', server.url));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { field: string }).field).toBe('node');
  });
});
