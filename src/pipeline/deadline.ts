import { setMaxListeners } from 'node:events';
import { Subscription, type SchedulerLike } from 'rxjs';

/** The deadline settings, named as in the pipeline's options (its resolved options fit). */
export interface DeadlineOptions {
  requestTimeoutMs: number;
  minUploadBytesPerSecond: number;
  scheduler: SchedulerLike;
}

/**
 * A request's deadline in ms: `requestTimeoutMs`, plus the time its `bytes` take to upload at
 * `minUploadBytesPerSecond` (a 5 MiB request on a 2 Mbit/s share of an uplink needs 20 s to send).
 *
 * @example
 * ```ts
 * requestDeadlineMs({ requestTimeoutMs: 6_000, minUploadBytesPerSecond: 256 * 1024 }, 5 * 1024 * 1024); // 26_000
 * ```
 */
export function requestDeadlineMs(
  o: Pick<DeadlineOptions, 'requestTimeoutMs' | 'minUploadBytesPerSecond'>,
  bytes: number,
): number {
  return o.requestTimeoutMs + Math.ceil((bytes * 1000) / o.minUploadBytesPerSecond);
}

/**
 * Thrown in place of the SDK's abort error when rx-kinesis aborted a request at its deadline. It has no
 * AWS error code, so it is retried; the request may have been applied. The cause of a
 * `RETRIES_EXHAUSTED` when every attempt timed out.
 *
 * @example
 * ```ts
 * const sinkError = new KinesisSinkError('RETRIES_EXHAUSTED', 'gave up', [], {
 *   cause: new RequestTimeoutError('PutRecords', 6_000),
 * });
 * if (sinkError.cause instanceof RequestTimeoutError) console.warn(`no answer within ${sinkError.cause.ms} ms`);
 * ```
 */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly operation: string,
    readonly ms: number,
    options?: { cause?: unknown },
  ) {
    super(`${operation} got no answer within ${ms} ms (requestTimeoutMs); it may have been applied`, options);
  }
}

/**
 * One request's abort signal: fires at its deadline (on the pipeline's scheduler, so virtual time drives
 * it in tests) or when the pipeline's own signal fires. The SDK's handlers, HTTP/2 and `NodeHttpHandler`
 * alike, close the request's stream or socket on abort, so the retry opens a fresh one.
 *
 * @example
 * ```ts
 * const deadline = new Deadline(scheduler, new AbortController().signal, 6_000);
 * try {
 *   await client.send(new ListShardsCommand({ StreamName: 'sensors' }), { abortSignal: deadline.signal });
 * } catch (e) {
 *   throw deadline.explain(e, 'ListShards'); // a RequestTimeoutError if the deadline cut it off
 * } finally {
 *   deadline.clear();
 * }
 * ```
 */
export class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: Subscription;
  private readonly onParentAbort: () => void;
  private expired = false;

  constructor(
    scheduler: SchedulerLike,
    private readonly parent: AbortSignal,
    readonly ms: number,
  ) {
    setMaxListeners(Infinity, this.controller.signal);
    // Cancelled with the pipeline, a request needs no deadline: its timer goes at once. Left to fire, it
    // kept the destroyed pipeline reachable (through the abort reason's captured stack) for up to the
    // deadline whenever the request itself never settled: 200,000 buffered records held 6 s after an
    // unsubscribe (bench scenario 16, a client that never answers), and a timer left behind.
    this.onParentAbort = () => {
      this.timer.unsubscribe();
      this.controller.abort(parent.reason);
    };
    if (parent.aborted) {
      this.controller.abort(parent.reason);
      this.timer = Subscription.EMPTY;
      return;
    }
    parent.addEventListener('abort', this.onParentAbort, { once: true });
    // `requestTimeoutMs: Infinity` turns deadlines off (a timer of Infinity ms would fire at once).
    this.timer = Number.isFinite(ms)
      ? scheduler.schedule(() => {
          this.expired = true;
          this.controller.abort(new RequestTimeoutError('request', ms));
        }, ms)
      : Subscription.EMPTY;
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the deadline (not the pipeline) aborted the request. */
  get timedOut(): boolean {
    return this.expired;
  }

  /** The error to report for a failed request: a {@link RequestTimeoutError} if the deadline cut it off. */
  explain(error: unknown, operation: string): unknown {
    return this.expired ? new RequestTimeoutError(operation, this.ms, { cause: error }) : error;
  }

  /** The request is over: drops the timer and the listener on the pipeline's signal. */
  clear(): void {
    this.timer.unsubscribe();
    this.parent.removeEventListener('abort', this.onParentAbort);
  }
}
