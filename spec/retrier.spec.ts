/**
 * The Retrier stage on its own, in virtual time: how each entry of a PutRecords response is classified,
 * what the shard limiters are told (throttles charge, InternalFailures refund), which records are final,
 * retried after backoff or held for a map refresh (misplaced aggregates), the metrics, and the emission.
 */
import type { PutRecordsInput, PutRecordsOutput, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import fc from 'fast-check';
import type { KinesisSinkErrorCode } from '../src/errors.js';
import { InvalidRecordError } from '../src/kinesis/records.js';
import { KinesisMetrics } from '../src/observe/metrics.js';
import { AggregateBuilder, type Outgoing } from '../src/pipeline/aggregation.js';
import type { KinesisEmission } from '../src/pipeline/emissions.js';
import { admitItem, type PendingRecord } from '../src/pipeline/pending.js';
import { Retrier, type RetrierOptions } from '../src/pipeline/retrier.js';
import { fatalError, serverError, throttleError } from './support/fake-kinesis.js';
import { withVirtualTime, type VirtualScheduler } from './support/virtual-time.js';

const S0 = 'shardId-0';
const S1 = 'shardId-1';
const OK = (shardId = S0): PutRecordsResultEntry => ({ ShardId: shardId, SequenceNumber: '1' });
const ERR = (code: string): PutRecordsResultEntry => ({ ErrorCode: code, ErrorMessage: code });
const THROTTLED = 'ProvisionedThroughputExceededException';

/** A user record routed to `shardId`, sent `attempts` times (the sender has counted this request). */
function pending(item: string, shardId = S0, attempts = 1, firstSentAt = 0): PendingRecord<string> {
  const r = admitItem(item, { maxRecordBytes: 1 << 20, toRecord: (k) => ({ PartitionKey: k, Data: k }) }, 0);
  if (r instanceof InvalidRecordError) throw r;
  return Object.assign(r, { shardId, attempts, firstSentAt });
}

function aggregate(items: string[], shardId = S0, attempts = 1): Outgoing<string> {
  const builder = new AggregateBuilder<string>();
  for (const item of items) builder.add(pending(item, shardId, attempts));
  return builder.seal();
}

const requestOf = (batch: Outgoing<string>[]): PutRecordsInput => ({
  StreamName: 's',
  Records: batch.map((u) => u.record.entry),
});

function setup(scheduler: VirtualScheduler, options: Partial<RetrierOptions> = {}, open = [S0, S1]) {
  const log = {
    throttled: [] as [string, number, number][],
    refunded: [] as [string, number, number][],
    routed: [] as [string, number][],
    held: [] as string[],
    refreshes: 0,
    settled: [] as string[],
    emissions: [] as KinesisEmission<string>[],
    failures: [] as KinesisSinkErrorCode[],
  };
  const metrics = new KinesisMetrics({ scheduler });
  const retrier = new Retrier<string>(
    {
      maxAttempts: 3,
      recordTtlMs: 60_000,
      retryBaseDelayMs: 100,
      retryMaxDelayMs: 5_000,
      scheduler,
      random: () => 0.5,
      aggregation: undefined,
      metrics,
      ...options,
    },
    {
      limiters: {
        throttled: (shardId, records, bytes) => void log.throttled.push([shardId, records, bytes]),
        refund: (shardId, records, bytes) => void log.refunded.push([shardId, records, bytes]),
      },
      router: {
        route: (r) => void log.routed.push([r.item, scheduler.now()]),
        knows: (shardId) => open.includes(shardId),
        holdForRefresh: (records) => void log.held.push(...records.map((r) => r.item)),
        refresh: () => void log.refreshes++,
        rangeOf: () => undefined,
        refreshThen: (then) => then(), // the fake map learns nothing: every member goes again
      },
      stream: 's',
      settle: (r) => void log.settled.push(r.item),
      emit: (e) => void log.emissions.push(e),
      idle: () => {},
      fail: (code) => void log.failures.push(code),
    },
  );
  const stream = () => metrics.snapshot().streams['s'];
  return { retrier, log, stream };
}

describe('Retrier (result and retry stage, virtual time)', () => {
  it('classifies each entry: delivered settles, errors retry; the emission lines up by index', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log, stream } = setup(scheduler);
      const batch = [pending('a'), pending('b'), pending('c', S1), pending('d'), pending('e')];
      const response: PutRecordsOutput = {
        Records: [OK(), ERR(THROTTLED), ERR('InternalFailure'), OK(S0)],
        FailedRecordCount: 2,
      }; // 'e' has no result at all: a malformed response
      retrier.onResponse(batch, requestOf(batch), response, 20);
      expect(log.settled).to.deep.equal(['a', 'd']);
      expect(log.emissions).to.have.length(1);
      const e = log.emissions[0];
      expect(e.aggregated).to.equal(undefined);
      expect(e.items).to.deep.equal(['a', 'b', 'c', 'd', 'e']);
      expect(e.attempts).to.deep.equal([1, 1, 1, 1, 1]);
      expect(e.retrying).to.deep.equal([false, true, true, false, true]);
      expect(retrier.size).to.equal(3);
      const s = stream();
      expect(s.userRecordsPut).to.equal(2);
      expect(s.kinesisRecordsPut).to.equal(2);
      expect(s.errorsByCode).to.deep.equal({ [THROTTLED]: 1, InternalFailure: 1, NoResult: 1 });
      expect(s.throttles).to.equal(1);
      expect(s.retries).to.equal(3);
      expect(s.requestTime.sum).to.equal(20);
      // Full jitter: random 0.5 of base·2^0 = 100 ms → 50 ms, all three together.
      await scheduler.advance(49);
      expect(log.routed).to.deep.equal([]);
      await scheduler.advance(1);
      expect(log.routed).to.deep.equal([
        ['b', 50],
        ['c', 50],
        ['e', 50],
      ]);
      expect(retrier.size).to.equal(0);
    }));

  it('feeds the limiters back: a throttle charges the shard, an InternalFailure refunds it, others neither', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log } = setup(scheduler, {}, [S0]); // S1 no longer in the map
      const batch = [pending('t'), pending('i'), pending('x'), pending('gone', S1), pending('ok')];
      const bytes = batch[0].record.bytes;
      retrier.onResponse(
        batch,
        requestOf(batch),
        { Records: [ERR(THROTTLED), ERR('InternalFailure'), ERR('SomethingElse'), ERR(THROTTLED), OK()] },
        5,
      );
      expect(log.throttled).to.deep.equal([[S0, 1, bytes]]); // not S1: its limiter is gone with its lane
      expect(log.refunded).to.deep.equal([[S0, 1, bytes]]);
    }));

  it('records out of attempts (or past their TTL) are final: settled, failed in the metrics, not retrying', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log, stream } = setup(scheduler, { recordTtlMs: 1_000 });
      await scheduler.advance(2_000);
      const batch = [
        pending('spent', S0, 3, 1_500),
        pending('old', S0, 1, 0),
        pending('young', S0, 1, 1_500),
      ];
      retrier.onResponse(
        batch,
        requestOf(batch),
        { Records: [ERR(THROTTLED), ERR(THROTTLED), ERR(THROTTLED)] },
        5,
      );
      expect(log.settled).to.deep.equal(['spent', 'old']);
      expect(log.emissions[0].retrying).to.deep.equal([false, false, true]);
      expect(stream().userRecordsFailed).to.equal(2);
      expect(stream().userRecordsFailedByCode).to.deep.equal({ [THROTTLED]: 2 });
    }));

  it('an aggregate that landed on another shard: members held for a map refresh, counted as WrongShard', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log, stream } = setup(scheduler, {
        aggregation: { maxRecords: 10, maxBytes: 50_000 },
      });
      const misplaced = aggregate(['m1', 'm2']);
      const fine = aggregate(['f1', 'f2', 'f3'], S1);
      const throttled = aggregate(['t1', 't2']);
      const batch = [misplaced, fine, throttled];
      retrier.onResponse(batch, requestOf(batch), { Records: [OK(S1), OK(S1), ERR(THROTTLED)] }, 5);
      expect(log.held).to.deep.equal(['m1', 'm2']);
      expect(log.refreshes).to.equal(1);
      expect(log.settled).to.deep.equal(['f1', 'f2', 'f3']);
      // An aggregate is one Kinesis record: one charge for it, whatever it holds.
      expect(log.throttled).to.deep.equal([[S0, 1, throttled.record.bytes]]);
      const e = log.emissions[0];
      expect(e.aggregated).to.equal(true);
      expect(e.items).to.deep.equal([
        ['m1', 'm2'],
        ['f1', 'f2', 'f3'],
        ['t1', 't2'],
      ]);
      expect(e.retrying).to.deep.equal([
        [true, true],
        [false, false, false],
        [true, true],
      ]);
      const s = stream();
      expect(s.errorsByCode).to.deep.equal({ WrongShard: 2, [THROTTLED]: 2 });
      expect(s.kinesisRecordsPut).to.equal(1);
      expect(s.userRecordsPut).to.equal(3);
      await scheduler.advance(5_000);
      expect(log.routed.map(([item]) => item)).to.deep.equal(['t1', 't2']); // the misplaced wait for the map
    }));

  it('a plain record on another shard is delivered, and the map is refreshed (it proved stale)', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log } = setup(scheduler);
      const batch = [pending('a')];
      retrier.onResponse(batch, requestOf(batch), { Records: [OK(S1)] }, 5);
      expect(log.settled).to.deep.equal(['a']);
      expect(log.held).to.deep.equal([]);
      expect(log.refreshes).to.equal(1);
    }));

  it('a request without a response: retried whole after backoff (throttle charged), or the pipeline fails', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log, stream } = setup(scheduler);
      const batch = [pending('a'), pending('b', S1)];
      retrier.onRequestError(batch, throttleError(), 9);
      expect(log.throttled.map(([shard]) => shard)).to.deep.equal([S0, S1]);
      expect(stream().errorsByCode).to.deep.equal({ [THROTTLED]: 2 });
      expect(log.emissions).to.deep.equal([]);
      await scheduler.advance(100);
      expect(log.routed.map(([item]) => item)).to.deep.equal(['a', 'b']);
      expect(log.failures).to.deep.equal([]);

      retrier.onRequestError([pending('c')], serverError(), 9);
      expect(log.throttled).to.have.length(2); // a 500 is not a throttle: nothing charged
      retrier.onRequestError([pending('d')], fatalError(), 9);
      expect(log.failures).to.deep.equal(['FATAL_REQUEST_ERROR']);
      retrier.onRequestError([pending('e', S0, 3)], serverError(), 9);
      expect(log.failures).to.deep.equal(['FATAL_REQUEST_ERROR', 'RETRIES_EXHAUSTED']);
    }));

  it('once stopped (the pipeline fails) nothing is retried: failed records are final', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log } = setup(scheduler);
      retrier.onRequestError([pending('waiting')], serverError(), 1);
      expect(retrier.size).to.equal(1);
      retrier.stopRetrying();
      expect(retrier.size).to.equal(0);
      expect(scheduler.pending).to.equal(0);
      const batch = [pending('a'), pending('b')];
      retrier.onResponse(batch, requestOf(batch), { Records: [OK(), ERR(THROTTLED)] }, 1);
      expect(log.settled).to.deep.equal(['a', 'b']);
      expect(log.emissions[0].retrying).to.deep.equal([false, false]);
      await scheduler.advance(10_000);
      expect(log.routed).to.deep.equal([]);
    }));

  it('closed inside the emission (the subscriber unsubscribed): no retry timer is left behind', () =>
    withVirtualTime(async (scheduler) => {
      const { retrier, log } = setup(scheduler);
      let emitted = 0;
      const original = log.emissions.push.bind(log.emissions);
      log.emissions.push = (...e) => {
        emitted++;
        retrier.close();
        return original(...e);
      };
      const batch = [pending('a'), pending('b')];
      retrier.onResponse(batch, requestOf(batch), { Records: [ERR(THROTTLED), ERR(THROTTLED)] }, 1);
      expect(emitted).to.equal(1);
      expect(scheduler.pending).to.equal(0);
      // Control: without the close, the same response leaves one backoff timer.
      const control = setup(scheduler);
      control.retrier.onResponse(batch, requestOf(batch), { Records: [ERR(THROTTLED), ERR(THROTTLED)] }, 1);
      expect(scheduler.pending).to.equal(1);
      control.retrier.close();
    }));

  it('property: every user record of a response is settled or sent again, exactly one of the two', () =>
    withVirtualTime(async (scheduler) => {
      const outcome = fc.constantFrom<PutRecordsResultEntry | undefined>(
        OK(),
        OK(S1),
        ERR(THROTTLED),
        ERR('InternalFailure'),
        undefined,
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              size: fc.integer({ min: 1, max: 3 }),
              attempts: fc.integer({ min: 1, max: 3 }),
              outcome,
            }),
          ),
          fc.boolean(),
          async (units, aggregated) => {
            const { retrier, log } = setup(scheduler, {
              aggregation: aggregated ? { maxRecords: 10, maxBytes: 50_000 } : undefined,
            });
            let n = 0;
            const batch = units.map(({ size, attempts }) => {
              const items = Array.from({ length: aggregated ? size : 1 }, () => `r${n++}`);
              return aggregated ? aggregate(items, S0, attempts) : pending(items[0], S0, attempts);
            });
            retrier.onResponse(batch, requestOf(batch), { Records: units.map((u) => u.outcome!) }, 1);
            await scheduler.advance(10_000);
            const again = [...log.routed.map(([item]) => item), ...log.held];
            const all = [...log.settled, ...again].sort();
            expect(all).to.deep.equal(Array.from({ length: n }, (_, i) => `r${i}`).sort());
            const flags = (log.emissions[0].retrying as (boolean | boolean[])[]).flat();
            expect(flags.filter(Boolean)).to.have.length(again.length);
            retrier.close();
          },
        ),
        { numRuns: 100 },
      );
    }));
});
