/**
 * The vMotion memory pre-copy plan: how many pages each round sends, when to stop and switch over,
 * how hard to slow the guest's vCPUs down, and when to give up.
 *
 * The model follows vMotion's iterative pre-copy. Memory writes are traced; the first round sends
 * every page of the VM, each later round sends the pages the guest dirtied while the previous round
 * ran. Once what remains can cross the link within the switchover goal (500 ms by default) the VM
 * is stunned and the rest is sent; a real log shows 1296 pages left at about 145 MB/s, sent in
 * about 53 ms. Pages are counted and sized, never stored.
 *
 * Dirty model (a working set): the guest's writes (`dirtyPagesPerSec`) land in a hot set of
 * `workingSetMiB`, so however long a round runs no more than the hot set is dirty at its end; the
 * cold remainder of memory is dirtied at its own, slower rate (`coldDirtyPagesPerSec`). A VM with
 * no working set given has all of its memory hot, the model of a guest writing anywhere.
 *
 * The planner does not time anything itself: the caller runs a round, measures how fast its pages
 * actually crossed the emulated network and how long the round took, and hands both back.
 *
 * Throttling (the vCPU slow-down that makes a fast-dirtying guest converge). Let D be the guest's
 * dirty rate in bytes per second, L the link rate measured in the previous round (the nominal rate
 * before the first) and s the link share (1/2 by default). When D <= s * L the guest runs freely
 * (factor 1). Otherwise the vCPUs run for a quantum Q (1 ms) and then sleep S, which leaves them
 * the fraction f = Q / (Q + S) of their speed and divides the dirty rate by the same amount:
 *
 *   wanted f = s * L / D,   S = ceil(Q * (1 - f) / f),   capped by maxSleepNs and by minFactor,
 *   applied f = floor(Q * 10^6 / (Q + S)) / 10^6.
 *
 * So the throttle never sleeps longer than a few milliseconds at a time, and a guest that dirties
 * faster than even the strongest throttle can absorb still fails to converge and aborts once
 * pre-copy has run for `maxPrecopyNs`. The limit holds inside a round too: the caller arms a timer
 * for `remainingNs` when a round starts and calls `expire` if it fires before the round ends.
 *
 * Determinism: every count and duration is an integer, products are taken in BigInt, divisions are
 * floors (or ceilings where a duration must not be underestimated). Fractional configuration
 * values (`dirtyPagesPerSec`, `minFactor`, `linkShare`) are rounded once, in the constructor, to
 * thousandths of a page or millionths, so two processes given the same inputs plan the same rounds.
 */
import { PrecopyError } from './errors.js';

const NS_PER_SEC = 1_000_000_000n;
const PPM = 1_000_000n;
const MIB = 1_048_576n;

/** How the planner may slow the guest's vCPUs down so that pre-copy converges. */
export interface ThrottleConfig {
  /** Whether vCPUs may be slowed down at all. */
  readonly enabled: boolean;
  /** The longest sleep inserted after each run quantum, in ns (a few ms at most). */
  readonly maxSleepNs: number;
  /** The lowest fraction of full speed the vCPUs are ever left with, in (0, 1]. */
  readonly minFactor: number;
  /** How long a vCPU runs between two sleeps, in ns. */
  readonly runQuantumNs: number;
  /** The share of the link the dirty rate may use before throttling starts, in (0, 1]. */
  readonly linkShare: number;
}

/** What a pre-copy planner is built from: one VM, one link, the goals. */
export interface PrecopyConfig {
  /** The VM's memory size; every MiB is pre-copied. */
  readonly memoryMiB: number;
  /** Pages the guest dirties per second when not throttled (the topology's `dirtyPagesPerSec`), all in its hot set. */
  readonly dirtyPagesPerSec: number;
  /** The hot set the writes land in, in MiB (default: all of `memoryMiB`). */
  readonly workingSetMiB?: number;
  /** Pages of the cold remainder dirtied per second when not throttled (default 0). */
  readonly coldDirtyPagesPerSec?: number;
  /** The link's nominal rate in bytes per second, used to plan the first round before any measurement. */
  readonly nominalBytesPerSec: number;
  /** Page size in bytes (4 KiB). */
  readonly pageBytes?: number;
  /** Pre-copy stops once the remaining pages can be sent within this many ns (500 ms). */
  readonly switchoverGoalNs?: number;
  /** Pre-copy that has run this long without meeting the switchover goal aborts (60 s). */
  readonly maxPrecopyNs?: number;
  /** vCPU throttling; every field defaults separately. */
  readonly throttle?: Partial<ThrottleConfig>;
}

/** Defaults of `PrecopyConfig`: 4 KiB pages, a 500 ms switchover goal, a 60 s limit. */
export const PRECOPY_DEFAULTS = {
  pageBytes: 4096,
  switchoverGoalNs: 500_000_000,
  maxPrecopyNs: 60_000_000_000,
} as const;

/** Defaults of `ThrottleConfig`: enabled, 1 ms quanta, sleeps of 5 ms at most, half the link. */
export const THROTTLE_DEFAULTS: ThrottleConfig = {
  enabled: true,
  maxSleepNs: 5_000_000,
  minFactor: 0.1,
  runQuantumNs: 1_000_000,
  linkShare: 0.5,
};

/** The vCPU slow-down for one round: the fraction of speed left and the sleep that achieves it. */
export interface Throttle {
  /** Fraction of full vCPU speed (and of the dirty rate) left, 1 = not throttled; a multiple of 10^-6. */
  readonly factor: number;
  /** Sleep inserted after each run quantum, in ns; 0 when not throttled. */
  readonly sleepNs: number;
}

/** One pre-copy round to run: the pages to send and what the guest is expected to dirty meanwhile. */
export interface Round {
  readonly kind: 'round';
  /** 0 for the first round (all pages), then 1, 2, ... */
  readonly index: number;
  /** Pages to send in this round. */
  readonly pages: number;
  /** `pages * pageBytes`. */
  readonly bytes: number;
  /** How long the round should take at the last known link rate, in ns (rounded up). */
  readonly estimatedNs: number;
  /** Pages the guest is expected to dirty while the round runs: throttled dirty rate x estimatedNs, capped at the VM's pages. */
  readonly dirtiedDuring: number;
  /** vCPU slow-down applied during the round, 1 = none. */
  readonly throttleFactor: number;
  /** Sleep inserted after each vCPU run quantum during the round, in ns. */
  readonly throttleSleepNs: number;
}

/** Pre-copy has converged: stun the VM and send the remaining pages. */
export interface Switchover {
  readonly kind: 'switchover';
  /** Pages still dirty, to send while the VM is stunned. */
  readonly remainingPages: number;
  /** How long sending them takes at the last measured link rate, in ns: the expected stun time. */
  readonly estimatedNs: number;
}

/** Pre-copy did not meet the switchover goal within `maxPrecopyNs`: the migration fails, the VM stays. */
export interface PrecopyAbort {
  readonly kind: 'abort';
  readonly reason: 'no-convergence';
  /** Rounds completed before giving up. */
  readonly rounds: number;
}

/** What the caller reports after running a round. */
export interface RoundResult {
  /** Pages of the round that actually crossed the link (the rest stay dirty). */
  readonly pagesSent: number;
  /** How long the round took, in ns. */
  readonly durationNs: number;
  /** Link throughput measured during the round, in bytes per second. */
  readonly bytesPerSec: number;
}

/** What follows a round: another round, the switchover, or the abort. */
export type PrecopyStep = Round | Switchover | PrecopyAbort;

type ThrottlePlan = { readonly ppm: bigint; readonly sleepNs: bigint };

/**
 * Plans the pre-copy of one VM's memory, round by round. Call `firstRound()` once, run it, then
 * `nextRound(result)` after each round until it answers a switchover or an abort.
 */
export class PrecopyPlanner {
  /** Pages of the VM: `memoryMiB` MiB in `pageBytes` pages, rounded up. */
  readonly totalPages: number;
  /** Page size in bytes. */
  readonly pageBytes: number;
  /** The switchover goal in ns. */
  readonly switchoverGoalNs: number;
  /** The pre-copy time limit in ns. */
  readonly maxPrecopyNs: number;

  readonly #dirtyMilliPagesPerSec: bigint;
  readonly #coldMilliPagesPerSec: bigint;
  readonly #hotPages: number;
  readonly #nominalBytesPerSec: bigint;
  readonly #throttle: {
    readonly enabled: boolean;
    readonly maxSleepNs: bigint;
    readonly minPpm: bigint;
    readonly quantumNs: bigint;
    readonly sharePpm: bigint;
  };
  #state: 'new' | 'running' | 'ended' = 'new';
  #current: { readonly pages: number; readonly ppm: bigint } | null = null;
  #completed = 0;
  #elapsedNs = 0;

  constructor(config: PrecopyConfig) {
    const pageBytes = config.pageBytes ?? PRECOPY_DEFAULTS.pageBytes;
    const throttle = { ...THROTTLE_DEFAULTS, ...config.throttle };
    requireInteger('memoryMiB', config.memoryMiB, 1);
    requireInteger('pageBytes', pageBytes, 1);
    requireFinite('dirtyPagesPerSec', config.dirtyPagesPerSec, 0);
    const workingSetMiB = config.workingSetMiB ?? config.memoryMiB;
    requireInteger('workingSetMiB', workingSetMiB, 1);
    requireFinite('coldDirtyPagesPerSec', config.coldDirtyPagesPerSec ?? 0, 0);
    requireFinite('nominalBytesPerSec', config.nominalBytesPerSec, 1);
    const switchoverGoalNs = config.switchoverGoalNs ?? PRECOPY_DEFAULTS.switchoverGoalNs;
    const maxPrecopyNs = config.maxPrecopyNs ?? PRECOPY_DEFAULTS.maxPrecopyNs;
    requireInteger('switchoverGoalNs', switchoverGoalNs, 0);
    requireInteger('maxPrecopyNs', maxPrecopyNs, 1);
    requireInteger('throttle.maxSleepNs', throttle.maxSleepNs, 0);
    requireInteger('throttle.runQuantumNs', throttle.runQuantumNs, 1);
    requireFraction('throttle.minFactor', throttle.minFactor);
    requireFraction('throttle.linkShare', throttle.linkShare);

    const bytes = BigInt(config.memoryMiB) * MIB;
    const page = BigInt(pageBytes);
    this.totalPages = Number((bytes + page - 1n) / page);
    this.pageBytes = pageBytes;
    this.switchoverGoalNs = switchoverGoalNs;
    this.maxPrecopyNs = maxPrecopyNs;
    this.#dirtyMilliPagesPerSec = BigInt(Math.round(config.dirtyPagesPerSec * 1000));
    this.#coldMilliPagesPerSec = BigInt(Math.round((config.coldDirtyPagesPerSec ?? 0) * 1000));
    this.#hotPages = Math.min(this.totalPages, Number((BigInt(Math.min(workingSetMiB, config.memoryMiB)) * MIB + page - 1n) / page));
    this.#nominalBytesPerSec = BigInt(Math.floor(config.nominalBytesPerSec));
    this.#throttle = {
      enabled: throttle.enabled,
      maxSleepNs: BigInt(throttle.maxSleepNs),
      minPpm: BigInt(Math.max(1, Math.round(throttle.minFactor * 1_000_000))),
      quantumNs: BigInt(throttle.runQuantumNs),
      sharePpm: BigInt(Math.max(1, Math.round(throttle.linkShare * 1_000_000))),
    };
  }

  /** Pre-copy time so far: the sum of the reported round durations, in ns. */
  get elapsedNs(): number {
    return this.#elapsedNs;
  }

  /** The first round: every page of the VM, planned at the link's nominal rate. */
  firstRound(): Round {
    if (this.#state !== 'new') throw new PrecopyError('bad-sequence', 'The first round was already planned');
    this.#state = 'running';
    return this.#plan(0, this.totalPages, this.#nominalBytesPerSec);
  }

  /**
   * Decides what follows the round just run. The pages still dirty are the round's unsent pages
   * plus those the guest dirtied during its measured duration (at the round's throttle), capped at
   * the VM's pages. If they can be sent within the switchover goal at the measured rate, it is time
   * to switch over; otherwise, if pre-copy has run for `maxPrecopyNs`, it aborts; otherwise they
   * make the next round, throttled for the measured rate.
   */
  nextRound(previous: RoundResult): PrecopyStep {
    if (this.#state === 'new') throw new PrecopyError('bad-sequence', 'No round was planned yet: call firstRound first');
    const current = this.#current;
    if (this.#state === 'ended' || current === null) throw new PrecopyError('bad-sequence', 'Pre-copy already ended');
    requireMeasurement('pagesSent', previous.pagesSent, 0, current.pages);
    requireMeasurement('durationNs', previous.durationNs, 0, Number.MAX_SAFE_INTEGER);
    const bytesPerSec = measuredRate(previous.bytesPerSec);

    this.#completed += 1;
    this.#elapsedNs += previous.durationNs;
    const unsent = current.pages - previous.pagesSent;
    const dirtied = this.#dirtiedIn(BigInt(previous.durationNs), current.ppm);
    const remaining = Math.min(this.totalPages, unsent + dirtied);

    const estimatedNs = transferNs(BigInt(remaining) * BigInt(this.pageBytes), bytesPerSec);
    if (estimatedNs <= this.switchoverGoalNs) {
      this.#end();
      return { kind: 'switchover', remainingPages: remaining, estimatedNs };
    }
    if (this.#elapsedNs >= this.maxPrecopyNs) {
      this.#end();
      return { kind: 'abort', reason: 'no-convergence', rounds: this.#completed };
    }
    return this.#plan(this.#completed, remaining, bytesPerSec);
  }

  /**
   * Pre-copy time left before `maxPrecopyNs`, in ns, counting only the rounds already reported:
   * how long the round now running may take before the limit passes in its middle.
   */
  get remainingNs(): number {
    return Math.max(0, this.maxPrecopyNs - this.#elapsedNs);
  }

  /**
   * Ends pre-copy because its limit passed while a round was still running (`durationNs` of it
   * so far, at least `remainingNs`): a round may take far longer than the limit (a large VM's
   * first pass over a slow link), and a limit checked only between rounds would let the
   * migration outlive it. The cut-off round does not count as completed.
   */
  expire(running: { readonly durationNs: number }): PrecopyAbort {
    if (this.#state !== 'running') throw new PrecopyError('bad-sequence', this.#state === 'new' ? 'No round was planned yet: call firstRound first' : 'Pre-copy already ended');
    requireMeasurement('durationNs', running.durationNs, this.remainingNs, Number.MAX_SAFE_INTEGER);
    this.#elapsedNs += running.durationNs;
    this.#end();
    return { kind: 'abort', reason: 'no-convergence', rounds: this.#completed };
  }

  /** How long sending `remainingPages` takes at `bytesPerSec`, in ns, rounded up: the stun time of a switchover. */
  switchoverNs(remainingPages: number, bytesPerSec: number): number {
    requireMeasurement('remainingPages', remainingPages, 0, Number.MAX_SAFE_INTEGER);
    return transferNs(BigInt(remainingPages) * BigInt(this.pageBytes), measuredRate(bytesPerSec));
  }

  /** The vCPU throttle this guest needs on a link of `bytesPerSec` (see the file comment for the formula). */
  throttleFor(bytesPerSec: number): Throttle {
    const plan = this.#throttleFor(measuredRate(bytesPerSec));
    return { factor: Number(plan.ppm) / 1_000_000, sleepNs: Number(plan.sleepNs) };
  }

  #plan(index: number, pages: number, bytesPerSec: bigint): Round {
    const throttle = this.#throttleFor(bytesPerSec);
    const bytes = BigInt(pages) * BigInt(this.pageBytes);
    const estimatedNs = transferNs(bytes, bytesPerSec);
    this.#current = { pages, ppm: throttle.ppm };
    return {
      kind: 'round',
      index,
      pages,
      bytes: Number(bytes),
      estimatedNs,
      dirtiedDuring: this.#dirtiedIn(BigInt(estimatedNs), throttle.ppm),
      throttleFactor: Number(throttle.ppm) / 1_000_000,
      throttleSleepNs: Number(throttle.sleepNs),
    };
  }

  #end(): void {
    this.#state = 'ended';
    this.#current = null;
  }

  /**
   * Pages dirty after `durationNs` at the dirty rates scaled by `ppm` millionths: the hot set's
   * writes, capped at the hot set, plus the cold remainder's, capped at the rest.
   */
  #dirtiedIn(durationNs: bigint, ppm: bigint): number {
    const scale = 1000n * PPM * NS_PER_SEC;
    const hot = (this.#dirtyMilliPagesPerSec * ppm * durationNs) / scale;
    const cold = (this.#coldMilliPagesPerSec * ppm * durationNs) / scale;
    const coldPages = BigInt(this.totalPages - this.#hotPages);
    return Number((hot >= BigInt(this.#hotPages) ? BigInt(this.#hotPages) : hot) + (cold >= coldPages ? coldPages : cold));
  }

  /** Pages the guest dirties in `durationNs` with its vCPUs at `factor` of their speed (the working-set model). */
  dirtiedIn(durationNs: number, factor: number): number {
    requireMeasurement('durationNs', durationNs, 0, Number.MAX_SAFE_INTEGER);
    return this.#dirtiedIn(BigInt(durationNs), BigInt(Math.max(0, Math.min(1_000_000, Math.round(factor * 1_000_000)))));
  }

  #throttleFor(bytesPerSec: bigint): ThrottlePlan {
    const t = this.#throttle;
    // Compared as: dirty rate in thousandths of a byte per second, times 10^6, against
    // link rate x share in millionths x 1000 (the same scale); their quotient is the wanted factor in millionths.
    const dirtyMilliBytes = this.#dirtyMilliPagesPerSec * BigInt(this.pageBytes);
    const budget = bytesPerSec * t.sharePpm * 1000n;
    if (!t.enabled || dirtyMilliBytes * PPM <= budget) return { ppm: PPM, sleepNs: 0n };
    let wantedPpm = budget / dirtyMilliBytes;
    if (wantedPpm < 1n) wantedPpm = 1n;
    const wantedSleep = ceilDiv(t.quantumNs * (PPM - wantedPpm), wantedPpm);
    const floorSleep = (t.quantumNs * (PPM - t.minPpm)) / t.minPpm;
    const sleepNs = min(wantedSleep, t.maxSleepNs, floorSleep);
    return { ppm: (t.quantumNs * PPM) / (t.quantumNs + sleepNs), sleepNs };
  }
}

/** Ns to send `bytes` at `bytesPerSec`, rounded up. */
function transferNs(bytes: bigint, bytesPerSec: bigint): number {
  return Number(ceilDiv(bytes * NS_PER_SEC, bytesPerSec));
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function min(...values: bigint[]): bigint {
  return values.reduce((a, b) => (b < a ? b : a));
}

function measuredRate(bytesPerSec: number): bigint {
  if (!Number.isFinite(bytesPerSec) || bytesPerSec < 1) {
    throw new PrecopyError('bad-measurement', `bytesPerSec must be a finite rate of at least 1, got ${bytesPerSec}`);
  }
  return BigInt(Math.floor(bytesPerSec));
}

function requireMeasurement(name: string, value: number, low: number, high: number): void {
  if (!Number.isSafeInteger(value) || value < low || value > high) {
    throw new PrecopyError('bad-measurement', `${name} must be an integer from ${low} to ${high}, got ${value}`);
  }
}

function requireInteger(name: string, value: number, low: number): void {
  if (!Number.isSafeInteger(value) || value < low) {
    throw new PrecopyError('bad-config', `${name} must be an integer of at least ${low}, got ${value}`);
  }
}

function requireFinite(name: string, value: number, low: number): void {
  if (!Number.isFinite(value) || value < low) {
    throw new PrecopyError('bad-config', `${name} must be a finite number of at least ${low}, got ${value}`);
  }
}

function requireFraction(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0 || value > 1) {
    throw new PrecopyError('bad-config', `${name} must be in (0, 1], got ${value}`);
  }
}
