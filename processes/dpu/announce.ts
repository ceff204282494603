import type { VTime } from '../../shared/events.js';

/**
 * How often a VM's MAC is announced (RARP) after it arrived on a host, by vMotion or by a DPU
 * takeover. The schedule is QEMU's self-announce (`net/announce.c`, the `announce-*` migration
 * parameters): 5 rounds, the first at once, then gaps that start at 50 ms and grow by 100 ms per
 * round, never above 550 ms, so announcements at 0, 50, 200, 450 and 800 ms. ESXi's "notify
 * switches" publishes no count or spacing; taking QEMU's is an assumption (docs/vmotion.md).
 */
export interface AnnounceSchedule {
  /** Announcements in all, the first included. */
  readonly rounds: number;
  /** Gap after the first announcement. */
  readonly initialNs: VTime;
  /** How much each further gap grows. */
  readonly stepNs: VTime;
  /** The longest gap. */
  readonly maxNs: VTime;
}

/** QEMU's defaults: 5 rounds, 50 ms first gap, +100 ms per round, 550 ms cap. */
export const DEFAULT_ANNOUNCE_SCHEDULE: AnnounceSchedule = { rounds: 5, initialNs: 50_000_000, stepNs: 100_000_000, maxNs: 550_000_000 };

/**
 * The wait after announcement `round` (1 for the first) before the next one, or null after the
 * last.
 *
 * @example
 * announceGapNs(1) // 50 ms: the second announcement comes 50 ms after the first
 * announceGapNs(5) // null: five rounds were sent
 */
export function announceGapNs(round: number, schedule: AnnounceSchedule = DEFAULT_ANNOUNCE_SCHEDULE): VTime | null {
  if (round >= schedule.rounds) return null;
  return Math.min(schedule.initialNs + (round - 1) * schedule.stepNs, schedule.maxNs);
}
