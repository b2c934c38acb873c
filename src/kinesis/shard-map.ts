import { prefixOfHashKey } from './hash-key.js';
import {
  ListShardsCommand,
  type KinesisClient,
  type ListShardsInput,
  type Shard,
} from '@aws-sdk/client-kinesis';

/**
 * Names the stream. AWS recommends the ARN; give either or both (with both, both are sent).
 *
 * @example
 * ```ts
 * const stream: StreamRef = { streamName: 'sensors' };
 * ```
 */
export interface StreamRef {
  streamName?: string;
  streamARN?: string;
}

/**
 * One open shard and the inclusive hash-key range it owns.
 *
 * @example
 * ```ts
 * const { shardId, startingHashKey, endingHashKey }: ShardRange = shardMap.shardFor(hashKeyOf('device-7'));
 * ```
 */
export interface ShardRange {
  readonly shardId: string;
  readonly startingHashKey: bigint;
  readonly endingHashKey: bigint;
}

/** The stream fields of a request, as the SDK expects them. */
export function streamFields(stream: StreamRef): { StreamName?: string; StreamARN?: string } {
  const fields: { StreamName?: string; StreamARN?: string } = {};
  if (stream.streamName !== undefined) fields.StreamName = stream.streamName;
  if (stream.streamARN !== undefined) fields.StreamARN = stream.streamARN;
  if (fields.StreamName === undefined && fields.StreamARN === undefined) {
    throw new TypeError('name the stream: streamName and/or streamARN is required');
  }
  return fields;
}

/** A shard is open while its sequence-number range has no end; closed parents of a reshard are skipped. */
function isOpen(shard: Shard): boolean {
  return shard.SequenceNumberRange?.EndingSequenceNumber === undefined;
}

/**
 * Lists the stream's open shards with `ListShards`, following `NextToken` (which, per the API, is sent
 * without the stream name).
 *
 * @example
 * ```ts
 * const shards = await listOpenShards(client, { streamName: 'sensors' });
 * ```
 */
export async function listOpenShards(
  client: KinesisClient,
  stream: StreamRef,
  options: { abortSignal?: AbortSignal } = {},
): Promise<ShardRange[]> {
  const ranges: ShardRange[] = [];
  let input: ListShardsInput = streamFields(stream);
  for (;;) {
    const page = await client.send(new ListShardsCommand(input), { abortSignal: options.abortSignal });
    for (const shard of page.Shards ?? []) {
      if (!isOpen(shard) || !shard.ShardId || !shard.HashKeyRange) continue;
      ranges.push({
        shardId: shard.ShardId,
        startingHashKey: BigInt(shard.HashKeyRange.StartingHashKey!),
        endingHashKey: BigInt(shard.HashKeyRange.EndingHashKey!),
      });
    }
    if (!page.NextToken) return ranges;
    input = { NextToken: page.NextToken };
  }
}

/**
 * Routes hash keys to shards by binary search over the open shards' hash-key ranges, as Kinesis does.
 *
 * @example
 * ```ts
 * const map = await ShardMap.load(client, { streamName: 'sensors' });
 * map.shardFor(hashKeyOf('device-7')).shardId; // 'shardId-000000000002'
 * ```
 */
export class ShardMap {
  private ranges: readonly ShardRange[] = [];
  private ids = new Set<string>();
  /** The ranges' starting and ending hash keys' top 30 bits, for routing without BigInt (see shardOf). */
  private starts = new Float64Array(0);
  private ends = new Float64Array(0);

  constructor(
    ranges: readonly ShardRange[],
    private readonly loader?: () => Promise<ShardRange[]>,
  ) {
    this.replace(ranges);
  }

  /** Loads the open shards of a stream; `refresh()` reloads them the same way. */
  static async load(
    client: KinesisClient,
    stream: StreamRef,
    options: { abortSignal?: AbortSignal } = {},
  ): Promise<ShardMap> {
    const loader = () => listOpenShards(client, stream, options);
    return new ShardMap(await loader(), loader);
  }

  /** The open shards, ordered by starting hash key. */
  get shards(): readonly ShardRange[] {
    return this.ranges;
  }

  has(shardId: string): boolean {
    return this.ids.has(shardId);
  }

  /**
   * The shard owning `hashKey`.
   * @throws RangeError when no open shard covers it (a map caught mid-reshard): refresh and try again.
   */
  shardFor(hashKey: bigint): ShardRange {
    const ranges = this.ranges;
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ranges[mid].startingHashKey <= hashKey) lo = mid;
      else hi = mid - 1;
    }
    const range = ranges[lo];
    if (range === undefined || hashKey < range.startingHashKey || hashKey > range.endingHashKey) {
      throw new RangeError(`no open shard covers hash key ${hashKey}`);
    }
    return range;
  }

  /**
   * The shard owning a record, compared by the top 30 bits of its hash key (numbers, no BigInt); the full
   * `hashKey` is read only when the prefix equals a range's first or last prefix, where 30 bits cannot tell.
   * @throws RangeError as {@link shardFor} does.
   */
  shardOf(record: { readonly hashPrefix: number; readonly hashKey: bigint }): ShardRange {
    const { starts, ends } = this;
    const prefix = record.hashPrefix;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= prefix) lo = mid;
      else hi = mid - 1;
    }
    // Strictly inside the range's prefixes, and below the next range's first prefix: no other range can own it.
    if (starts[lo] < prefix && prefix < ends[lo] && (lo + 1 === starts.length || prefix < starts[lo + 1])) {
      return this.ranges[lo];
    }
    return this.shardFor(record.hashKey);
  }

  /** Reloads the open shards (after a reshard the closed parents drop out and their children come in). */
  async refresh(): Promise<void> {
    if (!this.loader) throw new Error('this ShardMap was built from fixed ranges and cannot refresh');
    this.replace(await this.loader());
  }

  private replace(ranges: readonly ShardRange[]): void {
    if (ranges.length === 0) throw new RangeError('the stream has no open shards');
    this.ids = new Set(ranges.map((r) => r.shardId));
    this.ranges = [...ranges].sort((a, b) =>
      a.startingHashKey < b.startingHashKey ? -1 : a.startingHashKey > b.startingHashKey ? 1 : 0,
    );
    this.starts = Float64Array.from(this.ranges, (r) => prefixOfHashKey(r.startingHashKey));
    this.ends = Float64Array.from(this.ranges, (r) => prefixOfHashKey(r.endingHashKey));
  }
}
