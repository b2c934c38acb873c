import { hashKeyOf } from '../kinesis/hash-key.js';
import { KinesisError, ValidationErrors, describeBlob, quote } from './errors.js';
import type { FaultInjector } from './faults.js';
import type { RecordLedger } from './ledger.js';
import type { ShardQuota } from './quota.js';
import { MAX_HASH_KEY, Stream, type Shard, type ShardDescription } from './stream-state.js';

const STREAM_NAME_PATTERN = '[a-zA-Z0-9_.-]+';
const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const STREAM_ARN_PATTERN = 'arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+';
const STREAM_ARN = /^arn:aws[^:]*:kinesis:([^:]*):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,128})$/;
const HASH_KEY_PATTERN = '0|([1-9]\\d{0,38})';
const HASH_KEY = /^(0|[1-9]\d{0,38})$/;
const MAX_PARTITION_KEY_LENGTH = 256;
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

type Input = Record<string, unknown>;

interface PutEntryResult {
  SequenceNumber?: string;
  ShardId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
}

interface ListShardsToken {
  s: string;
  a: string;
  f: string;
  t: number;
}

/**
 * The Kinesis operations the emulator serves, on parsed JSON 1.1 inputs. Throws {@link KinesisError}
 * for anything AWS would refuse.
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

  constructor(private readonly context: ApiContext) {}

  /** Runs `operation` (the part of `X-Amz-Target` after the dot) and returns the response body. */
  handle(operation: string, input: Input): unknown {
    switch (operation) {
      case 'PutRecords':
        return this.putRecords(input);
      case 'PutRecord':
        return this.putRecord(input);
      case 'ListShards':
        return this.listShards(input);
      case 'DescribeStreamSummary':
        return this.describeStreamSummary(input);
      case 'CreateStream':
        return this.createStreamAction(input);
      case 'SplitShard':
        return this.splitShard(input);
      case 'MergeShards':
        return this.mergeShards(input);
      default:
        throw new KinesisError('UnknownOperationException', `Operation ${operation} is not supported.`);
    }
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
  resolveStream(input: Input): Stream {
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

  private putRecords(input: Input): unknown {
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
    const datas = new Array<Buffer>(n);
    const sizes = new Array<number>(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const data = checkEntry(records[i], `records.${i + 1}.member.`, maxRecordBytes, errors);
      if (data !== undefined) {
        const size = data.length + Buffer.byteLength((records[i] as Input).PartitionKey as string);
        datas[i] = data;
        sizes[i] = size;
        total += size;
      }
    }
    errors.throwIfAny();
    if (total > maxRequestBytes) {
      throw new KinesisError(
        'InvalidArgumentException',
        `Records size exceeds ${maxRequestBytes / (1024 * 1024)} MB limit`,
      );
    }
    const explicitKeys = new Array<bigint | undefined>(n);
    for (let i = 0; i < n; i++) explicitKeys[i] = explicitHashKey(records[i] as Input);
    const stream = this.resolveStream(input);

    const { clock, faults, ledger, startedAt } = this.context;
    const now = clock();
    const second = Math.max(0, Math.floor((now - startedAt) / 1000));
    const withFaults = faults.applies('PutRecords');
    const out = new Array<PutEntryResult>(n);
    let failed = 0;
    for (let i = 0; i < n; i++) {
      const entry = records[i] as Input;
      const partitionKey = entry.PartitionKey as string;
      const shard = stream.shardFor(explicitKeys[i] ?? hashKeyOf(partitionKey));
      if (withFaults && faults.recordFails()) {
        shard.failed++;
        failed++;
        out[i] = { ErrorCode: 'InternalFailure', ErrorMessage: INTERNAL_FAILURE };
        continue;
      }
      const size = sizes[i];
      if (shard.quota !== undefined && !shard.quota.tryTake(size, now)) {
        shard.throttled++;
        failed++;
        out[i] = {
          ErrorCode: 'ProvisionedThroughputExceededException',
          ErrorMessage: throttleMessage(shard, stream),
        };
        continue;
      }
      const sequenceNumber = stream.nextSequenceNumber();
      shard.recordAccepted(size, second);
      const ehk = explicitKeys[i] === undefined ? undefined : (entry.ExplicitHashKey as string);
      ledger.add(stream.name, partitionKey, ehk, datas[i], shard.shardId, sequenceNumber, now);
      out[i] = { SequenceNumber: sequenceNumber, ShardId: shard.shardId };
    }
    return { FailedRecordCount: failed, Records: out, EncryptionType: 'NONE' };
  }

  private putRecord(input: Input): unknown {
    const errors = new ValidationErrors();
    checkStreamFields(input, errors);
    const data = checkEntry(input, '', this.context.maxRecordBytes, errors);
    errors.throwIfAny();
    const hashKey = explicitHashKey(input);
    const stream = this.resolveStream(input);

    const { clock, faults, ledger, startedAt } = this.context;
    const partitionKey = input.PartitionKey as string;
    const shard = stream.shardFor(hashKey ?? hashKeyOf(partitionKey));
    if (faults.applies('PutRecord') && faults.recordFails()) {
      shard.failed++;
      throw new KinesisError('InternalFailure', INTERNAL_FAILURE, 500);
    }
    const now = clock();
    const size = (data as Buffer).length + Buffer.byteLength(partitionKey);
    if (shard.quota !== undefined && !shard.quota.tryTake(size, now)) {
      shard.throttled++;
      throw new KinesisError('ProvisionedThroughputExceededException', throttleMessage(shard, stream));
    }
    const sequenceNumber = stream.nextSequenceNumber();
    shard.recordAccepted(size, Math.max(0, Math.floor((now - startedAt) / 1000)));
    const ehk = hashKey === undefined ? undefined : (input.ExplicitHashKey as string);
    ledger.add(stream.name, partitionKey, ehk, data as Buffer, shard.shardId, sequenceNumber, now);
    return { ShardId: shard.shardId, SequenceNumber: sequenceNumber, EncryptionType: 'NONE' };
  }

  private listShards(input: Input): unknown {
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
    const filter = input.ShardFilter as Input | undefined | null;
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
    const result: { Shards: ShardDescription[]; NextToken?: string } = {
      Shards: page.map((s) => s.describe()),
    };
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

  private describeStreamSummary(input: Input): unknown {
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

  private createStreamAction(input: Input): unknown {
    const errors = new ValidationErrors();
    const name = input.StreamName;
    if (typeof name !== 'string') errors.add('null', 'streamName', 'Member must not be null');
    else checkStreamName(name, errors);
    const mode = (input.StreamModeDetails as Input | undefined)?.StreamMode ?? 'PROVISIONED';
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

  private splitShard(input: Input): unknown {
    const errors = new ValidationErrors();
    requireShardId(input, 'ShardToSplit', errors);
    const at = input.NewStartingHashKey;
    if (typeof at !== 'string') errors.add('null', 'newStartingHashKey', 'Member must not be null');
    else if (!HASH_KEY.test(at)) {
      errors.add(
        quote(at),
        'newStartingHashKey',
        `Member must satisfy regular expression pattern: ${HASH_KEY_PATTERN}`,
      );
    }
    errors.throwIfAny();
    this.resolveStream(input).split(input.ShardToSplit as string, BigInt(at as string));
    return {};
  }

  private mergeShards(input: Input): unknown {
    const errors = new ValidationErrors();
    requireShardId(input, 'ShardToMerge', errors);
    requireShardId(input, 'AdjacentShardToMerge', errors);
    errors.throwIfAny();
    this.resolveStream(input).merge(input.ShardToMerge as string, input.AdjacentShardToMerge as string);
    return {};
  }
}

function throttleMessage(shard: Shard, stream: Stream): string {
  return `Rate exceeded for shard ${shard.shardId} in stream ${stream.where()}.`;
}

function lowerFirst(name: string): string {
  return name[0].toLowerCase() + name.slice(1);
}

function checkStreamName(name: string, errors: ValidationErrors): void {
  if (name.length < 1)
    errors.add(quote(name), 'streamName', 'Member must have length greater than or equal to 1');
  else if (name.length > 128) {
    errors.add(quote(name), 'streamName', 'Member must have length less than or equal to 128');
  } else if (!STREAM_NAME.test(name)) {
    errors.add(
      quote(name),
      'streamName',
      `Member must satisfy regular expression pattern: ${STREAM_NAME_PATTERN}`,
    );
  }
}

function checkStreamFields(input: Input, errors: ValidationErrors): void {
  const name = input.StreamName;
  if (name !== undefined && name !== null) {
    if (typeof name !== 'string') errors.add(quote(name), 'streamName', 'Member must be a string');
    else checkStreamName(name, errors);
  }
  const arn = input.StreamARN;
  if (arn !== undefined && arn !== null && (typeof arn !== 'string' || !STREAM_ARN.test(arn))) {
    errors.add(
      quote(arn),
      'streamARN',
      `Member must satisfy regular expression pattern: ${STREAM_ARN_PATTERN}`,
    );
  }
}

function requireShardId(input: Input, field: string, errors: ValidationErrors): void {
  const value = input[field];
  if (typeof value !== 'string') errors.add('null', lowerFirst(field), 'Member must not be null');
  else if (!STREAM_NAME.test(value)) {
    errors.add(
      quote(value),
      lowerFirst(field),
      `Member must satisfy regular expression pattern: ${STREAM_NAME_PATTERN}`,
    );
  }
}

/**
 * Validates one record (a PutRecords entry, or PutRecord's own fields with an empty `path`) and returns
 * its decoded data, or undefined after adding the violations to `errors`.
 */
function checkEntry(
  entry: unknown,
  path: string,
  maxRecordBytes: number,
  errors: ValidationErrors,
): Buffer | undefined {
  if (typeof entry !== 'object' || entry === null) {
    errors.add('null', path.slice(0, -1) || 'record', 'Member must not be null');
    return undefined;
  }
  const { PartitionKey: key, Data: encoded, ExplicitHashKey: ehk } = entry as Input;
  let valid = true;
  if (typeof key !== 'string') {
    errors.add('null', path + 'partitionKey', 'Member must not be null');
    valid = false;
  } else if (key.length < 1) {
    errors.add("''", path + 'partitionKey', 'Member must have length greater than or equal to 1');
    valid = false;
  } else if (key.length > MAX_PARTITION_KEY_LENGTH) {
    errors.add(
      quote(key),
      path + 'partitionKey',
      `Member must have length less than or equal to ${MAX_PARTITION_KEY_LENGTH}`,
    );
    valid = false;
  }
  if (ehk !== undefined && ehk !== null && (typeof ehk !== 'string' || !HASH_KEY.test(ehk))) {
    errors.add(
      quote(ehk),
      path + 'explicitHashKey',
      `Member must satisfy regular expression pattern: ${HASH_KEY_PATTERN}`,
    );
    valid = false;
  }
  if (typeof encoded !== 'string') {
    errors.add('null', path + 'data', 'Member must not be null');
    return undefined;
  }
  const data = Buffer.from(encoded, 'base64');
  // The record limit covers data and partition key together; AWS reports it against the data.
  const keyBytes = typeof key === 'string' ? Buffer.byteLength(key) : 0;
  if (data.length + keyBytes > maxRecordBytes) {
    errors.add(
      describeBlob(data.length),
      path + 'data',
      `Member must have length less than or equal to ${maxRecordBytes}`,
    );
    return undefined;
  }
  return valid ? data : undefined;
}

/** The entry's ExplicitHashKey as a number (already matching the pattern), range-checked like AWS. */
function explicitHashKey(entry: Input): bigint | undefined {
  const ehk = entry.ExplicitHashKey;
  if (typeof ehk !== 'string') return undefined;
  const value = BigInt(ehk);
  if (value > MAX_HASH_KEY) {
    throw new KinesisError(
      'InvalidArgumentException',
      `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${ehk}`,
    );
  }
  return value;
}
