/**
 * Test support for the firewall: a way to let time pass,
 * rules with defaults filled in, and frames between two endpoints.
 */
import { buildIcmpEchoFrame, buildTcpFrame, buildUdpFrame } from '../../../shared/net/builders.js';
import type { TcpFlags } from '../../../shared/net/tcp.js';
import { NS_PER_S } from '../../../shared/units.js';
import type { TestContext } from '../../runtime/testing.js';
import { ANY_SERVICE } from './rule.js';
import type { DfwRule, DfwService, VnicIdentity } from './rule.js';

/** Moves a context's clock forward by `seconds`, firing nothing (the firewall's sweep timer is its own business). */
export function elapse(ctx: TestContext, seconds: number): void {
  ctx.time += Math.round(seconds * NS_PER_S);
}

/** A rule with every field defaulted to "any"; `id` and `action` are required. */
export function rule(fields: Partial<Omit<DfwRule, 'service'>> & { id: string; action: DfwRule['action']; service?: Partial<DfwService> }): DfwRule {
  return {
    priority: 100,
    appliedTo: [],
    sources: ['any'],
    destinations: ['any'],
    direction: 'in-out',
    ...fields,
    service: { ...ANY_SERVICE, ...fields.service },
  };
}

/** One end of a test conversation. */
export interface Endpoint {
  readonly mac: string;
  readonly ip: string;
}

/** A VM's vNIC used throughout the tests. */
export const WEB: VnicIdentity & Endpoint = { vnic: 'web-01.nic0', vm: 'web-01', mac: '02:00:00:00:01:01', ipv4: '10.0.1.11/24', ipv6: 'fd00:1::11', ip: '10.0.1.11' };
/** A second VM on another segment. */
export const DB: VnicIdentity & Endpoint = { vnic: 'db-01.nic0', vm: 'db-01', mac: '02:00:00:00:02:01', ipv4: '10.0.2.21/24', ipv6: 'fd00:2::21', ip: '10.0.2.21' };
/** A client outside the VMs. */
export const CLIENT: Endpoint = { mac: '02:00:00:00:09:09', ip: '192.168.7.9' };

/** A TCP segment from `a` to `b`. */
export function tcp(
  a: Endpoint,
  b: Endpoint,
  ports: readonly [number, number],
  flags: Partial<TcpFlags>,
  seq: number,
  ack = 0,
  payload = new Uint8Array(0),
): Uint8Array {
  return buildTcpFrame({ srcMac: a.mac, dstMac: b.mac, srcIp: a.ip, dstIp: b.ip, srcPort: ports[0], dstPort: ports[1], seq, ack, flags, payload });
}

/** A UDP datagram from `a` to `b`. */
export function udp(a: Endpoint, b: Endpoint, ports: readonly [number, number], payload = new Uint8Array([1, 2, 3, 4])): Uint8Array {
  return buildUdpFrame({ srcMac: a.mac, dstMac: b.mac, srcIp: a.ip, dstIp: b.ip, srcPort: ports[0], dstPort: ports[1], payload });
}

/** An ICMP (ICMPv6 for IPv6 endpoints) echo request or reply from `a` to `b`. */
export function ping(a: Endpoint, b: Endpoint, identifier: number, sequence: number, reply = false): Uint8Array {
  return buildIcmpEchoFrame({ srcMac: a.mac, dstMac: b.mac, srcIp: a.ip, dstIp: b.ip, identifier, sequence, reply, data: new Uint8Array(8) });
}

/** The same endpoint seen through its IPv6 address. */
export function v6(endpoint: VnicIdentity & Endpoint): Endpoint {
  return { mac: endpoint.mac, ip: endpoint.ipv6! };
}
