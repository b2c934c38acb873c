/**
 * Test support: virtual time. One rxjs scheduler whose clock moves only when the spec says so, and the one
 * patch of the global timers that Bottleneck needs to run under it.
 *
 * Why patch at all: Bottleneck yields with `setTimeout(fn, 0)` between its steps (and every
 * `incrementReservoir` schedules one — measured, see BRIEF), so "the event loop is quiet" can only be known by
 * counting the real timers pending. While a scheduler is installed the global `setTimeout`/`clearTimeout` are
 * wrapped to count them; nothing else is touched.
 *
 * The API makes the patch's lifetime explicit and impossible to leak:
 * - `withVirtualTime(fn)` installs a fresh scheduler, runs `fn`, uninstalls it whatever happens. Use it.
 * - Only one scheduler may be installed at a time (`install()` throws otherwise), and a mocha root hook
 *   (`mochaHooks` below, loaded by `.mocharc.json`'s `require`) uninstalls any scheduler a spec left installed
 *   — a spec that hit mocha's timeout never reaches its `finally` — and names the spec, so one failure cannot
 *   turn into a cascade of the specs that follow (it did once: 9 specs failed behind one left installed).
 */
import { Subscription, type SchedulerAction, type SchedulerLike } from 'rxjs';

/** The timers as Node made them, captured before any scheduler can patch them. */
export const realTimers = {
  setTimeout: globalThis.setTimeout,
  clearTimeout: globalThis.clearTimeout,
  setImmediate: globalThis.setImmediate,
} as const;

let installed: VirtualScheduler | undefined;

/** The scheduler whose timer patch is in place, if any. */
export function installedScheduler(): VirtualScheduler | undefined {
  return installed;
}

/** True when the global timers are Node's own (no patch in place). */
export function timersAreReal(): boolean {
  return (
    globalThis.setTimeout === realTimers.setTimeout && globalThis.clearTimeout === realTimers.clearTimeout
  );
}

/**
 * An rxjs scheduler whose clock only moves when the test says so. `runUntil()` alternates: let real work
 * finish (promise chains, and the `setTimeout(0)` yields Bottleneck takes between its steps), then jump the
 * clock to the earliest scheduled action and run it.
 *
 * Actions scheduled on it need no patch. `settle()`, `advance()` and `runUntil()` do — they wait for real
 * timers — so they require `install()` (use `withVirtualTime`).
 */
export class VirtualScheduler implements SchedulerLike {
  private time: number;
  private seq = 0;
  private readonly queue: VirtualAction<unknown>[] = [];
  private readonly pendingReal = new Set<unknown>();
  /** Actions run so far. */
  steps = 0;

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  schedule<S>(work: (this: SchedulerAction<S>, state?: S) => void, delay?: number, state?: S): Subscription {
    return new VirtualAction<S>(this, work).schedule(state, delay);
  }

  /** Actions waiting (scheduled and not cancelled). */
  get pending(): number {
    return this.queue.length;
  }

  /** Whether this scheduler's timer patch is in place. */
  get isInstalled(): boolean {
    return installed === this;
  }

  /** @internal */
  enqueue(action: VirtualAction<unknown>, delay: number): void {
    this.dequeue(action);
    action.at = this.time + (Number.isFinite(delay) && delay > 0 ? delay : 0);
    action.seq = this.seq++;
    this.queue.push(action);
  }

  /** @internal */
  dequeue(action: VirtualAction<unknown>): void {
    const i = this.queue.indexOf(action);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Lets real work (microtasks, short real timers) run until the event loop is quiet. */
  async settle(): Promise<void> {
    if (!this.isInstalled) throw new Error('VirtualScheduler: install() first (or use withVirtualTime)');
    let quiet = 0;
    while (quiet < 5) {
      await new Promise<void>((r) => realTimers.setImmediate(r));
      quiet = this.pendingReal.size === 0 ? quiet + 1 : 0;
    }
  }

  /**
   * Runs actions in time order, settling real work before each, until `done()` holds.
   * @throws when `done()` does not hold and nothing is scheduled before `maxTime` (a hang), or after
   * `maxSteps` actions or `realTimeoutMs` of real time (a livelock) — before mocha's own timeout, so that
   * `withVirtualTime` still restores the timers.
   */
  async runUntil(
    done: () => boolean,
    { maxTime = 24 * 3600_000, maxSteps = 1_000_000, realTimeoutMs = 45_000 } = {},
  ): Promise<void> {
    const deadline = performance.now() + realTimeoutMs;
    for (let steps = 0; ; steps++) {
      await this.settle();
      if (done()) return;
      if (steps >= maxSteps || performance.now() > deadline) {
        throw new Error(`VirtualScheduler: still not done at t=${this.time} after ${steps} actions`);
      }
      if (!this.runNext(maxTime)) {
        throw new Error(`VirtualScheduler: stuck at t=${this.time}, ${this.queue.length} actions pending`);
      }
    }
  }

  /** Advances the clock by `ms`, running every action due meanwhile. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    do await this.settle();
    while (this.runNext(until));
    this.time = until;
    await this.settle();
  }

  /**
   * Wraps the global `setTimeout`/`clearTimeout` to count pending real timers. Zero-delay timers (Bottleneck
   * yields with `setTimeout(fn, 0)` between its steps, and Node makes that at least 1 ms) run as
   * `setImmediate` instead, so a settle takes microseconds rather than milliseconds per step.
   * @throws when another scheduler is installed: two patches would restore each other's timers.
   */
  install(): void {
    if (installed === this) return;
    if (installed !== undefined) {
      throw new Error('VirtualScheduler: another scheduler is installed; uninstall it first');
    }
    installed = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the one installed scheduler is module state
    const timers = this.pendingReal;
    const immediates = new Set<unknown>();
    globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
      if (!((ms ?? 0) >= 1)) {
        const immediate = realTimers.setImmediate(() => {
          timers.delete(immediate);
          immediates.delete(immediate);
          fn(...args);
        });
        timers.add(immediate);
        immediates.add(immediate);
        return immediate;
      }
      const handle = realTimers.setTimeout(() => {
        timers.delete(handle);
        fn(...args);
      }, ms);
      // Only short timers are waited for; a long one would stall every settle.
      if ((ms ?? 0) < 1000) timers.add(handle);
      return handle;
    }) as unknown as typeof setTimeout;
    globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
      timers.delete(handle);
      if (immediates.delete(handle)) clearImmediate(handle as unknown as NodeJS.Immediate);
      else realTimers.clearTimeout(handle);
    }) as typeof clearTimeout;
  }

  /** Restores Node's timers (if this scheduler installed the patch). Idempotent. */
  uninstall(): void {
    if (installed !== this) return;
    installed = undefined;
    globalThis.setTimeout = realTimers.setTimeout;
    globalThis.clearTimeout = realTimers.clearTimeout;
    this.pendingReal.clear();
  }

  private runNext(limit: number): boolean {
    if (this.queue.length === 0) return false;
    let next = 0;
    for (let i = 1; i < this.queue.length; i++) {
      const a = this.queue[i];
      const b = this.queue[next];
      if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) next = i;
    }
    const action = this.queue[next];
    if (action.at > limit) return false;
    this.queue.splice(next, 1);
    this.time = Math.max(this.time, action.at);
    this.steps++;
    action.run();
    return true;
  }
}

/** Runs `fn` with a fresh, installed VirtualScheduler; uninstalls it afterwards whatever happens. */
export async function withVirtualTime<R>(fn: (scheduler: VirtualScheduler) => Promise<R>): Promise<R> {
  const scheduler = new VirtualScheduler();
  scheduler.install();
  try {
    return await fn(scheduler);
  } finally {
    scheduler.uninstall();
  }
}

/**
 * Uninstalls a scheduler left installed (by a spec that timed out before its `finally`). Returns whether one
 * was: the root hook below reports it.
 */
export function uninstallLeftover(): boolean {
  const left = installed;
  left?.uninstall();
  return left !== undefined;
}

/**
 * Mocha root hooks (a root hook plugin: `.mocharc.json` requires this file). After every spec: restore the
 * timers if a scheduler was left installed, and say which spec left it.
 */
export const mochaHooks = {
  afterEach(this: Mocha.Context): void {
    if (uninstallLeftover()) {
      console.error(
        `virtual-time: "${this.currentTest?.fullTitle()}" left a VirtualScheduler installed; timers restored`,
      );
    }
  },
};

class VirtualAction<S> extends Subscription implements SchedulerAction<S> {
  at = 0;
  seq = 0;
  private state: S | undefined;
  private rescheduled = false;

  constructor(
    private readonly scheduler: VirtualScheduler,
    private readonly work: (this: SchedulerAction<S>, state?: S) => void,
  ) {
    super(() => scheduler.dequeue(this as VirtualAction<unknown>));
  }

  schedule(state?: S, delay = 0): Subscription {
    if (this.closed) return this;
    this.state = state;
    this.rescheduled = true;
    this.scheduler.enqueue(this as VirtualAction<unknown>, delay);
    return this;
  }

  run(): void {
    if (this.closed) return;
    this.rescheduled = false;
    this.work.call(this, this.state);
    if (!this.rescheduled) this.unsubscribe();
  }
}
