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

/**
 * The error code a whole-request throttle answers with.
 *
 * @example
 * ```ts
 * emu.setFaults({ requestThrottleRate: 0.1, throttleErrorCode: 'LimitExceededException' });
 * ```
 */
export type ThrottleErrorCode = 'ProvisionedThroughputExceededException' | 'LimitExceededException';

/**
 * Faults the emulator injects. Rates are probabilities in [0, 1]; request-level rates are drawn once per
 * request (reset first, then 500, then throttle), so together they should not exceed 1.
 *
 * Replays are identical for a seed only when requests arrive in the same order (one in flight at a time).
 *
 * @example
 * ```ts
 * emu.setFaults({ seed: 7, recordFailureRate: 0.1, latencyMs: 5, jitterMs: 20 });
 * ```
 */
export interface FaultOptions {
  /** Seed of the PRNG; setting it restarts the sequence. Default 1. */
  seed?: number;
  /** Share of PutRecords entries answered with `InternalFailure` (a 500 for PutRecord). Default 0. */
  recordFailureRate?: number;
  /** Share of requests answered with HTTP 500 `InternalFailure`. Default 0. */
  requestFailureRate?: number;
  /** Share of requests answered with HTTP 400 `throttleErrorCode`. Default 0. */
  requestThrottleRate?: number;
  /** What a whole-request throttle is called. Default `ProvisionedThroughputExceededException`. */
  throttleErrorCode?: ThrottleErrorCode;
  /** Share of requests whose connection is reset (TCP RST) instead of being answered. Default 0. */
  resetRate?: number;
  /**
   * Of the reset requests, the share applied before the reset, so the client cannot tell whether its
   * records landed; retrying them makes duplicates. Default 0.5.
   */
  applyBeforeResetRate?: number;
  /** Fixed delay before a request is processed, in ms. Default 0. */
  latencyMs?: number;
  /** Extra uniform random delay in [0, jitterMs) ms; reorders concurrent requests. Default 0. */
  jitterMs?: number;
  /** Operations the faults apply to. Default `['PutRecords', 'PutRecord']`. */
  operations?: readonly string[];
}

/**
 * How many faults of each kind were injected so far.
 *
 * @example
 * ```ts
 * const { resets, appliedResets }: FaultCounts = emu.stats().faults;
 * ```
 */
export interface FaultCounts {
  /** PutRecords entries failed with `InternalFailure` (and PutRecord calls turned into 500s by it). */
  recordFailures: number;
  /** Requests answered with 500 `InternalFailure`. */
  requestFailures: number;
  /** Requests answered with a whole-request throttle. */
  requestThrottles: number;
  /** Connections reset without an answer, applied or not. */
  resets: number;
  /** Of `resets`, those whose records were applied first. */
  appliedResets: number;
  /** Requests held back by `latencyMs` / `jitterMs`. */
  delayedRequests: number;
}

/**
 * What happens to one request, decided when its body has been read.
 *
 * @example
 * ```ts
 * if (faults.fate() === 'reset') socket.resetAndDestroy();
 * ```
 */
export type RequestFate = 'process' | 'reset' | 'applyThenReset' | 'fail' | 'throttle';

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
  operations: ['PutRecords', 'PutRecord'],
};

const RATES = [
  'recordFailureRate',
  'requestFailureRate',
  'requestThrottleRate',
  'resetRate',
  'applyBeforeResetRate',
] as const;

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
  };
  private options: ResolvedFaults = { ...DEFAULTS };
  private operations = new Set<string>(DEFAULTS.operations);
  private random = seededRandom(1);

  constructor(options: FaultOptions = {}) {
    this.set(options);
  }

  /** The faults in force, defaults filled in. */
  get current(): Readonly<ResolvedFaults> {
    return this.options;
  }

  /** Merges `options` into the faults in force; a `seed` restarts the PRNG. */
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
    if (!(next.latencyMs >= 0) || !(next.jitterMs >= 0)) {
      throw new RangeError('latencyMs and jitterMs must be ≥ 0');
    }
    this.options = next;
    this.operations = new Set(next.operations);
    if (seed !== undefined) this.random = seededRandom(seed);
  }

  /** Whether `operation` is subject to faults at all. */
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

  /** The request-level fate of one request. */
  fate(): RequestFate {
    const { resetRate, requestFailureRate, requestThrottleRate } = this.options;
    if (resetRate + requestFailureRate + requestThrottleRate === 0) return 'process';
    const draw = this.random();
    if (draw < resetRate) {
      this.counts.resets++;
      if (this.options.applyBeforeResetRate > 0 && this.random() < this.options.applyBeforeResetRate) {
        this.counts.appliedResets++;
        return 'applyThenReset';
      }
      return 'reset';
    }
    if (draw < resetRate + requestFailureRate) {
      this.counts.requestFailures++;
      return 'fail';
    }
    if (draw < resetRate + requestFailureRate + requestThrottleRate) {
      this.counts.requestThrottles++;
      return 'throttle';
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
}
