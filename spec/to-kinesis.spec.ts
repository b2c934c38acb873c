/** toKinesis: naming the stream, batching, and what it emits. */
import { expect } from 'chai';
import { from, Subject } from 'rxjs';
import { KinesisSinkError, toKinesis } from '../src/index.js';
import { entryBytes } from './support/fake-kinesis.js';
import { withVirtualTime } from './support/virtual-time.js';
import { runToEnd, start } from './support/run.js';
import {
  ids,
  makeItems,
  outcomes,
  QUOTAS_OFF,
  range,
  toRecord,
  type Item,
  fakeWith,
  options,
  STREAM,
} from './support/fixtures.js';

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

    it('fails with FATAL_REQUEST_ERROR (as documented), every item unsent, when the stream does not exist', async () => {
      const fake = fakeWith();
      const items = makeItems(10);
      const run = await runToEnd(
        from(items).pipe(toKinesis(options(fake, { streamName: 'no-such-stream' }))),
      );
      expect(run.error).to.be.instanceOf(KinesisSinkError);
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('FATAL_REQUEST_ERROR');
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
});
