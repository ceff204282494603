import type { FlowInterfaces, FlowKey } from './flow-cache.js';

/** A TCP flow key between two VMs of the default lab. */
export function tcpKey(srcPort = 49152, dstPort = 443): FlowKey {
  return { srcIp: '10.0.1.11', dstIp: '10.0.2.12', protocol: 6, srcPort, dstPort };
}

/** A UDP flow key over IPv6. */
export function udp6Key(srcPort = 5353, dstPort = 53): FlowKey {
  return { srcIp: 'fd00:1::11', dstIp: 'fd00:2::12', protocol: 17, srcPort, dstPort };
}

/** VF 1 in, uplink 3 out. */
export const VF_TO_UPLINK: FlowInterfaces = { ingress: 1, egress: 3 };
