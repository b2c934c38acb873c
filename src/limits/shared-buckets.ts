/**
 * The shared buckets: per-shard token buckets kept in Redis and shared by every process writing to the
 * stream (the `limiter: { datastore: 'ioredis' }` option, `SharedLimiterOptions`). One word for them
 * throughout: shared.
 */
import Bottleneck from 'bottleneck';
import {
  DEFAULT_COMMAND_TIMEOUT_MS,
  DEFAULT_DISCONNECT_TIMEOUT_MS,
  importIORedis,
  reason,
  RedisClosedError,
  timeouts,
  within,
} from './redis-connection.js';
import type { ResolvedSharedLimiter } from './shared-options.js';
import {
  clearCapacityTimers,
  clearHeartbeatWhenReady,
  connectionReady,
  redisConnections,
  stopGroupCleanup,
} from './bottleneck-internals.js';

/** Redis-side refill granularity: the shared buckets gain 1/100 s of their rate at a time. */
const REFILL_STEPS_PER_SECOND = 100;
/** How long a clean close waits for Redis to acknowledge QUIT before dropping the sockets. */
const QUIT_TIMEOUT_MS = 1_000;

/** The settings of one shared bucket dimension (records or bytes). */
export interface SharedDimensionSettings {
  perSecond: number;
  /** Bucket capacity: the most a quiet shard bursts, and the largest single admission. */
  capacity: number;
}

/**
 * Redis-side refill settings that give exactly `perSecond`: integer steps at a (fractional) interval.
 *
 * @example
 * ```ts
 * refillSettings(1000, 100); // 10 every 10 ms, up to 100: { reservoirIncreaseAmount: 10, reservoirIncreaseInterval: 10, … }
 * ```
 */
export function refillSettings(perSecond: number, capacity: number) {
  // Integer amounts keep Bottleneck's HINCRBY on the reservoir valid; the interval absorbs the rounding, so
  // the long-run rate is exact (1 MiB/s: 10,486 bytes every 10.00038 ms).
  const amount = Math.max(1, Math.round(perSecond / REFILL_STEPS_PER_SECOND));
  return {
    reservoir: capacity,
    reservoirIncreaseAmount: amount,
    reservoirIncreaseInterval: (amount * 1000) / perSecond,
    reservoirIncreaseMaximum: capacity,
  };
}

class SharedDimension {
  readonly group: Bottleneck.Group;
  readonly capacity: number;
  constructor(
    connection: Bottleneck.IORedisConnection,
    id: string,
    settings: SharedDimensionSettings,
    options: ResolvedSharedLimiter,
    onError: (error: unknown) => void,
  ) {
    this.capacity = settings.capacity;
    this.group = new Bottleneck.Group({
      id,
      datastore: 'ioredis',
      connection,
      timeout: options.timeout,
      maxConcurrent: null,
      minTime: 0,
      ...refillSettings(settings.perSecond, settings.capacity),
      // Not in Bottleneck's typings; its 5 s default would leave the refill unnoticed for seconds.
      ...({ heartbeatInterval: options.heartbeatInterval } as object),
    });
    this.group.on('created', (limiter) => limiter.on('error', onError));
  }
}

/**
 * The shared per-shard buckets, in Redis (Bottleneck calls this clustering): one `Bottleneck.Group` per dimension,
 * `rx-kinesis:<id>:records` and `rx-kinesis:<id>:bytes`, keyed by ShardId, on one connection pair. Redis
 * refills them (drift-free: `process_tick.lua` advances `lastReservoirIncrease` by whole intervals), so
 * any number of processes share each shard's rate.
 *
 * Every method that touches Redis answers `false` once Redis is lost: the caller then uses its local
 * buckets. Loss is final for the instance (one warning), so a flapping Redis cannot make a run oscillate.
 *
 * @example
 * ```ts
 * const shared = new SharedBuckets(resolveLimiterOptions(options.limiter, 'sensors')!, records, bytes);
 * if (!(await shared.admit('shardId-000000000000', 50, 5_000))) await localAdmit();
 * await shared.close();
 * ```
 */
export class SharedBuckets {
  private state: 'connecting' | 'ready' | 'lost' | 'closed' = 'connecting';
  private connection: Bottleneck.IORedisConnection | undefined;
  private dims: { records?: SharedDimension; bytes?: SharedDimension } | undefined;
  private readonly ready: Promise<void>;
  private readonly lost: Promise<false>;
  private markLost!: () => void;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly options: ResolvedSharedLimiter,
    private readonly records: SharedDimensionSettings,
    private readonly bytes: SharedDimensionSettings,
  ) {
    this.lost = new Promise<false>((resolve) => (this.markLost = () => resolve(false)));
    this.ready = this.connect().catch((error) => this.lose(error));
  }

  /** True until Redis is lost or the buckets are closed. */
  get healthy(): boolean {
    return this.state === 'connecting' || this.state === 'ready';
  }

  /** Read through a getter: the state changes across awaits, which TypeScript's narrowing does not see. */
  private get closed(): boolean {
    return this.state === 'closed';
  }

  /** The largest chunk one admission should ask for. */
  get maxChunk(): { records: number; bytes: number } {
    // Half a bucket: a waiter is woken by the next heartbeat or capacity message, not at the exact refill
    // instant; had it to wait for a full bucket, whatever accrued meanwhile would spill over the cap (one
    // process measured 0.96 of the rate with whole-bucket chunks, 1.00 with half-bucket ones).
    const half = (n: number) => Math.max(1, Math.floor(n / 2));
    return { records: half(this.records.capacity), bytes: half(this.bytes.capacity) };
  }

  /**
   * Resolves `true` once the shard's shared buckets gave `records` and `bytes`, `false` if Redis was lost
   * first (nothing more to wait for here: admit locally). Rejects only once closed.
   */
  async admit(shardId: string, records: number, bytes: number): Promise<boolean> {
    // Until ioredis is loaded there are no groups yet; a loss meanwhile ends the wait.
    await Promise.race([this.ready, this.lost]);
    if (this.state === 'closed') throw new Error('shared buckets closed');
    const dims = this.dims;
    if (this.state === 'lost' || !dims) return false;
    // The local order (see ShardLimiters.admit): wait for the bytes, take the records, then the bytes.
    return (
      (await this.take(dims.bytes, shardId, bytes, false)) &&
      (await this.take(dims.records, shardId, records, true)) &&
      (await this.take(dims.bytes, shardId, bytes, true))
    );
  }

  /**
   * Adds `records` and `bytes` (negative: charges them) to the shard's shared buckets, for every process.
   * `false` when Redis is lost: apply it locally.
   */
  adjust(shardId: string, records: number, bytes: number): boolean {
    if (this.state === 'lost') return false;
    // Closed, or still loading ioredis (so nothing was admitted yet): there is nothing to adjust.
    if (this.state === 'closed' || !this.dims) return true;
    for (const [dim, change] of [
      [this.dims.records, records],
      [this.dims.bytes, bytes],
    ] as const) {
      if (dim && change !== 0)
        dim.group
          .key(shardId)
          .incrementReservoir(change)
          .catch((e) => this.lose(e));
    }
    return true;
  }

  /**
   * Forgets a closed shard: its limiters stop and its keys go, as Bottleneck's own idle cleanup does (a
   * closed shard takes no more writes from any process; one that still tries finds a fresh bucket).
   */
  async remove(shardId: string): Promise<void> {
    if (this.state !== 'ready' || !this.dims) return;
    await Promise.all(
      [this.dims.records, this.dims.bytes].map((dim) => dim?.group.deleteKey(shardId).catch(() => false)),
    );
  }

  /** Shards with a shared limiter in this process. */
  keys(): string[] {
    return this.dims?.records?.group.keys() ?? this.dims?.bytes?.group.keys() ?? [];
  }

  /**
   * Stops every limiter (waiting admissions reject) and closes both Redis connections, so nothing keeps Node
   * alive. Never touches a client passed as `limiter.client`.
   */
  close(): Promise<void> {
    if (!this.closing) {
      const wasReady = this.state === 'ready';
      if (this.state !== 'lost') this.state = 'closed';
      this.closing = this.teardown(wasReady);
    }
    return this.closing;
  }

  private async connect(): Promise<void> {
    const { options } = this;
    let client: unknown;
    let Redis = options.Redis;
    if (options.client) {
      // Our own connections with the caller's settings: theirs is never touched, quit or listened to.
      client = options.client.duplicate({ lazyConnect: false, ...timeouts(options.client) });
      Redis ??= (client as { constructor: unknown }).constructor;
    } else {
      Redis ??= await importIORedis();
      if (!this.healthy) return;
      const RedisClass = Redis as new (options: object) => unknown;
      client = new RedisClass({
        commandTimeout: DEFAULT_COMMAND_TIMEOUT_MS,
        disconnectTimeout: DEFAULT_DISCONNECT_TIMEOUT_MS,
        ...options.clientOptions,
        lazyConnect: false,
      });
    }
    const connection = new Bottleneck.IORedisConnection({ client, Redis });
    this.connection = connection;
    const lose = (error: unknown) => this.lose(error);
    connection.on('error', lose);
    // A connection that closes (the server went away) is lost even before ioredis reports an error.
    for (const c of redisConnections(connection)) c.on('close', () => lose(new RedisClosedError()));
    const base = `rx-kinesis:${options.id}`;
    const dimension = (name: string, settings: SharedDimensionSettings) =>
      settings.perSecond === Infinity
        ? undefined
        : new SharedDimension(connection, `${base}:${name}`, settings, options, lose);
    this.dims = { records: dimension('records', this.records), bytes: dimension('bytes', this.bytes) };
    connectionReady(connection).then(() => {
      if (this.state === 'connecting') this.state = 'ready';
    }, lose);
  }

  /**
   * Takes (or, with `consume` false, waits for) `weight` tokens of one dimension; `false` if Redis was lost
   * meanwhile. A weight above the capacity is admitted from a full bucket and the rest is owed (the
   * reservoir goes negative), as locally.
   */
  private async take(
    dim: SharedDimension | undefined,
    shardId: string,
    weight: number,
    consume: boolean,
  ): Promise<boolean> {
    if (this.state === 'closed') throw new Error('shared buckets closed');
    if (this.state === 'lost') return false;
    if (!dim) return true; // this dimension is unlimited
    const limiter = dim.group.key(shardId);
    const admitted = Math.min(weight, dim.capacity);
    const job = limiter.schedule({ weight: admitted }, async () => {
      // Only waited for them: hand the reservoir back. Or owe what a big record took beyond the capacity.
      if (!consume) await limiter.incrementReservoir(admitted);
      else if (weight > admitted) await limiter.incrementReservoir(admitted - weight);
    });
    try {
      return await Promise.race([job.then(() => true), this.lost]);
    } catch (error) {
      if (this.closed) throw error; // ShardLanes reports the chunk (drain)
      this.lose(error); // Redis refused the job (connection gone, script error): admit locally
      return false;
    } finally {
      job.catch(() => {}); // settled by the teardown after a loss: nothing to report twice
    }
  }

  private lose(error: unknown): void {
    if (!this.healthy) return;
    this.state = 'lost';
    this.markLost();
    const warning = new Error(
      `rx-kinesis: lost Redis for the shared shard limiter (${reason(error)}); this pipeline uses local ` +
        'per-process buckets from now on, so the fleet may exceed the shard quotas (throttled writes are retried)',
    );
    warning.name = 'RxKinesisLimiterWarning';
    (warning as Error & { code: string }).code = 'RX_KINESIS_REDIS_LOST';
    try {
      if (this.options.onWarning) this.options.onWarning(warning);
      else process.emitWarning(warning);
    } catch {
      // A throwing warning hook must not take the pipeline down.
    }
    void this.close();
  }

  private async teardown(clean: boolean): Promise<void> {
    // Never waits for the connection to come up: an unreachable Redis must not keep the close (or Node) open.
    const limiters = [this.dims?.records, this.dims?.bytes].flatMap((d) => {
      if (!d) return [];
      stopGroupCleanup(d.group); // a closed pipeline must leave no timer

      return d.group.limiters().map((l) => l.limiter);
    });
    for (const limiter of limiters) clearHeartbeatWhenReady(limiter);
    const stopped = Promise.all(limiters.map((l) => l.stop({ dropWaitingJobs: true }).catch(() => {})));
    const connection = this.connection;
    if (connection && clean) {
      // Let the jobs' last Redis calls finish, then QUIT; a Redis that died meanwhile gets dropped.
      await within(stopped, QUIT_TIMEOUT_MS);
      await within(connection.disconnect(true), QUIT_TIMEOUT_MS);
      await connection.disconnect(false).catch(() => {});
    } else if (connection) {
      // Lost: drop the sockets at once, which fails the commands still pending (the stops then finish).
      await connection.disconnect(false).catch(() => {});
    }
    await stopped;
    // With the subscriber gone, capacity messages get no answer: their timers would hold Node for 1 s.
    for (const limiter of limiters) clearCapacityTimers(limiter);
  }
}
