/**
 * Metrics as a pipeline reports them: every counter checked against what the emulator saw and what the
 * emissions said, for plain and aggregated records, through faults and a fatal error, and through a real
 * OpenTelemetry SDK.
 */
import { MeterProvider, MetricReader, type DataPoint } from '@opentelemetry/sdk-metrics';
import { expect } from 'chai';
import { from, lastValueFrom, toArray } from 'rxjs';
import { KinesisMetrics, KinesisSinkError, toKinesis, type StreamMetrics } from '../src/index.js';
import { countInFlight, runOnClock } from './support/emulator-time.js';
import { withVirtualTime } from './support/virtual-time.js';
import { EmulatorKit, expected, makeItems, randomKey, toRecord } from './support/emulator-kit.js';

const itemBytes = (items: readonly { key: string; data: Buffer }[]) =>
  items.reduce((n, i) => n + i.data.length + Buffer.byteLength(i.key), 0);

describe('metrics from a running pipeline (emulator)', function () {
  this.timeout(60_000);
  const kit = new EmulatorKit();
  afterEach(() => kit.close());

  it('counts what the emulator and the emissions saw, through throttles and InternalFailure', async () => {
    // The emulator's quota and the operator on one virtual clock: the throttling does not depend on how busy
    // the machine is.
    const { emu, items, metrics, emissions } = await withVirtualTime(async (scheduler) => {
      const emu = await kit.emulator({
        shards: 4,
        streamName: 'm',
        quotas: { recordsPerSecond: 400 },
        faults: { seed: 3, recordFailureRate: 0.1 },
        clock: () => scheduler.now(),
      });
      const client = kit.client(emu);
      const items = makeItems(4_000, randomKey, 5, 60);
      const metrics = new KinesisMetrics();
      const emissions = await runOnClock(
        scheduler,
        countInFlight(client),
        from(items).pipe(
          toKinesis({
            client,
            scheduler,
            streamName: 'm',
            toRecord,
            metrics,
            // Faster than the emulator's quota and not adapting: it throttles.
            shardRecordsPerSecond: 2_000,
            adaptiveRate: false,
            retryBaseDelayMs: 10,
            maxAttempts: 30,
          }),
        ),
      );
      return { emu, items, metrics, emissions };
    });
    const stats = emu.stats();
    const s: StreamMetrics = metrics.snapshot().streams['m'];
    expect(emu.missing(expected(items))).to.deep.equal([]);
    expect(stats.throttled).to.be.above(0);
    expect(stats.failed).to.be.above(0);

    expect(s.userRecordsReceived).to.equal(items.length);
    expect(s.userRecordsPut).to.equal(items.length);
    expect(s.userRecordsPending).to.equal(0);
    expect(s.userRecordsFailed).to.equal(0);
    expect(s.kinesisRecordsPut).to.equal(stats.accepted);
    expect(s.userRecordsDataPut).to.equal(itemBytes(items));
    expect(s.kinesisRecordsDataPut).to.equal(stats.bytes);
    expect(s.throttles).to.equal(stats.throttled);
    expect(s.errorsByCode['ProvisionedThroughputExceededException']).to.equal(stats.throttled);
    expect(s.errorsByCode['InternalFailure']).to.equal(stats.failed);
    expect(s.allErrors).to.equal(stats.throttled + stats.failed);
    const retrying = emissions.reduce((n, e) => n + e.retrying.filter(Boolean).length, 0);
    expect(s.retries).to.equal(retrying);
    expect(s.requestTime.count).to.equal(emissions.length);
    expect(s.kinesisRecordsPerRequest.sum).to.equal(
      emissions.reduce((n, e) => n + e.request.Records!.length, 0),
    );
    const extraAttempts = emissions.reduce(
      (n, e) =>
        n + e.attempts.reduce((m, a, i) => m + (e.response.Records![i].SequenceNumber ? a - 1 : 0), 0),
      0,
    );
    expect(s.retriesPerRecord.count).to.equal(items.length);
    expect(s.retriesPerRecord.sum).to.equal(extraAttempts);
    expect(s.bufferingTime.count).to.equal(items.length);
    // Per shard, as the emulator counted them.
    for (const shard of stats.shards) {
      expect(s.shards[shard.shardId].userRecordsPut, shard.shardId).to.equal(shard.accepted);
      expect(s.shards[shard.shardId].throttles, shard.shardId).to.equal(shard.throttled);
    }
  });

  it('counts Kinesis records and user records apart when aggregating', async () => {
    const emu = await kit.emulator({ shards: 2, streamName: 'agg' });
    const items = makeItems(8_000, (id) => `k${id % 500}`, 9, 80);
    const metrics = new KinesisMetrics();
    await lastValueFrom(
      from(items).pipe(
        toKinesis({
          client: kit.client(emu),
          streamName: 'agg',
          toRecord,
          metrics,
          aggregation: { enabled: true },
        }),
        toArray(),
      ),
    );
    const stats = emu.stats();
    const s = metrics.snapshot().streams['agg'];
    expect(s.userRecordsPut).to.equal(items.length);
    expect(s.userRecordsDataPut).to.equal(itemBytes(items));
    expect(s.kinesisRecordsPut).to.equal(stats.accepted);
    expect(s.kinesisRecordsDataPut).to.equal(stats.bytes);
    expect(s.kinesisRecordsPut).to.be.below(items.length / 20);
    expect(s.userRecordsPerKinesisRecord.sum).to.equal(items.length);
    expect(s.userRecordsPerKinesisRecord.count).to.equal(stats.accepted);
  });

  it('counts every unsent record as failed, with the error’s code, when the pipeline fails', async () => {
    const emu = await kit.emulator({ shards: 1, streamName: 'exists' });
    const items = makeItems(300, randomKey, 2);
    const metrics = new KinesisMetrics();
    const error = await lastValueFrom(
      from(items).pipe(toKinesis({ client: kit.client(emu), streamName: 'missing', toRecord, metrics })),
    ).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(KinesisSinkError);
    const s = metrics.snapshot().streams['missing'];
    expect(s.userRecordsFailed).to.equal((error as KinesisSinkError).unsent.length);
    // An unknown stream is refused for good at startup: FATAL_REQUEST_ERROR (documented since 0.2.0).
    expect(s.userRecordsFailedByCode['FATAL_REQUEST_ERROR']).to.equal(s.userRecordsFailed);
    expect(s.userRecordsPending).to.equal(0);
  });

  it('publishes through a real OpenTelemetry SDK', async () => {
    class Reader extends MetricReader {
      protected override async onForceFlush(): Promise<void> {}
      protected override async onShutdown(): Promise<void> {}
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    try {
      const emu = await kit.emulator({ shards: 2, streamName: 'otel' });
      const items = makeItems(1_000, randomKey, 4);
      const metrics = new KinesisMetrics({ openTelemetry: provider.getMeter('spec') });
      await lastValueFrom(
        from(items).pipe(
          toKinesis({ client: kit.client(emu), streamName: 'otel', toRecord, metrics }),
          toArray(),
        ),
      );
      const { resourceMetrics } = await reader.collect();
      const put = resourceMetrics.scopeMetrics
        .flatMap((s) => s.metrics)
        .find((m) => m.descriptor.name === 'rx_kinesis.user_records.put');
      const points = (put?.dataPoints ?? []) as DataPoint<number>[];
      expect(points.reduce((n, p) => n + p.value, 0)).to.equal(items.length);
      expect(new Set(points.map((p) => p.attributes['aws.kinesis.stream_name']))).to.deep.equal(
        new Set(['otel']),
      );
      metrics.close();
    } finally {
      await provider.shutdown();
    }
  });
});
