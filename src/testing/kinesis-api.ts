import type {
  CreateStreamInput,
  DescribeStreamSummaryInput,
  DescribeStreamSummaryOutput,
  ListShardsInput,
  ListShardsOutput,
  MergeShardsInput,
  PutRecordInput,
  PutRecordOutput,
  PutRecordsInput,
  PutRecordsOutput,
  PutRecordsResultEntry,
  SplitShardInput,
} from '@aws-sdk/client-kinesis';
import { KinesisError, ValidationErrors, quote } from './errors.js';
import type { FaultInjector } from './faults.js';
import type { RecordLedger } from './ledger.js';
import type { ShardQuota } from './quota.js';
import { routingHashKey } from './routing.js';
import { Stream, type Shard } from './stream-state.js';
import {
  STREAM_ARN,
  STREAM_NAME,
  checkEntry,
  checkHashKeySyntax,
  checkStreamFields,
  checkStreamName,
  explicitHashKey,
  requireShardId,
} from './validation.js';
import type { Unchecked, Wire } from './wire.js';

const MAX_RECORDS = 500;
const LIST_SHARDS_PAGE = 1000;
const SHARD_FILTERS = [
  'AFTER_SHARD_ID',
  'AT_TRIM_HORIZON',
  'FROM_TRIM_HORIZON',
  'AT_LATEST',
  'AT_TIMESTAMP',
  'FROM_TIMESTAMP',
];

const INTERNAL_FAILURE = 'Internal service failure.';

/**
 * What the operations need from the emulator around them.
 *
 * @example
 * ```ts
 * const context: ApiContext = {
 *   region: 'us-east-1',
 *   accountId: '000000000000',
 *   maxRecordBytes: 1024 * 1024,
 *   maxRequestBytes: 5 * 1024 * 1024,
 *   nextTokenTtlMs: 300_000,
 *   faults: new FaultInjector(),
 *   ledger: new RecordLedger(true),
 *   clock: Date.now,
 *   startedAt: Date.now(),
 *   makeQuota: () => undefined,
 * };
 * ```
 */
export interface ApiContext {
  readonly region: string;
  readonly accountId: string;
  readonly maxRecordBytes: number;
  readonly maxRequestBytes: number;
  readonly nextTokenTtlMs: number;
  readonly faults: FaultInjector;
  readonly ledger: RecordLedger;
  readonly clock: () => number;
  /** Clock reading at start: the origin of the per-second timelines. */
  readonly startedAt: number;
  readonly makeQuota: () => ShardQuota | undefined;
}

type Input = Unchecked<Record<string, unknown>>;

/**
 * One operation: a parsed request body in, a response body out; throws {@link KinesisError} to refuse.
 *
 * @example
 * ```ts
 * api.register('GetShardIterator', (input) => reader.getShardIterator(input));
 * ```
 */
export type Action = (input: Input) => unknown;

/** A record that passed validation, ready for the write path. */
interface CheckedRecord {
  readonly partitionKey: string;
  /** As sent, only when given. */
  readonly explicitHashKey: string | undefined;
  /** Where it routes: the ExplicitHashKey, else MD5 of the partition key. */
  readonly hashKey: bigint;
  readonly data: Buffer;
  /** Data + partition key bytes: what the limits count. */
  readonly size: number;
}

type ResultEntry = Wire<PutRecordsResultEntry>;

interface ListShardsToken {
  s: string;
  a: string;
  f: string;
  t: number;
}

/**
 * The Kinesis operations the emulator serves, on parsed JSON 1.1 inputs in the SDK's shapes. Throws
 * {@link KinesisError} for anything AWS would refuse. Operations live in one table, so another part of
 * the emulator (the read side) adds its own with {@link KinesisApi.register}.
 *
 * @example
 * ```ts
 * const api = new KinesisApi(context);
 * api.createStream('demo', 2);
 * api.handle('PutRecord', { StreamName: 'demo', PartitionKey: 'k', Data: 'aGk=' });
 * ```
 */
export class KinesisApi {
  readonly streams = new Map<string, Stream>();
  private readonly actions = new Map<string, Action>([
    ['PutRecords', (input) => this.putRecords(input)],
    ['PutRecord', (input) => this.putRecord(input)],
    ['ListShards', (input) => this.listShards(input)],
    ['DescribeStreamSummary', (input) => this.describeStreamSummary(input)],
    ['CreateStream', (input) => this.createStreamAction(input)],
    ['SplitShard', (input) => this.splitShard(input)],
    ['MergeShards', (input) => this.mergeShards(input)],
  ]);

  constructor(private readonly context: ApiContext) {}

  /** Runs `operation` (the part of `X-Amz-Target` after the dot) and returns the response body. */
  handle(operation: string, input: Input): unknown {
    const action = this.actions.get(operation);
    if (action === undefined) {
      throw new KinesisError('UnknownOperationException', `Operation ${operation} is not supported.`);
    }
    return action(input);
  }

  /** Serves `operation` with `action` from now on (replacing any earlier one). */
  register(operation: string, action: Action): void {
    this.actions.set(operation, action);
  }

  createStream(name: string, shardCount: number, mode: 'PROVISIONED' | 'ON_DEMAND' = 'PROVISIONED'): Stream {
    if (!STREAM_NAME.test(name)) throw new RangeError(`invalid stream name ${JSON.stringify(name)}`);
    if (this.streams.has(name)) {
      throw new KinesisError(
        'ResourceInUseException',
        `Stream ${name} under account ${this.context.accountId} already exists.`,
      );
    }
    const { region, accountId } = this.context;
    const stream = new Stream(
      { name, region, accountId },
      shardCount,
      this.context.clock(),
      this.context.makeQuota,
      mode,
    );
    this.streams.set(name, stream);
    return stream;
  }

  /** The stream a request names by StreamName and/or StreamARN. */
  resolveStream(input: Unchecked<{ StreamName?: string; StreamARN?: string }>): Stream {
    const name = input.StreamName;
    const arn = input.StreamARN;
    const errors = new ValidationErrors();
    checkStreamFields(input, errors);
    errors.throwIfAny();
    let target: string;
    if (typeof arn === 'string') {
      const [, region, accountId, arnName] = STREAM_ARN.exec(arn) as RegExpExecArray;
      if (typeof name === 'string' && name !== arnName) {
        throw new KinesisError(
          'InvalidArgumentException',
          `StreamARN ${arn} and StreamName ${name} do not refer to the same stream.`,
        );
      }
      if (region !== this.context.region || accountId !== this.context.accountId) {
        throw new KinesisError(
          'ResourceNotFoundException',
          `Stream ${arnName} under account ${accountId} not found.`,
        );
      }
      target = arnName;
    } else if (typeof name === 'string') {
      target = name;
    } else {
      throw new KinesisError(
        'InvalidArgumentException',
        'Either StreamName or StreamARN should be provided.',
      );
    }
    const stream = this.streams.get(target);
    if (stream === undefined) {
      throw new KinesisError(
        'ResourceNotFoundException',
        `Stream ${target} under account ${this.context.accountId} not found.`,
      );
    }
    return stream;
  }

  private putRecords(input: Unchecked<PutRecordsInput>): Wire<PutRecordsOutput> {
    const { maxRecordBytes, maxRequestBytes } = this.context;
    const errors = new ValidationErrors();
    checkStreamFields(input, errors);
    const records = input.Records;
    if (!Array.isArray(records)) {
      errors.add('null', 'records', 'Member must not be null');
      throw errors.toError();
    }
    const n = records.length;
    if (n < 1) errors.add("'[]'", 'records', 'Member must have length greater than or equal to 1');
    if (n > MAX_RECORDS) {
      errors.add('', 'records', `Member must have length less than or equal to ${MAX_RECORDS}`);
      errors.throwIfAny();
    }
    // Validate everything before touching any shard: AWS refuses the whole request on one bad entry.
    const datas = new Array<Buffer | undefined>(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const data = checkEntry(records[i], `records.${i + 1}.member.`, maxRecordBytes, errors);
      datas[i] = data;
      if (data !== undefined)
        total += data.length + Buffer.byteLength((records[i] as Input).PartitionKey as string);
    }
    errors.throwIfAny();
    if (total > maxRequestBytes) {
      throw new KinesisError(
        'InvalidArgumentException',
        `Records size exceeds ${maxRequestBytes / (1024 * 1024)} MB limit`,
      );
    }
    const checked = records.map((entry, i) => checkedRecord(entry as Input, datas[i] as Buffer));
    const stream = this.resolveStream(input);
    const out = this.write(stream, checked, 'PutRecords');
    let failed = 0;
    for (const entry of out) if (entry.ErrorCode !== undefined) failed++;
    return { FailedRecordCount: failed, Records: out, EncryptionType: 'NONE' };
  }

  private putRecord(input: Unchecked<PutRecordInput>): Wire<PutRecordOutput> {
    const errors = new ValidationErrors();
    checkStreamFields(input, errors);
    const data = checkEntry(input, '', this.context.maxRecordBytes, errors);
    errors.throwIfAny();
    const record = checkedRecord(input, data as Buffer);
    const stream = this.resolveStream(input);
    const [result] = this.write(stream, [record], 'PutRecord');
    // PutRecord has no per-entry errors: the entry's failure is the whole request's.
    if (result.ErrorCode === 'InternalFailure') {
      throw new KinesisError(result.ErrorCode, result.ErrorMessage as string, 500);
    }
    if (result.ErrorCode !== undefined)
      throw new KinesisError(result.ErrorCode, result.ErrorMessage as string);
    return { ShardId: result.ShardId, SequenceNumber: result.SequenceNumber, EncryptionType: 'NONE' };
  }

  /**
   * The one write path of PutRecords and PutRecord: per record, route, draw the injected failure, take
   * the shard's quota, then write (sequence number, counters, ledger). Returns the result entries in
   * request order; an injected empty entry (`emptyEntryRate`) is written but answered with `{}`.
   */
  private write(stream: Stream, records: readonly CheckedRecord[], operation: string): ResultEntry[] {
    const { clock, faults, ledger, startedAt } = this.context;
    const now = clock();
    const second = Math.max(0, Math.floor((now - startedAt) / 1000));
    const withFaults = faults.applies(operation);
    return records.map((record): ResultEntry => {
      const shard = stream.shardFor(record.hashKey);
      if (withFaults && faults.recordFails()) {
        shard.failed++;
        return { ErrorCode: 'InternalFailure', ErrorMessage: INTERNAL_FAILURE };
      }
      if (shard.quota !== undefined && !shard.quota.tryTake(record.size, now)) {
        shard.throttled++;
        return {
          ErrorCode: 'ProvisionedThroughputExceededException',
          ErrorMessage: throttleMessage(shard, stream),
        };
      }
      const sequenceNumber = stream.nextSequenceNumber();
      shard.recordAccepted(record.size, second);
      ledger.add({
        streamName: stream.name,
        partitionKey: record.partitionKey,
        explicitHashKey: record.explicitHashKey,
        data: record.data,
        shardId: shard.shardId,
        sequenceNumber,
        arrivedAt: now,
      });
      if (withFaults && faults.emptiesEntry()) return {};
      return { SequenceNumber: sequenceNumber, ShardId: shard.shardId };
    });
  }

  private listShards(input: Unchecked<ListShardsInput>): Wire<ListShardsOutput> {
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
      stream = this.resolveStream({ StreamName: token.s });
      after = token.a;
      type = token.f;
    } else {
      stream = this.resolveStream(input);
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

  private describeStreamSummary(
    input: Unchecked<DescribeStreamSummaryInput>,
  ): Wire<DescribeStreamSummaryOutput> {
    const stream = this.resolveStream(input);
    return {
      StreamDescriptionSummary: {
        StreamName: stream.name,
        StreamARN: stream.arn,
        StreamStatus: 'ACTIVE',
        StreamModeDetails: { StreamMode: stream.mode },
        RetentionPeriodHours: 24,
        StreamCreationTimestamp: stream.createdAt / 1000,
        EnhancedMonitoring: [{ ShardLevelMetrics: [] }],
        EncryptionType: 'NONE',
        OpenShardCount: stream.open.length,
        ConsumerCount: 0,
      },
    };
  }

  private createStreamAction(input: Unchecked<CreateStreamInput>): object {
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
    this.createStream(name as string, shardCount as number, mode as 'PROVISIONED' | 'ON_DEMAND');
    return {};
  }

  private splitShard(input: Unchecked<SplitShardInput>): object {
    const errors = new ValidationErrors();
    requireShardId(input, 'ShardToSplit', errors);
    const at = input.NewStartingHashKey;
    checkHashKeySyntax(at, 'newStartingHashKey', errors);
    errors.throwIfAny();
    this.resolveStream(input).split(input.ShardToSplit as string, BigInt(at as string));
    return {};
  }

  private mergeShards(input: Unchecked<MergeShardsInput>): object {
    const errors = new ValidationErrors();
    requireShardId(input, 'ShardToMerge', errors);
    requireShardId(input, 'AdjacentShardToMerge', errors);
    errors.throwIfAny();
    this.resolveStream(input).merge(input.ShardToMerge as string, input.AdjacentShardToMerge as string);
    return {};
  }
}

function checkedRecord(entry: Input, data: Buffer): CheckedRecord {
  const partitionKey = entry.PartitionKey as string;
  const explicit = explicitHashKey(entry);
  return {
    partitionKey,
    explicitHashKey: explicit === undefined ? undefined : (entry.ExplicitHashKey as string),
    hashKey: explicit ?? routingHashKey(partitionKey),
    data,
    size: data.length + Buffer.byteLength(partitionKey),
  };
}

function throttleMessage(shard: Shard, stream: Stream): string {
  return `Rate exceeded for shard ${shard.shardId} in stream ${stream.where()}.`;
}
