/**
 * KinesisMetrics in its pushed views: `metrics$` (a timer only while subscribed) and OpenTelemetry (counters
 * read at collection; without `@opentelemetry/api` a no-op).
 */
import { expect } from 'chai';
import { metrics as otelMetrics } from '@opentelemetry/api';
import {
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { map, pairwise, VirtualAction, VirtualTimeScheduler, type Subscription } from 'rxjs';
import { KinesisMetrics, type MeterLike } from '../src/observe/metrics.js';
import { rates } from '../src/observe/rates.js';
import type { MetricsSnapshot } from '../src/observe/snapshot.js';
import { S, S0, S1, scripted, THROTTLED } from './support/metrics-kit.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('KinesisMetrics', () => {
  describe('metrics$', () => {
    it('emits a snapshot on subscribe and every intervalMs, in virtual time, and leaves no action behind', () => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, 2500);
      const m = new KinesisMetrics({ intervalMs: 1000, scheduler });
      const seen: MetricsSnapshot[] = [];
      const sub = m.metrics$.subscribe((snap) => seen.push(snap));
      scheduler.schedule(() => m.received(S, 5), 500);
      scheduler.schedule(() => m.received(S, 7), 1500);
      scheduler.flush();

      expect(seen.map((x) => x.time)).to.deep.equal([0, 1000, 2000]);
      expect(seen.map((x) => x.streams[S]?.userRecordsReceived)).to.deep.equal([undefined, 5, 12]);
      expect(scheduler.actions).to.have.length(1); // the next tick, at 3000

      sub.unsubscribe();
      expect(scheduler.actions).to.have.length(0);
      scheduler.maxFrames = 10_000;
      scheduler.flush();
      expect(seen).to.have.length(3);
    });

    it('gives each subscriber its own timer, and close() completes them all and any later one', () => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, 1000);
      const m = new KinesisMetrics({ intervalMs: 250, scheduler });
      let a = 0;
      let completed = 0;
      const subs: Subscription[] = [
        m.metrics$.subscribe({ next: () => a++, complete: () => completed++ }),
        m.metrics$.subscribe({ complete: () => completed++ }),
      ];
      scheduler.flush();
      expect(a).to.equal(5); // 0, 250, 500, 750, 1000
      expect(scheduler.actions).to.have.length(2);

      m.close();
      expect(completed).to.equal(2);
      expect(subs.every((s) => s.closed)).to.equal(true);
      expect(scheduler.actions).to.have.length(0);
      let late = 0;
      m.metrics$.subscribe({ next: () => late++, complete: () => completed++ });
      expect(completed).to.equal(3);
      expect(scheduler.actions).to.have.length(0);
      expect(late).to.equal(0);
      // Counting goes on after close().
      m.received(S, 1);
      expect(m.snapshot().streams[S].userRecordsReceived).to.equal(1);
    });

    it('holds a real timer only while subscribed: nothing keeps Node alive after unsubscribe', async () => {
      const timeouts = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
      const m = new KinesisMetrics({ intervalMs: 5 });
      await new Promise((resolve) => setImmediate(resolve)); // mocha starts this test's timeout timer by now
      const before = timeouts();
      const seen: MetricsSnapshot[] = [];
      const sub = m.metrics$.subscribe((snap) => seen.push(snap));
      expect(timeouts()).to.be.greaterThan(before);
      while (seen.length < 3) await sleep(5);
      sub.unsubscribe();
      await sleep(20); // our own sleeps' timers are gone by now
      expect(timeouts()).to.equal(before);
      const n = seen.length;
      await sleep(20);
      expect(seen).to.have.length(n);
      expect(seen[2].time - seen[0].time).to.be.at.least(9);
    });

    it('turns into rates with rates(): per second, and interval means', () => {
      const scheduler = new VirtualTimeScheduler(VirtualAction, 4000);
      const m = new KinesisMetrics({ intervalMs: 2000, scheduler });
      const out: ReturnType<typeof rates>[] = [];
      m.metrics$
        .pipe(
          pairwise(),
          map(([a, b]) => rates(a, b)),
        )
        .subscribe((r) => out.push(r));
      scheduler.schedule(() => {
        for (let i = 0; i < 10; i++) m.userRecordPut(S, S0, 1, 100);
        m.request(S, 40, 10, 10);
        m.request(S, 60, 10, 10);
      }, 1000);
      scheduler.schedule(() => {
        m.request(S, 300, 1, 1);
        m.error(S, S0, THROTTLED, 4);
      }, 3000);
      scheduler.flush();

      expect(out).to.have.length(2);
      expect(out[0].intervalMs).to.equal(2000);
      expect(out[0].streams[S]).to.include({
        userRecordsPut: 5,
        userRecordsDataPut: 500,
        requests: 1,
        requestTime: 50,
        throttles: 0,
        bufferingTime: 0,
      });
      expect(out[1].streams[S]).to.include({
        userRecordsPut: 0,
        requests: 0.5,
        requestTime: 300,
        throttles: 2,
      });
      expect(rates(m.snapshot(), m.snapshot()).streams[S].userRecordsPut).to.equal(0);
    });

    it('rejects an interval that is not a positive number', () => {
      for (const intervalMs of [0, -1, NaN, Infinity]) {
        expect(() => new KinesisMetrics({ intervalMs })).to.throw(RangeError, /intervalMs/);
      }
    });
  });

  describe('OpenTelemetry', () => {
    class TestReader extends MetricReader {
      protected override async onForceFlush(): Promise<void> {}
      protected override async onShutdown(): Promise<void> {}
    }

    async function collect(reader: MetricReader): Promise<Map<string, MetricData>> {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).to.deep.equal([]);
      const out = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics)
        for (const md of scope.metrics) out.set(md.descriptor.name, md);
      return out;
    }

    /** Data points as `attributes → value`, attributes written `k=v,k=v` in key order. */
    function points(md: MetricData | undefined): Record<string, unknown> {
      const out: Record<string, unknown> = {};
      for (const p of (md?.dataPoints ?? []) as DataPoint<unknown>[]) {
        const key = Object.entries(p.attributes)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(',');
        out[key] = p.value;
      }
      return out;
    }

    const stream = `aws.kinesis.stream_name=${S}`;
    const onShard = (id: string) => `aws.kinesis.shard_id=${id},${stream}`;

    let provider: MeterProvider;
    let reader: TestReader;
    beforeEach(() => {
      reader = new TestReader();
      provider = new MeterProvider({ readers: [reader] });
    });
    afterEach(async () => {
      otelMetrics.disable();
      await provider.shutdown();
    });

    it('publishes the counters to a Meter given, read at collection, with stream, shard and error attributes', async () => {
      const meter: MeterLike = provider.getMeter('mine'); // a real Meter fits MeterLike
      const m = new KinesisMetrics({ openTelemetry: meter });
      expect(await m.openTelemetryReady).to.equal(true);
      let pending = 9;
      m.attach(S, () => ({ pending, pendingBytes: pending * 10 }));
      scripted(m);

      let got = await collect(reader);
      expect(got.get('rx_kinesis.user_records.received')?.descriptor).to.include({ unit: '{record}' });
      expect(points(got.get('rx_kinesis.user_records.received'))).to.deep.equal({ [stream]: 6 });
      expect(points(got.get('rx_kinesis.user_records.pending'))).to.deep.equal({ [stream]: 9 });
      expect(points(got.get('rx_kinesis.user_records.pending_data'))).to.deep.equal({ [stream]: 90 });
      expect(points(got.get('rx_kinesis.user_records.put'))).to.deep.equal({
        [onShard(S0)]: 2,
        [onShard(S1)]: 2,
      });
      expect(got.get('rx_kinesis.user_records.data_put')?.descriptor.unit).to.equal('By');
      expect(points(got.get('rx_kinesis.user_records.data_put'))).to.deep.equal({
        [onShard(S0)]: 290,
        [onShard(S1)]: 190,
      });
      expect(points(got.get('rx_kinesis.kinesis_records.put'))).to.deep.equal({
        [onShard(S0)]: 1,
        [onShard(S1)]: 2,
      });
      expect(points(got.get('rx_kinesis.kinesis_records.data_put'))).to.deep.equal({
        [onShard(S0)]: 300,
        [onShard(S1)]: 190,
      });
      // The whole-request error has no shard, so no shard attribute.
      expect(points(got.get('rx_kinesis.errors'))).to.deep.equal({
        [`${onShard(S1)},error.type=${THROTTLED}`]: 1,
        [`${stream},error.type=ResourceNotFoundException`]: 2,
      });
      expect(points(got.get('rx_kinesis.user_records.failed'))).to.deep.equal({
        [`${stream},error.type=FATAL_REQUEST_ERROR`]: 2,
      });
      expect(points(got.get('rx_kinesis.throttles'))).to.deep.equal({ [onShard(S0)]: 0, [onShard(S1)]: 1 });
      expect(points(got.get('rx_kinesis.retries'))).to.deep.equal({ [onShard(S0)]: 0, [onShard(S1)]: 1 });
      expect(points(got.get('rx_kinesis.requests'))).to.deep.equal({ [stream]: 3 });
      expect(got.get('rx_kinesis.requests')?.dataPointType).to.equal(DataPointType.SUM);

      // Counters are read at collection: what happens next shows in the next one.
      m.userRecordPut(S, S0, 1, 10);
      pending = 0;
      got = await collect(reader);
      expect(points(got.get('rx_kinesis.user_records.put'))[onShard(S0)]).to.equal(3);
      expect(points(got.get('rx_kinesis.user_records.pending'))).to.deep.equal({ [stream]: 0 });
    });

    it('records histograms: durations in seconds, retries and records per request and per Kinesis record', async () => {
      const m = new KinesisMetrics({ openTelemetry: provider.getMeter('mine') });
      scripted(m);
      const got = await collect(reader);
      const hist = (name: string, attrs: string) => {
        const md = got.get(name);
        expect(md?.dataPointType, name).to.equal(DataPointType.HISTOGRAM);
        return points(md)[attrs] as Histogram;
      };
      const request = hist('rx_kinesis.request.duration', stream);
      expect(got.get('rx_kinesis.request.duration')?.descriptor.unit).to.equal('s');
      expect(request).to.include({ count: 3, min: 0.08, max: 5 });
      expect(request.sum).to.be.closeTo(5.2, 1e-9);
      expect(request.buckets.boundaries).to.include(0.005).and.include(60);
      expect(hist('rx_kinesis.request.kinesis_records', stream)).to.include({ count: 3, sum: 6 });
      expect(hist('rx_kinesis.request.user_records', stream)).to.include({ count: 3, sum: 7 });
      expect(hist('rx_kinesis.user_record.buffering.duration', onShard(S1))).to.include({
        count: 2,
        max: 0.04,
      });
      expect(hist('rx_kinesis.user_record.retries', onShard(S1))).to.include({ count: 2, sum: 1 });
      expect(hist('rx_kinesis.kinesis_record.user_records', onShard(S0))).to.include({ count: 1, sum: 2 });
    });

    it('with true, uses the global meter of @opentelemetry/api once it is loaded', async () => {
      otelMetrics.setGlobalMeterProvider(provider);
      const m = new KinesisMetrics({ openTelemetry: true });
      expect(await m.openTelemetryReady).to.equal(true);
      m.received(S, 4);
      const { resourceMetrics } = await reader.collect();
      const scope = resourceMetrics.scopeMetrics.find((s) => s.scope.name === 'rx-kinesis');
      const received = scope?.metrics.find((md) => md.descriptor.name === 'rx_kinesis.user_records.received');
      expect(points(received)).to.deep.equal({ [stream]: 4 });
    });

    it('is a silent no-op when @opentelemetry/api cannot be loaded', async () => {
      otelMetrics.setGlobalMeterProvider(provider); // would be used, were the package found
      const missing = Object.assign(new Error("Cannot find package '@opentelemetry/api'"), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
      const m = new KinesisMetrics({ openTelemetry: true }, () => Promise.reject(missing));
      expect(await m.openTelemetryReady).to.equal(false);
      scripted(m);
      expect(m.snapshot().streams[S].userRecordsPut).to.equal(4);
      expect((await collect(reader)).size).to.equal(0);
      // A module without a usable `metrics` is treated the same.
      const odd = new KinesisMetrics({ openTelemetry: true }, async () => ({}));
      expect(await odd.openTelemetryReady).to.equal(false);
    });

    it('is not loaded at all unless asked for', async () => {
      let imported = 0;
      const m = new KinesisMetrics({}, async () => (imported++, await import('@opentelemetry/api')));
      expect(await m.openTelemetryReady).to.equal(false);
      expect(imported).to.equal(0);
    });

    it('close() unregisters from the meter, also when it comes before the package has loaded', async () => {
      const m = new KinesisMetrics({ openTelemetry: provider.getMeter('mine') });
      m.received(S, 1);
      expect(points((await collect(reader)).get('rx_kinesis.user_records.received'))).to.deep.equal({
        [stream]: 1,
      });
      m.close();
      m.received(S, 1);
      const after = points((await collect(reader)).get('rx_kinesis.user_records.received'));
      // The SDK keeps repeating the last value it read; it no longer reads ours (which is 2 now).
      expect(after).to.deep.equal({ [stream]: 1 });

      otelMetrics.setGlobalMeterProvider(provider);
      const early = new KinesisMetrics({ openTelemetry: true });
      early.close();
      expect(await early.openTelemetryReady).to.equal(false);
      early.received('early', 1);
      const { resourceMetrics } = await reader.collect();
      expect(resourceMetrics.scopeMetrics.some((s) => s.scope.name === 'rx-kinesis')).to.equal(false);
    });
  });
});
