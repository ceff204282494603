import { describe, expect, test } from 'vitest';
import { IpfixOptionError } from './errors.js';
import { FlowCache } from './flow-cache.js';
import { tcpKey, udp6Key, VF_TO_UPLINK } from './testing.js';

const S = 1_000_000_000;

describe('FlowCache', () => {
  test('counts packets and bytes per flow and closes an idle flow after the idle timeout', () => {
    const cache = new FlowCache();
    cache.observe(0, tcpKey(), 1500, VF_TO_UPLINK);
    cache.observe(100, tcpKey(), 52, VF_TO_UPLINK);
    cache.observe(200, tcpKey(), 1500, VF_TO_UPLINK);
    expect(cache.expire(200 + 2 * S - 1)).toEqual([]);
    expect(cache.expire(200 + 2 * S)).toEqual([
      { ...tcpKey(), ...VF_TO_UPLINK, family: 4, octets: 3052, packets: 3, startNs: 0, endNs: 200, endReason: 'idle-timeout', verdict: 'forwarded' },
    ]);
    expect(cache.size).toBe(0);
  });

  test('reports a long flow every active timeout, each record counting only its own packets', () => {
    const cache = new FlowCache({ activeTimeoutNs: 10 * S, idleTimeoutNs: 2 * S });
    const records = [];
    for (let t = 0; t <= 25 * S; t += S / 2) {
      cache.observe(t, tcpKey(), 1000, VF_TO_UPLINK);
      records.push(...cache.expire(t));
    }
    expect(records.map((r) => [r.startNs / S, r.endNs / S, r.packets, r.octets, r.endReason])).toEqual([
      [0, 9.5, 20, 20_000, 'active-timeout'],
      [10, 19.5, 20, 20_000, 'active-timeout'],
    ]);
    expect(cache.flush().map((r) => [r.startNs / S, r.endNs / S, r.packets, r.endReason])).toEqual([[20, 25, 11, 'forced-end']]);
  });

  test('tells flows apart by 5-tuple and by interfaces, and keeps the address family', () => {
    const cache = new FlowCache();
    cache.observe(0, tcpKey(1000), 100, VF_TO_UPLINK);
    cache.observe(1, tcpKey(1001), 100, VF_TO_UPLINK);
    cache.observe(2, tcpKey(1000), 100, { ingress: 2, egress: 3 });
    cache.observe(3, udp6Key(), 100, VF_TO_UPLINK);
    const records = cache.flush();
    expect(records.map((r) => [r.srcPort, r.ingress, r.family, r.packets])).toEqual([
      [1000, 1, 4, 1],
      [1001, 1, 4, 1],
      [1000, 2, 4, 1],
      [5353, 1, 6, 1],
    ]);
  });

  test('keeps a denied flow apart from the same 5-tuple forwarded', () => {
    const cache = new FlowCache();
    cache.observe(0, tcpKey(), 60, VF_TO_UPLINK);
    cache.observe(1, tcpKey(), 60, { ingress: 1, egress: 0 }, 'denied');
    cache.observe(2, tcpKey(), 60, { ingress: 1, egress: 0 }, 'denied');
    expect(cache.flush().map((r) => [r.verdict, r.egress, r.packets])).toEqual([
      ['forwarded', 3, 1],
      ['denied', 0, 2],
    ]);
  });

  test('exports in the same order whatever order the flows were first seen in', () => {
    const a = new FlowCache();
    const b = new FlowCache();
    a.observe(5, tcpKey(2), 1, VF_TO_UPLINK);
    a.observe(5, tcpKey(1), 1, VF_TO_UPLINK);
    b.observe(5, tcpKey(1), 1, VF_TO_UPLINK);
    b.observe(5, tcpKey(2), 1, VF_TO_UPLINK);
    expect(a.flush()).toEqual(b.flush());
  });

  test('closes a timed-out flow seen again before expire ran, and starts a new record', () => {
    const cache = new FlowCache({ idleTimeoutNs: 2 * S });
    cache.observe(0, tcpKey(), 100, VF_TO_UPLINK);
    cache.observe(3 * S, tcpKey(), 200, VF_TO_UPLINK);
    const first = cache.expire(3 * S);
    expect(first.map((r) => [r.startNs, r.endNs, r.octets, r.endReason])).toEqual([[0, 0, 100, 'idle-timeout']]);
    expect(cache.flush().map((r) => [r.startNs, r.octets])).toEqual([[3 * S, 200]]);
  });

  test('closes the least recently seen flow when full (lack of resources)', () => {
    const cache = new FlowCache({ maxFlows: 2 });
    cache.observe(0, tcpKey(1), 100, VF_TO_UPLINK);
    cache.observe(1, tcpKey(2), 100, VF_TO_UPLINK);
    cache.observe(2, tcpKey(1), 100, VF_TO_UPLINK);
    cache.observe(3, tcpKey(3), 100, VF_TO_UPLINK);
    expect(cache.size).toBe(2);
    expect(cache.expire(3).map((r) => [r.srcPort, r.endReason])).toEqual([[2, 'lack-of-resources']]);
  });

  test('says when the next flow times out, and nothing when none is open', () => {
    const cache = new FlowCache({ activeTimeoutNs: 10 * S, idleTimeoutNs: 2 * S });
    expect(cache.nextExpiry()).toBeNull();
    cache.observe(S, tcpKey(), 1, VF_TO_UPLINK);
    expect(cache.nextExpiry()).toBe(3 * S);
    cache.observe(9 * S, tcpKey(), 1, VF_TO_UPLINK);
    expect(cache.nextExpiry()).toBe(11 * S);
  });

  test('refuses timeouts and sizes that are not positive integers', () => {
    expect(() => new FlowCache({ idleTimeoutNs: 0 })).toThrow(IpfixOptionError);
    expect(() => new FlowCache({ activeTimeoutNs: 1.5 })).toThrow(/activeTimeoutNs is 1.5/);
  });
});
