/** Test support for the per-shard limiter specs: records-only limiters in virtual time, admitted as lanes do. */
import { ShardLimiters, type RateAdaptation } from '../../src/limits/shard-limiter.js';
import type { VirtualScheduler } from './virtual-time.js';

/** A records-only limiter (bytes unlimited); `adaptation` as ShardLimiters takes it (default: the default). */
export function recordsLimiter(
  scheduler: VirtualScheduler,
  perSecond: number,
  burstMs: number,
  adaptation?: RateAdaptation | false,
): ShardLimiters {
  return new ShardLimiters({
    recordsPerSecond: perSecond,
    bytesPerSecond: Infinity,
    burstMs,
    scheduler,
    ...(adaptation === undefined ? {} : { adaptation }),
  });
}

/**
 * Admits `weights` one after another on a shard, as a shard lane does, and resolves with the virtual time
 * of each admission.
 */
export async function admitInTurn(
  scheduler: VirtualScheduler,
  limiters: ShardLimiters,
  shardId: string,
  weights: readonly number[],
): Promise<number[]> {
  const times: number[] = [];
  void (async () => {
    for (const w of weights) {
      await limiters.admit(shardId, w, 1);
      times.push(scheduler.now());
    }
  })();
  await scheduler.runUntil(() => times.length === weights.length);
  return times;
}
