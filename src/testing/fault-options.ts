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
