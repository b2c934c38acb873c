/**
 * Test support: running the emulator and the operator on one virtual clock. The emulator measures its
 * quotas on `startEmulator({ clock })`, the operator schedules on the same VirtualScheduler, and the clock
 * moves in small steps, each only once every request in flight has been answered over its real socket — a
 * socket is not a timer, so `VirtualScheduler.settle()` alone cannot see it. Quota specs then measure virtual
 * seconds: the same on a loaded machine as on an idle one.
 */
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Observable } from 'rxjs';
import type { VirtualScheduler } from './virtual-time.js';

/** Counts the client's requests in flight (every command, across the SDK's own retries). */
export function countInFlight(client: KinesisClient): () => number {
  let open = 0;
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  (client as { send: unknown }).send = (...args: unknown[]) => {
    open++;
    return send(...args).finally(() => open--);
  };
  return () => open;
}

/**
 * Advances `scheduler` by `ms` in steps of `stepMs`; before each step, waits (in real time) until no request
 * counted by `inFlight` is open and real work has settled.
 */
export async function advanceWithRequests(
  scheduler: VirtualScheduler,
  inFlight: () => number,
  ms: number,
  stepMs = 5,
): Promise<void> {
  for (let elapsed = 0; elapsed < ms; elapsed += stepMs) {
    await scheduler.settle();
    while (inFlight() > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      await scheduler.settle();
    }
    await scheduler.advance(Math.min(stepMs, ms - elapsed));
  }
}

/**
 * Subscribes to `observable` and moves the virtual clock (100 ms at a time, requests answered first) until
 * it ends; resolves with its emissions, rejects with its error.
 * @throws when it has not ended after `maxMs` of virtual time.
 */
export async function runOnClock<E>(
  scheduler: VirtualScheduler,
  inFlight: () => number,
  observable: Observable<E>,
  maxMs = 600_000,
): Promise<E[]> {
  const emissions: E[] = [];
  let ended: { error: unknown } | 'complete' | undefined;
  const subscription = observable.subscribe({
    next: (e) => emissions.push(e),
    error: (error) => (ended = { error }),
    complete: () => (ended = 'complete'),
  });
  try {
    while (ended === undefined) {
      if (scheduler.now() >= maxMs)
        throw new Error(`runOnClock: not ended after ${maxMs} ms of virtual time`);
      await advanceWithRequests(scheduler, inFlight, 100);
    }
  } finally {
    subscription.unsubscribe();
  }
  if (ended !== 'complete') throw (ended as { error: unknown }).error;
  return emissions;
}
