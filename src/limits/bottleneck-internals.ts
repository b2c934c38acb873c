/**
 * Every use of Bottleneck's private fields, in one place. Bottleneck (2.19) gives no public way to stop a
 * Group's idle-cleanup interval, to listen on its Redis connections, or to clear the timers a Redis-backed
 * (shared) limiter arms; without these a closed pipeline leaves timers that hold Node for up to 5 s (measured in
 * spec/lifecycle.spec.ts and spec/cluster.spec.ts). Should Bottleneck rename a field, only this file changes,
 * and each helper degrades to doing nothing.
 */
import type Bottleneck from 'bottleneck';

type Listener = (...args: unknown[]) => void;

/** Stops a Group's idle-cleanup interval (it has no public stop). */
export function stopGroupCleanup(group: Bottleneck.Group): void {
  clearInterval((group as unknown as { interval?: NodeJS.Timeout }).interval);
}

/** The two ioredis connections (commands, pub/sub) behind a Bottleneck connection, to watch them close. */
export function redisConnections(connection: Bottleneck.IORedisConnection): {
  on(event: string, listener: Listener): unknown;
}[] {
  const { client, subscriber } = connection as unknown as {
    client?: { on(event: string, listener: Listener): unknown };
    subscriber?: { on(event: string, listener: Listener): unknown };
  };
  return [client, subscriber].filter((c) => c !== undefined);
}

/** Resolves once the connection is up (Bottleneck keeps the promise but does not type it). */
export function connectionReady(connection: Bottleneck.IORedisConnection): Promise<unknown> {
  return (connection as unknown as { ready: Promise<unknown> }).ready;
}

/** A shared (Redis-backed) limiter's store (not in the typings): its heartbeat and its pending-capacity timers. */
function storeOf(limiter: Bottleneck) {
  return (
    limiter as unknown as {
      _store?: { heartbeat?: NodeJS.Timeout; capacityPriorityCounters?: Record<string, NodeJS.Timeout> };
    }
  )._store;
}

/**
 * Clears a shared limiter's heartbeat once it is registered: a limiter still registering sets it after
 * the connection's disconnect cleared the others.
 */
export function clearHeartbeatWhenReady(limiter: Bottleneck): void {
  const store = storeOf(limiter);
  limiter.ready().then(
    () => clearInterval(store?.heartbeat),
    () => {},
  );
}

/**
 * Clears the 1 s timers Bottleneck arms per capacity message handed to another process (to blacklist it if
 * it stays silent): with the subscriber gone no answer can come.
 */
export function clearCapacityTimers(limiter: Bottleneck): void {
  const counters = storeOf(limiter)?.capacityPriorityCounters ?? {};
  for (const key of Object.keys(counters)) {
    clearTimeout(counters[key]);
    delete counters[key];
  }
}
