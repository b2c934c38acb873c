import type {
  CreateStreamInput,
  DescribeStreamSummaryInput,
  DescribeStreamSummaryOutput,
  ListShardsInput,
  ListShardsOutput,
  MergeShardsInput,
  SplitShardInput,
} from '@aws-sdk/client-kinesis';
import { KinesisError, ValidationErrors, quote } from './errors.js';
import type { ApiContext, KinesisApi } from './kinesis-api.js';
import type { Stream } from './stream-state.js';
import { checkHashKeySyntax, checkStreamName, requireShardId } from './validation.js';
import type { Unchecked, Wire } from './wire.js';

const LIST_SHARDS_PAGE = 1000;
const SHARD_FILTERS = [
  'AFTER_SHARD_ID',
  'AT_TRIM_HORIZON',
  'FROM_TRIM_HORIZON',
  'AT_LATEST',
  'AT_TIMESTAMP',
  'FROM_TIMESTAMP',
];

interface ListShardsToken {
  s: string;
  a: string;
  f: string;
  t: number;
}

type Input = Unchecked<Record<string, unknown>>;

/**
 * The operations on a stream's shape rather than its records: ListShards (with its NextToken and the
 * `unlistedShards` fault), DescribeStreamSummary, CreateStream, SplitShard and MergeShards. The
 * {@link KinesisApi} serves them from its table; they reach streams through it.
 *
 * @example
 * ```ts
 * const actions = new StreamActions(api, context);
 * actions.listShards({ StreamName: 'demo' }).Shards?.length;
 * ```
 */
export class StreamActions {
  constructor(
    private readonly api: KinesisApi,
    private readonly context: ApiContext,
  ) {}

  listShards(input: Unchecked<ListShardsInput>): Wire<ListShardsOutput> {
    const errors = new ValidationErrors();
    const maxResults = input.MaxResults;
    if (maxResults !== undefined && maxResults !== null) {
      if (typeof maxResults !== 'number' || !Number.isInteger(maxResults)) {
        throw new KinesisError('SerializationException', 'MaxResults must be an integer.');
      }
      if (maxResults < 1) {
        errors.add(quote(maxResults), 'maxResults', 'Member must have value greater than or equal to 1');
      } else if (maxResults > 10_000) {
        errors.add(quote(maxResults), 'maxResults', 'Member must have value less than or equal to 10000');
      }
    }
    const filter = input.ShardFilter as Unchecked<{ Type: string; ShardId: string }> | undefined | null;
    const filterType = filter?.Type;
    if (filter != null && (typeof filterType !== 'string' || !SHARD_FILTERS.includes(filterType))) {
      errors.add(
        quote(filterType),
        'shardFilter.type',
        `Member must satisfy enum value set: [${SHARD_FILTERS.join(', ')}]`,
      );
    }
    errors.throwIfAny();
    const pageSize = Math.min((maxResults as number | undefined) ?? LIST_SHARDS_PAGE, LIST_SHARDS_PAGE);

    let stream: Stream;
    let after: string;
    let type: string;
    const nextToken = input.NextToken;
    if (nextToken !== undefined && nextToken !== null) {
      if (input.StreamName != null || input.StreamARN != null) {
        throw new KinesisError(
          'InvalidArgumentException',
          'NextToken and StreamName cannot be provided together.',
        );
      }
      const token = this.decodeToken(nextToken);
      stream = this.api.resolveStream({ StreamName: token.s });
      after = token.a;
      type = token.f;
    } else {
      stream = this.api.resolveStream(input);
      after = typeof input.ExclusiveStartShardId === 'string' ? input.ExclusiveStartShardId : '';
      type = typeof filterType === 'string' ? filterType : '';
      if (type === 'AFTER_SHARD_ID' && typeof filter?.ShardId === 'string') after = filter.ShardId;
    }

    // Shard ids are zero-padded, so string order is creation order.
    const matching = stream.shards.filter((s) => s.shardId > after && (type !== 'AT_LATEST' || s.open));
    const page = matching.slice(0, pageSize);
    // An injected gap: ListShards leaves these shards out, yet writes still reach them.
    const unlisted = this.context.faults.current.unlistedShards;
    const listed = unlisted.length === 0 ? page : page.filter((s) => !unlisted.includes(s.shardId));
    const result: Wire<ListShardsOutput> = { Shards: listed.map((s) => s.describe()) };
    if (matching.length > page.length) {
      const token: ListShardsToken = {
        s: stream.name,
        a: page[page.length - 1].shardId,
        f: type,
        t: this.context.clock(),
      };
      result.NextToken = Buffer.from(JSON.stringify(token)).toString('base64');
    }
    return result;
  }

  private decodeToken(nextToken: unknown): ListShardsToken {
    let token: ListShardsToken | undefined;
    try {
      token = JSON.parse(Buffer.from(String(nextToken), 'base64').toString()) as ListShardsToken;
    } catch {
      token = undefined;
    }
    if (typeof token?.s !== 'string' || typeof token.a !== 'string' || typeof token.t !== 'number') {
      throw new KinesisError('InvalidArgumentException', `Invalid NextToken: ${String(nextToken)}`);
    }
    if (this.context.clock() - token.t > this.context.nextTokenTtlMs) {
      throw new KinesisError(
        'ExpiredNextTokenException',
        'The timestamp in the NextToken has expired. Call ListShards again without a NextToken.',
      );
    }
    return token;
  }

  describeStreamSummary(input: Unchecked<DescribeStreamSummaryInput>): Wire<DescribeStreamSummaryOutput> {
    const stream = this.api.resolveStream(input);
    return {
      StreamDescriptionSummary: {
        ...stream.describeCommon(),
        StreamCreationTimestamp: stream.createdAt / 1000,
        OpenShardCount: stream.open.length,
        ConsumerCount: 0,
      },
    };
  }

  createStream(input: Unchecked<CreateStreamInput>): object {
    const errors = new ValidationErrors();
    const name = input.StreamName;
    if (typeof name !== 'string') errors.add('null', 'streamName', 'Member must not be null');
    else checkStreamName(name, errors);
    const mode = (input.StreamModeDetails as Input | undefined | null)?.StreamMode ?? 'PROVISIONED';
    if (mode !== 'PROVISIONED' && mode !== 'ON_DEMAND') {
      errors.add(
        quote(mode),
        'streamModeDetails.streamMode',
        'Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]',
      );
    }
    const shardCount = input.ShardCount ?? (mode === 'ON_DEMAND' ? 4 : undefined);
    if (typeof shardCount !== 'number' || !Number.isInteger(shardCount) || shardCount < 1) {
      errors.add(quote(shardCount), 'shardCount', 'Member must have value greater than or equal to 1');
    }
    errors.throwIfAny();
    this.api.createStream(name as string, shardCount as number, mode as 'PROVISIONED' | 'ON_DEMAND');
    return {};
  }

  splitShard(input: Unchecked<SplitShardInput>): object {
    const errors = new ValidationErrors();
    requireShardId(input, 'ShardToSplit', errors);
    const at = input.NewStartingHashKey;
    checkHashKeySyntax(at, 'newStartingHashKey', errors);
    errors.throwIfAny();
    this.api.resolveStream(input).split(input.ShardToSplit as string, BigInt(at as string));
    return {};
  }

  mergeShards(input: Unchecked<MergeShardsInput>): object {
    const errors = new ValidationErrors();
    requireShardId(input, 'ShardToMerge', errors);
    requireShardId(input, 'AdjacentShardToMerge', errors);
    errors.throwIfAny();
    this.api.resolveStream(input).merge(input.ShardToMerge as string, input.AdjacentShardToMerge as string);
    return {};
  }
}
