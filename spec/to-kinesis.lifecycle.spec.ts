/** toKinesis: ending, unsubscribing, back-pressure, volume and option checks. */
import { expect } from 'chai';
import { from, Subject, tap } from 'rxjs';
import {
  KinesisSinkError,
  putAll,
  toKinesis,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import { fatalError, seededRandom } from './support/fake-kinesis.js';
import { withVirtualTime } from './support/virtual-time.js';
import { runToEnd, start } from './support/run.js';
import {
  ids,
  makeItems,
  outcomes,
  QUOTAS_OFF,
  range,
  realDelay,
  until,
  type Item,
  fakeWith,
  options,
  STREAM,
} from './support/fixtures.js';

describe('toKinesis', () => {
  describe('lifecycle', () => {
    it('completes only after every retry has been answered', async () => {
      let failures = 0;
      const fake = fakeWith({
        records: ({ index }) => (index % 2 === 0 && failures++ < 40 ? 'InternalFailure' : 'ok'),
      });
      const run = await runToEnd(from(makeItems(40)).pipe(toKinesis(options(fake))));
      expect(run.completed).to.equal(true);
      expect(fake.requests.every((r) => r.outcome === 'response')).to.equal(true);
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 40));
      expect(run.emissions.at(-1)!.retrying.every((r) => !r)).to.equal(true);
    });

    it("forwards the source's error after everything accepted was sent and emitted", async () => {
      const fake = fakeWith({
        latencyMs: 5,
        records: ({ request, index }) => (request === 0 && index === 0 ? 'InternalFailure' : 'ok'),
      });
      const boom = new Error('source failed');
      const source = new Subject<Item>();
      const items = makeItems(12);
      const run = start(source.pipe(toKinesis(options(fake, { lingerMs: 1000 }))));
      for (const item of items) source.next(item);
      source.error(boom);
      await run.finished;
      expect(run.error).to.equal(boom);
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 12));
    });

    it('unsubscribing aborts requests in flight, clears timers and limiters, and emits nothing more', async () => {
      await realDelay(20);
      const baseline = process.getActiveResourcesInfo();
      const fake = fakeWith({ latencyMs: 10_000 });
      const source = new Subject<Item>();
      // Default rates: most records wait in shard lanes for tokens; the rest are in flight or lingering.
      const run = start(source.pipe(toKinesis(options(fake, { maxBatchRecords: 50, lingerMs: 1000 }))));
      for (const item of makeItems(2000)) source.next(item);
      await until(() => fake.inFlight > 0, 'requests in flight');
      const inFlight = fake.requests.filter((r) => r.outcome === 'pending');
      run.subscription.unsubscribe();
      expect(source.observed).to.equal(false);
      await realDelay(20);
      expect(inFlight.every((r) => r.signal?.aborted === true && r.outcome === 'aborted')).to.equal(true);
      expect(fake.inFlight).to.equal(0);
      const sentBefore = fake.requests.length;
      await realDelay(150); // past a refill of the buckets, had they still been running
      expect(fake.requests).to.have.length(sentBefore);
      expect(run.emissions).to.have.length(0);
      expect(run.done).to.equal(false);
      const count = (list: string[], type: string) => list.filter((t) => t === type).length;
      const now = process.getActiveResourcesInfo();
      expect(count(now, 'Timeout'), now.join()).to.be.at.most(count(baseline, 'Timeout'));
      expect(now.length, now.join()).to.be.at.most(baseline.length);
    });

    it('unsubscribing while retries wait clears their timers (virtual time: nothing left scheduled)', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({ records: () => 'InternalFailure' });
        const run = start(
          from(makeItems(100)).pipe(
            toKinesis(options(fake, { scheduler, retryBaseDelayMs: 500, random: () => 0.5 })),
          ),
        );
        await scheduler.runUntil(() => run.emissions.length > 0);
        expect(scheduler.pending).to.be.greaterThan(0);
        run.subscription.unsubscribe();
        await scheduler.settle();
        expect(scheduler.pending).to.equal(0);
      });
    });
  });

  describe('back-pressure', () => {
    it('ends with BUFFER_OVERFLOW when a synchronous source overruns maxBufferedRecords; accepted ones are delivered', async () => {
      const fake = fakeWith();
      const items = makeItems(50);
      let pulled = 0;
      const run = await runToEnd(
        from(items).pipe(
          tap(() => pulled++),
          toKinesis(options(fake, { maxBufferedRecords: 20 })),
        ),
      );
      expect(run.error).to.be.instanceOf(KinesisSinkError);
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('BUFFER_OVERFLOW');
      expect(error.unsent).to.deep.equal([items[20]]);
      expect(pulled).to.equal(21);
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 20));
    });

    it('putAll feeds a 50,000-item async generator holding at most maxBufferedRecords', async () => {
      const fake = fakeWith({ latencyMs: 2 });
      const total = 50_000;
      let finals = 0;
      let maxAhead = 0;
      async function* generate() {
        const random = seededRandom(7);
        for (let id = 0; id < total; id++) {
          // `id` items were taken so far; those not finally delivered or failed are held by the producer.
          maxAhead = Math.max(maxAhead, id - finals);
          expect(id - finals).to.be.at.most(1000);
          yield { id, key: `k${Math.floor(random() * 1e6)}`, data: new Uint8Array(8) };
        }
      }
      const finalsOf = (e: PutRecordsEmission<Item>) =>
        e.items.filter((_, i) => e.response.Records![i].SequenceNumber !== undefined || !e.retrying[i])
          .length;
      // Count finals as emissions arrive: synchronously, before the producer makes room for more.
      const run = start(
        putAll(generate(), options(fake, { maxBufferedRecords: 1000, ...QUOTAS_OFF })).pipe(
          tap((e) => (finals += finalsOf(e))),
        ),
      );
      await run.finished;
      expect(run.completed, String(run.error)).to.equal(true);
      const { delivered, failed } = outcomes(run.emissions);
      expect(failed).to.have.length(0);
      expect(delivered).to.have.length(total);
      expect(new Set(delivered.map((i) => i.id)).size).to.equal(total);
      expect(maxAhead).to.be.within(1, 1000);
    });

    it('putAll reports every item it pulled when Kinesis fails fatally: delivered or unsent', async () => {
      const fake = fakeWith({
        latencyMs: 1,
        requests: ({ request }) => (request === 5 ? fatalError() : undefined),
      });
      const items = makeItems(5000);
      const pulled: Item[] = [];
      async function* generate() {
        for (const item of items) {
          pulled.push(item);
          yield item;
        }
      }
      const run = await runToEnd(
        putAll(generate(), options(fake, { maxBufferedRecords: 100, maxBatchRecords: 20 })),
      );
      expect(run.error).to.be.instanceOf(KinesisSinkError);
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('FATAL_REQUEST_ERROR');
      const { delivered, failed } = outcomes(run.emissions);
      expect(failed).to.deep.equal([]);
      expect(pulled.length).to.be.lessThan(items.length); // it stopped pulling
      expect(ids([...delivered, ...error.unsent])).to.deep.equal(ids(pulled));
    });
  });

  describe('volume', () => {
    it('delivers a synchronous from(array) of 100,000 small records with default options (quotas off)', async () => {
      const fake = fakeWith();
      const records = Array.from({ length: 100_000 }, (_, i) => ({ PartitionKey: `p${i}`, Data: `${i}` }));
      const run = await runToEnd(
        from(records).pipe(toKinesis({ client: fake.client, streamName: STREAM, ...QUOTAS_OFF })),
      );
      expect(run.completed, String(run.error)).to.equal(true);
      const { delivered } = outcomes(run.emissions);
      expect(delivered).to.have.length(100_000);
      expect(new Set(delivered).size).to.equal(100_000);
      expect(fake.allStored).to.have.length(100_000);
      expect(Math.max(...fake.requests.map((r) => r.input.Records!.length))).to.equal(500);
    });

    it('delivers 3,000 records with the default per-shard rates', async () => {
      const fake = fakeWith();
      const records = Array.from({ length: 3000 }, (_, i) => ({ PartitionKey: `p${i}`, Data: `${i}` }));
      const run = await runToEnd(from(records).pipe(toKinesis({ client: fake.client, streamName: STREAM })));
      expect(run.completed, String(run.error)).to.equal(true);
      expect(new Set(outcomes(run.emissions).delivered).size).to.equal(3000);
      expect(fake.allStored).to.have.length(3000);
    });
  });

  describe('options', () => {
    const fake = fakeWith();
    const base = { client: fake.client, streamName: STREAM };
    const bad: [string, Partial<ToKinesisOptions>, typeof RangeError | typeof TypeError][] = [
      ['no client', { client: undefined }, TypeError],
      ['no stream', { streamName: undefined }, TypeError],
      ['maxBatchRecords 0', { maxBatchRecords: 0 }, RangeError],
      ['maxBatchRecords 501', { maxBatchRecords: 501 }, RangeError],
      ['maxBatchRecords 2.5', { maxBatchRecords: 2.5 }, RangeError],
      ['maxBatchBytes above 5 MiB', { maxBatchBytes: 5 * 1024 * 1024 + 1 }, RangeError],
      ['maxBatchBytes below maxRecordBytes', { maxBatchBytes: 1000, maxRecordBytes: 1001 }, RangeError],
      ['maxRecordBytes 0', { maxRecordBytes: 0 }, RangeError],
      ['maxRecordBytes above 10 MiB', { maxRecordBytes: 10 * 1024 * 1024 + 1 }, RangeError],
      ['negative lingerMs', { lingerMs: -1 }, RangeError],
      ['NaN lingerMs', { lingerMs: NaN }, RangeError],
      ['zero shardRecordsPerSecond', { shardRecordsPerSecond: 0 }, RangeError],
      ['NaN shardBytesPerSecond', { shardBytesPerSecond: NaN }, RangeError],
      ['zero shardBurstMs', { shardBurstMs: 0 }, RangeError],
      ['zero maxInFlightRequests', { maxInFlightRequests: 0 }, RangeError],
      ['zero maxAttempts', { maxAttempts: 0 }, RangeError],
      ['fractional maxAttempts', { maxAttempts: 1.5 }, RangeError],
      ['negative recordTtlMs', { recordTtlMs: -5 }, RangeError],
      ['zero maxBufferedRecords', { maxBufferedRecords: 0 }, RangeError],
      ['maxBufferedBytes below maxRecordBytes', { maxBufferedBytes: 100, maxRecordBytes: 200 }, RangeError],
    ];
    for (const [label, patch, type] of bad) {
      it(`throws ${type.name} at toKinesis() for ${label}`, () => {
        expect(() => toKinesis({ ...base, ...patch } as ToKinesisOptions)).to.throw(type);
      });
    }

    it('accepts Infinity rates, a zero linger and a StreamARN alone', () => {
      expect(() =>
        toKinesis({
          client: fake.client,
          streamARN: 'arn:x',
          lingerMs: 0,
          ...QUOTAS_OFF,
          maxInFlightRequests: 1,
        }),
      ).to.not.throw();
    });
  });
});
