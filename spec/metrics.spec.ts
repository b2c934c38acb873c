/**
 * KinesisMetrics: what producers report adds up, per shard and per stream, in every view — `snapshot()`,
 * `metrics$` and OpenTelemetry — and reading them leaves nothing running: `metrics$` has a timer only while
 * subscribed, OpenTelemetry reads counters at collection, and without `@opentelemetry/api` it is a no-op.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { KinesisMetrics } from '../src/observe/metrics.js';
import { OTHER_ERROR_CODE } from '../src/observe/counters.js';
import type { ShardMetrics, StreamMetrics } from '../src/observe/snapshot.js';
import { S, S0, S1, scripted, summary, THROTTLED } from './support/metrics-kit.js';

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
});
