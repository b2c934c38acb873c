/**
 * The counters behind `KinesisMetrics`: a distribution, one shard's counts, one stream's. Bumped as things
 * happen and read only when a snapshot is taken (or OpenTelemetry collects).
 */
import { ATTR_SHARD, ATTR_STREAM, type MetricAttributesLike } from './otel.js';
import type { ShardMetrics, SpoolMetrics, StreamMetrics, Summary } from './snapshot.js';

export const THROTTLED = 'ProvisionedThroughputExceededException';
/**
 * Distinct error codes kept per stream; any further code is counted as `OTHER_ERROR_CODE`. Kinesis has a
 * handful, but whole-request errors are reported by name, and a name must not be able to grow memory.
 */
const MAX_ERROR_CODES = 64;
/**
 * The code under which a stream counts errors once it has 63 distinct codes: memory stays bounded whatever
 * error names come up, and no error goes uncounted.
 *
 * @example
 * ```ts
 * const unnamed = metrics.snapshot().streams['sensors']?.errorsByCode[OTHER_ERROR_CODE] ?? 0;
 * ```
 */
export const OTHER_ERROR_CODE = 'Other';

/** A running distribution; min and max start at ±Infinity and are reported as 0 while empty. */
class Stat {
  count = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  add(value: number): void {
    this.count++;
    this.sum += value;
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
  }

  summary(): Summary {
    const n = this.count;
    return n === 0
      ? { count: 0, sum: 0, min: 0, max: 0, mean: 0 }
      : { count: n, sum: this.sum, min: this.min, max: this.max, mean: this.sum / n };
  }
}

/**
 * The counters of one shard, of a stream's records no shard was known for, or of a whole stream.
 * @internal Exported for the OpenTelemetry publisher only.
 */
export class Counts {
  userRecordsPut = 0;
  userRecordsDataPut = 0;
  userRecordsFailed = 0;
  kinesisRecordsPut = 0;
  kinesisRecordsDataPut = 0;
  allErrors = 0;
  throttles = 0;
  retries = 0;
  readonly failedByCode = new Map<string, number>();
  readonly errorsByCode = new Map<string, number>();
  readonly retriesPerRecord = new Stat();
  readonly bufferingTime = new Stat();
  readonly userRecordsPerKinesisRecord = new Stat();

  /** OpenTelemetry attributes, made once so that recording allocates nothing. */
  constructor(readonly attributes: MetricAttributesLike) {}

  metrics(): ShardMetrics {
    return {
      userRecordsPut: this.userRecordsPut,
      userRecordsDataPut: this.userRecordsDataPut,
      userRecordsFailed: this.userRecordsFailed,
      userRecordsFailedByCode: Object.fromEntries(this.failedByCode),
      kinesisRecordsPut: this.kinesisRecordsPut,
      kinesisRecordsDataPut: this.kinesisRecordsDataPut,
      errorsByCode: Object.fromEntries(this.errorsByCode),
      allErrors: this.allErrors,
      throttles: this.throttles,
      retries: this.retries,
      retriesPerRecord: this.retriesPerRecord.summary(),
      bufferingTime: this.bufferingTime.summary(),
      userRecordsPerKinesisRecord: this.userRecordsPerKinesisRecord.summary(),
    };
  }
}

type Gauges = () => { pending: number; pendingBytes: number };

/**
 * One stream's counters: its total, each shard's, and those of records with no shard known.
 * @internal Exported for the OpenTelemetry publisher only.
 */
export class StreamCounters {
  received = 0;
  /** Created by the first spool event: a stream written without a spool reports none. */
  spool: SpoolMetrics | undefined;
  readonly total: Counts;
  readonly unsharded: Counts;
  readonly shards = new Map<string, Counts>();
  readonly requestTime = new Stat();
  readonly kinesisRecordsPerRequest = new Stat();
  readonly userRecordsPerRequest = new Stat();
  /** One entry per attach, so the same function attached twice counts twice and detaches once each. */
  private readonly attached = new Set<{ read: Gauges }>();
  // Calls come in runs for one shard (a response's entries are mostly in shard order): skip the lookup.
  private lastShardId: string | undefined;
  private lastShard: Counts | undefined;

  constructor(readonly name: string) {
    this.total = new Counts({ [ATTR_STREAM]: name });
    this.unsharded = new Counts(this.total.attributes);
  }

  shard(shardId: string | undefined): Counts {
    if (shardId === undefined) return this.unsharded;
    if (shardId === this.lastShardId) return this.lastShard!;
    let shard = this.shards.get(shardId);
    if (shard === undefined) {
      shard = new Counts({ [ATTR_STREAM]: this.name, [ATTR_SHARD]: shardId });
      this.shards.set(shardId, shard);
    }
    this.lastShardId = shardId;
    return (this.lastShard = shard);
  }

  attach(read: Gauges): () => void {
    const entry = { read };
    this.attached.add(entry);
    return () => void this.attached.delete(entry);
  }

  gauges(): { pending: number; pendingBytes: number } {
    let pending = 0;
    let pendingBytes = 0;
    for (const { read } of this.attached) {
      const g = read();
      pending += g.pending;
      pendingBytes += g.pendingBytes;
    }
    return { pending, pendingBytes };
  }

  metrics(): StreamMetrics {
    const gauges = this.gauges();
    const shards: Record<string, ShardMetrics> = {};
    for (const [id, shard] of this.shards) shards[id] = shard.metrics();
    return {
      userRecordsReceived: this.received,
      userRecordsPending: gauges.pending,
      pendingBytes: gauges.pendingBytes,
      ...this.total.metrics(),
      requestTime: this.requestTime.summary(),
      kinesisRecordsPerRequest: this.kinesisRecordsPerRequest.summary(),
      userRecordsPerRequest: this.userRecordsPerRequest.summary(),
      shards,
      ...(this.spool ? { spool: { ...this.spool } } : {}),
    };
  }
}

/** The key to count `code` under in a stream total's `byCode`: itself, unless the stream has all it may keep. */
export function codeKey(code: string, byCode: Map<string, number>): string {
  return byCode.has(code) || byCode.size < MAX_ERROR_CODES - 1 ? code : OTHER_ERROR_CODE;
}

export function add(byCode: Map<string, number>, key: string, n: number): void {
  byCode.set(key, (byCode.get(key) ?? 0) + n);
}
