import { KinesisError } from './errors.js';
import type { ShardQuota } from './quota.js';
import { MAX_HASH_KEY } from './routing.js';

// 40 + 16 digits: as long as AWS's sequence numbers, and zero padding keeps string order = numeric order.
const SEQUENCE_PREFIX = '49' + '0'.repeat(38);

function sequenceNumber(counter: number): string {
  return SEQUENCE_PREFIX + String(counter).padStart(16, '0');
}

function shardIdOf(index: number): string {
  return 'shardId-' + String(index).padStart(12, '0');
}

/**
 * A shard as `ListShards` describes it.
 *
 * @example
 * ```ts
 * const d: ShardDescription = emu.listShards()[0];
 * d.SequenceNumberRange.EndingSequenceNumber === undefined; // open
 * ```
 */
export interface ShardDescription {
  ShardId: string;
  ParentShardId?: string;
  AdjacentParentShardId?: string;
  HashKeyRange: { StartingHashKey: string; EndingHashKey: string };
  SequenceNumberRange: { StartingSequenceNumber: string; EndingSequenceNumber?: string };
}

/**
 * One shard: its hash-key range, lineage, quota and the counters behind `emu.stats()`. Counters are
 * plain fields so the hot path updates them in O(1).
 *
 * @example
 * ```ts
 * const shard = stream.shardFor(routingHashKey('device-7'));
 * shard.open; // true: writes only ever reach open shards
 * ```
 */
export class Shard {
  endingSequenceNumber: string | undefined;
  accepted = 0;
  throttled = 0;
  failed = 0;
  bytes = 0;
  /** Accepted records per second, indexed by whole seconds since the emulator started. */
  readonly timeline: number[] = [];

  constructor(
    readonly shardId: string,
    readonly startingHashKey: bigint,
    readonly endingHashKey: bigint,
    readonly startingSequenceNumber: string,
    readonly quota: ShardQuota | undefined,
    readonly parentShardId?: string,
    readonly adjacentParentShardId?: string,
  ) {}

  get open(): boolean {
    return this.endingSequenceNumber === undefined;
  }

  /** Counts an accepted record of `size` bytes in second `second` of the run. */
  recordAccepted(size: number, second: number): void {
    this.accepted++;
    this.bytes += size;
    const timeline = this.timeline;
    while (timeline.length <= second) timeline.push(0);
    timeline[second]++;
  }

  describe(): ShardDescription {
    const description: ShardDescription = {
      ShardId: this.shardId,
      HashKeyRange: {
        StartingHashKey: this.startingHashKey.toString(),
        EndingHashKey: this.endingHashKey.toString(),
      },
      SequenceNumberRange: { StartingSequenceNumber: this.startingSequenceNumber },
    };
    if (this.parentShardId !== undefined) description.ParentShardId = this.parentShardId;
    if (this.adjacentParentShardId !== undefined) {
      description.AdjacentParentShardId = this.adjacentParentShardId;
    }
    if (this.endingSequenceNumber !== undefined) {
      description.SequenceNumberRange.EndingSequenceNumber = this.endingSequenceNumber;
    }
    return description;
  }
}

/**
 * Where a stream lives, for ARNs and error messages.
 *
 * @example
 * ```ts
 * const identity: StreamIdentity = { name: 'demo', region: 'us-east-1', accountId: '000000000000' };
 * ```
 */
export interface StreamIdentity {
  readonly name: string;
  readonly region: string;
  readonly accountId: string;
}

/**
 * A stream's shards, routing and sequence numbers, and its resharding. Sequence numbers come from one
 * counter per stream, so they increase strictly within each shard, children start above their parents,
 * and numeric order is arrival order.
 *
 * @example
 * ```ts
 * const stream = new Stream({ name: 'demo', region: 'us-east-1', accountId: '000000000000' }, 4, Date.now());
 * const [left, right] = stream.split('shardId-000000000000');
 * ```
 */
export class Stream {
  readonly arn: string;
  readonly shards: Shard[] = [];
  readonly mode: 'PROVISIONED' | 'ON_DEMAND';
  private readonly byId = new Map<string, Shard>();
  // Open shards sorted by starting hash key: they tile [0, 2^128 − 1] with no gaps.
  private openShards: Shard[] = [];
  private sequence = 0;

  constructor(
    readonly identity: StreamIdentity,
    shardCount: number,
    readonly createdAt: number,
    private readonly makeQuota: () => ShardQuota | undefined = () => undefined,
    mode: 'PROVISIONED' | 'ON_DEMAND' = 'PROVISIONED',
  ) {
    if (!Number.isInteger(shardCount) || shardCount < 1) {
      throw new RangeError(`a stream needs a whole number of shards ≥ 1, got ${shardCount}`);
    }
    this.mode = mode;
    this.arn = `arn:aws:kinesis:${identity.region}:${identity.accountId}:stream/${identity.name}`;
    const n = BigInt(shardCount);
    const space = MAX_HASH_KEY + 1n;
    for (let i = 0n; i < n; i++) {
      this.addShard((i * space) / n, ((i + 1n) * space) / n - 1n);
    }
    this.refreshOpen();
  }

  get name(): string {
    return this.identity.name;
  }

  /**
   * What DescribeStream and DescribeStreamSummary both answer about the stream: always ACTIVE, 24 h
   * retention, no enhanced monitoring, no encryption (the emulator keeps none of them).
   */
  describeCommon() {
    return {
      StreamName: this.name,
      StreamARN: this.arn,
      StreamStatus: 'ACTIVE' as const,
      StreamModeDetails: { StreamMode: this.mode },
      RetentionPeriodHours: 24,
      EnhancedMonitoring: [{ ShardLevelMetrics: [] as never[] }],
      EncryptionType: 'NONE' as const,
    };
  }

  /** Open shards, in hash-key order. */
  get open(): readonly Shard[] {
    return this.openShards;
  }

  shard(shardId: string): Shard | undefined {
    return this.byId.get(shardId);
  }

  /** The open shard owning `hashKey` (0 ≤ hashKey ≤ 2^128 − 1). */
  shardFor(hashKey: bigint): Shard {
    const open = this.openShards;
    let lo = 0;
    let hi = open.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (open[mid].startingHashKey <= hashKey) lo = mid;
      else hi = mid - 1;
    }
    return open[lo];
  }

  nextSequenceNumber(): string {
    return sequenceNumber(++this.sequence);
  }

  /**
   * Closes `shardId` and opens two children splitting its range at `newStartingHashKey` (default: the
   * middle). Like AWS, the key must be above StartingHashKey + 1 and below EndingHashKey.
   */
  split(shardId: string, newStartingHashKey?: bigint): [Shard, Shard] {
    const parent = this.openShard(shardId);
    const start = parent.startingHashKey;
    const end = parent.endingHashKey;
    const at = newStartingHashKey ?? start + (end - start + 1n) / 2n;
    if (at <= start + 1n || at >= end) {
      throw new KinesisError(
        'InvalidArgumentException',
        `NewStartingHashKey ${at} used in SplitShard() on shard ${shardId} in stream ${this.where()} is not ` +
          `both greater than one plus the shard's StartingHashKey ${start} and less than the shard's ` +
          `EndingHashKey ${end}.`,
      );
    }
    this.close(parent);
    const children: [Shard, Shard] = [
      this.addShard(start, at - 1n, shardId),
      this.addShard(at, end, shardId),
    ];
    this.refreshOpen();
    return children;
  }

  /** Closes two adjacent open shards (either order) and opens one child covering both ranges. */
  merge(shardId: string, adjacentShardId: string): Shard {
    const first = this.openShard(shardId);
    const second = this.openShard(adjacentShardId);
    const [low, high] = first.startingHashKey < second.startingHashKey ? [first, second] : [second, first];
    if (first === second || low.endingHashKey + 1n !== high.startingHashKey) {
      throw new KinesisError(
        'InvalidArgumentException',
        `Shards ${shardId} and ${adjacentShardId} in stream ${this.where()} are not an adjacent pair of ` +
          'shards eligible for merging',
      );
    }
    this.close(first);
    this.close(second);
    const child = this.addShard(low.startingHashKey, high.endingHashKey, shardId, adjacentShardId);
    this.refreshOpen();
    return child;
  }

  /** "demo under account 000000000000", as AWS messages name a stream. */
  where(): string {
    return `${this.identity.name} under account ${this.identity.accountId}`;
  }

  private openShard(shardId: string): Shard {
    const shard = this.byId.get(shardId);
    if (shard === undefined) {
      throw new KinesisError(
        'ResourceNotFoundException',
        `Could not find shard ${shardId} in stream ${this.where()}.`,
      );
    }
    if (!shard.open) {
      throw new KinesisError(
        'ResourceInUseException',
        `Shard ${shardId} in stream ${this.where()} has already been merged or split, and thus is not ` +
          'eligible for merging or splitting.',
      );
    }
    return shard;
  }

  private close(shard: Shard): void {
    shard.endingSequenceNumber = sequenceNumber(this.sequence);
  }

  private addShard(start: bigint, end: bigint, parent?: string, adjacentParent?: string): Shard {
    // Children start strictly above everything their parents hold.
    const startingSequence = sequenceNumber(++this.sequence);
    const shard = new Shard(
      shardIdOf(this.shards.length),
      start,
      end,
      startingSequence,
      this.makeQuota(),
      parent,
      adjacentParent,
    );
    this.shards.push(shard);
    this.byId.set(shard.shardId, shard);
    return shard;
  }

  private refreshOpen(): void {
    this.openShards = this.shards
      .filter((s) => s.open)
      .sort((a, b) => (a.startingHashKey < b.startingHashKey ? -1 : 1));
  }
}
