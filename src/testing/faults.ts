import type { FaultCounts, FaultOptions, RequestFate } from './fault-options.js';
export type { FaultCounts, FaultOptions, RequestFate, ThrottleErrorCode } from './fault-options.js';

/**
 * A small, fast, seedable PRNG (the mulberry32 algorithm): uniform numbers in [0, 1). Used so fault
 * injection replays identically for a given seed and request order.
 *
 * @example
 * ```ts
 * const random = seededRandom(42);
 * random(); // same value on every run
 * ```
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

type ResolvedFaults = Required<Omit<FaultOptions, 'seed'>>;

const DEFAULTS: ResolvedFaults = {
  recordFailureRate: 0,
  requestFailureRate: 0,
  requestThrottleRate: 0,
  throttleErrorCode: 'ProvisionedThroughputExceededException',
  resetRate: 0,
  applyBeforeResetRate: 0.5,
  latencyMs: 0,
  jitterMs: 0,
  stallRate: 0,
  slowAnswerRate: 0,
  slowAnswerMs: 10_000,
  garbledBodyRate: 0,
  headerResetRate: 0,
  shortResponseRate: 0,
  emptyEntryRate: 0,
  listShardsThrottleRate: 0,
  listShardsFailures: 0,
  unlistedShards: [],
  resourceInUseMs: 0,
  operations: ['PutRecords', 'PutRecord'],
};

const RATES = [
  'recordFailureRate',
  'requestFailureRate',
  'requestThrottleRate',
  'resetRate',
  'applyBeforeResetRate',
  'stallRate',
  'slowAnswerRate',
  'garbledBodyRate',
  'headerResetRate',
  'shortResponseRate',
  'emptyEntryRate',
  'listShardsThrottleRate',
] as const;

const DURATIONS = ['latencyMs', 'jitterMs', 'slowAnswerMs', 'resourceInUseMs'] as const;

/** The request-level fates after reset/fail/throttle, in draw order. */
const LATER_FATES = [
  ['stallRate', 'stall', 'stalls'],
  ['slowAnswerRate', 'slowAnswer', 'slowAnswers'],
  ['garbledBodyRate', 'garble', 'garbledBodies'],
  ['headerResetRate', 'headerReset', 'headerResets'],
  ['shortResponseRate', 'short', 'shortResponses'],
] as const;

/** What ListShards-only faults make of one ListShards request. */
export type ListShardsFate = 'process' | 'fail' | 'throttle';

/**
 * Draws the injected faults from one seeded PRNG and counts them. Draws happen only for non-zero rates,
 * so turning a fault on does not disturb runs that never use it.
 *
 * @example
 * ```ts
 * const faults = new FaultInjector({ seed: 3, recordFailureRate: 0.5 });
 * faults.recordFails(); // true about half the time
 * ```
 */
export class FaultInjector {
  readonly counts: FaultCounts = {
    recordFailures: 0,
    requestFailures: 0,
    requestThrottles: 0,
    resets: 0,
    appliedResets: 0,
    delayedRequests: 0,
    stalls: 0,
    slowAnswers: 0,
    garbledBodies: 0,
    headerResets: 0,
    shortResponses: 0,
    emptyEntries: 0,
    listShardsThrottles: 0,
    listShardsFailures: 0,
    resourceInUse: 0,
  };
  private options: ResolvedFaults = { ...DEFAULTS };
  private operations = new Set<string>(DEFAULTS.operations);
  private random = seededRandom(1);
  private listShardsFailuresLeft = 0;
  private resourceInUseUntil = -Infinity;

  /** `clock` (epoch ms) times `resourceInUseMs`; the emulator passes its own. */
  constructor(
    options: FaultOptions = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.set(options);
  }

  /** The faults in force, defaults filled in. */
  get current(): Readonly<ResolvedFaults> {
    return this.options;
  }

  /**
   * Merges `options` into the faults in force; a `seed` restarts the PRNG, `listShardsFailures` and
   * `resourceInUseMs` start counting again from now.
   */
  set(options: FaultOptions): void {
    const { seed, ...rest } = options;
    const next: ResolvedFaults = { ...this.options };
    for (const [key, value] of Object.entries(rest)) {
      if (value !== undefined) Object.assign(next, { [key]: value });
    }
    for (const key of RATES) {
      const rate = next[key];
      if (!(rate >= 0 && rate <= 1)) throw new RangeError(`${key} must be within [0, 1], got ${rate}`);
    }
    for (const key of DURATIONS) {
      if (!(next[key] >= 0)) throw new RangeError(`${key} must be ≥ 0, got ${next[key]}`);
    }
    if (!(Number.isInteger(next.listShardsFailures) && next.listShardsFailures >= 0)) {
      throw new RangeError(`listShardsFailures must be a whole number ≥ 0, got ${next.listShardsFailures}`);
    }
    this.options = next;
    this.operations = new Set(next.operations);
    if (seed !== undefined) this.random = seededRandom(seed);
    if (rest.listShardsFailures !== undefined) this.listShardsFailuresLeft = rest.listShardsFailures;
    if (rest.resourceInUseMs !== undefined) this.resourceInUseUntil = this.clock() + rest.resourceInUseMs;
  }

  /** Whether `operation` is subject to the rate faults at all. */
  applies(operation: string): boolean {
    return this.operations.has(operation);
  }

  /** Milliseconds to hold a request back before processing it (0 for none). */
  delay(): number {
    const { latencyMs, jitterMs } = this.options;
    const ms = latencyMs + (jitterMs > 0 ? this.random() * jitterMs : 0);
    if (ms > 0) this.counts.delayedRequests++;
    return ms;
  }

  /** The request-level fate of one request of `operation` (one of `operations`). */
  fate(operation: string): RequestFate {
    const o = this.options;
    let total = o.resetRate + o.requestFailureRate + o.requestThrottleRate;
    for (const [rate] of LATER_FATES) total += o[rate];
    if (total === 0) return 'process';
    const draw = this.random();
    let below = o.resetRate;
    if (draw < below) {
      this.counts.resets++;
      if (o.applyBeforeResetRate > 0 && this.random() < o.applyBeforeResetRate) {
        this.counts.appliedResets++;
        return 'applyThenReset';
      }
      return 'reset';
    }
    below += o.requestFailureRate;
    if (draw < below) {
      this.counts.requestFailures++;
      return 'fail';
    }
    below += o.requestThrottleRate;
    if (draw < below) {
      this.counts.requestThrottles++;
      return 'throttle';
    }
    for (const [rate, fate, count] of LATER_FATES) {
      below += o[rate];
      if (draw >= below) continue;
      // Only PutRecords has a Records array to shorten.
      if (fate === 'short' && operation !== 'PutRecords') return 'process';
      this.counts[count]++;
      if (fate === 'headerReset') {
        this.counts.resets++;
        this.counts.appliedResets++;
      }
      return fate;
    }
    return 'process';
  }

  /** Whether the next record fails with `InternalFailure`. */
  recordFails(): boolean {
    const rate = this.options.recordFailureRate;
    if (rate === 0 || this.random() >= rate) return false;
    this.counts.recordFailures++;
    return true;
  }

  /** Whether the next written record is answered with an empty result entry. */
  emptiesEntry(): boolean {
    const rate = this.options.emptyEntryRate;
    if (rate === 0 || this.random() >= rate) return false;
    this.counts.emptyEntries++;
    return true;
  }

  /** How many of `n` result entries a short response keeps: seeded, in [0, n − 1]. */
  shortLength(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** What the ListShards-only faults do to this ListShards request (drawn whatever `operations` says). */
  listShardsFate(): ListShardsFate {
    if (this.listShardsFailuresLeft > 0) {
      this.listShardsFailuresLeft--;
      this.counts.listShardsFailures++;
      return 'fail';
    }
    const rate = this.options.listShardsThrottleRate;
    if (rate === 0 || this.random() >= rate) return 'process';
    this.counts.listShardsThrottles++;
    return 'throttle';
  }

  /** Whether `operation` is refused with `ResourceInUseException` now (`resourceInUseMs`). */
  resourceInUse(operation: string): boolean {
    if (operation === 'CreateStream' || operation === 'DescribeStreamSummary') return false;
    if (!(this.clock() < this.resourceInUseUntil)) return false;
    this.counts.resourceInUse++;
    return true;
  }
}
