import { KinesisSinkError, type KinesisSinkErrorCode } from '../errors.js';
import type { LimiterLease } from '../limits/client-limiters.js';
import type { Admission } from './admission.js';
import type { BatchCollector } from './batch-collector.js';
import type { KeyOrder } from './key-order.js';
import type { Lifecycle } from './lifecycle.js';
import type { Outcomes } from './outcomes.js';
import type { Retrier } from './retrier.js';
import type { Router } from './router.js';
import type { Sender } from './sender.js';
import type { ShardLanes } from './shard-lanes.js';
import type { SpoolStage } from './spool-stage.js';

/** The stages the teardown stops, and the producer's failure hook. */
export interface TeardownStages<T> {
  life: Lifecycle<T>;
  admission: Admission<T>;
  /** The promises of `send()`. */
  outcomes: Outcomes<T>;
  lanes: ShardLanes<T>;
  collector: BatchCollector<T>;
  sender: Sender<T>;
  retrier: Retrier<T>;
  router: Router<T>;
  /** With per-key ordering. */
  order: KeyOrder<T> | undefined;
  /** With a `spool`. */
  spool: SpoolStage<T> | undefined;
  /** The limiters this pipeline leases: given back once it stops. */
  lease: LimiterLease;
  /** Called once, synchronously, when the pipeline has failed: stop feeding it. */
  onFailed: () => void;
}

/**
 * How the pipeline stops: `flush()`, `close()`, `destroy()`, a failure, and the one check after each change
 * (`checkFinished()`) that says whether the pipeline is done. The Lifecycle holds the state these move; this
 * stage decides when to move it and stops the other stages in order. The producer's `flush`, `close` and
 * `destroy`, and every stage's "something changed" and "failed" hooks, are one call each on this.
 *
 * @example
 * ```ts
 * const teardown = new Teardown<Item>(stages); // life, admission, outcomes, lanes, collector, sender, ...
 * await teardown.close(10_000); // at most 10 s: then DRAIN_TIMEOUT with every item not delivered unsent
 * ```
 */
export class Teardown<T> {
  constructor(private readonly s: TeardownStages<T>) {}

  /** Resolves once every item taken so far is final; collected records go out at once. */
  flush(): Promise<void> {
    const { life, admission, spool } = this.s;
    if (life.state !== 'open' && life.state !== 'ending') return life.finished;
    const flushed = admission.flushed();
    this.flushAtEnd(false);
    return spool ? spool.flushed(flushed) : flushed;
  }

  /** open → ending (the buffered records go now), bounded by `deadlineMs`; settles with the pipeline. */
  close(deadlineMs?: number): Promise<void> {
    const { life, admission, spool } = this.s;
    if (life.end()) {
      spool?.end();
      admission.wakeWaiters();
      this.flushAtEnd(false);
      this.checkFinished();
    }
    if (deadlineMs !== undefined) life.deadline(deadlineMs);
    // With a spool, it closes after the end: what is left in it (a deadline, a failure) stays for the next.
    return spool ? life.finished.finally(() => spool.close()) : life.finished;
  }

  /** Stops at once: cancels requests in flight, clears every timer and limiter. Nothing more is emitted. */
  destroy(): void {
    const { life, retrier, sender, admission, outcomes, spool } = this.s;
    if (!life.destroy()) return;
    retrier.close();
    this.shutdown();
    sender.cancel();
    const destroyed = new Error('KinesisProducer destroyed before the outcome');
    admission.rejectWaiters(destroyed);
    outcomes.rejectAll(destroyed);
    spool?.close().catch(() => {});
  }

  /**
   * The one end-of-stream decision: once the source is done (or a flush waits) and nothing waits for tokens,
   * the request being collected goes now. Not on each idle while records are held for per-key order: each
   * release would then go out alone, thousands of one-record requests (measured).
   */
  flushAtEnd(lanesIdle: boolean): void {
    const { life, admission, lanes, order, collector } = this.s;
    if ((life.state !== 'ending' && !admission.flushing) || lanes.size > 0) return;
    if (lanesIdle && order?.waiting) return;
    collector.flush();
  }

  /**
   * Stops taking and retrying records; once requests in flight have answered (at once with `abort`: the
   * deadline passed), the pipeline ends with a `KinesisSinkError` holding every item not delivered.
   */
  fail(code: KinesisSinkErrorCode, message: string, cause: unknown, abort = false): void {
    const { life, sender, spool, lanes, collector, admission } = this.s;
    if (abort) sender.cancel(); // their items stay live, so they are reported unsent
    if (!life.fail(code, message, cause)) return this.checkFinished();
    spool?.halt(new KinesisSinkError(code, message, [], { cause }));
    lanes.drain();
    collector.drain();
    this.shutdown();
    admission.rejectWaiters(new KinesisSinkError(code, message, [], { cause }), true); // flushes: at the end
    this.checkFinished();
  }

  /**
   * After anything that may have made the last record final (an idle sender, a settle, the spool): ending
   * with nothing live → done; failing with nothing in flight → done with the error and what is unsent.
   */
  checkFinished(): void {
    const { life, spool, admission, sender, outcomes } = this.s;
    const { state } = life;
    spool?.changed();
    if (state === 'ending' && admission.live.size === 0 && (spool?.drained ?? true)) {
      this.shutdown();
      life.complete();
    } else if (state === 'failing' && !sender.busy) {
      const unsent = (code: KinesisSinkErrorCode) => [...admission.unsent(code), ...(spool?.unsent() ?? [])];
      const error = life.failed(unsent);
      admission.rejectWaiters(error);
      outcomes.rejectAll(error);
      this.s.onFailed();
    }
  }

  private shutdown(): void {
    const { lanes, collector, retrier, order, router, lease, admission } = this.s;
    lanes.close();
    collector.close();
    retrier.stopRetrying();
    order?.drain();
    router.cancel(); // a map load under way is not needed any more
    void lease.release();
    admission.detachMetrics();
  }
}
