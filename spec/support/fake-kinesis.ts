/**
 * Test support: an in-memory fake `KinesisClient` (virtual time lives in `virtual-time.ts`).
 *
 * The fake answers `ListShards` and `PutRecords` the way Kinesis does (evenly split hash-key ranges, MD5 or
 * ExplicitHashKey routing, per-record `ShardId`/`SequenceNumber` or `ErrorCode`), validates requests against
 * the service limits, records every call, and injects per-record failures and request errors from pluggable,
 * seedable policies. It honours `abortSignal`.
 */
import {
  ListShardsCommand,
  PutRecordsCommand,
  type KinesisClient,
  type ListShardsInput,
  type ListShardsOutput,
  type PutRecordsInput,
  type PutRecordsOutput,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { hashKeyOf } from '../../src/kinesis/hash-key.js';

export const MAX_HASH_KEY = (1n << 128n) - 1n;
const KINESIS_MAX_RECORDS = 500;
const KINESIS_MAX_REQUEST_BYTES = 5 * 1024 * 1024;
const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Deterministic randomness

/** mulberry32, the emulator's own seedable PRNG: one implementation for specs and emulator alike. */
export { seededRandom } from '../../src/testing/faults.js';

// ---------------------------------------------------------------------------------------------------------
// Errors shaped like the SDK's

/** An error as the SDK throws it for a service answer: `name` is the error code, `$metadata` the status. */
export function sdkError(name: string, httpStatusCode: number, message = name): Error {
  return Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}

/** A fatal request error: the stream does not exist (or another non-retryable 400). */
export const fatalError = (name = 'ResourceNotFoundException') => sdkError(name, 400, `${name}: fake`);
/** A retryable 500. */
export const serverError = () => sdkError('InternalFailure', 500);
/** A retryable whole-request throttle. */
export const throttleError = () => sdkError('ProvisionedThroughputExceededException', 400);
/** A network failure: no HTTP answer, so no `$metadata`. */
export const networkError = () =>
  Object.assign(new Error('socket hang up'), { name: 'Error', code: 'ECONNRESET' });
/** What the SDK rejects with when the request's abort signal fires. */
export const abortError = () => Object.assign(new Error('Request aborted'), { name: 'AbortError' });

// ---------------------------------------------------------------------------------------------------------
// The fake client

export type RecordOutcome = 'ok' | 'ProvisionedThroughputExceededException' | 'InternalFailure';

export interface RecordContext {
  /** Index of the PutRecords call (0-based, counting every call, errored ones included). */
  request: number;
  /** Index of the entry in the request. */
  index: number;
  entry: PutRecordsRequestEntry;
  shardId: string;
}

/** Decides each entry's fate. */
export type RecordPolicy = (ctx: RecordContext) => RecordOutcome;
/** Returns an error to throw for the whole PutRecords call, or undefined to answer it. */
export type RequestPolicy = (ctx: { request: number; input: PutRecordsInput }) => unknown;

export interface FakeKinesisOptions {
  shards?: number;
  streamName?: string;
  streamARN?: string;
  records?: RecordPolicy;
  requests?: RequestPolicy;
  /** Returns an error to throw for the n-th ListShards call, or undefined. */
  listShards?: (call: number) => unknown;
  /** Shards per ListShards page (NextToken paging). Default: all. */
  listShardsPageSize?: number;
  /** Real milliseconds before a PutRecords call answers. Default 0 (a microtask). */
  latencyMs?: number | ((request: number) => number);
  /** Clock recorded as each request's arrival time. Default `performance.now`. */
  now?: () => number;
}

export interface FakeShard {
  readonly shardId: string;
  readonly start: bigint;
  readonly end: bigint;
}

export interface RecordedRequest {
  readonly index: number;
  readonly input: PutRecordsInput;
  /** `now()` when the call arrived. */
  readonly at: number;
  /** The shard each entry routes to. */
  readonly shardIds: readonly string[];
  readonly signal: AbortSignal | undefined;
  outcome: 'pending' | 'response' | 'error' | 'aborted';
  response?: PutRecordsOutput;
  error?: unknown;
}

export interface StoredRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly data: Uint8Array;
}

/** Bytes one entry counts against the limits: data + UTF-8 partition key. */
export function entryBytes(entry: PutRecordsRequestEntry): number {
  return (entry.Data?.byteLength ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '', 'utf8');
}

/** Shard ranges as Kinesis creates them: the hash-key space split evenly. */
export function evenShards(n: number): FakeShard[] {
  const space = MAX_HASH_KEY + 1n;
  return Array.from({ length: n }, (_, i) => ({
    shardId: `shardId-${String(i).padStart(12, '0')}`,
    start: (space * BigInt(i)) / BigInt(n),
    end: (space * BigInt(i + 1)) / BigInt(n) - 1n,
  }));
}

export class FakeKinesis {
  readonly shards: readonly FakeShard[];
  readonly streamName: string;
  readonly streamARN: string;
  /** Every PutRecords call, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Every ListShards call's input. */
  readonly listShardsCalls: ListShardsInput[] = [];
  /** Accepted records per shard, in sequence order. */
  readonly stored = new Map<string, StoredRecord[]>();
  /** Requests that broke a Kinesis limit (they were answered with a ValidationException). */
  readonly violations: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** The object to pass as `client`. */
  readonly client: KinesisClient;
  private sequence = 0;

  constructor(private readonly options: FakeKinesisOptions = {}) {
    this.shards = evenShards(options.shards ?? 4);
    this.streamName = options.streamName ?? 'fake-stream';
    this.streamARN = options.streamARN ?? `arn:aws:kinesis:us-east-1:123456789012:stream/${this.streamName}`;
    for (const s of this.shards) this.stored.set(s.shardId, []);
    this.client = {
      send: (command: unknown, sendOptions?: { abortSignal?: AbortSignal }) =>
        this.send(command, sendOptions?.abortSignal),
    } as unknown as KinesisClient;
  }

  shardFor(entry: PutRecordsRequestEntry): string {
    const key =
      entry.ExplicitHashKey !== undefined ? BigInt(entry.ExplicitHashKey) : hashKeyOf(entry.PartitionKey!);
    const shard = this.shards.find((s) => key >= s.start && key <= s.end);
    if (!shard) throw new Error(`fake: no shard for ${key}`);
    return shard.shardId;
  }

  /** Every stored record, all shards. */
  get allStored(): StoredRecord[] {
    return [...this.stored.values()].flat();
  }

  private async send(command: unknown, signal: AbortSignal | undefined): Promise<unknown> {
    if (command instanceof ListShardsCommand) return this.listShards(command.input, signal);
    if (command instanceof PutRecordsCommand) return this.putRecords(command.input, signal);
    throw new Error(`fake: unsupported command ${(command as object)?.constructor?.name}`);
  }

  private checkStream(input: { StreamName?: string; StreamARN?: string }): void {
    if (input.StreamName === undefined && input.StreamARN === undefined) {
      throw sdkError('ValidationException', 400, 'either StreamName or StreamARN is required');
    }
    if (
      (input.StreamName !== undefined && input.StreamName !== this.streamName) ||
      (input.StreamARN !== undefined && input.StreamARN !== this.streamARN)
    ) {
      throw sdkError('ResourceNotFoundException', 400, 'Stream not found');
    }
  }

  private async listShards(
    input: ListShardsInput,
    signal: AbortSignal | undefined,
  ): Promise<ListShardsOutput> {
    const call = this.listShardsCalls.length;
    this.listShardsCalls.push(input);
    await Promise.resolve();
    if (signal?.aborted) throw abortError();
    const injected = this.options.listShards?.(call);
    if (injected) throw injected;
    let from = 0;
    if (input.NextToken !== undefined) {
      if (input.StreamName !== undefined || input.StreamARN !== undefined) {
        throw sdkError(
          'InvalidArgumentException',
          400,
          'NextToken and StreamName cannot be provided together',
        );
      }
      from = Number(input.NextToken.replace('token-', ''));
    } else {
      this.checkStream(input);
    }
    const size = this.options.listShardsPageSize ?? this.shards.length;
    const page = this.shards.slice(from, from + size);
    return {
      Shards: page.map((s) => ({
        ShardId: s.shardId,
        HashKeyRange: { StartingHashKey: s.start.toString(), EndingHashKey: s.end.toString() },
        SequenceNumberRange: { StartingSequenceNumber: '0' },
      })),
      NextToken: from + size < this.shards.length ? `token-${from + size}` : undefined,
    };
  }

  private validate(input: PutRecordsInput): string | undefined {
    const records = input.Records ?? [];
    if (records.length < 1 || records.length > KINESIS_MAX_RECORDS) return `${records.length} records`;
    let total = 0;
    for (const r of records) {
      const bytes = entryBytes(r);
      if (!(r.Data instanceof Uint8Array)) return 'Data is not bytes';
      if (!r.PartitionKey || r.PartitionKey.length > 256) return 'bad PartitionKey';
      if (bytes > KINESIS_MAX_RECORD_BYTES) return `record of ${bytes} bytes`;
      total += bytes;
    }
    if (total > KINESIS_MAX_REQUEST_BYTES) return `request of ${total} bytes`;
    return undefined;
  }

  private async putRecords(
    input: PutRecordsInput,
    signal: AbortSignal | undefined,
  ): Promise<PutRecordsOutput> {
    const index = this.requests.length;
    const entries = input.Records ?? [];
    const recorded: RecordedRequest = {
      index,
      input,
      at: (this.options.now ?? (() => performance.now()))(),
      shardIds: entries.map((e) => this.shardFor(e)),
      signal,
      outcome: 'pending',
    };
    this.requests.push(recorded);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await this.wait(index, signal);
      const violation = this.validate(input);
      if (violation) {
        this.violations.push(violation);
        throw sdkError('ValidationException', 400, violation);
      }
      const injected = this.options.requests?.({ request: index, input });
      if (injected) throw injected;
      this.checkStream(input);
      const results: PutRecordsResultEntry[] = entries.map((entry, i) => {
        const shardId = recorded.shardIds[i];
        const outcome = this.options.records?.({ request: index, index: i, entry, shardId }) ?? 'ok';
        if (outcome !== 'ok') {
          return { ErrorCode: outcome, ErrorMessage: `fake ${outcome} for shard ${shardId}` };
        }
        const sequenceNumber = String(++this.sequence).padStart(20, '0');
        this.stored.get(shardId)!.push({
          shardId,
          sequenceNumber,
          partitionKey: entry.PartitionKey!,
          explicitHashKey: entry.ExplicitHashKey,
          data: entry.Data!,
        });
        return { ShardId: shardId, SequenceNumber: sequenceNumber };
      });
      const response: PutRecordsOutput = {
        FailedRecordCount: results.filter((r) => r.ErrorCode !== undefined).length,
        Records: results,
      };
      recorded.outcome = 'response';
      recorded.response = response;
      return response;
    } catch (error) {
      recorded.outcome = (error as Error)?.name === 'AbortError' ? 'aborted' : 'error';
      recorded.error = error;
      throw error;
    } finally {
      this.inFlight--;
    }
  }

  private wait(index: number, signal: AbortSignal | undefined): Promise<void> {
    const latency = this.options.latencyMs;
    const ms = typeof latency === 'function' ? latency(index) : (latency ?? 0);
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(abortError());
      if (ms <= 0) {
        // Answer on a microtask, still checking for an abort meanwhile.
        queueMicrotask(() => (signal?.aborted ? reject(abortError()) : resolve()));
        return;
      }
      const onAbort = () => {
        clearTimeout(timer);
        reject(abortError());
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
