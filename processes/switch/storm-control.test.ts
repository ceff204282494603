import { describe, expect, it } from 'vitest';
import { BROADCAST, MAC_A, MAC_B, switchUnderTest, udpFrame } from './testing.js';

describe('storm control', () => {
  it('storm control floods a burst, then the rate, drops the rest with one event each way', () => {
    const { core, ctx } = switchUnderTest('    stormControl: { pps: 1000, burst: 3 }\n');
    for (let i = 0; i < 5; i++) core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    // Three floods of seven ports each; two frames dropped, one event for the start of it.
    expect(ctx.takeSent()).toHaveLength(3 * 7);
    expect(ctx.payloads('switch.storm')).toEqual([{ port: 'swp1', state: 'suppressing', dropped: 0, pps: 1000, burst: 3 }]);
    expect(ctx.payloads('switch.drop')).toEqual([]);

    // A millisecond later one more token: the flood passes and suppression ends, with its count.
    ctx.time = 1_000_000;
    core.onFrame(ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(ctx.takeSent()).toHaveLength(7);
    expect(ctx.payloads('switch.storm').at(-1)).toEqual({ port: 'swp1', state: 'cleared', dropped: 2, pps: 1000, burst: 3 });
    expect((core.inspect() as { ports: Array<{ port: string; stormDropped: number }> }).ports.find((p) => p.port === 'swp1')?.stormDropped).toBe(2);
  });

  it('storm control leaves known unicast alone and counts each port on its own', () => {
    const { core, ctx } = switchUnderTest('    stormControl: { pps: 1, burst: 1 }\n');
    core.onFrame(ctx, 'swp2', udpFrame(MAC_B, BROADCAST), 'eth');
    ctx.takeSent();
    for (let i = 0; i < 5; i++) core.onFrame(ctx, 'swp1', udpFrame(MAC_A, MAC_B), 'eth');
    expect(ctx.takeSent().map((s) => s.port)).toEqual(['swp2', 'swp2', 'swp2', 'swp2', 'swp2']);
    core.onFrame(ctx, 'swp3', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(ctx.takeSent()).toHaveLength(7);
    expect(ctx.payloads('switch.storm')).toEqual([]);
  });

  it('storm control is on by default and off with stormControl: false', () => {
    const on = switchUnderTest();
    for (let i = 0; i < 101; i++) on.core.onFrame(on.ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(on.ctx.payloads('switch.storm')).toHaveLength(1);
    const off = switchUnderTest('    stormControl: false\n');
    for (let i = 0; i < 200; i++) off.core.onFrame(off.ctx, 'swp1', udpFrame(MAC_A, BROADCAST), 'eth');
    expect(off.ctx.payloads('switch.storm')).toEqual([]);
  });
});
