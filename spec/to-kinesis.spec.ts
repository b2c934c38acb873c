import { expect } from 'chai';
import { from, Subject, tap } from 'rxjs';
import {
  InvalidRecordError,
  KinesisSinkError,
  putAll,
  toKinesis,
  type KinesisRecordInput,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import {
  entryBytes,
  fatalError,
  FakeKinesis,
  networkError,
  sdkError,
  seededRandom,
  serverError,
  throttleError,
  type FakeKinesisOptions,
} from './support/fake-kinesis.js';
import { withVirtualTime } from './support/virtual-time.js';
import { runToEnd, start } from './support/run.js';

const STREAM = 'fake-stream';
const QUOTAS_OFF = { shardRecordsPerSecond: Infinity, shardBytesPerSecond: Infinity } as const;

interface Item {
  id: number;
  key: string;
  data: Uint8Array;
}

const toRecord = (item: Item): KinesisRecordInput => ({ PartitionKey: item.key, Data: item.data });

/** `n` items with distinct data (so each record is traceable to its item) and keys over all shards. */
function makeItems(n: number, seed = 1, size = 16): Item[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, id) => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = Math.floor(random() * 256);
    new DataView(data.buffer).setUint32(0, id);
    return { id, key: `key-${Math.floor(random() * 1e9)}`, data };
  });
}

/** Items finally delivered and finally failed, per the emissions. */
function outcomes<T>(emissions: readonly PutRecordsEmission<T>[]): { delivered: T[]; failed: T[] } {
  const delivered: T[] = [];
  const failed: T[] = [];
  for (const e of emissions) {
    e.items.forEach((item, i) => {
      const r = e.response.Records![i];
      if (r.SequenceNumber !== undefined) delivered.push(item);
      else if (!e.retrying[i]) failed.push(item);
    });
  }
  return { delivered, failed };
}

/** The item a request entry was made from (each item's data is distinct). */
const itemOf = (items: readonly Item[], entry: { Data?: Uint8Array }) =>
  items.find((i) => i.data === entry.Data)!;
const ids = (items: readonly Item[]) => items.map((i) => i.id).sort((a, b) => a - b);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function options(fake: FakeKinesis, extra: Partial<ToKinesisOptions<Item>> = {}): ToKinesisOptions<Item> {
  return { client: fake.client, streamName: STREAM, toRecord, lingerMs: 5, retryBaseDelayMs: 1, ...extra };
}

function fakeWith(o: FakeKinesisOptions = {}): FakeKinesis {
  return new FakeKinesis({ streamName: STREAM, ...o });
}

const realDelay = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await realDelay(1);
  }
}

describe('toKinesis', () => {
  describe('naming the stream', () => {
    const arn = `arn:aws:kinesis:us-east-1:123456789012:stream/${STREAM}`;

    for (const [label, ref, expected] of [
      ['streamName', { streamName: STREAM }, { StreamName: STREAM }],
      ['streamARN', { streamARN: arn }, { StreamARN: arn }],
      ['both', { streamName: STREAM, streamARN: arn }, { StreamName: STREAM, StreamARN: arn }],
    ] as const) {
      it(`sends ${label} in ListShards and PutRecords, and nothing else`, async () => {
        const fake = fakeWith();
        const run = await runToEnd(
          from(makeItems(20)).pipe(toKinesis({ client: fake.client, ...ref, toRecord, lingerMs: 1 })),
        );
        expect(run.completed).to.equal(true);
        expect(fake.requests.length).to.be.greaterThan(0);
        for (const r of fake.requests) {
          expect({ StreamName: r.input.StreamName, StreamARN: r.input.StreamARN }).to.deep.equal({
            StreamName: undefined,
            StreamARN: undefined,
            ...expected,
          });
        }
        const { NextToken: _, ...listed } = fake.listShardsCalls[0];
        expect(listed).to.deep.equal(expected);
      });
    }

    it('fails with SHARD_MAP_FAILED, every item unsent, when the stream does not exist', async () => {
      const fake = fakeWith();
      const items = makeItems(10);
      const run = await runToEnd(
        from(items).pipe(toKinesis(options(fake, { streamName: 'no-such-stream' }))),
      );
      expect(run.error).to.be.instanceOf(KinesisSinkError);
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('SHARD_MAP_FAILED');
      expect((error.cause as Error).name).to.equal('ResourceNotFoundException');
      expect(ids([...error.unsent])).to.deep.equal(range(0, 10));
      expect(fake.requests).to.have.length(0);
    });

    it('follows ListShards paging (NextToken sent without the stream name)', async () => {
      const fake = fakeWith({ shards: 5, listShardsPageSize: 2 });
      const run = await runToEnd(from(makeItems(200)).pipe(toKinesis(options(fake))));
      expect(run.completed).to.equal(true);
      expect(fake.listShardsCalls.map((c) => c.NextToken)).to.deep.equal([undefined, 'token-2', 'token-4']);
      // Every shard was written, each record to the shard its key routes to.
      for (const shard of fake.shards) expect(fake.stored.get(shard.shardId)!.length).to.be.greaterThan(0);
      expect(fake.allStored).to.have.length(200);
    });
  });

  describe('batching', () => {
    it('flushes a partial request lingerMs after its oldest record, not before', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({ now: () => scheduler.now() });
        const source = new Subject<Item>();
        const run = start(
          source.pipe(
            toKinesis(options(fake, { scheduler, lingerMs: 50, maxBatchRecords: 10, ...QUOTAS_OFF })),
          ),
        );
        const items = makeItems(7);
        await scheduler.advance(10);
        for (const item of items.slice(0, 3)) source.next(item);
        await scheduler.advance(20);
        for (const item of items.slice(3)) source.next(item); // these join the same request
        await scheduler.advance(29); // t = 59: 49 ms after the oldest record
        expect(fake.requests).to.have.length(0);
        await scheduler.advance(1);
        expect(fake.requests.map((r) => r.at)).to.deep.equal([60]);
        expect(fake.requests[0].input.Records).to.have.length(7);
        expect(run.emissions).to.have.length(1);
        source.complete();
        await scheduler.runUntil(() => run.done);
        expect(run.completed).to.equal(true);
        expect(scheduler.pending).to.equal(0);
      });
    });

    it('flushes as soon as maxBatchRecords are collected', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({ now: () => scheduler.now() });
        const source = new Subject<Item>();
        const run = start(
          source.pipe(
            toKinesis(options(fake, { scheduler, lingerMs: 100, maxBatchRecords: 10, ...QUOTAS_OFF })),
          ),
        );
        await scheduler.advance(1);
        for (const item of makeItems(25)) source.next(item);
        await scheduler.advance(0);
        expect(fake.requests.map((r) => r.input.Records!.length)).to.deep.equal([10, 10]);
        expect(fake.requests.every((r) => r.at === 1)).to.equal(true);
        await scheduler.advance(100);
        expect(fake.requests.map((r) => r.input.Records!.length)).to.deep.equal([10, 10, 5]);
        expect(fake.requests[2].at).to.equal(101);
        source.complete();
        await scheduler.runUntil(() => run.done);
        expect(outcomes(run.emissions).delivered).to.have.length(25);
      });
    });

    it('flushes before a record would pass maxBatchBytes (data + UTF-8 partition key)', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith();
        // 'ключ-N' is 9..11 UTF-8 bytes for 6..8 characters: each record is 299..301 bytes, so 3 fit in 1,000.
        const items = Array.from({ length: 40 }, (_, id) => ({
          id,
          key: `ключ-${id}`,
          data: new Uint8Array(290).fill(id),
        }));
        const source = new Subject<Item>();
        const run = start(
          source.pipe(
            toKinesis(
              options(fake, {
                scheduler,
                maxRecordBytes: 400,
                maxBatchBytes: 1000,
                lingerMs: 1000,
                ...QUOTAS_OFF,
              }),
            ),
          ),
        );
        await scheduler.settle();
        for (const item of items) source.next(item);
        await scheduler.settle();
        // Sealed by size alone, before any linger: 13 requests of 3; the 40th record waits.
        expect(scheduler.now()).to.equal(0);
        expect(fake.requests.map((r) => r.input.Records!.length)).to.deep.equal(new Array(13).fill(3));
        for (const r of fake.requests) {
          expect(r.input.Records!.reduce((sum, e) => sum + entryBytes(e), 0)).to.be.within(897, 1000);
        }
        source.complete();
        await scheduler.runUntil(() => run.done);
        expect(fake.requests).to.have.length(14);
        expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 40));
      });
    });

    it('never puts more than 500 records or 5 MiB in a request with default options', async () => {
      const fake = fakeWith();
      const items = makeItems(2000, 3, 5000); // 2,000 × ~5 KB: the byte limit binds at ~1,000 per request
      const run = await runToEnd(from(items).pipe(toKinesis(options(fake, QUOTAS_OFF))));
      expect(run.completed).to.equal(true);
      expect(fake.violations).to.deep.equal([]);
      for (const r of fake.requests) {
        expect(r.input.Records!.length).to.be.at.most(500);
        expect(r.input.Records!.reduce((s, e) => s + entryBytes(e), 0)).to.be.at.most(5 * 1024 * 1024);
      }
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 2000));
    });
  });

  describe('emissions', () => {
    it('line up request, response, items, attempts and retrying by index', async () => {
      const fake = fakeWith({
        records: ({ request, index }) => (request < 2 && index % 3 === 0 ? 'InternalFailure' : 'ok'),
      });
      const items = makeItems(60);
      const run = await runToEnd(from(items).pipe(toKinesis(options(fake, { maxBatchRecords: 25 }))));
      expect(run.completed).to.equal(true);
      expect(run.emissions).to.have.length(fake.requests.length);
      run.emissions.forEach((e, k) => {
        expect(e.request).to.equal(fake.requests[k].input); // exactly as sent
        expect(e.response).to.equal(fake.requests[k].response); // as received
        const n = e.request.Records!.length;
        expect([
          e.items.length,
          e.attempts.length,
          e.retrying.length,
          e.response.Records!.length,
        ]).to.deep.equal([n, n, n, n]);
        e.items.forEach((item, i) => {
          expect(e.request.Records![i].PartitionKey).to.equal(item.key);
          expect(e.request.Records![i].Data).to.deep.equal(item.data);
          expect(e.retrying[i]).to.equal(e.response.Records![i].ErrorCode !== undefined);
        });
      });
      expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, 60));
    });

    it('maps items with toRecord, sends string Data as UTF-8 and emits the source items', async () => {
      const fake = fakeWith();
      const readings = [
        { device: 'a', celsius: 21.5 },
        { device: 'b', celsius: -3 },
        { device: 'ü', celsius: 0 },
      ];
      const run = await runToEnd(
        from(readings).pipe(
          toKinesis({
            client: fake.client,
            streamName: STREAM,
            lingerMs: 1,
            toRecord: (r) => ({ PartitionKey: `device-${r.device}`, Data: `${r.celsius}°C` }),
          }),
        ),
      );
      expect(run.completed).to.equal(true);
      const [emission] = run.emissions;
      expect(emission.items).to.deep.equal(readings);
      expect(emission.items[0]).to.equal(readings[0]);
      expect(emission.request.Records!.map((r) => r.PartitionKey)).to.deep.equal([
        'device-a',
        'device-b',
        'device-ü',
      ]);
      expect(emission.request.Records!.map((r) => Buffer.from(r.Data!).toString('utf8'))).to.deep.equal([
        '21.5°C',
        '-3°C',
        '0°C',
      ]);
      expect(emission.request.Records![0].Data).to.be.instanceOf(Uint8Array);
    });

    it('accepts the SDK record shape as is by default', async () => {
      const fake = fakeWith();
      const records = [
        { PartitionKey: 'a', Data: new Uint8Array([1, 2, 3]) },
        { PartitionKey: 'b', Data: 'text', ExplicitHashKey: '0' },
      ];
      const run = await runToEnd(from(records).pipe(toKinesis({ client: fake.client, streamName: STREAM })));
      expect(run.completed).to.equal(true);
      expect(run.emissions[0].items).to.deep.equal(records);
      expect(run.emissions[0].request.Records![1].ExplicitHashKey).to.equal('0');
      expect(run.emissions[0].response.Records![1].ShardId).to.equal(fake.shards[0].shardId);
    });
  });

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
