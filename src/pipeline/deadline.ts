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
 * One request's deadline: its abort signal, and whether the deadline fired it. {@link RequestDeadlines} fires
 * a sender's on one timer; {@link Deadline} is one with a timer of its own.
 *
 * @example
 * ```ts
 * const deadline = new RequestDeadline(6_000, asyncScheduler.now() + 6_000);
 * deadline.explain(new Error('socket hang up'), 'PutRecords'); // the error itself: the deadline did not fire
 * ```
 */
export class RequestDeadline {
  readonly controller = new AbortController();
  expired = false;

  constructor(
    readonly ms: number,
    /** When it fires (scheduler time). */
    readonly due: number,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The error to report for a failed request: a {@link RequestTimeoutError} if the deadline cut it off. */
  explain(error: unknown, operation: string): unknown {
    return this.expired ? new RequestTimeoutError(operation, this.ms, { cause: error }) : error;
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
export class Deadline extends RequestDeadline {
  private readonly timer: Subscription;
  private readonly onParentAbort: () => void;

  constructor(
    scheduler: SchedulerLike,
    private readonly parent: AbortSignal,
    ms: number,
  ) {
    super(ms, scheduler.now() + ms);
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

  /** The request is over: drops the timer and the listener on the pipeline's signal. */
  clear(): void {
    this.timer.unsubscribe();
    this.parent.removeEventListener('abort', this.onParentAbort);
  }
}

/**
 * The deadlines of a sender's requests in flight, on one timer: armed for the earliest, and re-armed when it
 * fires or when a request due sooner starts; gone when none is in flight. A {@link Deadline} per request
 * cost a timer, a listener on the pipeline's signal and a `setMaxListeners` each: about 2% of the operator's
 * throughput in bench 4's 1,000-key variant (400 requests a run; 0.830–0.848 → 0.856–0.876 of the loop in a
 * separate-process harness). `cancel()` aborts those in
 * flight itself, so no request listens on the pipeline's signal.
 *
 * @example
 * ```ts
 * const deadlines = new RequestDeadlines(asyncScheduler);
 * const deadline = deadlines.start(6_000);
 * try {
 *   await client.send(new PutRecordsCommand({ StreamName: 'sensors', Records: [] }), { abortSignal: deadline.signal });
 * } catch (e) {
 *   throw deadline.explain(e, 'PutRecords'); // a RequestTimeoutError if the deadline cut it off
 * } finally {
 *   deadlines.end(deadline);
 * }
 * ```
 */
export class RequestDeadlines {
  /** Requests in flight whose deadline has not fired. */
  private readonly open = new Set<RequestDeadline>();
  /** Of those, the ones with a finite deadline: the timer is armed while there are any. */
  private timed = 0;
  private timer: Subscription | undefined;
  /** When the timer fires; Infinity while there is none. */
  private armedFor = Infinity;
  private cancelled = false;
  private reason: unknown;

  constructor(private readonly scheduler: SchedulerLike) {}

  /** A request starts: its signal fires `ms` from now (never for `Infinity`), or at once once cancelled. */
  start(ms: number): RequestDeadline {
    const deadline = new RequestDeadline(ms, this.scheduler.now() + ms);
    if (this.cancelled) deadline.controller.abort(this.reason);
    else {
      this.open.add(deadline);
      if (Number.isFinite(ms)) {
        this.timed++;
        if (deadline.due < this.armedFor) this.arm(deadline.due);
      }
    }
    return deadline;
  }

  /** The request is over: its deadline no longer counts (the timer goes with the last one due). */
  end(deadline: RequestDeadline): void {
    if (this.open.delete(deadline) && Number.isFinite(deadline.ms) && --this.timed === 0) this.disarm();
  }

  /** Aborts every request in flight with `reason`, and any started later; drops the timer. */
  cancel(reason: unknown): void {
    this.cancelled = true;
    this.reason = reason;
    const open = [...this.open];
    this.open.clear();
    this.timed = 0;
    this.disarm();
    for (const deadline of open) deadline.controller.abort(reason);
  }

  /** Fires the deadlines due, then arms for the next. */
  private fire(): void {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.scheduler.now();
    let next = Infinity;
    const due: RequestDeadline[] = [];
    for (const deadline of this.open) {
      if (deadline.due <= now) due.push(deadline);
      else next = Math.min(next, deadline.due);
    }
    for (const deadline of due) this.open.delete(deadline);
    this.timed -= due.length;
    if (next < Infinity) this.arm(next);
    for (const deadline of due) {
      deadline.expired = true;
      deadline.controller.abort(new RequestTimeoutError('request', deadline.ms));
    }
  }

  private arm(due: number): void {
    this.disarm();
    this.armedFor = due;
    // A synchronous scheduler runs the callback before schedule() returns; then there is no timer to keep.
    let ran = false;
    const timer = this.scheduler.schedule(
      () => {
        ran = true;
        this.fire();
      },
      Math.max(0, due - this.scheduler.now()),
    );
    if (!ran) this.timer = timer;
  }

  private disarm(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.armedFor = Infinity;
  }
}
