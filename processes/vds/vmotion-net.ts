/**
 * The vMotion network: the datagrams one host's vMotion agent sends another's, as real frames that
 * cross the emulated network (so the wires' bandwidth and latency are what a migration measures).
 *
 * Every host has a vMotion vmknic: an IPv4 address in {@link VMOTION_SUBNET} and a MAC of its own.
 * A datagram is Ethernet / IPv4 / UDP {@link VMOTION_UDP_PORT} both ways, from one vmknic to the
 * other. The host hands it to its active DPU on the pcie `mgmt` channel; the DPU tunnels it in
 * GENEVE with the reserved {@link VMOTION_VNI} to the tunnel endpoint serving the destination host,
 * whose DPU hands the inner frame to its host on `mgmt` (`processes/dpu/datapath.ts`). Segments
 * never use that VNI (the topology loader refuses it), so a vMotion datagram is never switched
 * into a VM's segment.
 *
 * Addresses: host number i (hosts sorted by id) gets 172.30.0.<10 + i>; its MAC is derived from
 * its id (`macFromString('vmk:<host>')`), perturbed until it differs from every MAC of the
 * topology (ports, vNICs, tunnel endpoints, the distributed router) and from the other vmknics.
 */
import { DpulabError } from '../../shared/errors.js';
import { decodeEthernet, ETHERTYPE_IPV4 } from '../../shared/net/ethernet.js';
import { buildUdpIpv4Frame } from '../../shared/net/builders.js';
import { decodeIpv4, IP_PROTOCOL_UDP } from '../../shared/net/ipv4.js';
import { macFromString, normalizeMac } from '../../shared/net/mac.js';
import type { MacAddress } from '../../shared/net/mac.js';
import type { Ipv4Address } from '../../shared/net/ip.js';
import { decodeUdp } from '../../shared/net/udp.js';
import { VMOTION_VNI, type ResolvedTopology } from '../../shared/topology/types.js';
import { ROUTER_MAC, tepMac } from './switching/tep.js';
import { ELIDED_PREFIX_BYTES, elidedPrefix, VMOTION_UDP_PORT } from '../../shared/net/elided.js';

export { VMOTION_VNI };

/** The UDP port of vMotion datagrams, source and destination. */
export { VMOTION_UDP_PORT };

/** The vMotion network: one /24 for every host's vMotion vmknic. */
export const VMOTION_SUBNET = '172.30.0.0/24';

/**
 * The largest payload of one datagram: a 1500-byte IP MTU less the IPv4 and UDP headers and the
 * elided-length prefix (`shared/net/elided.ts`). Bigger would not fit the underlay once GENEVE is
 * added (the DPU drops it, `vmotion-mtu`).
 */
export const VMOTION_MAX_PAYLOAD = 1500 - 20 - 8 - ELIDED_PREFIX_BYTES;

const VMOTION_PREFIX = '172.30.0.';
/** Host part of the first vmknic: the low addresses are left to the fabric, as for TEPs. */
const VMOTION_HOST_OFFSET = 10;
/** Addresses .10 to .254. */
const VMOTION_HOSTS_MAX = 245;

/** Why a vMotion-network call was refused (a caller's mistake, not something on the wire). */
export type VmotionNetErrorCode = 'unknown-host' | 'too-many-hosts' | 'payload-too-long';

/** A vMotion-network call named a host the topology lacks, or a payload too big for one datagram. */
export class VmotionNetError extends DpulabError {
  override readonly name = 'VmotionNetError';
  constructor(
    readonly code: VmotionNetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A host's vMotion vmknic. */
export interface VmotionAddress {
  readonly host: string;
  readonly ip: Ipv4Address;
  readonly mac: MacAddress;
}

/** A vMotion datagram read from a frame. */
export interface VmotionDatagram {
  /** The sending host. */
  readonly from: string;
  /** The host it is addressed to. */
  readonly to: string;
  /** A copy of the UDP payload. */
  readonly payload: Uint8Array;
}

interface VmotionPlan {
  readonly byHost: ReadonlyMap<string, VmotionAddress>;
  readonly byIp: ReadonlyMap<string, string>;
}

/** Derived once per topology object: every process derives the same from the same topology. */
const plans = new WeakMap<ResolvedTopology, VmotionPlan>();

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Every MAC the topology already uses: ports, vNICs, tunnel endpoints, the distributed router. */
function takenMacs(topology: ResolvedTopology): Set<string> {
  const taken = new Set<string>([ROUTER_MAC]);
  for (const node of topology.nodes) {
    for (const port of node.ports) taken.add(normalizeMac(port.mac));
    if (node.kind === 'dpu') taken.add(tepMac(node.id));
    if (node.kind !== 'host') continue;
    if (node.spec.dpus.length === 0) taken.add(tepMac(node.id));
    for (const vm of node.spec.vms) for (const vnic of vm.vnics) taken.add(normalizeMac(vnic.mac));
  }
  return taken;
}

function planOf(topology: ResolvedTopology): VmotionPlan {
  const known = plans.get(topology);
  if (known !== undefined) return known;
  const hosts = topology.nodes
    .filter((n) => n.kind === 'host')
    .map((n) => n.id)
    .sort(byString);
  const taken = takenMacs(topology);
  const byHost = new Map<string, VmotionAddress>();
  const byIp = new Map<string, string>();
  hosts.forEach((host, i) => {
    if (i >= VMOTION_HOSTS_MAX) throw new VmotionNetError('too-many-hosts', `Host ${host} would be vMotion address number ${i + 1}, but only ${VMOTION_HOSTS_MAX} fit in ${VMOTION_SUBNET}`);
    let mac = macFromString(`vmk:${host}`);
    for (let attempt = 1; taken.has(mac); attempt++) mac = macFromString(`vmk:${host}#${attempt}`);
    taken.add(mac);
    const ip = `${VMOTION_PREFIX}${VMOTION_HOST_OFFSET + i}`;
    byHost.set(host, { host, ip, mac });
    byIp.set(ip, host);
  });
  const plan = { byHost, byIp };
  plans.set(topology, plan);
  return plan;
}

/**
 * The vMotion vmknic of a host: `172.30.0.<10 + index of the host among all hosts sorted by id>`
 * and a locally administered MAC no other interface of the topology has. Throws
 * `VmotionNetError` (`unknown-host`) for a host the topology lacks.
 *
 * @example
 * vmotionAddress(loadDefaultLab(), 'esx-02') // { host: 'esx-02', ip: '172.30.0.11', mac: '..' }
 */
export function vmotionAddress(topology: ResolvedTopology, host: string): VmotionAddress {
  const address = planOf(topology).byHost.get(host);
  if (address === undefined) throw new VmotionNetError('unknown-host', `No host ${host} in topology ${topology.name}`);
  return address;
}

/** The host whose vMotion vmknic has this address, or null. */
export function vmotionHostOf(topology: ResolvedTopology, ip: string): string | null {
  return planOf(topology).byIp.get(ip) ?? null;
}

/**
 * A vMotion datagram from one host's vmknic to another's: Ethernet / IPv4 (DF set) / UDP 8000 to
 * 8000 / payload, every length and checksum filled in. Throws `VmotionNetError` for an unknown
 * host (`unknown-host`) or a payload over {@link VMOTION_MAX_PAYLOAD} bytes (`payload-too-long`).
 */
export function buildVmotionFrame(topology: ResolvedTopology, fromHost: string, toHost: string, payload: Uint8Array, elided = 0): Uint8Array {
  if (payload.length > VMOTION_MAX_PAYLOAD) {
    throw new VmotionNetError('payload-too-long', `A vMotion datagram carries at most ${VMOTION_MAX_PAYLOAD} bytes, not ${payload.length}`);
  }
  const from = vmotionAddress(topology, fromHost);
  const to = vmotionAddress(topology, toHost);
  return buildUdpIpv4Frame({
    srcMac: from.mac,
    dstMac: to.mac,
    srcIp: from.ip,
    dstIp: to.ip,
    srcPort: VMOTION_UDP_PORT,
    dstPort: VMOTION_UDP_PORT,
    dontFragment: true,
    // The payload says first how many bytes the frame stands for beyond its own (page contents, not carried).
    payload: concat(elidedPrefix(elided), payload),
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Reads a vMotion datagram: sender, addressee and a copy of the payload. Null for a frame that is
 * not one: not IPv4 (or 802.1Q-tagged), not UDP to port 8000, a fragment, or an address that is
 * no host's vMotion vmknic. Throws `FrameError` (shared/net) for a frame between two vmknics
 * whose Ethernet, IPv4 or UDP header is malformed or has a bad checksum.
 */
export function parseVmotionFrame(topology: ResolvedTopology, bytes: Uint8Array): VmotionDatagram | null {
  const eth = decodeEthernet(bytes);
  if (eth.vlan !== undefined || eth.etherType !== ETHERTYPE_IPV4) return null;
  const at = eth.payloadOffset;
  const ip = decodeIpv4(bytes, at, bytes.length);
  if (ip.protocol !== IP_PROTOCOL_UDP || ip.isFragment) return null;
  const { byIp } = planOf(topology);
  const from = byIp.get(ip.src);
  const to = byIp.get(ip.dst);
  if (from === undefined || to === undefined) return null;
  const udp = decodeUdp(bytes, ip.payloadOffset, ip.payloadEnd, { src: bytes.subarray(at + 12, at + 16), dst: bytes.subarray(at + 16, at + 20) });
  if (udp.dstPort !== VMOTION_UDP_PORT || udp.payload.length < ELIDED_PREFIX_BYTES) return null;
  return { from, to, payload: udp.payload.slice(ELIDED_PREFIX_BYTES) };
}
