/**
 * Tunnel endpoint (TEP) addressing and the fixed addresses of the distributed switch.
 *
 * Every box that switches VM traffic owns a TEP on the underlay: a DPU gets
 * `172.16.0.<10 + i>` (i its index among all DPUs sorted by id), a host without DPUs (which
 * switches on x86) gets `172.16.1.<10 + i>` (i its index among all hosts sorted by id). Both
 * ranges lie in one /16, the underlay L2 network, so every TEP reaches every other by ARP.
 * TEP MACs are derived from the owner's id, so they are the same in every process and run.
 */
import { macFromString } from '../../../shared/net/mac.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import type { Ipv4Address } from '../../../shared/net/ip.js';
import { NODES_PER_RANGE, rangeAddress, rankOfKind } from '../../../shared/topology/addressing.js';
import type { ResolvedTopology } from '../../../shared/topology/types.js';
import { SwitchingError } from './errors.js';

/** The MAC every DPU answers for as the distributed router on every routed segment (VMware's vdr MAC). */
export const ROUTER_MAC: MacAddress = '02:50:56:56:44:52';

/** The underlay network every TEP lives on: one L2 domain across the physical switches. */
export const UNDERLAY_SUBNET = '172.16.0.0/16';

/** The seed prefix of TEP MACs: the MAC of owner `x` is `macFromString('tep:x')`. */
export const TEP_MAC_PREFIX = 'tep:';

/** A tunnel endpoint: its underlay address and MAC. */
export interface TepAddress {
  readonly ip: Ipv4Address;
  readonly mac: MacAddress;
}

/** The TEP MAC of an owner (a DPU, or a host without DPUs). */
export function tepMac(owner: string): MacAddress {
  return macFromString(`${TEP_MAC_PREFIX}${owner}`);
}

function tepIpAt(third: number, index: number, owner: string): Ipv4Address {
  const ip = rangeAddress(`172.16.${third}`, index);
  if (ip === null) throw new SwitchingError('too-many-teps', `TEP of ${owner} would be number ${index + 1}, but only ${NODES_PER_RANGE} fit in 172.16.${third}.0/24`);
  return ip;
}

/** The TEP address of a DPU: `172.16.0.<10 + index of the DPU among all DPUs sorted by id>`. */
export function dpuTepIp(topology: ResolvedTopology, dpu: string): Ipv4Address {
  const index = rankOfKind(topology, 'dpu', dpu);
  if (index < 0) throw new SwitchingError('unknown-owner', `No DPU ${dpu} in topology ${topology.name}`);
  return tepIpAt(0, index, dpu);
}

/** The TEP address of a host that switches in software: `172.16.1.<10 + index of the host among all hosts sorted by id>`. */
export function hostTepIp(topology: ResolvedTopology, host: string): Ipv4Address {
  const index = rankOfKind(topology, 'host', host);
  if (index < 0) throw new SwitchingError('unknown-owner', `No host ${host} in topology ${topology.name}`);
  return tepIpAt(1, index, host);
}

/** The TEP (address and MAC) of a DPU or of a host without DPUs, by node id. */
export function tepOf(topology: ResolvedTopology, owner: string): TepAddress {
  const node = topology.nodes.find((n) => n.id === owner);
  if (node?.kind === 'dpu') return { ip: dpuTepIp(topology, owner), mac: tepMac(owner) };
  if (node?.kind === 'host') {
    if (node.spec.dpus.length > 0) {
      throw new SwitchingError('unknown-owner', `Host ${owner} has DPUs (${node.spec.dpus.join(', ')}): its TEPs live on them`);
    }
    return { ip: hostTepIp(topology, owner), mac: tepMac(owner) };
  }
  throw new SwitchingError('unknown-owner', `No DPU or host ${owner} in topology ${topology.name}`);
}
