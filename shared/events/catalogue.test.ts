import { describe, expect, it } from 'vitest';
import { encode } from '../codec.js';
import type { RecordedEvent } from '../events.js';
import { ACTION_NAMES } from '../actions/schema.js';
import { ALL_EVENT_KINDS, EVENT_FIELDS, EVENT_KIND_DESCRIPTIONS, EVENT_MEANINGS, isEventKind, payloadProblems, type EventPayloads } from './catalogue.js';
import { decodeEvent, EventDecodeError, eventInput, eventPayload, eventVolatile, typedEvent } from './typed.js';

function recorded(kind: string, payload: unknown, volatile: unknown = null, seq = 7): RecordedEvent {
  return { seq, vtime: 1_000, node: 'esx-01', kind, cause: null, payload: encode(payload), volatile: volatile === null ? null : encode(volatile) };
}

describe('event catalogue', () => {
  it('event catalogue declares an input kind for every scenario action', () => {
    for (const action of ACTION_NAMES) expect(isEventKind(`input.${action}`), action).toBe(true);
    expect(ALL_EVENT_KINDS.filter((k) => k.startsWith('input.'))).toHaveLength(ACTION_NAMES.length);
  });

  it('event catalogue gives every kind a meaning that reads as a sentence, and its fields', () => {
    for (const kind of ALL_EVENT_KINDS) {
      expect(EVENT_MEANINGS[kind], kind).toMatch(/^[A-Z].*[^.]$/);
      expect(EVENT_FIELDS[kind].length, kind).toBeGreaterThan(0);
      expect(EVENT_KIND_DESCRIPTIONS[kind]).toBe(`${EVENT_MEANINGS[kind]} (payload: ${EVENT_FIELDS[kind].join(', ')})`);
    }
    expect(Object.keys(EVENT_KIND_DESCRIPTIONS).sort()).toEqual([...ALL_EVENT_KINDS]);
  });

  it('isEventKind knows declared kinds only, not prototype names', () => {
    expect(isEventKind('vmotion.done')).toBe(true);
    expect(isEventKind('vmotion.dnoe')).toBe(false);
    expect(isEventKind('toString')).toBe(false);
  });

  it('payloadProblems names a missing field and an unknown one, and accepts optional fields absent', () => {
    expect(payloadProblems('link.state', { port: 'p0', wire: 'w', up: true })).toEqual([]);
    expect(payloadProblems('link.state', { port: 'p0', up: true, speed: 10 })).toEqual(['missing field wire', 'unknown field speed']);
    expect(payloadProblems('input.kill', { action: 'kill', node: 'dpu-02a' })).toEqual([]);
    expect(payloadProblems('input.kill', { action: 'kill', node: 'dpu-02a', step: 3 })).toEqual([]);
    expect(payloadProblems('dfw.import', { node: 'd', vnic: 'v', vm: 'm', ok: false, version: 2, reason: 'dfw-version' })).toEqual([]);
    expect(payloadProblems('no.such', {})).toEqual(['unknown event kind no.such']);
    expect(payloadProblems('link.state', [1])).toEqual(['payload is not a map']);
  });
});

describe('typed events', () => {
  const done: EventPayloads['vmotion.done'] = { mid: 'm', vm: 'web-01', from: 'esx-01', to: 'esx-02', result: 'aborted', reason: 'already-migrating', rounds: 0, switchoverNs: null, downtimeNs: null, guestDowntimeNs: null, breakdown: null };

  it('decodeEvent types the payload by kind', () => {
    const e = decodeEvent(recorded('vmotion.done', done));
    expect(e.kind).toBe('vmotion.done');
    if (e.kind !== 'vmotion.done') throw new Error('narrowing failed');
    expect(e.payload.result).toBe('aborted');
    expect(e).toMatchObject({ seq: 7, vtime: 1_000, node: 'esx-01', cause: null });
  });

  it('decodeEvent refuses a kind the catalogue does not know and a payload that is not msgpack', () => {
    expect(() => decodeEvent(recorded('gossip.rx', {}))).toThrow(expect.objectContaining({ code: 'unknown-event-kind', message: 'Event 7 has kind gossip.rx, which this dpulab does not know' }));
    const damaged = { ...recorded('vmotion.done', done), payload: new Uint8Array([0x82, 0xa1]) };
    expect(() => decodeEvent(damaged)).toThrow(EventDecodeError);
  });

  it('eventPayload refuses an event of another kind', () => {
    expect(eventPayload(recorded('vmotion.done', done), 'vmotion.done').vm).toBe('web-01');
    expect(() => eventPayload(recorded('vmotion.done', done), 'vmotion.start')).toThrow('Event 7 is a vmotion.done, not a vmotion.start');
  });

  it('eventVolatile reads the volatile record of node.start, null when there is none', () => {
    expect(eventVolatile(recorded('node.start', { node: 'a', kind: 'host', incarnation: 0 }, { pid: 42, mode: 'in-process' }), 'node.start')).toEqual({ pid: 42, mode: 'in-process' });
    expect(eventVolatile(recorded('node.start', { node: 'a', kind: 'host', incarnation: 0 }), 'node.start')).toBeNull();
  });

  it('eventInput returns the recorded input and refuses a record of another action', () => {
    expect(eventInput(recorded('input.kill', { action: 'kill', node: 'dpu-02a', step: 4 }))).toEqual({ action: 'kill', node: 'dpu-02a', step: 4 });
    expect(() => eventInput(recorded('input.kill', { action: 'restart', node: 'dpu-02a' }))).toThrow('Event 7 is a input.kill whose record names action restart');
    expect(() => eventInput(recorded('input.kill', null))).toThrow(EventDecodeError);
    expect(() => eventInput(recorded('vmotion.done', done))).toThrow('Event 7 is a vmotion.done, not an input');
  });

  it('typedEvent types an event the UI server sent with its payload decoded', () => {
    const e = typedEvent({ seq: 1, vtime: 0, node: 'controller', kind: 'input.note', cause: null, payload: { action: 'note', text: 'here' } });
    if (e.kind !== 'input.note') throw new Error('narrowing failed');
    expect(e.payload.text).toBe('here');
    expect(() => typedEvent({ seq: 1, vtime: 0, node: 'x', kind: 'nope', cause: null, payload: {} })).toThrow(EventDecodeError);
  });
});
