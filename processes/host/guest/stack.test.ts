import { describe, expect, it } from 'vitest';
import { buildUdpFrame } from '../../../shared/net/builders.js';
import { decodeFrame } from '../../../shared/net/frame.js';
import type { FrameError } from '../../../shared/net/errors.js';
import { FlowError } from './flow-spec.js';
import { FakeRouter, GuestLab, labSegment, labVm, ROUTER_MAC, twoVms, TWO_VMS } from './testing.js';

const S = 1_000_000_000;
const US = 1_000;

describe('guest stack neighbours', () => {
  it('resolves a peer by ARP, then pings it with replies and round-trip times', () => {
    const t = twoVms({ latencyNs: 50 * US });
    t.a.stack.startFlow(t.a.ctx, { id: 'ping-b', kind: 'ping', from: 'vm-a', to: TWO_VMS.b4, count: 10 });
    t.lab.runUntil(1 * S);
    t.a.host.end();
    expect(t.lab.eventsOf('guest.arp.resolved', { vm: 'vm-a' }).map((e) => e.payload['ip'])).toEqual([TWO_VMS.b4]);
    // vm-b learned vm-a from the request itself, so it answers without asking back.
    expect(t.lab.eventsOf('guest.arp.resolved', { vm: 'vm-b' }).map((e) => e.payload['ip'])).toEqual([TWO_VMS.a4]);
    expect(t.lab.lastReport('ping-b', 'sender')).toMatchObject({
      sent: 10,
      delivered: 10,
      lost: 0,
      duplicated: 0,
      reordered: 0,
      // The first ping also waited for ARP: two round trips.
      rttNs: { min: 100 * US, max: 200 * US, avg: 110 * US },
    });
    expect(t.a.stack.inspect().arp).toEqual([{ vnic: 'nic0', ip: TWO_VMS.b4, mac: t.b.stack.inspect().interfaces[0]!.mac, state: 'reachable', confirmedAt: 100 * US, queued: 0 }]);
  });

  it('resolves an IPv6 peer by neighbour solicitation to its solicited-node group, then pings it', () => {
    const solicitations: string[] = [];
    const t = twoVms({
      tap: (frame) => {
        const f = decodeFrame(frame);
        if (f.icmpv6?.kind === 'neighbor-solicitation') solicitations.push(`${f.ethernet.dst} ${f.ipv6!.dst} ${f.ipv6!.hopLimit}`);
        return [frame];
      },
    });
    t.a.stack.startFlow(t.a.ctx, { id: 'ping6', kind: 'ping', from: 'vm-a', to: TWO_VMS.b6, count: 5 });
    t.lab.runUntil(1 * S);
    t.a.host.end();
    expect(solicitations).toEqual(['33:33:ff:00:00:12 ff02::1:ff00:12 255']);
    expect(t.lab.eventsOf('guest.nd.resolved', { vm: 'vm-a' }).map((e) => e.payload['ip'])).toEqual([TWO_VMS.b6]);
    expect(t.lab.lastReport('ping6', 'sender')).toMatchObject({ sent: 5, delivered: 5, lost: 0 });
    expect(t.a.stack.inspect().nd[0]).toMatchObject({ ip: TWO_VMS.b6, state: 'reachable' });
  });

  it('gives up on an address nobody answers for, dropping what waited and counting it', () => {
    const t = twoVms();
    t.a.stack.startFlow(t.a.ctx, { id: 'void', kind: 'ping', from: 'vm-a', to: '10.0.1.99', ratePps: 10, count: 20 });
    t.lab.runUntil(5 * S);
    t.a.host.end();
    const failed = t.lab.eventsOf('guest.arp.failed', { vm: 'vm-a' });
    expect(failed.map((e) => [e.time, e.payload['ip'], e.payload['probes']])).toEqual([[3 * S, '10.0.1.99', 3]]);
    expect(t.link.carried).toBe(3); // every ping waited in the queue of the one unresolved entry
    const drops = t.a.stack.inspect().counters.drops;
    expect(drops['neighbor-unresolved']).toBe(20);
    expect(t.lab.lastReport('void', 'sender')).toMatchObject({ sent: 20, delivered: 0, lost: 20 });
  });

  it('holds a bounded queue of packets while it resolves, dropping the oldest', () => {
    const t = twoVms({}, 1, { neighbors: { queueLimit: 4 } });
    t.link.up = false;
    t.a.stack.startFlow(t.a.ctx, { id: 'burst', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 1000, count: 10 });
    t.lab.runUntil(1.5 * S);
    t.link.up = true;
    t.lab.runUntil(3 * S);
    t.a.host.end();
    t.b.host.end();
    expect(t.a.stack.inspect().counters.drops['neighbor-queue-full']).toBe(6);
    // The four newest datagrams waited for the second ARP request and were delivered.
    expect(t.lab.lastReport('burst', 'receiver')).toMatchObject({ delivered: 4, highestSeq: 9 });
  });

  it('announces itself with gratuitous ARP and an unsolicited neighbour advertisement at boot', () => {
    const seen: string[] = [];
    const t = twoVms({
      tap: (frame) => {
        const f = decodeFrame(frame);
        if (f.arp) seen.push(`arp ${f.ethernet.dst} ${f.arp.senderIp}>${f.arp.targetIp}`);
        if (f.icmpv6?.kind === 'neighbor-advertisement') seen.push(`na ${f.ipv6!.dst} ${f.icmpv6.target} solicited=${f.icmpv6.solicited}`);
        return [frame];
      },
    });
    t.a.host.boot();
    expect(seen).toEqual([`arp ff:ff:ff:ff:ff:ff ${TWO_VMS.a4}>${TWO_VMS.a4}`, `na ff02::1 ${TWO_VMS.a6} solicited=false`]);
  });
});

describe('guest stack through a router', () => {
  function routed(seed = 1) {
    const lab = new GuestLab(seed);
    const segments = [labSegment('web', '10.0.1.0/24', '10.0.1.1', 'fd00:1::/64', 'fd00:1::1'), labSegment('db', '10.0.2.0/24', '10.0.2.1', 'fd00:2::/64', 'fd00:2::1')];
    const web = lab.addVm(labVm('web-01', [{ segment: 'web', ipv4: '10.0.1.11/24', ipv6: 'fd00:1::11/64' }]), segments);
    const db = lab.addVm(labVm('db-01', [{ segment: 'db', ipv4: '10.0.2.13/24', ipv6: 'fd00:2::13/64' }]), segments);
    const router = new FakeRouter([{ gateway4: '10.0.1.1/24', gateway6: 'fd00:1::1/64' }, { gateway4: '10.0.2.1/24', gateway6: 'fd00:2::1/64' }]);
    for (const vm of [web, db]) {
      const i = vm.stack.inspect().interfaces[0]!;
      router.learn(i.ipv4.split('/')[0]!, i.mac);
      router.learn(i.ipv6!.split('/')[0]!, i.mac);
    }
    const ttls: number[] = [];
    lab.connect(web.port(), router.ports[0]!);
    lab.connect(router.ports[1]!, db.port(), {
      tap: (frame, from) => {
        const f = decodeFrame(frame);
        if (from === 'a' && (f.ipv4 || f.ipv6)) ttls.push(f.ipv4?.ttl ?? f.ipv6!.hopLimit);
        return [frame];
      },
    });
    return { lab, web, db, router, ttls };
  }

  it('sends off-subnet traffic to the gateway it resolved by ARP, with the TTL decremented once', () => {
    const r = routed();
    r.web.stack.startFlow(r.web.ctx, { id: 'web-db-ping', kind: 'ping', from: 'web-01', to: '10.0.2.13', count: 3 });
    r.lab.runUntil(1 * S);
    r.web.host.end();
    expect(r.lab.eventsOf('guest.arp.resolved', { vm: 'web-01' }).map((e) => [e.payload['ip'], e.payload['mac']])).toEqual([['10.0.1.1', ROUTER_MAC]]);
    expect(r.lab.eventsOf('guest.arp.resolved', { vm: 'db-01' }).map((e) => [e.payload['ip'], e.payload['mac']])).toEqual([['10.0.2.1', ROUTER_MAC]]);
    expect(r.lab.lastReport('web-db-ping', 'sender')).toMatchObject({ sent: 3, delivered: 3, lost: 0 });
    expect(new Set(r.ttls)).toEqual(new Set([63]));
  });

  it('carries a TCP flow and an IPv6 ping between subnets', () => {
    const r = routed();
    r.web.stack.startFlow(r.web.ctx, { id: 'web-db', kind: 'tcp', from: 'web-01', to: '10.0.2.13', ratePps: 200, count: 200 });
    r.web.stack.startFlow(r.web.ctx, { id: 'web-db-6', kind: 'ping', from: 'web-01', to: 'fd00:2::13', count: 4 });
    r.lab.runUntil(3 * S);
    r.web.host.end();
    r.db.host.end();
    expect(r.lab.lastReport('web-db', 'receiver')).toMatchObject({ delivered: 200, duplicated: 0, reordered: 0, from: '10.0.1.11', to: '10.0.2.13' });
    expect(r.lab.lastReport('web-db-6', 'sender')).toMatchObject({ sent: 4, delivered: 4 });
    expect(r.lab.eventsOf('guest.nd.resolved', { vm: 'web-01' }).map((e) => [e.payload['ip'], e.payload['mac']])).toEqual([['fd00:1::1', ROUTER_MAC]]);
  });

  it('counts a destination with no route instead of sending anything', () => {
    const lab = new GuestLab(1);
    const isolated = lab.addVm(labVm('solo', [{ segment: 'flat', ipv4: '10.9.0.5/24' }]), [labSegment('flat', '10.9.0.0/24')]);
    isolated.stack.startFlow(isolated.ctx, { id: 'out', kind: 'udp', from: 'solo', to: '192.0.2.1', count: 3 });
    isolated.stack.startFlow(isolated.ctx, { id: 'out6', kind: 'ping', from: 'solo', to: '2001:db8::1', count: 2 });
    isolated.stack.startFlow(isolated.ctx, { id: 'out-tcp', kind: 'tcp', from: 'solo', to: '192.0.2.1' });
    lab.runUntil(1 * S);
    isolated.stack.startFlow(isolated.ctx, { id: 'self', kind: 'ping', from: 'solo', to: '10.9.0.5', count: 2 });
    lab.runUntil(2 * S);
    expect(isolated.stack.inspect().counters.drops).toEqual({ loopback: 2, 'no-route': 6 });
    expect(lab.eventsOf('flow.stop', { flow: 'out-tcp' })[0]?.payload['reason']).toBe('no-route');
  });
});

describe('guest stack input', () => {
  it('drops malformed frames, counts them by code and returns the error instead of throwing', () => {
    const t = twoVms();
    const good = buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac: t.b.stack.inspect().interfaces[0]!.mac, srcIp: TWO_VMS.a4, dstIp: TWO_VMS.b4, srcPort: 1, dstPort: 5202, payload: new Uint8Array(40) });
    const corrupt = good.slice();
    corrupt[good.length - 1]! ^= 0xff;
    const errors: (FrameError | null)[] = [];
    errors.push(t.b.stack.receive(t.b.ctx, 'nic0', good.subarray(0, 20)));
    errors.push(t.b.stack.receive(t.b.ctx, 'nic0', corrupt));
    errors.push(t.b.stack.receive(t.b.ctx, 'nic0', new Uint8Array(0)));
    expect(errors.map((e) => e?.code)).toEqual(['truncated', 'bad-checksum', 'truncated']);
    expect(t.b.stack.inspect().counters.malformed).toEqual({ 'bad-checksum': 1, truncated: 2 });
  });

  it('ignores frames for another MAC or another address, as a NIC and an IP stack do', () => {
    const t = twoVms();
    const mac = t.b.stack.inspect().interfaces[0]!.mac;
    const frame = (dstMac: string, dstIp: string) => buildUdpFrame({ srcMac: '02:00:00:00:00:01', dstMac, srcIp: TWO_VMS.a4, dstIp, srcPort: 1, dstPort: 5202, payload: new Uint8Array(40) });
    t.b.stack.receive(t.b.ctx, 'nic0', frame('02:00:00:00:00:99', TWO_VMS.b4));
    t.b.stack.receive(t.b.ctx, 'nic0', frame(mac, '10.0.1.77'));
    t.b.stack.receive(t.b.ctx, 'nic9', frame(mac, TWO_VMS.b4));
    expect(t.b.stack.inspect().counters.drops).toEqual({ 'not-for-us': 1, 'not-our-ip': 1, 'unknown-vnic': 1 });
  });
});

describe('guest stack timers', () => {
  it('claims only its own timers when several VMs share a host', () => {
    const lab = new GuestLab(1);
    const segments = [labSegment('web', '10.0.1.0/24')];
    const host = lab.addHost('esx-01', [labVm('vm-a', [{ segment: 'web', ipv4: '10.0.1.11/24' }]), labVm('vm-b', [{ segment: 'web', ipv4: '10.0.1.12/24' }])], segments);
    // Each VM pings its own peer (both at 10.0.1.13) through its own link; their timers interleave on one host context.
    const peerOfA = lab.addHost('esx-02', [labVm('vm-c', [{ segment: 'web', ipv4: '10.0.1.13/24' }])], segments);
    const peerOfB = lab.addHost('esx-03', [labVm('vm-d', [{ segment: 'web', ipv4: '10.0.1.13/24' }])], segments);
    lab.connect(host.port('vm-a', 'nic0'), peerOfA.port('vm-c', 'nic0'));
    lab.connect(host.port('vm-b', 'nic0'), peerOfB.port('vm-d', 'nic0'));
    host.stack('vm-a').startFlow(host.ctx, { id: 'a', kind: 'ping', from: 'vm-a', to: '10.0.1.13', ratePps: 50, count: 20 });
    host.stack('vm-b').startFlow(host.ctx, { id: 'b', kind: 'ping', from: 'vm-b', to: '10.0.1.13', ratePps: 70, count: 20 });
    lab.runUntil(2 * S);
    host.end();
    expect(lab.lastReport('a', 'sender')).toMatchObject({ vm: 'vm-a', sent: 20, delivered: 20 });
    expect(lab.lastReport('b', 'sender')).toMatchObject({ vm: 'vm-b', sent: 20, delivered: 20 });
    expect(host.stack('vm-a').onTimer(host.ctx, 'guest.flow', { vm: 'vm-b', flow: 'b', generation: 1 })).toBe(false);
    expect(host.stack('vm-a').onTimer(host.ctx, 'hb.tick', 'dpu-01')).toBe(false);
  });

  it('reports every second while counters change, and once more at the end', () => {
    const t = twoVms();
    t.a.stack.startFlow(t.a.ctx, { id: 'steady', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 10, count: 25 });
    t.lab.runUntil(5.5 * S);
    t.a.host.end();
    t.b.host.end();
    const times = (side: string) => t.lab.eventsOf('flow.report', { flow: 'steady', side }).map((e) => [e.time / S, e.payload['final']]);
    // Sending ends at 2.4 s: the report at 3 s is the first unchanged one, so it is skipped.
    expect(times('sender')).toEqual([[1, false], [2, false], [3, false], [5.5, true]]);
    expect(times('receiver')).toEqual([[1, false], [2, false], [3, false], [5.5, true]]);
  });
});

describe('guest stack flows', () => {
  it('refuses a flow from another VM, a second flow with the same id and stopping an unknown one', () => {
    const t = twoVms();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (error) {
        return error instanceof FlowError ? error.code : 'other';
      }
      return 'none';
    };
    expect(code(() => t.a.stack.startFlow(t.a.ctx, { id: 'x', kind: 'ping', from: 'vm-b', to: TWO_VMS.b4 }))).toBe('wrong-vm');
    t.a.stack.startFlow(t.a.ctx, { id: 'x', kind: 'ping', from: 'vm-a', to: TWO_VMS.b4 });
    expect(code(() => t.a.stack.startFlow(t.a.ctx, { id: 'x', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4 }))).toBe('duplicate-flow');
    expect(code(() => t.a.stack.stopFlow(t.a.ctx, 'y'))).toBe('unknown-flow');
  });

  it('paces messages at the flow rate', () => {
    const t = twoVms();
    t.a.stack.startFlow(t.a.ctx, { id: 'rate', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 200 });
    t.lab.runUntil(2 * S - 1);
    expect(t.a.stack.inspect().flows[0]).toMatchObject({ flow: 'rate', sent: 400 });
    const fast = twoVms();
    fast.a.stack.startFlow(fast.a.ctx, { id: 'fast', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 100_000 });
    // At high rates one tick every 100 µs sends the messages due since the last one.
    fast.lab.runUntil(0.1 * S);
    expect(fast.a.stack.inspect().flows[0]).toMatchObject({ sent: 10_001 });
  });

  it('gives the same events for the same seed and different ones for another', () => {
    const run = (seed: number) => {
      const t = twoVms({ loss: 0.05, jitterNs: 100 * US }, seed);
      t.a.stack.startFlow(t.a.ctx, { id: 'tcp', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4, ratePps: 300, count: 300 });
      t.a.stack.startFlow(t.a.ctx, { id: 'udp', kind: 'udp', from: 'vm-a', to: TWO_VMS.b6, ratePps: 300, count: 300 });
      t.lab.runUntil(4 * S);
      t.a.host.end();
      t.b.host.end();
      return JSON.stringify(t.lab.events);
    };
    expect(run(42)).toBe(run(42));
    expect(run(42)).not.toBe(run(43));
  });

  it('shows interfaces, caches, sockets and flows in inspect as plain sorted data', () => {
    const t = twoVms();
    t.a.stack.startFlow(t.a.ctx, { id: 'z', kind: 'tcp', from: 'vm-a', to: TWO_VMS.b4 });
    t.a.stack.startFlow(t.a.ctx, { id: 'm', kind: 'udp', from: 'vm-a', to: TWO_VMS.b4 });
    t.lab.runUntil(0.5 * S);
    const view = t.a.stack.inspect();
    expect(view.interfaces).toEqual([{ vnic: 'nic0', mac: view.interfaces[0]!.mac, segment: 'web', ipv4: '10.0.1.11/24', ipv6: 'fd00:1::11/64', gateway4: '10.0.1.1', gateway6: 'fd00:1::1' }]);
    expect(view.flows.map((f) => f.flow)).toEqual(['m', 'z']);
    expect(view.tcp).toHaveLength(1);
    expect(view.tcp[0]).toMatchObject({ role: 'client', flow: 'z', state: 'ESTABLISHED', remotePort: 5201 });
    expect(view.listeners).toEqual([5201]);
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
  });
});
