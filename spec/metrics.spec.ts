/**
 * KinesisMetrics: what producers report adds up, per shard and per stream, in every view — `snapshot()`,
 * `metrics$` and OpenTelemetry — and reading them leaves nothing running: `metrics$` has a timer only while
 * subscribed, OpenTelemetry reads counters at collection, and without `@opentelemetry/api` it is a no-op.
 */
import { expect } from 'chai';
import fc from 'fast-check';
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
import { OTHER_ERROR_CODE } from '../src/observe/counters.js';
import { rates } from '../src/observe/rates.js';
import type { MetricsSnapshot, ShardMetrics, StreamMetrics, Summary } from '../src/observe/snapshot.js';

const S = 'sensors';
const S0 = 'shardId-000000000000';
const S1 = 'shardId-000000000001';
const THROTTLED = 'ProvisionedThroughputExceededException';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function summary(values: number[]): Summary {
  if (values.length === 0) return { count: 0, sum: 0, min: 0, max: 0, mean: 0 };
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: values.length,
    sum,
    min: Math.min(...values),
    max: Math.max(...values),
    mean: sum / values.length,
  };
}

/** A scripted run on one stream: two shards, aggregation, a throttle, a retry, a failed request. */
function scripted(m: KinesisMetrics): void {
  m.received(S, 6);
  m.buffered(S, S0, 10);
  m.buffered(S, S0, 30);
  m.buffered(S, S1, 20);
  m.buffered(S, S1, 40);
  // First request: an aggregate of 2 on S0 put, a plain record on S1 put, a plain record on S1 throttled.
  m.request(S, 120, 3, 4);
  m.kinesisRecordPut(S, S0, 2, 300);
  m.userRecordPut(S, S0, 1, 140);
  m.userRecordPut(S, S0, 1, 150);
  m.kinesisRecordPut(S, S1, 1, 100);
  m.userRecordPut(S, S1, 1, 100);
  m.error(S, S1, THROTTLED, 1);
  m.retried(S, S1, 1);
  // Second request: the retry, put.
  m.request(S, 80, 1, 1);
  m.kinesisRecordPut(S, S1, 1, 90);
  m.userRecordPut(S, S1, 2, 90);
  // Third request fails as a whole (no shard): 2 records, finally failed.
  m.request(S, 5000, 2, 2);
  m.error(S, undefined, 'ResourceNotFoundException', 2);
  m.userRecordFailed(S, undefined, 'FATAL_REQUEST_ERROR');
  m.userRecordFailed(S, undefined, 'FATAL_REQUEST_ERROR');
}

describe('KinesisMetrics', () => {
  describe('snapshot()', () => {
    it('counts a scripted run per shard and rolls it up per stream', () => {
      const m = new KinesisMetrics();
      scripted(m);
      const s = m.snapshot().streams[S];

      expect(s.userRecordsReceived).to.equal(6);
      expect(s.userRecordsPut).to.equal(4);
      expect(s.userRecordsDataPut).to.equal(140 + 150 + 100 + 90);
      expect(s.kinesisRecordsPut).to.equal(3);
      expect(s.kinesisRecordsDataPut).to.equal(300 + 100 + 90);
      expect(s.userRecordsFailed).to.equal(2);
      expect(s.userRecordsFailedByCode).to.deep.equal({ FATAL_REQUEST_ERROR: 2 });
      expect(s.errorsByCode).to.deep.equal({ [THROTTLED]: 1, ResourceNotFoundException: 2 });
      expect(s.allErrors).to.equal(3);
      expect(s.throttles).to.equal(1);
      expect(s.retries).to.equal(1);
      expect(s.requestTime).to.deep.equal(summary([120, 80, 5000]));
      expect(s.kinesisRecordsPerRequest).to.deep.equal(summary([3, 1, 2]));
      expect(s.userRecordsPerRequest).to.deep.equal(summary([4, 1, 2]));
      expect(s.bufferingTime).to.deep.equal(summary([10, 30, 20, 40]));
      expect(s.retriesPerRecord).to.deep.equal(summary([0, 0, 0, 1]));
      expect(s.userRecordsPerKinesisRecord).to.deep.equal(summary([2, 1, 1]));

      expect(Object.keys(s.shards).sort()).to.deep.equal([S0, S1]);
      const [a, b] = [s.shards[S0], s.shards[S1]];
      expect(a).to.include({
        userRecordsPut: 2,
        userRecordsDataPut: 290,
        kinesisRecordsPut: 1,
        allErrors: 0,
      });
      expect(a.userRecordsPerKinesisRecord).to.deep.equal(summary([2]));
      expect(a.bufferingTime).to.deep.equal(summary([10, 30]));
      expect(b).to.include({
        userRecordsPut: 2,
        kinesisRecordsPut: 2,
        throttles: 1,
        retries: 1,
        allErrors: 1,
      });
      expect(b.errorsByCode).to.deep.equal({ [THROTTLED]: 1 });
      expect(b.retriesPerRecord).to.deep.equal(summary([0, 1]));
      expect(b.userRecordsFailed).to.equal(0);

      // Put counts always have a shard: the stream's are the sum of its shards'. Errors may not (the failed
      // request above): the stream's are its shards' plus those.
      expect(s.userRecordsPut).to.equal(a.userRecordsPut + b.userRecordsPut);
      expect(s.kinesisRecordsDataPut).to.equal(a.kinesisRecordsDataPut + b.kinesisRecordsDataPut);
      expect(s.allErrors).to.equal(a.allErrors + b.allErrors + 2);
    });

    it('is empty before anything is reported, and reports empty summaries as zeros', () => {
      const m = new KinesisMetrics();
      expect(m.snapshot().streams).to.deep.equal({});
      m.received(S, 1);
      const s = m.snapshot().streams[S];
      expect(s.requestTime).to.deep.equal({ count: 0, sum: 0, min: 0, max: 0, mean: 0 });
      expect(s.shards).to.deep.equal({});
    });

    it('is a plain JSON-serialisable copy: changing one changes neither the metrics nor the next', () => {
      const m = new KinesisMetrics();
      scripted(m);
      const first = m.snapshot();
      const pristine = structuredClone(first);
      expect(JSON.parse(JSON.stringify(first))).to.deep.equal(first);

      const s = first.streams[S];
      s.userRecordsPut = -1;
      s.errorsByCode[THROTTLED] = 99;
      s.requestTime.max = -1;
      s.shards[S0].userRecordsPut = -1;
      s.shards[S1].errorsByCode.Bogus = 1;
      s.shards[S1].bufferingTime.count = 99;
      delete first.streams[S].shards[S1];
      first.streams.other = s;

      expect(m.snapshot().streams).to.deep.equal(pristine.streams);
      // And a snapshot does not follow later reports.
      m.userRecordPut(S, S0, 1, 10);
      expect(pristine.streams[S].userRecordsPut).to.equal(4);
      expect(m.snapshot().streams[S].userRecordsPut).to.equal(5);
    });

    it('keeps streams apart when pipelines of several streams share one instance', () => {
      const m = new KinesisMetrics();
      m.userRecordPut('a', S0, 1, 10);
      m.userRecordPut('b', S0, 3, 20);
      m.userRecordPut('a', S0, 1, 30);
      const { a, b } = m.snapshot().streams;
      expect(a.userRecordsDataPut).to.equal(40);
      expect(b.userRecordsDataPut).to.equal(20);
      expect(b.retriesPerRecord.max).to.equal(2);
      expect(a.shards[S0].userRecordsPut).to.equal(2);
    });

    it('keeps at most 64 error codes per stream, counting the rest under Other without losing any', () => {
      const m = new KinesisMetrics();
      for (let i = 0; i < 100; i++) m.error(S, i % 2 ? S0 : undefined, `Code${i}`, 1);
      for (let i = 0; i < 100; i++) m.userRecordFailed(S, S1, `Failed${i}`);
      const s = m.snapshot().streams[S];
      expect(Object.keys(s.errorsByCode)).to.have.length(64);
      expect(s.errorsByCode[OTHER_ERROR_CODE]).to.equal(100 - 63);
      expect(Object.values(s.errorsByCode).reduce((x, y) => x + y))
        .to.equal(s.allErrors)
        .and.equal(100);
      expect(Object.keys(s.userRecordsFailedByCode)).to.have.length(64);
      // A shard's codes are among its stream's.
      for (const code of Object.keys(s.shards[S0].errorsByCode))
        expect(s.errorsByCode).to.have.property(code);
      expect(s.shards[S1].userRecordsFailedByCode).to.deep.equal(s.userRecordsFailedByCode);
    });
  });

  describe('as reported, for any sequence of reports', () => {
    type Call =
      | { op: 'received'; stream: string; n: number }
      | { op: 'buffered'; stream: string; shard: string; ms: number }
      | { op: 'request'; stream: string; ms: number; k: number; u: number }
      | { op: 'kinesisRecordPut'; stream: string; shard: string; u: number; bytes: number }
      | { op: 'userRecordPut'; stream: string; shard: string; attempts: number; bytes: number }
      | { op: 'error'; stream: string; shard: string | undefined; code: string; n: number }
      | { op: 'retried'; stream: string; shard: string | undefined; n: number }
      | { op: 'userRecordFailed'; stream: string; shard: string | undefined; code: string };

    const stream = fc.constantFrom('a', 'b');
    const shard = fc.constantFrom(S0, S1, 'shardId-000000000002');
    const maybeShard = fc.option(shard, { nil: undefined });
    const code = fc.constantFrom(THROTTLED, 'InternalFailure', 'TimeoutError', 'RETRIES_EXHAUSTED');
    const n = fc.integer({ min: 0, max: 500 });
    const call: fc.Arbitrary<Call> = fc.oneof(
      fc.record({ op: fc.constant('received' as const), stream, n }),
      fc.record({
        op: fc.constant('buffered' as const),
        stream,
        shard,
        ms: fc.integer({ min: 0, max: 60_000 }),
      }),
      fc.record({ op: fc.constant('request' as const), stream, ms: n, k: n, u: n }),
      fc.record({ op: fc.constant('kinesisRecordPut' as const), stream, shard, u: n, bytes: n }),
      fc.record({
        op: fc.constant('userRecordPut' as const),
        stream,
        shard,
        attempts: fc.integer({ min: 1, max: 10 }),
        bytes: n,
      }),
      fc.record({ op: fc.constant('error' as const), stream, shard: maybeShard, code, n }),
      fc.record({ op: fc.constant('retried' as const), stream, shard: maybeShard, n }),
      fc.record({ op: fc.constant('userRecordFailed' as const), stream, shard: maybeShard, code }),
    );

    function play(m: KinesisMetrics, c: Call): void {
      switch (c.op) {
        case 'received':
          return m.received(c.stream, c.n);
        case 'buffered':
          return m.buffered(c.stream, c.shard, c.ms);
        case 'request':
          return m.request(c.stream, c.ms, c.k, c.u);
        case 'kinesisRecordPut':
          return m.kinesisRecordPut(c.stream, c.shard, c.u, c.bytes);
        case 'userRecordPut':
          return m.userRecordPut(c.stream, c.shard, c.attempts, c.bytes);
        case 'error':
          return m.error(c.stream, c.shard, c.code, c.n);
        case 'retried':
          return m.retried(c.stream, c.shard, c.n);
        case 'userRecordFailed':
          return m.userRecordFailed(c.stream, c.shard, c.code);
      }
    }

    /** The shard metrics of `calls`, computed from the list: the model the counters must agree with. */
    function expectedShard(calls: Call[]): ShardMetrics {
      const byCode = (cs: { code: string; n: number }[]) => {
        const out: Record<string, number> = {};
        for (const c of cs) out[c.code] = (out[c.code] ?? 0) + c.n;
        return out;
      };
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      const of = <O extends Call['op']>(op: O) =>
        calls.filter((c): c is Extract<Call, { op: O }> => c.op === op);
      const puts = of('userRecordPut');
      const kinesis = of('kinesisRecordPut');
      const errors = of('error');
      const failed = of('userRecordFailed');
      return {
        userRecordsPut: puts.length,
        userRecordsDataPut: sum(puts.map((c) => c.bytes)),
        userRecordsFailed: failed.length,
        userRecordsFailedByCode: byCode(failed.map((c) => ({ code: c.code, n: 1 }))),
        kinesisRecordsPut: kinesis.length,
        kinesisRecordsDataPut: sum(kinesis.map((c) => c.bytes)),
        errorsByCode: byCode(errors),
        allErrors: sum(errors.map((c) => c.n)),
        throttles: sum(errors.filter((c) => c.code === THROTTLED).map((c) => c.n)),
        retries: sum(of('retried').map((c) => c.n)),
        retriesPerRecord: summary(puts.map((c) => c.attempts - 1)),
        bufferingTime: summary(of('buffered').map((c) => c.ms)),
        userRecordsPerKinesisRecord: summary(kinesis.map((c) => c.u)),
      };
    }

    function expectedStream(calls: Call[]): Omit<StreamMetrics, 'userRecordsPending' | 'pendingBytes'> {
      const requests = calls.filter((c) => c.op === 'request');
      const shards: Record<string, ShardMetrics> = {};
      for (const id of new Set(calls.map((c) => ('shard' in c ? c.shard : undefined)))) {
        if (id !== undefined) shards[id] = expectedShard(calls.filter((c) => 'shard' in c && c.shard === id));
      }
      return {
        ...expectedShard(calls),
        userRecordsReceived: calls.reduce((a, c) => a + (c.op === 'received' ? c.n : 0), 0),
        requestTime: summary(requests.map((c) => c.ms)),
        kinesisRecordsPerRequest: summary(requests.map((c) => c.k)),
        userRecordsPerRequest: summary(requests.map((c) => c.u)),
        shards,
      };
    }

    it('snapshots hold exactly what was reported, per stream and per shard', () => {
      fc.assert(
        fc.property(fc.array(call, { maxLength: 200 }), (calls) => {
          const m = new KinesisMetrics();
          for (const c of calls) play(m, c);
          const snap = m.snapshot();

          const expected: Record<string, unknown> = {};
          for (const name of new Set(calls.map((c) => c.stream))) {
            const mine = calls.filter((c) => c.stream === name);
            expected[name] = { ...expectedStream(mine), userRecordsPending: 0, pendingBytes: 0 };
          }
          expect(snap.streams).to.deep.equal(expected);

          // Roll-up: puts are the sum over shards; errors, retries and failures at least that.
          for (const s of Object.values(snap.streams)) {
            const shards = Object.values(s.shards);
            const total = (k: 'userRecordsPut' | 'kinesisRecordsDataPut' | 'allErrors' | 'retries') =>
              shards.reduce((a, x) => a + x[k], 0);
            expect(s.userRecordsPut).to.equal(total('userRecordsPut'));
            expect(s.kinesisRecordsDataPut).to.equal(total('kinesisRecordsDataPut'));
            expect(s.allErrors).to.be.at.least(total('allErrors'));
            expect(s.retries).to.be.at.least(total('retries'));
            expect(s.bufferingTime.count).to.equal(shards.reduce((a, x) => a + x.bufferingTime.count, 0));
          }
          expect(JSON.parse(JSON.stringify(snap))).to.deep.equal(snap);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('gauges', () => {
    it('are read from attached producers when a snapshot is taken, and summed', () => {
      const m = new KinesisMetrics();
      let reads = 0;
      let pending = 3;
      m.attach(S, () => (reads++, { pending, pendingBytes: pending * 100 }));
      m.attach(S, () => ({ pending: 2, pendingBytes: 50 }));
      m.attach('other', () => ({ pending: 7, pendingBytes: 700 }));
      expect(reads).to.equal(0); // attaching reads nothing: no polling

      let s = m.snapshot().streams[S];
      expect([s.userRecordsPending, s.pendingBytes]).to.deep.equal([5, 350]);
      expect(m.snapshot().streams.other.userRecordsPending).to.equal(7);
      expect(reads).to.equal(2);

      pending = 10;
      s = m.snapshot().streams[S];
      expect([s.userRecordsPending, s.pendingBytes]).to.deep.equal([12, 1050]);
    });

    it('are dropped when detached, and the same function attached twice counts twice', () => {
      const m = new KinesisMetrics();
      const gauge = () => ({ pending: 4, pendingBytes: 40 });
      const detachA = m.attach(S, gauge);
      const detachB = m.attach(S, gauge);
      expect(m.snapshot().streams[S].userRecordsPending).to.equal(8);
      detachA();
      detachA(); // idempotent: does not detach B
      expect(m.snapshot().streams[S].userRecordsPending).to.equal(4);
      let read = false;
      const detachC = m.attach(S, () => ((read = true), { pending: 1, pendingBytes: 1 }));
      detachC();
      detachB();
      const s = m.snapshot().streams[S];
      expect([s.userRecordsPending, s.pendingBytes]).to.deep.equal([0, 0]);
      expect(read).to.equal(false);
      // The stream's counters stay: they are cumulative.
      expect(m.snapshot().streams).to.have.property(S);
    });
  });

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
