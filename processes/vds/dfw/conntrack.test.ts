import { describe, expect, it } from 'vitest';
import { buildIcmpUnreachableFrame } from '../../../shared/net/builders.js';
import { NS_PER_S } from '../../../shared/units.js';
import { TestContext } from '../../runtime/testing.js';
import { connectionKey, DEFAULT_DFW_TIMEOUTS } from './conntrack.js';
import { DistributedFirewall } from './firewall.js';
import type { DfwOptions } from './firewall.js';
import { CLIENT, elapse, ping, rule, tcp, udp, v6, WEB } from './testing.js';

const HTTP: readonly [number, number] = [40000, 80];
const HTTP_BACK: readonly [number, number] = [80, 40000];

/** A firewall that only lets clients open TCP port 80 on WEB (and UDP/ICMP for other tests). */
function firewall(options: Partial<DfwOptions> = {}): DistributedFirewall {
  const fw = new DistributedFirewall({ node: 'dpu-a', defaultAction: 'drop', ...options });
  fw.attach(WEB);
  fw.setRules(
    new TestContext('dpu-a'),
    [
      rule({ id: 'http-in', direction: 'in', service: { protocol: 'tcp', destinationPorts: [{ from: 80, to: 80 }] }, action: 'allow' }),
      rule({ id: 'dns-out', direction: 'out', service: { protocol: 'udp', destinationPorts: [{ from: 53, to: 53 }] }, action: 'allow' }),
      rule({ id: 'ping-out', direction: 'out', service: { protocol: 'icmp' }, action: 'allow' }),
      rule({ id: 'ping6-out', direction: 'out', service: { protocol: 'icmpv6' }, action: 'allow' }),
    ],
    1,
  );
  return fw;
}

function only(fw: DistributedFirewall) {
  const list = fw.connections(WEB.vnic);
  expect(list).toHaveLength(1);
  return list[0]!;
}

describe('connection tracking TCP', () => {
  it('TCP connections go through first-packet, opening, established, closing, fin-wait and closed with NSX timeouts', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    const seen: [string, number][] = [];
    const record = (): void => {
      const c = only(fw);
      seen.push([c.state, (c.expiresAt - ctx.time) / NS_PER_S]);
    };
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 100));
    record();
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { syn: true, ack: true }, 500, 101));
    record();
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { ack: true }, 101, 501));
    record();
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { ack: true, psh: true }, 101, 501, new Uint8Array(10)));
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { ack: true, psh: true }, 501, 111, new Uint8Array(100)));
    record();
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { fin: true, ack: true }, 601, 111));
    record();
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { fin: true, ack: true }, 111, 602));
    record();
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { ack: true }, 602, 112));
    record();
    expect(seen).toEqual([
      ['first-packet', 120],
      ['opening', 30],
      ['established', 43_200],
      ['established', 43_200],
      ['closing', 120],
      ['fin-wait', 45],
      ['closed', 20],
    ]);
    expect(ctx.payloads('dfw.conn.state').map((p) => `${p.from}>${p.to}`)).toEqual([
      'first-packet>opening',
      'opening>established',
      'established>closing',
      'closing>fin-wait',
      'fin-wait>closed',
    ]);
    expect(ctx.payloads('dfw.conn.new')).toHaveLength(1);
  });

  it('a FIN acknowledged before the peer closes keeps the connection closing, not closed', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 100));
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { syn: true, ack: true }, 500, 101));
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { fin: true, ack: true }, 101, 501));
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { ack: true }, 501, 102));
    expect(only(fw).state).toBe('closing');
  });

  it('a RST closes a TCP connection at once', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 100));
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { rst: true, ack: true }, 0, 101));
    expect(only(fw)).toMatchObject({ state: 'closed', expiresAt: ctx.time + 20 * NS_PER_S });
  });

  it('established TCP traffic is judged by its entry with no new dfw.rule.hit, in both directions', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 100));
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { syn: true, ack: true }, 500, 101));
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { ack: true }, 101, 501));
    expect(ctx.payloads('dfw.rule.hit')).toHaveLength(1);
    ctx.clear();
    for (let i = 0; i < 5; i++) {
      const out = fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { ack: true, psh: true }, 501 + i * 10, 101, new Uint8Array(10)));
      expect(out).toEqual({ action: 'allow', ruleId: 'http-in', established: true, reply: null });
    }
    expect(ctx.events).toEqual([]);
    expect(fw.ruleCounters().find((c) => c.rule === 'http-in')).toMatchObject({ hits: 1, packets: 8 });
  });

  it('a TCP segment other than SYN opens no entry unless loose pick-up is on', () => {
    const ctx = new TestContext('dpu-a');
    const strict = firewall();
    const midstream = tcp(CLIENT, WEB, HTTP, { ack: true, psh: true }, 5000, 7000, new Uint8Array(4));
    expect(strict.filter(ctx, WEB.vnic, 'in', midstream)).toMatchObject({ action: 'allow', established: false });
    expect(strict.connections()).toEqual([]);
    const loose = firewall({ tcpLoosePickup: true });
    loose.filter(ctx, WEB.vnic, 'in', midstream);
    expect(only(loose).state).toBe('established');
  });

  it('a new SYN on a closed connection starts a new connection evaluated by the rules', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 100));
    fw.filter(ctx, WEB.vnic, 'out', tcp(WEB, CLIENT, HTTP_BACK, { rst: true, ack: true }, 0, 101));
    ctx.clear();
    const again = fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 9000));
    expect(again).toMatchObject({ established: false, ruleId: 'http-in' });
    expect(ctx.payloads('dfw.conn.expired')).toMatchObject([{ reason: 'reused', state: 'closed' }]);
    expect(only(fw).state).toBe('first-packet');
  });
});

describe('connection tracking UDP and ICMP', () => {
  it('UDP connections go first-packet, single when only the sender repeats, multiple once the peer answers', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    const states: [string, number][] = [];
    const record = (): void => {
      const c = only(fw);
      states.push([c.state, (c.expiresAt - ctx.time) / NS_PER_S]);
    };
    fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5353, 53]));
    record();
    fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5353, 53]));
    record();
    const reply = fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [53, 5353]));
    record();
    expect(states).toEqual([
      ['first-packet', 60],
      ['single', 30],
      ['multiple', 60],
    ]);
    expect(reply).toMatchObject({ action: 'allow', established: true, ruleId: 'dns-out' });
  });

  it('ICMP echo replies are allowed by the request entry, which then takes the error-reply timeout', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.filter(ctx, WEB.vnic, 'out', ping(WEB, CLIENT, 77, 1));
    expect(only(fw)).toMatchObject({ state: 'first-packet', expiresAt: 20 * NS_PER_S, srcPort: 77, dstPort: 77 });
    elapse(ctx, 1);
    expect(fw.filter(ctx, WEB.vnic, 'in', ping(CLIENT, WEB, 77, 1, true))).toMatchObject({ action: 'allow', established: true, ruleId: 'ping-out' });
    expect(only(fw)).toMatchObject({ state: 'error-reply', expiresAt: ctx.time + 10 * NS_PER_S });
    expect(fw.filter(ctx, WEB.vnic, 'in', ping(CLIENT, WEB, 78, 1, true))).toMatchObject({ action: 'drop', ruleId: 'default' });
  });

  it('ICMPv6 echo is tracked the same way', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    const client6 = { mac: CLIENT.mac, ip: 'fd00:9::9' };
    fw.filter(ctx, WEB.vnic, 'out', ping(v6(WEB), client6, 5, 1));
    expect(fw.filter(ctx, WEB.vnic, 'in', ping(client6, v6(WEB), 5, 1, true))).toMatchObject({ established: true, ruleId: 'ping6-out' });
  });

  it('an ICMP error quoting a tracked connection is let through as part of it', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    const query = udp(WEB, CLIENT, [5353, 53]);
    fw.filter(ctx, WEB.vnic, 'out', query);
    const unreachable = buildIcmpUnreachableFrame({ srcMac: CLIENT.mac, dstMac: WEB.mac, srcIp: CLIENT.ip, dstIp: WEB.ip, code: 3, original: query.subarray(14, 14 + 20 + 8 + 4) });
    expect(fw.filter(ctx, WEB.vnic, 'in', unreachable)).toMatchObject({ action: 'allow', established: true, ruleId: 'dns-out' });
    const stray = buildIcmpUnreachableFrame({ srcMac: CLIENT.mac, dstMac: WEB.mac, srcIp: CLIENT.ip, dstIp: WEB.ip, code: 3, original: udp(WEB, CLIENT, [9999, 53]).subarray(14, 46) });
    expect(fw.filter(ctx, WEB.vnic, 'in', stray)).toMatchObject({ action: 'drop', ruleId: 'default' });
  });
});

describe('connection tracking expiry', () => {
  it('an idle entry expires on lookup: the next packet is evaluated by the rules again', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5353, 53]));
    elapse(ctx, 59.999);
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [53, 5353])).established).toBe(true);
    elapse(ctx, 60);
    ctx.clear();
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [53, 5353]))).toMatchObject({ action: 'drop', established: false });
    expect(ctx.payloads('dfw.conn.expired')).toMatchObject([{ vnic: WEB.vnic, rule: 'dns-out', state: 'multiple', reason: 'timeout', origPackets: 1, replyPackets: 1 }]);
  });

  it('sweep removes the expired entries only and reports the next expiry', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall({ timeouts: { udpFirstPacket: 5, icmpFirstPacket: 2 } });
    fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5353, 53]));
    fw.filter(ctx, WEB.vnic, 'out', ping(WEB, CLIENT, 1, 1));
    expect(fw.nextExpiry()).toBe(2 * NS_PER_S);
    elapse(ctx, 2);
    expect(fw.sweep(ctx)).toBe(1);
    expect(fw.connections().map((c) => c.protocol)).toEqual(['udp']);
    elapse(ctx, 3);
    fw.sweep(ctx);
    expect(fw.connections()).toEqual([]);
    expect(fw.nextExpiry()).toBeNull();
    expect(ctx.payloads('dfw.conn.expired').map((p) => p.proto)).toEqual(['icmp', 'udp']);
  });

  it('timeouts default to NSX values and can be overridden one by one', () => {
    // NSX's documented defaults for the states a user meets first (seconds).
    expect(DEFAULT_DFW_TIMEOUTS).toMatchObject({ tcpFirstPacket: 120, tcpEstablished: 43_200, udpFirstPacket: 60, icmpFirstPacket: 20 });
    const ctx = new TestContext('dpu-a');
    const fw = firewall({ timeouts: { tcpFirstPacket: 3 } });
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, HTTP, { syn: true }, 1));
    expect(only(fw).expiresAt).toBe(3 * NS_PER_S);
  });
});

describe('connection key', () => {
  it('connection keys are the same from both directions and differ per port', () => {
    const there = { protocol: 'udp', src: '10.0.0.1', srcPort: 1000, dst: '10.0.0.2', dstPort: 53 } as const;
    const back = { protocol: 'udp', src: '10.0.0.2', srcPort: 53, dst: '10.0.0.1', dstPort: 1000 } as const;
    expect(connectionKey(there)).toBe(connectionKey(back));
    expect(connectionKey({ ...there, srcPort: 1001 })).not.toBe(connectionKey(back));
    expect(connectionKey({ ...there, protocol: 'tcp' })).not.toBe(connectionKey(back));
  });
});
