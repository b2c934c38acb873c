/** toKinesis: what happens to invalid records, failed records and failed requests. */
import { expect } from 'chai';
import { from, Subject, tap } from 'rxjs';
import { InvalidRecordError, KinesisSinkError, toKinesis } from '../src/index.js';
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import {
  abortError,
  fatalError,
  networkError,
  sdkError,
  serverError,
  throttleError,
} from './support/fake-kinesis.js';
import { withVirtualTime } from './support/virtual-time.js';
import { runToEnd, start } from './support/run.js';
import {
  ids,
  itemOf,
  makeItems,
  outcomes,
  QUOTAS_OFF,
  range,
  until,
  type Item,
  fakeWith,
  options,
  STREAM,
} from './support/fixtures.js';

describe('toKinesis', () => {
  describe('invalid records', () => {
    const withInvalid = (): Item[] => {
      const items = makeItems(9);
      items[5] = { ...items[5], key: '' }; // PARTITION_KEY_EMPTY
      return items;
    };

    it('by default, end the Observable with the InvalidRecordError after everything before it is sent', async () => {
      const fake = fakeWith();
      const items = withInvalid();
      let pulled = 0;
      const run = await runToEnd(
        from(items).pipe(
          tap(() => pulled++),
          toKinesis(options(fake)),
        ),
      );
      expect(run.error).to.be.instanceOf(InvalidRecordError);
      const error = run.error as InvalidRecordError<Item>;
      expect(error.reason).to.equal('PARTITION_KEY_EMPTY');
      expect(error.item).to.equal(items[5]);
      expect(pulled).to.equal(6); // the source was left at the invalid record
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 5));
      const sentKeys = fake.requests.flatMap((r) => r.input.Records!.map((e) => e.PartitionKey));
      expect(sentKeys).to.not.include('');
      expect(sentKeys).to.have.length(5);
    });

    it('with onInvalidRecord, report it there and carry on', async () => {
      const fake = fakeWith();
      const items = withInvalid();
      items[7] = { ...items[7], data: 42 as unknown as Uint8Array };
      const reported: InvalidRecordError<Item>[] = [];
      const run = await runToEnd(
        from(items).pipe(toKinesis(options(fake, { onInvalidRecord: (e) => reported.push(e) }))),
      );
      expect(run.completed).to.equal(true);
      expect(reported.map((e) => [e.reason, e.item])).to.deep.equal([
        ['PARTITION_KEY_EMPTY', items[5]],
        ['DATA_NOT_BYTES', items[7]],
      ]);
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal([0, 1, 2, 3, 4, 6, 8]);
      expect(fake.requests.flatMap((r) => r.input.Records!)).to.have.length(7);
    });

    it('report a throwing toRecord as TO_RECORD_FAILED with the cause', async () => {
      const fake = fakeWith();
      const boom = new Error('boom');
      const run = await runToEnd(
        from([1, 2, 3]).pipe(
          toKinesis({
            client: fake.client,
            streamName: STREAM,
            lingerMs: 1,
            toRecord: (n: number) => {
              if (n === 2) throw boom;
              return { PartitionKey: `k${n}`, Data: `${n}` };
            },
          }),
        ),
      );
      expect(run.error).to.be.instanceOf(InvalidRecordError);
      expect((run.error as InvalidRecordError).reason).to.equal('TO_RECORD_FAILED');
      expect((run.error as InvalidRecordError).cause).to.equal(boom);
      expect(outcomes(run.emissions).delivered).to.deep.equal([1]);
    });

    it('refuse a record over maxRecordBytes, counting UTF-8 key bytes', async () => {
      const fake = fakeWith();
      const reported: InvalidRecordError<Item>[] = [];
      const items = [
        { id: 0, key: 'éé', data: new Uint8Array(96) }, // 96 + 4 = 100: fits
        { id: 1, key: 'éé', data: new Uint8Array(97) }, // 101: too large
      ];
      const run = await runToEnd(
        from(items).pipe(
          toKinesis(options(fake, { maxRecordBytes: 100, onInvalidRecord: (e) => reported.push(e) })),
        ),
      );
      expect(run.completed).to.equal(true);
      expect(reported.map((e) => e.reason)).to.deep.equal(['RECORD_TOO_LARGE']);
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal([0]);
    });
  });

  describe('retries', () => {
    it('resend only the failed entries, counting attempts', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({
          records: ({ request, index }) =>
            request > 0
              ? 'ok'
              : index === 1
                ? 'ProvisionedThroughputExceededException'
                : index === 3
                  ? 'InternalFailure'
                  : 'ok',
        });
        const items = makeItems(5);
        const run = start(from(items).pipe(toKinesis(options(fake, { scheduler }))));
        await scheduler.runUntil(() => run.done);
        expect(run.completed).to.equal(true);
        expect(run.emissions).to.have.length(2);
        const [first, second] = run.emissions;
        expect(ids([...first.items])).to.deep.equal(range(0, 5));
        expect(first.attempts).to.deep.equal([1, 1, 1, 1, 1]);
        expect(first.retrying).to.deep.equal([false, true, false, true, false]);
        expect(first.response.Records!.map((r) => r.ErrorCode)).to.deep.equal([
          undefined,
          'ProvisionedThroughputExceededException',
          undefined,
          'InternalFailure',
          undefined,
        ]);
        expect(second.items).to.deep.equal([first.items[1], first.items[3]]);
        expect(second.request.Records).to.deep.equal([first.request.Records![1], first.request.Records![3]]);
        expect(second.attempts).to.deep.equal([2, 2]);
        expect(second.retrying).to.deep.equal([false, false]);
        expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 5));
      });
    });

    it('finally fail an entry after maxAttempts sends (retrying false) and still complete', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({
          records: ({ entry }) => (entry.PartitionKey === 'bad' ? 'InternalFailure' : 'ok'),
        });
        const items = makeItems(4);
        items[2] = { ...items[2], key: 'bad' };
        const run = start(from(items).pipe(toKinesis(options(fake, { scheduler, maxAttempts: 3 }))));
        await scheduler.runUntil(() => run.done);
        expect(run.completed).to.equal(true);
        const sends = run.emissions.filter((e) => e.items.includes(items[2]));
        expect(sends.map((e) => e.attempts[e.items.indexOf(items[2])])).to.deep.equal([1, 2, 3]);
        expect(sends.map((e) => e.retrying[e.items.indexOf(items[2])])).to.deep.equal([true, true, false]);
        expect(sends.at(-1)!.response.Records![sends.at(-1)!.items.indexOf(items[2])].ErrorCode).to.equal(
          'InternalFailure',
        );
        const { delivered, failed } = outcomes(run.emissions);
        expect(failed).to.deep.equal([items[2]]);
        expect(ids(delivered)).to.deep.equal([0, 1, 3]);
        expect(fake.requests.map((r) => r.input.Records!.length)).to.deep.equal([4, 1, 1]);
      });
    });

    it('finally fail an entry once recordTtlMs has passed since its first send', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({ now: () => scheduler.now(), records: () => 'InternalFailure' });
        const run = start(
          from(makeItems(1)).pipe(
            toKinesis(
              options(fake, {
                scheduler,
                maxAttempts: 1000,
                recordTtlMs: 1000,
                retryBaseDelayMs: 100,
                retryMaxDelayMs: 100,
                random: () => 0.999, // every backoff is 99 ms
              }),
            ),
          ),
        );
        await scheduler.runUntil(() => run.done);
        expect(run.completed).to.equal(true);
        const sentAt = fake.requests.map((r) => r.at);
        expect(sentAt[0]).to.equal(0); // the source completed at once: nothing to linger for
        // Retried while less than 1,000 ms old at its answer, then finally failed.
        expect(sentAt.at(-1)! - sentAt[0]).to.be.at.least(1000 - 104);
        expect(sentAt.at(-2)! - sentAt[0]).to.be.below(1000);
        expect(run.emissions.map((e) => e.retrying[0])).to.deep.equal([
          ...new Array(run.emissions.length - 1).fill(true),
          false,
        ]);
        expect(run.emissions.map((e) => e.attempts[0])).to.deep.equal(range(1, run.emissions.length + 1));
      });
    });

    it('retry retryable request errors (5xx, throttling, network) like failed entries', async () => {
      await withVirtualTime(async (scheduler) => {
        const errors = [serverError(), throttleError(), networkError(), sdkError('ServiceUnavailable', 503)];
        const fake = fakeWith({ requests: ({ request }) => errors[request] });
        const items = makeItems(10);
        const run = start(from(items).pipe(toKinesis(options(fake, { scheduler }))));
        await scheduler.runUntil(() => run.done);
        expect(run.completed).to.equal(true);
        expect(fake.requests.map((r) => r.outcome)).to.deep.equal([
          'error',
          'error',
          'error',
          'error',
          'response',
        ]);
        expect(run.emissions).to.have.length(1);
        expect(run.emissions[0].attempts).to.deep.equal(new Array(10).fill(5));
        expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 10));
      });
    });

    it('end with RETRIES_EXHAUSTED, every undelivered item unsent, when request errors outlast maxAttempts', async () => {
      const fake = fakeWith({ requests: ({ request }) => (request === 0 ? undefined : serverError()) });
      const items = makeItems(30);
      const run = await runToEnd(
        from(items).pipe(
          toKinesis(options(fake, { maxBatchRecords: 10, maxInFlightRequests: 1, maxAttempts: 3 })),
        ),
      );
      expect(run.error).to.be.instanceOf(KinesisSinkError);
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('RETRIES_EXHAUSTED');
      expect((error.cause as Error).name).to.equal('InternalFailure');
      const { delivered } = outcomes(run.emissions);
      expect(delivered).to.deep.equal(run.emissions[0].items); // only request 0 was answered
      expect(ids([...error.unsent, ...delivered])).to.deep.equal(range(0, 30));
      expect(fake.requests.filter((r) => r.outcome === 'response')).to.have.length(1);
    });
  });

  describe('fatal request errors', () => {
    for (const name of [
      'ResourceNotFoundException',
      'AccessDeniedException',
      'ValidationException',
      'InvalidArgumentException',
      'KMSAccessDeniedException',
    ]) {
      it(`end with FATAL_REQUEST_ERROR on ${name}, with the cause and every undelivered item`, async () => {
        await withVirtualTime(async (scheduler) => {
          const fake = fakeWith({
            requests: ({ request }) => (request === 2 ? fatalError(name) : undefined),
          });
          const items = makeItems(50);
          const run = start(
            from(items).pipe(
              toKinesis(options(fake, { scheduler, maxBatchRecords: 10, maxInFlightRequests: 1 })),
            ),
          );
          await scheduler.runUntil(() => run.done);
          expect(run.error).to.be.instanceOf(KinesisSinkError);
          const error = run.error as KinesisSinkError<Item>;
          expect(error.code).to.equal('FATAL_REQUEST_ERROR');
          expect((error.cause as Error).name).to.equal(name);
          expect(error.message).to.contain(name);
          expect(fake.requests).to.have.length(3); // nothing sent after the fatal answer
          const { delivered } = outcomes(run.emissions);
          expect(delivered).to.deep.equal([...run.emissions[0].items, ...run.emissions[1].items]);
          expect(delivered).to.have.length(20);
          expect(error.unsent).to.have.length(30);
          expect(ids([...error.unsent, ...delivered])).to.deep.equal(range(0, 50));
        });
      });
    }

    it('a request that never answers holds a fatal error back only until its deadline (0.2.0: 100 of 100 unaccounted at 20 s)', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({ requests: ({ request }) => (request === 1 ? fatalError() : undefined) });
        let puts = 0;
        const client = {
          send: (command: unknown, o?: { abortSignal?: AbortSignal }) => {
            if (command instanceof PutRecordsCommand && puts++ === 0) {
              // The first PutRecords stalls: only its abort signal ends it.
              return new Promise((_resolve, reject) =>
                o!.abortSignal!.addEventListener('abort', () => reject(abortError()), { once: true }),
              );
            }
            return (fake.client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, o);
          },
        } as unknown as KinesisClient;
        const items = makeItems(20);
        const run = start(
          from(items).pipe(
            toKinesis({
              ...options(fake, { scheduler, maxBatchRecords: 10, requestTimeoutMs: 2_000, ...QUOTAS_OFF }),
              client,
            }),
          ),
        );
        await scheduler.advance(1_900);
        expect(run.done).to.equal(false); // the fatal answer came long ago; the stalled request is still out
        await scheduler.runUntil(() => run.done);
        const deadline = 2_000 + Math.ceil((10 * 20 * 1000) / (256 * 1024)); // requestTimeoutMs + bytes
        expect(scheduler.now()).to.be.within(deadline, deadline + 10);
        const error = run.error as KinesisSinkError<Item>;
        expect(error.code).to.equal('FATAL_REQUEST_ERROR');
        // Every item ends once: the stalled request's and the refused one's in unsent, others delivered.
        const { delivered } = outcomes(run.emissions);
        expect(ids([...error.unsent, ...delivered]).sort((a, b) => a - b)).to.deep.equal(range(0, 20));
        expect(error.unsent.length).to.be.at.least(10); // at least the stalled request's
      });
    });

    it('leave out of unsent the items of requests in flight that were delivered', async () => {
      // Request 1 fails fatally while 0 and 2 are in flight; they succeed afterwards.
      const fake = fakeWith({
        latencyMs: (r) => (r === 1 ? 1 : 30),
        requests: ({ request }) => (request === 1 ? fatalError() : undefined),
      });
      const items = makeItems(30);
      const run = await runToEnd(
        from(items).pipe(toKinesis(options(fake, { maxBatchRecords: 10, ...QUOTAS_OFF }))),
      );
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('FATAL_REQUEST_ERROR');
      expect(fake.requests.map((r) => r.outcome)).to.deep.equal(['response', 'error', 'response']);
      const { delivered } = outcomes(run.emissions);
      expect(delivered).to.have.length(20);
      expect(ids([...error.unsent])).to.deep.equal(
        ids(fake.requests[1].input.Records!.map((e) => itemOf(items, e))),
      );
      expect(ids([...error.unsent, ...delivered])).to.deep.equal(range(0, 30));
    });

    it('report the item the source was left at in unsent when a fatal error follows (invalid, overflow)', async () => {
      for (const [label, patch, leftAt] of [
        ['invalid record', {}, 5],
        ['buffer overflow', { maxBufferedRecords: 5 }, 5],
      ] as const) {
        const fake = fakeWith({ requests: () => fatalError() });
        const items = makeItems(8);
        items[5] = label === 'invalid record' ? { ...items[5], key: '' } : items[5];
        const run = await runToEnd(from(items).pipe(toKinesis(options(fake, patch))));
        const error = run.error as KinesisSinkError<Item>;
        expect(error, label).to.be.instanceOf(KinesisSinkError);
        expect(error.code, label).to.equal('FATAL_REQUEST_ERROR');
        expect(ids([...error.unsent]), label).to.deep.equal(range(0, leftAt + 1));
        expect(error.message, label).to.match(/\(6 items unsent\)$/);
      }
    });

    it('end the Observable even while the source is still open, and take nothing after', async () => {
      const fake = fakeWith({ requests: () => fatalError() });
      const source = new Subject<Item>();
      const items = makeItems(20);
      const run = start(source.pipe(toKinesis(options(fake))));
      for (const item of items.slice(0, 10)) source.next(item);
      await until(() => run.done, 'the fatal error');
      expect(source.observed).to.equal(false); // the source was left
      for (const item of items.slice(10)) source.next(item); // neither throws nor reaches Kinesis
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('FATAL_REQUEST_ERROR');
      expect(ids([...error.unsent])).to.deep.equal(range(0, 10));
      const sent = fake.requests.flatMap((r) => r.input.Records!.map((e) => itemOf(items, e)));
      expect(sent.length).to.be.within(1, 10);
      expect(sent.every((item) => item.id < 10)).to.equal(true);
    });
  });
});
