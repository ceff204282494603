import { describe, expect, it } from 'vitest';
import { FlowError, resolveFlowSpec } from './flow-spec.js';

function errorOf(input: unknown): FlowError {
  try {
    resolveFlowSpec(input);
  } catch (error) {
    if (error instanceof FlowError) return error;
    throw error;
  }
  throw new Error('Expected a FlowError');
}

describe('resolveFlowSpec', () => {
  it('fills the defaults of each kind', () => {
    expect(resolveFlowSpec({ id: 'web-db', kind: 'tcp', from: 'web-01', to: '10.0.2.13' })).toEqual({
      id: 'web-db',
      kind: 'tcp',
      from: 'web-01',
      to: '10.0.2.13',
      family: 4,
      port: 5201,
      ratePps: 100,
      payloadBytes: 1000,
      count: null,
    });
    const udp = resolveFlowSpec({ id: 'u', kind: 'udp', from: 'a', to: 'FD00:1:0::12' });
    expect([udp.port, udp.payloadBytes, udp.to, udp.family]).toEqual([5202, 1000, 'fd00:1::12', 6]);
    const ping = resolveFlowSpec({ id: 'p', kind: 'ping', from: 'a', to: '10.0.0.1', ratePps: 10, count: 3 });
    expect([ping.port, ping.payloadBytes, ping.ratePps, ping.count]).toEqual([null, 64, 10, 3]);
  });

  it('grows the default ping size to fit a long flow id', () => {
    const id = 'x'.repeat(60);
    expect(resolveFlowSpec({ id, kind: 'ping', from: 'a', to: '10.0.0.1' }).payloadBytes).toBe(17 + 60);
  });

  it('refuses wrong fields with a message naming them', () => {
    expect(errorOf({ id: 'f', kind: 'icmp', from: 'a', to: '10.0.0.1' }).message).toMatch(/kind: expected one of "ping", "tcp", "udp"/);
    expect(errorOf({ id: 'f', kind: 'tcp', from: 'a', to: '10.0.0.300' }).message).toMatch(/to: expected an IPv4 or IPv6 address/);
    expect(errorOf({ id: 'f', kind: 'ping', from: 'a', to: '10.0.0.1', port: 7 }).message).toMatch(/port: a ping flow has no port/);
    expect(errorOf({ id: 'f', kind: 'udp', from: 'a', to: '10.0.0.1', payloadBytes: 5000 }).message).toMatch(/payloadBytes: must be from 18 to 1400 for a udp flow/);
    expect(errorOf({ id: 'f', kind: 'udp', from: 'a', to: '10.0.0.1', ratePps: 0 }).message).toMatch(/ratePps/);
    expect(errorOf({ id: 'f', kind: 'udp', from: 'a', to: '10.0.0.1', count: 1.5 }).message).toMatch(/count/);
    expect(errorOf({ id: 'f', kind: 'udp', from: 'a', to: '10.0.0.1', rate: 5 }).message).toMatch(/rate: unknown key/);
    expect(errorOf({ kind: 'udp' }).code).toBe('bad-flow-spec');
    expect(errorOf('web-db').code).toBe('bad-flow-spec');
  });
});
