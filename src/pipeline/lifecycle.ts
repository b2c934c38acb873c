import type { SchedulerLike, Subscription } from 'rxjs';
import { KinesisSinkError, type KinesisSinkErrorCode } from '../errors.js';

/** open → ending → done, or → failing → done; closed (destroyed) from anywhere. */
export type LifecycleState = 'open' | 'ending' | 'failing' | 'done' | 'closed';

/**
 * The producer's lifecycle and its shutdown decisions: its state and failure, the promise `close()`
 * returns, when the drain's time is up, and what becomes of the items left when the pipeline stops.
 * (A `flush()` waits in the Admission, which sees each record become final.)
 *
 * - The deadline is one timer on the pipeline's scheduler; a second deadline only ever brings it closer.
 *   When it fires the producer aborts what is in flight and ends with `DRAIN_TIMEOUT`.
 * - `keep(code)` is the one decision about the items left when the pipeline stops: by default none is
 *   kept, so they are reported in the `KinesisSinkError`'s `unsent`. A producer writing through a durable
 *   spool passes a `keep` returning true: its undelivered items stay in the spool and the producer
 *   completes.
 *
 * @example
 * ```ts
 * const life = new Lifecycle<Item>(scheduler, (code, message) => console.warn(code, message));
 * life.deadline(10_000); // at most 10 s from now
 * await life.finished;
 * ```
 */
export class Lifecycle<T> {
  /** Settles once: resolved when the producer ended with every item final (or kept), else rejected. */
  readonly finished: Promise<void>;
  private settleFinished!: { resolve: () => void; reject: (e: unknown) => void };
  private current: LifecycleState = 'open';
  private failure: { code: KinesisSinkErrorCode; message: string; cause: unknown } | undefined;
  /** What the pipeline failed with: later put()/send()/offer() calls fail with it too. */
  private error: KinesisSinkError<T> | undefined;
  private timer: Subscription | undefined;
  private due = Infinity;

  constructor(
    private readonly scheduler: SchedulerLike,
    /** The deadline passed. */
    private readonly onExpired: (code: 'DRAIN_TIMEOUT', message: string) => void,
    /** Whether the items left when the pipeline stops with `code` are kept elsewhere (a spool). */
    private readonly keep: (code: KinesisSinkErrorCode) => boolean = () => false,
  ) {
    this.finished = new Promise((resolve, reject) => (this.settleFinished = { resolve, reject }));
    this.finished.catch(() => {}); // the caller observes it through close()
  }

  get state(): LifecycleState {
    return this.current;
  }

  /** Still sending: a flush may wait, a deadline may be set. */
  get running(): boolean {
    return this.current === 'open' || this.current === 'ending' || this.current === 'failing';
  }

  /**
   * @throws unless items are taken now: while open or failing (reported in `unsent`), and while ending for
   * a `put()` that `waited` for room (it was called before `close()`: part of the drain).
   */
  checkTaking(waited: boolean, api: string): void {
    const s = this.current;
    if (s === 'open' || s === 'failing' || (waited && s === 'ending')) return;
    if (this.error) throw this.error; // the user never ended it: say why it ended
    const why = s === 'closed' ? 'destroy()' : 'close()';
    throw new Error(`KinesisProducer.${api}: cannot ${api} once ${why} was called`);
  }

  /**
   * Runs `admit` as `api` (put, send) allows: at once when there is room (so `put(x); close()` sends x),
   * after `room()` while it answers `'full'`. While failing the item is not taken: this waits for the end
   * and rejects with the pipeline's error (the caller still holds the item).
   */
  async whenTaking<R>(api: string, admit: () => R | 'full', room: () => Promise<void>): Promise<R> {
    for (let waited = false; ; waited = true) {
      if (this.current === 'failing') await this.finished;
      this.checkTaking(waited, api); // a put waiting when close() came is taken
      const taken = admit();
      if (taken !== 'full') return taken;
      // Woken with an error by a failure or destroy(): the next turn says which; otherwise it is the answer.
      await room().catch((error: unknown) => {
        if (this.current === 'open') throw error;
      });
    }
  }

  /** open → ending; false if not open. */
  end(): boolean {
    if (this.current !== 'open') return false;
    this.current = 'ending';
    return true;
  }

  /** → failing, remembering why; false if already failing, done or closed. */
  fail(code: KinesisSinkErrorCode, message: string, cause: unknown): boolean {
    if (!(this.current === 'open' || this.current === 'ending')) return false;
    this.current = 'failing';
    this.failure = { code, message, cause };
    return true;
  }

  /** → closed (destroyed); false if already closed. */
  destroy(): boolean {
    if (this.current === 'closed') return false;
    this.current = 'closed';
    this.clearDeadline();
    return true;
  }

  /** ending → done: every item is final, the producer completes. */
  complete(): void {
    this.current = 'done';
    this.clearDeadline();
    this.settleFinished.resolve();
  }

  /**
   * failing → done with `unsent` not delivered: the producer fails with a `KinesisSinkError` carrying them,
   * or completes when they are kept. Returns that error (for waiting flushes).
   */
  failed(unsent: (code: KinesisSinkErrorCode) => T[]): KinesisSinkError<T> {
    this.current = 'done';
    const { code, message, cause } = this.failure!;
    const items = unsent(code);
    const error = new KinesisSinkError<T>(code, `${message} (${items.length} items unsent)`, items, {
      cause,
    });
    this.clearDeadline();
    this.error = error;
    if (this.keep(code)) this.settleFinished.resolve();
    else this.settleFinished.reject(error);
    return error;
  }

  /** Bounds the drain: at most `ms` from now (never later than a deadline already set). */
  deadline(ms: number): void {
    const due = this.scheduler.now() + Math.max(0, ms);
    if (!this.running || !(due < this.due) || !Number.isFinite(due)) return;
    this.due = due;
    this.timer?.unsubscribe();
    this.timer = this.scheduler.schedule(() => {
      this.timer = undefined;
      this.onExpired('DRAIN_TIMEOUT', 'the drain deadline passed before every item was final');
    }, due - this.scheduler.now());
  }

  private clearDeadline(): void {
    this.timer?.unsubscribe();
    this.timer = undefined;
  }
}
