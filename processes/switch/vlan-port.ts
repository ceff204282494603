import type { SwitchPortVlans, SwitchSpec } from '../../shared/topology/types.js';

/** The mode of a port whose topology says nothing: a trunk for every VLAN, native VLAN 1. */
export const DEFAULT_PORT_VLANS: SwitchPortVlans = { mode: 'trunk', allowed: [{ first: 1, last: 4094 }], native: 1 };

/**
 * Why a switch dropped a frame it received (the `reason` of `switch.drop`).
 *
 * - `vlan-not-allowed`: a trunk received a frame tagged with a VLAN it does not allow, or an
 *   untagged frame while its native VLAN is not allowed.
 * - `tagged-on-access`: an access port received a frame tagged with another VLAN than its own.
 * - `mirror-destination`: a frame arrived on a mirror destination port, which forwards nothing.
 * - `link-down`: the port the destination MAC was learned on is down.
 */
export type SwitchDropReason = 'vlan-not-allowed' | 'tagged-on-access' | 'mirror-destination' | 'link-down' | 'storm-control';

/** Where a received frame belongs: its VLAN, or the reason it is dropped. */
export type IngressVerdict = { readonly vlan: number; readonly drop?: undefined } | { readonly drop: SwitchDropReason; readonly vlan?: undefined };

/**
 * One switch port's 802.1Q behaviour. Ingress: an access port puts untagged (and priority-tagged)
 * frames in its VLAN and accepts frames tagged with that VLAN only; a trunk puts untagged frames
 * in its native VLAN and accepts tagged frames of allowed VLANs. Egress: an access port sends
 * untagged; a trunk tags every VLAN but the native one. A port carries a VLAN (floods it, is a
 * possible destination in it) exactly when it would accept it.
 */
export class VlanPort {
  constructor(
    readonly name: string,
    readonly config: SwitchPortVlans,
  ) {}

  /** The port's configuration from a switch spec; the default trunk when the spec has none. */
  static fromSpec(spec: SwitchSpec, port: string): VlanPort {
    const config = spec.portConfig && Object.hasOwn(spec.portConfig, port) ? spec.portConfig[port] : undefined;
    return new VlanPort(port, config ?? DEFAULT_PORT_VLANS);
  }

  /** The VLAN of untagged frames: the access VLAN or the native VLAN. */
  get untaggedVlan(): number {
    return this.config.mode === 'access' ? this.config.vlan : this.config.native;
  }

  /**
   * Classifies a received frame by its tag's VLAN id (null when untagged). VLAN id 0 is a
   * priority tag only, so the frame is treated as untagged (IEEE 802.1Q).
   */
  classify(taggedVid: number | null): IngressVerdict {
    const untagged = taggedVid === null || taggedVid === 0;
    if (this.config.mode === 'access') {
      return untagged || taggedVid === this.config.vlan ? { vlan: this.config.vlan } : { drop: 'tagged-on-access' };
    }
    const vlan = untagged ? this.config.native : taggedVid;
    return this.carries(vlan) ? { vlan } : { drop: 'vlan-not-allowed' };
  }

  /** Whether the port carries `vlan`: floods it, and may be the destination of a frame in it. */
  carries(vlan: number): boolean {
    if (this.config.mode === 'access') return vlan === this.config.vlan;
    for (const range of this.config.allowed) if (vlan >= range.first && vlan <= range.last) return true;
    return false;
  }

  /** Whether a frame of `vlan` leaves this port with a tag: on a trunk, unless it is the native VLAN. */
  tagsOnEgress(vlan: number): boolean {
    return this.config.mode === 'trunk' && vlan !== this.config.native;
  }
}
