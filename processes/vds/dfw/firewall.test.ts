import { describe, expect, it } from 'vitest';
import { buildArpRequest, buildUdpFrame } from '../../../shared/net/builders.js';
import { buildLldpFrame } from '../../../shared/net/lldp.js';
import { TestContext } from '../../runtime/testing.js';
import { DfwRuleError, DfwVnicError } from './errors.js';
import { DistributedFirewall } from './firewall.js';
import type { DfwOptions } from './firewall.js';
import { CLIENT, DB, ping, rule, tcp, udp, v6, WEB } from './testing.js';

function firewall(options: Partial<DfwOptions> = {}): DistributedFirewall {
  const fw = new DistributedFirewall({
    node: 'dpu-a',
    resolve: (name) => (name === 'db-01' ? ['10.0.2.21/24', 'fd00:2::21'] : name === 'web-01' ? ['10.0.1.11/24'] : []),
    ...options,
  });
  fw.attach(WEB);
  fw.attach(DB);
  return fw;
}

describe('DistributedFirewall rule evaluation', () => {
  it('rule evaluation picks the lowest priority number first, ties broken by id', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(
      ctx,
      [
        rule({ id: 'b-allow', priority: 10, action: 'allow' }),
        rule({ id: 'a-drop', priority: 10, action: 'drop' }),
        rule({ id: 'first-reject', priority: 5, action: 'reject', service: { protocol: 'tcp' } }),
      ],
      1,
    );
    const udpVerdict = fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [5000, 53]));
    expect(udpVerdict).toMatchObject({ action: 'drop', ruleId: 'a-drop', established: false });
    const tcpVerdict = fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [40000, 80], { syn: true }, 1000));
    expect(tcpVerdict).toMatchObject({ action: 'reject', ruleId: 'first-reject' });
  });

  it('rule evaluation falls through to the default rule, whose action is a constructor option', () => {
    const ctx = new TestContext('dpu-a');
    const open = firewall();
    expect(open.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [5000, 53]))).toMatchObject({ action: 'allow', ruleId: 'default' });
    const closed = firewall({ defaultAction: 'drop' });
    expect(closed.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [5000, 53]))).toMatchObject({ action: 'drop', ruleId: 'default' });
  });

  it('rule applied-to limits a rule to the named VM or vNIC', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'web-only', appliedTo: ['web-01'], action: 'drop' }), rule({ id: 'db-nic', appliedTo: [DB.vnic], action: 'reject' })], 1);
    const frame = udp(CLIENT, WEB, [5000, 53]);
    expect(fw.filter(ctx, WEB.vnic, 'in', frame).ruleId).toBe('web-only');
    expect(fw.filter(ctx, DB.vnic, 'in', udp(CLIENT, DB, [5000, 53])).ruleId).toBe('db-nic');
    fw.attach({ vnic: 'app-01.nic0', vm: 'app-01', mac: '02:00:00:00:03:01', ipv4: '10.0.3.31', ipv6: null });
    expect(fw.filter(ctx, 'app-01.nic0', 'in', frame).ruleId).toBe('default');
  });

  it('rule sources and destinations match CIDR prefixes and addresses of both families', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall({ defaultAction: 'drop' });
    fw.setRules(
      ctx,
      [
        rule({ id: 'from-lan', sources: ['192.168.0.0/16'], destinations: ['10.0.1.11'], action: 'allow' }),
        rule({ id: 'v6-in', sources: ['fd00:2::/64'], action: 'allow' }),
      ],
      1,
    );
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [5000, 53])).ruleId).toBe('from-lan');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp({ mac: CLIENT.mac, ip: '172.16.0.9' }, WEB, [5000, 53])).ruleId).toBe('default');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(v6(DB), v6(WEB), [5000, 53])).ruleId).toBe('v6-in');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp({ mac: CLIENT.mac, ip: 'fd00:3::1' }, v6(WEB), [5000, 53])).ruleId).toBe('default');
  });

  it('rule sources match a VM id through the resolver and an attached vNIC through its identity', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall({ defaultAction: 'drop' });
    fw.setRules(ctx, [rule({ id: 'db-to-web', sources: ['db-01'], destinations: [WEB.vnic], action: 'allow' })], 1);
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(DB, WEB, [5000, 53])).ruleId).toBe('db-to-web');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(v6(DB), v6(WEB), [5000, 53])).ruleId).toBe('db-to-web');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [5000, 53])).ruleId).toBe('default');
  });

  it('rule services match protocol, destination port ranges, source ports and ICMP type', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall({ defaultAction: 'drop' });
    fw.setRules(
      ctx,
      [
        rule({ id: 'web', service: { protocol: 'tcp', destinationPorts: [{ from: 80, to: 80 }, { from: 8000, to: 8080 }] }, action: 'allow' }),
        rule({ id: 'dns-from-53', service: { protocol: 'udp', sourcePorts: [{ from: 53, to: 53 }] }, action: 'allow' }),
        rule({ id: 'echo', service: { protocol: 'icmp', icmpType: 8 }, action: 'allow' }),
      ],
      1,
    );
    expect(fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [40000, 8080], { syn: true }, 1)).ruleId).toBe('web');
    expect(fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [40001, 8081], { syn: true }, 1)).ruleId).toBe('default');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [53, 4000])).ruleId).toBe('dns-from-53');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [54, 53])).ruleId).toBe('default');
    expect(fw.filter(ctx, WEB.vnic, 'in', ping(CLIENT, WEB, 7, 1)).ruleId).toBe('echo');
    expect(fw.filter(ctx, WEB.vnic, 'in', ping(CLIENT, WEB, 8, 1, true)).ruleId).toBe('default');
  });

  it('rule direction in matches only traffic towards the VM, out only traffic it sends', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'no-egress', direction: 'out', action: 'drop' })], 1);
    expect(fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5000, 53])).ruleId).toBe('no-egress');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [5000, 53])).ruleId).toBe('default');
  });

  it('rule hits are recorded as dfw.rule.hit with the flow', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'dns', service: { protocol: 'udp' }, action: 'drop' })], 1);
    fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [5000, 53]));
    expect(ctx.payloads('dfw.rule.hit')).toEqual([
      { vnic: WEB.vnic, rule: 'dns', action: 'drop', dir: 'in', proto: 'udp', src: CLIENT.ip, dst: WEB.ip, sport: 5000, dport: 53, icmpType: null },
    ]);
    expect(ctx.payloads('dfw.rules')).toEqual([{ generation: 1, count: 1, change: 'set', rule: null }]);
  });
});

describe('DistributedFirewall frames outside the rules', () => {
  it('frames that are not IP pass untracked and unjudged', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall({ defaultAction: 'drop' });
    const arp = buildArpRequest({ srcMac: CLIENT.mac, senderIp: CLIENT.ip, targetIp: WEB.ip });
    const lldp = buildLldpFrame({ srcMac: CLIENT.mac, chassisMac: CLIENT.mac, portId: 'swp1', ttlSec: 120 });
    expect(fw.filter(ctx, WEB.vnic, 'in', arp)).toEqual({ action: 'allow', ruleId: null, established: false, reply: null });
    expect(fw.filter(ctx, WEB.vnic, 'in', lldp).action).toBe('allow');
    expect(ctx.events).toEqual([]);
    expect(fw.vnicCounters(WEB.vnic)).toMatchObject({ bypassed: 2, allowed: 0, dropped: 0 });
  });

  it('malformed frames are dropped with no rule and counted, with nothing emitted', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    const good = udp(CLIENT, WEB, [5000, 53]);
    const corrupt = good.slice();
    corrupt[14 + 20 + 8] = corrupt[14 + 20 + 8]! ^ 0xff; // payload byte: the UDP checksum no longer matches
    const verdict = fw.filter(ctx, WEB.vnic, 'in', corrupt);
    expect(verdict).toMatchObject({ action: 'drop', ruleId: null, malformed: 'bad-checksum' });
    expect(fw.filter(ctx, WEB.vnic, 'in', good.subarray(0, 20))).toMatchObject({ action: 'drop', malformed: 'truncated' });
    expect(ctx.events).toEqual([]);
    expect(fw.vnicCounters(WEB.vnic).malformed).toBe(2);
  });

  it('a vNIC without a filter is refused with DfwVnicError', () => {
    const fw = firewall();
    expect(() => fw.filter(new TestContext('dpu-a'), 'nobody', 'in', udp(CLIENT, WEB, [1, 2]))).toThrow(DfwVnicError);
  });
});

describe('DistributedFirewall rule set changes', () => {
  it('a rule set with a duplicate id, the reserved id or a bad address is refused and the old set stays', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'keep', action: 'drop' })], 1);
    const attempts = [
      [rule({ id: 'x', action: 'allow' }), rule({ id: 'x', action: 'drop' })],
      [rule({ id: 'default', action: 'allow' })],
      [rule({ id: 'y', sources: ['10.0.0.300/8'], action: 'allow' })],
      [rule({ id: 'z', service: { protocol: 'icmp', destinationPorts: [{ from: 1, to: 2 }] }, action: 'allow' })],
    ];
    const codes = attempts.map((rules) => {
      try {
        fw.setRules(ctx, rules, 2);
        return 'accepted';
      } catch (error) {
        return error instanceof DfwRuleError ? error.code : 'other';
      }
    });
    expect(codes).toEqual(['duplicate-id', 'reserved-id', 'bad-address', 'bad-service']);
    expect(fw.generation).toBe(1);
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [1, 2])).ruleId).toBe('keep');
  });

  it('addRule and removeRule change the set in force and bump the generation', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [], 7);
    fw.addRule(ctx, rule({ id: 'block', action: 'drop' }));
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [1, 2])).ruleId).toBe('block');
    fw.removeRule(ctx, 'block');
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [1, 3])).ruleId).toBe('default');
    expect(ctx.payloads('dfw.rules').map((p) => [p.generation, p.change, p.count])).toEqual([
      [7, 'set', 0],
      [8, 'add', 1],
      [9, 'remove', 0],
    ]);
  });

  it('a firewall asked to remove a rule it does not hold records dfw.rule.absent and changes nothing', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'keep', action: 'drop', service: { protocol: 'udp', destinationPorts: [{ from: 9, to: 9 }] } })], 4);
    expect(() => fw.removeRule(ctx, 'missed-while-down')).not.toThrow();
    expect(ctx.payloads('dfw.rule.absent')).toEqual([{ rule: 'missed-while-down', generation: 4, count: 1 }]);
    expect(ctx.payloads('dfw.rules')).toHaveLength(1);
    expect(fw.generation).toBe(4);
    expect(fw.ruleSet().map((r) => r.id)).toEqual(['keep', 'default']);
  });

  it('an established connection keeps flowing after the rule that allowed it is replaced by a drop', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'dns', service: { protocol: 'udp' }, action: 'allow' })], 1);
    fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5000, 53]));
    fw.setRules(ctx, [rule({ id: 'no-dns', service: { protocol: 'udp' }, action: 'drop' })], 2);
    expect(fw.filter(ctx, WEB.vnic, 'in', udp(CLIENT, WEB, [53, 5000]))).toMatchObject({ action: 'allow', ruleId: 'dns', established: true });
    expect(fw.filter(ctx, WEB.vnic, 'out', udp(WEB, CLIENT, [5001, 53]))).toMatchObject({ action: 'drop', ruleId: 'no-dns' });
  });
});

describe('DistributedFirewall counters', () => {
  it('rule counters count hits per evaluation and packets and bytes of the connections a rule allowed', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'dns', service: { protocol: 'udp' }, action: 'allow' }), rule({ id: 'no-tcp', service: { protocol: 'tcp' }, action: 'drop' })], 1);
    const query = udp(WEB, CLIENT, [5000, 53], new Uint8Array(12));
    const answer = udp(CLIENT, WEB, [53, 5000], new Uint8Array(40));
    fw.filter(ctx, WEB.vnic, 'out', query);
    fw.filter(ctx, WEB.vnic, 'in', answer);
    fw.filter(ctx, WEB.vnic, 'in', answer);
    fw.filter(ctx, WEB.vnic, 'in', tcp(CLIENT, WEB, [1, 2], { syn: true }, 0));
    const byId = Object.fromEntries(fw.ruleCounters().map((c) => [c.rule, c]));
    expect(byId.dns).toMatchObject({ hits: 1, packets: 3, bytes: (20 + 8 + 12) + 2 * (20 + 8 + 40), installed: true });
    expect(byId['no-tcp']).toMatchObject({ hits: 1, packets: 1, bytes: 40 });
    expect(byId.default).toMatchObject({ hits: 0, action: 'allow' });
    expect(fw.vnicCounters(WEB.vnic)).toMatchObject({ allowed: 3, dropped: 1, rejected: 0 });
    expect(fw.connections(WEB.vnic)[0]).toMatchObject({ orig: { packets: 1, bytes: 40 }, reply: { packets: 2, bytes: 136 } });
  });

  it('inspect returns plain data', () => {
    const ctx = new TestContext('dpu-a');
    const fw = firewall();
    fw.setRules(ctx, [rule({ id: 'dns', service: { protocol: 'udp', destinationPorts: [{ from: 53, to: 53 }] }, action: 'allow' })], 1);
    fw.filter(ctx, WEB.vnic, 'out', buildUdpFrame({ srcMac: WEB.mac, dstMac: CLIENT.mac, srcIp: WEB.ip, dstIp: CLIENT.ip, srcPort: 5000, dstPort: 53, payload: new Uint8Array(4) }));
    const view = fw.inspect();
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
    expect(view).toMatchObject({ node: 'dpu-a', generation: 1, connections: [{ vnic: WEB.vnic, state: 'first-packet', ruleId: 'dns' }] });
  });
});
