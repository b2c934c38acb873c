import type { SchedulerLike, Subscription } from 'rxjs';
import type { PendingRecord } from './pending.js';

/** How long and how often a failed record is retried. */
export interface RetryPolicy {
  maxAttempts: number;
  /** From the record's first send. */
  ttlMs: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * The retry clock: whether a failed record has attempts and time left, and sending it back after
 * exponential backoff with full jitter (delay drawn from [0, min(max, base·2^(attempt−1)))), so retries of many producers spread
 * out instead of storming a shard. Records that failed together on the same attempt share one timer.
 * What to retry is decided by the Retrier (retrier.ts); this only keeps the time.
 *
 * @example
 * ```ts
 * const backoff = new Backoff(policy, asyncScheduler, Math.random, (r) => router.route(r));
 * if (backoff.canRetry(record)) backoff.retry([record]);
 * ```
 */
export class Backoff<T> {
  private readonly waiting = new Map<Subscription, PendingRecord<T>[]>();

  constructor(
    private readonly policy: RetryPolicy,
    private readonly scheduler: SchedulerLike,
    private readonly random: () => number,
    private readonly resubmit: (record: PendingRecord<T>) => void,
  ) {}

  /** Records waiting for their backoff to end. */
  get size(): number {
    let n = 0;
    for (const batch of this.waiting.values()) n += batch.length;
    return n;
  }

  canRetry(record: PendingRecord<T>): boolean {
    if (record.attempts >= this.policy.maxAttempts) return false;
    return this.scheduler.now() - (record.firstSentAt ?? this.scheduler.now()) < this.policy.ttlMs;
  }

  /** The jittered delay before attempt `attempts + 1`. */
  delayFor(attempts: number): number {
    const ceiling = Math.min(
      this.policy.maxDelayMs,
      this.policy.baseDelayMs * 2 ** Math.max(0, attempts - 1),
    );
    return Math.floor(this.random() * ceiling);
  }

  /** Schedules records for another attempt; group them by attempt count so each group has one timer. */
  retry(records: readonly PendingRecord<T>[]): void {
    const byAttempts = new Map<number, PendingRecord<T>[]>();
    for (const r of records) {
      const group = byAttempts.get(r.attempts);
      if (group) group.push(r);
      else byAttempts.set(r.attempts, [r]);
    }
    for (const [attempts, group] of byAttempts) {
      // A synchronous scheduler runs the work before schedule() returns: only track timers still pending.
      let ran = false;
      let timer: Subscription | undefined = undefined;
      timer = this.scheduler.schedule(() => {
        ran = true;
        if (timer) this.waiting.delete(timer);
        for (const r of group) this.resubmit(r);
      }, this.delayFor(attempts));
      if (!ran) this.waiting.set(timer, group);
    }
  }

  /** Cancels every pending retry and returns its records (for a fatal error's report). */
  drain(): PendingRecord<T>[] {
    const all: PendingRecord<T>[] = [];
    for (const [timer, group] of this.waiting) {
      timer.unsubscribe();
      all.push(...group);
    }
    this.waiting.clear();
    return all;
  }
}

/** The retry settings as the pipeline's options name them. */
export interface RetryOptions {
  maxAttempts: number;
  recordTtlMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

/**
 * The policy from the options' names for it.
 *
 * @example
 * ```ts
 * const policy = retryPolicyOf(resolveOptions({ client, streamName: 'sensors' })); // 10 attempts, 60 s
 * ```
 */
export function retryPolicyOf(o: RetryOptions): RetryPolicy {
  return {
    maxAttempts: o.maxAttempts,
    ttlMs: o.recordTtlMs,
    baseDelayMs: o.retryBaseDelayMs,
    maxDelayMs: o.retryMaxDelayMs,
  };
}
