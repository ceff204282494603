import type { VTime } from '../../../shared/events.js';
import { ETHERTYPE_ARP, ETHERTYPE_IPV6 } from '../../../shared/net/ethernet.js';
import type { NodeContext } from '../../runtime/types.js';
import { ETHERTYPE_RARP } from '../../vds/switching/rarp.js';

/** How many of the latest frames delivered to a guest keep a digest (the double-delivery checker). */
export const DIGESTS_KEPT = 64;

/** FNV-1a (32 bits) of a frame: a frame's identity for the double-delivery checker. */
export function frameDigest(frame: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const byte of frame) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

const ALL_NODES = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/**
 * Whether a frame is an address announcement: a RARP, a gratuitous ARP (sender and target address
 * the same) or an unsolicited neighbour advertisement to all nodes. Announcements are repeated on
 * purpose with the very same bytes (a moved VM's RARP rounds, a guest's announcement at boot and
 * after a move), so seeing one twice says nothing about a frame delivered twice.
 */
export function isAnnouncement(frame: Uint8Array): boolean {
  if (frame.length < 14) return false;
  const etherType = (frame[12]! << 8) | frame[13]!;
  if (etherType === ETHERTYPE_RARP) return true;
  if (etherType === ETHERTYPE_ARP) return frame.length >= 42 && frame.subarray(28, 32).every((b, i) => b === frame[38 + i]);
  if (etherType === ETHERTYPE_IPV6) return frame.length >= 55 && frame[20] === 58 && frame[54] === 136 && ALL_NODES.every((b, i) => frame[38 + i] === b);
  return false;
}

/**
 * What a host saw of the frames it delivered to one VM's guest: when the last one came (the
 * source's side of a vMotion's downtime), when the first one came after the VM arrived (the
 * destination's side), and digests of the latest ones. The source sends its digests with the VM;
 * the destination compares the first frames it delivers against them, so a frame delivered on both
 * hosts is caught (`vmotion.checker.violation`, checker `no-double-delivery`). Announcements
 * (`isAnnouncement`) are left out: they repeat by design.
 */
export class DeliveryLog {
  lastNs: VTime | null = null;
  firstNs: VTime | null = null;
  /** When the guest last sent a frame, and first sent one after it arrived (the guest's own side of the downtime). */
  lastOutNs: VTime | null = null;
  firstOutNs: VTime | null = null;
  droppedWhileStunned = 0;
  private digests: number[] = [];
  /** Digests delivered on the source, while the destination still checks against them. */
  private watch: { readonly seen: ReadonlySet<number>; left: number; readonly vm: string } | null = null;

  /** Records frames handed to the guest now. */
  delivered(ctx: NodeContext, frames: readonly Uint8Array[]): void {
    const now = ctx.now();
    this.firstNs ??= now;
    this.lastNs = now;
    for (const frame of frames) {
      if (isAnnouncement(frame)) continue;
      const digest = frameDigest(frame);
      this.digests.push(digest);
      if (this.watch) {
        if (this.watch.seen.has(digest)) {
          ctx.emit('vmotion.checker.violation', { vm: this.watch.vm, checker: 'no-double-delivery', detail: `frame ${digest.toString(16)} (${frame.length} bytes) was delivered on the source and again on the destination` });
        }
        if (--this.watch.left <= 0) this.watch = null;
      }
    }
    if (this.digests.length > DIGESTS_KEPT) this.digests = this.digests.slice(-DIGESTS_KEPT);
  }

  /** Records a frame the guest sent now. */
  sent(now: VTime): void {
    this.firstOutNs ??= now;
    this.lastOutNs = now;
  }

  /** The guest's last frame in or out: where the downtime the guest sees starts, at the source. */
  get lastActivityNs(): VTime | null {
    return this.lastNs === null ? this.lastOutNs : this.lastOutNs === null ? this.lastNs : Math.max(this.lastNs, this.lastOutNs);
  }

  /** The guest's first frame in or out since it arrived: where the downtime the guest sees ends, at the destination. */
  get firstActivityNs(): VTime | null {
    return this.firstNs === null ? this.firstOutNs : this.firstOutNs === null ? this.firstNs : Math.min(this.firstNs, this.firstOutNs);
  }

  /** The latest digests, oldest first, to travel with the VM. */
  recent(): number[] {
    return [...this.digests];
  }

  /** On the destination: check the next deliveries against what the source delivered last. */
  watchFor(vm: string, sourceDigests: readonly number[]): void {
    this.firstNs = null;
    this.firstOutNs = null;
    this.watch = sourceDigests.length === 0 ? null : { vm, seen: new Set(sourceDigests), left: DIGESTS_KEPT };
  }
}
