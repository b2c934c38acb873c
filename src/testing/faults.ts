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
 * Faults the emulator injects. Rates are probabilities in [0, 1]. The request-level rates (`resetRate`,
 * `requestFailureRate`, `requestThrottleRate`, `stallRate`, `slowAnswerRate`, `garbledBodyRate`,
 * `headerResetRate`, `shortResponseRate`) are drawn once per request, in that order, from one draw, so
 * together they should not exceed 1. Per-record rates (`recordFailureRate`, `emptyEntryRate`) are drawn
 * per PutRecords entry. All of these apply to `operations` only; the ListShards faults and
 * `resourceInUseMs` name their own scope.
 *
 * Replays are identical for a seed only when requests arrive in the same order (one in flight at a time).
 * A rate left at 0 draws nothing, so turning a new fault on never changes what an old seed did.
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
  /**
   * Share of requests accepted and never answered, nor applied: a half-open connection or a stalled
   * proxy. The request is held until the client aborts it or `emu.close()` drops the connection; it
   * holds no timer, so it never keeps the process alive. Counted in `stalls`.
   *
   * @example
   * ```ts
   * emu.setFaults({ stallRate: 1 }); // every PutRecords hangs until the client's abort signal fires
   * ```
   */
  stallRate?: number;
  /**
   * Share of requests applied at once but answered only `slowAnswerMs` later: a client that gives up
   * first has written its records without knowing it. Counted in `slowAnswers`.
   *
   * @example
   * ```ts
   * emu.setFaults({ slowAnswerRate: 0.1, slowAnswerMs: 8_000 });
   * ```
   */
  slowAnswerRate?: number;
  /** How late a slow answer comes, ms. Default 10,000. */
  slowAnswerMs?: number;
  /**
   * Share of requests applied and answered with HTTP 200 and a body that is not JSON (a truncated
   * document), as a broken proxy might send. The SDK throws a parse error carrying status 200. Counted in
   * `garbledBodies`.
   *
   * @example
   * ```ts
   * emu.setFaults({ seed: 3, garbledBodyRate: 0.05 });
   * ```
   */
  garbledBodyRate?: number;
  /**
   * Share of requests applied, answered with the 200 header and half the body, then cut: the HTTP/2
   * stream is reset (RST_STREAM, INTERNAL_ERROR; the SDK's default handler reports `ERR_HTTP2_STREAM_ERROR`)
   * and an HTTP/1.1 socket destroyed mid-body. Counted in `headerResets` and, being applied resets, in
   * `resets` and `appliedResets` too.
   *
   * @example
   * ```ts
   * emu.setFaults({ headerResetRate: 0.05 });
   * ```
   */
  headerResetRate?: number;
  /**
   * Share of PutRecords requests applied in full and answered 200 with a `Records` array shorter than
   * the request (a seeded length in [0, n − 1]; `FailedRecordCount` as if whole). The records behind the
   * missing entries were written. Other operations are answered normally. Counted in `shortResponses`.
   *
   * @example
   * ```ts
   * emu.setFaults({ shortResponseRate: 0.02 });
   * ```
   */
  shortResponseRate?: number;
  /**
   * Share of written PutRecords entries (and PutRecord calls) answered with an empty result entry `{}`:
   * neither `SequenceNumber` nor `ErrorCode`. The record was written. Counted in `emptyEntries`.
   *
   * @example
   * ```ts
   * emu.setFaults({ emptyEntryRate: 0.01 });
   * ```
   */
  emptyEntryRate?: number;
  /**
   * Share of ListShards requests answered with HTTP 400 `LimitExceededException` (AWS allows 1,000
   * ListShards per second per stream), whatever `operations` says. Counted in `listShardsThrottles`.
   *
   * @example
   * ```ts
   * emu.setFaults({ listShardsThrottleRate: 1 }); // every ListShards refused until set back to 0
   * ```
   */
  listShardsThrottleRate?: number;
  /**
   * The next N ListShards requests (counted from when this is set) are answered with HTTP 500
   * `InternalFailure`, whatever `operations` says: a producer's startup against a service having a bad
   * minute. Counted in `listShardsFailures`.
   *
   * @example
   * ```ts
   * const emu = await startEmulator({ faults: { listShardsFailures: 3 } }); // the 4th ListShards succeeds
   * ```
   */
  listShardsFailures?: number;
  /**
   * Shards ListShards leaves out, so the hash ranges they own are covered by no listed open shard (as a
   * listing taken mid-reshard can be). Writes still route to them, as AWS's do. Default none.
   *
   * @example
   * ```ts
   * const [, high] = emu.splitShard('shardId-000000000000');
   * emu.setFaults({ unlistedShards: [high] }); // the upper half of the hash space is a gap
   * ```
   */
  unlistedShards?: readonly string[];
  /**
   * For this many ms from when it is set (at start, when passed to `startEmulator`), every request
   * except CreateStream and DescribeStreamSummary is answered with HTTP 400 `ResourceInUseException`,
   * as for a stream still CREATING or UPDATING; by the emulator's clock. Counted in `resourceInUse`.
   *
   * @example
   * ```ts
   * const emu = await startEmulator({ faults: { resourceInUseMs: 500 } });
   * ```
   */
  resourceInUseMs?: number;
  /** Operations the rate faults apply to. Default `['PutRecords', 'PutRecord']`. */
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
  /** Connections (or HTTP/2 streams) reset before a whole answer, applied or not; includes `headerResets`. */
  resets: number;
  /**
   * Of `resets`, those whose records were applied first: each may turn into duplicates when resent.
   * Includes `headerResets`.
   */
  appliedResets: number;
  /** Requests held back by `latencyMs` / `jitterMs`. */
  delayedRequests: number;
  /** Requests never answered (`stallRate`); not applied. */
  stalls: number;
  /** Requests applied and answered late (`slowAnswerRate`). */
  slowAnswers: number;
  /** Requests applied and answered with an unparseable 200 body (`garbledBodyRate`). */
  garbledBodies: number;
  /** Requests applied and cut after the 200 header (`headerResetRate`). */
  headerResets: number;
  /** PutRecords requests applied and answered with too few result entries (`shortResponseRate`). */
  shortResponses: number;
  /** Written records answered with an empty result entry (`emptyEntryRate`). */
  emptyEntries: number;
  /** ListShards answered with `LimitExceededException` (`listShardsThrottleRate`). */
  listShardsThrottles: number;
  /** ListShards answered with 500 (`listShardsFailures`). */
  listShardsFailures: number;
  /** Requests refused with `ResourceInUseException` (`resourceInUseMs`). */
  resourceInUse: number;
}

/**
 * What happens to one request, decided when its body has been read.
 *
 * @example
 * ```ts
 * if (faults.fate('PutRecords') === 'reset') socket.resetAndDestroy();
 * ```
 */
export type RequestFate =
  | 'process'
  | 'reset'
  | 'applyThenReset'
  | 'fail'
  | 'throttle'
  | 'stall'
  | 'slowAnswer'
  | 'garble'
  | 'headerReset'
  | 'short';

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
