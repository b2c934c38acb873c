/**
 * The `limiter` option for the shared buckets (per-shard buckets in Redis, shared by every process writing
 * to the stream): its public types, defaults and validation.
 */

/** Default `heartbeatInterval`: the shared refill is noticed (and waiting admissions woken) this often. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 50;
/** The largest `heartbeatInterval` accepted: Bottleneck's 5 s default stalls the refills. */
export const MAX_HEARTBEAT_INTERVAL_MS = 100;
/** Default `timeout`: the shared buckets' keys expire this long after the last write of any process. */
export const DEFAULT_KEY_TTL_MS = 60_000;

/**
 * The least of an ioredis client that rx-kinesis uses: `duplicate()`, to open connections of its own with
 * the same settings (host, password, TLS, Sentinel) while yours stays untouched.
 *
 * @example
 * ```ts
 * const redis: IORedisClientLike = new Redis({ host: 'redis.internal' });
 * toKinesis({ client, streamName: 's', limiter: { datastore: 'ioredis', client: redis } });
 * ```
 */
export interface IORedisClientLike {
  duplicate(override?: Record<string, unknown>): unknown;
}

/**
 * Where the per-shard buckets live. `'local'` (the default): in each process, which assumes it writes alone.
 * `'ioredis'`: shared, in Redis (Bottleneck calls this clustering), so every process writing to the stream with the
 * same `id` shares each shard's quota. Option names are Bottleneck's own.
 *
 * @example
 * ```ts
 * source$.pipe(
 *   toKinesis({
 *     client,
 *     streamName: 'sensors',
 *     limiter: { datastore: 'ioredis', clientOptions: { host: 'redis.internal', port: 6379 } },
 *   }),
 * );
 * ```
 */
export type LimiterOptions = { datastore: 'local' } | SharedLimiterOptions;

/**
 * Shared shard buckets, in Redis: `{ datastore: 'ioredis', clientOptions }` or
 * `{ datastore: 'ioredis', client }`.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * const redis = new Redis(process.env.REDIS_URL!);
 * const limiter: SharedLimiterOptions = { datastore: 'ioredis', client: redis, id: 'sensors-eu' };
 * ```
 */
export interface SharedLimiterOptions {
  datastore: 'ioredis';
  /** ioredis options (`host`, `port`, `password`, `tls`, …) for the two connections rx-kinesis opens. */
  clientOptions?: { host?: string; port?: number; [option: string]: unknown };
  /**
   * An existing ioredis client: rx-kinesis opens its two connections with its settings (`duplicate()`) and
   * never uses, changes or closes the client itself.
   */
  client?: IORedisClientLike;
  /**
   * Names the shared buckets: processes with the same `id` share each shard's quota. Default: the stream's
   * ARN when given, else its name (so give every process the same one, or set `id`).
   */
  id?: string;
  /**
   * How often each process runs the shared buckets' refill in Redis and so wakes admissions waiting for it,
   * in ms, at most 100. Default 50.
   */
  heartbeatInterval?: number;
  /** TTL of the Redis keys, in ms: processes that stopped leave nothing behind after this long. Default 60,000. */
  timeout?: number;
  /**
   * Receives the one warning of a run: Redis was lost (or never reached) and the pipeline carries on with
   * local buckets. Default: `process.emitWarning`. The message names the error's code, never a credential.
   */
  onWarning?: (warning: Error) => void;
  /** The ioredis module, for bundles where `import('ioredis')` cannot find it (Bottleneck's option). */
  Redis?: unknown;
}

/**
 * Checks `limiter` and fills in its defaults; throws with the option's name on a setting that cannot work.
 *
 * @example
 * ```ts
 * resolveLimiterOptions({ datastore: 'ioredis', clientOptions: { port: 6379 } }, 'sensors')!.id; // 'sensors'
 * ```
 */
export function resolveLimiterOptions(
  limiter: LimiterOptions | undefined,
  streamId: string,
): ResolvedSharedLimiter | undefined {
  if (limiter === undefined || limiter.datastore === 'local') return undefined;
  const datastore = (limiter as { datastore?: unknown }).datastore;
  if (datastore === 'redis') {
    throw new TypeError(
      "limiter.datastore 'redis' is not supported: use 'ioredis' (Bottleneck hangs on redis v4+)",
    );
  }
  if (datastore !== 'ioredis') {
    throw new TypeError(`limiter.datastore must be 'local' or 'ioredis', got ${String(datastore)}`);
  }
  if (limiter.client !== undefined && typeof limiter.client?.duplicate !== 'function') {
    throw new TypeError('limiter.client must be an ioredis client');
  }
  if ((limiter.client as { isCluster?: boolean } | undefined)?.isCluster) {
    throw new TypeError(
      "limiter.client: Redis Cluster is not supported (Bottleneck's scripts span several keys)",
    );
  }
  const heartbeatInterval = limiter.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  if (!(heartbeatInterval > 0 && heartbeatInterval <= MAX_HEARTBEAT_INTERVAL_MS)) {
    throw new RangeError(
      `limiter.heartbeatInterval must be in (0, ${MAX_HEARTBEAT_INTERVAL_MS}] ms (longer stalls the shared refills), got ${heartbeatInterval}`,
    );
  }
  const timeout = limiter.timeout ?? DEFAULT_KEY_TTL_MS;
  if (!(timeout >= 1000 && Number.isFinite(timeout))) {
    throw new RangeError(`limiter.timeout must be a finite number of ms ≥ 1000, got ${timeout}`);
  }
  const id = limiter.id ?? streamId;
  if (typeof id !== 'string' || id.length === 0) throw new TypeError('limiter.id must be a non-empty string');
  return { ...limiter, id, heartbeatInterval, timeout };
}

/** {@link SharedLimiterOptions} with defaults filled in. */
export type ResolvedSharedLimiter = SharedLimiterOptions & {
  id: string;
  heartbeatInterval: number;
  timeout: number;
};
