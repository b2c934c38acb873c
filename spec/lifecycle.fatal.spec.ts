/**
 * Lifecycle: a fatal error accounts for every item: each one is delivered or in `error.unsent`, exactly once.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { from } from 'rxjs';
import {
  KinesisSinkError,
  putAll,
  toKinesis,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import { fatalError, FakeKinesis, seededRandom, serverError } from './support/fake-kinesis.js';
import { keyedItems, toRecord, type Item } from './support/fixtures.js';
import { withVirtualTime } from './support/virtual-time.js';

const STREAM = 'lifecycle-stream';

describe('lifecycle', function () {
  this.timeout(180_000);

  describe('fatal errors carry every item not delivered', () => {
    const FATAL = [
      'ResourceNotFoundException',
      'AccessDeniedException',
      'KMSDisabledException',
      'KMSNotFoundException',
      'KMSAccessDeniedException',
      'KMSInvalidStateException',
      'ValidationException',
      'ExpiredTokenException',
    ];

    it('property: whichever request the fatal error strikes, each item ends exactly once, undelivered ones in unsent', async () => {
      let struck = 0;
      let afterFatal = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            items: fc.integer({ min: 1, max: 300 }),
            fatalAt: fc.integer({ min: 0, max: 40 }),
            fatal: fc.constantFrom(...FATAL),
            maxBatchRecords: fc.constantFrom(1, 7, 50, 500),
            maxInFlightRequests: fc.constantFrom(1, 3, 16),
            recordFailureRate: fc.constantFrom(0, 0.1, 0.5),
            requestErrorRate: fc.constantFrom(0, 0.2),
            ordering: fc.constantFrom<'none' | 'per-key'>('none', 'per-key'),
            api: fc.constantFrom<'toKinesis' | 'putAll'>('toKinesis', 'putAll'),
            maxBufferedRecords: fc.constantFrom(20, 200_000),
            seed: fc.nat(),
          }),
          async (p) =>
            withVirtualTime(async (scheduler) => {
              const records = seededRandom(p.seed);
              const requests = seededRandom(p.seed ^ 0x1b873593);
              const latency = seededRandom(p.seed ^ 0x7feb352d);
              const answered: number[] = []; // request indexes, in the order they were answered
              const fake = new FakeKinesis({
                streamName: STREAM,
                shards: 4,
                latencyMs: () => Math.floor(latency() * 4), // real ms: requests overlap and finish out of order
                records: () => (records() < p.recordFailureRate ? 'InternalFailure' : 'ok'),
                requests: ({ request }) => {
                  answered.push(request);
                  if (request === p.fatalAt) return fatalError(p.fatal);
                  return requests() < p.requestErrorRate ? serverError() : undefined;
                },
              });
              const items = keyedItems(p.items, 30);
              const options: ToKinesisOptions<Item> = {
                client: fake.client,
                streamName: STREAM,
                toRecord,
                scheduler,
                lingerMs: 5,
                maxBatchRecords: p.maxBatchRecords,
                maxInFlightRequests: p.maxInFlightRequests,
                maxBufferedRecords: p.maxBufferedRecords,
                ordering: p.ordering,
                maxAttempts: 1000,
                retryBaseDelayMs: 10,
                shardRecordsPerSecond: Infinity,
                shardBytesPerSecond: Infinity,
              };
              const observable =
                p.api === 'toKinesis'
                  ? from(items).pipe(toKinesis(options))
                  : putAll(
                      (function* () {
                        yield* items;
                      })(),
                      options,
                    );
              const emissions: PutRecordsEmission<Item>[] = [];
              let error: unknown;
              let done = false;
              observable.subscribe({
                next: (e) => emissions.push(e),
                error: (e) => {
                  error = e;
                  done = true;
                },
                complete: () => (done = true),
              });
              await scheduler.runUntil(() => done);

              // With 1,000 attempts an item finally fails only once the pipeline is failing: an entry that
              // failed in the answer to a request still in flight when the fatal error struck is not retried
              // and ends there, finally failed (README: "finally failed where ErrorCode is set and retrying[i]
              // is false"), instead of in `unsent`.
              const fatalAnswer = answered.indexOf(p.fatalAt);
              const delivered = new Map<Item, number>();
              const finallyFailed = new Map<Item, number>();
              for (const e of emissions) {
                const request = fake.requests.find((r) => r.input === e.request)!.index;
                e.items.forEach((item, i) => {
                  const r = e.response.Records![i];
                  if (r.SequenceNumber !== undefined) delivered.set(item, (delivered.get(item) ?? 0) + 1);
                  else if (!e.retrying[i]) {
                    finallyFailed.set(item, (finallyFailed.get(item) ?? 0) + 1);
                    expect(fatalAnswer, `item ${item.id} finally failed`).to.be.at.least(0);
                    expect(answered.indexOf(request), `item ${item.id} finally failed`).to.be.greaterThan(
                      fatalAnswer,
                    );
                  }
                });
              }
              // BUFFER_OVERFLOW can only come before the fatal error is known; then it carries one item.
              const overflowed = error instanceof KinesisSinkError && error.code === 'BUFFER_OVERFLOW';
              if (fake.requests.length <= p.fatalAt || overflowed) {
                // The fatal error never struck: what was taken is delivered, once each.
                if (!overflowed) {
                  expect(error, String(error)).to.equal(undefined);
                  expect(delivered.size).to.equal(items.length);
                }
                expect(finallyFailed.size).to.equal(0);
                for (const n of delivered.values()) expect(n).to.equal(1);
                return;
              }
              struck++;
              expect(error).to.be.instanceOf(KinesisSinkError);
              const e = error as KinesisSinkError<Item>;
              expect(e.code).to.equal('FATAL_REQUEST_ERROR');
              expect((e.cause as Error).name).to.equal(p.fatal);
              expect(e.message)
                .to.contain(p.fatal)
                .and.match(new RegExp(`\\(${e.unsent.length} items unsent\\)$`));
              const unsent = new Map<Item, number>();
              for (const item of e.unsent) unsent.set(item, (unsent.get(item) ?? 0) + 1);
              afterFatal += finallyFailed.size;
              // Every item the source handed over ends exactly once: delivered, unsent or (see above) finally
              // failed.
              const accounted = items.filter(
                (item) => delivered.has(item) || unsent.has(item) || finallyFailed.has(item),
              );
              for (const item of accounted) {
                const ends =
                  (delivered.get(item) ?? 0) + (unsent.get(item) ?? 0) + (finallyFailed.get(item) ?? 0);
                expect(ends, `item ${item.id}`).to.equal(1);
              }
              // Items the source never handed over form a tail: none was skipped in the middle. A synchronous
              // source hands over everything (or up to the item that overflowed the buffer).
              expect(accounted.map((item) => item.id)).to.deep.equal(
                items.slice(0, accounted.length).map((i) => i.id),
              );
              if (p.api === 'toKinesis' && p.maxBufferedRecords > p.items)
                expect(accounted).to.have.length(p.items);
              // The fatal request's own records: refused, so neither delivered nor finally failed: unsent.
              for (const entry of fake.requests[p.fatalAt].input.Records!) {
                const item = items.find((i) => i.data === entry.Data)!;
                expect(unsent.get(item), `item ${item.id} of the fatal request`).to.equal(1);
              }
            }),
        ),
        { numRuns: 150 },
      );
      expect(struck).to.be.greaterThan(50);
      console.log(
        `      (${struck} runs struck; ${afterFatal} items finally failed in answers after the fatal one)`,
      );
    });
  });
});
