import { KinesisError, ValidationErrors, quote } from './errors.js';
import type { KinesisApi } from './kinesis-api.js';
import type { ShardIterators } from './shard-iterators.js';
import type { ShardLogs, StoredRecord } from './shard-log.js';
import type { Shard, ShardDescription, Stream } from './stream-state.js';
import { WireBlob, WireTime } from './codecs.js';

type Input = Record<string, unknown>;

const MAX_LIMIT = 10_000;
const DEFAULT_PAGE = 100;
// One GetRecords call returns at most 10 MiB (AWS), and at least one record.
const MAX_BYTES_PER_CALL = 10 * 1024 * 1024;
const ITERATOR_TYPES = [
  'AT_SEQUENCE_NUMBER',
  'AFTER_SEQUENCE_NUMBER',
  'TRIM_HORIZON',
  'LATEST',
  'AT_TIMESTAMP',
];
const SEQUENCE_NUMBER = /^(0|[1-9]\d{0,128})$/;
const SHARD_ID = /^[a-zA-Z0-9_.-]{1,128}$/;

/**
 * What the read operations need from the emulator around them.
 *
 * @example
 * ```ts
 * const read = new ReadApi({ api, logs, iterators: new ShardIterators(), clock: Date.now, accountId });
 * ```
 */
export interface ReadContext {
  /** The write side: owner of the streams map and of stream resolution by StreamName/StreamARN. */
  readonly api: KinesisApi;
  readonly logs: ShardLogs;
  readonly iterators: ShardIterators;
  readonly clock: () => number;
  readonly accountId: string;
}

/**
 * The emulator's read and stream-management operations: DescribeStream, ListStreams, DeleteStream,
 * GetShardIterator and GetRecords, with AWS's per-shard read limits and 5-minute iterators. Like
 * {@link KinesisApi} it takes JSON 1.1 inputs; it returns {@link WireBlob} blobs and {@link WireTime}
 * timestamps, which the wire codec writes as base64/epoch seconds (JSON) or byte strings/tag 1 (CBOR).
 *
 * @example
 * ```ts
 * const read = new ReadApi({ api, logs, iterators: new ShardIterators(), clock: Date.now, accountId });
 * read.registerActions();
 * api.handle('GetShardIterator', { StreamName: 'demo', ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' });
 * ```
 */
export class ReadApi {
  private readonly incarnations = new WeakMap<Stream, number>();
  private nextIncarnation = 1;

  constructor(private readonly context: ReadContext) {}

  /** Serves the read operations through the write side's action table, beside its own. */
  registerActions(): void {
    const { api } = this.context;
    api.register('GetShardIterator', (input) => this.getShardIterator(input));
    api.register('GetRecords', (input) => this.getRecords(input));
    api.register('DescribeStream', (input) => this.describeStream(input));
    api.register('ListStreams', (input) => this.listStreams(input));
    api.register('DeleteStream', (input) => this.deleteStream(input));
  }

  private incarnation(stream: Stream): number {
    let n = this.incarnations.get(stream);
    if (n === undefined) {
      n = this.nextIncarnation++;
      this.incarnations.set(stream, n);
    }
    return n;
  }

  private getShardIterator(input: Input): unknown {
    const errors = new ValidationErrors();
    const shardId = input.ShardId;
    if (typeof shardId !== 'string') errors.add('null', 'shardId', 'Member must not be null');
    else if (!SHARD_ID.test(shardId)) {
      errors.add(
        quote(shardId),
        'shardId',
        'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
      );
    }
    const type = input.ShardIteratorType;
    if (typeof type !== 'string' || !ITERATOR_TYPES.includes(type)) {
      errors.add(
        quote(type),
        'shardIteratorType',
        `Member must satisfy enum value set: [${ITERATOR_TYPES.join(', ')}]`,
      );
    }
    const start = input.StartingSequenceNumber;
    if (start != null && (typeof start !== 'string' || !SEQUENCE_NUMBER.test(start))) {
      errors.add(
        quote(start),
        'startingSequenceNumber',
        'Member must satisfy regular expression pattern: 0|([1-9]\\d{0,128})',
      );
    }
    errors.throwIfAny();
    const stream = this.context.api.resolveStream(input);
    const shard = this.shardOf(stream, shardId as string);
    const records = this.context.logs.of(shard).records;
    let index: number;
    switch (type) {
      case 'TRIM_HORIZON':
        index = 0;
        break;
      case 'LATEST':
        index = records.length;
        break;
      case 'AT_TIMESTAMP': {
        const at = input.Timestamp;
        if (typeof at !== 'number') {
          throw new KinesisError(
            'InvalidArgumentException',
            'Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has ' +
              'no timestamp parameter.',
          );
        }
        index = firstIndex(records, (r) => r.arrivedAt >= at * 1000);
        break;
      }
      default: {
        if (typeof start !== 'string') {
          throw new KinesisError(
            'InvalidArgumentException',
            'Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or ' +
              `(2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified ${type} and no ` +
              'StartingSequenceNumber.',
          );
        }
        const wanted = BigInt(start);
        const ending = shard.endingSequenceNumber;
        if (
          wanted < BigInt(shard.startingSequenceNumber) ||
          (ending !== undefined && wanted > BigInt(ending))
        ) {
          throw new KinesisError(
            'InvalidArgumentException',
            `Invalid StartingSequenceNumber. ${start} is outside the range of shard ${shard.shardId} in stream ` +
              `${stream.where()}.`,
          );
        }
        index =
          type === 'AT_SEQUENCE_NUMBER'
            ? firstIndex(records, (r) => BigInt(r.sequenceNumber) >= wanted)
            : firstIndex(records, (r) => BigInt(r.sequenceNumber) > wanted);
      }
    }
    const ShardIterator = this.context.iterators.issue({
      streamName: stream.name,
      incarnation: this.incarnation(stream),
      shardId: shard.shardId,
      index,
      issuedAt: this.context.clock(),
    });
    return { ShardIterator };
  }

  private getRecords(input: Input): unknown {
    const errors = new ValidationErrors();
    const max = checkLimit(input.Limit, errors, MAX_LIMIT);
    errors.throwIfAny();
    const { iterators, logs, clock, accountId } = this.context;
    const now = clock();
    const position = iterators.open(input.ShardIterator, now);
    const stream = this.context.api.streams.get(position.streamName);
    const shard =
      stream !== undefined && this.incarnation(stream) === position.incarnation
        ? stream.shard(position.shardId)
        : undefined;
    if (stream === undefined || shard === undefined) {
      throw new KinesisError(
        'ResourceNotFoundException',
        `Shard ${position.shardId} in stream ${position.streamName} under account ${accountId} does not exist`,
      );
    }
    if (!logs.enabled) {
      throw new KinesisError(
        'InvalidArgumentException',
        'This emulator keeps no records to read: start it with keepRecords and keepData on (the defaults).',
      );
    }
    const log = logs.of(shard);
    if (log.quota !== undefined && !log.quota.tryCall(now)) {
      throw new KinesisError(
        'ProvisionedThroughputExceededException',
        `Rate exceeded for Shard - ${shard.shardId} in stream ${stream.where()}.`,
      );
    }
    const stored = log.records;
    const Records: unknown[] = [];
    let bytes = 0;
    let next = position.index;
    while (next < stored.length && Records.length < max) {
      const record = stored[next];
      const size = record.data.length + Buffer.byteLength(record.partitionKey);
      if (Records.length > 0 && bytes + size > MAX_BYTES_PER_CALL) break;
      bytes += size;
      next++;
      Records.push({
        SequenceNumber: record.sequenceNumber,
        ApproximateArrivalTimestamp: new WireTime(record.arrivedAt),
        Data: new WireBlob(record.data),
        PartitionKey: record.partitionKey,
      });
    }
    log.quota?.charge(bytes);
    const caughtUp = next >= stored.length;
    const result: Input = {
      Records,
      MillisBehindLatest: caughtUp ? 0 : Math.max(0, now - stored[next].arrivedAt),
    };
    if (caughtUp && !shard.open) {
      // The end of a closed shard: no NextShardIterator, and the shards to read next.
      result.ChildShards = stream.shards
        .filter((s) => s.parentShardId === shard.shardId || s.adjacentParentShardId === shard.shardId)
        .map(childShard);
    } else {
      result.NextShardIterator = iterators.issue({ ...position, index: next, issuedAt: now });
    }
    return result;
  }

  private describeStream(input: Input): unknown {
    const errors = new ValidationErrors();
    const limit = checkLimit(input.Limit, errors);
    const after = input.ExclusiveStartShardId;
    if (after != null && (typeof after !== 'string' || !SHARD_ID.test(after))) {
      errors.add(
        quote(after),
        'exclusiveStartShardId',
        'Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+',
      );
    }
    errors.throwIfAny();
    const stream = this.context.api.resolveStream(input);
    // Shard ids are zero-padded, so string order is creation order.
    const matching = stream.shards.filter((s) => typeof after !== 'string' || s.shardId > after);
    const page = matching.slice(0, limit);
    return {
      StreamDescription: {
        ...stream.describeCommon(),
        Shards: page.map((s): ShardDescription => s.describe()),
        HasMoreShards: matching.length > page.length,
        StreamCreationTimestamp: new WireTime(stream.createdAt),
      },
    };
  }

  private listStreams(input: Input): unknown {
    const errors = new ValidationErrors();
    const limit = checkLimit(input.Limit, errors);
    errors.throwIfAny();
    let after = typeof input.ExclusiveStartStreamName === 'string' ? input.ExclusiveStartStreamName : '';
    const token = input.NextToken;
    if (token != null) {
      const decoded = typeof token === 'string' ? Buffer.from(token, 'base64url').toString('utf8') : '';
      if (!decoded.startsWith('after:')) {
        throw new KinesisError('InvalidArgumentException', `Invalid NextToken: ${String(token)}`);
      }
      after = decoded.slice('after:'.length);
    }
    const streams = [...this.context.api.streams.values()]
      .filter((s) => s.name > after)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    const page = streams.slice(0, limit);
    const more = streams.length > page.length;
    const result: Input = {
      StreamNames: page.map((s) => s.name),
      HasMoreStreams: more,
      StreamSummaries: page.map((s) => ({
        StreamName: s.name,
        StreamARN: s.arn,
        StreamStatus: 'ACTIVE',
        StreamModeDetails: { StreamMode: s.mode },
        StreamCreationTimestamp: new WireTime(s.createdAt),
      })),
    };
    if (more) result.NextToken = Buffer.from(`after:${page[page.length - 1].name}`).toString('base64url');
    return result;
  }

  /** Deletes at once (AWS shows DELETING for a while); iterators into the stream stop working. */
  private deleteStream(input: Input): unknown {
    const stream = this.context.api.resolveStream(input);
    this.context.api.streams.delete(stream.name);
    return {};
  }

  private shardOf(stream: Stream, shardId: string): Shard {
    const shard = stream.shard(shardId);
    if (shard === undefined) {
      throw new KinesisError(
        'ResourceNotFoundException',
        `Shard ${shardId} in stream ${stream.name} under account ${this.context.accountId} does not exist`,
      );
    }
    return shard;
  }
}

/** The first index whose record satisfies a predicate that is false then true along the log (binary search). */
function firstIndex(records: readonly StoredRecord[], reached: (r: StoredRecord) => boolean): number {
  let lo = 0;
  let hi = records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (reached(records[mid])) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function checkLimit(limit: unknown, errors: ValidationErrors, absent = DEFAULT_PAGE): number {
  if (limit == null) return absent;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1) {
    errors.add(quote(limit), 'limit', 'Member must have value greater than or equal to 1');
  } else if (limit > MAX_LIMIT) {
    errors.add(quote(limit), 'limit', `Member must have value less than or equal to ${MAX_LIMIT}`);
  }
  return limit as number;
}

function childShard(child: Shard): unknown {
  const parents = [child.parentShardId, child.adjacentParentShardId].filter((p) => p !== undefined);
  return {
    ShardId: child.shardId,
    ParentShards: parents,
    HashKeyRange: {
      StartingHashKey: child.startingHashKey.toString(),
      EndingHashKey: child.endingHashKey.toString(),
    },
  };
}
