import { tryDecodeFrame } from '../../shared/net/frame.js';
import type { OffloadReport } from '../common/cost/cost-meter.js';

/**
 * The DPU's hardware flow offload (the eSwitch), as BlueField's ASAP2 and OVS-DOCA do it: the
 * first packets of a connection go to the software datapath on the Arm cores (switching, the
 * firewall's rule lookup, encapsulation, each charged); once the firewall's connection tracking
 * has the connection established, the flow is installed in the eSwitch, and its later packets
 * are switched, filtered and encapsulated by hardware (the `eswitch` cost step, no Arm CPU by
 * default). The firewall's state machine still runs here on every packet, so verdicts and
 * timeouts stay exact: offload changes what a packet costs, never what happens to it.
 *
 * An entry is one direction of one connection at one vNIC (`out`: the vNIC sent it, `in`: it is
 * delivered to the vNIC). Entries are dropped when the firewall's rules change (every entry: a new
 * rule may judge any connection differently), when a vNIC leaves or arrives (its entries, and every
 * entry towards or from its addresses), when the DPU stops serving (all), when a packet of an
 * installed flow is not an established, allowed one any more (that entry), and when the vNIC's
 * frames start using another port into the eSwitch (its entries): an entry matches the port the
 * vNIC's frames use, which its mode decides (the VF in UPTv2, the host's MUX queue, the emulated
 * backend's queue), so the first packets after a mode change take the slow path again.
 */
export class FlowOffload {
  private readonly entries = new Map<string, { readonly vnic: string; readonly src: string; readonly dst: string }>();
  /** The port each vNIC's frames last used into the eSwitch. */
  private readonly ports = new Map<string, string>();
  private stats = { hardwarePackets: 0, hardwareCpuNs: 0, slowPathPackets: 0, slowPathCpuNs: 0, installs: 0, invalidations: 0 };

  /** Installed flows now. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * vNIC `vnic`'s frames use `port` now (its mode's queue or VF): the entries installed for
   * another port can no longer match and are dropped.
   */
  usePort(vnic: string, port: string): void {
    const was = this.ports.get(vnic);
    if (was === port) return;
    this.ports.set(vnic, port);
    if (was !== undefined) this.invalidateVnic(vnic, []);
  }

  /** Whether the flow `key` runs in hardware. */
  has(key: OffloadKey): boolean {
    return this.entries.has(key.id);
  }

  /** Installs `key` in the eSwitch (its connection is established). */
  install(key: OffloadKey): void {
    if (this.entries.has(key.id)) return;
    this.entries.set(key.id, { vnic: key.vnic, src: key.src, dst: key.dst });
    this.stats.installs++;
  }

  /** Removes one flow (its packet was no longer established and allowed). */
  evict(key: OffloadKey): void {
    if (this.entries.delete(key.id)) this.stats.invalidations++;
  }

  /** Removes every flow of vNIC `vnic` and every flow from or to one of `addresses`; returns how many. */
  invalidateVnic(vnic: string, addresses: readonly string[]): number {
    let n = 0;
    for (const [id, e] of [...this.entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (e.vnic === vnic || addresses.includes(e.src) || addresses.includes(e.dst)) {
        this.entries.delete(id);
        n++;
      }
    }
    this.stats.invalidations += n;
    return n;
  }

  /** Removes every flow (the rule set changed, the DPU stops serving); returns how many. */
  invalidateAll(): number {
    const n = this.entries.size;
    this.entries.clear();
    this.stats.invalidations += n;
    return n;
  }

  /** Counts one IP packet on the path it took and the Arm CPU it cost. */
  count(hardware: boolean, cpuNs: number): void {
    if (hardware) {
      this.stats.hardwarePackets++;
      this.stats.hardwareCpuNs += cpuNs;
    } else {
      this.stats.slowPathPackets++;
      this.stats.slowPathCpuNs += cpuNs;
    }
  }

  /** What `cost.report` carries for a DPU: packets and Arm CPU per path, the hit ratio. */
  report(): OffloadReport {
    const s = this.stats;
    const packets = s.hardwarePackets + s.slowPathPackets;
    return { ...s, installed: this.entries.size, hitRatio: packets === 0 ? 0 : s.hardwarePackets / packets };
  }
}

/** One direction of one connection at one vNIC. */
export interface OffloadKey {
  readonly id: string;
  readonly vnic: string;
  readonly src: string;
  readonly dst: string;
}

/** The offload key of an IP frame at vNIC `vnic` in `direction`; null for a frame that is not IP. */
export function offloadKey(frame: Uint8Array, vnic: string, direction: 'in' | 'out'): OffloadKey | null {
  const decoded = tryDecodeFrame(frame, { verifyChecksums: false });
  if (!decoded.ok) return null;
  const f = decoded.frame;
  const ip = f.ipv4 ?? f.ipv6;
  if (!ip) return null;
  const ports = f.tcp ?? f.udp;
  const protocol = f.ipv4 ? f.ipv4.protocol : f.tcp ? 6 : f.udp ? 17 : f.icmpv6 ? 58 : 0;
  return { id: `${vnic}|${direction}|${ip.src}|${ip.dst}|${protocol}|${ports?.srcPort ?? 0}|${ports?.dstPort ?? 0}`, vnic, src: ip.src, dst: ip.dst };
}
