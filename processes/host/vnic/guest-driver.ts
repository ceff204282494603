/**
 * How a guest brings up its vmxnet3 vNIC at boot: the driver probes with the vNIC's MAC, MTU 1500,
 * one TX and one RX queue, and joins the IPv6 multicast groups its stack needs (all-nodes and the
 * solicited-node group of its address), so that the RX filters let neighbour discovery through.
 */
import { ipv6MulticastMac, parseCidr, solicitedNodeMulticast } from '../../../shared/net/ip.js';
import type { MacAddress } from '../../../shared/net/mac.js';
import type { VmSpec, VnicSpec } from '../../../shared/topology/types.js';
import { Vmxnet3Driver } from '../../../shared/vmxnet3/driver.js';
import type { RingSizes } from '../../../shared/vmxnet3/driver.js';

/** The MTU every guest configures. */
export const GUEST_MTU = 1500;

/** Ring sizes a guest asks for unless told otherwise: TX, RX ring 1, RX ring 2. */
export const DEFAULT_RING_SIZES: RingSizes = { tx: 256, rx1: 256, rx2: 256 };

/** IPv6 all-nodes group, which every IPv6 node joins. */
export const ALL_NODES_GROUP = 'ff02::1';

/**
 * The multicast MACs the guest joins for a vNIC: none without IPv6; with IPv6, all-nodes and the
 * solicited-node group of its address. Sorted, without duplicates.
 */
export function guestMulticastMacs(vnic: VnicSpec): MacAddress[] {
  if (vnic.ipv6 === null) return [];
  const address = parseCidr(vnic.ipv6).address;
  const groups = [ALL_NODES_GROUP, solicitedNodeMulticast(address)].map((g) => ipv6MulticastMac(g));
  return [...new Set(groups)].sort();
}

/** A guest driver probed for this vNIC (not yet activated: that needs a device). */
export function probeGuestDriver(vm: VmSpec, vnic: VnicSpec, ringSizes: RingSizes = DEFAULT_RING_SIZES): Vmxnet3Driver {
  const driver = new Vmxnet3Driver();
  driver.probe(vnic.mac, GUEST_MTU, { tx: 1, rx: 1 }, ringSizes, { driverVersion: vm.driverVersion, multicast: guestMulticastMacs(vnic) });
  return driver;
}
