import { Dispatcher } from './dispatcher.js';
import { dialHost, positive, streamsOf, type EmulatorOptions } from './emulator-options.js';
import { FaultInjector, type FaultOptions } from './faults.js';
import { KinesisApi } from './kinesis-api.js';
import {
  RecordLedger,
  type AcceptedRecord,
  type DuplicateGroup,
  type ExpectedRecord,
  type OrderCheckOptions,
  type OrderViolation,
} from './ledger.js';
import { ShardQuota, resolveQuota } from './quota.js';
import { ReadApi } from './read-api.js';
import { ReadQuota } from './read-quota.js';
import { ShardIterators } from './shard-iterators.js';
import { ShardLogs } from './shard-log.js';
import { DualProtocolServer } from './server.js';
import { peak, type EmulatorStats, type ShardStats } from './stats.js';
import type { ShardDescription, Stream } from './stream-state.js';

export type { EmulatorOptions, EmulatorStream } from './emulator-options.js';

/**
 * An in-process Amazon Kinesis Data Streams endpoint for tests: PutRecords, PutRecord, ListShards,
 * DescribeStreamSummary, CreateStream, SplitShard and MergeShards over the SDK's JSON 1.1 protocol, on
 * HTTP/1.1 and HTTP/2, with provisioned-mode quotas, seeded fault injection, live resharding and a
 * ledger of what was written. Its read side (GetShardIterator, GetRecords, DescribeStream, ListStreams,
 * DeleteStream) keeps AWS's read limits, and CBOR (the Java SDK's and KCL's default) is served too.
 * Create it with {@link startEmulator}.
 *
 * @example
 * ```ts
 * const emu = await startEmulator({ shards: 2 });
 * const client = new KinesisClient({
 *   endpoint: emu.endpoint,
 *   region: 'us-east-1',
 *   credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
 * });
 * await client.send(new PutRecordCommand({ StreamName: 'demo', PartitionKey: 'k', Data: Buffer.from('hi') }));
 * emu.records.length; // 1
 * await emu.close();
 * ```
 */
export class KinesisEmulator {
  /** `http://HOST:PORT` (default `http://127.0.0.1:PORT`), the `endpoint` for a `KinesisClient`. */
  readonly endpoint: string;
  /** The stream created at start (the first of `streams`). */
  readonly streamName: string;
  readonly region: string;
  readonly accountId: string;

  private readonly faults: FaultInjector;
  private readonly ledger: RecordLedger;
  private readonly api: KinesisApi;
  private readonly dispatcher: Dispatcher;

  private constructor(
    options: EmulatorOptions,
    private readonly server: DualProtocolServer,
  ) {
    const clock = options.clock ?? Date.now;
    const quota = options.quotas === false ? undefined : resolveQuota(options.quotas);
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    if (!/^\d{12}$/.test(this.accountId)) throw new RangeError('accountId must be 12 digits, as in ARNs');
    const streams = streamsOf(options);
    this.streamName = streams[0].name;
    this.faults = new FaultInjector(options.faults, clock);
    this.ledger = new RecordLedger(options.keepData ?? true, options.keepRecords ?? true);
    const readQuotas = options.readQuotas;
    const shardLogs = new ShardLogs((options.keepData ?? true) && (options.keepRecords ?? true), () =>
      readQuotas === false ? undefined : new ReadQuota(readQuotas ?? {}, clock()),
    );
    this.api = new KinesisApi({
      region: this.region,
      accountId: this.accountId,
      maxRecordBytes: positive('maxRecordBytes', options.maxRecordBytes ?? 1024 * 1024),
      maxRequestBytes: positive('maxRequestBytes', options.maxRequestBytes ?? 5 * 1024 * 1024),
      nextTokenTtlMs: positive('nextTokenTtlMs', options.nextTokenTtlMs ?? 300_000),
      faults: this.faults,
      ledger: this.ledger,
      clock,
      startedAt: clock(),
      makeQuota: quota === undefined ? () => undefined : () => new ShardQuota(quota, clock()),
      shardLogs,
    });
    const iterators = new ShardIterators();
    new ReadApi({
      api: this.api,
      logs: shardLogs,
      iterators,
      clock,
      accountId: this.accountId,
    }).registerActions();
    for (const stream of streams) this.api.createStream(stream.name, stream.shards ?? 1);
    this.dispatcher = new Dispatcher(this.api, this.faults, server, this.accountId);
    this.endpoint = `http://${dialHost(options.host ?? '127.0.0.1')}:${server.port}`;
  }

  /** @internal Use {@link startEmulator}. */
  static async start(options: EmulatorOptions = {}): Promise<KinesisEmulator> {
    let emulator: KinesisEmulator | undefined;
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer 0..65535 (0: a free port), got ${port}`);
    }
    const server = await DualProtocolServer.listen(
      (request, response) => emulator?.dispatcher.receive(request, response),
      options.host ?? '127.0.0.1',
      port,
    );
    try {
      emulator = new KinesisEmulator(options, server);
    } catch (error) {
      await server.close();
      throw error;
    }
    return emulator;
  }

  /** Names of the streams that exist now: created at start or by CreateStream, not deleted. */
  get streamNames(): string[] {
    return [...this.api.streams.keys()];
  }

  /** ARN of the stream created at start. */
  get streamArn(): string {
    return this.stream().arn;
  }

  /** Every accepted record, in arrival order (empty with `keepRecords: false`). */
  get records(): readonly AcceptedRecord[] {
    return this.ledger.records;
  }

  /** The faults in force. */
  get currentFaults(): Readonly<Required<Omit<FaultOptions, 'seed'>>> {
    return this.faults.current;
  }

  /** Changes the injected faults while running; omitted fields keep their value, `seed` restarts the PRNG. */
  setFaults(faults: FaultOptions): void {
    this.faults.set(faults);
  }

  /** Creates another stream, ACTIVE at once, as the CreateStream action does. */
  createStream(streamName: string, shardCount = 1): void {
    this.api.createStream(streamName, shardCount);
  }

  /** All shards of a stream (open and closed) in ListShards form. */
  listShards(streamName = this.streamName): ShardDescription[] {
    return this.stream(streamName).shards.map((s) => s.describe());
  }

  /**
   * Splits an open shard at `newStartingHashKey` (default: mid-range) and returns the two child shard ids.
   * The parent closes at once; later writes route to the children.
   */
  splitShard(
    shardId: string,
    newStartingHashKey?: bigint | string,
    streamName = this.streamName,
  ): [string, string] {
    const at = newStartingHashKey === undefined ? undefined : BigInt(newStartingHashKey);
    const [low, high] = this.stream(streamName).split(shardId, at);
    return [low.shardId, high.shardId];
  }

  /** Merges two adjacent open shards and returns the child shard id. */
  mergeShards(shardId: string, adjacentShardId: string, streamName = this.streamName): string {
    return this.stream(streamName).merge(shardId, adjacentShardId).shardId;
  }

  /** The records of `expected` that never landed (multiset: sending one twice expects two copies). */
  missing(expected: Iterable<ExpectedRecord>, streamName?: string): ExpectedRecord[] {
    this.requireLedger();
    return this.ledger.missing(expected, streamName);
  }

  /**
   * Records that landed more than once (same partition key and data); `count` is the surplus copies. Pass
   * what the producer sent if it legitimately sends identical records.
   */
  duplicates(
    expected?: Iterable<ExpectedRecord>,
    streamName?: string,
  ): { count: number; groups: DuplicateGroup[] } {
    this.requireLedger();
    return this.ledger.duplicates(expected, streamName);
  }

  /** Per-key order breaks: records that landed before an earlier-sent record of the same key. */
  orderViolations(sent: Iterable<ExpectedRecord>, options?: OrderCheckOptions): OrderViolation[] {
    this.requireLedger();
    return this.ledger.orderViolations(sent, options);
  }

  /** Forgets the logged records (counters in `stats()` are kept). */
  clearRecords(): void {
    this.ledger.clear();
  }

  /** Counters of one stream (default: the one created at start) and of the whole server. */
  stats(streamName = this.streamName): EmulatorStats {
    const shards = this.stream(streamName).shards.map((s): ShardStats => ({
      shardId: s.shardId,
      open: s.open,
      parentShardId: s.parentShardId,
      adjacentParentShardId: s.adjacentParentShardId,
      startingHashKey: s.startingHashKey,
      endingHashKey: s.endingHashKey,
      accepted: s.accepted,
      throttled: s.throttled,
      failed: s.failed,
      bytes: s.bytes,
      peakPerSecond: peak(s.timeline),
      timeline: s.timeline.slice(),
    }));
    const timeline: number[] = [];
    for (const shard of shards) {
      shard.timeline.forEach((n, second) => (timeline[second] = (timeline[second] ?? 0) + n));
    }
    for (let i = 0; i < timeline.length; i++) timeline[i] ??= 0;
    const sum = (pick: (s: ShardStats) => number): number => shards.reduce((t, s) => t + pick(s), 0);
    return {
      streamName,
      accepted: sum((s) => s.accepted),
      throttled: sum((s) => s.throttled),
      failed: sum((s) => s.failed),
      bytes: sum((s) => s.bytes),
      timeline,
      peakPerSecond: peak(timeline),
      shards,
      requests: {
        total: this.dispatcher.counts.total,
        byOperation: { ...this.dispatcher.counts.byOperation },
        errors: { ...this.dispatcher.counts.errors },
      },
      faults: { ...this.faults.counts },
    };
  }

  /** Stops the server and frees every socket, session and timer; requests still delayed are dropped. */
  async close(): Promise<void> {
    this.dispatcher.close();
    await this.server.close();
  }

  private stream(streamName = this.streamName): Stream {
    const stream = this.api.streams.get(streamName);
    if (stream === undefined) throw new RangeError(`no stream named ${streamName}`);
    return stream;
  }

  private requireLedger(): void {
    if (!this.ledger.enabled)
      throw new Error('records are not kept: start the emulator with keepRecords: true');
  }
}

/**
 * Starts a Kinesis emulator and resolves once it listens: on a free loopback port unless `host`/`port` say
 * otherwise (a taken port rejects with the `EADDRINUSE` error of `node:net`).
 *
 * @example
 * ```ts
 * import { startEmulator } from 'rx-kinesis/testing';
 *
 * const emu = await startEmulator({ shards: 4, streamName: 'demo' });
 * const client = new KinesisClient({ endpoint: emu.endpoint, region: emu.region, credentials });
 * // ... run the producer ...
 * expect(emu.missing(sent)).to.deep.equal([]);
 * await emu.close();
 * ```
 */
export function startEmulator(options: EmulatorOptions = {}): Promise<KinesisEmulator> {
  return KinesisEmulator.start(options);
}
