import Bottleneck from 'bottleneck';
import {
  clearCapacityTimers,
  clearHeartbeatWhenReady,
  connectionReady,
  redisConnections,
  stopGroupCleanup,
} from './bottleneck-internals.js';

/** Redis-side refill granularity: the shared buckets gain 1/100 s of their rate at a time. */
const REFILL_STEPS_PER_SECOND = 100;
/** Default `heartbeatInterval`: the shared refill is noticed (and waiting admissions woken) this often. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 50;
/** The largest `heartbeatInterval` accepted: Bottleneck's 5 s default stalls the refills. */
export const MAX_HEARTBEAT_INTERVAL_MS = 100;
/** Default `timeout`: a fleet's keys expire this long after its last write. */
export const DEFAULT_KEY_TTL_MS = 60_000;
/** ioredis `commandTimeout` unless the caller sets one: a hung Redis counts as lost after this long. */
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/**
 * ioredis `disconnectTimeout` unless the caller sets one. Its 2 s default is a ref'd timer that, when a
 * pipeline ends while the connection is still in its handshake, outlives the socket and holds Node for 2 s.
 */
const DEFAULT_DISCONNECT_TIMEOUT_MS = 200;
/** How long a clean close waits for Redis to acknowledge QUIT before dropping the sockets. */
const QUIT_TIMEOUT_MS = 1_000;

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
 * `'ioredis'`: in Redis through Bottleneck's clustering, so every process writing to the stream with the
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
 * Shared (fleet-wide) shard buckets in Redis: `{ datastore: 'ioredis', clientOptions }` or
 * `{ datastore: 'ioredis', client }`.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
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
  /** TTL of the Redis keys, in ms: a fleet that stopped leaves nothing behind after this long. Default 60,000. */
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
 * The per-shard buckets of a fleet, in Redis (Bottleneck clustering): one `Bottleneck.Group` per dimension,
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

/** The connection closed without our asking (server stopped, network gone). */
class RedisClosedError extends Error {
  override readonly name = 'RedisClosedError';
  readonly code = 'CONNECTION_CLOSED';
  constructor() {
    super('the Redis connection closed');
  }
}

/**
 * Why Redis was lost, for the warning: the error's name and code (ECONNREFUSED, …), or that a command timed
 * out. Never its message otherwise: ioredis messages may name hosts, and a caller's errors anything.
 */
function reason(error: unknown): string {
  const { name, code, message } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const parts = [typeof name === 'string' ? name : 'Error'];
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) parts.push(code);
  else if (typeof message === 'string' && /timed out/i.test(message)) parts.push('command timed out');
  return parts.join(' ');
}

/** Waits for `promise` (ignoring its outcome), `ms` at most, leaving no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/** The timeouts of our duplicates of a caller's client: theirs where set, else ours. */
function timeouts(client: IORedisClientLike): { commandTimeout: number; disconnectTimeout: number } {
  const own = (client as { options?: { commandTimeout?: number; disconnectTimeout?: number } }).options;
  return {
    commandTimeout: own?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS,
    // ioredis fills in its 2 s default, so a caller's own setting cannot be told from it: ours wins.
    disconnectTimeout: DEFAULT_DISCONNECT_TIMEOUT_MS,
  };
}

async function importIORedis(): Promise<unknown> {
  try {
    const module = (await import('ioredis')) as { default?: unknown; Redis?: unknown };
    return module.default ?? module.Redis;
  } catch (error) {
    const e = new Error(
      "limiter.datastore 'ioredis' needs the ioredis package (npm install ioredis), or pass it as limiter.Redis",
      { cause: error },
    );
    (e as { code?: string }).code = 'IOREDIS_NOT_INSTALLED';
    throw e;
  }
}
