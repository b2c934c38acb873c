import type {
  PutRecordInput,
  PutRecordOutput,
  PutRecordsInput,
  PutRecordsOutput,
  PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { KinesisError, ValidationErrors } from './errors.js';
import type { FaultInjector } from './faults.js';
import type { RecordLedger } from './ledger.js';
import type { ShardQuota } from './quota.js';
import type { ShardLogs } from './shard-log.js';
import { routingHashKey } from './routing.js';
import { Stream, type Shard } from './stream-state.js';
import { STREAM_ARN, STREAM_NAME, checkEntry, checkStreamFields, explicitHashKey } from './validation.js';
import { StreamActions } from './stream-actions.js';
import type { Unchecked, Wire } from './wire.js';

const MAX_RECORDS = 500;
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
  /** The read side, handed every accepted record. */
  readonly shardLogs?: ShardLogs;
}

type Input = Unchecked<Record<string, unknown>>;

/**
 * One operation: a parsed request body in, a response body out; throws {@link KinesisError} to refuse.
 *
 * @example
 * ```ts
 * api.register('DescribeLimits', () => ({ ShardLimit: 500, OpenShardCount: 1, OnDemandStreamCount: 0, OnDemandStreamCountLimit: 50 }));
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
    ['ListShards', (input) => this.shape.listShards(input)],
    ['DescribeStreamSummary', (input) => this.shape.describeStreamSummary(input)],
    ['CreateStream', (input) => this.shape.createStream(input)],
    ['SplitShard', (input) => this.shape.splitShard(input)],
    ['MergeShards', (input) => this.shape.mergeShards(input)],
  ]);
  private readonly shape: StreamActions;

  constructor(private readonly context: ApiContext) {
    this.shape = new StreamActions(this, context);
  }

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
      this.context.shardLogs?.append(shard, sequenceNumber, now, record.partitionKey, record.data);
      if (withFaults && faults.emptiesEntry()) return {};
      return { SequenceNumber: sequenceNumber, ShardId: shard.shardId };
    });
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
