/**
 * The fault soak behind `spec/soak.spec.ts` (200,000 records, in CI) and `bench/soak.ts` (`npm run soak`,
 * 1,000,000 records): the operator writes to the in-process emulator with its quotas on and binding (the
 * producer is set 25% above them, so the emulator throttles too) and every fault at once (5% per-record
 * InternalFailure, 2% request-level 500s, 1% connection resets without an answer, half of them applied
 * first, 1–11 ms latency jitter), and the run is then audited record by record:
 *
 * - lost: items that ended in no emission and in no error's `unsent`, plus items an emission reported
 *   delivered that are not in the stream;
 * - duplicates: surplus copies in the stream, and the most resets could explain: a copy can only come from
 *   a request the emulator applied and then reset (`faults.appliedResets`), each carrying at most
 *   `maxBatchRecords` records, and from no more records than the client saw go unanswered;
 * - inversions: per-key order breaks, first copies only (`emu.orderViolations(sent)`).
 *
 * Items are plain ids: the record of an id is computed when it is needed, so a million-record run keeps
 * only a few bytes per record in the producer's bookkeeping and none in the test.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { lastValueFrom, range, tap, type Observable } from 'rxjs';
import * as lib from '../../src/index.js';
import type { KinesisEmission, KinesisRecordInput, ToKinesisOptions } from '../../src/index.js';
import { deaggregate, startEmulator, type FaultCounts, type FaultOptions } from '../../src/testing/index.js';
import { onUnanswered } from './unanswered.js';

const MiB = 1024 * 1024;

export interface SoakOptions {
  records: number;
  ordering: 'none' | 'per-key';
  /** Default 8. */
  shards?: number;
  /** Emulator quota, records/s per shard. Default 1,500: well below what two cores can fill 8 shards with, so it binds. */
  ratePerShard?: number;
  /**
   * The producer's records/s per shard as a multiple of the emulator's quota. Above 1, the emulator throttles
   * what the producer's buckets let through and the adaptive rate has to back off. Default 1.25.
   */
  overdrive?: number;
  /** Distinct partition keys; each key's records are spread over the whole run. Default 5,000. */
  keys?: number;
  /** Records per request: small, so request-level faults hit thousands of requests (the duplicate bound scales with it). Default 50. */
  maxBatchRecords?: number;
  /** `'toKinesis'`: a synchronous `range()` pushed through the operator (all buffered at once);
   * `'putAll'`: pulled through `putAll()` with a bounded buffer. Default `'toKinesis'`. */
  feed?: 'toKinesis' | 'putAll';
  seed?: number;
  /** Pack records into KPL aggregates of at most this many user records. Default: no aggregation. */
  aggregateRecords?: number;
  /** Faults on top of the defaults (5% record failures, 2% 500s, 1% resets, 1–11 ms latency). */
  faults?: FaultOptions;
  /** The library under test: `src/` by default; `bench/soak.ts` passes the built `dist/`. */
  library?: Pick<typeof lib, 'toKinesis' | 'putAll'>;
  /** Called about once a second with records finally settled so far. */
  progress?: (settled: number, elapsedMs: number) => void;
}

export interface SoakResult {
  records: number;
  /** User records per aggregate at most; undefined without aggregation. */
  aggregateRecords: number | undefined;
  ordering: 'none' | 'per-key';
  feed: 'toKinesis' | 'putAll';
  shards: number;
  ratePerShard: number;
  overdrive: number;
  keys: number;
  maxBatchRecords: number;
  durationMs: number;
  /** The Observable's end: `'complete'` or the error's name and code. */
  end: string;
  delivered: number;
  finallyFailed: number;
  /** In the error's `unsent`. */
  unsent: number;
  /** Items with more than one final outcome (must be 0). */
  endedTwice: number;
  /** Neither delivered, finally failed nor unsent; or reported delivered but not in the stream. */
  lost: number;
  duplicates: number;
  /**
   * Every applied request whose answer the client could not use (`appliedResets`, which include resets
   * after the header, plus garbled bodies, short responses and slow answers) × `maxBatchRecords`, plus
   * `emptyEntries`; × `aggregateRecords` when aggregating. With the default faults only `appliedResets`
   * is non-zero.
   */
  duplicateBound: number;
  /** Records in PutRecords attempts that got no HTTP answer, as the client saw them. */
  unansweredRecords: number;
  inversions: number;
  /** User records answered with an ErrorCode (or a wrong shard) and sent again. */
  retriedEntries: number;
  putRecordsRequests: number;
  /** Kinesis records accepted (aggregates count one). */
  kinesisRecords: number;
  throttled: number;
  faults: FaultCounts;
}

/** The key of record `id`: a multiplicative hash, so each key's records are spread over the whole run. */
export const soakKey = (id: number, keys: number) => `key-${(Math.imul(id + 1, 0x9e3779b1) >>> 0) % keys}`;
/** The data of record `id`: distinct per record, so the ledger can tell every record apart. */
export const soakData = (id: number, seed: number) => `soak-${seed}-${id}-0123456789abcdef`;

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const {
    records,
    ordering,
    shards = 8,
    ratePerShard = 1_500,
    keys = 5_000,
    maxBatchRecords = 50,
    feed = 'toKinesis',
    seed = 1,
    overdrive = 1.25,
    library = lib,
    aggregateRecords,
  } = options;
  const emu = await startEmulator({
    shards,
    streamName: 'soak',
    keepRecords: true,
    keepData: false,
    quotas: { recordsPerSecond: ratePerShard, bytesPerSecond: 16 * MiB },
    faults: {
      seed,
      recordFailureRate: 0.05,
      requestFailureRate: 0.02,
      resetRate: 0.01,
      latencyMs: 1,
      jitterMs: 10,
      ...options.faults,
    },
  });
  // HTTP/1.1: a reset takes down its own request only (on HTTP/2 it takes the whole session), so every
  // duplicate traces back to one applied-then-reset request. The SDK's own retries stay on.
  const client = new KinesisClient({
    endpoint: emu.endpoint,
    region: emu.region,
    credentials: { accessKeyId: 'soak', secretAccessKey: 'soak' },
    requestHandler: new NodeHttpHandler(),
  });
  let unansweredRecords = 0;
  onUnanswered(client, 'soakUnanswered', (entry) => {
    unansweredRecords += deaggregate(entry.Data!)?.length ?? 1;
  });

  const finals = new Uint8Array(records); // final outcomes per id
  const deliveredIds = new Uint8Array(records);
  let delivered = 0;
  let finallyFailed = 0;
  let endedTwice = 0;
  let retriedEntries = 0;
  const settle = (id: number, landed: boolean, retrying: boolean) => {
    if (retrying) {
      retriedEntries++;
      return;
    }
    if (landed) {
      delivered++;
      deliveredIds[id] = 1;
    } else finallyFailed++;
    if (finals[id]++ > 0) endedTwice++;
  };
  const tally = (e: KinesisEmission<number>) => {
    const results = e.response.Records ?? [];
    for (let i = 0; i < e.items.length; i++) {
      const landed = results[i]?.SequenceNumber !== undefined;
      if (e.aggregated) e.items[i].forEach((id, j) => settle(id, landed, e.retrying[i][j]));
      else settle(e.items[i], landed, e.retrying[i]);
    }
  };

  const producerOptions: ToKinesisOptions<number, boolean> = {
    client,
    streamName: emu.streamName,
    toRecord: (id): KinesisRecordInput => ({ PartitionKey: soakKey(id, keys), Data: soakData(id, seed) }),
    ordering,
    shardRecordsPerSecond: ratePerShard * overdrive,
    shardBytesPerSecond: 16 * MiB,
    maxBatchRecords,
    lingerMs: 10,
    maxInFlightRequests: 16,
    // Generous: with 5% record failures, 40 attempts fail together with probability 1e-52.
    maxAttempts: 40,
    recordTtlMs: 600_000,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 400,
    maxBufferedRecords: feed === 'toKinesis' ? records : 50_000,
    aggregation: { enabled: aggregateRecords !== undefined, maxRecords: aggregateRecords },
  };
  const pipeline: Observable<KinesisEmission<number>> =
    feed === 'toKinesis'
      ? range(0, records).pipe(library.toKinesis(producerOptions))
      : library.putAll(ids(records), producerOptions);

  const started = performance.now();
  const ticker =
    options.progress &&
    setInterval(() => {
      let settled = 0;
      for (let id = 0; id < records; id++) settled += finals[id] > 0 ? 1 : 0;
      options.progress!(settled, performance.now() - started);
    }, 1000);
  let end = 'complete';
  const unsentIds = new Uint8Array(records);
  let unsent = 0;
  try {
    await lastValueFrom(pipeline.pipe(tap(tally)), { defaultValue: undefined });
  } catch (error) {
    const e = error as { name?: string; code?: string; unsent?: readonly number[] };
    end = `${e?.name ?? 'error'}${e?.code ? ` ${e.code}` : ''}`;
    for (const id of e?.unsent ?? []) {
      unsentIds[id] = 1;
      unsent++;
    }
  } finally {
    if (ticker) clearInterval(ticker);
  }
  const durationMs = performance.now() - started;

  try {
    let lost = 0;
    for (let id = 0; id < records; id++) if (finals[id] === 0 && unsentIds[id] === 0) lost++;
    for (const missing of emu.missing(expected(records, keys, seed)) as SentRecord[]) {
      if (deliveredIds[missing.id] === 1) lost++;
    }
    const stats = emu.stats();
    return {
      records,
      aggregateRecords,
      ordering,
      feed,
      shards,
      ratePerShard,
      overdrive,
      keys,
      maxBatchRecords,
      durationMs,
      end,
      delivered,
      finallyFailed,
      unsent,
      endedTwice,
      lost,
      duplicates: emu.duplicates().count,
      duplicateBound: duplicateBound(stats.faults, maxBatchRecords) * (aggregateRecords ?? 1),
      unansweredRecords,
      inversions: emu.orderViolations(expected(records, keys, seed)).length,
      retriedEntries,
      putRecordsRequests: stats.requests.byOperation.PutRecords ?? 0,
      kinesisRecords: stats.accepted,
      throttled: stats.throttled,
      faults: stats.faults,
    };
  } finally {
    client.destroy();
    await emu.close();
  }
}

/** Kinesis records the client may resend although they landed: the applied requests it got no usable answer to. */
function duplicateBound(faults: FaultCounts, maxBatchRecords: number): number {
  const unusable = faults.appliedResets + faults.garbledBodies + faults.shortResponses + faults.slowAnswers;
  return unusable * maxBatchRecords + faults.emptyEntries;
}

interface SentRecord {
  readonly id: number;
  readonly partitionKey: string;
  readonly data: string;
}

/** The records as sent, in source order, recomputed rather than kept. */
function* expected(records: number, keys: number, seed: number): Generator<SentRecord> {
  for (let id = 0; id < records; id++)
    yield { id, partitionKey: soakKey(id, keys), data: soakData(id, seed) };
}

function* ids(records: number): Generator<number> {
  for (let id = 0; id < records; id++) yield id;
}
